/* A nat tenant's veth pair and its rate limits, over rtnetlink with libnl-route
 * (net-internal.h). Only warren-full links this file (src/lib/program.h).
 *
 * Both namespaces are reached from warren's own process: a netlink socket
 * belongs to the namespace it was opened in, so the tenant's side is worked
 * on through a socket this thread opens after a setns into the tenant's
 * namespace and before the setns back (the thread alone moves; a daemon's
 * other threads never notice). The sysctl that turns IPv6 off is written in
 * the same window, /proc/sys/net being the namespace of whoever opens it.
 *
 * Rates are token-bucket filters (tbf) at the root of each side: what the
 * tenant sends queues on its eth0, what it receives on the host side. Both
 * are egress queues, so nothing needs an ifb or an ingress policer, TCP sees
 * queueing rather than policing drops, and the tenant (which holds no
 * capability in its namespace) cannot change either. */
#include <errno.h>
#include <fcntl.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net-internal.h"
#include "util.h"

static inline void sockp(struct nl_sock **s) {
    if (*s) nl_socket_free(*s);
}
static inline void linkp(struct rtnl_link **l) {
    if (*l) rtnl_link_put(*l);
}
static inline void cachep(struct nl_cache **c) {
    if (*c) nl_cache_free(*c);
}
#define _cleanup_sock_ _cleanup_(sockp)
#define _cleanup_link_ _cleanup_(linkp)
#define _cleanup_cache_ _cleanup_(cachep)

/* fmt has two %s: what failed, then libnl's reason. */
#define nl_fail(e, nlerr, fmt, what) wr_fail((e), WR_ERR_SYSTEM, EIO, fmt, what, nl_geterror(nlerr))

/* Moves this thread into `netns_fd` (-1: stay), returning an fd on where it
 * was, for back(). */
static int enter(int netns_fd, wr_err *e) {
    if (netns_fd < 0) return -1;
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return wr_sys(e, errno, "cannot open this thread's network namespace");
    if (setns(netns_fd, CLONE_NEWNET) < 0) {
        int err = errno;
        close(self);
        return wr_sys(e, err, "cannot enter the tenant's network namespace");
    }
    return self;
}

static void back(int self) {
    if (self < 0) return;
    /* Staying in the tenant's namespace would send warren's own traffic
     * (and every later tenant's setup) through it: never carry on. */
    if (setns(self, CLONE_NEWNET) < 0) abort();
    close(self);
}

/* A route socket in the namespace `netns_fd` (-1: this one). */
static struct nl_sock *route_socket(int netns_fd, wr_err *e) {
    struct nl_sock *sk = nl_socket_alloc();
    if (!sk) {
        wr_sys(e, ENOMEM, "netlink");
        return NULL;
    }
    int self = enter(netns_fd, e);
    if (self < 0 && netns_fd >= 0) {
        nl_socket_free(sk);
        return NULL;
    }
    int r = nl_connect(sk, NETLINK_ROUTE);
    back(self);
    if (r < 0) {
        nl_fail(e, r, "cannot open a netlink socket%s: %s",
                netns_fd >= 0 ? " in a tenant's namespace" : "");
        nl_socket_free(sk);
        return NULL;
    }
    return sk;
}

static int write_sysctl(const char *path, const char *value) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = write(fd, value, strlen(value));
    int r = n < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* IPv6 off on an interface of this thread's namespace before it comes up, so
 * it never gets a link-local address: the tenant's network is IPv4 only. A
 * kernel without IPv6 has no such file, which is as good. */
static int ipv6_off(const char *ifname, wr_err *e) {
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
    int r = write_sysctl(path, "1");
    if (r < 0 && r != -ENOENT) return wr_sys(e, -r, "cannot turn IPv6 off on %s", ifname);
    return 0;
}

static struct nl_addr *ipv4(uint32_t addr, unsigned len) {
    uint32_t be = htonl(addr);
    struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof be);
    if (a) nl_addr_set_prefixlen(a, (int)len);
    return a;
}

static int add_address(struct nl_sock *sk, int ifindex, uint32_t addr, unsigned len,
                       const char *ifname, wr_err *e) {
    struct rtnl_addr *a = rtnl_addr_alloc();
    struct nl_addr *local = ipv4(addr, len);
    int r;
    if (!a || !local) {
        r = wr_sys(e, ENOMEM, "netlink");
    } else {
        rtnl_addr_set_ifindex(a, ifindex);
        rtnl_addr_set_local(a, local);
        rtnl_addr_set_prefixlen(a, (int)len);
        r = rtnl_addr_add(sk, a, NLM_F_REPLACE);
        if (r < 0) r = nl_fail(e, r, "cannot give %s its address: %s", ifname);
    }
    if (local) nl_addr_put(local);
    if (a) rtnl_addr_put(a);
    return r;
}

static int set_up(struct nl_sock *sk, struct rtnl_link *link, const char *ifname, wr_err *e) {
    _cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
    if (!change) return wr_sys(e, ENOMEM, "netlink");
    rtnl_link_set_flags(change, IFF_UP);
    int r = rtnl_link_change(sk, link, change, 0);
    return r < 0 ? nl_fail(e, r, "cannot bring %s up: %s", ifname) : 0;
}

static int default_route(struct nl_sock *sk, int ifindex, uint32_t gateway, wr_err *e) {
    struct rtnl_route *rt = rtnl_route_alloc();
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    struct nl_addr *dst = ipv4(0, 0), *gw = ipv4(gateway, 32);
    int r;
    if (!rt || !nh || !dst || !gw) {
        r = wr_sys(e, ENOMEM, "netlink");
        if (nh) rtnl_route_nh_free(nh);
    } else {
        rtnl_route_set_family(rt, AF_INET);
        rtnl_route_set_table(rt, RT_TABLE_MAIN);
        rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
        rtnl_route_set_protocol(rt, RTPROT_STATIC);
        rtnl_route_set_dst(rt, dst);
        rtnl_route_nh_set_ifindex(nh, ifindex);
        rtnl_route_nh_set_gateway(nh, gw);
        rtnl_route_add_nexthop(rt, nh); /* the route owns it now */
        r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_REPLACE);
        if (r < 0)
            r = nl_fail(e, r, "cannot route the tenant's traffic through %s: %s", "the host");
    }
    if (dst) nl_addr_put(dst);
    if (gw) nl_addr_put(gw);
    if (rt) rtnl_route_put(rt);
    return r;
}

/* A tbf at the root of `ifindex` for `bps` bits/s, or none for 0. */
static int set_rate(struct nl_sock *sk, int ifindex, const char *ifname, uint64_t bps, wr_err *e) {
    _cleanup_cache_ struct nl_cache *cache = NULL;
    int r = rtnl_qdisc_alloc_cache(sk, &cache);
    if (r < 0) return nl_fail(e, r, "cannot read the queues of %s: %s", ifname);
    struct rtnl_qdisc *old = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT);
    if (bps == 0) {
        /* Back to the interface's default: delete ours, if it is there. */
        const char *kind = old ? rtnl_tc_get_kind(TC_CAST(old)) : NULL;
        if (kind && streq(kind, "tbf") && (r = rtnl_qdisc_delete(sk, old)) < 0 &&
            r != -NLE_OBJ_NOTFOUND)
            r = nl_fail(e, r, "cannot remove the rate limit of %s: %s", ifname);
        else
            r = 0;
        if (old) rtnl_qdisc_put(old);
        return r;
    }
    if (old) rtnl_qdisc_put(old);
    struct rtnl_qdisc *q = rtnl_qdisc_alloc();
    if (!q) return wr_sys(e, ENOMEM, "netlink");
    uint64_t bytes = bps / 8;
    /* The bucket holds 10 ms at the rate, and never less than a few full
     * frames (the kernel splits GSO packets larger than the bucket); the
     * queue holds 100 ms more, so a TCP flow is shaped rather than dropped. */
    uint64_t bucket = bytes / 100;
    if (bucket < 4 * 1514) bucket = 4 * 1514;
    rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
    rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
    rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(0x1, 0));
    if ((r = rtnl_tc_set_kind(TC_CAST(q), "tbf")) < 0) {
        rtnl_qdisc_put(q);
        return nl_fail(e, r, "cannot make a rate limit for %s: %s", ifname);
    }
    rtnl_qdisc_tbf_set_rate(q, (int)bytes, (int)bucket, 0);
    rtnl_qdisc_tbf_set_limit(q, (int)(bucket + bytes / 10));
    r = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
    rtnl_qdisc_put(q);
    return r < 0 ? nl_fail(e, r, "cannot set the rate limit of %s: %s", ifname) : 0;
}

static int link_index(struct nl_sock *sk, const char *ifname, struct rtnl_link **ret, wr_err *e) {
    int r = rtnl_link_get_kernel(sk, 0, ifname, ret);
    if (r < 0) return nl_fail(e, r, "cannot find interface %s: %s", ifname);
    return rtnl_link_get_ifindex(*ret);
}

/* The tenant's side, from inside its namespace. */
static int tenant_side(int netns_fd, const wr_net_pair *p, wr_err *e) {
    _cleanup_sock_ struct nl_sock *sk = route_socket(netns_fd, e);
    if (!sk) return -EIO;
    int self = enter(netns_fd, e);
    if (self < 0) return self;
    int r = ipv6_off(WR_NET_TENANT_IF, e);
    back(self);
    if (r < 0) return r;
    _cleanup_link_ struct rtnl_link *link = NULL;
    int idx = link_index(sk, WR_NET_TENANT_IF, &link, e);
    if (idx < 0) return idx;
    if ((r = add_address(sk, idx, p->tenant_addr, p->prefix_len, "the tenant's eth0", e)) < 0 ||
        (r = set_up(sk, link, "the tenant's eth0", e)) < 0 ||
        (r = default_route(sk, idx, p->host_addr, e)) < 0)
        return r;
    return set_rate(sk, idx, "the tenant's eth0", p->egress_bps, e);
}

int wr_netlink_pair_create(int netns_fd, const wr_net_pair *p, wr_err *e) {
    _cleanup_sock_ struct nl_sock *sk = route_socket(-1, e);
    if (!sk) return -EIO;
    int r = wr_netlink_pair_delete(p->host_if, e);
    if (r < 0) return r;

    _cleanup_link_ struct rtnl_link *veth = rtnl_link_veth_alloc();
    if (!veth) return wr_sys(e, ENOMEM, "netlink");
    rtnl_link_set_name(veth, p->host_if);
    struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
    rtnl_link_set_name(peer, WR_NET_TENANT_IF);
    /* Born in the tenant's namespace: its side never exists on the host. */
    rtnl_link_set_ns_fd(peer, netns_fd);
    rtnl_link_put(peer);
    if ((r = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL)) < 0)
        return nl_fail(e, r, "cannot make the veth pair %s: %s", p->host_if);

    _cleanup_link_ struct rtnl_link *host = NULL;
    int idx = link_index(sk, p->host_if, &host, e);
    if (idx < 0) {
        r = idx;
        goto fail;
    }
    if ((r = ipv6_off(p->host_if, e)) < 0 ||
        (r = add_address(sk, idx, p->host_addr, p->prefix_len, p->host_if, e)) < 0 ||
        (r = set_rate(sk, idx, p->host_if, p->ingress_bps, e)) < 0 ||
        (r = set_up(sk, host, p->host_if, e)) < 0 || (r = tenant_side(netns_fd, p, e)) < 0)
        goto fail;
    return 0;
fail:
    wr_netlink_pair_delete(p->host_if, NULL);
    return r;
}

int wr_netlink_pair_delete(const char *host_if, wr_err *e) {
    _cleanup_sock_ struct nl_sock *sk = route_socket(-1, e);
    if (!sk) return -EIO;
    _cleanup_link_ struct rtnl_link *link = rtnl_link_alloc();
    if (!link) return wr_sys(e, ENOMEM, "netlink");
    rtnl_link_set_name(link, host_if);
    int r = rtnl_link_delete(sk, link);
    if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV)
        return nl_fail(e, r, "cannot delete interface %s: %s", host_if);
    return 0;
}

int wr_netlink_set_rates(int netns_fd, const wr_net_pair *p, wr_err *e) {
    _cleanup_sock_ struct nl_sock *host = route_socket(-1, e);
    if (!host) return -EIO;
    _cleanup_sock_ struct nl_sock *tenant = route_socket(netns_fd, e);
    if (!tenant) return -EIO;
    _cleanup_link_ struct rtnl_link *hl = NULL, *tl = NULL;
    int hidx = link_index(host, p->host_if, &hl, e);
    if (hidx < 0) return hidx;
    int tidx = link_index(tenant, WR_NET_TENANT_IF, &tl, e);
    if (tidx < 0) return tidx;
    int r = set_rate(host, hidx, p->host_if, p->ingress_bps, e);
    return r < 0 ? r : set_rate(tenant, tidx, "the tenant's eth0", p->egress_bps, e);
}
