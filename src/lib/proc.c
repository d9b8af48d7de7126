/* Ending every process of a tenant's UID.
 *
 * Theory of operation: the caller forks one helper and waits for it. The
 * helper, between fork and _exit, makes only raw system calls (the caller may
 * be a threaded daemon, so nothing that could take a lock):
 *
 *   1. setresuid(uid, uid, uid), then check with getresuid and capget that it
 *      holds that UID and no capability at all. A helper that kept CAP_KILL
 *      (say, under a securebits setting) would kill every process on the host
 *      in step 2, so it gives up instead.
 *   2. kill(-1, SIGKILL) in a loop. The kernel signals, under one lock, every
 *      process this UID may signal: the tenant's and nobody else's. A process
 *      with SIGKILL pending never runs user code again, so one sweep is enough
 *      to stop a fork bomb; later sweeps catch what a fork in flight created.
 *      The loop ends at ESRCH (nothing left) or at the deadline. Zombies still
 *      count as signalable until their parent reaps them, which warren does
 *      not control, so a tenant whose dead processes are not reaped yet ends
 *      at the deadline rather than with ESRCH; that is not an error.
 *   3. Report over a close-on-exec pipe: sweeps that found processes, and the
 *      errno that stopped it, if any. */
#include "proc.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"

#define KILL_DEADLINE_NS (2ull * 1000 * 1000 * 1000)
#define KILL_PAUSE_MAX_NS (20ull * 1000 * 1000)

typedef struct kill_report {
    int sweeps;
    int errnum; /* 0, or why the helper stopped early */
} kill_report;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pause_ns(uint64_t ns) {
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

/* Step 1: the helper becomes uid and nothing more. */
static int become(uid_t uid) {
    if (syscall(SYS_setresuid, uid, uid, uid) < 0) return errno;
    uid_t r, ef, s;
    if (syscall(SYS_getresuid, &r, &ef, &s) < 0) return errno;
    if (r != uid || ef != uid || s != uid) return EPERM;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {0};
    if (syscall(SYS_capget, &hdr, data) < 0) return errno;
    for (size_t i = 0; i < ELEMENTSOF(data); i++)
        if (data[i].effective || data[i].permitted) return EPERM;
    return 0;
}

/* Step 2. Pauses grow from 100 µs so that a dead tenant costs almost nothing
 * and a slow one is not busy-waited on. */
static kill_report sweep(void) {
    kill_report rep = {0};
    uint64_t deadline = now_ns() + KILL_DEADLINE_NS;
    uint64_t pause = 100 * 1000;
    for (;;) {
        if (kill(-1, SIGKILL) < 0) {
            if (errno != ESRCH) rep.errnum = errno;
            return rep;
        }
        rep.sweeps++;
        if (now_ns() >= deadline) return rep;
        pause_ns(pause);
        if (pause < KILL_PAUSE_MAX_NS) pause *= 2;
    }
}

static _Noreturn void helper(uid_t uid, int report_fd) {
    kill_report rep = {0};
    rep.errnum = become(uid);
    if (rep.errnum == 0) rep = sweep();
    ssize_t n = write(report_fd, &rep, sizeof rep);
    _exit(n == (ssize_t)sizeof rep ? 0 : 1);
}

static int wait_helper(pid_t pid, uid_t uid, wr_err *e) {
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return wr_sys(e, errno, "killing uid %u: cannot wait for the helper", (unsigned)uid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return wr_fail(e, WR_ERR_SYSTEM, EIO, "killing uid %u: the helper failed", (unsigned)uid);
    return 0;
}

int wr_kill_uid(uid_t uid, wr_err *e) {
    if (uid == 0 || uid == (uid_t)-1 || uid == getuid())
        return wr_invalid(e, "refusing to kill the processes of uid %u: not a tenant's uid",
                          (unsigned)uid);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return wr_sys(e, errno, "killing uid %u", (unsigned)uid);
    _cleanup_close_ int rd = p[0];
    _cleanup_close_ int wr = p[1];
    pid_t pid = fork();
    if (pid < 0) return wr_sys(e, errno, "killing uid %u: cannot fork the helper", (unsigned)uid);
    if (pid == 0) helper(uid, wr);
    closep(&wr);
    wr = -1;

    kill_report rep;
    ssize_t n;
    do n = read(rd, &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    int r = wait_helper(pid, uid, e);
    if (r < 0) return r;
    if (n != (ssize_t)sizeof rep)
        return wr_fail(e, WR_ERR_SYSTEM, EIO, "killing uid %u: the helper did not report", (unsigned)uid);
    if (rep.errnum != 0)
        return wr_sys(e, rep.errnum, "killing uid %u", (unsigned)uid);
    return rep.sweeps;
}
