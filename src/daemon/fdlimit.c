/* The daemon's own open-files limit.
 *
 * Each run the daemon supervises holds some of its fds: a run started through
 * the API its pidfd, seccomp listener and two output pipes; a run `warren run`
 * handed over its client's socket, pidfd and listener; both, the wr_run's
 * own. Each HTTP connection holds one more. The soft limit a service manager
 * gives by default (1024 under systemd) runs out long before the daemon's own
 * caps do: 500 handed-over strong runs at once, under that limit, failed
 * with "Too many open files" from the 200th or so.
 *
 * So at start the daemon raises its soft limit to what its caps need (it
 * waits with epoll, never select, so fds past 1024 are fine), and, when that
 * is over the hard limit, tries the hard limit too (with CAP_SYS_RESOURCE,
 * which some hosts deny even root; never above fs.nr_open, the kernel's
 * ceiling). What it cannot get, it says at start.
 * Runs do not inherit any of this: each gets its own limits
 * (wr_run_rlimits, the tenant's quota); only the quota's ceiling rises with
 * the hard limit. */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

#include "daemon.h"

/* What one supervised run may hold, with room to spare (5 measured for a
 * handed-over strong run), and what the loop itself keeps open. */
#define FDS_PER_RUN 8
#define FDS_OWN 256

static rlim_t kernel_ceiling(void) {
    unsigned long n = 0;
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");
    if (f) {
        if (fscanf(f, "%lu", &n) != 1) n = 0;
        fclose(f);
    }
    return n ? (rlim_t)n : 1024 * 1024; /* the kernel's default */
}

rlim_t srv_fd_need(unsigned conns_per_listener) {
    /* Two HTTP listeners (TCP and the Unix socket), each up to conns. */
    return (rlim_t)2 * conns_per_listener +
           (rlim_t)(RUNS_MAX_RUNNING + HANDOFF_MAX_RUNS) * FDS_PER_RUN + FDS_OWN;
}

rlim_t srv_raise_fd_limit(rlim_t need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 0;
    rlim_t ceiling = kernel_ceiling();
    if (need > ceiling) need = ceiling;
    if (rl.rlim_cur >= need) return rl.rlim_cur;
    if (rl.rlim_max < need) {
        /* With CAP_SYS_RESOURCE; without it EPERM, and the hard limit stays. */
        struct rlimit both = {need, need};
        if (setrlimit(RLIMIT_NOFILE, &both) == 0) return need;
    }
    struct rlimit soft = {rl.rlim_max < need ? rl.rlim_max : need, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &soft) == 0) rl.rlim_cur = soft.rlim_cur;
    return rl.rlim_cur;
}
