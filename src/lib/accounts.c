/* The account files, edited the way useradd and userdel would, without them.
 *
 * Add builds all four lines and opens every file before it writes a byte, so a
 * missing or odd file changes nothing. Then each line goes out in one write(2)
 * on an O_APPEND descriptor: a killed process cannot tear it. Appends are not
 * fsync'ed: four syncs would be most of a create's cost, and the registry they
 * must agree with is not synced per commit either. What a power cut loses of
 * the two is brought back into agreement by the reconcile that runs on the
 * first open after every boot (reconcile.c). If any step
 * fails, the files already appended are cut back to their old size: exact and
 * O(1), because under the lock nobody else appends. Only if a file's size is
 * not what we left (someone wrote without the lock) does the rewriting remove
 * path take our lines out instead.
 *
 * Remove reads each file whole, drops the lines whose first field is the name,
 * and replaces the file by rename, so readers never see a half-written file.
 * It goes shadow, passwd, gshadow, group: the reverse of add, so that at every
 * step a passwd line still has its group.
 *
 * The lock is the one lckpwdf() takes, an fcntl write lock on <etc>/.pwd.lock,
 * which useradd, passwd and every shadow-utils tool also take. We take it by
 * polling F_SETLK rather than calling lckpwdf(): that waits under alarm() and
 * a SIGALRM handler, which in a threaded daemon may fire in another thread and
 * cancels any alarm the program set. fcntl locks belong to the process, so a
 * mutex in front keeps the threads of one process from sharing it unknowingly. */
#include "accounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

#define LOCK_TIMEOUT_MS 15000u
#define LOCK_FILE ".pwd.lock"
#define DEFAULT_SHELL "/usr/sbin/nologin"

enum { F_GROUP, F_GSHADOW, F_PASSWD, F_SHADOW, N_FILES };

/* In the order add appends them. */
static const struct {
    const char *name;
    bool required;
} files[N_FILES] = {
    [F_GROUP] = {"group", true},
    [F_GSHADOW] = {"gshadow", false},
    [F_PASSWD] = {"passwd", true},
    [F_SHADOW] = {"shadow", false},
};

/* --- the lock ---------------------------------------------------------------- */

static pthread_mutex_t lock_mutex = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static int lock_fd = -1;

static struct timespec deadline_in(unsigned ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static bool passed(const struct timespec *deadline) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static int open_etc(const char *etc_dir, wr_err *e) {
    int fd = open(etc_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "cannot open account directory %s", etc_dir);
    return fd;
}

/* F_SETLK in a loop rather than F_SETLKW under alarm(): no signal handler to
 * install, and the timeout needs nothing from the caller. */
static int lock_file(const char *etc_dir, const struct timespec *deadline, unsigned timeout_ms,
                     wr_err *e) {
    _cleanup_close_ int dfd = open_etc(etc_dir, e);
    if (dfd < 0) return dfd;
    _cleanup_close_ int fd =
        openat(dfd, LOCK_FILE, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return wr_sys(e, errno, "cannot open lock file %s/%s", etc_dir, LOCK_FILE);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    while (fcntl(fd, F_SETLK, &fl) < 0) {
        if (errno != EACCES && errno != EAGAIN && errno != EINTR)
            return wr_sys(e, errno, "cannot lock %s/%s", etc_dir, LOCK_FILE);
        if (passed(deadline))
            return wr_fail(e, WR_ERR_BUSY, EAGAIN,
                           "account lock %s/%s is held by another process (waited %u ms)", etc_dir,
                           LOCK_FILE, timeout_ms);
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
    }
    lock_fd = TAKE_FD(fd);
    return 0;
}

int wr_accounts_lock_timeout(const char *etc_dir, unsigned timeout_ms, wr_err *e) {
    struct timespec deadline = deadline_in(timeout_ms);
    int r = pthread_mutex_clocklock(&lock_mutex, CLOCK_MONOTONIC, &deadline);
    if (r == ETIMEDOUT)
        return wr_fail(e, WR_ERR_BUSY, EAGAIN,
                       "account lock for %s is held by another thread (waited %u ms)", etc_dir,
                       timeout_ms);
    if (r != 0) return wr_sys(e, r, "cannot take the account lock for %s", etc_dir);

    if ((r = lock_file(etc_dir, &deadline, timeout_ms, e)) >= 0) return 0;
    pthread_mutex_unlock(&lock_mutex);
    return r;
}

int wr_accounts_lock(const char *etc_dir, wr_err *e) {
    return wr_accounts_lock_timeout(etc_dir, LOCK_TIMEOUT_MS, e);
}

void wr_accounts_unlock(const char *etc_dir) {
    (void)etc_dir; /* the lock remembers its fd */
    if (lock_fd >= 0) close(lock_fd);
    lock_fd = -1;
    pthread_mutex_unlock(&lock_mutex);
}

/* --- reading and matching lines ------------------------------------------------ */

/* A line of an account file belongs to `name` when its first field is exactly
 * the name: "warren_ab" must not match "warren_abc:...". */
static bool line_is(const char *line, size_t len, const char *name, size_t nlen) {
    return len > nlen && line[nlen] == ':' && memcmp(line, name, nlen) == 0;
}

/* Reads the whole file; keeps reading past st_size in case it grew. */
static int read_all(int fd, const char *etc_dir, const char *file, char **ret, size_t *ret_len,
                    wr_err *e) {
    struct stat st;
    if (fstat(fd, &st) < 0) return wr_sys(e, errno, "cannot stat %s/%s", etc_dir, file);
    size_t cap = (size_t)st.st_size + 4096, len = 0;
    _cleanup_free_ char *buf = malloc(cap);
    if (!buf) return wr_sys(e, ENOMEM, "reading %s/%s", etc_dir, file);
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) return wr_sys(e, ENOMEM, "reading %s/%s", etc_dir, file);
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return wr_sys(e, errno, "cannot read %s/%s", etc_dir, file);
        if (n == 0) break;
        len += (size_t)n;
    }
    *ret = TAKE_PTR(buf);
    *ret_len = len;
    return 0;
}

/* Opens an account file for reading; *ret_fd is -1 for an optional file that
 * does not exist. */
static int open_account_file(int dfd, const char *etc_dir, int i, int flags, int *ret_fd,
                             wr_err *e) {
    int fd = openat(dfd, files[i].name, flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT && !files[i].required) {
        *ret_fd = -1;
        return 0;
    }
    if (fd < 0) return wr_sys(e, errno, "cannot open %s/%s", etc_dir, files[i].name);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return wr_unsafe(e, "%s/%s is not a regular file", etc_dir, files[i].name);
    }
    *ret_fd = fd;
    return 0;
}

/* --- remove ------------------------------------------------------------------ */

/* The UID field of a passwd line that starts with "name:"; false if there is
 * none or it is not a number. */
static bool uid_field(const char *line, size_t len, size_t nlen, uintmax_t *ret) {
    const char *p = line + nlen + 1, *end = line + len;
    p = memchr(p, ':', (size_t)(end - p)); /* past the password field */
    if (!p || ++p == end || *p == ':') return false;
    uintmax_t v = 0;
    for (; p < end && *p != ':'; p++) {
        if (*p < '0' || *p > '9' || v > UINT32_MAX) return false;
        v = v * 10 + (uintmax_t)(*p - '0');
    }
    *ret = v;
    return true;
}

/* Refuses to remove a same-named account that warren did not make: its passwd
 * line would carry another UID. */
static int check_passwd_uid(int dfd, const char *etc_dir, const char *name, uid_t uid, wr_err *e) {
    _cleanup_close_ int fd = -1;
    int r = open_account_file(dfd, etc_dir, F_PASSWD, O_RDONLY, &fd, e);
    if (r < 0) return r;
    _cleanup_free_ char *buf = NULL;
    size_t len, nlen = strlen(name);
    if ((r = read_all(fd, etc_dir, "passwd", &buf, &len, e)) < 0) return r;

    for (size_t at = 0; at < len;) {
        const char *line = buf + at, *nl = memchr(line, '\n', len - at);
        size_t l = nl ? (size_t)(nl - line) : len - at;
        at += l + 1;
        uintmax_t found;
        if (line_is(line, l, name, nlen) && (!uid_field(line, l, nlen, &found) || found != uid))
            return wr_unsafe(e,
                             "%s/passwd: account %s does not have UID %u: warren did not make it",
                             etc_dir, name, (unsigned)uid);
    }
    return 0;
}

/* Copies the lines not belonging to `name` into out (as large as in); returns
 * the new length. */
static size_t without_lines(const char *in, size_t len, const char *name, char *out) {
    size_t nlen = strlen(name), o = 0;
    for (size_t at = 0; at < len;) {
        const char *line = in + at, *nl = memchr(line, '\n', len - at);
        size_t l = nl ? (size_t)(nl - line) + 1 : len - at;
        at += l;
        if (line_is(line, l, name, nlen)) continue;
        memcpy(out + o, line, l);
        o += l;
    }
    return o;
}

static int write_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes a file beside the original with its owner and mode, then renames it
 * over the original. The temporary file is 0600 until it is complete, so shadow
 * contents are never readable to anyone the original would refuse. */
static int replace_file(int dfd, const char *etc_dir, const char *file, const struct stat *st,
                        const char *data, size_t len, wr_err *e) {
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s/.%s.warren-XXXXXX", etc_dir, file) < 0)
        return wr_sys(e, ENOMEM, "rewriting %s/%s", etc_dir, file);
    const char *tmp_name = tmp + strlen(etc_dir) + 1;
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "cannot create a temporary file for %s/%s", etc_dir, file);

    int r = 0;
    if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0)
        r = wr_sys(e, errno, "cannot give %s the owner and mode of %s/%s", tmp, etc_dir, file);
    else if ((r = write_all(fd, data, len)) < 0)
        r = wr_sys(e, -r, "cannot write %s", tmp);
    else if (fsync(fd) < 0)
        r = wr_sys(e, errno, "cannot fsync %s", tmp);
    else if (renameat(dfd, tmp_name, dfd, file) < 0)
        r = wr_sys(e, errno, "cannot rename %s over %s/%s", tmp, etc_dir, file);
    if (r < 0) {
        unlinkat(dfd, tmp_name, 0);
        return r;
    }
    if (fsync(dfd) < 0) return wr_sys(e, errno, "cannot fsync %s", etc_dir);
    return 0;
}

static int remove_from(int dfd, const char *etc_dir, int i, const char *name, wr_err *e) {
    _cleanup_close_ int fd = -1;
    int r = open_account_file(dfd, etc_dir, i, O_RDONLY, &fd, e);
    if (r < 0 || fd < 0) return r;
    struct stat st;
    if (fstat(fd, &st) < 0) return wr_sys(e, errno, "cannot stat %s/%s", etc_dir, files[i].name);
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if ((r = read_all(fd, etc_dir, files[i].name, &buf, &len, e)) < 0) return r;

    _cleanup_free_ char *out = malloc(len ? len : 1);
    if (!out) return wr_sys(e, ENOMEM, "rewriting %s/%s", etc_dir, files[i].name);
    size_t olen = without_lines(buf, len, name, out);
    if (olen == len) return 0; /* not there: leave the file as it is */
    return replace_file(dfd, etc_dir, files[i].name, &st, out, olen, e);
}

static int check_name(const char *name, wr_err *e) {
    if (!name || !*name) return wr_invalid(e, "account name is empty");
    if (strpbrk(name, ":\n"))
        return wr_invalid(e, "account name '%s' contains ':' or a newline", name);
    /* In compat mode, lines starting with + or - pull in or hide NIS entries. */
    if (name[0] == '+' || name[0] == '-')
        return wr_invalid(e, "account name '%s' starts with '%c'", name, name[0]);
    return 0;
}

int wr_accounts_remove(const char *etc_dir, const char *name, uid_t uid, wr_err *e) {
    int r = check_name(name, e);
    if (r < 0) return r;
    _cleanup_close_ int dfd = open_etc(etc_dir, e);
    if (dfd < 0) return dfd;
    if ((r = check_passwd_uid(dfd, etc_dir, name, uid, e)) < 0) return r;
    for (int i = N_FILES - 1; i >= 0; i--)
        if ((r = remove_from(dfd, etc_dir, i, name, e)) < 0) return r;
    return 0;
}

/* --- add --------------------------------------------------------------------- */

static int check_field(const char *name, const char *what, const char *v, wr_err *e) {
    if (strpbrk(v, ":\n"))
        return wr_invalid(e, "account %s: %s '%s' contains ':' or a newline", name, what, v);
    return 0;
}

static int check_account(const wr_account *a, wr_err *e) {
    int r = check_name(a->name, e);
    if (r < 0) return r;
    if (!a->home || !*a->home) return wr_invalid(e, "account %s: home is empty", a->name);
    if (a->shell && !*a->shell) return wr_invalid(e, "account %s: shell is empty", a->name);
    if (a->uid == (uid_t)-1 || a->gid == (gid_t)-1)
        return wr_invalid(e, "account %s: UID or GID is -1", a->name);
    if ((r = check_field(a->name, "gecos", a->gecos ? a->gecos : "", e)) < 0 ||
        (r = check_field(a->name, "home", a->home, e)) < 0 ||
        (r = check_field(a->name, "shell", a->shell ? a->shell : DEFAULT_SHELL, e)) < 0)
        return r;
    return 0;
}

/* The lines useradd writes for a password-locked, non-system user. */
static int format_lines(const wr_account *a, char *lines[N_FILES]) {
    long days = (long)(time(NULL) / 86400);
    if (asprintf(&lines[F_GROUP], "%s:x:%u:\n", a->name, (unsigned)a->gid) < 0) return -ENOMEM;
    if (asprintf(&lines[F_GSHADOW], "%s:!::\n", a->name) < 0) return -ENOMEM;
    if (asprintf(&lines[F_PASSWD], "%s:x:%u:%u:%s:%s:%s\n", a->name, (unsigned)a->uid,
                 (unsigned)a->gid, a->gecos ? a->gecos : "", a->home,
                 a->shell ? a->shell : DEFAULT_SHELL) < 0)
        return -ENOMEM;
    if (asprintf(&lines[F_SHADOW], "%s:!:%ld:0:99999:7:::\n", a->name, days) < 0) return -ENOMEM;
    return 0;
}

_Static_assert(N_FILES == 4, "wr_accounts_add initialises one slot per file");

typedef struct appended {
    int fd; /* -1: the file does not exist, nothing to do */
    off_t before, end;
    bool touched;
} appended;

/* One write(2) of the whole line, so a killed process leaves the line whole or
 * absent. Only a short write (disk full) takes a second one, to learn why. */
static int append_line(appended *f, const char *etc_dir, const char *file, const char *line,
                       wr_err *e) {
    struct stat st;
    if (fstat(f->fd, &st) < 0) return wr_sys(e, errno, "cannot stat %s/%s", etc_dir, file);
    char last = '\n';
    errno = 0;
    if (st.st_size > 0 && pread(f->fd, &last, 1, st.st_size - 1) != 1)
        return wr_sys(e, errno ? errno : EIO, "cannot read %s/%s", etc_dir, file);

    size_t sep = last != '\n', len = strlen(line);
    _cleanup_free_ char *buf = malloc(sep + len);
    if (!buf) return wr_sys(e, ENOMEM, "appending to %s/%s", etc_dir, file);
    buf[0] = '\n';
    memcpy(buf + sep, line, len);

    f->before = f->end = st.st_size;
    f->touched = true;
    for (size_t done = 0; done < sep + len;) {
        ssize_t n = write(f->fd, buf + done, sep + len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return wr_sys(e, errno, "cannot append to %s/%s", etc_dir, file);
        done += (size_t)n;
        f->end = f->before + (off_t)done;
    }
    return 0;
}

/* Cuts a file back to its size before our append; false if someone else has
 * changed it since, and cutting would take their bytes too. */
static bool cut_back(const appended *f) {
    struct stat st;
    if (fstat(f->fd, &st) < 0 || st.st_size != f->end) return false;
    return ftruncate(f->fd, f->before) == 0;
}

static void undo_add(appended f[N_FILES], const char *etc_dir, const wr_account *a, wr_err *e) {
    bool clean = true;
    for (int i = N_FILES - 1; i >= 0; i--)
        if (f[i].touched && !cut_back(&f[i])) clean = false;
    if (!clean) wr_accounts_remove(etc_dir, a->name, a->uid, e);
}

static void close_all(appended (*f)[N_FILES]) {
    for (int i = 0; i < N_FILES; i++)
        if ((*f)[i].fd >= 0) close((*f)[i].fd);
}

static void free_lines(char *(*lines)[N_FILES]) {
    for (int i = 0; i < N_FILES; i++)
        free((*lines)[i]);
}

int wr_accounts_add(const char *etc_dir, const wr_account *a, wr_err *e) {
    int r = check_account(a, e);
    if (r < 0) return r;
    char *lines[N_FILES] __attribute__((cleanup(free_lines))) = {0};
    if (format_lines(a, lines) < 0) return wr_sys(e, ENOMEM, "account %s", a->name);
    _cleanup_close_ int dfd = open_etc(etc_dir, e);
    if (dfd < 0) return dfd;

    appended f[N_FILES]
        __attribute__((cleanup(close_all))) = {{.fd = -1}, {.fd = -1}, {.fd = -1}, {.fd = -1}};
    for (int i = 0; i < N_FILES; i++)
        if ((r = open_account_file(dfd, etc_dir, i, O_RDWR | O_APPEND, &f[i].fd, e)) < 0) return r;

    for (int i = 0; i < N_FILES && r >= 0; i++)
        if (f[i].fd >= 0) r = append_line(&f[i], etc_dir, files[i].name, lines[i], e);
    if (r < 0) undo_add(f, etc_dir, a, e);
    return r < 0 ? r : 0;
}

/* --- leftovers of a killed rewrite ------------------------------------------ */

static bool is_our_temp(const char *n) {
    /* .<file>.warren-XXXXXX, as replace_file names them */
    for (int i = 0; i < N_FILES; i++) {
        size_t l = strlen(files[i].name);
        if (n[0] == '.' && !strncmp(n + 1, files[i].name, l) && !strncmp(n + 1 + l, ".warren-", 8) &&
            strlen(n + 1 + l + 8) == 6)
            return true;
    }
    return false;
}

static int remove_stale(DIR *d, int dfd, const char *etc_dir, wr_err *e) {
    int r = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (is_our_temp(de->d_name) && unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT &&
            r >= 0)
            r = wr_sys(e, errno, "cannot remove leftover %s/%s", etc_dir, de->d_name);
    return r;
}

/* The directory for readdir, and its fd for unlinkat. */
static int open_etc_dir(const char *etc_dir, DIR **ret, int *ret_dfd, wr_err *e) {
    int dfd = open_etc(etc_dir, e);
    if (dfd < 0) return dfd;
    int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    if (!d) {
        int r = wr_sys(e, errno, "cannot read %s", etc_dir);
        if (dup_fd >= 0) close(dup_fd);
        close(dfd);
        return r;
    }
    *ret = d;
    *ret_dfd = dfd;
    return 0;
}

int wr_accounts_remove_stale(const char *etc_dir, wr_err *e) {
    DIR *d;
    int dfd, r = open_etc_dir(etc_dir, &d, &dfd, e);
    if (r < 0) return r;
    r = remove_stale(d, dfd, etc_dir, e);
    closedir(d);
    close(dfd);
    return r;
}

int wr_accounts_clean_stale(const char *etc_dir, wr_err *e) {
    DIR *d;
    int dfd, r = open_etc_dir(etc_dir, &d, &dfd, e);
    if (r < 0) return r;
    bool found = false;
    for (struct dirent *de; (de = readdir(d));)
        if (is_our_temp(de->d_name)) found = true;
    /* Under the lock no rewrite is in flight, so every such file is a leftover. */
    if (found && (r = wr_accounts_lock(etc_dir, e)) >= 0) {
        rewinddir(d);
        r = remove_stale(d, dfd, etc_dir, e);
        wr_accounts_unlock(etc_dir);
    }
    closedir(d);
    close(dfd);
    return r;
}

/* --- reading every entry ------------------------------------------------------ */

/* Field `n` (0-based) of a ':'-separated line, copied into out; false if absent. */
static bool field(const char *line, size_t len, int n, char *out, size_t outsz) {
    const char *p = line, *end = line + len;
    for (int i = 0; i < n; i++) {
        p = memchr(p, ':', (size_t)(end - p));
        if (!p) return false;
        p++;
    }
    const char *q = memchr(p, ':', (size_t)(end - p));
    size_t l = (size_t)((q ? q : end) - p);
    if (l >= outsz) return false;
    memcpy(out, p, l);
    out[l] = '\0';
    return true;
}

static long long parse_id(const char *s) {
    if (!*s) return -1;
    long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > UINT32_MAX) return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

int wr_accounts_scan(const char *etc_dir, int (*fn)(const wr_account_entry *en, void *userdata),
                     void *userdata, wr_err *e) {
    static const wr_account_file which[N_FILES] = {
        [F_GROUP] = WR_ACCOUNT_GROUP, [F_GSHADOW] = WR_ACCOUNT_GSHADOW,
        [F_PASSWD] = WR_ACCOUNT_PASSWD, [F_SHADOW] = WR_ACCOUNT_SHADOW};
    _cleanup_close_ int dfd = open_etc(etc_dir, e);
    if (dfd < 0) return dfd;
    for (int i = 0; i < N_FILES; i++) {
        _cleanup_close_ int fd = -1;
        int r = open_account_file(dfd, etc_dir, i, O_RDONLY, &fd, e);
        if (r < 0) return r;
        if (fd < 0) continue;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if ((r = read_all(fd, etc_dir, files[i].name, &buf, &len, e)) < 0) return r;
        for (size_t off = 0; off < len;) {
            const char *line = buf + off, *nl = memchr(line, '\n', len - off);
            size_t l = nl ? (size_t)(nl - line) : len - off;
            off += l + 1;
            char name[256], id[32], home[4096];
            if (!field(line, l, 0, name, sizeof name) || !name[0]) continue;
            wr_account_entry en = {.file = which[i], .name = name, .id = -1};
            if ((i == F_PASSWD || i == F_GROUP) && field(line, l, 2, id, sizeof id))
                en.id = parse_id(id);
            if (i == F_PASSWD && field(line, l, 5, home, sizeof home)) en.home = home;
            if ((r = fn(&en, userdata)) != 0) return r;
        }
    }
    return 0;
}
