/* The btrfs backend: homes as subvolumes with qgroup limits.
 *
 * Everything goes through the btrfs ioctls on directory fds; no btrfs-progs
 * at run time. A subvolume's root directory is always inode 256
 * (BTRFS_FIRST_FREE_OBJECTID), which is how an existing home is recognised.
 *
 * Deleting: root may destroy a subvolume with everything in it in one call,
 * except when the tenant has made subvolumes inside it (unprivileged users
 * may). Those are found in the tree of tree roots (ROOT_REF items name a
 * subvolume's children by id) and destroyed by id first, deepest first, so no
 * path inside the home is ever walked by name.
 *
 * Quotas: the limit is on referenced bytes (max_rfer) of the subvolume's own
 * level-0 qgroup; btrfs reserves space at write time and answers EDQUOT past
 * the limit. The counters are the qgroup items of the quota tree, updated at
 * each transaction commit. */
#include "storage-internal.h"

#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "util.h"

/* Nested subvolumes deeper than this are not chased (the delete then fails). */
#define NESTED_MAX_DEPTH 64

bool wr_btrfs_is_btrfs(int fd) {
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 && sf.f_type == (typeof(sf.f_type))BTRFS_SUPER_MAGIC;
}

bool wr_btrfs_is_subvolume(int dirfd, const char *name) {
    _cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) return false;
    return S_ISDIR(st.st_mode) && st.st_ino == BTRFS_FIRST_FREE_OBJECTID && wr_btrfs_is_btrfs(fd);
}

static int set_name(char *dst, size_t n, const char *name, wr_err *e) {
    if (strscpy(dst, n, name) < 0) return wr_invalid(e, "subvolume name %s is too long", name);
    return 0;
}

int wr_btrfs_quota_enable(int fd, wr_err *e) {
    struct btrfs_ioctl_quota_ctl_args q = {.cmd = BTRFS_QUOTA_CTL_ENABLE};
    if (ioctl(fd, BTRFS_IOC_QUOTA_CTL, &q) < 0)
        return wr_sys(e, errno, "cannot enable btrfs quotas on the users base");
    return 0;
}

int wr_btrfs_subvolume_create(int dirfd, const char *name, wr_err *e) {
    struct btrfs_ioctl_vol_args va = {0};
    int r = set_name(va.name, sizeof va.name, name, e);
    if (r < 0) return r;
    if (ioctl(dirfd, BTRFS_IOC_SUBVOL_CREATE, &va) < 0) {
        if (errno == EEXIST) return -EEXIST;
        return wr_sys(e, errno, "cannot create btrfs subvolume %s", name);
    }
    return 0;
}

/* The id of the subvolume the fd is in. */
static int subvolume_id(int fd, uint64_t *ret) {
    struct btrfs_ioctl_ino_lookup_args a = {.treeid = 0, .objectid = BTRFS_FIRST_FREE_OBJECTID};
    if (ioctl(fd, BTRFS_IOC_INO_LOOKUP, &a) < 0) return -errno;
    *ret = a.treeid;
    return 0;
}

/* Calls fn for each item of tree `tree` with the key range given; stops at
 * fn's first non-zero return. */
static int tree_search(int fd, uint64_t tree, uint64_t objectid, uint32_t min_type,
                       uint32_t max_type, uint64_t min_offset, uint64_t max_offset,
                       int (*fn)(const struct btrfs_ioctl_search_header *h, const void *item,
                                 void *userdata),
                       void *userdata) {
    struct btrfs_ioctl_search_args a;
    for (;;) {
        memset(&a, 0, sizeof a);
        a.key = (struct btrfs_ioctl_search_key){
            .tree_id = tree,
            .min_objectid = objectid,
            .max_objectid = objectid,
            .min_type = min_type,
            .max_type = max_type,
            .min_offset = min_offset,
            .max_offset = max_offset,
            .max_transid = UINT64_MAX,
            .nr_items = 4096,
        };
        if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &a) < 0) return -errno;
        if (a.key.nr_items == 0) return 0;
        size_t off = 0;
        struct btrfs_ioctl_search_header h = {0};
        for (uint32_t i = 0; i < a.key.nr_items; i++) {
            if (off + sizeof h > sizeof a.buf) return -EIO;
            memcpy(&h, a.buf + off, sizeof h);
            off += sizeof h;
            if (off + h.len > sizeof a.buf) return -EIO;
            int r = fn(&h, a.buf + off, userdata);
            if (r) return r;
            off += h.len;
        }
        /* The range is one of whole keys (objectid, type, offset): go on
         * from just after the last key returned. */
        if (h.type >= max_type && h.offset >= max_offset) return 0;
        min_type = h.type;
        if (h.offset == UINT64_MAX) {
            min_type++;
            min_offset = 0;
        } else {
            min_offset = h.offset + 1;
        }
    }
}

typedef struct ids {
    uint64_t v[256];
    size_t n;
} ids;

static int collect_child(const struct btrfs_ioctl_search_header *h, const void *item,
                         void *userdata) {
    (void)item;
    ids *l = userdata;
    if (h->type != BTRFS_ROOT_REF_KEY) return 0;
    if (l->n == ELEMENTSOF(l->v)) return 1; /* the rest on the next round */
    l->v[l->n++] = h->offset;
    return 0;
}

/* Destroys subvolume `id` (with its nested subvolumes), through any fd on the
 * filesystem. */
static int destroy_by_id(int fd, uint64_t id, unsigned depth) {
    if (depth > NESTED_MAX_DEPTH) return -ELOOP;
    for (int round = 0; round < 16; round++) {
        struct btrfs_ioctl_vol_args_v2 va = {.flags = BTRFS_SUBVOL_SPEC_BY_ID, .subvolid = id};
        if (ioctl(fd, BTRFS_IOC_SNAP_DESTROY_V2, &va) == 0 || errno == ENOENT) return 0;
        if (errno != ENOTEMPTY) return -errno;
        ids l = {0};
        int r = tree_search(fd, BTRFS_ROOT_TREE_OBJECTID, id, BTRFS_ROOT_REF_KEY,
                            BTRFS_ROOT_REF_KEY, 0, UINT64_MAX, collect_child, &l);
        if (r < 0) return r;
        for (size_t i = 0; i < l.n; i++)
            if ((r = destroy_by_id(fd, l.v[i], depth + 1)) < 0) return r;
    }
    return -ENOTEMPTY;
}

/* Limits qgroup 0/<id> through dirfd: never through the subvolume itself, whose
 * own transaction btrfs refuses (EDQUOT) once it is over its limit, which is
 * exactly when a limit needs raising. UINT64_MAX is btrfs's "clear". */
static int limit_by_id(int dirfd, uint64_t id, uint64_t bytes) {
    struct btrfs_ioctl_qgroup_limit_args a = {
        .qgroupid = id, /* level 0: the subvolume's own */
        .lim = {.flags = BTRFS_QGROUP_LIMIT_MAX_RFER, .max_rfer = bytes},
    };
    return ioctl(dirfd, BTRFS_IOC_QGROUP_LIMIT, &a) < 0 ? -errno : 0;
}

int wr_btrfs_subvolume_delete(int dirfd, const char *name, wr_err *e) {
    struct btrfs_ioctl_vol_args va = {0};
    int r = set_name(va.name, sizeof va.name, name, e);
    if (r < 0) return r;
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return wr_sys(e, errno, "cannot open btrfs subvolume %s", name);
    }
    uint64_t id = 0;
    if ((r = subvolume_id(fd, &id)) < 0)
        return wr_sys(e, -r, "cannot find the id of btrfs subvolume %s", name);
    /* Its limit goes first: removing the subvolumes inside it changes its
     * metadata, which btrfs refuses (EDQUOT) to a subvolume over its limit,
     * and a lowered quota can leave a home over it. Quotas may be off. */
    (void)limit_by_id(dirfd, id, UINT64_MAX);
    closep(&fd);
    fd = -1;
    if (ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &va) == 0 || errno == ENOENT) return 0;
    if (errno != ENOTEMPTY) return wr_sys(e, errno, "cannot delete btrfs subvolume %s", name);
    /* Subvolumes inside: by id, so nothing in the home is walked by name. */
    if ((r = destroy_by_id(dirfd, id, 0)) < 0)
        return wr_sys(e, -r, "cannot delete btrfs subvolume %s and those inside it", name);
    return 0;
}

int wr_btrfs_snapshot(int srcfd, int dirfd, const char *name, wr_err *e) {
    struct btrfs_ioctl_vol_args_v2 va = {.fd = srcfd, .flags = BTRFS_SUBVOL_RDONLY};
    int r = set_name(va.name, sizeof va.name, name, e);
    if (r < 0) return r;
    if (ioctl(dirfd, BTRFS_IOC_SNAP_CREATE_V2, &va) < 0)
        return wr_sys(e, errno, "cannot snapshot into %s", name);
    return 0;
}

int wr_btrfs_set_limit(int dirfd, int fd, uint64_t bytes, wr_err *e) {
    uint64_t id = 0;
    int r = subvolume_id(fd, &id);
    if (r < 0) return wr_sys(e, -r, "cannot find the btrfs subvolume of the home");
    if ((r = limit_by_id(dirfd, id, bytes)) < 0)
        return wr_sys(e, -r, "cannot set the btrfs qgroup limit of subvolume %llu",
                      (unsigned long long)id);
    return 0;
}

typedef struct qgroup {
    uint64_t id; /* the qgroup wanted: the range also holds others' items */
    bool info, limited;
    uint64_t rfer, max_rfer;
} qgroup;

static int read_qgroup(const struct btrfs_ioctl_search_header *h, const void *item,
                       void *userdata) {
    qgroup *q = userdata;
    if (h->offset != q->id) return 0;
    if (h->type == BTRFS_QGROUP_INFO_KEY && h->len >= sizeof(struct btrfs_qgroup_info_item)) {
        struct btrfs_qgroup_info_item it;
        memcpy(&it, item, sizeof it);
        q->info = true;
        q->rfer = le64toh(it.rfer);
    } else if (h->type == BTRFS_QGROUP_LIMIT_KEY &&
               h->len >= sizeof(struct btrfs_qgroup_limit_item)) {
        struct btrfs_qgroup_limit_item it;
        memcpy(&it, item, sizeof it);
        q->limited = le64toh(it.flags) & BTRFS_QGROUP_LIMIT_MAX_RFER;
        q->max_rfer = le64toh(it.max_rfer);
    }
    return 0;
}

static int read_qgroup_of(int fd, uint64_t id, qgroup *q) {
    *q = (qgroup){.id = id};
    int r = tree_search(fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_INFO_KEY,
                        BTRFS_QGROUP_LIMIT_KEY, id, id, read_qgroup, q);
    if (r == 0 && !q->info) r = -ENOENT;
    return r;
}

/* Adds the referenced bytes of every subvolume below `id` (not id's own). */
static int nested_bytes(int fd, uint64_t id, unsigned depth, uint64_t *sum) {
    if (depth > NESTED_MAX_DEPTH) return -ELOOP;
    ids l = {0};
    int r = tree_search(fd, BTRFS_ROOT_TREE_OBJECTID, id, BTRFS_ROOT_REF_KEY, BTRFS_ROOT_REF_KEY, 0,
                        UINT64_MAX, collect_child, &l);
    if (r < 0) return r;
    for (size_t i = 0; i < l.n; i++) {
        qgroup q;
        /* A subvolume being deleted may have lost its qgroup already. */
        if ((r = read_qgroup_of(fd, l.v[i], &q)) < 0 && r != -ENOENT) return r;
        if (r == 0) *sum += q.rfer;
        if ((r = nested_bytes(fd, l.v[i], depth + 1, sum)) < 0) return r;
    }
    return 0;
}

int wr_btrfs_usage(int fd, wr_btrfs_use *ret, wr_err *e) {
    uint64_t id = 0;
    int r = subvolume_id(fd, &id);
    if (r < 0) return wr_sys(e, -r, "cannot find the btrfs subvolume of the home");
    /* Level-0 qgroup ids are the subvolume ids. */
    qgroup q;
    r = read_qgroup_of(fd, id, &q);
    if (r == -ENOENT)
        return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                       "btrfs quotas are not enabled for the home's subvolume %llu",
                       (unsigned long long)id);
    if (r < 0)
        return wr_sys(e, -r, "cannot read the btrfs qgroup of subvolume %llu",
                      (unsigned long long)id);
    uint64_t nested = 0;
    if ((r = nested_bytes(fd, id, 0, &nested)) < 0)
        return wr_sys(e, -r, "cannot read the subvolumes inside btrfs subvolume %llu",
                      (unsigned long long)id);
    *ret = (wr_btrfs_use){
        .bytes = q.rfer,
        .limit = q.limited ? q.max_rfer : UINT64_MAX,
        .nested_bytes = nested,
    };
    return 0;
}
