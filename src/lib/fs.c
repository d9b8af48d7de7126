/* Safe path operations under directories a tenant controls.
 *
 * Approach: everything is done relative to directory fds opened without
 * following links, and every directory stepped into is checked to be on the
 * mount we started from (device and, where the kernel reports it, mount id, so
 * a bind mount of the same filesystem is caught too). A planted link, a rename
 * or a mount can then at worst make an operation fail; it can never make root
 * act outside the tree.
 *
 * Lookups prefer openat2(), whose RESOLVE_* flags make the kernel enforce
 * this. The fallback walks one component at a time with O_NOFOLLOW, remembers
 * the identity of every directory on the way so that `..` can be checked to
 * return exactly where it came from, and maps each refusal to the errno
 * openat2 would give, so callers see one behaviour.
 *
 * Tree removal keeps at most RM_FD_BUDGET directories open: a subtree deeper
 * than that is renamed to the top of the tree being removed (the whole tree is
 * going away, so moving parts of it changes nothing a caller can observe) and
 * removed from there. */
#include "fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "util.h"

/* Directories held open at once while removing a tree. */
#define RM_FD_BUDGET 256
/* Passes over one directory that find it non-empty again without any progress
 * before giving up: something keeps adding entries. */
#define RM_MAX_STUCK_PASSES 64
/* openat2 answers EAGAIN when a concurrent rename might have let `..` escape. */
#define OPENAT2_RETRIES 32

typedef struct fs_id {
    dev_t dev;
    uint64_t mnt; /* 0 where the kernel does not report mount ids */
    ino_t ino;
    mode_t mode;
    uid_t uid;
} fs_id;

static bool fallback_forced;
static bool openat2_missing;

void wr_fs_force_fallback(bool on) {
    __atomic_store_n(&fallback_forced, on, __ATOMIC_RELAXED);
}

/* Identity of `name` in `fd` (of fd itself with name "" and AT_EMPTY_PATH),
 * never following a link. */
static int id_at(int fd, const char *name, int atflags, fs_id *ret) {
    struct statx sx;
    if (statx(fd, name, atflags | AT_SYMLINK_NOFOLLOW,
              STATX_TYPE | STATX_MODE | STATX_INO | STATX_UID | STATX_MNT_ID, &sx) < 0)
        return -errno;
    *ret = (fs_id){
        .dev = makedev(sx.stx_dev_major, sx.stx_dev_minor),
        .mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0,
        .ino = sx.stx_ino,
        .mode = sx.stx_mode,
        .uid = sx.stx_uid,
    };
    return 0;
}

static int id_of(int fd, fs_id *ret) {
    return id_at(fd, "", AT_EMPTY_PATH, ret);
}

static bool same_mount(const fs_id *a, const fs_id *b) {
    return a->dev == b->dev && a->mnt == b->mnt;
}

static bool same_inode(const fs_id *a, const fs_id *b) {
    return same_mount(a, b) && a->ino == b->ino;
}

static bool is_single_component(const char *name) {
    return name && name[0] && !streq(name, ".") && !streq(name, "..") && !strchr(name, '/') &&
           strlen(name) <= NAME_MAX;
}

static int open_with_openat2(int dirfd, const char *path, int flags, mode_t mode) {
    bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
    struct open_how how = {
        .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
        /* openat2 rejects a mode that cannot be used, unlike openat. */
        .mode = creates ? (mode & 07777) : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    for (int i = 0; i < OPENAT2_RETRIES; i++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (fd >= 0) return (int)fd;
        if (errno != EAGAIN && errno != EINTR) return -errno;
    }
    return -EAGAIN;
}

/* The directories the fallback walk has entered, outermost first, so that `..`
 * can be checked against where it came from. */
typedef struct walk {
    int fd;       /* O_PATH fd of the current directory */
    fs_id *ids;   /* ids[0] is the starting directory */
    size_t depth; /* index of the current directory in ids */
    size_t cap;
} walk;

static int walk_push(walk *w, int fd, const fs_id *id) {
    if (w->depth + 1 >= w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        fs_id *n = realloc(w->ids, cap * sizeof *n);
        if (!n) return -ENOMEM;
        w->ids = n;
        w->cap = cap;
    }
    w->ids[++w->depth] = *id;
    closep(&w->fd);
    w->fd = fd;
    return 0;
}

static int walk_up(walk *w) {
    if (w->depth == 0) return -EXDEV; /* would leave the starting directory */
    _cleanup_close_ int fd = openat(w->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    fs_id id;
    int r = id_of(fd, &id);
    if (r < 0) return r;
    /* A rename while we walked could make `..` lead somewhere else. */
    if (!same_inode(&id, &w->ids[w->depth - 1])) return -EXDEV;
    closep(&w->fd);
    w->fd = TAKE_FD(fd);
    w->depth--;
    return 0;
}

static int walk_down(walk *w, const char *name) {
    _cleanup_close_ int fd = openat(w->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    fs_id id;
    int r = id_of(fd, &id);
    if (r < 0) return r;
    if (S_ISLNK(id.mode)) return -ELOOP;
    if (!S_ISDIR(id.mode)) return -ENOTDIR;
    if (!same_mount(&id, &w->ids[0])) return -EXDEV;
    r = walk_push(w, fd, &id);
    if (r < 0) return r;
    fd = -1;
    return 0;
}

static int walk_step(walk *w, const char *name) {
    if (streq(name, "..")) return walk_up(w);
    return walk_down(w, name);
}

/* Opens the last component in the directory the walk reached, as openat2 with
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV would. */
static int walk_open_last(walk *w, const char *name, bool trailing_slash, int flags, mode_t mode) {
    if (trailing_slash) {
        if (flags & O_CREAT) return -EISDIR;
        flags |= O_DIRECTORY;
    }
    fs_id id;
    int r = id_at(w->fd, name, 0, &id);
    if (r == 0) {
        /* openat2 hands out a link itself only for O_PATH | O_NOFOLLOW. */
        bool wants_link = (flags & (O_PATH | O_NOFOLLOW)) == (O_PATH | O_NOFOLLOW);
        if (S_ISLNK(id.mode) && !wants_link && !(flags & O_EXCL)) return -ELOOP;
        if (!same_mount(&id, &w->ids[0])) return -EXDEV;
    }
    _cleanup_close_ int fd = openat(w->fd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return -errno;
    /* The checks above raced with the open; repeat them on what we got. */
    r = id_of(fd, &id);
    if (r < 0) return r;
    if (S_ISLNK(id.mode) && !(flags & O_NOFOLLOW)) return -ELOOP;
    if (!same_mount(&id, &w->ids[0])) return -EXDEV;
    return TAKE_FD(fd);
}

static int open_with_walk(int dirfd, const char *path, int flags, mode_t mode) {
    if (path[0] == '/') return -EXDEV;
    if (path[0] == '\0') return -ENOENT;
    if (strlen(path) >= PATH_MAX) return -ENAMETOOLONG;
    _cleanup_free_ char *buf = strdup(path);
    if (!buf) return -ENOMEM;

    walk w = {.fd = -1};
    int r = -ENOMEM;
    w.ids = malloc(16 * sizeof *w.ids);
    if (!w.ids) goto out;
    w.cap = 16;
    w.fd = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (w.fd < 0) {
        r = -errno;
        goto out;
    }
    r = id_of(w.fd, &w.ids[0]);
    if (r < 0) goto out;

    size_t len = strlen(buf);
    bool trailing_slash = buf[len - 1] == '/';
    while (len > 0 && buf[len - 1] == '/')
        buf[--len] = '\0';

    /* Every component but the last is a directory to step through. */
    char *last = strrchr(buf, '/');
    last = last ? last + 1 : buf;
    for (char *p = buf; p < last;) {
        char *slash = strchr(p, '/');
        *slash = '\0';
        if (*p && !streq(p, ".")) {
            r = walk_step(&w, p);
            if (r < 0) goto out;
        }
        p = slash + 1;
    }
    if (streq(last, "..")) {
        r = walk_up(&w);
        if (r < 0) goto out;
        last = ".";
    }
    if (streq(last, ".") || last[0] == '\0') {
        if (flags & O_CREAT) {
            r = -EISDIR;
            goto out;
        }
        r = openat(w.fd, ".", flags | O_CLOEXEC, mode);
        if (r < 0) r = -errno;
        goto out;
    }
    r = walk_open_last(&w, last, trailing_slash, flags, mode);
out:
    closep(&w.fd);
    free(w.ids);
    return r;
}

int wr_open_beneath(int dirfd, const char *relpath, int flags, mode_t mode) {
    if (!relpath) return -EINVAL;
    if (!__atomic_load_n(&fallback_forced, __ATOMIC_RELAXED) &&
        !__atomic_load_n(&openat2_missing, __ATOMIC_RELAXED)) {
        int r = open_with_openat2(dirfd, relpath, flags, mode);
        if (r != -ENOSYS) return r;
        __atomic_store_n(&openat2_missing, true, __ATOMIC_RELAXED);
    }
    return open_with_walk(dirfd, relpath, flags, mode);
}

/* Explains why `name` could not be opened as a directory. */
static int refuse_non_directory(int dirfd, const char *name, int errnum, const char *what,
                                wr_err *e) {
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return wr_unsafe(e,
                             "%s is a symbolic link; warren does not follow links in "
                             "directories a tenant controls",
                             what);
        if (!S_ISDIR(st.st_mode)) return wr_unsafe(e, "%s exists but is not a directory", what);
    }
    return wr_sys(e, errnum, "cannot open %s", what);
}

/* Makes the directory open at fd belong to uid:gid with exactly `mode`. */
static int hand_over(int fd, bool made, mode_t mode, uid_t uid, gid_t gid, const char *what,
                     wr_err *e) {
    struct stat st;
    if (fstat(fd, &st) < 0) return wr_sys(e, errno, "cannot inspect %s", what);
    /* Root's own directories (and the caller's in non-root mode) may be
     * handed over; someone else's would be a takeover of their files. */
    if (st.st_uid != uid && st.st_uid != 0 && st.st_uid != geteuid())
        return wr_unsafe(e, "%s is owned by uid %u, not %u; refusing to take it over", what,
                         (unsigned)st.st_uid, (unsigned)uid);
    if (made && st.st_uid != geteuid())
        return wr_unsafe(e, "%s was replaced while it was being created", what);
    if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
        return wr_sys(e, errno, "cannot give %s to %u:%u", what, (unsigned)uid, (unsigned)gid);
    /* Always after fchown, which may clear set-id bits. */
    if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
        return wr_sys(e, errno, "cannot set the mode of %s to %04o", what, (unsigned)mode);
    return 0;
}

int wr_mkdir_owned(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, const char *what,
                   wr_err *e) {
    if (!what) what = name ? name : "directory";
    if (!is_single_component(name))
        return wr_invalid(e, "%s: \"%s\" is not a single path component", what, name ? name : "");
    /* A few rounds in case the entry vanishes between mkdirat and openat. */
    for (int attempt = 0; attempt < 8; attempt++) {
        /* 0700 and root's until handed over: nobody can enter it meanwhile. */
        bool made = mkdirat(dirfd, name, 0700) == 0;
        if (!made && errno != EEXIST) return wr_sys(e, errno, "cannot create %s", what);
        _cleanup_close_ int fd =
            openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT && !made) continue;
            return refuse_non_directory(dirfd, name, errno, what, e);
        }
        int r = hand_over(fd, made, mode, uid, gid, what, e);
        if (r < 0) {
            if (made) (void)unlinkat(dirfd, name, AT_REMOVEDIR);
            return r;
        }
        return TAKE_FD(fd);
    }
    return wr_fail(e, WR_ERR_BUSY, EAGAIN, "%s keeps disappearing while being created", what);
}

/* State of one wr_remove_tree call. */
typedef struct rm_ctx {
    const char *name;    /* the tree, for messages */
    fs_id mount;         /* everything removed must be on this mount */
    int topfd;           /* the top of the tree while a pass over it runs */
    unsigned long seq;   /* for unique names of moved subtrees */
    unsigned long moved; /* subtrees moved up so far: progress */
    wr_err *e;
} rm_ctx;

static void closedirp(DIR **d) {
    if (*d) closedir(*d);
}

static int rm_dir(rm_ctx *c, int pfd, const char *name, unsigned depth);

static int rm_failed(rm_ctx *c, const char *entry, int errnum) {
    if (errnum == EBUSY)
        return wr_unsafe(c->e, "removing %s: %s is a mount point; refusing to remove it", c->name,
                         entry);
    return wr_sys(c->e, errnum, "removing %s: cannot remove %s", c->name, entry);
}

static int rm_entry(rm_ctx *c, int pfd, const char *name, unsigned char type, unsigned depth) {
    if (type != DT_DIR && type != DT_UNKNOWN) {
        if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT) return 0;
        if (errno != EISDIR) return rm_failed(c, name, errno);
    }
    return rm_dir(c, pfd, name, depth);
}

/* One pass over the directory open at fd (consumed), removing what it finds. */
static int rm_contents(rm_ctx *c, int fd, unsigned depth) {
    _cleanup_(closedirp) DIR *d = fdopendir(fd);
    if (!d) {
        int errnum = errno;
        close(fd);
        return wr_sys(c->e, errnum, "removing %s: cannot read a directory", c->name);
    }
    if (depth == 0) c->topfd = dirfd(d);
    int r = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) r = wr_sys(c->e, errno, "removing %s: cannot read a directory", c->name);
            break;
        }
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
        r = rm_entry(c, dirfd(d), de->d_name, de->d_type, depth + 1);
        if (r < 0) break;
    }
    if (depth == 0) c->topfd = -1;
    return r;
}

/* Renames a too-deep subtree to the top of the tree under a name of its own. */
static int rm_move_up(rm_ctx *c, int pfd, const char *name) {
    for (;;) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, ".warren-rm-%lu", ++c->seq);
        if (renameat2(pfd, name, c->topfd, tmp, RENAME_NOREPLACE) == 0) {
            c->moved++;
            return 0;
        }
        if (errno == ENOENT) return 0;
        /* Names taken (perhaps planted) are skipped; the tree is finite. */
        if (errno != EEXIST) return rm_failed(c, name, errno);
    }
}

/* Opens directory `name` in pfd for removal. *ret_fd is -1 when nothing is
 * left to do: it vanished, or it was a link or file and is removed already. */
static int rm_open_dir(rm_ctx *c, int pfd, const char *name, int *ret_fd) {
    _cleanup_close_ int fd =
        openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) goto done;
        if (errno != ENOTDIR && errno != ELOOP) return rm_failed(c, name, errno);
        /* Not a directory (or no longer one): a link or a file. */
        if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT) goto done;
        return rm_failed(c, name, errno);
    }
    fs_id id;
    int r = id_of(fd, &id);
    if (r < 0) return rm_failed(c, name, -r);
    if (!same_mount(&id, &c->mount))
        return wr_unsafe(c->e,
                         "removing %s: %s is a mount point; refusing to remove anything "
                         "below it",
                         c->name, name);
done:
    *ret_fd = TAKE_FD(fd);
    return 0;
}

/* Removes directory `name` in pfd, `depth` levels below the top (0). */
static int rm_dir(rm_ctx *c, int pfd, const char *name, unsigned depth) {
    for (unsigned stuck = 0;;) {
        int fd = -1;
        int r = rm_open_dir(c, pfd, name, &fd);
        if (r < 0 || fd < 0) return r;
        if (depth > RM_FD_BUDGET) {
            close(fd);
            return rm_move_up(c, pfd, name);
        }
        unsigned long moved = c->moved;
        r = rm_contents(c, fd, depth);
        if (r < 0) return r;
        if (unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
        if (errno != ENOTEMPTY && errno != EEXIST) return rm_failed(c, name, errno);
        /* Not empty: entries were added meanwhile, or (at the top) subtrees
         * were moved up. Another pass, as long as that makes progress. */
        if (c->moved == moved && ++stuck > RM_MAX_STUCK_PASSES)
            return wr_fail(c->e, WR_ERR_BUSY, ENOTEMPTY,
                           "removing %s: %s keeps getting new entries", c->name, name);
    }
}

int wr_remove_tree(int dirfd, const char *name, wr_err *e) {
    if (!is_single_component(name))
        return wr_invalid(e, "cannot remove \"%s\": not a single path component", name ? name : "");
    rm_ctx c = {.name = name, .topfd = -1, .e = e};
    int r = id_of(dirfd, &c.mount);
    if (r < 0) return wr_sys(e, -r, "cannot remove %s: cannot inspect its parent", name);
    return rm_dir(&c, dirfd, name, 0);
}
