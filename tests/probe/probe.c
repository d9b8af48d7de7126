/* warren-probe: runs inside a sandbox and prints, as one JSON object on
 * stdout, what it can see and do there. The isolation and attack tests start
 * it through `warren run` and read its report; they never trust what the run
 * says about itself in any other way.
 *
 *   warren-probe [--read PATH] [--write PATH] [--list PATH] [--stat PATH]
 *                [--flock PATH] [--mount PATH] [--kill PID[:SIG]] [--ptrace PID] [--vm-read PID]
 *                [--tiocsti FD] [--tiocsti-high FD] [--sleep SECONDS]
 *
 * The report always has the same keys. What cannot be read (a file missing
 * at this level, a /proc entry hidden) is null, never a crash: the probe must
 * work in the host's root, in a private root with nothing but read-only
 * /usr and /lib, and under a seccomp filter. So it links statically where it
 * can, allocates only in plain ways, and writes its JSON by hand.
 *
 * Each option is one check, run after the report's observations were taken
 * (so the fds a check opens never show up in "fds") and reported in the
 * order given under "checks", with the errno's name when it failed. The
 * report is written in one piece at the end (a check's side effects on the
 * terminal come before it, never inside it). Exit status: 0 when the report
 * was written, 2 for a bad command line, 1 if stdout failed. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#define LANDLOCK_VERSION_FLAG 1U /* LANDLOCK_CREATE_RULESET_VERSION */

extern char **environ;

/* --- a small JSON writer ------------------------------------------------------ */

/* The report goes to memory and out in one write at the end: a check that
 * makes the terminal echo (TIOCSTI) or a buffer flushed halfway must not
 * split it. */
static FILE *report;

/* Nesting state: whether the current container has had a member yet, so
 * that every value knows whether a comma goes before it. */
#define DEPTH_MAX 16
static bool has_member[DEPTH_MAX];
static int depth;

static void j_sep(void) {
    if (depth > 0 && has_member[depth - 1]) fputc(',', report);
    if (depth > 0) has_member[depth - 1] = true;
}

/* Bytes that are not valid UTF-8 come out as \u00XX of the byte, so the
 * report stays valid JSON whatever a file name or variable holds. */
static size_t utf8_len(const unsigned char *s, size_t left) {
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
    else return 0;
    if (left < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void j_raw_string(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', report);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = utf8_len(p + i, len - i);
        if (n > 1) {
            fwrite(p + i, 1, n, report);
            i += n;
            continue;
        }
        if (c == '"' || c == '\\') fprintf(report, "\\%c", c);
        else if (c == '\n') fputs("\\n", report);
        else if (c == '\t') fputs("\\t", report);
        else if (c < 0x20 || c >= 0x7f) fprintf(report, "\\u%04x", c);
        else fputc(c, report);
        i++;
    }
    fputc('"', report);
}

static void j_key(const char *key) {
    j_sep();
    if (key) {
        j_raw_string(key, strlen(key));
        fputc(':', report);
    }
}

static void j_open(const char *key, char bracket) {
    j_key(key);
    fputc(bracket, report);
    if (depth < DEPTH_MAX) has_member[depth] = false;
    depth++;
}

static void j_close(char bracket) {
    depth--;
    fputc(bracket, report);
}

#define j_obj(key) j_open((key), '{')
#define j_obj_end() j_close('}')
#define j_arr(key) j_open((key), '[')
#define j_arr_end() j_close(']')

static void j_str(const char *key, const char *s) {
    j_key(key);
    if (s) j_raw_string(s, strlen(s));
    else fputs("null", report);
}

static void j_strn(const char *key, const char *s, size_t n) {
    j_key(key);
    j_raw_string(s, n);
}

static void j_int(const char *key, long long v) {
    j_key(key);
    fprintf(report, "%lld", v);
}

static void j_bool(const char *key, bool v) {
    j_key(key);
    fputs(v ? "true" : "false", report);
}

static void j_null(const char *key) {
    j_key(key);
    fputs("null", report);
}

static const char *errname(int e) {
    static char buf[16];
    const char *n = strerrorname_np(e);
    if (n) return n;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* A failed observation: null plus its reason under KEY_errno. */
static void j_err(const char *key, int e) {
    j_null(key);
    char k[64];
    snprintf(k, sizeof k, "%s_errno", key);
    j_str(k, errname(e));
}

/* --- reading /proc --------------------------------------------------------- */

/* The whole of a small file, NUL-terminated, or NULL with errno set. */
static char *read_file(const char *path, size_t *ret_len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            close(fd);
            errno = ENOMEM;
            return NULL;
        }
        if (len + 1 >= cap) {
            if (cap >= (1U << 24)) break; /* enough for anything this reads */
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            free(buf);
            close(fd);
            errno = saved;
            return NULL;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (ret_len) *ret_len = len;
    return buf;
}

/* The value after "Name:" in /proc/self/status, without leading blanks. */
static void status_field(const char *status, const char *name, char *out, size_t outsz) {
    out[0] = '\0';
    if (!status) return;
    size_t nl = strlen(name);
    for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) || p[nl] != ':') continue;
        p += nl + 1;
        while (*p == ' ' || *p == '\t') p++;
        size_t l = strcspn(p, "\n");
        if (l >= outsz) l = outsz - 1;
        memcpy(out, p, l);
        out[l] = '\0';
        return;
    }
}

static void j_status_str(const char *status, const char *key, const char *field) {
    char v[256];
    status_field(status, field, v, sizeof v);
    j_str(key, v[0] ? v : NULL);
}

static void j_status_int(const char *status, const char *key, const char *field) {
    char v[64];
    status_field(status, field, v, sizeof v);
    if (v[0]) j_int(key, strtoll(v, NULL, 10));
    else j_null(key);
}

static void j_readlink(const char *key, const char *path) {
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf);
    if (n < 0) j_err(key, errno);
    else j_strn(key, buf, (size_t)n);
}

/* mountinfo escapes blanks, tabs, newlines and backslashes in paths as \ooo. */
static void unescape_octal(char *s) {
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* One mountinfo line: "id parent maj:min root mountpoint options [optional...]
 * - fstype source superoptions". */
static void j_mount(char *line) {
    char *f[6] = {0}, *save = NULL, *tok;
    int n = 0;
    for (tok = strtok_r(line, " ", &save); tok && n < 6; tok = strtok_r(NULL, " ", &save))
        f[n++] = tok;
    if (n < 6) return;
    /* Optional fields up to the lone "-". */
    char *sep = tok;
    while (sep && strcmp(sep, "-")) sep = strtok_r(NULL, " ", &save);
    char *fstype = sep ? strtok_r(NULL, " ", &save) : NULL;
    char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
    char *super = source ? strtok_r(NULL, " ", &save) : NULL;
    unescape_octal(f[3]);
    unescape_octal(f[4]);
    if (source) unescape_octal(source);
    j_obj(NULL);
    j_str("target", f[4]);
    j_str("root", f[3]);
    j_str("fstype", fstype);
    j_str("source", source);
    j_str("options", f[5]);
    j_str("super_options", super);
    j_obj_end();
}

static void j_mounts(void) {
    size_t len;
    char *mi = read_file("/proc/self/mountinfo", &len);
    if (!mi) {
        j_err("mounts", errno);
        return;
    }
    j_arr("mounts");
    char *save = NULL;
    for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        j_mount(line);
    j_arr_end();
    free(mi);
}

/* --- observations ---------------------------------------------------------- */

static void j_ids(void) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    j_obj("uid");
    if (getresuid(&r, &e, &s) == 0) {
        j_int("real", r);
        j_int("effective", e);
        j_int("saved", s);
    }
    j_obj_end();
    j_obj("gid");
    if (getresgid(&gr, &ge, &gs) == 0) {
        j_int("real", gr);
        j_int("effective", ge);
        j_int("saved", gs);
    }
    j_obj_end();
    int n = getgroups(0, NULL);
    gid_t *g = n > 0 ? calloc((size_t)n, sizeof *g) : NULL;
    if (n < 0 || (n > 0 && (!g || (n = getgroups(n, g)) < 0))) {
        j_err("groups", errno);
    } else {
        j_arr("groups");
        for (int i = 0; i < n; i++) j_int(NULL, g[i]);
        j_arr_end();
    }
    free(g);
}

static void j_process(void) {
    j_int("pid", getpid());
    j_int("ppid", getppid());
    j_int("sid", getsid(0));
    j_int("pgid", getpgid(0));
    j_readlink("cwd", "/proc/self/cwd");
    j_readlink("exe", "/proc/self/exe");
    j_readlink("root", "/proc/self/root");
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    j_bool("controlling_tty", fd >= 0);
    if (fd >= 0) close(fd);
    else j_str("controlling_tty_errno", errname(errno));
    j_bool("stdin_is_tty", isatty(0));
    int sig = 0;
    if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0) j_int("parent_death_signal", sig);
    else j_err("parent_death_signal", errno);
    int d = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (d >= 0) j_int("dumpable", d);
    else j_err("dumpable", errno);
    int sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (sb >= 0) j_int("securebits", sb);
    else j_err("securebits", errno);
    mode_t m = umask(0);
    umask(m);
    char um[8];
    snprintf(um, sizeof um, "%04o", (unsigned)m);
    j_str("umask", um);
}

static void j_security(void) {
    char *st = read_file("/proc/self/status", NULL);
    j_obj("caps");
    j_status_str(st, "inheritable", "CapInh");
    j_status_str(st, "permitted", "CapPrm");
    j_status_str(st, "effective", "CapEff");
    j_status_str(st, "bounding", "CapBnd");
    j_status_str(st, "ambient", "CapAmb");
    j_obj_end();
    int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    if (nnp >= 0) j_int("no_new_privs", nnp);
    else j_status_int(st, "no_new_privs", "NoNewPrivs");
    j_status_int(st, "seccomp", "Seccomp");
    j_status_int(st, "seccomp_filters", "Seccomp_filters");
    free(st);

    /* The ABI the kernel offers this process; whether a domain restricts it
     * shows in the path checks, which is what matters. */
    j_obj("landlock");
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_VERSION_FLAG);
    if (abi >= 0) j_int("abi", abi);
    else j_err("abi", errno);
    j_obj_end();
}

static void j_namespaces(void) {
    static const char *const names[] = {"mnt", "pid", "ipc", "uts", "net", "cgroup", "user",
                                        "time", "pid_for_children"};
    j_obj("namespaces");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/ns/%s", names[i]);
        char buf[128];
        ssize_t n = readlink(p, buf, sizeof buf);
        if (n < 0) j_null(names[i]);
        else j_strn(names[i], buf, (size_t)n);
    }
    j_obj_end();
}

static void j_environment(void) {
    size_t n = 0;
    j_obj("env");
    for (char **e = environ; e && *e; e++, n++) {
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        size_t kl = (size_t)(eq - *e);
        char *k = strndup(*e, kl);
        if (!k) continue;
        j_str(k, eq + 1);
        free(k);
    }
    j_obj_end();
    /* More entries than keys: a variable set twice, which a JSON object hides. */
    j_int("env_count", (long long)n);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Numeric names in a /proc directory, sorted; -1 with errno on failure. */
static int numeric_entries(const char *path, int **ret) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int self = dirfd(d), n = 0, cap = 64;
    int *v = malloc((size_t)cap * sizeof *v);
    struct dirent *de;
    while (v && (de = readdir(d))) {
        char *end;
        errno = 0;
        long x = strtol(de->d_name, &end, 10);
        if (*end || end == de->d_name || errno || x < 0 || x > INT_MAX) continue;
        if ((int)x == self) continue;
        if (n == cap) {
            int *nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
        }
        v[n++] = (int)x;
    }
    closedir(d);
    if (!v) {
        errno = ENOMEM;
        return -1;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_int);
    *ret = v;
    return n;
}

static void j_fds(void) {
    int *v;
    int n = numeric_entries("/proc/self/fd", &v);
    if (n < 0) {
        j_err("fds", errno);
        return;
    }
    j_arr("fds");
    for (int i = 0; i < n; i++) {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", v[i]);
        j_obj(NULL);
        j_int("fd", v[i]);
        j_readlink("target", p);
        int fl = fcntl(v[i], F_GETFD);
        if (fl >= 0) j_bool("cloexec", fl & FD_CLOEXEC);
        j_obj_end();
    }
    j_arr_end();
    free(v);
}

static void j_pids(void) {
    int *v;
    int n = numeric_entries("/proc", &v);
    j_obj("pids");
    if (n < 0) {
        j_err("count", errno);
    } else {
        j_int("count", n);
        j_arr("list");
        for (int i = 0; i < n; i++) j_int(NULL, v[i]);
        j_arr_end();
        free(v);
    }
    j_obj_end();
}

static void j_host(void) {
    struct utsname u;
    if (uname(&u) == 0) j_str("hostname", u.nodename);
    else j_err("hostname", errno);

    /* /proc/net/dev: two header lines, then "  name: counters". */
    char *dev = read_file("/proc/net/dev", NULL);
    if (!dev) {
        j_err("net_interfaces", errno);
    } else {
        j_arr("net_interfaces");
        char *save = NULL;
        int line = 0;
        for (char *l = strtok_r(dev, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            if (line++ < 2) continue;
            char *colon = strchr(l, ':');
            if (!colon) continue;
            while (*l == ' ') l++;
            j_strn(NULL, l, (size_t)(colon - l));
        }
        j_arr_end();
        free(dev);
    }
}

static void j_cgroup(void) {
    char *cg = read_file("/proc/self/cgroup", NULL);
    if (!cg) {
        j_err("cgroup", errno);
        return;
    }
    j_arr("cgroup");
    char *save = NULL;
    for (char *l = strtok_r(cg, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) j_str(NULL, l);
    j_arr_end();
    free(cg);
}

static void j_rlimit(const char *name, int res) {
    struct rlimit l;
    if (getrlimit(res, &l) < 0) {
        j_err(name, errno);
        return;
    }
    j_obj(name);
    if (l.rlim_cur == RLIM_INFINITY) j_str("soft", "unlimited");
    else j_int("soft", (long long)l.rlim_cur);
    if (l.rlim_max == RLIM_INFINITY) j_str("hard", "unlimited");
    else j_int("hard", (long long)l.rlim_max);
    j_obj_end();
}

static void j_rlimits(void) {
    j_obj("rlimits");
    j_rlimit("core", RLIMIT_CORE);
    j_rlimit("nofile", RLIMIT_NOFILE);
    j_rlimit("nproc", RLIMIT_NPROC);
    j_rlimit("fsize", RLIMIT_FSIZE);
    j_rlimit("as", RLIMIT_AS);
    j_rlimit("memlock", RLIMIT_MEMLOCK);
    j_obj_end();
}

/* --- checks: what the run can do ------------------------------------------ */

typedef enum op {
    OP_READ,
    OP_WRITE,
    OP_LIST,
    OP_STAT,
    OP_FLOCK, /* held until the probe exits (--sleep keeps it) */
    OP_MOUNT,
    OP_KILL, /* from here on the argument is a number */
    OP_PTRACE,
    OP_VM_READ,
    OP_TIOCSTI,
    OP_TIOCSTI_HIGH,
} op;

static const char *const op_names[] = {
    [OP_READ] = "read",     [OP_WRITE] = "write",   [OP_LIST] = "list",
    [OP_STAT] = "stat",     [OP_KILL] = "kill",     [OP_PTRACE] = "ptrace",
    [OP_VM_READ] = "vm_read", [OP_FLOCK] = "flock", [OP_MOUNT] = "mount", [OP_TIOCSTI] = "tiocsti", [OP_TIOCSTI_HIGH] = "tiocsti_high",
};

typedef struct check {
    op op;
    const char *arg;
} check;

static void j_fail(int e) {
    j_bool("ok", false);
    j_str("errno", errname(e));
}

#define FAIL(e)                                                                                    \
    do {                                                                                           \
        j_fail(e);                                                                                 \
        return;                                                                                    \
    } while (0)

#define READ_HEAD 512
#define READ_MAX (1 << 20)

/* Reads up to READ_MAX bytes; reports the count and the first READ_HEAD. */
static void check_read(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) FAIL(errno);
    char buf[8192], head[READ_HEAD];
    size_t total = 0, hl = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            FAIL(saved);
        }
        if (n == 0 || total >= READ_MAX) break;
        size_t take = (size_t)n < READ_HEAD - hl ? (size_t)n : READ_HEAD - hl;
        memcpy(head + hl, buf, take);
        hl += take;
        total += (size_t)n;
    }
    close(fd);
    j_bool("ok", true);
    j_int("bytes", (long long)total);
    j_strn("head", head, hl);
}

/* A directory: create (and remove again) a new file in it. Anything else:
 * open it for writing, creating it if missing; nothing is written. */
static void check_write(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) FAIL(errno);
        char name[64];
        snprintf(name, sizeof name, ".warren-probe-%d", (int)getpid());
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            int saved = errno;
            close(dfd);
            FAIL(saved);
        }
        close(fd);
        unlinkat(dfd, name, 0);
        close(dfd);
        j_bool("ok", true);
        j_bool("created_in_dir", true);
        return;
    }
    bool existed = lstat(path, &st) == 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
    if (fd < 0) FAIL(errno);
    close(fd);
    j_bool("ok", true);
    j_bool("created", !existed);
}

#define LIST_NAMES_MAX 100

static void check_list(const char *path) {
    DIR *d = opendir(path);
    if (!d) FAIL(errno);
    long n = 0;
    struct dirent *de;
    j_bool("ok", true);
    j_arr("names");
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n++ < LIST_NAMES_MAX) j_str(NULL, de->d_name);
    }
    int saved = errno;
    j_arr_end();
    closedir(d);
    j_int("count", n);
    if (saved) j_str("readdir_errno", errname(saved));
}

static void check_stat(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) FAIL(errno);
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
    j_bool("ok", true);
    j_str("type", S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file"
                  : S_ISLNK(st.st_mode) ? "link" : "other");
    j_str("mode", mode);
    j_int("uid", st.st_uid);
    j_int("gid", st.st_gid);
}

/* An exclusive lock, without waiting: EWOULDBLOCK means someone who can see
 * the same inode holds one (a channel between them). The fd stays open, so
 * the lock lasts while the probe sleeps. */
static void check_flock(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) FAIL(errno);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int saved = errno;
        close(fd);
        FAIL(saved);
    }
    j_bool("ok", true);
}

/* A small tmpfs on PATH, left mounted: whether it shows anywhere else is
 * for the caller to look. */
static void check_mount(const char *path) {
    if (mount("warren-probe", path, "tmpfs", 0, "size=64k") < 0) FAIL(errno);
    j_bool("ok", true);
}

static bool parse_pid(const char *s, int *ret_pid, int *ret_sig) {
    char *end;
    errno = 0;
    long p = strtol(s, &end, 10);
    if (errno || end == s || p <= 0 || p > INT_MAX) return false;
    long sig = 0;
    if (*end == ':' && ret_sig) {
        char *e2;
        sig = strtol(end + 1, &e2, 10);
        if (e2 == end + 1 || *e2 || sig < 0 || sig >= 65) return false;
    } else if (*end) {
        return false;
    }
    *ret_pid = (int)p;
    if (ret_sig) *ret_sig = (int)sig;
    return true;
}

static bool parse_fd(const char *s, int *ret) {
    char *end;
    errno = 0;
    long fd = strtol(s, &end, 10);
    if (errno || end == s || *end || fd < 0 || fd > INT_MAX) return false;
    *ret = (int)fd;
    return true;
}

static void check_kill(const char *arg) {
    int pid, sig;
    parse_pid(arg, &pid, &sig); /* validated in main */
    j_int("signal", sig);
    if (kill(pid, sig) < 0) FAIL(errno);
    j_bool("ok", true);
}

/* PTRACE_SEIZE does not stop the target; the probe's exit detaches. */
static void check_ptrace(const char *arg) {
    int pid;
    parse_pid(arg, &pid, NULL);
    if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0) FAIL(errno);
    j_bool("ok", true);
}

/* Reads one byte at an address that is never mapped: a permitted read fails
 * with EFAULT, a refused one with EPERM (or ESRCH). "permitted" says which. */
static void check_vm_read(const char *arg) {
    int pid;
    parse_pid(arg, &pid, NULL);
    char byte;
    struct iovec local = {&byte, 1}, remote = {(void *)(uintptr_t)0x1000, 1};
    ssize_t n = syscall(SYS_process_vm_readv, pid, &local, 1UL, &remote, 1UL, 0UL);
    int e = errno;
    if (n >= 0) {
        j_bool("ok", true);
        j_bool("permitted", true);
        return;
    }
    j_fail(e);
    j_bool("permitted", e == EFAULT);
}

/* Pushes one harmless byte into the input of the terminal on FD, as if
 * typed: what an escaped run would use to type commands into the shell of
 * whoever started it. The high variant sets bit 32 of the request, which the
 * kernel drops but a filter comparing all 64 bits would miss. */
static void check_tiocsti(const char *arg, bool high) {
    int fd;
    parse_fd(arg, &fd); /* validated in main */
    char c = '#';
    unsigned long req = high ? (1UL << 32) | TIOCSTI : TIOCSTI;
    if (syscall(SYS_ioctl, fd, req, &c) < 0) FAIL(errno);
    j_bool("ok", true);
}

static void run_check(const check *c) {
    j_obj(NULL);
    j_str("op", op_names[c->op]);
    j_str(c->op >= OP_TIOCSTI ? "fd" : c->op >= OP_KILL ? "pid" : "path", c->arg);
    switch (c->op) {
    case OP_READ: check_read(c->arg); break;
    case OP_WRITE: check_write(c->arg); break;
    case OP_LIST: check_list(c->arg); break;
    case OP_STAT: check_stat(c->arg); break;
    case OP_FLOCK: check_flock(c->arg); break;
    case OP_MOUNT: check_mount(c->arg); break;
    case OP_KILL: check_kill(c->arg); break;
    case OP_PTRACE: check_ptrace(c->arg); break;
    case OP_VM_READ: check_vm_read(c->arg); break;
    case OP_TIOCSTI: check_tiocsti(c->arg, false); break;
    case OP_TIOCSTI_HIGH: check_tiocsti(c->arg, true); break;
    }
    j_obj_end();
}

static _Noreturn void usage(const char *why) {
    fprintf(stderr,
            "warren-probe: %s\n"
            "usage: warren-probe [--read PATH] [--write PATH] [--list PATH] [--stat PATH]\n"
            "                    [--flock PATH] [--mount PATH]\n"
            "                    [--kill PID[:SIG]] [--ptrace PID] [--vm-read PID]\n"
            "                    [--tiocsti FD] [--tiocsti-high FD] [--sleep SECONDS]\n",
            why);
    exit(2);
}

int main(int argc, char **argv) {
    check *checks = calloc((size_t)argc, sizeof *checks);
    if (!checks) return 1;
    size_t nchecks = 0;
    double sleep_s = 0;
    for (int i = 1; i < argc; i++) {
        static const struct {
            const char *flag;
            op op;
        } flags[] = {
            {"--read", OP_READ},     {"--write", OP_WRITE},   {"--list", OP_LIST},
            {"--stat", OP_STAT},     {"--flock", OP_FLOCK},   {"--mount", OP_MOUNT},
            {"--kill", OP_KILL},     {"--ptrace", OP_PTRACE},
            {"--vm-read", OP_VM_READ}, {"--tiocsti", OP_TIOCSTI}, {"--tiocsti-high", OP_TIOCSTI_HIGH},
        };
        if (i + 1 >= argc) usage("every option needs a value");
        if (!strcmp(argv[i], "--sleep")) {
            char *end;
            sleep_s = strtod(argv[++i], &end);
            if (*end || !(sleep_s >= 0) || sleep_s > 86400) usage("--sleep: expected seconds");
            continue;
        }
        size_t f = 0;
        while (f < sizeof flags / sizeof flags[0] && strcmp(argv[i], flags[f].flag)) f++;
        if (f == sizeof flags / sizeof flags[0]) usage("unknown option");
        const char *arg = argv[++i];
        int pid, sig;
        if (flags[f].op >= OP_TIOCSTI ? !parse_fd(arg, &pid)
            : flags[f].op >= OP_KILL  ? !parse_pid(arg, &pid, flags[f].op == OP_KILL ? &sig : NULL)
                                      : false)
            usage("expected a number (a pid, an fd; for --kill optionally :SIGNAL)");
        checks[nchecks++] = (check){flags[f].op, arg};
    }

    /* Observations first, so nothing the checks open is among the fds. A
     * memory stream holds no fd. */
    char *buf = NULL;
    size_t len = 0;
    report = open_memstream(&buf, &len);
    if (!report) return 1;
    j_obj(NULL);
    j_str("probe", "warren-probe 1");
    j_process();
    j_ids();
    j_security();
    j_namespaces();
    j_fds();
    j_environment();
    j_pids();
    j_host();
    j_cgroup();
    j_rlimits();
    j_mounts();
    j_arr("checks");
    for (size_t i = 0; i < nchecks; i++) run_check(&checks[i]);
    j_arr_end();
    j_obj_end();
    fputc('\n', report);
    free(checks);
    if (fclose(report) != 0) return 1;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(STDOUT_FILENO, buf + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 1;
        off += (size_t)n;
    }
    free(buf);

    if (sleep_s > 0) {
        struct timespec ts = {(time_t)sleep_s, (long)((sleep_s - (double)(time_t)sleep_s) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    }
    return 0;
}
