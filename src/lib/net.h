/* A tenant's network: its mode, its rate limits and its traffic counters.
 *
 * Every contained run of a tenant joins the tenant's kept network namespace
 * (netns.h). In mode `none` (the default) that namespace holds loopback only.
 * In mode `nat` it also holds `eth0`, one end of a veth pair whose other end,
 * `wrn<uid>`, is on the host; the pair gets a /30 of the private range
 * (WARREN_NET_RANGE, default 10.210.0.0/16) allocated in the registry, the
 * tenant's side a default route through the host's side, and the host
 * masquerades its traffic through nftables (net-rules.c). The same ruleset
 * drops whatever the tenant sends to the host itself (its loopback services,
 * warren's API), to link-local and metadata addresses, to other tenants or
 * with a source address that is not its own. Rate limits are token-bucket
 * qdiscs on each end of the pair (net-link.c).
 *
 * Functions that change things take the host-wide mutation lock themselves
 * (call them without holding it), except wr_net_tenant_remove and
 * wr_net_reconcile, which run inside the delete and the reconcile that hold
 * it already. Everything here needs root mode. See docs/NETWORK.md. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "tenant.h"

typedef enum wr_net_mode {
    WR_NET_NONE = 0,
    WR_NET_NAT = 1,
} wr_net_mode;

typedef struct wr_net {
    wr_net_mode mode;
    uint64_t egress_bps, ingress_bps; /* bits/s the tenant may send / receive; 0 = unlimited */
    /* nat: the tenant's address, the host side's (its gateway), the prefix
     * length of their subnet and the host side's interface; empty for none. */
    char tenant_addr[16], host_addr[16];
    unsigned prefix_len;
    char host_if[IFNAMSIZ];
} wr_net;

/* Kernel counters of the tenant's veth pair, seen from the tenant: in =
 * received by its namespace, out = sent by it. They count since the pair was
 * made (the tenant's mode became nat, or its first run after a reboot) and
 * are zero in mode none, whose traffic never leaves the namespace. */
typedef struct wr_net_traffic {
    uint64_t bytes_in, bytes_out, packets_in, packets_out;
} wr_net_traffic;

const char *wr_net_mode_name(wr_net_mode m);
/* "none" or "nat"; anything else is an invalid-input error naming it. */
int wr_net_mode_parse(const char *s, wr_net_mode *ret, wr_err *e);
/* A rate as tc writes it, in bits/s: "10mbit", "500kbit", "1gbit", "2500000"
 * (bit/s), "0" or "unlimited" (no limit). Byte units are refused, being the
 * usual source of eight-fold mistakes. */
int wr_net_parse_rate(const char *s, uint64_t *ret_bps, wr_err *e);
/* Formats bits/s back the way wr_net_parse_rate reads it ("10mbit", "unlimited"). */
void wr_net_format_rate(uint64_t bps, char *buf, size_t n);

int wr_net_get(warren *w, const wr_tenant *t, wr_net *ret, wr_err *e);
/* Switches the tenant's mode. To nat: allocates its subnet, makes its
 * namespace if it has none yet, the veth pair, addresses, route, rate limits,
 * and installs the ruleset. To none: removes the pair (running runs lose the
 * network at once), frees the subnet, installs the ruleset without it. */
int wr_net_set_mode(warren *w, const wr_tenant *t, wr_net_mode mode, wr_err *e);
/* Stores the tenant's rates (bits/s, 0 = unlimited) and applies them now if
 * it is in mode nat; otherwise they apply when it becomes nat. */
int wr_net_set_rate(warren *w, const wr_tenant *t, uint64_t egress_bps, uint64_t ingress_bps,
                    wr_err *e);
int wr_net_counters(warren *w, const wr_tenant *t, wr_net_traffic *ret, wr_err *e);

/* For a contained run: an fd (close-on-exec) on the tenant's network
 * namespace, made if needed; for a nat tenant whose pair or ruleset is gone
 * (a reboot made the namespace anew, or the ruleset was flushed) they are
 * made again first. */
int wr_net_open(warren *w, const wr_tenant *t, wr_err *e);
/* Removes the tenant's pair, rules and settings. Caller holds the lock. */
int wr_net_tenant_remove(warren *w, const wr_tenant *t, wr_err *e);
/* Removes what no nat tenant owns any more (settings rows of unknown tenants,
 * host-side interfaces named wrn* of no nat tenant) and installs the ruleset
 * anew. Caller holds the lock. *ret_removed (may be NULL): what it removed. */
int wr_net_reconcile(warren *w, unsigned *ret_removed, wr_err *e);
