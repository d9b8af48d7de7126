/* How results look: the seed's JSON shapes for --json, plain text otherwise. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"


json_t *stats_json(const wr_stats *s) {
    json_t *j = json_object();
    json_object_set_new(j, "user", wr_tenant_json(&s->tenant));
    json_object_set_new(j, "sandbox_count", json_integer((json_int_t)s->sandbox_count));
    json_object_set_new(j, "total_size_mb", json_real(wr_size_mb(s->disk_bytes)));
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
