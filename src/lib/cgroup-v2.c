/* Limits, figures and freezing in the cgroup2 hierarchy.
 *
 * Freezing needs no controller (cgroup.freeze is in every non-root group),
 * so it is used on hybrid hosts too. Limits need the memory, cpu and pids
 * controllers switched on from warren's own group down to the tenants'
 * groups: <own> and <own>/warren list them in cgroup.subtree_control.
 *
 * The kernel lets a group hand controllers to its children only while it has
 * no processes of its own ("no internal processes"). warren's own group has
 * warren in it, so in the v2 backend warren moves itself into
 * <own>/warren-supervisor (a leaf), provided it is alone in <own>; a warren
 * started in <own>/warren-supervisor counts <own> as its own group (see
 * cgroup.c), which is what a service manager's delegated subgroup gives
 * (systemd: Delegate=yes, DelegateSubgroup=warren-supervisor). */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include "cgroup-internal.h"
#include "util.h"

#define SUPERVISOR "warren-supervisor"

/* Whether the space-separated list in the file names the controller. */
static bool lists(int dirfd, const char *file, const char *controller) {
    char buf[512];
    if (wr_cg_read(dirfd, file, buf, sizeof buf) < 0) return false;
    char *save = NULL;
    for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
        if (streq(t, controller)) return true;
    return false;
}

/* The controllers warren needs (memory, cpu, pids), and cpuset where the
 * host offers it (tenants' CPU placement, cgroup-cpus.c). */
static const char *const needed[] = {"memory", "cpu", "pids"};

static bool lists_all(int dirfd, const char *file, bool cpuset) {
    for (size_t i = 0; i < ELEMENTSOF(needed); i++)
        if (!lists(dirfd, file, needed[i])) return false;
    return !cpuset || lists(dirfd, file, "cpuset");
}

/* Moves this process (single-threaded, as the CLI is; a threaded daemon
 * must start in a delegated subgroup) into <own>/warren-supervisor when it is
 * the only process in <own>. */
static int leave_own(wr_cgroups *c, const char *controllers, wr_err *e) {
    char buf[256];
    int r = wr_cg_read(c->own_fd, "cgroup.procs", buf, sizeof buf);
    if (r < 0) return wr_sys(e, -r, "reading the cgroup.procs of warren's cgroup");
    char self[32];
    snprintf(self, sizeof self, "%d\n", (int)getpid());
    if (!streq(buf, self))
        return wr_fail(e, WR_ERR_SYSTEM, EBUSY,
                       "cgroup v2: cannot enable the %s controllers below warren's cgroup "
                       "%s/..: it holds other processes. Start warren in a delegated cgroup of "
                       "its own, or in its subgroup " SUPERVISOR,
                       controllers, c->path);
    if (mkdirat(c->own_fd, SUPERVISOR, 0755) < 0 && errno != EEXIST)
        return wr_sys(e, errno, "creating cgroup %s/../" SUPERVISOR, c->path);
    _cleanup_close_ int sfd =
        openat(c->own_fd, SUPERVISOR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0 || (r = wr_cg_write(sfd, "cgroup.procs", "0")) < 0)
        return wr_sys(e, sfd < 0 ? errno : -r, "moving warren into %s/../" SUPERVISOR, c->path);
    return 0;
}

bool wr_cg2_available(int own_fd) {
    return lists_all(own_fd, "cgroup.controllers", false);
}

#define NEEDED "+memory +cpu +pids"
#define WITH_CPUSET NEEDED " +cpuset"

/* Writes the controllers into fd's cgroup.subtree_control unless they are
 * there. cpuset is only wished for: where the kernel will not hand it down
 * (a partition, a threaded subtree), the three others go on without it and
 * tenants are simply not placed. */
static int enable_in(int fd, bool *cpuset) {
    if (lists_all(fd, "cgroup.subtree_control", *cpuset)) return 0;
    int r = wr_cg_write(fd, "cgroup.subtree_control", *cpuset ? WITH_CPUSET : NEEDED);
    if (r < 0 && r != -EBUSY && *cpuset) {
        *cpuset = false;
        r = wr_cg_write(fd, "cgroup.subtree_control", NEEDED);
    }
    return r;
}

int wr_cg2_enable(wr_cgroups *c, wr_err *e) {
    if (c->v2_enabled) return 0;
    bool cpuset = lists(c->own_fd, "cgroup.controllers", "cpuset");
    int r = enable_in(c->own_fd, &cpuset);
    if (r == -EBUSY) {
        if ((r = leave_own(c, cpuset ? WITH_CPUSET : NEEDED, e)) < 0) return r;
        r = enable_in(c->own_fd, &cpuset);
    }
    if (r < 0)
        return wr_sys(e, -r, "enabling %s in %s/../cgroup.subtree_control", NEEDED, c->path);
    if ((r = enable_in(c->dir_fd, &cpuset)) < 0)
        return wr_sys(e, -r, "enabling %s in %s/cgroup.subtree_control", NEEDED, c->path);
    c->v2_enabled = true;
    return 0;
}

static int set(int fd, const char *where, const char *file, const char *value, wr_err *e) {
    int r = wr_cg_write(fd, file, value);
    if (r < 0) return wr_sys(e, -r, "setting %s/%s to %s", where, file, value);
    return 0;
}

/* The tenant's CPUs (cgroup-cpus.c): its placement, or empty, which in v2
 * means all of its parent's. */
static int limit_cpus(int warren_fd, int fd, const char *where, const char *tenant,
                      int64_t cpu_milli, wr_err *e) {
    if (faccessat(fd, "cpuset.cpus", F_OK, 0) < 0) return 0; /* no cpuset controller */
    wr_cpumask all, placed;
    int r = wr_cpus_read(warren_fd, "cpuset.cpus.effective", &all);
    if (r < 0) return wr_sys(e, -r, "reading %s/../cpuset.cpus.effective", where);
    char list[WR_CPUS_LIST_MAX] = "\n";
    if (wr_cg_place(warren_fd, "cpuset.cpus", tenant, &all, cpu_milli, &placed))
        wr_cpus_format(&placed, list, sizeof list);
    return set(fd, where, "cpuset.cpus", list, e);
}

bool wr_cg2_unplaced(int warren_fd, const wr_cpumask *from, wr_cpumask *ret) {
    wr_cpumask all;
    *ret = *from;
    if (wr_cpus_read(warren_fd, "cpuset.cpus.effective", &all) < 0) return false; /* no cpuset */
    return wr_cg_unplaced(warren_fd, "cpuset.cpus", &all, from, ret);
}

int wr_cg2_limit(int warren_fd, int fd, const char *where, const char *tenant, const wr_quota *q,
                 wr_err *e) {
    char val[64];
    int r;
    if ((r = limit_cpus(warren_fd, fd, where, tenant, q->cpu_milli, e)) < 0) return r;
    /* The controllers stop at the tenant's group: its runs' groups (below
     * it) are limited as a whole by it, and a memory cgroup made and
     * removed for every run would cost each run more than the rest of its
     * cgroup work. */
    if (wr_quota_limited(q->memory))
        snprintf(val, sizeof val, "%lld", (long long)q->memory);
    else
        snprintf(val, sizeof val, "max");
    r = wr_cg_write(fd, "memory.max", val);
    if (r < 0 && r != -EBUSY) return wr_sys(e, -r, "setting %s/memory.max to %s", where, val);
    /* Swap off: a tenant's memory is its RAM. Kernels without swap
     * accounting have no memory.swap.max. */
    if (faccessat(fd, "memory.swap.max", F_OK, 0) == 0 &&
        (r = set(fd, where, "memory.swap.max", wr_quota_limited(q->memory) ? "0" : "max", e)) < 0)
        return r;
    if (wr_quota_limited(q->cpu_milli))
        snprintf(val, sizeof val, "%lld 100000", (long long)q->cpu_milli * 100);
    else
        snprintf(val, sizeof val, "max 100000");
    if ((r = set(fd, where, "cpu.max", val, e)) < 0) return r;
    snprintf(val, sizeof val, "%lld",
             wr_quota_limited(q->cpu_weight) ? (long long)q->cpu_weight : 100LL);
    if ((r = set(fd, where, "cpu.weight", val, e)) < 0) return r;
    if (wr_quota_limited(q->pids))
        snprintf(val, sizeof val, "%lld", (long long)q->pids);
    else
        snprintf(val, sizeof val, "max");
    return set(fd, where, "pids.max", val, e);
}

static void read_limit(int fd, const char *file, uint64_t *ret) {
    char buf[64];
    if (wr_cg_read(fd, file, buf, sizeof buf) < 0 || buf[0] < '0' || buf[0] > '9') return;
    *ret = strtoull(buf, NULL, 10);
}

void wr_cg2_stats(int fd, bool controllers, wr_cgroup_stats *st) {
    /* cpu.stat's usage is there without the cpu controller. */
    wr_cg_read_key(fd, "cpu.stat", "usage_usec", &st->cpu_usec);
    char buf[512];
    if (wr_cg_read(fd, "cgroup.events", buf, sizeof buf) == 0) st->frozen = strstr(buf, "frozen 1");
    if (!controllers) return;
    st->have_memory = st->have_cpu = st->have_pids = true;
    wr_cg_read_u64(fd, "memory.current", &st->memory_current);
    wr_cg_read_u64(fd, "memory.peak", &st->memory_peak);
    read_limit(fd, "memory.max", &st->memory_max);
    wr_cg_read_key(fd, "memory.events", "oom_kill", &st->oom_kills);
    wr_cg_read_key(fd, "memory.events", "max", &st->memory_max_events);
    wr_cg_read_key(fd, "cpu.stat", "throttled_usec", &st->throttled_usec);
    wr_cg_read_key(fd, "cpu.stat", "nr_throttled", &st->nr_throttled);
    if (wr_cg_read(fd, "cpu.max", buf, sizeof buf) == 0 && buf[0] >= '0' && buf[0] <= '9')
        st->cpu_quota_milli = strtoull(buf, NULL, 10) / 100;
    wr_cg_read_u64(fd, "pids.current", &st->pids_current);
    wr_cg_read_u64(fd, "pids.peak", &st->pids_peak);
    read_limit(fd, "pids.max", &st->pids_max);
    wr_cg_read_key(fd, "pids.events", "max", &st->pids_max_events);
    wr_cpumask mine;
    if (wr_cpus_read(fd, "cpuset.cpus", &mine) == 0 && wr_cpus_count(&mine))
        wr_cpus_format(&mine, st->cpus, sizeof st->cpus);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wr_cg2_freeze(int fd, bool freeze, const char *where, wr_err *e) {
    int r = wr_cg_write(fd, "cgroup.freeze", freeze ? "1" : "0");
    if (r < 0) return wr_sys(e, -r, "writing %s/cgroup.freeze", where);
    /* Frozen means every task has stopped: cgroup.events says so, and a
     * change of it wakes poll() with POLLPRI. Thawing needs no wait. */
    if (!freeze) return 0;
    _cleanup_close_ int ev = openat(fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
    if (ev < 0) return wr_sys(e, errno, "opening %s/cgroup.events", where);
    int64_t deadline = now_ms() + 5000;
    for (;;) {
        char buf[256];
        ssize_t n = pread(ev, buf, sizeof buf - 1, 0);
        if (n < 0) return wr_sys(e, errno, "reading %s/cgroup.events", where);
        buf[n] = '\0';
        if (strstr(buf, "frozen 1")) return 0;
        int64_t left = deadline - now_ms();
        if (left <= 0) break;
        struct pollfd p = {.fd = ev, .events = POLLPRI};
        (void)poll(&p, 1, left < 100 ? (int)left : 100);
    }
    return wr_fail(e, WR_ERR_BUSY, EBUSY, "cgroup %s did not freeze within 5 s", where);
}
