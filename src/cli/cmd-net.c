/* warren net get|set: a tenant's network mode (net.h, docs/NETWORK.md), and
 * `net helper`, the kernel steps the light `warren` hands over (net-exec.c).
 * Only warren-full has these commands in-process: it links libnl and
 * libnftables, so it does the kernel work itself (wr_net_kernel_ops). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "net-internal.h"
#include "net.h"
#include "util.h"

static int show(cli *c, const wr_tenant *t) {
    wr_err e = WR_ERR_INIT;
    wr_net n;
    wr_net_traffic k;
    if (wr_net_get(c->w, t, &n, &e) < 0 || wr_net_counters(c->w, t, &k, &e) < 0)
        return cli_fail(c, &e);
    char eg[32], in[32];
    wr_net_format_rate(n.egress_bps, eg, sizeof eg);
    wr_net_format_rate(n.ingress_bps, in, sizeof in);
    bool nat = n.mode == WR_NET_NAT;
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "saas_user_id", json_string(t->saas_user_id));
        json_object_set_new(j, "mode", json_string(wr_net_mode_name(n.mode)));
        json_object_set_new(j, "address", nat ? json_string(n.tenant_addr) : json_null());
        json_object_set_new(j, "gateway", nat ? json_string(n.host_addr) : json_null());
        json_object_set_new(j, "prefix_len", nat ? json_integer(n.prefix_len) : json_null());
        json_object_set_new(j, "host_interface", nat ? json_string(n.host_if) : json_null());
        json_object_set_new(j, "egress_bps", json_integer((json_int_t)n.egress_bps));
        json_object_set_new(j, "ingress_bps", json_integer((json_int_t)n.ingress_bps));
        json_object_set_new(j, "egress_rate", json_string(eg));
        json_object_set_new(j, "ingress_rate", json_string(in));
        json_object_set_new(j, "bytes_in", json_integer((json_int_t)k.bytes_in));
        json_object_set_new(j, "bytes_out", json_integer((json_int_t)k.bytes_out));
        json_object_set_new(j, "packets_in", json_integer((json_int_t)k.packets_in));
        json_object_set_new(j, "packets_out", json_integer((json_int_t)k.packets_out));
        print_json(j);
        return EXIT_OK;
    }
    printf("tenant:     %s\nmode:       %s\n", t->saas_user_id, wr_net_mode_name(n.mode));
    if (nat)
        printf("address:    %s/%u via %s (%s on the host)\n", n.tenant_addr, n.prefix_len,
               n.host_addr, n.host_if);
    printf("egress:     %s\ningress:    %s\n", eg, in);
    printf("traffic:    %" PRIu64 " bytes in (%" PRIu64 " packets), %" PRIu64 " bytes out (%" PRIu64
           " packets)\n",
           k.bytes_in, k.packets_in, k.bytes_out, k.packets_out);
    return EXIT_OK;
}

int cmd_net_get(cli *c, char **args) {
    wr_net_use_ops(&wr_net_kernel_ops);
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    if (wr_tenant_get(c->w, args[0], &t, &e) < 0) return cli_fail(c, &e);
    return show(c, &t);
}

int cmd_net_set(cli *c, char **args) {
    if (!c->net_mode) return cli_usage_error("usage: warren net set TENANT --mode none|nat");
    wr_err e = WR_ERR_INIT;
    wr_net_mode mode;
    /* Bad input is refused before anything is opened or changed. */
    if (wr_net_mode_parse(c->net_mode, &mode, &e) < 0) return cli_fail(c, &e);
    wr_net_use_ops(&wr_net_kernel_ops);
    int rc = cli_open(c);
    if (rc) return rc;
    wr_tenant t;
    if (wr_tenant_get(c->w, args[0], &t, &e) < 0 || wr_net_set_mode(c->w, &t, mode, &e) < 0)
        return cli_fail(c, &e);
    return show(c, &t);
}

/* --- net helper ----------------------------------------------------------------
 * Internal: what net-exec.c asks of warren-full. Everything comes on the
 * command line; no registry is opened and no lock taken (the caller holds it). */

static int parse_u64(const char *s, const char *what, uint64_t *ret, wr_err *e) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return wr_invalid(e, "%s '%s': not a number", what, s);
    *ret = v;
    return 0;
}

static int parse_pair(char **a, wr_net_pair *p, wr_err *e) {
    /* HOST_IF HOST_ADDR TENANT_ADDR PREFIX_LEN EGRESS_BPS INGRESS_BPS */
    memset(p, 0, sizeof *p);
    const char *n = a[0] + strlen(WR_NET_IF_PREFIX);
    if (strncmp(a[0], WR_NET_IF_PREFIX, strlen(WR_NET_IF_PREFIX)) || !*n ||
        strspn(n, "0123456789") != strlen(n) || strlen(a[0]) >= sizeof p->host_if)
        return wr_invalid(e, "interface '%s': not one of warren's (" WR_NET_IF_PREFIX "<uid>)",
                          a[0]);
    snprintf(p->host_if, sizeof p->host_if, "%s", a[0]);
    wr_cidr h, t;
    uint64_t len;
    int r;
    if ((r = wr_cidr_parse(a[1], "host address", &h, e)) < 0 ||
        (r = wr_cidr_parse(a[2], "tenant address", &t, e)) < 0 ||
        (r = parse_u64(a[3], "prefix length", &len, e)) < 0 ||
        (r = parse_u64(a[4], "egress rate", &p->egress_bps, e)) < 0 ||
        (r = parse_u64(a[5], "ingress rate", &p->ingress_bps, e)) < 0)
        return r;
    if (len < 8 || len > 30) return wr_invalid(e, "prefix length %s: expected 8 to 30", a[3]);
    p->host_addr = h.addr;
    p->tenant_addr = t.addr;
    p->prefix_len = (unsigned)len;
    return 0;
}

int cmd_net_helper(cli *c, char **args) {
    if (geteuid() != 0) return cli_usage_error("net helper: root only");
    size_t n = 0;
    while (args[n])
        n++;
    const char *op = args[0];
    wr_err e = WR_ERR_INIT;
    const wr_net_ops *k = &wr_net_kernel_ops;
    int r;
    if ((streq(op, "pair") || streq(op, "rates")) && n == 8) {
        wr_net_pair p;
        if ((r = parse_pair(args + 2, &p, &e)) >= 0)
            r = streq(op, "pair") ? k->pair_create(args[1], &p, &e) : k->set_rates(args[1], &p, &e);
    } else if (streq(op, "unpair") && n == 2) {
        r = k->pair_delete(args[1], &e);
    } else if (streq(op, "rules") && n == 2) {
        r = k->rules_apply(args[1], &e);
    } else {
        return cli_usage_error("usage: warren net helper pair|rates NETNS IF HOST_ADDR TENANT_ADDR "
                               "LEN EGRESS INGRESS | unpair IF | rules FILE");
    }
    return r < 0 ? cli_fail(c, &e) : EXIT_OK;
}
