/* The strong level's system-call filter (see seccomp.h).
 *
 * The policy is written once, as tables of system call names, and read twice:
 * wr_seccomp_build turns it into libseccomp rules, and wr_seccomp_handle asks
 * it which errno a notified call gets. Names unknown to the installed
 * libseccomp (newer calls) or absent on this architecture are skipped, so they
 * fall to the default: ENOSYS, or a notification answered with ENOSYS.
 *
 * libseccomp 2.5 allows one comparison per argument in a rule, and a rule
 * without comparisons replaces every other rule of its call, whatever their
 * actions. So a call that is allowed for some argument values and refused with
 * an errno for others is written as rules whose conditions never overlap:
 * masked comparisons over the low 32 bits of the argument (the kernel reads
 * these arguments as 32-bit ints), one rule per branch of a binary trie that
 * holds none of the listed values (see add_complement). */
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "raw-syscall.h"
#include "util.h"

struct wr_seccomp {
    bool notify;
    struct sock_fprog prog; /* prog.filter is ours */
};

/* --- the policy -------------------------------------------------------------- */

/* Allowed whatever the arguments: what shells, coreutils, python3, gcc and
 * its tools, node and small servers use. Grouped by concern; a name libseccomp
 * does not know is skipped. */
/* clang-format off */
static const char *const allowed[] = {
    /* reading and writing */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "sendfile", "splice", "tee", "vmsplice", "copy_file_range",
    /* file descriptors */
    "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3", "fcntl",
    "flock", "pipe", "pipe2", "eventfd", "eventfd2", "memfd_create", "memfd_secret",
    /* files and directories */
    "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
    "faccessat2", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "rename", "renameat",
    "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat", "unlink", "unlinkat", "symlink",
    "symlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown",
    "fchown", "lchown", "fchownat", "umask", "utime", "utimes", "utimensat", "futimesat", "mknod",
    "mknodat", "truncate", "ftruncate", "fallocate", "fadvise64", "readahead", "fsync",
    "fdatasync", "sync", "syncfs", "sync_file_range", "setxattr", "lsetxattr", "fsetxattr",
    "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr",
    "lremovexattr", "fremovexattr", "inotify_init", "inotify_init1", "inotify_add_watch",
    "inotify_rm_watch",
    /* memory */
    "brk", "mmap", "munmap", "mremap", "mprotect", "pkey_mprotect", "pkey_alloc", "pkey_free",
    "msync", "mincore", "madvise", "mlock", "mlock2", "munlock", "mlockall", "munlockall",
    "membarrier", "remap_file_pages", "mbind", "get_mempolicy", "set_mempolicy",
    "map_shadow_stack", "mseal",
    /* processes and threads (clone is below, by its flags) */
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "getpid",
    "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address",
    "set_robust_list", "get_robust_list", "rseq", "arch_prctl", "prctl", "restart_syscall",
    "pidfd_open", "pidfd_send_signal", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
    "landlock_restrict_self",
    /* credentials: without capabilities these only move among the run's own ids */
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid",
    "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
    "setgroups", "capget", "capset",
    /* limits, accounting, scheduling */
    "getrlimit", "setrlimit", "getrusage", "times", "sysinfo", "uname", "getpriority",
    "setpriority", "sched_yield", "sched_setparam", "sched_getparam", "sched_setscheduler",
    "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_setaffinity", "sched_getaffinity", "sched_setattr",
    "sched_getattr", "getcpu", "ioprio_get", "ioprio_set",
    /* signals */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "signalfd",
    "signalfd4", "kill", "tkill", "tgkill", "pause", "alarm",
    /* time */
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
    "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    /* waiting */
    "futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "select", "pselect6",
    "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
    "epoll_pwait2",
    /* sockets (socket and socketpair are below, by family) */
    "connect", "accept", "accept4", "bind", "listen", "shutdown", "getsockname", "getpeername",
    "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
    "recvmmsg",
    /* System V and POSIX IPC (the run's own IPC namespace from container up) */
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
    "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr",
    /* asynchronous I/O (the old interface; io_uring is refused) */
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    /* misc */
    "getrandom",
};

/* Refused with EPERM whatever the arguments: namespaces, mounts, tracing,
 * kernel extension and the host-wide switches (setns is below). */
static const char *const refused[] = {
    "unshare",
    "mount", "umount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev",
    "bpf", "perf_event_open",
    "keyctl", "add_key", "request_key",
    "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "name_to_handle_at", "open_by_handle_at",
};
/* clang-format on */

/* clone: allowed unless a namespace flag is set. CLONE_NEWTIME is not among
 * them: for clone, 0x80 is part of the exit signal; a time namespace can only
 * be made with unshare or clone3, both refused. */
#define CLONE_NS_FLAGS                                                                             \
    ((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |      \
                CLONE_NEWPID | CLONE_NEWNET))

/* Calls decided by one argument's low 32 bits: allowed when the value is
 * (ONLY) or is not (ALL_BUT) one of values, answered errnum otherwise. */
enum arg_kind { ONLY, ALL_BUT };
#define ARG_VALUES_MAX 4
typedef struct arg_rule {
    const char *name;
    unsigned arg;
    enum arg_kind kind;
    uint32_t values[ARG_VALUES_MAX];
    size_t n;
    int errnum;
} arg_rule;

static const arg_rule arg_rules[] = {
    /* Typing into the terminal and the console's own commands (CVE-2019-10063
     * sets bits above 32 to slip past a full-width comparison). */
    {"ioctl", 1, ALL_BUT, {TIOCSTI, TIOCLINUX}, 2, EPERM},
    /* Only the default persona and the query. */
    {"personality", 0, ONLY, {0, 0xffffffffu}, 2, EPERM},
    /* Address families: local, IP and netlink (routes, for getaddrinfo). The
     * others (vsock, which no namespace separates, packet, alg, the rare
     * protocols) are refused as a kernel without them would. */
    {"socket", 0, ONLY, {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK}, 4, EAFNOSUPPORT},
    {"socketpair", 0, ONLY, {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK}, 4, EAFNOSUPPORT},
    /* Limits of the calling process only. */
    {"prlimit64", 0, ONLY, {0}, 1, ENOSYS},
    /* A contained run's command loads the filter before it joins the run's
     * mount namespace (spawn-command.c), so joining a mount namespace passes
     * the filter; the kernel still asks for CAP_SYS_ADMIN over its owner and
     * CAP_SYS_CHROOT, which a run has left before it execs, and it cannot
     * make a user namespace to have them in (unshare and clone's namespace
     * flags are refused). Every other kind, and 0 (any), is refused. */
    {"setns", 1, ONLY, {CLONE_NEWNS}, 1, EPERM},
};

static bool in_values(const arg_rule *r, uint32_t v) {
    for (size_t i = 0; i < r->n; i++)
        if (r->values[i] == v) return true;
    return false;
}

/* The errno the policy answers a refused call with; name NULL when unknown. */
static int refusal_errno(const char *name, const uint64_t args[6]) {
    if (!name) return ENOSYS;
    for (size_t i = 0; i < ELEMENTSOF(refused); i++)
        if (streq(name, refused[i])) return EPERM;
    if (streq(name, "clone")) return (args[0] & CLONE_NS_FLAGS) ? EPERM : ENOSYS;
    for (size_t i = 0; i < ELEMENTSOF(arg_rules); i++) {
        const arg_rule *r = &arg_rules[i];
        if (!streq(name, r->name)) continue;
        bool listed = in_values(r, (uint32_t)args[r->arg]);
        bool ok = r->kind == ONLY ? listed : !listed;
        /* An allowed call is never notified; ENOSYS is the safe answer. */
        return ok ? ENOSYS : r->errnum;
    }
    return ENOSYS;
}

/* --- building ---------------------------------------------------------------- */

typedef struct builder {
    scmp_filter_ctx ctx;
    bool notify;
    uint32_t def; /* the default action */
} builder;

/* The action for a call the policy refuses with errnum. */
static uint32_t refusal_action(const builder *b, int errnum) {
    return b->notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO((uint32_t)errnum);
}

/* The native number of name, or -1 when libseccomp does not know it or the
 * call does not exist on this architecture. */
static int resolve(const char *name) {
    int nr = seccomp_syscall_resolve_name(name);
    return nr == __NR_SCMP_ERROR || nr < 0 ? -1 : nr;
}

/* Adds one rule; a rule whose action is the default adds nothing (libseccomp
 * refuses it, and the default already says it). */
static int add(const builder *b, uint32_t act, const char *name, int nr, unsigned ncmp,
               const struct scmp_arg_cmp *cmp, wr_err *e) {
    if (act == b->def || nr < 0) return 0;
    int r = seccomp_rule_add_array(b->ctx, act, nr, ncmp, cmp);
    if (r < 0) return wr_sys(e, -r, "seccomp filter: adding a rule for %s", name);
    return 0;
}

/* Adds rules with action act matching every value of the low 32 bits of
 * argument arg that is not in vals[0..n), given that its top depth bits are
 * those of prefix: one masked comparison for each branch of the binary trie
 * of vals that holds none of them, so at most 32 rules per value, none
 * overlapping vals. */
static int add_complement(const builder *b, uint32_t act, const char *name, int nr, unsigned arg,
                          const uint32_t *vals, size_t n, uint32_t prefix, unsigned depth,
                          wr_err *e) {
    if (n == 0) {
        uint64_t mask = depth == 0 ? 0 : (uint32_t)(0xffffffffu << (32 - depth));
        struct scmp_arg_cmp c = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, mask, prefix);
        return add(b, act, name, nr, 1, &c, e);
    }
    if (depth == 32) return 0; /* a listed value itself */
    uint32_t bit = 1u << (31 - depth);
    uint32_t zero[ARG_VALUES_MAX], one[ARG_VALUES_MAX];
    size_t nz = 0, no = 0;
    for (size_t i = 0; i < n; i++) {
        if (vals[i] & bit)
            one[no++] = vals[i];
        else
            zero[nz++] = vals[i];
    }
    int r = add_complement(b, act, name, nr, arg, zero, nz, prefix, depth + 1, e);
    if (r < 0) return r;
    return add_complement(b, act, name, nr, arg, one, no, prefix | bit, depth + 1, e);
}

static int add_arg_rule(const builder *b, const arg_rule *r, wr_err *e) {
    int nr = resolve(r->name);
    if (nr < 0) return 0;
    /* The listed values: one exact (low 32 bits) rule each. */
    uint32_t listed_act = r->kind == ONLY ? SCMP_ACT_ALLOW : refusal_action(b, r->errnum);
    for (size_t i = 0; i < r->n; i++) {
        struct scmp_arg_cmp c = SCMP_CMP(r->arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, r->values[i]);
        int rc = add(b, listed_act, r->name, nr, 1, &c, e);
        if (rc < 0) return rc;
    }
    /* Everything else: only when its action is not the default. */
    uint32_t other_act = r->kind == ONLY ? refusal_action(b, r->errnum) : SCMP_ACT_ALLOW;
    if (other_act == b->def) return 0;
    return add_complement(b, other_act, r->name, nr, r->arg, r->values, r->n, 0, 0, e);
}

static int add_clone_rules(const builder *b, wr_err *e) {
    int nr = resolve("clone");
    struct scmp_arg_cmp plain = SCMP_CMP(0, SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0);
    int r = add(b, SCMP_ACT_ALLOW, "clone", nr, 1, &plain, e);
    if (r < 0) return r;
    /* Any namespace flag set: one rule per flag (same action, so overlapping
     * is harmless). */
    for (unsigned i = 0; i < 64; i++) {
        uint64_t flag = UINT64_C(1) << i;
        if (!(CLONE_NS_FLAGS & flag)) continue;
        struct scmp_arg_cmp c = SCMP_CMP(0, SCMP_CMP_MASKED_EQ, flag, flag);
        r = add(b, refusal_action(b, EPERM), "clone", nr, 1, &c, e);
        if (r < 0) return r;
    }
    /* clone3 passes its flags in memory the filter cannot read: ENOSYS, never
     * notified, so libc falls back to clone. */
    return add(b, SCMP_ACT_ERRNO(ENOSYS), "clone3", resolve("clone3"), 0, NULL, e);
}

static int add_rules(const builder *b, wr_err *e) {
    int r;
    for (size_t i = 0; i < ELEMENTSOF(allowed); i++) {
        r = add(b, SCMP_ACT_ALLOW, allowed[i], resolve(allowed[i]), 0, NULL, e);
        if (r < 0) return r;
    }
    for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
        r = add(b, refusal_action(b, EPERM), refused[i], resolve(refused[i]), 0, NULL, e);
        if (r < 0) return r;
    }
    for (size_t i = 0; i < ELEMENTSOF(arg_rules); i++) {
        r = add_arg_rule(b, &arg_rules[i], e);
        if (r < 0) return r;
    }
    return add_clone_rules(b, e);
}

/* Exports the filter as classic BPF into prog (filter allocated). libseccomp
 * 2.5 exports to an fd only, so through a memfd. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *prog, wr_err *e) {
    _cleanup_close_ int fd = memfd_create("warren-seccomp", MFD_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "seccomp filter: memfd_create");
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0) return wr_sys(e, -r, "seccomp filter: exporting the program");
    struct stat st;
    if (fstat(fd, &st) < 0)
        return wr_sys(e, errno, "seccomp filter: fstat of the exported program");
    size_t size = (size_t)st.st_size;
    if (size == 0 || size % sizeof(struct sock_filter) != 0 ||
        size / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return wr_fail(e, WR_ERR_SYSTEM, EINVAL,
                       "seccomp filter: exported program of %zu bytes is not 1 to %d instructions",
                       size, BPF_MAXINSNS);
    _cleanup_free_ struct sock_filter *insns = malloc(size);
    if (!insns) return wr_sys(e, ENOMEM, "seccomp filter: %zu bytes for the program", size);
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, (char *)insns + done, size - done, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return wr_sys(e, errno, "seccomp filter: reading the exported program");
        if (n == 0)
            return wr_fail(e, WR_ERR_SYSTEM, EIO,
                           "seccomp filter: exported program ends at %zu of %zu bytes", done, size);
        done += (size_t)n;
    }
    prog->len = (unsigned short)(size / sizeof(struct sock_filter));
    prog->filter = TAKE_PTR(insns);
    return 0;
}

static void ctx_releasep(scmp_filter_ctx *ctx) {
    if (*ctx) seccomp_release(*ctx);
}

int wr_seccomp_build(bool notify, wr_seccomp **ret, wr_err *e) {
    if (notify && seccomp_api_get() < 5)
        return wr_fail(e, WR_ERR_SYSTEM, EOPNOTSUPP,
                       "seccomp filter: notification needs libseccomp API level 5, have %u",
                       seccomp_api_get());
    builder b = {.notify = notify, .def = notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(ENOSYS)};
    _cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(b.def);
    if (!ctx) return wr_sys(e, ENOMEM, "seccomp filter: seccomp_init");
    b.ctx = ctx;

    /* Only the native architecture is in the filter; any other (32-bit x86
     * through int 0x80, x32 through the syscall bit 0x40000000, which shares
     * x86-64's audit arch and which libseccomp checks for when x32 is not
     * added) kills the process. */
    int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (r < 0) return wr_sys(e, -r, "seccomp filter: setting the bad-arch action");
    /* A binary search over the system call numbers rather than a list. */
    r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (r < 0) return wr_sys(e, -r, "seccomp filter: setting the optimisation level");

    r = add_rules(&b, e);
    if (r < 0) return r;

    _cleanup_free_ wr_seccomp *f = calloc(1, sizeof *f);
    if (!f) return wr_sys(e, ENOMEM, "seccomp filter: allocating the handle");
    f->notify = notify;
    r = export_prog(ctx, &f->prog, e);
    if (r < 0) return r;
    *ret = TAKE_PTR(f);
    return 0;
}

void wr_seccomp_free(wr_seccomp *f) {
    if (!f) return;
    free(f->prog.filter);
    free(f);
}

/* --- loading ----------------------------------------------------------------- */

int wr_seccomp_load(const wr_seccomp *f) {
    unsigned flags = f->notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
    long r = RAW(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &f->prog);
    if (r < 0) return (int)r;
    return f->notify ? (int)r : 0;
}

/* --- supervising ------------------------------------------------------------- */

int wr_seccomp_handle(int listener, wr_seccomp_refusal *ret, wr_err *e) {
    /* The kernel's structures may be larger than the headers': ask. */
    struct seccomp_notif_sizes sizes = {0};
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return wr_sys(e, errno, "seccomp listener %d: asking the notification sizes", listener);
    size_t req_size = sizes.seccomp_notif > sizeof(struct seccomp_notif)
                          ? sizes.seccomp_notif
                          : sizeof(struct seccomp_notif);
    size_t resp_size = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
                           ? sizes.seccomp_notif_resp
                           : sizeof(struct seccomp_notif_resp);
    _cleanup_free_ struct seccomp_notif *req = calloc(1, req_size);
    _cleanup_free_ struct seccomp_notif_resp *resp = calloc(1, resp_size);
    if (!req || !resp) return wr_sys(e, ENOMEM, "seccomp listener %d: allocating", listener);

    for (;;) {
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) == 0) break;
        if (errno == EINTR) {
            memset(req, 0, req_size); /* the kernel wants it zeroed */
            continue;
        }
        if (errno == ENOENT) return -ENOENT; /* the task died after waking us */
        return wr_sys(e, errno, "seccomp listener %d: receiving a notification", listener);
    }

    int nr = req->data.nr;
    char *name = seccomp_syscall_resolve_num_arch(req->data.arch, nr);
    uint64_t args[6];
    for (size_t i = 0; i < ELEMENTSOF(args); i++)
        args[i] = req->data.args[i];
    int errnum = refusal_errno(name, args);
    wr_seccomp_refusal out = {.nr = nr, .errnum = errnum, .pid = req->pid};
    if (!name || strscpy(out.name, sizeof out.name, name) < 0)
        snprintf(out.name, sizeof out.name, "syscall_%d", nr);
    free(name);

    resp->id = req->id;
    resp->val = 0;
    resp->error = -errnum;
    resp->flags = 0;
    *ret = out;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0) {
        if (errno == ENOENT) return -ENOENT; /* the task died meanwhile */
        return wr_sys(e, errno, "seccomp listener %d: answering %s of pid %u", listener, out.name,
                      out.pid);
    }
    return 0;
}

/* --- caching (seccomp-cache.c) ------------------------------------------------- */

const void *wr_seccomp_program(const wr_seccomp *f, size_t *ret_len, bool *ret_notify) {
    *ret_len = f->prog.len;
    *ret_notify = f->notify;
    return f->prog.filter;
}

int wr_seccomp_from_program(bool notify, const void *insns, size_t len, wr_seccomp **ret,
                            wr_err *e) {
    if (len == 0 || len > BPF_MAXINSNS)
        return wr_fail(e, WR_ERR_INVALID, EINVAL,
                       "seccomp filter: a program of %zu instructions is not 1 to %d", len,
                       BPF_MAXINSNS);
    _cleanup_free_ wr_seccomp *f = calloc(1, sizeof *f);
    struct sock_filter *copy = malloc(len * sizeof *copy);
    if (!f || !copy) {
        free(copy);
        return wr_sys(e, ENOMEM, "seccomp filter: a program of %zu instructions", len);
    }
    memcpy(copy, insns, len * sizeof *copy);
    f->notify = notify;
    f->prog.len = (unsigned short)len;
    f->prog.filter = copy;
    *ret = TAKE_PTR(f);
    return 0;
}
