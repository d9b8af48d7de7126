/* warren stats TENANT, warren top: a tenant's resource use (usage.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "usage.h"
#include "util.h"

/* A quota for the text view: its value, or "none". */
static void lim_text(void (*fmt)(int64_t, char *, size_t), int64_t v, char *buf, size_t n) {
    if (wr_quota_limited(v))
        fmt(v, buf, n);
    else
        snprintf(buf, n, "none");
}

static void print_usage_text(const wr_usage *u) {
    char lim[32];
    printf("tenant      %s (%s)\nhealth      %s%s\nruns        %u\n", u->tenant.saas_user_id,
           u->tenant.linux_username, u->health, u->frozen ? " (frozen)" : "", u->runs);
    lim_text(wr_quota_format_size, u->quota.memory, lim, sizeof lim);
    printf("memory      %.1f MiB now, %.1f MiB peak (quota %s)\n", wr_size_mb(u->memory_current),
           wr_size_mb(u->memory_peak), lim);
    lim_text(wr_quota_format_cpu, u->quota.cpu_milli, lim, sizeof lim);
    printf("cpu         %.2f s, throttled %.2f s (quota %s%s; cpus %s)\n", u->cpu_seconds,
           u->throttled_seconds, lim, wr_quota_limited(u->quota.cpu_milli) ? " cores" : "",
           u->cpus[0] ? u->cpus : "all");
    lim_text(wr_quota_format_size, u->quota.pids, lim, sizeof lim);
    printf("processes   %llu now, %llu peak (quota %s)\n", (unsigned long long)u->pids_current,
           (unsigned long long)u->pids_peak, lim);
    lim_text(wr_quota_format_size, u->quota.storage, lim, sizeof lim);
    printf("storage     %.1f MiB (quota %s)\n", wr_size_mb(u->storage_bytes), lim);
    printf("network     %llu bytes in, %llu bytes out\n", (unsigned long long)u->net_rx_bytes,
           (unsigned long long)u->net_tx_bytes);
    printf("oom kills   %llu\nrefused     %llu system calls\n", (unsigned long long)u->oom_kills,
           (unsigned long long)u->refused_syscalls);
}

int cmd_stats(cli *c, char **args) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_usage u;
    if (wr_tenant_usage(c->w, args[0], &u, &e) < 0) return cli_fail(c, &e);
    if (c->json)
        print_json(wr_usage_json(&u));
    else
        print_usage_text(&u);
    return EXIT_OK;
}

static int by_memory(const void *a, const void *b) {
    const wr_usage *x = a, *y = b;
    return (x->memory_current < y->memory_current) - (x->memory_current > y->memory_current);
}

int cmd_top(cli *c, char **args) {
    (void)args;
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_tenant *ts;
    size_t n;
    if (wr_tenant_list(c->w, &ts, &n, &e) < 0) return cli_fail(c, &e);
    wr_usage *us = calloc(n ? n : 1, sizeof *us);
    if (!us) {
        free(ts);
        wr_sys(&e, ENOMEM, "top");
        return cli_fail(c, &e);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        wr_err te = WR_ERR_INIT;
        /* A tenant deleted meanwhile is simply not listed. */
        if (wr_tenant_usage(c->w, ts[i].saas_user_id, &us[m], &te) == 0)
            m++;
        else if (te.kind != WR_ERR_NOT_FOUND) {
            free(ts);
            free(us);
            return cli_fail(c, &te);
        }
    }
    free(ts);
    qsort(us, m, sizeof *us, by_memory);
    if (c->json) {
        json_t *list = json_array();
        for (size_t i = 0; i < m; i++)
            json_array_append_new(list, wr_usage_json(&us[i]));
        print_json(json_pack("{s:I,s:o}", "count", (json_int_t)m, "tenants", list));
    } else {
        printf("%-28s %-10s %4s %9s %9s %8s %8s %5s %9s %4s\n", "TENANT", "HEALTH", "RUNS",
               "MEM(MiB)", "PEAK", "CPU(s)", "THROT(s)", "PROCS", "DISK(MiB)", "OOM");
        for (size_t i = 0; i < m; i++) {
            const wr_usage *u = &us[i];
            printf("%-28.28s %-10s %4u %9.1f %9.1f %8.2f %8.2f %5llu %9.1f %4llu\n",
                   u->tenant.saas_user_id, u->health, u->runs, wr_size_mb(u->memory_current),
                   wr_size_mb(u->memory_peak), u->cpu_seconds, u->throttled_seconds,
                   (unsigned long long)u->pids_current, wr_size_mb(u->storage_bytes),
                   (unsigned long long)u->oom_kills);
        }
    }
    free(us);
    return EXIT_OK;
}
