/* supervisor.c: the CPUs warren's own supervising thread runs on.
 *
 * A long-lived warren (the daemon) starts and watches every run, so each
 * run's latency includes the daemon's wakeups: when the run's child has
 * exec'ed, when it exits. A kernel that preempts only at ticks or on the way
 * back to user space (PREEMPT(none), HZ 250 here) lets a woken thread wait
 * behind the kernel work of whatever runs on its CPU. A tenant that starts
 * programs in a loop, well within its cpu quota, holds its CPU in exec,
 * mmap and page faults for milliseconds at a time, and a quiet tenant's
 * runs then wait for the daemon that happened to wake there: bench/noisy
 * measured such a tenant doubling the quiet one's p99.
 *
 * Placement (cgroup-cpus.c) keeps a tenant with a fractional cpu quota on
 * few CPUs; this keeps the supervisor off them, whenever some of its CPUs
 * hold no placed tenant. The runs are not held with it: a run's child asks
 * for the supervisor's first CPUs back (spawn-child.c), which the kernel
 * narrows to its tenant's cpuset: a placed tenant's CPUs, every CPU of
 * warren's for another. Without a cpuset controller nothing is placed and
 * the supervisor stays where it is. Placements change when quotas do,
 * by this process or another (the CLI), so the daemon checks again in its
 * idle upkeep (wr_maintain), at most every SUPERVISOR_RECHECK_S, and at the
 * next upkeep after a quota change of its own. */
#include <errno.h>
#include <sched.h>

#include "cgroup.h"
#include "supervisor.h"
#include "util.h"
#include "warren-internal.h"

#define SUPERVISOR_RECHECK_S 5.0

static bool kept_off(const wr_supervisor *s) {
    return s->on && !CPU_EQUAL(&s->current, &s->from);
}

int wr_supervisor_place(warren *w, wr_err *e) {
    wr_supervisor *s = &w->supervisor;
    if (!s->on) {
        if (sched_getaffinity(0, sizeof s->from, &s->from) < 0)
            return wr_sys(e, errno, "reading this thread's CPU affinity");
        s->current = s->from;
        s->on = true;
    }
    s->checked = wr_mono();
    cpu_set_t want = s->from;
    if (wr_ensure_cgroups(w, NULL) == 0) wr_cgroup_unplaced_cpus(w->cgroups, &s->from, &want);
    if (!CPU_EQUAL(&want, &s->current)) {
        if (sched_setaffinity(0, sizeof want, &want) < 0)
            return wr_sys(e, errno, "setting this thread's CPU affinity");
        s->current = want;
    }
    return kept_off(s);
}

void wr_supervisor_recheck(warren *w) {
    w->supervisor.checked = 0;
}

void wr_supervisor_widen(warren *w) {
    const wr_supervisor *s = &w->supervisor;
    if (kept_off(s)) (void)sched_setaffinity(0, sizeof s->from, &s->from);
}

void wr_supervisor_narrow(warren *w) {
    const wr_supervisor *s = &w->supervisor;
    if (kept_off(s)) (void)sched_setaffinity(0, sizeof s->current, &s->current);
}

const cpu_set_t *wr_supervisor_run_cpus(const warren *w) {
    return kept_off(&w->supervisor) ? &w->supervisor.from : NULL;
}

bool wr_supervisor_due(const warren *w) {
    return w->supervisor.on && wr_mono() - w->supervisor.checked >= SUPERVISOR_RECHECK_S;
}
