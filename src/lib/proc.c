/* Ending every process of a tenant's UID.
 *
 * Theory of operation: the caller forks one helper and waits for it. The
 * helper, between fork and _exit, makes only plain system calls (the caller
 * may be a threaded daemon, so nothing that could take a lock or allocate):
 *
 *   1. setresuid(uid, uid, uid), then check with getresuid and capget that it
 *      holds that UID and no capability at all. A helper that kept CAP_KILL
 *      (say, under a securebits setting) would kill every process on the host
 *      in step 2, so it gives up instead.
 *   2. kill(-1, SIGKILL). The kernel signals, under one lock, every process
 *      this UID may signal: those whose real or saved UID is the tenant's, and
 *      nobody else's. A process with SIGKILL pending never runs user code
 *      again, so one sweep stops a fork bomb.
 *   3. Look in /proc for a process still alive (not a zombie) with that real
 *      or saved UID; if there is one, sweep again, with growing pauses, until
 *      none is left or the deadline passes. kill(-1) itself cannot tell us
 *      when to stop: it reports success whenever any process besides init and
 *      the caller exists, even one it had no right to signal, and zombies
 *      count as signalable until their parent reaps them, which warren does
 *      not control. Where /proc is not this PID namespace's, the helper falls
 *      back to sweeping until ESRCH or the deadline.
 *   4. Report over a close-on-exec pipe: the sweeps that found processes, and
 *      the errno that stopped it, if any. */
#include "proc.h"

#include <dirent.h>
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
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
                          .tv_nsec = (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

int wr_helper_become(uid_t uid, gid_t gid) {
    if (syscall(SYS_setgroups, 0, NULL) < 0) return errno;
    if (syscall(SYS_setresgid, gid, gid, gid) < 0) return errno;
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

/* Parses the decimal number at *p, moving past it. */
static unsigned long parse_ulong(const char **p) {
    unsigned long v = 0;
    while (**p >= '0' && **p <= '9')
        v = v * 10 + (unsigned long)(*(*p)++ - '0');
    return v;
}

static const char *find_line(const char *buf, const char *key) {
    const char *p = strstr(buf, key);
    return p ? p + strlen(key) : NULL;
}

/* Whether /proc/<name>/status describes a live process `uid` may signal. */
static bool status_is_live_of(int procfd, const char *name, uid_t uid) {
    char path[300];
    size_t n = strlen(name);
    if (n + sizeof "/status" > sizeof path) return false;
    memcpy(path, name, n);
    memcpy(path + n, "/status", sizeof "/status");
    int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false; /* gone already */
    char buf[1024];
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) return false;
    buf[len] = '\0';
    const char *state = find_line(buf, "\nState:\t");
    const char *ids = find_line(buf, "\nUid:\t");
    if (!state || !ids) return false;
    if (*state == 'Z' || *state == 'X') return false;
    unsigned long real = parse_ulong(&ids);
    while (*ids == '\t')
        ids++;
    (void)parse_ulong(&ids); /* effective: it does not decide who may signal */
    while (*ids == '\t')
        ids++;
    unsigned long saved = parse_ulong(&ids);
    return real == uid || saved == uid;
}

/* 1 if a live process of uid is left, 0 if none, -1 if /proc cannot tell
 * (missing, or another PID namespace's). */
static int any_left(uid_t uid) {
    int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (procfd < 0) return -1;
    char self[32];
    ssize_t n = readlinkat(procfd, "self", self, sizeof self - 1);
    if (n <= 0 || n >= (ssize_t)sizeof self) {
        close(procfd);
        return -1;
    }
    self[n] = '\0';
    const char *p = self;
    if (parse_ulong(&p) != (unsigned long)syscall(SYS_getpid) || *p) {
        close(procfd);
        return -1;
    }
    int found = 0;
    char dents[8192] __attribute__((aligned(8)));
    for (;;) {
        ssize_t len = getdents64(procfd, dents, sizeof dents);
        if (len < 0) found = -1;
        if (len <= 0 || found) break;
        for (ssize_t off = 0; off < len && !found;) {
            struct dirent64 *de = (struct dirent64 *)(void *)(dents + off);
            off += de->d_reclen;
            /* The helper itself is a live process of uid, but not the tenant's. */
            if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && !streq(de->d_name, self) &&
                status_is_live_of(procfd, de->d_name, uid))
                found = 1;
        }
    }
    close(procfd);
    return found;
}

/* Steps 2 and 3. Pauses grow from 100 us so that a tenant that is gone
 * costs almost nothing and a slow one is not busy-waited on. */
static kill_report sweep(uid_t uid) {
    kill_report rep = {0};
    uint64_t deadline = now_ns() + KILL_DEADLINE_NS;
    uint64_t pause = 100 * 1000;
    /* Always one sweep, even if /proc shows nothing: it might not show all. */
    int left = any_left(uid);
    for (;;) {
        if (kill(-1, SIGKILL) < 0) {
            if (errno != ESRCH) rep.errnum = errno;
            return rep;
        }
        if (left != 0) rep.sweeps++;
        if (now_ns() >= deadline) return rep;
        pause_ns(pause);
        if (pause < KILL_PAUSE_MAX_NS) pause *= 2;
        left = any_left(uid);
        if (left == 0) return rep;
    }
}

static _Noreturn void helper(uid_t uid, int report_fd) {
    kill_report rep = {0};
    /* Its gid is the UID's number too: it needs no group, and keeps none of root's. */
    rep.errnum = wr_helper_become(uid, (gid_t)uid);
    if (rep.errnum == 0) rep = sweep(uid);
    ssize_t n = write(report_fd, &rep, sizeof rep);
    _exit(n == (ssize_t)sizeof rep ? 0 : 1);
}

static int wait_helper(pid_t pid, uid_t uid, wr_err *e) {
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return wr_sys(e, errno, "killing uid %u: cannot wait for the helper", (unsigned)uid);
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
    do
        n = read(rd, &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    int r = wait_helper(pid, uid, e);
    if (r < 0) return r;
    if (n != (ssize_t)sizeof rep)
        return wr_fail(e, WR_ERR_SYSTEM, EIO, "killing uid %u: the helper did not report",
                       (unsigned)uid);
    if (rep.errnum != 0) return wr_sys(e, rep.errnum, "killing uid %u", (unsigned)uid);
    return rep.sweeps;
}
