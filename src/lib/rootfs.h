/* The container level's private root filesystem.
 *
 * The parent plans (allocating freely): which host directories appear
 * read-only, where the home goes, the sizes of the tmpfs mounts, and the
 * contents of the generated files (an /etc/passwd and /etc/group that show
 * root and this tenant only, /etc/hostname). The child, already in its new
 * mount and pid namespaces and still root, calls wr_rootfs_enter, which uses
 * system calls only (no allocation, no stdio):
 *
 *   1. make every mount private (nothing propagates back to the host)
 *   2. a fresh tmpfs as the new root
 *   3. read-only binds of the system directories (/usr, /bin, /sbin, /lib*,
 *      and the parts of /etc programs need), nosuid, nodev
 *   4. the home, read-write, at its real path, nosuid, nodev — bound from the
 *      fd the parent opened, never by a path the tenant could swap
 *   5. private /tmp and /dev/shm (size-limited tmpfs, nosuid, nodev)
 *   6. a minimal /dev: null zero full random urandom tty, a new devpts
 *      instance, /dev/ptmx -> pts/ptmx, /dev/fd and std* links
 *   7. a fresh /proc for the new pid namespace, with the usual sensitive files
 *      masked (kcore, keys, timer_list, sysrq-trigger, ... ) and /proc/sys
 *      read-only; no /sys
 *   8. the generated /etc files
 *   9. the new root read-only where it is not meant to be written; pivot_root
 *      into it and detach the old root entirely
 *  10. chdir to the working directory, by path inside the new root
 * Each step that fails returns the negative errno and its step number
 * through *ret_step, so spawn.c can name it.
 *
 * The home reaches the child as a detached mount the plan clones from home_fd
 * (open_tree): a bind of the fd itself would fail in the child's new mount
 * namespace, and resolving the home's path again there would follow names the
 * tenant may have changed since. So a plan serves one wr_rootfs_enter: once
 * entered, its copy of the home is attached and cannot be attached again.
 * After wr_rootfs_enter the caller must not fchdir() to an fd opened in the
 * host's namespace: that would put the run's cwd outside its root. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

typedef struct wr_rootfs_spec {
    const char *home_dir; /* the home's path on the host; the same path inside (not
                             in a directory the root provides: /usr, /etc, /dev, ...) */
    int home_fd;          /* O_PATH or O_DIRECTORY fd on the home, opened safely */
    const char *cwd;      /* absolute path inside the new root, resolved there with no
                             symlinks on the way; NULL: the home */
    const char *username;
    uid_t uid;
    gid_t gid;
    const char *hostname;
    uint64_t tmp_bytes; /* size of /tmp and of /dev/shm; 0: a default */
    const char *template_dir; /* root mode: where tenants' kept roots live (see "kept
                                 roots" below); NULL: the root is built for every run */
    bool userns;        /* the child is in a user namespace of its own (non-root mode,
                           userns.h): the parent cannot clone the home's mount, so the
                           child does, from home_dir opened with no link on the way
                           and checked to be home_fd's directory; devpts gets gid */
} wr_rootfs_spec;

typedef struct wr_rootfs wr_rootfs;

/* The steps of wr_rootfs_enter, in the order they run. */
typedef enum wr_rootfs_step {
    WR_ROOTFS_PRIVATE,   /* every mount private */
    WR_ROOTFS_ROOT,      /* the new root tmpfs */
    WR_ROOTFS_SYSTEM,    /* /usr, /bin, /sbin, /lib* read-only */
    WR_ROOTFS_ETC,       /* the chosen host /etc entries read-only */
    WR_ROOTFS_TMP,       /* /tmp */
    WR_ROOTFS_HOME,      /* the home */
    WR_ROOTFS_DEV,       /* /dev, its nodes, devpts, /dev/shm */
    WR_ROOTFS_PROC,      /* a fresh /proc */
    WR_ROOTFS_PROC_MASK, /* masked and read-only parts of /proc */
    WR_ROOTFS_FILES,     /* the generated /etc files */
    WR_ROOTFS_PIVOT,     /* pivot_root into the new root */
    WR_ROOTFS_OLD_ROOT,  /* detach the old root */
    WR_ROOTFS_READONLY,  /* the new root read-only */
    WR_ROOTFS_CWD,       /* the working directory */
    WR_ROOTFS_TEMPLATE,  /* a copy of the tenant's kept root, as the run's namespace */
    WR_ROOTFS_JOIN,      /* wr_rootfs_join: into pid 1's mount namespace */
    WR_ROOTFS_STEP_MAX,
} wr_rootfs_step;

int wr_rootfs_plan(const wr_rootfs_spec *spec, wr_rootfs **ret, wr_err *e);
void wr_rootfs_free(wr_rootfs *r);
/* Child side, see above. Returns 0 or -errno with *ret_step set. */
int wr_rootfs_enter(const wr_rootfs *r, int *ret_step);
/* Steps 1 to 9 only, leaving the caller at the new root's "/": a contained
 * run's child, which becomes the init, and whose command's own process goes
 * to the working directory itself (wr_rootfs_join). Looking it up once per
 * run, not twice, also leaves a tenant swapping it for a link one race to
 * win, not two. */
int wr_rootfs_build(const wr_rootfs *r, int *ret_step);
/* The command's process of a contained run (spawn-command.c), beside the
 * child, once the child's wr_rootfs_enter has returned: joins the mount
 * namespace of pid 1 (the child) and goes to the working directory as
 * wr_rootfs_enter's step 10 does. System calls only. 0 or -errno with
 * *ret_step set. */
int wr_rootfs_join(const wr_rootfs *r, int *ret_step);
/* Whether the child must be cloned with CLONE_NEWNS: not when the plan uses a
 * kept root, whose copy wr_rootfs_enter makes the child's namespace. */
bool wr_rootfs_needs_new_mount_ns(const wr_rootfs *r);
/* Kept roots. Building the root is most of what a contained run costs (some
 * 200 system calls, ~50 mounts), and it is the same for every run of a
 * tenant. With spec.template_dir, the plan keeps it: a helper builds the
 * tenant's root once in a mount namespace of its own (pivoted, old root
 * detached, root read-only), kept by a bind mount of that namespace at
 * <template_dir>/<username>-<key>; each run's child then joins it (setns)
 * and unshares, getting a private copy of the tree in which it mounts what
 * must be its own: a fresh /tmp, /dev/shm, devpts and /proc with its masks.
 * The key covers what the root was built from: /etc and /etc/ssl (inode and
 * modification time: adding, removing or replacing an entry changes them; the
 * entries are bound, so changes made in place show), /usr, the home (device
 * and inode: a deleted and re-created tenant gets a new root), the account's
 * ids and the plan's version. On a mismatch the root is built anew and the
 * tenant's older ones are removed. Not in a user namespace (non-root mode),
 * which cannot join a namespace the host's root owns.
 * wr_rootfs_template_remove removes a tenant's kept roots (its delete). */
int wr_rootfs_template_remove(const char *template_dir, const char *username, wr_err *e);
/* The name of a step for messages ("bind /usr read-only", "pivot_root", ...). */
const char *wr_rootfs_step_name(int step);
