/* Per-tenant quotas: what a tenant as a whole may use, across all its runs.
 *
 * Each field is either unset (the host-wide default applies; a default that
 * is unset too means no limit beyond the host's own), a number, or "max"
 * (explicitly unlimited, whatever the default says). The registry keeps the
 * tenant's own values and the host-wide defaults; wr_quota_effective merges
 * them into what is enforced.
 *
 * Where each is enforced:
 *   memory, cpu, cpu_weight, pids  the tenant's cgroup (cgroup.h: v1 memory,
 *                                  cpu, pids hierarchies, or v2 memory.max,
 *                                  memory.swap.max = 0, cpu.max, cpu.weight,
 *                                  pids.max); running runs see a change at once
 *   nofile                         RLIMIT_NOFILE of each run (new runs)
 *   storage, inodes                the storage backend of the home (storage.h)
 *   net_egress, net_ingress        the tenant's network shaping (net.h) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tenant.h"

/* Field values besides a number. */
#define WR_QUOTA_UNSET (-1)       /* not set here: the default applies */
#define WR_QUOTA_MAX INT64_MAX    /* explicitly unlimited */
#define WR_QUOTA_CLEAR (-2)       /* in a change: drop the tenant's value (back to the default) */

typedef struct wr_quota {
    int64_t memory;      /* bytes of memory (swap off) */
    int64_t cpu_milli;   /* thousandths of a core: 500 = half a core */
    int64_t cpu_weight;  /* 1..10000, share against other tenants under contention (100 = even) */
    int64_t pids;        /* processes and threads at once */
    int64_t nofile;      /* open files per process (RLIMIT_NOFILE) */
    int64_t storage;     /* bytes in the home */
    int64_t inodes;      /* files in the home */
    int64_t net_egress;  /* bits per second out of the tenant's network */
    int64_t net_ingress; /* bits per second into it */
} wr_quota;

/* Every field WR_QUOTA_UNSET. */
void wr_quota_init(wr_quota *q);
/* Whether a field's value limits anything (a number, not unset/max). */
static inline bool wr_quota_limited(int64_t v) {
    return v >= 0 && v != WR_QUOTA_MAX;
}

/* Parsing, each naming `what` (e.g. "--memory") in its error:
 * sizes: "512M", "1G", "1048576", "1.5G" (K/M/G/T, powers of 1024, optional
 * "B"/"iB"); rates: "10mbit", "1gbit", "500kbit", "125kbps" (bytes), plain
 * bits per second; cpu: "0.5" cores (up to 3 decimals), "50%"; counts: an
 * integer. Each also takes "max" (unlimited) and "default" (WR_QUOTA_CLEAR). */
int wr_quota_parse_size(const char *what, const char *s, int64_t *ret, wr_err *e);
int wr_quota_parse_rate(const char *what, const char *s, int64_t *ret, wr_err *e);
int wr_quota_parse_cpu(const char *what, const char *s, int64_t *ret_milli, wr_err *e);
int wr_quota_parse_count(const char *what, const char *s, int64_t min, int64_t max, int64_t *ret,
                         wr_err *e);
/* Sets one field from its option name ("memory", "cpu", "cpu-weight", "pids",
 * "nofile", "storage", "inodes", "net-rate" (both directions), "net-egress",
 * "net-ingress") and a value string; the daemon and the CLI share it. */
int wr_quota_parse_option(wr_quota *q, const char *name, const char *value, wr_err *e);

/* The tenant's own values (unset where the default applies). */
int wr_quota_get(warren *w, const char *saas_user_id, wr_quota *ret, wr_err *e);
/* The host-wide defaults. */
int wr_quota_defaults(warren *w, wr_quota *ret, wr_err *e);
/* Own values over defaults: what is enforced. */
int wr_quota_effective(warren *w, const char *saas_user_id, wr_quota *ret, wr_err *e);

/* Changes the fields of `change` that are not WR_QUOTA_UNSET (WR_QUOTA_CLEAR
 * drops the tenant's value), stores them, applies them to the tenant's
 * cgroup, storage and network at once (running runs included, where the
 * kernel allows), and records a quota_changed audit event. If the kernel
 * refuses a value (a memory limit below what the tenant uses now, say), the
 * registry keeps the old values and the error says which. *ret (may be NULL)
 * gets the effective quota after the change. */
int wr_quota_set(warren *w, const char *saas_user_id, const wr_quota *change, wr_quota *ret,
                 wr_err *e);
/* The same for the host-wide defaults (applied to each tenant that has no
 * value of its own for a changed field). */
int wr_quota_set_defaults(warren *w, const wr_quota *change, wr_quota *ret, wr_err *e);

/* Applies the effective quota to the tenant's cgroup (creating it); spawn
 * calls this before each run so a tenant's first run is already limited. */
int wr_quota_apply_cgroup(warren *w, const wr_tenant *t, const wr_quota *q, wr_err *e);

/* The tenant's effective quota from the registry alone, with no cgroup work
 * (wr_quota_effective for a tenant already looked up). */
int wr_quota_of(warren *w, const wr_tenant *t, wr_quota *ret, wr_err *e);

/* For spawn: the tenant's effective quota, its cgroup group made (and
 * limited, if new) on the way. Needs w->cgroups open. */
int wr_quota_run_prepare(warren *w, const wr_tenant *t, wr_quota *ret, wr_err *e);

/* "512M", "0.5", "10mbit", "max", "-" (unset): for listings. */
void wr_quota_format_size(int64_t v, char *buf, size_t n);
void wr_quota_format_rate(int64_t v, char *buf, size_t n);
void wr_quota_format_cpu(int64_t milli, char *buf, size_t n);
