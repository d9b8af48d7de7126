/* rootfs-internal.h: what the plan (rootfs.c), the child's side
 * (rootfs-enter.c) and kept roots (rootfs-kept.c) share. rootfs.c's comment
 * on top is the theory of operation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/types.h>

#include "rootfs.h"

/* Where the new root is built before pivot_root. Mounting over /tmp is only
 * seen in the child's private namespace; /tmp exists on every host. */
#define NEWROOT "/tmp"

/* A read-only bind: no setuid program or device node works through it
 * either. */
#define RO_ATTRS (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

/* Each run's /tmp and /dev/shm, unless the spec says otherwise. */
#define DEFAULT_TMP_BYTES (64ULL << 20)

/* /proc files that read the kernel's memory, keys or scheduler state, or act
 * on the whole machine: /dev/null goes over them. */
static const char *const proc_null[] = {
    "kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats", "sysrq-trigger"};
/* /proc directories describing host hardware: an empty read-only tmpfs. */
static const char *const proc_empty[] = {"acpi", "scsi", "asound"};
/* /proc directories that configure the kernel: read-only. */
static const char *const proc_readonly[] = {"sys", "irq", "bus", "fs"};

typedef enum op_kind {
    OP_MKDIR,   /* mkdir(path, mode) */
    OP_MKFILE,  /* an empty file for a file bind to land on */
    OP_SYMLINK, /* symlink(src, path) */
    OP_WRITE,   /* a new file holding data */
    OP_MOUNT,   /* mount(src, path, fstype, flags, data) */
    OP_BIND,    /* a copy of src's mount, with attr set, attached at path */
    OP_BIND_NODE, /* a device node bound over path, by one mount(2) (see add_bind_node) */
    OP_NODE,    /* a device node like src made at path (see add_node) */
    OP_SETATTR, /* mount_setattr(path, attr) */
    OP_ATTACH,  /* the home's detached mount onto path */
} op_kind;

typedef struct op {
    op_kind kind;
    wr_rootfs_step step;
    bool optional;  /* a missing path (ENOENT) is skipped: /proc entries this kernel lacks */
    bool recursive; /* OP_BIND, OP_SETATTR: the mounts below too */
    mode_t mode;
    dev_t rdev;          /* OP_NODE */
    unsigned long flags; /* OP_MOUNT */
    uint64_t attr;       /* OP_BIND, OP_SETATTR: MOUNT_ATTR_* to set */
    const char *fstype;  /* static */
    char *path;          /* absolute, below NEWROOT (or inside /proc of it) */
    char *src;
    char *data;
    size_t len;
} op;

struct wr_rootfs {
    op *ops;
    size_t n, cap;
    size_t copied; /* bytes of host /etc files copied into the root (COPY_BUDGET) */
    bool oom;      /* an allocation failed while building; checked once at the end */
    int home_tree; /* the home, cloned as a detached mount */
    char *cwd;     /* inside the new root */
    /* kept roots (rootfs.h) */
    bool templ;           /* building one: leave out what each run mounts itself */
    int template_fd;      /* the tenant's kept root (a mount namespace), or -1 */
    int template_lock;    /* held while one is built, or -1 */
    bool home_under_tmp;  /* the home lies below /tmp: moved onto each run's own */
    unsigned proc_null_absent; /* bit i: this kernel has no proc_null[i] (rootfs-kept.c) */
    char *home_dir;
    char tmpfs_opts[96];  /* each run's /tmp and /dev/shm */
    char pts_opts[80];    /* each run's devpts */
    /* userns: the home's path and identity, for the child to clone it */
    char *home_path;
    dev_t home_dev;
    ino_t home_ino;
};

/* The plan's checks (rootfs.c). */
bool wr_rootfs_path_under(const char *path, const char *top);
bool wr_rootfs_name_ok(const char *s, size_t max, const char *extra);

/* The child's side (rootfs-enter.c): system calls only. -1 and errno, or
 * -errno with *ret_step set (enter_fail). */
int wr_rootfs_run_op(int home_tree, const op *o);
int wr_rootfs_enter_fail(int *ret_step, wr_rootfs_step step, mode_t saved_umask);
int wr_rootfs_build_root(const wr_rootfs *r, int home_tree, int *ret_step, mode_t saved_umask);

/* Kept roots (rootfs-kept.c; rootfs.h says what they are). */
int wr_rootfs_template_lookup(const wr_rootfs_spec *spec, wr_rootfs *p, uint64_t *ret_key,
                              wr_err *e);
int wr_rootfs_template_build(const wr_rootfs_spec *spec, wr_rootfs *p, uint64_t key, wr_err *e);
int wr_rootfs_enter_template(const wr_rootfs *r, int *ret_step, mode_t saved_umask);
