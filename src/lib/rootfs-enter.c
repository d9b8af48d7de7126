/* rootfs-enter.c: the child's side of the private root (rootfs.c's comment
 * on top says how the two sides meet): it walks the plan's operations with
 * plain system calls and allocates nothing, since it runs in a raw clone of
 * a possibly threaded parent. */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rootfs-internal.h"
#include "raw-syscall.h"
#include "util.h"

int wr_rootfs_run_op(int home_tree, const op *o) {
    switch (o->kind) {
    case OP_MKDIR:
        /* EEXIST is a failure too: every name is new in a fresh tmpfs. */
        return mkdir(o->path, o->mode);
    case OP_MKFILE:
    case OP_WRITE: {
        int fd = open(o->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, o->mode);
        if (fd < 0) return -1;
        for (size_t done = 0; done < o->len;) {
            ssize_t n = write(fd, o->data + done, o->len - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                int saved = n < 0 ? errno : EIO;
                close(fd);
                errno = saved;
                return -1;
            }
            done += (size_t)n;
        }
        return close(fd);
    }
    case OP_SYMLINK:
        return symlink(o->src, o->path);
    case OP_MOUNT:
        return mount(o->src, o->path, o->fstype, o->flags, o->data);
    case OP_BIND_NODE:
        return mount(o->src, o->path, NULL, MS_BIND, NULL);
    case OP_NODE: {
        if (mknod(o->path, S_IFCHR | o->mode, o->rdev) == 0) return 0;
        /* Root of a user namespace may not make device nodes: the host's,
         * bound over an empty file, as the ops of a root built per run do. */
        if (errno != EPERM) return -1;
        op file = {.kind = OP_MKFILE, .path = o->path, .mode = 0644};
        op bind = {.kind = OP_BIND_NODE, .path = o->path, .src = o->src};
        return wr_rootfs_run_op(home_tree, &file) < 0 ? -1 : wr_rootfs_run_op(home_tree, &bind);
    }
    case OP_BIND: {
        unsigned rec = o->recursive ? AT_RECURSIVE : 0;
        int fd = open_tree(AT_FDCWD, o->src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
        if (fd < 0) return -1;
        struct mount_attr a = {.attr_set = o->attr};
        int ret = mount_setattr(fd, "", AT_EMPTY_PATH | rec, &a, sizeof a);
        if (ret == 0) ret = move_mount(fd, "", AT_FDCWD, o->path, MOVE_MOUNT_F_EMPTY_PATH);
        int saved = errno;
        close(fd);
        errno = saved;
        return ret;
    }
    case OP_SETATTR: {
        struct mount_attr a = {.attr_set = o->attr};
        return mount_setattr(AT_FDCWD, o->path,
                             AT_SYMLINK_NOFOLLOW | (o->recursive ? AT_RECURSIVE : 0), &a, sizeof a);
    }
    case OP_ATTACH:
        return move_mount(home_tree, "", AT_FDCWD, o->path, MOVE_MOUNT_F_EMPTY_PATH);
    }
    errno = EINVAL;
    return -1;
}

int wr_rootfs_enter_fail(int *ret_step, wr_rootfs_step step, mode_t saved_umask) {
    int errnum = errno ? errno : EIO;
    umask(saved_umask);
    if (ret_step) *ret_step = step;
    return -errnum;
}

/* userns: the home's mount, cloned in the child's own mount namespace from
 * its path (a mount seen through the parent's fd belongs to the host's
 * namespace, which open_tree refuses), with no link followed on the way and
 * only if it is still the directory the parent opened. -1 with errno set. */
static int clone_home(const wr_rootfs *r) {
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, r->home_path, &how, sizeof how);
    if (fd < 0) return -1;
    struct stat st;
    int tree = -1;
    if (fstat(fd, &st) < 0) goto out;
    if (st.st_dev != r->home_dev || st.st_ino != r->home_ino) {
        errno = ESTALE; /* swapped since the parent opened it */
        goto out;
    }
    tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (tree >= 0 &&
        mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        int saved = errno;
        close(tree);
        tree = -1;
        errno = saved;
    }
out:;
    int saved = errno;
    close(fd);
    errno = saved;
    return tree;
}

/* 2–9: the ops, then into the new root, old root detached, root read-only.
 * The caller has made every mount private (1). */
int wr_rootfs_build_root(const wr_rootfs *r, int home_tree, int *ret_step, mode_t saved_umask) {
    /* 2–8, and the mount point for the old root. */
    for (size_t i = 0; i < r->n; i++) {
        const op *o = &r->ops[i];
        errno = 0;
        if (wr_rootfs_run_op(home_tree, o) < 0) {
            if (o->optional && errno == ENOENT) continue;
            return wr_rootfs_enter_fail(ret_step, o->step, saved_umask);
        }
    }

    /* 9. Into the new root; the old one goes entirely, with every mount the
     * host had, so nothing of it stays reachable. */
    if (syscall(SYS_pivot_root, NEWROOT, NEWROOT "/.old") < 0 || chdir("/") < 0)
        return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_PIVOT, saved_umask);
    if (umount2("/.old", MNT_DETACH) < 0 || rmdir("/.old") < 0)
        return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_OLD_ROOT, saved_umask);
    /* Only the root tmpfs itself: /tmp, /dev/shm and the home are their own
     * mounts and stay writable. */
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(AT_FDCWD, "/", 0, &ro, sizeof ro) < 0)
        return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_READONLY, saved_umask);
    return 0;
}

/* The working directory, looked up inside the new root without following
 * any link: below the home the names are the tenant's. 0 or -errno, errno
 * left alone: wr_rootfs_join runs beside the child (raw-syscall.h). */
static int chdir_inside(const wr_rootfs *r) {
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd = RAW(SYS_openat2, AT_FDCWD, r->cwd, &how, sizeof how);
    if (fd < 0) return (int)fd;
    long c = RAW(SYS_fchdir, fd);
    RAW(SYS_close, fd);
    return (int)c;
}

int wr_rootfs_join(const wr_rootfs *r, int *ret_step) {
    /* Pid 1 of the caller's pid namespace is the child that built the root;
     * setns on its pidfd joins its mount namespace only, and puts the root
     * and the working directory at that namespace's "/". */
    long pid1 = RAW(SYS_pidfd_open, 1, 0);
    long j = pid1 < 0 ? pid1 : RAW(SYS_setns, pid1, CLONE_NEWNS);
    if (pid1 >= 0) RAW(SYS_close, pid1);
    if (j < 0) {
        *ret_step = WR_ROOTFS_JOIN;
        return (int)j;
    }
    int c = chdir_inside(r);
    if (c < 0) *ret_step = WR_ROOTFS_CWD;
    return c;
}

int wr_rootfs_build(const wr_rootfs *r, int *ret_step) {
    /* Modes in the plan are meant exactly. */
    mode_t saved_umask = umask(0);
    errno = 0;

    int q;
    if (r->template_fd >= 0) {
        q = wr_rootfs_enter_template(r, ret_step, saved_umask);
    } else {
        /* 1. Nothing below propagates to the host, nor from it: the host's
         * later mounts must not appear in the run either. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_PRIVATE, saved_umask);

        /* userns: the home's mount, before the new root hides its path. */
        int home_tree = r->home_tree;
        if (r->home_path && (home_tree = clone_home(r)) < 0)
            return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_HOME, saved_umask);

        q = wr_rootfs_build_root(r, home_tree, ret_step, saved_umask);
    }
    if (q < 0) return q;
    umask(saved_umask);
    return 0;
}

int wr_rootfs_enter(const wr_rootfs *r, int *ret_step) {
    int q = wr_rootfs_build(r, ret_step);
    if (q < 0) return q;
    /* 10. */
    int c = chdir_inside(r);
    if (c < 0) *ret_step = WR_ROOTFS_CWD;
    return c;
}
