/* A tenant's resource use (see usage.h).
 *
 * The kernel's counters are cumulative (OOM kills, throttled time), so the
 * health word needs the previous look: each call keeps "oom_kills
 * throttled_usec at last_oom_at pids_refused last_refused_at" in the
 * registry's meta table under usage:<tenant>, and compares. A tenant looked at for the first time, with
 * runs going, is sampled twice 100 ms apart to tell whether it is being
 * throttled now. */
#include "usage.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "cgroup.h"
#include "storage.h"
#include "store.h"
#include "util.h"
#include "warren-internal.h"
#include "net.h"

typedef struct seen {
    uint64_t oom_kills, throttled_usec, pids_refused;
    double at, last_oom_at, last_refused_at;
} seen;

static bool load_seen(warren *w, const char *key, seen *s) {
    char buf[256];
    if (wr_store_get_meta(w->store, key, buf, sizeof buf, NULL) < 0) return false;
    /* Five fields before warren kept the time of the last refused fork. */
    return sscanf(buf, "%" SCNu64 " %" SCNu64 " %lf %lf %" SCNu64 " %lf", &s->oom_kills,
                  &s->throttled_usec, &s->at, &s->last_oom_at, &s->pids_refused,
                  &s->last_refused_at) >= 5;
}

int wr_tenant_usage(warren *w, const char *saas_user_id, wr_usage *ret, wr_err *e) {
    wr_usage u = {0};
    int r = wr_tenant_get(w, saas_user_id, &u.tenant, e);
    if (r < 0) return r;
    if ((r = wr_quota_effective(w, saas_user_id, &u.quota, e)) < 0) return r;
    if ((r = wr_ensure_cgroups(w, e)) < 0) return r;

    wr_cgroup_stats cs;
    if ((r = wr_cgroup_tenant_stats(w->cgroups, u.tenant.linux_username, &cs, e)) < 0) return r;
    double now = wr_now();
    char key[WR_TENANT_ID_MAX + 16];
    snprintf(key, sizeof key, "usage:%s", u.tenant.saas_user_id);
    seen prev = {0};
    bool had = load_seen(w, key, &prev) && now - prev.at < WR_USAGE_RECENT_SECONDS;
    if (!had && cs.runs > 0 && cs.have_cpu) {
        prev.throttled_usec = cs.throttled_usec;
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        wr_cgroup_tenant_stats(w->cgroups, u.tenant.linux_username, &cs, NULL);
        had = true;
    }
    /* A counter below the remembered one: the group was made anew. */
    if (cs.oom_kills > prev.oom_kills || (cs.oom_kills && cs.oom_kills < prev.oom_kills))
        prev.last_oom_at = now;
    bool throttled = had && cs.throttled_usec > prev.throttled_usec;
    /* Forks the pids limit refused since the last look, or within the last
     * minute: at its quota. (A bomb whose forks fail may burn out between
     * two looks; one look just before must not hide it.) */
    if (cs.pids_max_events > prev.pids_refused ||
        (cs.pids_max_events && cs.pids_max_events < prev.pids_refused))
        prev.last_refused_at = now;
    bool pids_refused = prev.last_refused_at > 0 && now - prev.last_refused_at < 60;
    char val[256];
    snprintf(val, sizeof val, "%" PRIu64 " %" PRIu64 " %.6f %.6f %" PRIu64 " %.6f", cs.oom_kills,
             cs.throttled_usec, now, prev.last_oom_at, cs.pids_max_events, prev.last_refused_at);
    (void)wr_store_set_meta(w->store, key, val, NULL);

    u.memory_current = cs.memory_current;
    u.memory_peak = cs.memory_peak;
    u.cpu_seconds = (double)cs.cpu_usec / 1e6;
    u.throttled_seconds = (double)cs.throttled_usec / 1e6;
    u.nr_throttled = cs.nr_throttled;
    u.pids_current = cs.pids_current;
    u.pids_peak = cs.pids_peak;
    u.oom_kills = cs.oom_kills;
    u.last_oom_at = prev.last_oom_at;
    u.runs = cs.runs;
    snprintf(u.cpus, sizeof u.cpus, "%s", cs.cpus);
    u.frozen = cs.frozen;
    u.have_memory = cs.have_memory;
    u.have_cpu = cs.have_cpu;
    u.have_pids = cs.have_pids;

    /* The storage backend's counters (btrfs: the qgroup's; dir: a walk). */
    bool want_inodes = wr_quota_limited(u.quota.inodes);
    if ((r = wr_storage_usage(w, &u.tenant, &u.storage_bytes, want_inodes ? &u.storage_inodes : NULL,
                              e)) < 0)
        return r;
    wr_net_traffic nc;
    if (wr_net_counters(w, &u.tenant, &nc, NULL) == 0) {
        u.net_rx_bytes = nc.bytes_in;
        u.net_tx_bytes = nc.bytes_out;
        u.have_net = true;
    }
    wr_refusal *ref = NULL;
    size_t nref = 0;
    if (wr_tenant_refusals(w, saas_user_id, &ref, &nref, NULL) == 0)
        for (size_t i = 0; i < nref; i++)
            u.refused_syscalls += ref[i].count;
    free(ref);

    /* At a limit, or within 2% of it: btrfs refuses writes a little before
     * the referenced bytes reach the limit (metadata counts too). */
    bool over = (wr_quota_limited(u.quota.storage) &&
                 u.storage_bytes >= (uint64_t)u.quota.storage / 100 * 98) ||
                (want_inodes && u.storage_inodes >= (uint64_t)u.quota.inodes) ||
                (cs.pids_max && cs.pids_current >= cs.pids_max) || pids_refused ||
                (cs.memory_max && u.memory_current >= cs.memory_max / 100 * 98);
    u.health = u.last_oom_at > 0 && now - u.last_oom_at < WR_USAGE_RECENT_SECONDS ? "oom-killed"
               : over                                                              ? "over-quota"
               : throttled                                                         ? "throttled"
                                                                                   : "ok";
    *ret = u;
    return 0;
}
