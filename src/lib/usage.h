/* A tenant's resource use, from the kernel's own counters: its cgroup
 * (memory, CPU, processes, OOM kills), its storage backend, its network
 * namespace's interfaces, and the refused system calls in the registry; with
 * a health word for dashboards. `warren stats`, `warren top` and the API
 * report it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "quota.h"
#include "tenant.h"

typedef struct wr_usage {
    wr_tenant tenant;
    wr_quota quota; /* effective */
    uint64_t memory_current, memory_peak;  /* bytes */
    double cpu_seconds, throttled_seconds; /* CPU used; time held back by the cpu quota */
    uint64_t nr_throttled;
    uint64_t pids_current, pids_peak;
    uint64_t storage_bytes, storage_inodes;
    uint64_t net_rx_bytes, net_tx_bytes; /* into / out of the tenant's network */
    uint64_t oom_kills;                  /* since the tenant's cgroup was made */
    double last_oom_at;                  /* 0: none seen */
    uint64_t refused_syscalls;
    char cpus[256]; /* the CPUs the tenant is placed on; "": all (cgroup-cpus.c) */
    unsigned runs; /* running now */
    bool frozen;
    bool have_memory, have_cpu, have_pids, have_net;
    const char *health; /* "ok", "throttled", "over-quota", "oom-killed" */
} wr_usage;

/* A tenant is "oom-killed" for this long after the kernel's OOM killer ended
 * one of its processes, and "throttled" when its cpu quota held it back
 * since the previous look (at most this long ago). */
#define WR_USAGE_RECENT_SECONDS 600

int wr_tenant_usage(warren *w, const char *saas_user_id, wr_usage *ret, wr_err *e);
