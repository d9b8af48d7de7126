/* warren quota get|set TENANT, quota defaults|set-defaults */
#include <stdio.h>

#include "cli.h"
#include "quota.h"
#include "util.h"

static void print_row(const char *name, const char *own, const char *eff) {
    printf("%-12s %-10s %s\n", name, own, eff);
}

static void print_quota(const wr_quota *own, const wr_quota *eff) {
    char a[32], b[32];
    print_row("QUOTA", own ? "OWN" : "DEFAULT", own ? "EFFECTIVE" : "");
#define ROW(label, fmt, f)                                                                         \
    do {                                                                                           \
        fmt(own ? own->f : eff->f, a, sizeof a);                                                   \
        if (own) fmt(eff->f, b, sizeof b);                                                         \
        /* unset everywhere: no limit (the weight: the even share) */                           \
        print_row(label, a, !own ? "" : eff->f >= 0 ? b : streq(label, "cpu-weight") ? "100" : "max"); \
    } while (0)
    ROW("memory", wr_quota_format_size, memory);
    ROW("cpu", wr_quota_format_cpu, cpu_milli);
    ROW("cpu-weight", wr_quota_format_size, cpu_weight);
    ROW("pids", wr_quota_format_size, pids);
    ROW("nofile", wr_quota_format_size, nofile);
    ROW("storage", wr_quota_format_size, storage);
    ROW("inodes", wr_quota_format_size, inodes);
    ROW("net-egress", wr_quota_format_rate, net_egress);
    ROW("net-ingress", wr_quota_format_rate, net_ingress);
#undef ROW
}

static int show(cli *c, const char *tenant, const wr_quota *own, const wr_quota *eff) {
    if (c->json) {
        json_t *j = json_object();
        if (tenant) {
            json_object_set_new(j, "saas_user_id", json_string(tenant));
            json_object_set_new(j, "own", wr_quota_json(own));
            json_object_set_new(j, "effective", wr_quota_json(eff));
        } else {
            json_object_set_new(j, "defaults", wr_quota_json(eff));
        }
        print_json(j);
    } else {
        print_quota(tenant ? own : NULL, eff);
    }
    return EXIT_OK;
}

/* The options given, parsed; a bad one is a usage error naming it, before
 * anything is opened or changed. */
static int parse_change(cli *c, wr_quota *q) {
    wr_quota_init(q);
    if (!c->nquota)
        return cli_usage_error("quota: nothing to set (give --memory, --cpu, --pids, --nofile, "
                               "--storage, --inodes or --net-rate)");
    for (size_t i = 0; i < c->nquota; i++) {
        wr_err e = WR_ERR_INIT;
        if (wr_quota_parse_option(q, c->quota_name[i], c->quota_value[i], &e) < 0)
            return cli_usage_error("%s", e.msg);
    }
    return 0;
}

int cmd_quota_get(cli *c, char **args) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_quota own, eff;
    if (wr_quota_get(c->w, args[0], &own, &e) < 0 || wr_quota_effective(c->w, args[0], &eff, &e) < 0)
        return cli_fail(c, &e);
    return show(c, args[0], &own, &eff);
}

int cmd_quota_set(cli *c, char **args) {
    wr_quota change, own, eff;
    int rc = parse_change(c, &change);
    if (rc) return rc;
    if ((rc = cli_open(c))) return rc;
    wr_err e = WR_ERR_INIT;
    if (wr_quota_set(c->w, args[0], &change, &eff, &e) < 0 ||
        wr_quota_get(c->w, args[0], &own, &e) < 0)
        return cli_fail(c, &e);
    return show(c, args[0], &own, &eff);
}

int cmd_quota_defaults(cli *c, char **args) {
    (void)args;
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_quota d;
    if (wr_quota_defaults(c->w, &d, &e) < 0) return cli_fail(c, &e);
    return show(c, NULL, NULL, &d);
}

int cmd_quota_set_defaults(cli *c, char **args) {
    (void)args;
    wr_quota change, d;
    int rc = parse_change(c, &change);
    if (rc) return rc;
    if ((rc = cli_open(c))) return rc;
    wr_err e = WR_ERR_INIT;
    if (wr_quota_set_defaults(c->w, &change, &d, &e) < 0) return cli_fail(c, &e);
    return show(c, NULL, NULL, &d);
}
