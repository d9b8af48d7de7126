/* supervisor.h: the CPUs warren's own supervising thread runs on
 * (supervisor.c says why). wr_supervisor_place itself is in tenant.h. */
#pragma once

#include <sched.h>
#include <stdbool.h>

typedef struct warren warren;

/* The state kept in the handle. */
typedef struct wr_supervisor {
    bool on;           /* wr_supervisor_place was called: upkeep keeps it current */
    cpu_set_t from;    /* the thread's CPUs before the first call: what runs ask back */
    cpu_set_t current; /* what it is set to now: kept off some CPUs if not `from` */
    double checked;    /* CLOCK_MONOTONIC seconds of the last look */
} wr_supervisor;

/* The CPUs a run's child asks for back first, or NULL when the supervisor
 * is not kept off any (the child then has them already). */
const cpu_set_t *wr_supervisor_run_cpus(const warren *w);
/* A quota changed here: look again at the next upkeep. */
void wr_supervisor_recheck(warren *w);
/* Whether the upkeep should look again. */
bool wr_supervisor_due(const warren *w);
