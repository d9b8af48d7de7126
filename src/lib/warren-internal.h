/* What the parts of the tenant API share, and nothing outside src/lib sees:
 * the handle behind `warren *` and the steps tenant.c and reconcile.c both
 * take. */
#pragma once

#include "cgroup.h"
#include "config.h"
#include "err.h"
#include "store.h"
#include "supervisor.h"
#include "tenant.h"
#include "uidset.h"

struct warren {
    wr_config cfg;
    wr_store *store;
    wr_uidset *uids;            /* root mode; loaded on the first mutation */
    int basefd;                 /* the users base */
    int lockfd;                 /* <state_dir>/lock: one mutation at a time, host-wide */
    wr_cgroups *cgroups;        /* opened on the first run */
    struct wr_seccomp *seccomp; /* the strong level's filter, built on first use */
    wr_supervisor supervisor;   /* the calling thread's CPUs, once placed (supervisor.c) */
};

/* Opens the cgroup hierarchy runs are tracked in, on first use. */
int wr_ensure_cgroups(warren *w, wr_err *e);

/* The host-wide mutation lock (flock on <state_dir>/lock). */
int wr_lock_mutations(warren *w, wr_err *e);
void wr_unlock_mutations(warren *w);

/* Loads the host's known IDs on first use, refreshes them after. Root mode only. */
int wr_ensure_uidset(warren *w, wr_err *e);

/* The tenant's four account lines, under the account lock (no-ops without root). */
int wr_account_add(warren *w, const wr_tenant *t, wr_err *e);
int wr_account_remove(warren *w, const wr_tenant *t, wr_err *e);

/* A growing array of tenant rows; wr_rows_collect is a wr_store_foreach
 * callback that appends to it (-ENOMEM on failure). Free `v` when done. */
typedef struct wr_rows {
    wr_tenant *v;
    size_t n, cap;
} wr_rows;
int wr_rows_collect(const wr_tenant *t, void *userdata);

/* Whether the run cgroup `run` (named run-<pid>-...) lost its supervising
 * warren process; a wr_cgroup_reap_runs callback. */
bool wr_run_orphaned(const char *run, void *userdata);
