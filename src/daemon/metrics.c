/* /metrics in the Prometheus text format: requests and their latency, runs
 * per tenant, refused system calls per tenant, denied requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "daemon.h"
#include "util.h"

void metrics_observe(srv *s, unsigned status, double seconds) {
    s->requests_total++;
    unsigned cls = status / 100;
    s->status_counts[cls >= 1 && cls <= 5 ? cls : 0]++;
    s->lat_sum += seconds;
    for (int i = 0; i < LAT_BUCKETS; i++)
        if (seconds <= lat_bounds[i]) {
            s->lat_counts[i]++;
            break;
        }
}

/* Label values escaped as the format asks: backslash, quote, newline. */
static void label(FILE *f, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void run_line(const char *tenant, uint64_t started, uint64_t active, void *userdata) {
    FILE *f = userdata;
    fputs("warren_runs_started_total{tenant=\"", f);
    label(f, tenant);
    fprintf(f, "\"} %llu\n", (unsigned long long)started);
    fputs("warren_runs_active{tenant=\"", f);
    label(f, tenant);
    fprintf(f, "\"} %llu\n", (unsigned long long)active);
}

static int refusal_line(const wr_audit_event *ev, void *userdata) {
    FILE *f = userdata;
    json_t *d = json_loads(ev->detail_json, 0, NULL);
    const char *sc = d ? json_string_value(json_object_get(d, "syscall")) : NULL;
    json_int_t n = d ? json_integer_value(json_object_get(d, "count")) : 0;
    fputs("warren_refused_syscalls_total{tenant=\"", f);
    label(f, ev->tenant);
    fputs("\",syscall=\"", f);
    label(f, sc ? sc : "?");
    fprintf(f, "\"} %lld\n", (long long)n);
    json_decref(d);
    return 0;
}

int metrics_render(srv *s, char **ret, size_t *ret_len) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return -1;
    fputs("# HELP warren_http_requests_total HTTP requests answered, by status class.\n"
          "# TYPE warren_http_requests_total counter\n", f);
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++)
        fprintf(f, "warren_http_requests_total{code=\"%s\"} %llu\n", cls[i],
                (unsigned long long)s->status_counts[i]);
    fputs("# HELP warren_http_request_duration_seconds Time from request to answer.\n"
          "# TYPE warren_http_request_duration_seconds histogram\n", f);
    uint64_t cum = 0;
    for (int i = 0; i < LAT_BUCKETS; i++) {
        cum += s->lat_counts[i];
        if (i == LAT_BUCKETS - 1)
            fprintf(f, "warren_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                    (unsigned long long)cum);
        else
            fprintf(f, "warren_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                    lat_bounds[i], (unsigned long long)cum);
    }
    fprintf(f, "warren_http_request_duration_seconds_sum %.6f\n", s->lat_sum);
    fprintf(f, "warren_http_request_duration_seconds_count %llu\n", (unsigned long long)cum);
    fprintf(f,
            "# HELP warren_http_denied_total Requests refused for want of a valid token or "
            "right.\n# TYPE warren_http_denied_total counter\nwarren_http_denied_total %llu\n",
            (unsigned long long)s->denied_total);
    fprintf(f,
            "# HELP warren_cross_tenant_attempts_total Requests with one tenant's token for "
            "another.\n# TYPE warren_cross_tenant_attempts_total counter\n"
            "warren_cross_tenant_attempts_total %llu\n",
            (unsigned long long)s->cross_tenant_total);
    fprintf(f,
            "# HELP warren_http_rate_limited_total Requests refused by the per-client rate "
            "limit.\n# TYPE warren_http_rate_limited_total counter\n"
            "warren_http_rate_limited_total %llu\n",
            (unsigned long long)s->rate_limited_total);
    wr_tenant *v = NULL;
    size_t n = 0;
    if (wr_tenant_list(s->w, &v, &n, NULL) == 0) {
        fprintf(f, "# HELP warren_tenants Registered tenants.\n# TYPE warren_tenants gauge\n"
                   "warren_tenants %zu\n",
                n);
        free(v);
    }
    fputs("# HELP warren_runs_started_total Runs this daemon started, per tenant.\n"
          "# TYPE warren_runs_started_total counter\n"
          "# HELP warren_runs_active Runs in progress, per tenant.\n"
          "# TYPE warren_runs_active gauge\n", f);
    runs_counts(s, run_line, f);
    fputs("# HELP warren_refused_syscalls_total System calls the strong level refused.\n"
          "# TYPE warren_refused_syscalls_total counter\n", f);
    wr_audit_filter af = {.type = "syscall_refused"};
    wr_audit_query(s->w, &af, refusal_line, f, NULL);
    fprintf(f, "# HELP warren_uptime_seconds Seconds since the daemon started.\n"
               "# TYPE warren_uptime_seconds gauge\nwarren_uptime_seconds %.3f\n",
            wr_now() - s->started_at);
    if (fclose(f) != 0) {
        free(buf);
        return -1;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}
