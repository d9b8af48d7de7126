/* Where runs are tracked: each run in its own cgroup, under its tenant's,
 * under the cgroup warren was started in. The whole process tree of a run,
 * however it forks, daemonises or renames itself, is exactly the members of
 * its cgroup, and cgroup.kill ends them all at once.
 *
 * This file is the cgroup v2 hierarchy: the unified mount of a pure v2 host
 * (/sys/fs/cgroup) or of a hybrid one (/sys/fs/cgroup/unified), found in
 * /proc/self/mountinfo (which also says which cgroup a mount shows); warren's
 * own cgroup is the "0::" line of /proc/self/cgroup.
 * Tracking and killing need no controller, so they work on a hybrid host whose
 * controllers all sit in v1. Limits, the v1 controllers and freezing come with
 * the quotas work behind the same handle.
 *
 * Layout: <own cgroup>/warren/<linux_username>/<run id>. Nothing is ever made
 * outside <own cgroup>. */
#pragma once

#include <stdbool.h>

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
/* Kills every process in the cgroup open at `dirfd` (cgroup.kill) and waits,
 * up to a few seconds, until cgroup.events says it is empty; kind busy if it
 * is not by then. A killed cgroup is not for reuse: on current kernels a
 * process cloned into a cgroup after cgroup.kill was written there dies at
 * once, so each run gets a new cgroup. */
int wr_cgroup_kill(int dirfd, wr_err *e);
/* Whether the cgroup still has processes (cgroup.events "populated 1"). */
int wr_cgroup_populated(int dirfd, bool *ret, wr_err *e);
/* Removes a run's cgroup (it must be empty: kill it first). Missing is fine. */
int wr_cgroup_run_remove(wr_cgroups *c, const char *tenant, const char *run, wr_err *e);
/* Kills and removes each run cgroup of the tenant for which stale(name)
 * says so (the run's supervisor is gone). Returns how many, or -errno. */
int wr_cgroup_reap_runs(wr_cgroups *c, const char *tenant,
                        bool (*stale)(const char *run, void *userdata), void *userdata,
                        wr_err *e);
/* Kills every run of the tenant and removes its cgroups (tenant delete). */
int wr_cgroup_tenant_destroy(wr_cgroups *c, const char *tenant, wr_err *e);

/* Makes wr_cgroup_kill use its fallback for kernels without cgroup.kill
 * (before 5.14) even where cgroup.kill exists (tests only). */
void wr_cgroup_force_fallback(bool on);
