/* Disk usage of a tenant's tree.
 *
 * Approach: a depth-first walk with an explicit stack. Each directory is read
 * completely (getdents64 into one shared buffer) before anything below it is
 * entered: every entry is fstatat()ed relative to the directory fd without
 * following links and counted at once, and only the names of subdirectories
 * are kept for later. So a level of the stack needs no open directory stream,
 * only its fd, and even that is closed below DU_FD_BUDGET levels and regained
 * on the way back up through the child's `..` (checked to be the same inode,
 * since a rename could have moved the child). The walk therefore holds a
 * bounded number of fds at any depth.
 *
 * Hard links: only non-directories with st_nlink > 1 go into a hash set of
 * (dev, ino), which keeps the set small for ordinary trees. Entries on another
 * device (mount points) are neither counted nor entered. */
#include "du.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "util.h"

/* Levels that keep their fd open; deeper ones reopen through `..`. */
#define DU_FD_BUDGET 128
#define DU_DENTS_BUF (64 * 1024)

typedef struct du_level {
    int fd; /* -1 while closed to save fds */
    dev_t dev;
    ino_t ino;
    char *names; /* subdirectories still to walk, each NUL-terminated */
    size_t len, cap, pos;
} du_level;

typedef struct inode_key {
    dev_t dev;
    ino_t ino;
} inode_key;

typedef struct du_walk {
    wr_usage usage;
    dev_t dev;
    uint64_t mnt;
    inode_key *seen; /* open addressing; ino 0 with dev 0 marks a free slot */
    size_t seen_n, seen_cap;
    du_level *stack;
    size_t depth, stack_cap; /* stack[depth - 1] is the current level */
    char *dents;
    wr_err *e;
} du_walk;

static uint64_t hash_key(dev_t dev, ino_t ino) {
    uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;
    return h ^ (h >> 29);
}

static bool key_free(const inode_key *k) {
    return k->dev == 0 && k->ino == 0;
}

static int seen_grow(du_walk *w) {
    size_t cap = w->seen_cap ? w->seen_cap * 2 : 1024;
    inode_key *n = calloc(cap, sizeof *n);
    if (!n) return -ENOMEM;
    for (size_t i = 0; i < w->seen_cap; i++) {
        if (key_free(&w->seen[i])) continue;
        size_t j = hash_key(w->seen[i].dev, w->seen[i].ino) & (cap - 1);
        while (!key_free(&n[j]))
            j = (j + 1) & (cap - 1);
        n[j] = w->seen[i];
    }
    free(w->seen);
    w->seen = n;
    w->seen_cap = cap;
    return 0;
}

/* Adds (dev, ino); returns 1 if it was new, 0 if seen before. */
static int seen_add(du_walk *w, dev_t dev, ino_t ino) {
    if ((w->seen_n + 1) * 2 > w->seen_cap) {
        int r = seen_grow(w);
        if (r < 0) return r;
    }
    size_t j = hash_key(dev, ino) & (w->seen_cap - 1);
    for (; !key_free(&w->seen[j]); j = (j + 1) & (w->seen_cap - 1))
        if (w->seen[j].dev == dev && w->seen[j].ino == ino) return 0;
    /* (0, 0) cannot be stored; no filesystem gives out inode 0 on device 0. */
    w->seen[j] = (inode_key){dev, ino};
    w->seen_n++;
    return 1;
}

static int count(du_walk *w, const struct stat *st) {
    if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
        int r = seen_add(w, st->st_dev, st->st_ino);
        if (r <= 0) return r;
    }
    w->usage.bytes += (uint64_t)st->st_blocks * 512;
    w->usage.inodes++;
    return 0;
}

static int remember_subdir(du_level *l, const char *name) {
    size_t n = strlen(name) + 1;
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        while (cap < l->len + n)
            cap *= 2;
        char *p = realloc(l->names, cap);
        if (!p) return -ENOMEM;
        l->names = p;
        l->cap = cap;
    }
    memcpy(l->names + l->len, name, n);
    l->len += n;
    return 0;
}

static int visit_entry(du_walk *w, du_level *l, const char *name) {
    struct stat st;
    if (fstatat(l->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        /* Deleted since the directory was read: the tenant may be busy. */
        if (errno == ENOENT) return 0;
        return wr_sys(w->e, errno, "disk usage: cannot inspect %s", name);
    }
    if (st.st_dev != w->dev) return 0; /* a mount point: another filesystem */
    int r = count(w, &st);
    if (r < 0) return wr_sys(w->e, -r, "disk usage");
    if (S_ISDIR(st.st_mode)) {
        r = remember_subdir(l, name);
        if (r < 0) return wr_sys(w->e, -r, "disk usage");
    }
    return 0;
}

/* Counts every entry of the level's directory and remembers its subdirectories. */
static int read_level(du_walk *w, du_level *l) {
    for (;;) {
        ssize_t n = getdents64(l->fd, w->dents, DU_DENTS_BUF);
        if (n == 0) return 0;
        if (n < 0) {
            /* The directory itself was removed under us. */
            if (errno == ENOENT) return 0;
            return wr_sys(w->e, errno, "disk usage: cannot read a directory");
        }
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *de = (struct dirent64 *)(void *)(w->dents + off);
            off += de->d_reclen;
            if (streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
            int r = visit_entry(w, l, de->d_name);
            if (r < 0) return r;
        }
    }
}

static int push_level(du_walk *w, int fd, const struct stat *st) {
    if (w->depth == w->stack_cap) {
        size_t cap = w->stack_cap ? w->stack_cap * 2 : 64;
        du_level *n = realloc(w->stack, cap * sizeof *n);
        if (!n) return wr_sys(w->e, ENOMEM, "disk usage");
        w->stack = n;
        w->stack_cap = cap;
    }
    w->stack[w->depth++] = (du_level){.fd = fd, .dev = st->st_dev, .ino = st->st_ino};
    return 0;
}

/* Regains the parent's fd through the child's `..`, if it is still the same
 * directory; otherwise the parent's remaining subdirectories are given up. */
static void reopen_parent(du_walk *w, du_level *child, du_level *parent) {
    if (child->fd >= 0) {
        int fd = openat(child->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == parent->dev &&
            st.st_ino == parent->ino) {
            parent->fd = fd;
            return;
        }
        closep(&fd);
    }
    w->usage.truncated = true;
    parent->pos = parent->len;
}

static void pop_level(du_walk *w) {
    du_level *l = &w->stack[w->depth - 1];
    if (w->depth > 1 && w->stack[w->depth - 2].fd < 0) reopen_parent(w, l, &w->stack[w->depth - 2]);
    closep(&l->fd);
    free(l->names);
    w->depth--;
}

/* Opens subdirectory `name` of the current level, if it can and may be
 * entered; returns 0 and leaves the stack as it was if not. */
static int enter(du_walk *w, const char *name) {
    du_level *l = &w->stack[w->depth - 1];
    if (w->depth > WR_DU_MAX_DEPTH) {
        w->usage.truncated = true;
        return 0;
    }
    _cleanup_close_ int fd = openat(l->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* Gone, or replaced by a link or a file since it was counted. */
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return 0;
        if (errno == EMFILE || errno == ENFILE) {
            w->usage.truncated = true;
            return 0;
        }
        return wr_sys(w->e, errno, "disk usage: cannot open %s", name);
    }
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &sx) < 0)
        return wr_sys(w->e, errno, "disk usage: cannot inspect %s", name);
    uint64_t mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
    /* A bind mount of the same filesystem has the same device. */
    if (makedev(sx.stx_dev_major, sx.stx_dev_minor) != w->dev || mnt != w->mnt) return 0;
    struct stat st = {.st_dev = w->dev, .st_ino = sx.stx_ino};
    int r = push_level(w, fd, &st);
    if (r < 0) return r;
    fd = -1;
    l = &w->stack[w->depth - 2];
    if (w->depth > DU_FD_BUDGET) closep(&l->fd);
    return read_level(w, &w->stack[w->depth - 1]);
}

static int walk(du_walk *w) {
    while (w->depth > 0) {
        du_level *l = &w->stack[w->depth - 1];
        if (l->pos >= l->len) {
            pop_level(w);
            continue;
        }
        const char *name = l->names + l->pos;
        l->pos += strlen(name) + 1;
        int r = enter(w, name);
        if (r < 0) return r;
    }
    return 0;
}

static int start(du_walk *w, int dirfd) {
    /* Our own fd: the caller's may be O_PATH, which cannot be read. */
    _cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return wr_sys(w->e, errno, "disk usage: cannot open the tree");
    struct stat st;
    if (fstat(fd, &st) < 0) return wr_sys(w->e, errno, "disk usage: cannot inspect the tree");
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
        return wr_sys(w->e, errno, "disk usage: cannot inspect the tree");
    w->dev = st.st_dev;
    w->mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
    int r = count(w, &st);
    if (r < 0) return wr_sys(w->e, -r, "disk usage");
    r = push_level(w, fd, &st);
    if (r < 0) return r;
    fd = -1;
    return read_level(w, &w->stack[0]);
}

int wr_disk_usage(int dirfd, wr_usage *ret, wr_err *e) {
    du_walk w = {.e = e};
    int r;
    w.dents = malloc(DU_DENTS_BUF);
    if (!w.dents) {
        r = wr_sys(e, ENOMEM, "disk usage");
        goto out;
    }
    r = start(&w, dirfd);
    if (r >= 0) r = walk(&w);
out:
    while (w.depth > 0) {
        du_level *l = &w.stack[--w.depth];
        closep(&l->fd);
        free(l->names);
    }
    free(w.stack);
    free(w.seen);
    free(w.dents);
    if (r < 0) return r;
    *ret = w.usage;
    return 0;
}
