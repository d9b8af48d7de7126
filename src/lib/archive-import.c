/* Import: an archive becomes a tenant's home (warren-archive.h).
 *
 * Theory of operation. The parent (root) makes a staging directory
 * <users_base>/.import-<account>-<random>, owned by the tenant, and a marker
 * for it in <state_dir>/imports that it holds flocked. A child then:
 *   1. enters a private mount namespace and makes the staging directory its
 *      root (bind mount + pivot_root): no path the archive names, absolute,
 *      with `..` or through a link, can reach anything else;
 *   2. keeps only stdio, the archive and the result pipe open;
 *   3. becomes the tenant (no groups, no capabilities, no_new_privs): what it
 *      writes is the tenant's, and what the tenant may not touch it cannot;
 *   4. reads the archive with libarchive, passes every member through the
 *      filter (archive-filter.c), writes it with libarchive's secure flags,
 *      hashes every file and, for a warren archive, checks the manifest;
 *   5. reports the outcome on the pipe.
 * Only if the child reports success does the parent swap the staging
 * directory with the home in one renameat2(RENAME_EXCHANGE) and remove the
 * old home (now under the staging name). A SIGKILL before the exchange leaves
 * the old home, after it the new one; the staging directory left behind has
 * a marker whose lock died with the process, and the next warren removes it
 * (wr_import_clean_staging in archive-markers.c, run by wr_open). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "archive-internal.h"
#include "warren-archive.h"
#include "audit.h"
#include "cgroup.h"
#include "fs.h"
#include "home.h"
#include "naming.h"
#include "proc.h"
#include "quota.h"
#include "storage-internal.h"
#include "userns.h"
#include "util.h"
#include "warren-internal.h"

#define MANIFEST_MAX (1ull << 30)
#define READ_BLOCK (256 * 1024)
#define PIPE_DEPTH (1024 * 1024)

/* --- the extracting child ------------------------------------------------------ */

typedef struct ictx {
    const char *tenant, *from;
    const wr_import_opts *o;
    bool jail;   /* root mode: mount namespace, pivot_root, the tenant's uid */
    bool userns; /* non-root mode: the same jail inside a user namespace of one uid */
    wr_userns maps;
    uid_t uid;
    gid_t gid;
    pid_t parent;
    int infd, stagefd, resfd;
    char stage_path[WR_BASE_MAX + NAME_MAX + 2];
    uint64_t limit_bytes, limit_files;
    /* the decompressing process: its pid, the pipe of its error message,
     * and the archive bytes it has read (shared memory, for the progress) */
    pid_t unzip;
    int unzip_err;
    volatile uint64_t *consumed;
} ictx;

typedef struct result {
    int r;
    wr_err err;
    wr_archive_stats st;
    wr_archive_format format;
    char source[WR_TENANT_ID_MAX + 1];
    char quotas[512];
    bool verified;
} result;

static int jail(ictx *c, wr_err *e) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != c->parent) _exit(1);
    if (c->jail || c->userns) {
        /* Without root, a user namespace where the caller maps only itself
         * makes the mount namespace possible (as bubblewrap does). */
        int r;
        if (c->userns && (unshare(CLONE_NEWUSER) < 0 || (r = wr_userns_enter(&c->maps)) < 0))
            return wr_sys(e, errno, "import: cannot make a user namespace");
        if (unshare(CLONE_NEWNS) < 0)
            return wr_sys(e, errno, "import: cannot make a private mount namespace");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            return wr_sys(e, errno, "import: cannot make mounts private");
        /* nosuid, nodev, noexec in root mode; a user namespace could not
         * change the mount's locked flags, and gains nothing from them. */
        if (mount(c->stage_path, c->stage_path, NULL, MS_BIND, NULL) < 0 ||
            (c->jail && mount(NULL, c->stage_path, NULL,
                              MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0))
            return wr_sys(e, errno, "import: cannot mount the staging directory %s", c->stage_path);
        struct stat a, b;
        if (chdir(c->stage_path) < 0 || stat(".", &a) < 0 || fstat(c->stagefd, &b) < 0)
            return wr_sys(e, errno, "import: cannot enter %s", c->stage_path);
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
            return wr_unsafe(e, "import: the staging directory %s was replaced", c->stage_path);
        /* The staging directory becomes the root; the old root goes away. */
        if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
            return wr_sys(e, errno, "import: cannot make the staging directory the root");
    } else if (fchdir(c->stagefd) < 0) {
        return wr_sys(e, errno, "import: cannot enter %s", c->stage_path);
    }
    /* Nothing of the parent's stays open but stdio, the archive and the pipe. */
    int in = fcntl(c->infd, F_DUPFD, 1000), res = fcntl(c->resfd, F_DUPFD, 1000);
    if (in < 0 || res < 0 || dup2(in, 3) < 0 || dup2(res, 4) < 0 ||
        syscall(SYS_close_range, 5u, ~0u, 0u) < 0)
        return wr_sys(e, errno, "import: cannot arrange file descriptors");
    c->infd = 3;
    c->resfd = 4;
    c->stagefd = -1;
    if (c->jail) {
        if (setgroups(0, NULL) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
            setresuid(c->uid, c->uid, c->uid) < 0)
            return wr_sys(e, errno, "import: cannot become uid %u", (unsigned)c->uid);
        /* A change of credentials clears the parent-death signal. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != c->parent) _exit(1);
    } else if (c->userns) {
        int r = wr_userns_drop_caps();
        if (r < 0) return wr_sys(e, -r, "import: cannot drop capabilities");
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return wr_sys(e, errno, "import: cannot set no_new_privs");
    /* A file larger than the whole limit fails in the kernel too. */
    signal(SIGXFSZ, SIG_IGN);
    if (c->limit_bytes) {
        struct rlimit rl = {c->limit_bytes + 1, c->limit_bytes + 1};
        (void)setrlimit(RLIMIT_FSIZE, &rl);
    }
    umask(022);
    return 0;
}

static bool write_all(int fd, const void *buf, size_t n) {
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        off += (size_t)w;
    }
    return true;
}

/* The decompressing process: archive in, plain tar out. */
static _Noreturn void unzip_main(int in, int out, int err, volatile uint64_t *consumed) {
    struct archive *a = archive_read_new();
    struct archive_entry *en;
    const char *msg = NULL;
    if (!a) _exit(1);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_raw(a);
    int r = archive_read_open_fd(a, in, READ_BLOCK);
    if (r == ARCHIVE_OK) r = archive_read_next_header(a, &en);
    while (r == ARCHIVE_OK) {
        const void *buf;
        size_t n;
        la_int64_t off;
        r = archive_read_data_block(a, &buf, &n, &off);
        /* The reader stopped: refused, or past the end-of-archive blocks. */
        if (r == ARCHIVE_OK && !write_all(out, buf, n)) _exit(errno == EPIPE ? 2 : 1);
        *consumed = (uint64_t)archive_filter_bytes(a, -1);
    }
    if (r != ARCHIVE_EOF) {
        msg = archive_error_string(a);
        if (!write_all(err, msg ? msg : "decompression failed",
                       strlen(msg ? msg : "decompression failed")))
            _exit(1);
        _exit(1);
    }
    _exit(0);
}

/* Decompression runs in a process of its own, as `tar --zstd -x` has zstd:
 * the two halves use two cores. Same jail, same uid; it shares nothing with
 * the extractor but the pipe. */
static int start_unzip(ictx *c, wr_err *e) {
    int data[2], err[2];
    c->consumed =
        mmap(NULL, sizeof *c->consumed, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c->consumed == MAP_FAILED || pipe2(data, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
        return wr_sys(e, errno, "import: cannot set up decompression");
    /* A deeper pipe than the default 64 KiB: the two sides switch less
     * often (a 200 MB import: about 1,300 context switches, not 5,000 to
     * 6,600). Best effort: the kernel may hold the tenant to less. */
    (void)fcntl(data[1], F_SETPIPE_SZ, PIPE_DEPTH);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) return wr_sys(e, errno, "import: cannot fork");
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) _exit(1);
        close(data[0]);
        close(err[0]);
        signal(SIGPIPE, SIG_IGN);
        unzip_main(c->infd, data[1], err[1], c->consumed);
    }
    close(data[1]);
    close(err[1]);
    close(c->infd);
    c->infd = data[0];
    c->unzip = pid;
    c->unzip_err = err[0];
    return 0;
}

/* Waits for the decompressor; its own failure explains a broken stream
 * better than the tar reader's "truncated". */
static int finish_unzip(ictx *c, bool kill_it, wr_err *e) {
    if (c->unzip <= 0) return 0;
    if (kill_it) kill(c->unzip, SIGKILL);
    int st;
    while (waitpid(c->unzip, &st, 0) < 0 && errno == EINTR)
        ;
    c->unzip = 0;
    char msg[512];
    ssize_t n = read(c->unzip_err, msg, sizeof msg - 1);
    bool ok = WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 2);
    if (n > 0 || (!kill_it && !ok)) {
        msg[n > 0 ? n : 0] = '\0';
        wr_err_clear(e);
        return wr_invalid(e, "archive is corrupt or truncated: %s",
                          n > 0 ? msg : "decompression failed");
    }
    return 0;
}

typedef struct xstate {
    ictx *c;
    struct archive *in, *out;
    wr_filter f;
    EVP_MD_CTX *md;
    uint64_t written;
    double start, last;
    result *res;
    wr_err *e;
} xstate;

static void report(xstate *x, bool done) {
    const wr_import_opts *o = x->c->o;
    if (!o || !o->progress) return;
    double now = wr_mono();
    if (!done && now - x->last < 0.1) return;
    x->last = now;
    wr_progress p = {.files = x->f.files,
                     .bytes = x->c->consumed ? *x->c->consumed : 0,
                     .total_bytes = o->input_size,
                     .elapsed = now - x->start,
                     .done = done};
    o->progress(&p, o->userdata);
}

static int read_failed(xstate *x, const char *member) {
    const char *s = archive_error_string(x->in);
    return wr_invalid(x->e, "archive is corrupt or truncated%s%s%s: %s",
                      member ? " (at member " : "", member ? member : "", member ? ")" : "",
                      s ? s : "read error");
}

static int write_failed(xstate *x, const char *member) {
    const char *s = archive_error_string(x->out);
    int errnum = archive_errno(x->out);
    if (errnum == EFBIG || errnum == EDQUOT || errnum == ENOSPC)
        return wr_fail(x->e, WR_ERR_LIMIT, errnum, "import stopped at %s: %s", member,
                       s ? s : "no space");
    return wr_invalid(x->e, "import refused %s: %s", member, s ? s : "cannot extract");
}

/* The header or manifest member, into memory. */
static int read_member(xstate *x, struct archive_entry *en, size_t max, char **ret,
                       size_t *ret_len) {
    const char *name = archive_entry_pathname(en);
    la_int64_t size = archive_entry_size(en);
    if (size < 0 || (uint64_t)size > max)
        return wr_invalid(x->e, "archive member %s is larger than %zu bytes", name, max);
    char *buf = malloc((size_t)size + 1);
    if (!buf) return wr_sys(x->e, ENOMEM, "import: %s", name);
    size_t got = 0;
    while (got < (size_t)size) {
        la_ssize_t n = archive_read_data(x->in, buf + got, (size_t)size - got);
        if (n <= 0) {
            free(buf);
            return read_failed(x, name);
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *ret = buf;
    *ret_len = got;
    return 0;
}

static void hash_zeros(EVP_MD_CTX *md, uint64_t n) {
    static const unsigned char zeros[4096];
    for (; n; n -= n < sizeof zeros ? n : sizeof zeros)
        EVP_DigestUpdate(md, zeros, n < sizeof zeros ? n : sizeof zeros);
}

static int extract_member(xstate *x, struct archive_entry *en) {
    const char *name = archive_entry_pathname(en); /* relative to the home now */
    if (archive_write_header(x->out, en) < ARCHIVE_OK) return write_failed(x, name);
    bool file = archive_entry_filetype(en) == AE_IFREG && !archive_entry_hardlink(en);
    if (file) {
        EVP_DigestInit_ex(x->md, EVP_sha256(), NULL);
        uint64_t at = 0, size = (uint64_t)archive_entry_size(en);
        for (;;) {
            const void *buf;
            size_t n;
            la_int64_t off;
            int r = archive_read_data_block(x->in, &buf, &n, &off);
            if (r == ARCHIVE_EOF) break;
            if (r < ARCHIVE_OK) return read_failed(x, name);
            /* Holes of a sparse member read as zeros, as the exporter hashed them. */
            if ((uint64_t)off < at)
                return wr_invalid(x->e, "archive member %s overlaps itself", name);
            hash_zeros(x->md, (uint64_t)off - at);
            EVP_DigestUpdate(x->md, buf, n);
            at = (uint64_t)off + n;
            x->written += n;
            if (x->c->limit_bytes && x->written > x->c->limit_bytes)
                return wr_fail(x->e, WR_ERR_LIMIT, EDQUOT,
                               "import stopped at %s: more than the limit of %llu bytes", name,
                               (unsigned long long)x->c->limit_bytes);
            if (archive_write_data_block(x->out, buf, n, off) < ARCHIVE_OK)
                return write_failed(x, name);
            report(x, false);
        }
        if (at < size) hash_zeros(x->md, size - at);
        wr_path_info *info = wr_pathset_get(x->f.paths, name);
        if (info) {
            EVP_DigestFinal_ex(x->md, info->sha256, NULL);
            info->size = size;
            info->summed = true;
        }
        x->res->st.files++;
        x->res->st.bytes += size;
    }
    if (archive_write_finish_entry(x->out) < ARCHIVE_OK) return write_failed(x, name);
    x->res->st.entries++;
    return 0;
}

static int extract_all(xstate *x, char **manifest, size_t *manifest_len, struct timespec *top) {
    for (;;) {
        struct archive_entry *en;
        int r = archive_read_next_header(x->in, &en);
        if (r == ARCHIVE_EOF) return 0;
        if (r < ARCHIVE_OK) return read_failed(x, NULL);
        wr_member m;
        if ((r = wr_filter_member(&x->f, en, &m, x->e)) < 0) return r;
        switch (m) {
        case WR_MEMBER_HEADER: {
            _cleanup_free_ char *buf = NULL;
            size_t len;
            if ((r = read_member(x, en, WR_ARCHIVE_HEADER_MAX, &buf, &len)) < 0 ||
                (r = wr_filter_set_ident(&x->f, buf, len, x->e)) < 0)
                return r;
            break;
        }
        case WR_MEMBER_MANIFEST:
            if ((r = read_member(x, en, MANIFEST_MAX, manifest, manifest_len)) < 0) return r;
            break;
        case WR_MEMBER_TOP:
            top[0] = (struct timespec){0, UTIME_OMIT};
            top[1] = (struct timespec){archive_entry_mtime(en), archive_entry_mtime_nsec(en)};
            break;
        case WR_MEMBER_EXTRACT:
            if ((r = extract_member(x, en)) < 0) return r;
            break;
        }
        report(x, false);
    }
}

static int extract(ictx *c, result *res, wr_err *e) {
    xstate x = {.c = c, .res = res, .e = e, .start = wr_mono()};
    int r = wr_filter_init(&x.f, c->tenant, c->from, c->limit_bytes, c->limit_files, e);
    if (r < 0) return r;
    x.in = archive_read_new();
    x.out = archive_write_disk_new();
    x.md = EVP_MD_CTX_new();
    char *manifest = NULL;
    size_t manifest_len = 0;
    struct timespec top[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (!x.in || !x.out || !x.md) {
        r = wr_sys(e, ENOMEM, "import");
        goto out;
    }
    /* Plain tar from the decompressor: a second compression layer is refused. */
    archive_read_support_format_tar(x.in);
    /* The second layer: libarchive's own refusals. No owner, xattrs, ACLs or
     * file flags are restored; modes and times are. */
    archive_write_disk_set_options(
        x.out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                   ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                   ARCHIVE_EXTRACT_NO_OVERWRITE);
    if (archive_read_open_fd(x.in, c->infd, READ_BLOCK) < ARCHIVE_OK) {
        r = read_failed(&x, NULL);
        goto out;
    }
    if ((r = extract_all(&x, &manifest, &manifest_len, top)) < 0) goto out;
    if ((r = wr_filter_finish(&x.f, e)) < 0) goto out;
    /* Directory modes and times are applied here, deepest first. */
    if (archive_write_close(x.out) < ARCHIVE_OK) {
        r = write_failed(&x, "the directories");
        goto out;
    }
    if (utimensat(AT_FDCWD, ".", top, 0) < 0) {
        r = wr_sys(e, errno, "import: cannot set the home's times");
        goto out;
    }
    res->format = x.f.format;
    res->st.neutralised = x.f.neutralised;
    if (x.f.format == WR_FORMAT_WARREN) {
        if ((r = wr_manifest_verify(manifest, manifest_len, &x.f.ident, x.f.paths, e)) < 0)
            goto out;
        res->verified = true;
        snprintf(res->source, sizeof res->source, "%s", x.f.ident.saas_user_id);
        snprintf(res->quotas, sizeof res->quotas, "%s", x.f.ident.quotas);
    }
    report(&x, true);
out:
    free(manifest);
    EVP_MD_CTX_free(x.md);
    if (x.out) archive_write_free(x.out);
    if (x.in) archive_read_free(x.in);
    wr_filter_free(&x.f);
    return r;
}

static _Noreturn void child(ictx *c) {
    result res = {0};
    wr_err e = WR_ERR_INIT;
    int r = jail(c, &e);
    if (r >= 0) r = start_unzip(c, &e);
    if (r >= 0) {
        r = extract(c, &res, &e);
        close(c->infd); /* a decompressor still writing stops */
        int q = finish_unzip(c, r < 0, &e);
        /* A broken stream: the decompressor's word is the better one. */
        if (q < 0 && (r >= 0 || e.kind == WR_ERR_INVALID)) r = q;
    }
    res.r = r < 0 ? r : 0;
    res.err = e;
    size_t off = 0;
    while (off < sizeof res) {
        ssize_t n = write(c->resfd, (char *)&res + off, sizeof res - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    _exit(0);
}

/* Runs the child and collects its result. */
static int run_child(ictx *c, result *res, wr_err *e) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return wr_sys(e, errno, "import: pipe");
    c->parent = getpid();
    c->resfd = p[1];
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return wr_sys(e, errno, "import: cannot fork");
    }
    if (pid == 0) {
        close(p[0]);
        child(c);
    }
    close(p[1]);
    size_t off = 0;
    while (off < sizeof *res) {
        ssize_t n = read(p[0], (char *)res + off, sizeof *res - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (off != sizeof *res) {
        if (WIFSIGNALED(st))
            return wr_sys(e, EIO, "import: the extracting process died of signal %d", WTERMSIG(st));
        return wr_sys(e, EIO, "import: the extracting process ended without a result");
    }
    if (res->r < 0) {
        if (e && e->kind == WR_ERR_NONE) *e = res->err;
        return res->r;
    }
    return 0;
}

/* --- the parent ------------------------------------------------------------------- */

/* A home as a create leaves it: empty sandboxes/ and .cache/, nothing else. */
static int home_pristine(int home, bool *ret, wr_err *e) {
    int dfd = openat(home, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0) close(dfd);
        return wr_sys(e, errno, "import: cannot read the home");
    }
    bool clean = true;
    for (struct dirent *de; clean && (de = readdir(d));) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
        if (!streq(de->d_name, "sandboxes") && !streq(de->d_name, ".cache")) {
            clean = false;
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_nlink > 2) {
            clean = false;
            break;
        }
        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *sd = sub >= 0 ? fdopendir(sub) : NULL;
        if (!sd) {
            if (sub >= 0) close(sub);
            clean = false;
            break;
        }
        for (struct dirent *x; (x = readdir(sd));)
            if (!streq(x->d_name, ".") && !streq(x->d_name, "..")) clean = false;
        closedir(sd);
    }
    closedir(d);
    *ret = clean;
    return 0;
}

static void limits(warren *w, const char *tenant, const wr_import_opts *o, ictx *c) {
    c->limit_bytes = o && o->limit_bytes ? o->limit_bytes : WR_IMPORT_LIMIT_BYTES_DEFAULT;
    c->limit_files = o && o->limit_files ? o->limit_files : WR_IMPORT_LIMIT_FILES_DEFAULT;
    /* The tenant's storage quota, where it has one, is the tighter bound. */
    wr_quota q;
    if (wr_quota_effective(w, tenant, &q, NULL) == 0) {
        if (wr_quota_limited(q.storage) && (uint64_t)q.storage < c->limit_bytes)
            c->limit_bytes = (uint64_t)q.storage;
        if (wr_quota_limited(q.inodes) && (uint64_t)q.inodes < c->limit_files)
            c->limit_files = (uint64_t)q.inodes;
    }
}

/* The staging directory and its marker. For a btrfs home (a subvolume) it is
 * a subvolume too, so that the exchange leaves the tenant a home of the same
 * backend. */
static int make_stage(warren *w, const wr_tenant *t, bool subvolume, char *name, size_t n,
                      int *ret_marker, wr_err *e) {
    uint64_t rnd;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) return wr_sys(e, errno, "import: getrandom");
    snprintf(name, n, STAGE_PREFIX "%s-%016llx", t->linux_username, (unsigned long long)rnd);
    int r = wr_archive_marker(w, "stage", name, ret_marker, e);
    if (r < 0) return r;
    if (subvolume) {
        /* Quotas on before the subvolume exists, so its qgroup is made with it. */
        if ((r = wr_btrfs_quota_enable(w->basefd, e)) >= 0)
            r = wr_btrfs_subvolume_create(w->basefd, name, e);
    } else if (mkdirat(w->basefd, name, 0700) < 0) {
        r = wr_sys(e, errno, "import: cannot create %s/%s", w->cfg.users_base, name);
    }
    if (r < 0) {
        wr_archive_marker_drop(w, "stage", name, ret_marker);
        return r;
    }
    return 0;
}

/* A subvolume stage takes the tenant's storage quota as its qgroup limit
 * before anything is extracted: the kernel holds the import to it, and the
 * new home has it from the exchange on. */
static int limit_stage(warren *w, const wr_tenant *t, int sfd, wr_err *e) {
    wr_quota q;
    int r = wr_quota_effective(w, t->saas_user_id, &q, e);
    if (r < 0) return r;
    return wr_btrfs_set_limit(w->basefd, sfd,
                              wr_quota_limited(q.storage) ? (uint64_t)q.storage : UINT64_MAX, e);
}

/* Puts the finished staging directory in place of the home. */
static int swap_in(warren *w, const wr_tenant *t, const char *stage, bool kill_runs, wr_err *e) {
    int r;
    if (kill_runs) {
        /* The home is replaced under them: the tenant's programs end first. */
        /* No cgroup hierarchy (a host without cgroup2): no runs to end there. */
        if (wr_ensure_cgroups(w, NULL) >= 0 && (r = wr_cgroup_tenant_kill(w, t, e)) < 0) return r;
        if (w->cfg.root_mode && (r = wr_kill_uid(t->uid, e)) < 0) return r;
    }
    if ((r = wr_lock_mutations(w, e)) < 0) return r;
    /* Still the same tenant: a delete may have run meanwhile. */
    wr_tenant now;
    if ((r = wr_tenant_get(w, t->saas_user_id, &now, e)) >= 0 &&
        (now.uid != t->uid || !streq(now.linux_username, t->linux_username)))
        r = wr_fail(e, WR_ERR_BUSY, EAGAIN, "tenant '%s' was replaced during the import",
                    t->saas_user_id);
    if (r >= 0 && renameat2(w->basefd, stage, w->basefd, t->linux_username, RENAME_EXCHANGE) < 0) {
        if (errno == ENOENT)
            r = renameat2(w->basefd, stage, w->basefd, t->linux_username, RENAME_NOREPLACE);
        else
            r = -1;
        if (r < 0) r = wr_sys(e, errno, "import: cannot put the new home %s in place", t->home_dir);
    }
    wr_unlock_mutations(w);
    return r;
}

static void audit(warren *w, const wr_import_result *res) {
    json_t *j = json_pack("{s:s,s:s,s:b,s:b,s:I,s:I}", "format", res->format, "source", res->source,
                          "created", res->created, "verified", res->verified, "files",
                          (json_int_t)res->stats.files, "bytes", (json_int_t)res->stats.bytes);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    wr_audit_note(w, "import", res->tenant.saas_user_id, s);
    free(s);
    json_decref(j);
}

static int import_into(warren *w, const wr_tenant *t, bool created, int infd,
                       const wr_import_opts *o, wr_import_result *res, wr_err *e) {
    uid_t uid = w->cfg.root_mode ? t->uid : getuid();
    gid_t gid = w->cfg.root_mode ? t->gid : getgid();
    _cleanup_close_ int home = wr_home_open(w->basefd, t->linux_username, uid, e);
    if (home < 0) return home;
    bool pristine = created;
    int r = created ? 0 : home_pristine(home, &pristine, e);
    if (r < 0) return r;
    if (!pristine && !(o && o->replace))
        return wr_exists(e,
                         "tenant '%s' has files in its home; --replace replaces the whole home "
                         "with the archive's",
                         t->saas_user_id);

    ictx c = {.tenant = t->saas_user_id,
              .from = o ? o->from : NULL,
              .o = o,
              .jail = w->cfg.root_mode,
              .uid = uid,
              .gid = gid,
              .infd = infd};
    limits(w, t->saas_user_id, o, &c);
    /* Where the kernel refuses unprivileged user namespaces, a non-root
     * import relies on the filter and libarchive's flags alone. */
    c.userns = !c.jail && wr_userns_prepare(&c.maps, uid, gid, NULL) >= 0;
    char stage[NAME_MAX + 1];
    int marker = -1;
    bool subvolume = wr_btrfs_is_subvolume(w->basefd, t->linux_username);
    if ((r = make_stage(w, t, subvolume, stage, sizeof stage, &marker, e)) < 0) return r;
    snprintf(c.stage_path, sizeof c.stage_path, "%s/%s", w->cfg.users_base, stage);
    _cleanup_close_ int sfd =
        openat(w->basefd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        r = wr_sys(e, errno, "import: cannot open %s", c.stage_path);
        goto fail;
    }
    if (fchmod(sfd, 0700) < 0 || fchown(sfd, uid, gid) < 0) {
        r = wr_sys(e, errno, "import: cannot give %s to the tenant", c.stage_path);
        goto fail;
    }
    if (subvolume && (r = limit_stage(w, t, sfd, e)) < 0) goto fail;
    c.stagefd = sfd;
    result cres = {0};
    if ((r = run_child(&c, &cres, e)) < 0) goto fail;

    /* What a home must have, whatever the archive held. */
    struct stat st;
    if (fstat(sfd, &st) < 0 || fchmod(sfd, 0700) < 0) {
        r = wr_sys(e, errno, "import: cannot finish %s", c.stage_path);
        goto fail;
    }
    static const char *const subdirs[] = {"sandboxes", ".cache"};
    for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
        /* The archive's own are kept as they are (modes included). */
        struct stat sst;
        if (fstatat(sfd, subdirs[i], &sst, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(sst.st_mode)) continue;
            r = wr_invalid(e, "archive's %s is not a directory; a home needs one", subdirs[i]);
            goto fail;
        }
        int fd = wr_mkdir_owned(sfd, subdirs[i], 0700, uid, gid, subdirs[i], e);
        if (fd < 0) {
            r = fd;
            goto fail;
        }
        close(fd);
    }
    if ((r = swap_in(w, t, stage, !created && o && o->replace, e)) < 0) goto fail;
    /* The old home is under the staging name now; if this fails, the next
     * warren removes it (the marker stays). */
    if (wr_archive_stage_remove(w, stage, NULL) >= 0)
        wr_archive_marker_drop(w, "stage", stage, &marker);
    else
        closep(&marker);

    /* A tenant new here takes the quotas it had at the source. */
    wr_quota q;
    if (created && wr_archive_quotas_parse(cres.quotas, &q) > 0) {
        wr_err qe = WR_ERR_INIT;
        if (wr_quota_set(w, t->saas_user_id, &q, NULL, &qe) < 0)
            fprintf(stderr, "warren: import: the archive's quotas were not applied: %s\n", qe.msg);
    }
    res->tenant = *t;
    res->created = created;
    snprintf(res->format, sizeof res->format, "%s",
             cres.format == WR_FORMAT_WARREN ? "warren" : "pactown");
    snprintf(res->source, sizeof res->source, "%s", cres.source);
    res->verified = cres.verified;
    res->stats = cres.st;
    return 0;
fail:
    (void)wr_archive_stage_remove(w, stage, NULL);
    wr_archive_marker_drop(w, "stage", stage, &marker);
    return r;
}

int wr_tenant_import(warren *w, const char *tenant, int infd, const wr_import_opts *o,
                     wr_import_result *ret, wr_err *e) {
    int r = wr_check_tenant_id(tenant, e);
    if (r < 0) return r;
    if (o && o->from && (r = wr_check_tenant_id(o->from, e)) < 0) return r;
    if (infd < 0) return wr_invalid(e, "import: no archive to read");
    /* Litter of imports that died: gone before this one starts. */
    (void)wr_import_clean_staging(w, NULL);
    wr_tenant t;
    bool created = false;
    if ((r = wr_tenant_get_or_create(w, tenant, &t, &created, e)) < 0) return r;
    wr_import_result res = {0};
    r = import_into(w, &t, created, infd, o, &res, e);
    if (r < 0) {
        /* Refused: a tenant made for this import goes again. */
        if (created) (void)wr_tenant_delete(w, tenant, false, NULL);
        return r;
    }
    audit(w, &res);
    if (ret) *ret = res;
    return 0;
}
