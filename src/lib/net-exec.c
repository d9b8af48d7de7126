/* The kernel work of the nat network handed to warren-full (net-internal.h):
 * the light `warren` does not link libnl or libnftables (src/lib/program.h),
 * so when a run, a delete, a reconcile or a quota change needs a pair made or
 * the ruleset installed, it runs `warren-full net helper OP ARGS...`. The
 * helper is given everything on its command line (and the ruleset as the file
 * net-rules.c wrote): it opens no registry and takes no lock, so the caller
 * may hold the mutation lock while it waits. */
#include <inttypes.h>
#include <stdio.h>

#include "net-internal.h"
#include "program.h"

static int pair_argv(const char *op, const char *netns_path, const wr_net_pair *p, wr_err *e) {
    char host[16], tenant[16], len[8], eg[24], in[24];
    wr_ipv4_format(p->host_addr, host);
    wr_ipv4_format(p->tenant_addr, tenant);
    snprintf(len, sizeof len, "%u", p->prefix_len);
    snprintf(eg, sizeof eg, "%" PRIu64, p->egress_bps);
    snprintf(in, sizeof in, "%" PRIu64, p->ingress_bps);
    char *argv[] = {"warren-full",
                    "net",
                    "helper",
                    (char *)op,
                    (char *)netns_path,
                    (char *)p->host_if,
                    host,
                    tenant,
                    len,
                    eg,
                    in,
                    NULL};
    return wr_full_run(argv, e);
}

static int pair_create(const char *netns_path, const wr_net_pair *p, wr_err *e) {
    return pair_argv("pair", netns_path, p, e);
}

static int set_rates(const char *netns_path, const wr_net_pair *p, wr_err *e) {
    return pair_argv("rates", netns_path, p, e);
}

static int pair_delete(const char *host_if, wr_err *e) {
    char *argv[] = {"warren-full", "net", "helper", "unpair", (char *)host_if, NULL};
    return wr_full_run(argv, e);
}

static int rules_apply(const char *path, wr_err *e) {
    char *argv[] = {"warren-full", "net", "helper", "rules", (char *)path, NULL};
    return wr_full_run(argv, e);
}

const wr_net_ops wr_net_exec_ops = {
    .pair_create = pair_create,
    .pair_delete = pair_delete,
    .set_rates = set_rates,
    .rules_apply = rules_apply,
};
