/* Where runs are tracked: each run in its own cgroup, under its tenant's,
 * under the cgroup warren was started in. The whole process tree of a run,
 * however it forks, daemonises or renames itself, is exactly the members of
 * its cgroup, and cgroup.kill ends them all at once.
 *
 * This file is the cgroup v2 hierarchy: the unified mount of a pure v2 host
 * (/sys/fs/cgroup) or of a hybrid one (/sys/fs/cgroup/unified), found in
 * /proc/self/mountinfo (which also says which cgroup a mount shows); warren's
 * own cgroup is the "0::" line of /proc/self/cgroup.
 * Tracking, killing and freezing need no controller, so they work on a hybrid
 * host whose controllers all sit in v1. Limits and figures come from a
 * backend picked at open (cgroup-internal.h): the controllers of the same
 * cgroup2 hierarchy (cgroup-v2.c) or the v1 hierarchies beside it
 * (cgroup-v1.c), where each tenant has one group per hierarchy.
 *
 * Layout: <own cgroup>/warren/<linux_username>/<run id>. Nothing is ever made
 * outside <own cgroup>. */
#pragma once

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

typedef struct wr_cgroups wr_cgroups;

/* Finds the v2 hierarchy and warren's cgroup, creates <own>/warren.
 * -ENOENT (kind system, message saying so) if the host has no cgroup2 mount. */
int wr_cgroups_open(wr_cgroups **ret, wr_err *e);
void wr_cgroups_close(wr_cgroups *c);
/* The absolute path of <own>/warren, for messages and tests. */
const char *wr_cgroups_path(const wr_cgroups *c);

/* Creates <own>/warren/<tenant>/<run> (the tenant's group if missing) and
 * returns an O_DIRECTORY fd on it (close-on-exec): pass it to clone3 with
 * CLONE_INTO_CGROUP so the child starts inside, with no window outside. */
int wr_cgroup_run_create(wr_cgroups *c, const char *tenant, const char *run, wr_err *e);
/* A run's name (its cgroup's) holds at most this many bytes with its NUL. */
#define WR_CGROUP_RUN_MAX 40
/* The group for a new run of the tenant, as an fd for CLONE_INTO_CGROUP:
 * the group of a run of this handle that ended cleanly, if one is kept (its
 * name then replaces run[], and *ret_usec is the cpu usage it has already
 * counted), else a new one named run[] (wr_cgroup_run_create; *ret_usec 0).
 * Making and removing a group per run is most of what the cgroup costs a
 * run; a kept group is one the handle made, so its name still says which
 * warren watches it (spawn.c, wr_run_orphaned). */
int wr_cgroup_run_take(wr_cgroups *c, const char *tenant, char run[WR_CGROUP_RUN_MAX],
                       uint64_t *ret_usec, wr_err *e);
/* The run is over and ended cleanly (never killed: a group cgroup.kill was
 * written to kills whatever is cloned into it later): keeps its group, open
 * at fd, for the next run if it is empty and not frozen and no other is kept
 * for the tenant (1: the handle has taken fd); else removes it (0; -EBUSY,
 * kind busy, if processes are left: kill them, then wr_cgroup_run_remove;
 * fd stays the caller's). usec is its cpu usage now. */
int wr_cgroup_run_release(wr_cgroups *c, const char *tenant, const char *run, int fd,
                          uint64_t usec, wr_err *e);
/* Kills every process in the cgroup open at `dirfd` (cgroup.kill) and waits,
 * up to a few seconds, until cgroup.events says it is empty; kind busy if it
 * is not by then. A killed cgroup is not for reuse: on current kernels a
 * process cloned into a cgroup after cgroup.kill was written there (or to an
 * ancestor) dies at once, so a killed run's group is removed, never kept
 * (wr_cgroup_run_release). */
int wr_cgroup_kill(int dirfd, wr_err *e);
/* The cpu time, in microseconds, the cgroup open at dirfd has counted
 * (cpu.stat usage_usec: cgroup2 keeps it with no controller), or 0. */
uint64_t wr_cgroup_cpu_usec(int dirfd);
/* Whether the cgroup still has processes (cgroup.events "populated 1"). */
int wr_cgroup_populated(int dirfd, bool *ret, wr_err *e);
/* Removes a run's cgroup (it must be empty: kill it first). Missing is fine. */
int wr_cgroup_run_remove(wr_cgroups *c, const char *tenant, const char *run, wr_err *e);
/* Kills and removes each run cgroup of the tenant for which stale(name)
 * says so (the run's supervisor is gone). Returns how many, or -errno. */
int wr_cgroup_reap_runs(wr_cgroups *c, const char *tenant,
                        bool (*stale)(const char *run, void *userdata), void *userdata,
                        wr_err *e);
/* The same for a run about to start: at most once a second per tenant per
 * handle (an orphan appears only when another warren died; a daemon starting
 * many runs need not list its tenant's groups for each). */
int wr_cgroup_reap_runs_due(wr_cgroups *c, const char *tenant,
                            bool (*stale)(const char *run, void *userdata), void *userdata,
                            wr_err *e);
/* Kills every run of the tenant and removes its cgroups (tenant delete). */
int wr_cgroup_tenant_destroy(wr_cgroups *c, const char *tenant, wr_err *e);

/* --- limits, freezing and figures (cgroup-v1.c, cgroup-v2.c) --------------------

 * Which backend enforces limits, picked at open from /proc/self/mountinfo:
 * "v2" (controllers in the unified hierarchy), "hybrid" (v1 controller
 * hierarchies for limits, cgroup2 for tracking, kill and freeze), or "none"
 * (no controller reachable: limits are refused with an error saying so). */
const char *wr_cgroups_backend(const wr_cgroups *c);

struct wr_quota;
/* Makes the tenant's group in every hierarchy (if missing) and, when it was
 * made or `force`, writes the quota's memory, cpu, cpu weight and pids into
 * it. Running runs are below it, so a change reaches them at once. A value
 * the kernel refuses (memory below current use) fails naming the value. */
int wr_cgroup_tenant_limit(wr_cgroups *c, const char *tenant, const struct wr_quota *q, bool force,
                           wr_err *e);
/* Hybrid hosts: opens (close-on-exec, write-only) the `tasks` file of the
 * tenant's v1 groups into fds and returns how many (0 on a v2 host). A run's
 * single-threaded child writes "0" into each to join them itself, before it
 * can fork: the
 * v1 hierarchies cannot be reached with CLONE_INTO_CGROUP. */
int wr_cgroup_attach_fds(wr_cgroups *c, const char *tenant, int fds[], size_t max, wr_err *e);
#define WR_CGROUP_ATTACH_MAX 5
/* Freezes (or thaws) one run, or the whole tenant; waits until the kernel
 * says every process is frozen (cgroup.events "frozen 1"). */
int wr_cgroup_run_freeze(wr_cgroups *c, const char *tenant, const char *run, bool freeze,
                         wr_err *e);
int wr_cgroup_freeze(wr_cgroups *c, const char *tenant, bool freeze, wr_err *e);

/* The kernel's own counters for a tenant's group (zero where the backend has
 * no such counter; `have_*` says which exist). */
typedef struct wr_cgroup_stats {
    uint64_t memory_current, memory_peak, memory_max; /* bytes; max 0: none */
    uint64_t cpu_usec, throttled_usec, nr_throttled, cpu_quota_milli;
    uint64_t pids_current, pids_peak, pids_max;
    uint64_t oom_kills;  /* processes the OOM killer ended in the group */
    uint64_t memory_max_events; /* times usage hit the limit */
    uint64_t pids_max_events;   /* forks refused by the pids limit */
    char cpus[256];      /* the CPUs the tenant is placed on; "": all of warren's */
    unsigned runs;       /* run groups below the tenant's */
    bool frozen;
    bool have_memory, have_cpu, have_pids;
} wr_cgroup_stats;
int wr_cgroup_tenant_stats(wr_cgroups *c, const char *tenant, wr_cgroup_stats *ret, wr_err *e);

/* The CPUs of `from` that no tenant is placed on (cgroup-cpus.c), for
 * warren's own supervising thread (supervisor.c). True when some CPUs of
 * `from` hold a placed tenant and some do not; otherwise false, with
 * *ret = *from. */
bool wr_cgroup_unplaced_cpus(wr_cgroups *c, const cpu_set_t *from, cpu_set_t *ret);

/* --- tenant level, on the warren handle ----------------------------------------- */
typedef struct warren warren;
typedef struct wr_tenant wr_tenant;
/* Freezes or thaws every process of the tenant (export takes a consistent
 * copy while frozen). */
int wr_cgroup_tenant_freeze(warren *w, const wr_tenant *t, bool freeze, wr_err *e);
/* Kills every process of every run of the tenant and waits until they are gone. */
int wr_cgroup_tenant_kill(warren *w, const wr_tenant *t, wr_err *e);
/* Kills (as above) and removes the tenant's groups in every hierarchy. */
int wr_cgroup_tenant_remove(warren *w, const wr_tenant *t, wr_err *e);

/* Makes wr_cgroup_kill use its fallback for kernels without cgroup.kill
 * (before 5.14) even where cgroup.kill exists (tests only). */
void wr_cgroup_force_fallback(bool on);
