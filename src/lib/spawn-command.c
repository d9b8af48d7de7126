/* spawn-command.c: a contained run's command, from the child's STEP_COMMAND
 * to its exec.
 *
 * At the container and strong levels the child builds the run's root (some
 * twenty mounts) and then becomes pid 1, the init; the command's own
 * process is the child's first clone, made right after the cheap steps
 * (session, stdio, limits): it shares the child's memory (and so the
 * parent's) until its exec, runs on a stack in wr_run_start's frame, and
 * has its own fd table, signal handlers and filesystem context. So what only
 * the command needs goes on beside the root's mounts, on the other CPU: its
 * signal dispositions, the bounding set and, at the strong level, the
 * seccomp filter. Its steps, in order:
 *
 *   1. signals: every disposition back to the default (the mask, all
 *      blocked since before the clone, is lifted just before the exec)
 *   2. strong: the bounding set, then the filter (CAP_SYS_ADMIN is still
 *      held, so no no_new_privs is needed yet); the listener's number goes
 *      to the child, which takes it for the init (wr_spawn_child)
 *   3. wait until the child's root is built (meet->root_ready)
 *   4. the child's CPUs back, if the child moved this process off its own
 *      (place_apart); then join the root: setns into pid 1's mount
 *      namespace, then the working directory, looked up inside
 *      (wr_rootfs_join). The filter lets setns join a mount namespace
 *      (seccomp.c says why that is safe)
 *   5. strong: every capability but the two the uid change needs
 *   6. groups, gid, uid (or, in a user namespace, its capabilities)
 *   7. no_new_privs; strong: no capability left, then Landlock's rules
 *   8. wait until the init runs (it closes the gate), so that nothing in
 *      the run ever sees pid 1 as an image of the calling warren, nor in
 *      the middle of its exec
 *   9. the open-files limit, the signal mask lifted, execve
 *
 * The two processes wait for each other at steps 2, 3 and 8 (see
 * wr_spawn_await).
 *
 * Everything here is a plain system call, as in the child: the memory is
 * the parent's, which may have threads. And a raw one (raw-syscall.h): errno
 * is shared with the child, which is busy at the same time. A failed
 * step is reported on the error pipe, as the child's are, and the process
 * exits with WR_EXIT_SETUP; the init, already pid 1 or about to be, reports
 * that exit as the run's status. */
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "landlock.h"
#include "raw-syscall.h"
#include "spawn-internal.h"
#include "util.h"

/* Reports the failed step, and tells the child (which may be waiting for
 * the filter) that this process is going. */
static _Noreturn void command_fail(const plan *p, step s, int errnum, int detail) {
    wr_spawn_set(&p->meet->command_state, -1);
    wr_spawn_fail(p, s, errnum, detail);
}

/* A raw call (raw-syscall.h) that must succeed, or the step fails. */
#define COMMAND_CHECK(p, s, call)                                                                  \
    do {                                                                                           \
        long r_ = (call);                                                                          \
        if (r_ < 0) command_fail((p), (s), (int)-r_, 0);                                           \
    } while (0)

/* Strong: the rules for what exists only inside the run's root. Reading is
 * allowed from its "/" down, since everything under it is what rootfs.c put
 * there (read-only system, generated /etc, /proc, /dev); writing only below
 * /tmp, /dev/shm and the home (the parent's rule, on the home's inode); the
 * device nodes of /dev (the six of the minimal /dev, the run's own ptys) are
 * read and written, never made: /dev is read-only. */
static int landlock_inside(const plan *p) {
    static const struct {
        const char *path;
        wr_landlock_access access;
    } inside[] = {{"/", WR_LANDLOCK_READ},
                  {"/tmp", WR_LANDLOCK_WRITE},
                  {"/dev/shm", WR_LANDLOCK_WRITE},
                  {"/dev", WR_LANDLOCK_DEVICE}};
    for (size_t i = 0; i < ELEMENTSOF(inside); i++) {
        long fd = RAW(SYS_openat, AT_FDCWD, inside[i].path, O_PATH | O_CLOEXEC);
        if (fd < 0) continue; /* not every root has every one */
        int r = wr_landlock_allow(p->landlock, (int)fd, inside[i].access, p->landlock_abi);
        RAW(SYS_close, fd);
        if (r < 0) return r;
    }
    return wr_landlock_enforce(p->landlock);
}

/* The waits: placed apart (place_apart), the two processes run on two CPUs
 * at once and wait for each other a few tens of microseconds, less than
 * waking a sleeping process costs on this kind of machine. So there a wait
 * spins (yielding) for a while before it sleeps; on one CPU it sleeps at
 * once, since the other side needs that CPU to go on. */
#define SPIN_NS 30000

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void wr_spawn_set(atomic_int *w, int v) {
    atomic_store(w, v);
    RAW(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX);
}

int wr_spawn_await(const wr_spawn_meet *m, atomic_int *w, int sleep_ms) {
    int64_t spin_until = atomic_load(&m->moved) ? mono_ns() + SPIN_NS : 0;
    for (;;) {
        int v = atomic_load(w);
        if (v) return v;
        if (mono_ns() < spin_until) {
            RAW(SYS_sched_yield);
            continue;
        }
        struct timespec ts = {sleep_ms / 1000, (long)(sleep_ms % 1000) * 1000000};
        if (RAW(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, &ts) == -ETIMEDOUT) return 0;
    }
}

/* 8: the gate polls as hung up once every write end has closed: this
 * process's went at step 0, the child's copy at its exec, and the init's
 * (INIT_FD_GATE) as the init starts; or all of them at the child's exit,
 * and then init_exec is 0 again and the run is ending anyway. */
static void await_init_exec(const plan *p) {
    const wr_spawn_meet *m = p->meet;
    struct pollfd pfd = {.fd = m->gate_r, .events = POLLIN};
    int64_t spin_until = atomic_load(&m->moved) ? mono_ns() + SPIN_NS : 0;
    for (;;) {
        int timeout = mono_ns() < spin_until ? 0 : -1;
        long n = RAW(SYS_poll, &pfd, 1, timeout);
        if (n < 0 && n != -EINTR) command_fail(p, STEP_GATE, (int)-n, 0);
        if (n > 0 && (pfd.revents & POLLHUP)) break;
        if (n > 0) command_fail(p, STEP_GATE, EPROTO, 0); /* nobody writes to it */
        if (timeout == 0) RAW(SYS_sched_yield);
    }
    if (!atomic_load(&m->init_exec)) RAW(SYS_exit_group, WR_EXIT_SETUP);
}

static int command_main(void *arg) {
    const plan *p = arg;
    wr_spawn_meet *m = p->meet;
    bool strong = p->level == WR_LEVEL_STRONG;
    long r;

    /* 0. Only the init may close the gate. */
    RAW(SYS_close, m->gate_w);

    /* 1. */
    COMMAND_CHECK(p, STEP_SIGNALS, wr_spawn_default_signals());

    /* 2. */
    if (strong) {
        int c = wr_caps_drop_bounding();
        if (c < 0) command_fail(p, STEP_BOUNDING, -c, 0);
        int listener = wr_seccomp_load(p->seccomp);
        if (listener < 0) command_fail(p, STEP_SECCOMP, -listener, 0);
        m->listener = listener > 0 ? listener : -1; /* 0: a filter without one */
        wr_spawn_set(&m->command_state, 1);
    }

    /* 3. The child's failure ends this process with it (its pid namespace). */
    while (!wr_spawn_await(m, &m->root_ready, 1000)) {}

    /* 4. The child's CPUs back first (place_apart, done before the root). */
    if (atomic_load(&m->moved))
        COMMAND_CHECK(p, STEP_PLACE, RAW(SYS_sched_setaffinity, 0, sizeof m->cpus, &m->cpus));
    int part = 0, c = wr_rootfs_join(p->rootfs, &part);
    if (c < 0) command_fail(p, STEP_JOIN_ROOT, -c, part);

    /* 5. */
    if (strong && (c = wr_caps_drop_all()) < 0) command_fail(p, STEP_CAPS, -c, 0);

    /* 6. Groups, then gid, then uid: each later step takes the right to do
     * the earlier ones away. In a user namespace setgroups is denied
     * (userns.c), and the ids are already the mapped ones. */
    if (p->change_ids || p->userns) {
        if (!p->userns) COMMAND_CHECK(p, STEP_GROUPS, RAW(SYS_setgroups, 0, NULL));
        COMMAND_CHECK(p, STEP_GID, RAW(SYS_setresgid, p->gid, p->gid, p->gid));
        COMMAND_CHECK(p, STEP_UID, RAW(SYS_setresuid, p->uid, p->uid, p->uid));
        if (p->userns && (c = wr_userns_drop_caps()) < 0) command_fail(p, STEP_USERNS_CAPS, -c, 0);
    }

    /* 7. */
    COMMAND_CHECK(p, STEP_NO_NEW_PRIVS, RAW(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    if (strong) {
        if ((c = wr_caps_verify_none()) < 0) command_fail(p, STEP_NO_CAPS, -c, 0);
        if (p->landlock >= 0 && (c = landlock_inside(p)) < 0) command_fail(p, STEP_LANDLOCK, -c, 0);
    }

    /* 8. */
    await_init_exec(p);

    /* 9. */
    COMMAND_CHECK(p, STEP_NOFILE, RAW(SYS_setrlimit, RLIMIT_NOFILE, &p->limits[WR_RUN_NOFILE]));
    uint64_t none = 0;
    COMMAND_CHECK(p, STEP_SIGNALS, RAW(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none));
    r = RAW(SYS_execve, p->path, p->argv, p->envp);
    command_fail(p, STEP_EXEC, (int)-r, 0);
}

/* How many processes are running or ready to, host-wide: the fourth field
 * of /proc/loadavg ("R/T"), or -1. */
static int running_now(void) {
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    const char *f = buf;
    for (int i = 0; i < 3 && f; i++)
        if ((f = strchr(f, ' '))) f++;
    if (!f || *f < '0' || *f > '9') return -1;
    int r = 0;
    for (; *f >= '0' && *f <= '9' && r < 1000000; f++)
        r = r * 10 + (*f - '0');
    return r;
}

/* The kernel queues a new process on its parent's CPU, behind the parent,
 * unless the scheduler's topology says to balance forks, which a small
 * virtual machine's often does not: the command's process would start only
 * once the child stops to wait for it, and nothing would go on at once. So
 * when one of the CPUs the child may use is idle (fewer processes running
 * host-wide than those CPUs, the child among them, just before the clone),
 * the child moves the command's process off its own CPU, and the two wait
 * for each other spinning (wr_spawn_await); the command's process takes
 * back the child's CPUs once the root is built (step 4). On a busy host the
 * two share the child's CPU and sleep when they wait: moving would only take
 * a CPU from others. */
static void place_apart(wr_spawn_meet *m, pid_t command, int running) {
    /* Not sched_getcpu: glibc reads it from the rseq area of the parent's
     * thread, which is not this process's (a clone sharing memory is not
     * registered there). */
    unsigned cpu = 0;
    if (RAW(SYS_getcpu, &cpu, NULL, NULL) < 0) return;
    int here = (int)cpu, allowed = CPU_COUNT(&m->cpus);
    if (here < 0 || here >= CPU_SETSIZE || allowed < 2 || !CPU_ISSET(here, &m->cpus)) return;
    if (running < 0 || running >= allowed) return;
    cpu_set_t others = m->cpus;
    CPU_CLR(here, &others);
    if (sched_setaffinity(command, sizeof others, &others) == 0) atomic_store(&m->moved, 1);
}

int wr_spawn_command(const plan *p, int *ret_pidfd) {
    wr_spawn_meet *m = p->meet;
    if (sched_getaffinity(0, sizeof m->cpus, &m->cpus) < 0) CPU_ZERO(&m->cpus);
    int running = CPU_COUNT(&m->cpus) > 1 ? running_now() : -1;
    /* The gate: non-blocking, for step 8's spin. */
    int gate[2];
    if (pipe2(gate, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
    m->gate_r = gate[0];
    m->gate_w = gate[1];
    /* No CLONE_FILES: the command closes its copy of the gate's write end,
     * and the child leaves its own to the init. No CLONE_FS: the command's
     * setns and chdir are its own. */
    char *top = (char *)p->command_stack + p->command_stack_size;
    int pidfd = -1;
    pid_t pid = clone(command_main, top, CLONE_VM | CLONE_PIDFD | SIGCHLD, (void *)p, &pidfd);
    if (pid < 0) {
        int saved = errno;
        close(gate[0]);
        close(gate[1]);
        return -saved;
    }
    close(gate[0]);
    place_apart(m, pid, running);
    *ret_pidfd = pidfd;
    return pid;
}
