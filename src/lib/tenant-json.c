#include "tenant-json.h"

#include <math.h>

json_t *wr_tenant_json(const wr_tenant *t) {
    json_t *j = json_object();
    json_object_set_new(j, "saas_user_id", json_string(t->saas_user_id));
    json_object_set_new(j, "linux_username", json_string(t->linux_username));
    json_object_set_new(j, "linux_uid", json_integer(t->uid));
    json_object_set_new(j, "linux_gid", json_integer(t->gid));
    json_object_set_new(j, "home_dir", json_string(t->home_dir));
    json_object_set_new(j, "created_at", json_real(t->created_at));
    return j;
}

/* -1 (unset) -> null, unlimited -> "max", else the number. */
static json_t *limit_json(int64_t v) {
    if (v == WR_QUOTA_MAX) return json_string("max");
    if (v < 0) return json_null();
    return json_integer((json_int_t)v);
}

json_t *wr_quota_json(const wr_quota *q) {
    json_t *cpu = q->cpu_milli == WR_QUOTA_MAX ? json_string("max")
                  : q->cpu_milli < 0           ? json_null()
                                               : json_real((double)q->cpu_milli / 1000);
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "memory", limit_json(q->memory),
                     "cpu", cpu, "cpu_weight", limit_json(q->cpu_weight), "pids",
                     limit_json(q->pids), "nofile", limit_json(q->nofile), "storage",
                     limit_json(q->storage), "inodes", limit_json(q->inodes), "net_egress",
                     limit_json(q->net_egress), "net_ingress", limit_json(q->net_ingress));
}

/* A usage limit: the number, or null when there is none. */
static json_t *usage_limit_json(int64_t v) {
    return wr_quota_limited(v) ? json_integer((json_int_t)v) : json_null();
}

json_t *wr_usage_json(const wr_usage *u) {
    json_t *cpu_quota = wr_quota_limited(u->quota.cpu_milli)
                            ? json_real((double)u->quota.cpu_milli / 1000)
                            : json_null();
    json_t *cpus = u->cpus[0] ? json_string(u->cpus) : json_null();
    return json_pack(
        "{s:s,s:s,s:s,s:i,s:b,"
        "s:{s:I,s:I,s:o},s:{s:f,s:f,s:I,s:o,s:o},s:{s:I,s:I,s:o},"
        "s:{s:I,s:I,s:o},s:{s:I,s:I},s:I,s:I}",
        "saas_user_id", u->tenant.saas_user_id, "linux_username", u->tenant.linux_username,
        "health", u->health ? u->health : "ok", "runs", (int)u->runs, "frozen", u->frozen, /**/
        "memory", "current", (json_int_t)u->memory_current, "peak", (json_int_t)u->memory_peak,
        "max", usage_limit_json(u->quota.memory), /**/
        "cpu", "seconds", u->cpu_seconds, "throttled_seconds", u->throttled_seconds,
        "nr_throttled", (json_int_t)u->nr_throttled, "max_cores", cpu_quota, "cpus", cpus, /**/
        "pids", "current", (json_int_t)u->pids_current, "peak", (json_int_t)u->pids_peak, "max",
        usage_limit_json(u->quota.pids), /**/
        "storage", "bytes", (json_int_t)u->storage_bytes, "inodes",
        (json_int_t)u->storage_inodes, "max", usage_limit_json(u->quota.storage), /**/
        "network", "rx_bytes", (json_int_t)u->net_rx_bytes, "tx_bytes",
        (json_int_t)u->net_tx_bytes, /**/
        "oom_kills", (json_int_t)u->oom_kills, "refused_syscalls",
        (json_int_t)u->refused_syscalls);
}

double wr_size_mb(uint64_t bytes) {
    return round((double)bytes / (1024.0 * 1024.0) * 100.0) / 100.0;
}
