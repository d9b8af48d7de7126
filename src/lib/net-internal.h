/* The parts of the tenant network (net.h) and what they share: addresses and
 * rates as text (net-addr.c), the nftables ruleset (net-rules.c) and the
 * links, addresses, routes and qdiscs made over netlink (net-link.c). net.c
 * decides; these files only carry out. Addresses are IPv4 in host order. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "net.h"

/* The host side of a tenant's pair is "wrn<uid>"; rules match the prefix. */
#define WR_NET_IF_PREFIX "wrn"
/* The tenant's side, inside its namespace. */
#define WR_NET_TENANT_IF "eth0"
/* Each tenant gets a /30: network, host side, tenant, broadcast. */
#define WR_NET_SUBNET_LEN 30u
#define WR_NET_RANGE_DEFAULT "10.210.0.0/16"

typedef struct wr_cidr {
    uint32_t addr;
    unsigned len;
} wr_cidr;

/* --- net-addr.c -------------------------------------------------------------- */

/* "a.b.c.d/len" (len 0..32; "a.b.c.d" alone is /32); host bits must be zero.
 * `what` names the input in the error. */
int wr_cidr_parse(const char *s, const char *what, wr_cidr *ret, wr_err *e);
void wr_ipv4_format(uint32_t addr, char buf[16]);
bool wr_cidr_contains(const wr_cidr *c, uint32_t addr);
/* The range tenants' subnets come from: WARREN_NET_RANGE or the default; a
 * private (RFC 1918 or 100.64.0.0/10) block of /8 to /28. */
int wr_net_range(wr_cidr *ret, wr_err *e);
/* How many connections one nat tenant may have open through the host at
 * once (WARREN_NET_MAX_CONNS, default 4096, 0 = no cap): the host's
 * connection tracking table is shared by every tenant and the host itself. */
#define WR_NET_MAX_CONNS_DEFAULT 4096u
int wr_net_max_conns(unsigned *ret, wr_err *e);
/* Extra destinations nat tenants may not reach (WARREN_NET_DENY, comma
 * separated CIDRs, e.g. the host's LAN). *ret malloc'ed (NULL when none). */
int wr_net_extra_deny(wr_cidr **ret, size_t *ret_n, wr_err *e);

/* --- net-rules.c ------------------------------------------------------------- */

typedef struct wr_net_rule_tenant {
    char host_if[IFNAMSIZ];
    uint32_t addr; /* the tenant's own address */
    wr_cidr subnet;
} wr_net_rule_tenant;

typedef struct wr_net_ruleset {
    wr_cidr range;
    const wr_net_rule_tenant *tenants;
    size_t ntenants;
    const wr_cidr *deny; /* WARREN_NET_DENY */
    size_t ndeny;
    unsigned max_conns; /* per tenant, 0 = no cap */
    /* The host did not forward before warren turned forwarding on for its
     * tenants: the ruleset keeps every other forwarded packet dropped. */
    bool forward_guard;
} wr_net_ruleset;

/* The ruleset as nft text: one transaction that creates `table inet warren`
 * if missing, deletes it and makes it anew, so a reader never sees it half
 * replaced; with no tenants, it only deletes the table. Malloc'ed. */
char *wr_net_rules_text(const wr_net_ruleset *rs);
/* Writes it to <state_dir>/net-rules.nft (0600, replaced by rename): what the
 * kernel is given, and what an administrator can read. */
int wr_net_rules_write(const char *state_dir, const wr_net_ruleset *rs, char *ret_path, size_t n,
                       wr_err *e);

/* --- net-kstate.c: the kernel's network state, read without libnl or
 * libnftables (the light `warren` runs these on every run) ------------------- */

bool wr_net_if_exists(const char *ifname);
/* 1 if warren's table is installed (its forward chain is there), 0 if not. */
int wr_net_rules_present(wr_err *e);
/* The counters of an interface of warren's namespace (/proc/net/dev), seen
 * from the far end of the pair. -ENOENT if there is no such interface. */
int wr_net_if_traffic(const char *host_if, wr_net_traffic *ret, wr_err *e);
/* Calls fn with the name of every interface here whose name starts with
 * `prefix`; stops at fn's first non-zero return and returns it. */
int wr_net_if_foreach(const char *prefix, int (*fn)(const char *ifname, void *userdata),
                      void *userdata, wr_err *e);

/* --- the kernel work: a table of operations ---------------------------------- */

typedef struct wr_net_pair {
    char host_if[IFNAMSIZ];
    uint32_t host_addr, tenant_addr;
    unsigned prefix_len;
    uint64_t egress_bps, ingress_bps; /* 0 = unlimited */
} wr_net_pair;

/* What changes links, qdiscs and rules. Two implementations: net-kernel.c
 * does it in-process with libnl-route and libnftables (only warren-full links
 * them); net-exec.c has warren-full do it, for code running in the light
 * `warren` (a run whose tenant's pair is missing, a delete, a reconcile, a
 * quota change). None of them takes the mutation lock or opens the registry:
 * the caller holds the lock. */
typedef struct wr_net_ops {
    /* Makes the pair (replacing a stale host side of the same name): the host
     * side here, eth0 in the namespace mounted at netns_path, addresses, the
     * tenant's default route through the host side, IPv6 off on both, both
     * up, the rates. */
    int (*pair_create)(const char *netns_path, const wr_net_pair *p, wr_err *e);
    /* Deletes the host side, which takes the tenant's side with it; missing is fine. */
    int (*pair_delete)(const char *host_if, wr_err *e);
    /* Egress on the tenant's side, ingress on the host's side: a token bucket,
     * or none for 0. */
    int (*set_rates)(const char *netns_path, const wr_net_pair *p, wr_err *e);
    /* Installs the ruleset file wr_net_rules_write made. */
    int (*rules_apply)(const char *path, wr_err *e);
} wr_net_ops;

extern const wr_net_ops wr_net_exec_ops;   /* net-exec.c */
extern const wr_net_ops wr_net_kernel_ops; /* net-kernel.c (warren-full only) */
/* The table net.c uses; wr_net_exec_ops until a program that links
 * net-kernel.c says otherwise. */
void wr_net_use_ops(const wr_net_ops *ops);

/* --- net-link.c (libnl-route; warren-full only) ----------------------------- */

int wr_netlink_pair_create(int netns_fd, const wr_net_pair *p, wr_err *e);
int wr_netlink_pair_delete(const char *host_if, wr_err *e);
int wr_netlink_set_rates(int netns_fd, const wr_net_pair *p, wr_err *e);
