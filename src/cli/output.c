/* How results look: the seed's JSON shapes for --json, plain text otherwise. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"

/* Field order is part of the contract: pactown's IsolatedUser.to_dict(). */
json_t *tenant_json(const wr_tenant *t) {
    json_t *j = json_object();
    json_object_set_new(j, "saas_user_id", json_string(t->saas_user_id));
    json_object_set_new(j, "linux_username", json_string(t->linux_username));
    json_object_set_new(j, "linux_uid", json_integer(t->uid));
    json_object_set_new(j, "linux_gid", json_integer(t->gid));
    json_object_set_new(j, "home_dir", json_string(t->home_dir));
    json_object_set_new(j, "created_at", json_real(t->created_at));
    return j;
}

/* pactown reports round(bytes / MiB, 2). */
double size_mb(uint64_t bytes) {
    return round((double)bytes / (1024.0 * 1024.0) * 100.0) / 100.0;
}

json_t *stats_json(const wr_stats *s) {
    json_t *j = json_object();
    json_object_set_new(j, "user", tenant_json(&s->tenant));
    json_object_set_new(j, "sandbox_count", json_integer((json_int_t)s->sandbox_count));
    json_object_set_new(j, "total_size_mb", json_real(size_mb(s->disk_bytes)));
    return j;
}

void print_json(json_t *j) {
    /* 16 significant digits print a timestamp to the microsecond without the
     * binary noise of 17. */
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    fputc('\n', stdout);
    json_decref(j);
}

void format_time(double t, char *buf, size_t n) {
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}
