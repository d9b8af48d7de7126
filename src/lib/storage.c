/* Storage backends for homes (storage.h): which one a home has, and the
 * operations that differ between them. The btrfs ioctls are in
 * storage-btrfs.c; the dir backend is du.c's walk and the quota registry.
 *
 * Snapshots live in <users_base>/.warren-snapshots, root's and 0700: a
 * snapshot holds the tenant's files as they were, and nobody but warren is to
 * reach it (the tenant included: it is not the tenant's home). The name
 * starts with the tenant's account name, so a delete finds any a crash left. */
#include "storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "audit.h"
#include "du.h"
#include "fs.h"
#include "home.h"
#include "quota.h"
#include "storage-internal.h"
#include "util.h"
#include "warren-internal.h"

#define SNAPSHOT_DIR ".warren-snapshots"

/* WARREN_STORAGE: the backend for new homes. */
static int configured_btrfs(warren *w, bool *ret, wr_err *e) {
    const char *v = getenv("WARREN_STORAGE");
    bool btrfs_base = wr_btrfs_is_btrfs(w->basefd);
    if (!v || !*v || streq(v, "auto")) {
        *ret = btrfs_base;
        return 0;
    }
    if (streq(v, "dir")) {
        *ret = false;
        return 0;
    }
    if (streq(v, "btrfs")) {
        if (!btrfs_base)
            return wr_invalid(e, "WARREN_STORAGE=btrfs, but the users base %s is not on btrfs",
                              w->cfg.users_base);
        *ret = true;
        return 0;
    }
    return wr_invalid(e, "WARREN_STORAGE '%s': expected auto, dir or btrfs", v);
}

static bool home_is_btrfs(warren *w, const wr_tenant *t) {
    return wr_btrfs_is_subvolume(w->basefd, t->linux_username);
}

const char *wr_storage_backend_name(warren *w, const wr_tenant *t) {
    struct stat st;
    if (fstatat(w->basefd, t->linux_username, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return home_is_btrfs(w, t) ? "btrfs" : "dir";
    bool btrfs = false;
    return configured_btrfs(w, &btrfs, NULL) == 0 && btrfs ? "btrfs" : "dir";
}

static int open_home(warren *w, const wr_tenant *t, wr_err *e) {
    return wr_home_open(w->basefd, t->linux_username, w->cfg.root_mode ? t->uid : getuid(), e);
}

/* --- limits ------------------------------------------------------------------ */

static bool limited(int64_t v) {
    return v >= 0 && v != INT64_MAX;
}

int wr_storage_set_quota(warren *w, const wr_tenant *t, int64_t bytes, int64_t inodes, wr_err *e) {
    if (bytes < -1 || inodes < -1)
        return wr_invalid(
            e, "storage quota of tenant '%s': %" PRId64 " bytes, %" PRId64 " inodes is not a limit",
            t->saas_user_id, bytes, inodes);
    if (!home_is_btrfs(w, t)) return 0; /* dir: the registry's value is all there is */
    _cleanup_close_ int fd = open_home(w, t, e);
    if (fd < 0) return fd;
    int r = wr_btrfs_quota_enable(w->basefd, e);
    if (r < 0) return r;
    return wr_btrfs_set_limit(w->basefd, fd, limited(bytes) ? (uint64_t)bytes : UINT64_MAX, e);
}

/* The tenant's effective storage and inode limits (-1: none). A tenant being
 * created has no values of its own yet (and no row quota.c would read). */
static int effective_limits(warren *w, const wr_tenant *t, int64_t *bytes, int64_t *inodes,
                            wr_err *e) {
    wr_quota q;
    int r = t->state == WR_TENANT_CREATING ? wr_quota_defaults(w, &q, e)
                                           : wr_quota_effective(w, t->saas_user_id, &q, e);
    if (r < 0) return r;
    *bytes = limited(q.storage) ? q.storage : -1;
    *inodes = limited(q.inodes) ? q.inodes : -1;
    return 0;
}

/* --- homes ------------------------------------------------------------------- */

int wr_storage_home_create(warren *w, const wr_tenant *t, uid_t owner, gid_t group, wr_err *e) {
    bool btrfs;
    int r = configured_btrfs(w, &btrfs, e);
    if (r < 0) return r;
    if (!btrfs) {
        r = wr_home_create(w->basefd, t->linux_username, owner, group, e);
    } else {
        /* Quotas on before the subvolume exists, so its qgroup is made with it. */
        if ((r = wr_btrfs_quota_enable(w->basefd, e)) < 0) return r;
        r = wr_btrfs_subvolume_create(w->basefd, t->linux_username, e);
        if (r == -EEXIST) return wr_home_exists(t->linux_username, e);
        if (r < 0) return r;
        if ((r = wr_home_fill(w->basefd, t->linux_username, owner, group, e)) < 0) {
            (void)wr_btrfs_subvolume_delete(w->basefd, t->linux_username, NULL);
            return r;
        }
    }
    if (r < 0) return r;
    if (!btrfs) return 0;
    /* A new home starts under the tenant's quota (the host default, if
     * nothing else is set yet). */
    int64_t bytes, inodes;
    if ((r = effective_limits(w, t, &bytes, &inodes, e)) < 0 ||
        (r = wr_storage_set_quota(w, t, bytes, inodes, e)) < 0) {
        (void)wr_btrfs_subvolume_delete(w->basefd, t->linux_username, NULL);
        return r;
    }
    return 0;
}

/* Whether `name` is "<linux_username>-<16 hex digits>", as wr_storage_snapshot
 * names them (and not a snapshot of a tenant whose name merely starts so). */
static bool is_snapshot_of(const char *name, const wr_tenant *t) {
    size_t n = strlen(t->linux_username);
    if (strncmp(name, t->linux_username, n) || name[n] != '-' || strlen(name + n + 1) != 16)
        return false;
    for (const char *p = name + n + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

/* Removes every snapshot of the tenant's home (ones a crash left). */
static int remove_snapshots(warren *w, const wr_tenant *t, wr_err *e) {
    int fd = openat(w->basefd, SNAPSHOT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : wr_sys(e, errno, "cannot open %s", SNAPSHOT_DIR);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return wr_sys(e, errno, "cannot read %s", SNAPSHOT_DIR);
    }
    int r = 0;
    for (struct dirent *de; r >= 0 && (de = readdir(d));)
        if (is_snapshot_of(de->d_name, t)) r = wr_btrfs_subvolume_delete(dirfd(d), de->d_name, e);
    closedir(d);
    return r;
}

int wr_storage_home_remove(warren *w, const wr_tenant *t, wr_err *e) {
    int r = 0;
    if (wr_btrfs_is_btrfs(w->basefd) && (r = remove_snapshots(w, t, e)) < 0) return r;
    if (home_is_btrfs(w, t)) return wr_btrfs_subvolume_delete(w->basefd, t->linux_username, e);
    return wr_home_remove(w->basefd, t->linux_username, e);
}

/* --- usage ------------------------------------------------------------------- */

typedef struct measure {
    bool btrfs;
    uint64_t bytes;  /* everything in the home (btrfs: its subvolume and those inside) */
    uint64_t nested; /* btrfs: the part in subvolumes the tenant made, outside the limit */
    uint64_t inodes;
} measure;

static int measure_home(warren *w, const wr_tenant *t, bool want_bytes, bool want_inodes,
                        measure *m, wr_err *e) {
    _cleanup_close_ int fd = open_home(w, t, e);
    if (fd < 0) return fd;
    *m = (measure){.btrfs = home_is_btrfs(w, t)};
    int r;
    if (m->btrfs && want_bytes) {
        wr_btrfs_use u;
        if ((r = wr_btrfs_usage(fd, &u, e)) < 0) return r;
        m->bytes = u.bytes + u.nested_bytes;
        m->nested = u.nested_bytes;
    }
    if (!m->btrfs || want_inodes) {
        wr_usage u;
        if ((r = wr_disk_usage(fd, &u, e)) < 0) return r;
        if (!m->btrfs) m->bytes = u.bytes;
        m->inodes = u.inodes;
    }
    return 0;
}

int wr_storage_usage(warren *w, const wr_tenant *t, uint64_t *ret_bytes, uint64_t *ret_inodes,
                     wr_err *e) {
    measure m;
    int r = measure_home(w, t, ret_bytes, ret_inodes, &m, e);
    if (r < 0) return r;
    if (ret_bytes) *ret_bytes = m.bytes;
    if (ret_inodes) *ret_inodes = m.inodes;
    return 0;
}

typedef struct verdict {
    bool over;
    uint64_t used, limit;
    const char *what; /* "bytes" or "inodes" */
} verdict;

/* for_run: judging whether a run may start. On btrfs the kernel holds the
 * home's bytes to the limit, and a tenant at it may still run (to delete
 * files, say); only bytes in subvolumes the tenant made inside its home, which
 * the kernel does not count against the limit, are warren's to judge. */
static int judge(warren *w, const wr_tenant *t, bool for_run, verdict *v, wr_err *e) {
    int64_t bytes, inodes;
    int r = effective_limits(w, t, &bytes, &inodes, e);
    if (r < 0) return r;
    *v = (verdict){0};
    if (bytes < 0 && inodes < 0) return 0; /* nothing to walk for */
    measure m;
    if ((r = measure_home(w, t, bytes >= 0, inodes >= 0, &m, e)) < 0) return r;
    bool judge_bytes = bytes >= 0 && (!for_run || !m.btrfs || m.nested > 0);
    if (judge_bytes && m.bytes >= (uint64_t)bytes)
        *v = (verdict){true, m.bytes, (uint64_t)bytes, "bytes"};
    else if (inodes >= 0 && m.inodes >= (uint64_t)inodes)
        *v = (verdict){true, m.inodes, (uint64_t)inodes, "inodes"};
    return 0;
}

int wr_storage_over_quota(warren *w, const wr_tenant *t, bool *ret, wr_err *e) {
    verdict v;
    int r = judge(w, t, false, &v, e);
    if (r < 0) return r;
    *ret = v.over;
    return 0;
}

int wr_storage_check_run(warren *w, const wr_tenant *t, wr_err *e) {
    verdict v;
    int r = judge(w, t, true, &v, e);
    if (r < 0) return r;
    if (!v.over) return 0;
    char detail[160];
    snprintf(detail, sizeof detail,
             "{\"%s\":%" PRIu64 ",\"limit\":%" PRIu64 ",\"refused\":\"run\"}", v.what, v.used,
             v.limit);
    wr_audit_note(w, "storage_over_quota", t->saas_user_id, detail);
    return wr_fail(e, WR_ERR_LIMIT, EDQUOT,
                   "tenant '%s' is over its storage quota: %" PRIu64
                   " %s used, the limit is %" PRIu64
                   "; free some space or raise the quota (warren quota set) to start runs again",
                   t->saas_user_id, v.used, v.what, v.limit);
}

/* --- snapshots --------------------------------------------------------------- */

static int open_snapshot_dir(warren *w, wr_err *e) {
    return wr_mkdir_owned(w->basefd, SNAPSHOT_DIR, 0700, 0, 0, "the snapshot directory", e);
}

int wr_storage_snapshot(warren *w, const wr_tenant *t, char **ret_path, wr_err *e) {
    if (!home_is_btrfs(w, t))
        return wr_fail(e, WR_ERR_SYSTEM, EOPNOTSUPP,
                       "the home of tenant '%s' is not a btrfs subvolume: no snapshot",
                       t->saas_user_id);
    _cleanup_close_ int home = open_home(w, t, e);
    if (home < 0) return home;
    _cleanup_close_ int dir = open_snapshot_dir(w, e);
    if (dir < 0) return dir;
    uint64_t rnd;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return wr_sys(e, errno, "snapshot name");
    char name[WR_USERNAME_MAX + 24];
    snprintf(name, sizeof name, "%s-%016" PRIx64, t->linux_username, rnd);
    int r = wr_btrfs_snapshot(home, dir, name, e);
    if (r < 0) return r;
    if (asprintf(ret_path, "%s/%s/%s", w->cfg.users_base, SNAPSHOT_DIR, name) < 0) {
        (void)wr_btrfs_subvolume_delete(dir, name, NULL);
        return wr_sys(e, ENOMEM, "snapshot path");
    }
    return 0;
}

int wr_storage_snapshot_remove(warren *w, const char *path, wr_err *e) {
    char prefix[WR_BASE_MAX + sizeof SNAPSHOT_DIR + 2];
    snprintf(prefix, sizeof prefix, "%s/%s/", w->cfg.users_base, SNAPSHOT_DIR);
    size_t n = strlen(prefix);
    const char *name = path ? path + n : NULL;
    if (!path || strncmp(path, prefix, n) || !*name || strchr(name, '/') || name[0] == '.')
        return wr_invalid(e, "%s is not a snapshot warren made", path ? path : "(null)");
    _cleanup_close_ int dir =
        openat(w->basefd, SNAPSHOT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return errno == ENOENT ? 0 : wr_sys(e, errno, "cannot open %s", prefix);
    if (!wr_btrfs_is_subvolume(dir, name)) {
        struct stat st;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) return 0;
        return wr_invalid(e, "%s is not a snapshot warren made", path);
    }
    return wr_btrfs_subvolume_delete(dir, name, e);
}
