/* spawn-child.c: the child's side of a run, from clone to execve (spawn.c's
 * comment on top says how the two sides meet). Every step is a plain system
 * call: the child allocates nothing and takes no lock, because the parent
 * may have threads whose locks were copied mid-hold. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "netns.h"
#include "raw-syscall.h"
#include "spawn-internal.h"
#include "util.h"

static const char *const step_names[STEP_MAX] = {
    [STEP_SIGNALS] = "reset signals",
    [STEP_CGROUP_V1] = "join the tenant's cgroup v1 groups",
    [STEP_PARENT_DEATH] = "parent-death signal",
    [STEP_USERNS] = "user namespace",
    [STEP_USERNS_CAPS] = "drop the user namespace's capabilities",
    [STEP_NETNS] = "join network namespace",
    [STEP_ROOTFS] = "private root",
    [STEP_HOSTNAME] = "hostname",
    [STEP_COMMAND] = "start the command's process",
    [STEP_JOIN_ROOT] = "join the run's root",
    [STEP_LISTENER] = "take the seccomp listener",
    [STEP_GATE] = "wait for the init",
    [STEP_PLACE] = "take back the run's CPUs",
    [STEP_BOUNDING] = "drop bounding set",
    [STEP_CAPS] = "drop capabilities",
    [STEP_NO_CAPS] = "verify no capabilities",
    [STEP_LANDLOCK] = "landlock",
    [STEP_SECCOMP] = "seccomp filter",
    [STEP_NOFILE] = "open-files limit",
    [STEP_SETSID] = "new session",
    [STEP_TERMINAL] = "controlling terminal",
    [STEP_STDIO] = "stdio",
    [STEP_CLOSE_FDS] = "close inherited fds",
    [STEP_CWD] = "working directory",
    [STEP_RLIMITS] = "resource limits",
    [STEP_UMASK] = "umask",
    [STEP_GROUPS] = "drop supplementary groups",
    [STEP_GID] = "set gid",
    [STEP_UID] = "set uid",
    [STEP_PARENT_DEATH_2] = "parent-death signal after uid change",
    [STEP_NO_NEW_PRIVS] = "no_new_privs",
    [STEP_INIT] = "start the init (pid 1)",
    [STEP_EXEC] = "exec",
};
const char *wr_spawn_step_name(int s) {
    return s >= 0 && s < STEP_MAX && step_names[s] ? step_names[s] : "?";
}

const wr_run_rlimit wr_run_rlimits[WR_RUN_NLIMITS] = {
    [WR_RUN_CORE] = {RLIMIT_CORE, 0, 0},
    [WR_RUN_NOFILE] = {RLIMIT_NOFILE, 1024, 4096},
    [WR_RUN_NPROC] = {RLIMIT_NPROC, 2048, 2048}, /* per tenant uid: a fork bomb stops here */
};

void wr_spawn_limit_files(const plan *p) {
    CHECK(p, STEP_NOFILE, setrlimit(RLIMIT_NOFILE, &p->limits[WR_RUN_NOFILE]) == 0);
}

_Noreturn void wr_spawn_fail(const plan *p, step s, int errnum, int detail) {
    report r = {s, errnum, detail};
    ssize_t n = write(p->err_fd, &r, sizeof r);
    (void)n;
    _exit(WR_EXIT_SETUP);
}

static _Noreturn void child_fail(const plan *p, step s, int errnum) {
    wr_spawn_fail(p, s, errnum, 0);
}
/* The kernel's struct sigaction, for rt_sigaction without glibc's wrapper
 * (which refuses the two signals glibc keeps for itself). */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

int wr_spawn_default_signals(void) {
    struct kernel_sigaction dfl = {.handler = SIG_DFL};
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        long r = RAW(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
        if (r < 0) return (int)r;
    }
    return 0;
}

/* Whether the process behind pidfd has ended. */
static bool ended(int pidfd) {
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

/* Strong, contained: waits for the command's process to load its filter
 * (spawn-command.c, step 2; it is usually done before the root is) and
 * takes a copy of its listener. If it failed instead, it has reported why:
 * the child only goes. */
static int take_listener(const plan *p, int command_pidfd) {
    wr_spawn_meet *m = p->meet;
    for (;;) {
        int state = wr_spawn_await(m, &m->command_state, 10);
        if (state < 0) _exit(WR_EXIT_SETUP);
        if (state > 0) break;
        /* Ended without a word (killed): not to be waited for. */
        if (ended(command_pidfd)) child_fail(p, STEP_LISTENER, ECHILD);
    }
    if (m->listener < 0) return -1;
    int fd = (int)syscall(SYS_pidfd_getfd, command_pidfd, m->listener, 0);
    if (fd < 0) child_fail(p, STEP_LISTENER, errno);
    return fd;
}

_Noreturn void wr_spawn_child(const plan *p) {
    bool contained = p->level >= WR_LEVEL_CONTAINER;

    /* Signals. A contained child keeps every signal blocked into the init,
     * which takes the ones it forwards with sigtimedwait; only SIGCHLD must
     * not stay ignored there, or the command's exit would reap itself
     * unseen. The command's process resets its own (spawn-command.c). */
    if (contained) {
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        CHECK(p, STEP_SIGNALS, sigaction(SIGCHLD, &dfl, NULL) == 0);
    } else {
        int r = wr_spawn_default_signals();
        if (r < 0) child_fail(p, STEP_SIGNALS, -r);
        sigset_t none;
        sigemptyset(&none);
        CHECK(p, STEP_SIGNALS, sigprocmask(SIG_SETMASK, &none, NULL) == 0);
    }

    /* cgroup v1 hook. clone3 put the child into its run's cgroup2 group
     * (tracking, kill, freeze); on a hybrid host the limits live in v1
     * hierarchies, which CLONE_INTO_CGROUP cannot reach. The child joins
     * them itself ("0" = the writer, to each group's `tasks`: the child has
     * one thread, so this moves all of it, and a lone thread moves without
     * the kernel's host-wide lock, cgroup-v1.c) before it can fork: whatever
     * it starts later is born inside. The fds were opened by the parent. */
    for (int i = 0; i < p->ncgroup_v1; i++)
        CHECK(p, STEP_CGROUP_V1, write(p->cgroup_v1[i], "0", 1) == 1);

    /* A supervisor kept off the CPUs placed tenants run on (supervisor.c)
     * must not hold its runs there too. Joining the tenant's cpuset does not
     * undo it: the kernel keeps an affinity asked for with sched_setaffinity
     * (which the child inherited) within every cpuset it is moved to. So the
     * child asks for the supervisor's first CPUs, and the kernel narrows
     * them to its tenant's cpuset. A daemon running a client's run asks for
     * the client's CPUs instead, as the client's own child would have them.
     * Not a step that fails the run: at worst it runs where its parent does. */
    if (p->cpus) (void)sched_setaffinity(0, sizeof *p->cpus, p->cpus);

    /* If warren dies, the run must not outlive it unwatched. The parent may
     * have died before this line: then the death signal never comes. */
    CHECK(p, STEP_PARENT_DEATH, prctl(PR_SET_PDEATHSIG, SIGKILL) == 0);
    /* In a new pid namespace the parent is outside it and getppid() says 0. */
    if (!contained && getppid() != p->parent) child_fail(p, STEP_PARENT_DEATH, ESRCH);

    /* Non-root: the user namespace's ids first; every later step acts as
     * them (userns.c says why the child writes its own maps). */
    if (p->userns) {
        int r = wr_userns_enter(p->userns);
        if (r < 0) child_fail(p, STEP_USERNS, -r);
    }

    /* Without root no namespace is kept for the tenant: the run's own. */
    if (contained && p->userns) {
        int r = wr_netns_loopback_up();
        if (r < 0) child_fail(p, STEP_NETNS, -r);
    } else if (contained)
        CHECK(p, STEP_NETNS, setns(p->netns_fd, CLONE_NEWNET) == 0);

    CHECK(p, STEP_SETSID, setsid() >= 0);
    if (p->tty) CHECK(p, STEP_TERMINAL, ioctl(p->stdio[0], TIOCSCTTY, 0) == 0);

    /* Lift each stdio fd above 2 first, so that one landing on another's
     * number cannot clobber it; dup3 then clears close-on-exec on 0, 1, 2. */
    int high[3];
    for (int i = 0; i < 3; i++)
        CHECK(p, STEP_STDIO, (high[i] = fcntl(p->stdio[i], F_DUPFD_CLOEXEC, 3)) >= 0);
    for (int i = 0; i < 3; i++)
        CHECK(p, STEP_STDIO, dup3(high[i], i, 0) == i);

    /* Everything else closes at exec; the error pipe stays usable until then. */
    CHECK(p, STEP_CLOSE_FDS, syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) == 0);

    /* Contained runs go to their directory inside the new root, by path: an
     * fd from the host's view would lead back out of it. */
    if (!contained) CHECK(p, STEP_CWD, fchdir(p->cwd_fd) == 0);

    for (size_t i = 0; i < WR_RUN_NLIMITS; i++)
        if (i != WR_RUN_NOFILE)
            CHECK(p, STEP_RLIMITS, setrlimit(wr_run_rlimits[i].resource, &p->limits[i]) == 0);

    umask(077);

    /* Contained: the command's own process, pid 2, with everything above;
     * from here on it goes its own way beside this one (spawn-command.c),
     * and this one builds the root and becomes the init. */
    int command_pidfd = -1;
    pid_t command = 0;
    if (contained) {
        int r = wr_spawn_command(p, &command_pidfd);
        if (r < 0) child_fail(p, STEP_COMMAND, -r);
        command = (pid_t)r;

        int part = 0;
        if ((r = wr_rootfs_build(p->rootfs, &part)) < 0) wr_spawn_fail(p, STEP_ROOTFS, -r, part);
        CHECK(p, STEP_HOSTNAME, sethostname(p->hostname, strlen(p->hostname)) == 0);
    }

    /* Strong: the command's filter, whose listener the init keeps for the
     * parent. Taken before the command may join the root, while it is
     * still root itself, waiting (spawn-command.c, step 3). */
    int listener = -1;
    if (contained && p->level == WR_LEVEL_STRONG) listener = take_listener(p, command_pidfd);
    if (contained) wr_spawn_set(&p->meet->root_ready, 1);

    if (p->change_ids || p->userns) {
        /* Groups, then gid, then uid: each later step takes the right to do
         * the earlier ones away. In a user namespace setgroups is denied
         * (userns.c), and the ids are already the mapped ones. The init
         * runs as the tenant too. */
        if (!p->userns) CHECK(p, STEP_GROUPS, syscall(SYS_setgroups, 0, NULL) == 0);
        CHECK(p, STEP_GID, syscall(SYS_setresgid, p->gid, p->gid, p->gid) == 0);
        CHECK(p, STEP_UID, syscall(SYS_setresuid, p->uid, p->uid, p->uid) == 0);
        /* No change from uid 0 cleared the capabilities: drop them here.
         * And a contained child, the init-to-be, keeps none whatever the
         * caller's securebits or ambient set. */
        if (p->userns || contained) {
            int r = wr_userns_drop_caps();
            if (r < 0) child_fail(p, p->userns ? STEP_USERNS_CAPS : STEP_CAPS, -r);
        }
        /* The kernel clears the death signal on a credential change. */
        CHECK(p, STEP_PARENT_DEATH_2, prctl(PR_SET_PDEATHSIG, SIGKILL) == 0);
        if (!contained && getppid() != p->parent) child_fail(p, STEP_PARENT_DEATH_2, ESRCH);
    }

    CHECK(p, STEP_NO_NEW_PRIVS, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);

    if (contained) wr_spawn_exec_init(p, listener, command);
    wr_spawn_limit_files(p);
    execve(p->path, p->argv, p->envp);
    child_fail(p, STEP_EXEC, errno);
}
