/* Export: a tenant's whole home as one archive (warren-archive.h).
 *
 * Theory of operation: the tenant's runs are frozen (cgroup.freeze) for the
 * copy, so the archive is the home at one instant even while the tenant's
 * programs write. The home is walked as root from its directory fd, each
 * entry looked at with fstatat(AT_SYMLINK_NOFOLLOW) and opened with
 * O_NOFOLLOW relative to its parent's fd, then checked to be the inode that
 * was looked at: a link the tenant planted is archived as a link, never
 * followed, and another filesystem mounted inside is not entered. Each file
 * is hashed as it streams into libarchive; the hashes go into the manifest,
 * the archive's last member, so nothing is read twice.
 *
 * To a file, the archive is written to an unnamed O_TMPFILE in the target's
 * directory and linked into place only once complete: a failure, even a
 * SIGKILL, leaves no partial file behind. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "archive-internal.h"
#include "warren-archive.h"
#include "audit.h"
#include "cgroup.h"
#include "du.h"
#include "home.h"
#include "quota.h"
#include "util.h"
#include "warren-internal.h"

#define READ_CHUNK (1u << 20)
#define MAX_DEPTH 4096

wr_compression wr_compression_for_name(const char *name) {
    size_t l = name ? strlen(name) : 0;
    if ((l >= 7 && streq(name + l - 7, ".tar.gz")) || (l >= 4 && streq(name + l - 4, ".tgz")))
        return WR_COMPRESS_GZIP;
    return WR_COMPRESS_ZSTD;
}

/* Files with more than one link, by inode: the first path archived. */
typedef struct links {
    wr_pathset *by_inode; /* "dev:ino" -> index into paths */
    char **paths;
    size_t n, cap;
} links;

typedef struct xctx {
    struct archive *a;
    struct archive_entry *en;
    EVP_MD_CTX *md;
    const EVP_MD *sha256;
    dev_t dev;
    bool check_owner; /* root mode: only the tenant's own entries are archived */
    uid_t uid;        /* the owner every member is written with */
    gid_t gid;
    char *path; /* the member name being built: home/... */
    size_t len, cap;
    char *buf;
    links links;
    wr_manifest_buf man;
    wr_archive_stats st;
    const wr_export_opts *o;
    int outfd;
    bool out_is_pipe, out_is_file;
    uint64_t out_written, out_synced; /* bytes written to a file, and handed to writeback */
    wr_progress prog;
    double start, last_report;
    wr_err *e;
} xctx;

static void report(xctx *x, bool done) {
    if (!x->o || !x->o->progress) return;
    double now = wr_mono();
    if (!done && now - x->last_report < 0.1) return;
    x->last_report = now;
    x->prog.files = x->st.files;
    x->prog.bytes = x->st.bytes;
    x->prog.elapsed = now - x->start;
    x->prog.done = done;
    x->o->progress(&x->prog, x->o->userdata);
}

static bool cancelled(const xctx *x) {
    return x->o && x->o->cancel && *x->o->cancel;
}

static int archive_failed(xctx *x, const char *what) {
    const char *s = archive_error_string(x->a);
    int errnum = archive_errno(x->a);
    return wr_sys(x->e, errnum > 0 ? errnum : EIO, "export: %s: %s", what, s ? s : "failed");
}

/* Appends "/name" to the member name; returns the old length to pop back to. */
static int push(xctx *x, const char *name, size_t *ret_old) {
    size_t l = strlen(name), need = x->len + l + 2;
    if (need > x->cap) {
        size_t cap = x->cap ? x->cap : 256;
        while (cap < need)
            cap *= 2;
        char *p = realloc(x->path, cap);
        if (!p) return wr_sys(x->e, ENOMEM, "export");
        x->path = p;
        x->cap = cap;
    }
    *ret_old = x->len;
    x->path[x->len++] = '/';
    memcpy(x->path + x->len, name, l + 1);
    x->len += l;
    return 0;
}

static void pop(xctx *x, size_t old) {
    x->len = old;
    x->path[old] = '\0';
}

static void entry_from_stat(xctx *x, const struct stat *st, mode_t type) {
    archive_entry_clear(x->en);
    archive_entry_set_pathname(x->en, x->path);
    archive_entry_set_filetype(x->en, type);
    archive_entry_set_perm(x->en, st->st_mode & 07777);
    archive_entry_set_uid(x->en, x->uid);
    archive_entry_set_gid(x->en, x->gid);
    archive_entry_set_mtime(x->en, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

static int write_header(xctx *x) {
    x->st.entries++;
    if (archive_write_header(x->a, x->en) < ARCHIVE_OK) return archive_failed(x, x->path);
    return 0;
}

/* A file with several links: the first path is archived with the data, the
 * others as hard links to it. Returns 1 if it was a later link (written). */
static int hardlink(xctx *x, const struct stat *st) {
    char key[64];
    snprintf(key, sizeof key, "%llx:%llx", (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino);
    wr_path_info *seen = wr_pathset_get(x->links.by_inode, key);
    if (seen) {
        entry_from_stat(x, st, AE_IFREG);
        archive_entry_set_hardlink(x->en, x->links.paths[seen->size]);
        archive_entry_set_size(x->en, 0);
        int r = write_header(x);
        return r < 0 ? r : 1;
    }
    if (x->links.n == x->links.cap) {
        size_t cap = x->links.cap ? x->links.cap * 2 : 64;
        char **v = realloc(x->links.paths, cap * sizeof *v);
        if (!v) return wr_sys(x->e, ENOMEM, "export");
        x->links.paths = v;
        x->links.cap = cap;
    }
    wr_path_info info = {.type = WR_PATH_FILE, .size = x->links.n};
    char *p = strdup(x->path);
    if (!p || wr_pathset_add(x->links.by_inode, key, &info) < 0) {
        free(p);
        return wr_sys(x->e, ENOMEM, "export");
    }
    x->links.paths[x->links.n++] = p;
    return 0;
}

static int export_file(xctx *x, int dirfd, const char *name, const struct stat *lst) {
    /* O_NONBLOCK: if the name became a fifo meanwhile, the open must not hang. */
    _cleanup_close_ int fd =
        openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0; /* gone since the listing (the tenant is not frozen) */
        return wr_sys(x->e, errno, "export: cannot open %s", x->path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) return wr_sys(x->e, errno, "export: cannot inspect %s", x->path);
    if (!S_ISREG(st.st_mode) || st.st_ino != lst->st_ino || st.st_dev != lst->st_dev)
        return wr_fail(x->e, WR_ERR_BUSY, EAGAIN, "export: %s changed while being exported",
                       x->path);
    if (st.st_nlink > 1) {
        int r = hardlink(x, &st);
        if (r != 0) return r < 0 ? r : 0;
    }
    entry_from_stat(x, &st, AE_IFREG);
    archive_entry_set_size(x->en, st.st_size);
    int r = write_header(x);
    if (r < 0) return r;
    EVP_DigestInit_ex(x->md, x->sha256, NULL);
    uint64_t left = (uint64_t)st.st_size;
    while (left > 0) {
        ssize_t n = read(fd, x->buf, left < READ_CHUNK ? left : READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return wr_sys(x->e, errno, "export: cannot read %s", x->path);
        if (n == 0)
            return wr_fail(x->e, WR_ERR_BUSY, EAGAIN,
                           "export: %s shrank while being exported (written by a process outside "
                           "the tenant's runs?)",
                           x->path);
        if (cancelled(x)) return wr_fail(x->e, WR_ERR_BUSY, ECANCELED, "export cancelled");
        EVP_DigestUpdate(x->md, x->buf, (size_t)n);
        if (archive_write_data(x->a, x->buf, (size_t)n) != n) return archive_failed(x, x->path);
        left -= (uint64_t)n;
        x->st.bytes += (uint64_t)n;
        report(x, false);
    }
    unsigned char md[32];
    EVP_DigestFinal_ex(x->md, md, NULL);
    x->st.files++;
    /* Manifest paths are relative to the home. */
    wr_manifest_add(&x->man, x->path + strlen(WR_ARCHIVE_TOP) + 1, (uint64_t)st.st_size, md);
    return 0;
}

static int export_symlink(xctx *x, int dirfd, const char *name, const struct stat *st) {
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
    if (n < 0) {
        if (errno == ENOENT) return 0;
        return wr_sys(x->e, errno, "export: cannot read link %s", x->path);
    }
    target[n] = '\0';
    entry_from_stat(x, st, AE_IFLNK);
    archive_entry_set_perm(x->en, 0777);
    archive_entry_set_symlink(x->en, target);
    return write_header(x);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The names in the directory at fd, sorted, so archives of equal trees are
 * equal. */
static int list_dir(xctx *x, int fd, char ***ret, size_t *ret_n) {
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dfd < 0) return wr_sys(x->e, errno, "export: %s", x->path);
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return wr_sys(x->e, errno, "export: cannot read %s", x->path);
    }
    char **v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) r = wr_sys(x->e, errno, "export: cannot read %s", x->path);
            break;
        }
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                r = wr_sys(x->e, ENOMEM, "export");
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(de->d_name))) {
            r = wr_sys(x->e, ENOMEM, "export");
            break;
        }
        n++;
    }
    closedir(d);
    if (r < 0) {
        free_names(v, n);
        return r;
    }
    if (n) qsort(v, n, sizeof *v, cmp_names);
    *ret = v;
    *ret_n = n;
    return 0;
}

static int export_dir(xctx *x, int fd, const struct stat *st, unsigned depth);

static int export_entry(xctx *x, int dirfd, const char *name, unsigned depth) {
    if (cancelled(x)) return wr_fail(x->e, WR_ERR_BUSY, ECANCELED, "export cancelled");
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return 0;
        return wr_sys(x->e, errno, "export: cannot inspect %s", x->path);
    }
    /* Not the tenant's: a hard link to a host or another tenant's file that
     * was planted here, or something root left. Its contents are not the
     * tenant's to take along. */
    if (x->check_owner && st.st_uid != x->uid) {
        x->st.skipped++;
        return 0;
    }
    if (S_ISREG(st.st_mode)) return export_file(x, dirfd, name, &st);
    if (S_ISLNK(st.st_mode)) return export_symlink(x, dirfd, name, &st);
    if (!S_ISDIR(st.st_mode)) {
        x->st.skipped++; /* sockets and fifos: an archive cannot carry them */
        return 0;
    }
    if (st.st_dev != x->dev) {
        x->st.skipped++; /* a mount point: another filesystem is not the home's */
        return 0;
    }
    _cleanup_close_ int fd =
        openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return wr_sys(x->e, errno, "export: cannot open %s", x->path);
    }
    struct stat dst;
    if (fstat(fd, &dst) < 0) return wr_sys(x->e, errno, "export: cannot inspect %s", x->path);
    if (dst.st_ino != st.st_ino || dst.st_dev != x->dev)
        return wr_fail(x->e, WR_ERR_BUSY, EAGAIN, "export: %s changed while being exported",
                       x->path);
    return export_dir(x, fd, &dst, depth + 1);
}

static int export_dir(xctx *x, int fd, const struct stat *st, unsigned depth) {
    if (depth > MAX_DEPTH)
        return wr_fail(x->e, WR_ERR_LIMIT, ELOOP, "export: %s is nested deeper than %d", x->path,
                       MAX_DEPTH);
    entry_from_stat(x, st, AE_IFDIR);
    int r = write_header(x);
    if (r < 0) return r;
    char **names = NULL;
    size_t n = 0;
    if ((r = list_dir(x, fd, &names, &n)) < 0) return r;
    for (size_t i = 0; i < n && r >= 0; i++) {
        size_t old = 0;
        if ((r = push(x, names[i], &old)) < 0) break;
        r = export_entry(x, fd, names[i], depth);
        pop(x, old);
    }
    free_names(names, n);
    return r;
}

/* A member warren writes itself (header, manifest). */
static int write_member(xctx *x, const char *name, const char *data, size_t len, uid_t uid,
                        gid_t gid) {
    archive_entry_clear(x->en);
    archive_entry_set_pathname(x->en, name);
    archive_entry_set_filetype(x->en, AE_IFREG);
    archive_entry_set_perm(x->en, 0600);
    archive_entry_set_uid(x->en, uid);
    archive_entry_set_gid(x->en, gid);
    archive_entry_set_mtime(x->en, time(NULL), 0);
    archive_entry_set_size(x->en, (la_int64_t)len);
    if (archive_write_header(x->a, x->en) < ARCHIVE_OK) return archive_failed(x, name);
    if (len && archive_write_data(x->a, data, len) != (la_ssize_t)len)
        return archive_failed(x, name);
    return 0;
}

/* The file an export writes is synced before it is named; handing each
 * few MiB to writeback as it is written lets the disk work while the
 * compressor does, and leaves the final fsync only the tail to wait for.
 * Only a start: a failure here shows in that fsync. */
#define WRITEBACK_STEP (8u << 20)
static void start_writeback(xctx *x, uint64_t n) {
    x->out_written += n;
    if (x->out_written - x->out_synced < WRITEBACK_STEP) return;
    (void)sync_file_range(x->outfd, (off64_t)x->out_synced,
                          (off64_t)(x->out_written - x->out_synced), SYNC_FILE_RANGE_WRITE);
    x->out_synced = x->out_written;
}

/* As archive_write_open_fd, except that a cancel (a signal) also ends a
 * write to a pipe whose reader stalls, where libarchive's own writer would
 * retry after EINTR and block again: such writes wait in poll with a
 * timeout, then write at most PIPE_BUF bytes, which never blocks once poll
 * said the pipe has room. */
static la_ssize_t out_write(struct archive *a, void *userdata, const void *buf, size_t n) {
    xctx *x = userdata;
    for (;;) {
        if (cancelled(x)) {
            archive_set_error(a, ECANCELED, "export cancelled");
            return -1;
        }
        if (x->out_is_pipe) {
            struct pollfd p = {.fd = x->outfd, .events = POLLOUT};
            int r = poll(&p, 1, 200);
            if (r == 0 || (r < 0 && errno == EINTR)) continue;
            if (n > PIPE_BUF) n = PIPE_BUF;
        }
        ssize_t w = write(x->outfd, buf, n);
        if (w >= 0) {
            if (x->out_is_file) start_writeback(x, (uint64_t)w);
            return w;
        }
        if (errno == EINTR) continue;
        archive_set_error(a, errno, "%s", strerror(errno));
        return -1;
    }
}

/* zstd's own worker threads compress while this thread walks, reads and
 * hashes, as `tar --zstd` has a zstd process beside it. One per online CPU,
 * at most four: an export is one tenant's move, not the host's only work. */
static int compress_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

static int open_writer(xctx *x, int outfd, wr_compression c) {
    if (!(x->a = archive_write_new())) return wr_sys(x->e, ENOMEM, "export");
    /* pax: long names, large files and nanosecond mtimes, readable by GNU tar. */
    if (archive_write_set_format_pax(x->a) < ARCHIVE_OK) return archive_failed(x, "pax format");
    /* File names are bytes, not text in some charset: stored as they are. */
    if (archive_write_set_format_option(x->a, "pax", "hdrcharset", "BINARY") < ARCHIVE_OK)
        return archive_failed(x, "pax hdrcharset");
    if (c == WR_COMPRESS_GZIP) {
        if (archive_write_add_filter_gzip(x->a) < ARCHIVE_OK) return archive_failed(x, "gzip");
    } else {
        if (archive_write_add_filter_zstd(x->a) < ARCHIVE_OK) return archive_failed(x, "zstd");
        char threads[16];
        snprintf(threads, sizeof threads, "%d", compress_threads());
        if (archive_write_set_filter_option(x->a, "zstd", "threads", threads) < ARCHIVE_OK)
            return archive_failed(x, "zstd threads");
    }
    archive_write_set_bytes_per_block(x->a, 64 * 1024);
    archive_write_set_bytes_in_last_block(x->a, 1);
    x->outfd = outfd;
    struct stat st;
    bool known = fstat(outfd, &st) == 0;
    x->out_is_pipe = known && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    x->out_is_file = known && S_ISREG(st.st_mode);
    if (x->out_is_file) {
        off_t at = lseek(outfd, 0, SEEK_CUR);
        x->out_written = x->out_synced = at > 0 ? (uint64_t)at : 0;
    }
    if (archive_write_open2(x->a, x, NULL, out_write, NULL, NULL) < ARCHIVE_OK)
        return archive_failed(x, "output");
    return 0;
}

/* The tenant's runs stand still while the home is read. A host without a
 * cgroup2 hierarchy (or a non-root warren without a delegated one) has no
 * freezer: the export still runs and says it was not frozen. While frozen, a
 * marker in <state_dir>/imports (flocked by this process) lets the next
 * warren thaw the tenant should this process die before it does. */
static int freeze(warren *w, const wr_tenant *t, int *marker, wr_err *e) {
    if (wr_ensure_cgroups(w, NULL) < 0) return 0;
    int r = wr_archive_marker(w, "freeze-", t->linux_username, marker, e);
    if (r < 0) return r;
    if ((r = wr_cgroup_tenant_freeze(w, t, true, e)) < 0) {
        wr_archive_marker_drop(w, "freeze-", t->linux_username, marker);
        return r;
    }
    return 1;
}

static int thaw(warren *w, const wr_tenant *t, int *marker, wr_err *e) {
    int r = wr_cgroup_tenant_freeze(w, t, false, e);
    if (r >= 0) wr_archive_marker_drop(w, "freeze-", t->linux_username, marker);
    return r;
}

static void xctx_free(xctx *x) {
    if (x->a) archive_write_free(x->a);
    if (x->en) archive_entry_free(x->en);
    EVP_MD_CTX_free(x->md);
    free(x->path);
    free(x->buf);
    free(x->man.s);
    wr_pathset_free(x->links.by_inode);
    free_names(x->links.paths, x->links.n);
}

static int export_home(warren *w, const wr_tenant *t, int home, int outfd, const wr_export_opts *o,
                       xctx *x, wr_err *e) {
    struct stat st;
    if (fstat(home, &st) < 0) return wr_sys(e, errno, "export: cannot inspect the home");
    x->dev = st.st_dev;
    x->check_owner = w->cfg.root_mode;
    x->uid = w->cfg.root_mode ? t->uid : st.st_uid;
    x->gid = w->cfg.root_mode ? t->gid : st.st_gid;
    x->e = e;
    x->o = o;
    x->md = EVP_MD_CTX_new();
    x->sha256 = EVP_sha256();
    x->en = archive_entry_new();
    x->buf = malloc(READ_CHUNK);
    x->links.by_inode = wr_pathset_new();
    x->path = strdup(WR_ARCHIVE_TOP);
    if (!x->md || !x->sha256 || !x->en || !x->buf || !x->links.by_inode || !x->path)
        return wr_sys(e, ENOMEM, "export");
    x->len = x->cap = strlen(x->path);
    x->start = x->last_report = wr_mono();
    if (o && o->progress) {
        wr_usage u;
        if (wr_disk_usage(home, &u, NULL) == 0) x->prog.total_bytes = u.bytes;
    }

    wr_archive_ident id = {.version = WR_ARCHIVE_VERSION,
                           .source_uid = x->uid,
                           .source_gid = x->gid,
                           .created_at = wr_now()};
    strcpy(id.saas_user_id, t->saas_user_id);
    strcpy(id.linux_username, t->linux_username);
    wr_quota q;
    if (wr_quota_get(w, t->saas_user_id, &q, NULL) == 0)
        (void)wr_archive_quotas_format(&q, id.quotas, sizeof id.quotas);
    int r = open_writer(x, outfd, o ? o->compression : WR_COMPRESS_ZSTD);
    if (r < 0) return r;
    _cleanup_free_ char *head = wr_archive_header_json(&id);
    if (!head) return wr_sys(e, ENOMEM, "export");
    if ((r = write_member(x, WR_ARCHIVE_HEADER, head, strlen(head), x->uid, x->gid)) < 0) return r;
    wr_manifest_begin(&x->man, &id);
    if ((r = export_dir(x, home, &st, 0)) < 0) return r;
    if (wr_manifest_end(&x->man) < 0) return wr_sys(e, ENOMEM, "export: manifest");
    if ((r = write_member(x, WR_ARCHIVE_MANIFEST, x->man.s, x->man.len, x->uid, x->gid)) < 0)
        return r;
    if (archive_write_close(x->a) < ARCHIVE_OK) return archive_failed(x, "closing the archive");
    report(x, true);
    return 0;
}

int wr_tenant_export(warren *w, const char *tenant, int outfd, const wr_export_opts *o,
                     wr_archive_stats *ret, wr_err *e) {
    wr_tenant t;
    int r = wr_tenant_get(w, tenant, &t, e);
    if (r < 0) return r;
    _cleanup_close_ int home =
        wr_home_open(w->basefd, t.linux_username, w->cfg.root_mode ? t.uid : getuid(), e);
    if (home < 0) return home;
    /* One fd per directory level of the walk. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
        rl.rlim_cur < MAX_DEPTH + 64) {
        rl.rlim_cur = rl.rlim_max < MAX_DEPTH + 64 ? rl.rlim_max : MAX_DEPTH + 64;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    int marker = -1;
    int frozen = freeze(w, &t, &marker, e);
    if (frozen < 0) return frozen;
    xctx x = {0};
    r = export_home(w, &t, home, outfd, o, &x, e);
    if (frozen) {
        int q = thaw(w, &t, &marker, e);
        if (r >= 0) r = q;
    }
    x.st.frozen = frozen > 0;
    if (r >= 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "{\"files\":%llu,\"bytes\":%llu,\"frozen\":%s}",
                 (unsigned long long)x.st.files, (unsigned long long)x.st.bytes,
                 x.st.frozen ? "true" : "false");
        wr_audit_note(w, "export", t.saas_user_id, detail);
    }
    if (r >= 0 && ret) *ret = x.st;
    xctx_free(&x);
    return r;
}

/* --- to a file ------------------------------------------------------------------- */

int wr_tenant_export_file(warren *w, const char *tenant, const char *path, bool force,
                          const wr_export_opts *o, wr_archive_stats *ret, wr_err *e) {
    if (!path || !path[0]) return wr_invalid(e, "export: no output file named");
    _cleanup_free_ char *dir = strdup(path);
    if (!dir) return wr_sys(e, ENOMEM, "export");
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    if (!base[0] || streq(base, ".") || streq(base, ".."))
        return wr_invalid(e, "export: '%s' does not name a file", path);
    if (slash == dir)
        dir[1] = '\0', base = path + 1;
    else if (slash)
        *slash = '\0';
    _cleanup_close_ int dfd = open(slash ? dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return wr_sys(e, errno, "export: cannot open the directory of %s", path);
    struct stat st;
    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!force) return wr_exists(e, "%s exists already; --force overwrites it", path);
        if (S_ISDIR(st.st_mode)) return wr_invalid(e, "export: %s is a directory", path);
    }
    /* Checked before anything is written: an unknown tenant leaves no file. */
    wr_tenant t;
    int r = wr_tenant_get(w, tenant, &t, e);
    if (r < 0) return r;

    _cleanup_close_ int fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    char tmp[64] = "";
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
        /* No O_TMPFILE on this filesystem: a named temporary file instead. */
        snprintf(tmp, sizeof tmp, ".warren-export-%d-%ld", (int)getpid(), (long)time(NULL));
        fd = openat(dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) return wr_sys(e, errno, "export: cannot create %s", path);
    r = wr_tenant_export(w, tenant, fd, o, ret, e);
    if (r >= 0 && fsync(fd) < 0) r = wr_sys(e, errno, "export: cannot write %s", path);
    if (r >= 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (tmp[0]) {
            r = renameat2(dfd, tmp, dfd, base, force ? 0 : RENAME_NOREPLACE);
        } else if (!force) {
            r = linkat(AT_FDCWD, proc, dfd, base, AT_SYMLINK_FOLLOW);
        } else {
            /* Linked under a temporary name, then renamed over the old file. */
            snprintf(tmp, sizeof tmp, ".warren-export-%d-%ld", (int)getpid(), (long)time(NULL));
            r = linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW);
            if (r == 0) r = renameat(dfd, tmp, dfd, base);
        }
        if (r < 0) {
            int errnum = errno;
            r = errnum == EEXIST
                    ? wr_exists(e, "%s appeared meanwhile; --force overwrites it", path)
                    : wr_sys(e, errnum, "export: cannot create %s", path);
        }
    }
    if (r < 0 && tmp[0]) (void)unlinkat(dfd, tmp, 0);
    return r;
}
