/* Tenants' network modes and rates (net.h): the decisions, kept in the
 * registry (table tenant_net), carried out through a table of operations
 * (net-internal.h): in-process with libnl and libnftables in warren-full,
 * through `warren-full net helper` from the light `warren`, which links
 * neither. What a run checks on its way (net-kstate.c) needs neither.
 *
 * The registry is the truth; the kernel's state is made from it and may be
 * made again at any time: after a reboot the first run of a nat tenant
 * rebuilds its pair and the ruleset (wr_net_open), and reconcile removes
 * what no tenant owns. The ruleset is always regenerated whole from the
 * registry, never edited, so it cannot drift from it.
 *
 * Forwarding: a nat tenant's packets are routed by the host, which needs
 * net.ipv4.ip_forward. If the host did not forward, warren turns it on with
 * the first nat tenant and off with the last, and while on, its ruleset
 * drops every forwarded packet that is not a tenant's (the registry's meta
 * key net_forward_guard remembers this, for the current boot): the host does
 * not become a router for anything else. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net-internal.h"
#include "netns.h"
#include "quota.h"
#include "store.h"
#include "util.h"
#include "warren-internal.h"

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

/* Who changes links and rules: warren-full through a helper, unless the
 * program links the in-process implementation (net-internal.h). */
static const wr_net_ops *ops = &wr_net_exec_ops;

void wr_net_use_ops(const wr_net_ops *o) {
    ops = o;
}

static void netns_path(warren *w, const wr_tenant *t, char *buf, size_t n) {
    snprintf(buf, n, "%s/netns/%s", w->cfg.state_dir, t->linux_username);
}

static void host_if_of(const wr_tenant *t, char buf[IFNAMSIZ]) {
    snprintf(buf, IFNAMSIZ, WR_NET_IF_PREFIX "%u", (unsigned)t->uid);
}

static int need_root(warren *w, wr_err *e) {
    if (!w->cfg.root_mode)
        return wr_fail(e, WR_ERR_DENIED, EPERM,
                       "network modes need root mode: only root makes interfaces and rules");
    return 0;
}

/* The tenant's row, or the defaults (mode none) if it has none. The rates
 * are the quota's (quota.h: the tenant's own or the host-wide default), which
 * the row only remembers as last applied. */
static int load(warren *w, const wr_tenant *t, wr_net_row *ret, wr_err *e) {
    int r = wr_store_net_get(w->store, t->saas_user_id, ret, e);
    if (r == -ENOENT) {
        memset(ret, 0, sizeof *ret);
        snprintf(ret->saas_user_id, sizeof ret->saas_user_id, "%s", t->saas_user_id);
        snprintf(ret->mode, sizeof ret->mode, "none");
    } else if (r < 0)
        return r;
    wr_quota q;
    if (wr_quota_effective(w, t->saas_user_id, &q, NULL) == 0) {
        ret->egress_bps = wr_quota_limited(q.net_egress) ? (uint64_t)q.net_egress : 0;
        ret->ingress_bps = wr_quota_limited(q.net_ingress) ? (uint64_t)q.net_ingress : 0;
    }
    return 0;
}

static bool is_nat(const wr_net_row *row) {
    return streq(row->mode, "nat") && row->subnet != 0;
}

static void pair_of(const wr_tenant *t, const wr_net_row *row, wr_net_pair *p) {
    memset(p, 0, sizeof *p);
    host_if_of(t, p->host_if);
    p->host_addr = row->subnet + 1;
    p->tenant_addr = row->subnet + 2;
    p->prefix_len = WR_NET_SUBNET_LEN;
    p->egress_bps = row->egress_bps;
    p->ingress_bps = row->ingress_bps;
}

/* --- the ruleset and forwarding ------------------------------------------- */

typedef struct rules_acc {
    warren *w;
    wr_net_rule_tenant *v;
    size_t n, cap;
    wr_err *e;
} rules_acc;

static int collect_nat(const wr_net_row *row, void *userdata) {
    rules_acc *a = userdata;
    if (!is_nat(row)) return 0;
    wr_tenant t;
    /* A row outliving its tenant gets no rule (reconcile drops it). */
    if (wr_store_get(a->w->store, row->saas_user_id, &t, NULL) < 0) return 0;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        wr_net_rule_tenant *v = realloc(a->v, cap * sizeof *v);
        if (!v) return wr_sys(a->e, ENOMEM, "network ruleset");
        a->v = v;
        a->cap = cap;
    }
    wr_net_rule_tenant *rt = &a->v[a->n++];
    host_if_of(&t, rt->host_if);
    rt->addr = row->subnet + 2;
    rt->subnet = (wr_cidr){row->subnet, WR_NET_SUBNET_LEN};
    return 0;
}

static int read_forwarding(bool *ret, wr_err *e) {
    char c = '0';
    int fd = open(IP_FORWARD, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &c, 1) != 1) {
        int err = errno;
        if (fd >= 0) close(fd);
        return wr_sys(e, err, "cannot read %s", IP_FORWARD);
    }
    close(fd);
    *ret = c != '0';
    return 0;
}

static int write_forwarding(bool on, wr_err *e) {
    int fd = open(IP_FORWARD, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, on ? "1" : "0", 1) != 1) {
        int err = errno;
        if (fd >= 0) close(fd);
        return wr_sys(e, err, "cannot write %s", IP_FORWARD);
    }
    close(fd);
    return 0;
}

static bool meta_flag(warren *w, const char *key) {
    char v[8];
    return wr_store_get_meta(w->store, key, v, sizeof v, NULL) == 0 && streq(v, "1");
}

/* The kernel's boot id: forwarding turned on by warren is undone by a
 * reboot, so the guard holds for the boot it was set in only. */
static void boot_id(char out[40]) {
    out[0] = '\0';
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, 39);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

static bool guard_set(warren *w) {
    char v[40], now[40];
    boot_id(now);
    return wr_store_get_meta(w->store, "net_forward_guard", v, sizeof v, NULL) == 0 && v[0] &&
           streq(v, now);
}

static int apply_rules(warren *w, const wr_net_ruleset *rs, wr_err *e) {
    char path[4200];
    int r = wr_net_rules_write(w->cfg.state_dir, rs, path, sizeof path, e);
    return r < 0 ? r : ops->rules_apply(path, e);
}

/* Makes the kernel's ruleset and forwarding agree with the registry. Under
 * the lock. Each order below leaves no moment where the host forwards
 * unguarded. */
static int install_rules(warren *w, wr_err *e) {
    wr_cidr range;
    int r = wr_net_range(&range, e);
    if (r < 0) return r;
    _cleanup_free_ wr_cidr *deny = NULL;
    size_t ndeny = 0;
    if ((r = wr_net_extra_deny(&deny, &ndeny, e)) < 0) return r;
    unsigned max_conns;
    if ((r = wr_net_max_conns(&max_conns, e)) < 0) return r;
    rules_acc acc = {.w = w, .e = e};
    if ((r = wr_store_net_foreach(w->store, collect_nat, &acc, e)) < 0) goto out;
    bool guard = guard_set(w);
    wr_net_ruleset rs = {.range = range,
                         .tenants = acc.v,
                         .ntenants = acc.n,
                         .deny = deny,
                         .ndeny = ndeny,
                         .max_conns = max_conns};
    if (acc.n == 0) {
        /* A host that never had a nat tenant never sees warren touch its
         * firewall, not even to look. */
        if (guard) {
            if ((r = write_forwarding(false, e)) < 0) goto out;
            if ((r = wr_store_set_meta(w->store, "net_forward_guard", "", e)) < 0) goto out;
        }
        if (meta_flag(w, "net_rules")) {
            if ((r = apply_rules(w, &rs, e)) < 0) goto out;
            r = wr_store_set_meta(w->store, "net_rules", "0", e);
        }
        goto out;
    }
    bool forwarding = false;
    if ((r = read_forwarding(&forwarding, e)) < 0) goto out;
    rs.forward_guard = guard || !forwarding;
    if ((r = apply_rules(w, &rs, e)) < 0) goto out;
    if ((r = wr_store_set_meta(w->store, "net_rules", "1", e)) < 0) goto out;
    if (!forwarding) {
        char id[40];
        boot_id(id);
        if ((r = wr_store_set_meta(w->store, "net_forward_guard", id, e)) < 0) goto out;
        r = write_forwarding(true, e);
    }
out:
    free(acc.v);
    return r < 0 ? r : 0;
}

/* --- subnets -------------------------------------------------------------- */

typedef struct used_acc {
    uint32_t *v;
    size_t n, cap;
} used_acc;

static int collect_subnet(const wr_net_row *row, void *userdata) {
    used_acc *a = userdata;
    if (!row->subnet) return 0;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        uint32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = row->subnet;
    return 0;
}

static int by_value(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The lowest /30 of the range no tenant holds. Under the lock. */
static int allocate_subnet(warren *w, uint32_t *ret, wr_err *e) {
    wr_cidr range;
    int r = wr_net_range(&range, e);
    if (r < 0) return r;
    used_acc a = {0};
    if ((r = wr_store_net_foreach(w->store, collect_subnet, &a, e)) < 0) {
        free(a.v);
        return r == -ENOMEM ? wr_sys(e, ENOMEM, "subnets") : r;
    }
    if (a.n) qsort(a.v, a.n, sizeof *a.v, by_value);
    uint64_t count = (uint64_t)1 << (WR_NET_SUBNET_LEN - range.len);
    size_t j = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint32_t s = range.addr + (uint32_t)(i * 4);
        while (j < a.n && a.v[j] < s)
            j++;
        if (j < a.n && a.v[j] == s) continue;
        free(a.v);
        *ret = s;
        return 0;
    }
    free(a.v);
    return wr_fail(e, WR_ERR_LIMIT, ENOSPC,
                   "no free subnet left in WARREN_NET_RANGE (%u tenants fit in a /%u)",
                   (unsigned)count, range.len);
}

/* --- public ---------------------------------------------------------------- */

int wr_net_get(warren *w, const wr_tenant *t, wr_net *ret, wr_err *e) {
    wr_net_row row;
    int r = load(w, t, &row, e);
    if (r < 0) return r;
    memset(ret, 0, sizeof *ret);
    ret->mode = is_nat(&row) ? WR_NET_NAT : WR_NET_NONE;
    ret->egress_bps = row.egress_bps;
    ret->ingress_bps = row.ingress_bps;
    if (ret->mode == WR_NET_NAT) {
        wr_ipv4_format(row.subnet + 2, ret->tenant_addr);
        wr_ipv4_format(row.subnet + 1, ret->host_addr);
        ret->prefix_len = WR_NET_SUBNET_LEN;
        host_if_of(t, ret->host_if);
    }
    return 0;
}

/* The pair of a nat tenant, in its namespace (made if it has none). */
static int make_pair(warren *w, const wr_tenant *t, const wr_net_row *row, wr_err *e) {
    _cleanup_close_ int ns = wr_netns_open(w->cfg.state_dir, t->linux_username, NULL, e);
    if (ns < 0) return ns;
    wr_net_pair p;
    pair_of(t, row, &p);
    char path[4200];
    netns_path(w, t, path, sizeof path);
    return ops->pair_create(path, &p, e);
}

static int set_mode_locked(warren *w, const wr_tenant *t, wr_net_mode mode, wr_err *e) {
    wr_net_row row, old;
    int r = load(w, t, &row, e);
    if (r < 0) return r;
    old = row;
    char host_if[IFNAMSIZ];
    host_if_of(t, host_if);
    if (mode == WR_NET_NONE) {
        /* Interface first: from here the tenant has no way out, whatever fails. */
        if ((r = ops->pair_delete(host_if, e)) < 0) return r;
        snprintf(row.mode, sizeof row.mode, "none");
        row.subnet = 0;
        if ((r = wr_store_net_put(w->store, &row, e)) < 0) return r;
        return install_rules(w, e);
    }
    /* Already nat with its pair in place: only make sure of the rules, and
     * leave the tenant's connections alone. */
    if (is_nat(&row) && wr_net_if_exists(host_if) &&
        wr_netns_exists(w->cfg.state_dir, t->linux_username))
        return install_rules(w, e);
    if (!row.subnet && (r = allocate_subnet(w, &row.subnet, e)) < 0) return r;
    snprintf(row.mode, sizeof row.mode, "nat");
    if ((r = wr_store_net_put(w->store, &row, e)) < 0) return r;
    /* Rules before the interface: the tenant's first packet already meets them. */
    if ((r = install_rules(w, e)) < 0 || (r = make_pair(w, t, &row, e)) < 0) {
        ops->pair_delete(host_if, NULL);
        if (wr_store_net_put(w->store, &old, NULL) == 0) install_rules(w, NULL);
        return r;
    }
    return 0;
}

int wr_net_set_mode(warren *w, const wr_tenant *t, wr_net_mode mode, wr_err *e) {
    int r = need_root(w, e);
    if (r < 0) return r;
    if ((r = wr_lock_mutations(w, e)) < 0) return r;
    r = set_mode_locked(w, t, mode, e);
    wr_unlock_mutations(w);
    return r;
}

int wr_net_set_rate(warren *w, const wr_tenant *t, uint64_t egress_bps, uint64_t ingress_bps,
                    wr_err *e) {
    int r;
    if (egress_bps > 16000000000ull || ingress_bps > 16000000000ull)
        return wr_invalid(e, "rate: at most 16gbit");
    if ((r = wr_lock_mutations(w, e)) < 0) return r;
    wr_net_row row;
    if ((r = load(w, t, &row, e)) < 0) goto out;
    row.egress_bps = egress_bps;
    row.ingress_bps = ingress_bps;
    /* Stored and applied together, or neither. */
    if ((r = wr_store_begin(w->store, e)) < 0) goto out;
    if ((r = wr_store_net_put(w->store, &row, e)) < 0) goto fail;
    wr_net_pair p;
    pair_of(t, &row, &p);
    /* A nat tenant without its pair now (no run since a reboot) gets the
     * rates when the pair is made. */
    if (is_nat(&row) && wr_net_if_exists(p.host_if) &&
        wr_netns_exists(w->cfg.state_dir, t->linux_username)) {
        char path[4200];
        netns_path(w, t, path, sizeof path);
        if ((r = ops->set_rates(path, &p, e)) < 0) goto fail;
    }
    r = wr_store_commit(w->store, e);
    goto out;
fail:
    wr_store_rollback(w->store);
out:
    wr_unlock_mutations(w);
    return r;
}

int wr_net_counters(warren *w, const wr_tenant *t, wr_net_traffic *ret, wr_err *e) {
    memset(ret, 0, sizeof *ret);
    wr_net_row row;
    int r = load(w, t, &row, e);
    if (r < 0 || !is_nat(&row) || !w->cfg.root_mode) return r;
    char host_if[IFNAMSIZ];
    host_if_of(t, host_if);
    r = wr_net_if_traffic(host_if, ret, e);
    return r == -ENOENT ? 0 : r; /* no pair since a reboot: nothing counted yet */
}

int wr_net_open(warren *w, const wr_tenant *t, wr_err *e) {
    bool created = false;
    int fd = wr_netns_open(w->cfg.state_dir, t->linux_username, &created, e);
    if (fd < 0 || !w->cfg.root_mode) return fd;
    wr_net_row row;
    int r = wr_store_net_get(w->store, t->saas_user_id, &row, e);
    if (r == -ENOENT || (r == 0 && !is_nat(&row))) return fd;
    if (r < 0) goto fail;
    char host_if[IFNAMSIZ];
    host_if_of(t, host_if);
    /* The common case costs one lookup of the interface and of the table. */
    if (!created && wr_net_if_exists(host_if) && wr_net_rules_present(NULL) == 1) return fd;
    if ((r = wr_lock_mutations(w, e)) < 0) goto fail;
    /* Again under the lock: the mode may have changed meanwhile. */
    if ((r = load(w, t, &row, e)) >= 0 && is_nat(&row)) {
        wr_net_pair p;
        pair_of(t, &row, &p);
        char path[4200];
        netns_path(w, t, path, sizeof path);
        if ((r = install_rules(w, e)) >= 0 && (created || !wr_net_if_exists(host_if)))
            r = ops->pair_create(path, &p, e);
    }
    wr_unlock_mutations(w);
    if (r >= 0) return fd;
fail:
    close(fd);
    return r;
}

int wr_net_tenant_remove(warren *w, const wr_tenant *t, wr_err *e) {
    if (!w->cfg.root_mode) return 0;
    wr_net_row row;
    int r = wr_store_net_get(w->store, t->saas_user_id, &row, e);
    if (r == -ENOENT) return 0;
    if (r < 0) return r;
    char host_if[IFNAMSIZ];
    host_if_of(t, host_if);
    if ((r = ops->pair_delete(host_if, e)) < 0 ||
        (r = wr_store_net_drop(w->store, t->saas_user_id, e)) < 0)
        return r;
    return is_nat(&row) ? install_rules(w, e) : 0;
}

/* --- reconcile -------------------------------------------------------------- */

typedef struct recon {
    warren *w;
    char (*keep)[IFNAMSIZ]; /* host sides of nat tenants */
    size_t nkeep, cap;
    unsigned removed;
    wr_err *e;
} recon;

static int drop_orphan_row(const wr_net_row *row, void *userdata) {
    recon *c = userdata;
    wr_tenant t;
    int r = wr_store_get(c->w->store, row->saas_user_id, &t, NULL);
    if (r == -ENOENT) {
        if ((r = wr_store_net_drop(c->w->store, row->saas_user_id, c->e)) < 0) return r;
        c->removed++;
        return 0;
    }
    if (r < 0 || !is_nat(row)) return 0;
    if (c->nkeep == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char(*v)[IFNAMSIZ] = realloc(c->keep, cap * sizeof *v);
        if (!v) return wr_sys(c->e, ENOMEM, "reconcile");
        c->keep = v;
        c->cap = cap;
    }
    host_if_of(&t, c->keep[c->nkeep++]);
    return 0;
}

static int drop_orphan_if(const char *ifname, void *userdata) {
    recon *c = userdata;
    /* Only names warren gives: the prefix and a uid. */
    const char *n = ifname + strlen(WR_NET_IF_PREFIX);
    if (!*n || strspn(n, "0123456789") != strlen(n)) return 0;
    for (size_t i = 0; i < c->nkeep; i++)
        if (streq(c->keep[i], ifname)) return 0;
    int r = ops->pair_delete(ifname, c->e);
    if (r < 0) return r;
    c->removed++;
    return 0;
}

static int drop_orphan_netns(const char *username, void *userdata) {
    recon *c = userdata;
    wr_tenant t;
    if (wr_store_get_by_username(c->w->store, username, &t, NULL) != -ENOENT) return 0;
    int r = wr_netns_remove(c->w->cfg.state_dir, username, c->e);
    if (r < 0) return r;
    c->removed++;
    return 0;
}

int wr_net_reconcile(warren *w, unsigned *ret_removed, wr_err *e) {
    if (!w->cfg.root_mode) return 0;
    recon c = {.w = w, .e = e};
    int r;
    if ((r = wr_store_net_foreach(w->store, drop_orphan_row, &c, e)) >= 0 &&
        (r = wr_net_if_foreach(WR_NET_IF_PREFIX, drop_orphan_if, &c, e)) >= 0 &&
        (r = wr_netns_foreach(w->cfg.state_dir, drop_orphan_netns, &c, e)) >= 0)
        r = install_rules(w, e);
    free(c.keep);
    if (r >= 0 && ret_removed) *ret_removed = c.removed;
    return r < 0 ? r : 0;
}
