/* warren's nftables ruleset (net-internal.h): one table, `inet warren`, made
 * from the registry each time and installed by libnftables in one
 * transaction (net-kernel.c, from the file written here). It is warren's
 * alone; nothing else on the host is touched.
 *
 * What it says, for packets arriving from a tenant's host-side interface
 * (named wrn<uid>, matched as "wrn*"):
 *   input        everything dropped: a tenant never talks to the host itself,
 *                so neither its loopback-bound services (which a host address
 *                would otherwise reach with route_localnet or a DNAT) nor
 *                warren's API nor anything else listening there.
 *   forward      only IPv4 (the pair has IPv6 off; this also covers fe80::/10),
 *                only from the tenant's own address on its own interface
 *                (no spoofing: the source is checked against a set of
 *                interface . address pairs), never to 0/8, 127/8, link-local
 *                169.254/16 (cloud metadata lives there), multicast and
 *                reserved, the tenants' range (other tenants, and the host
 *                sides) or the WARREN_NET_DENY blocks, never out another
 *                tenant's interface, never more than max_conns connections
 *                at once (the host's conntrack table is everyone's). Towards
 *                a tenant only replies pass.
 *   postrouting  the tenants' own addresses are masqueraded behind whatever
 *                address the host leaves by.
 * Chains hook at priority filter - 5 / srcnat - 5: before the usual tables,
 * whose own drops still apply (a drop anywhere is final). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net-internal.h"
#include "util.h"

static void put_cidr(FILE *f, const wr_cidr *c) {
    char a[16];
    wr_ipv4_format(c->addr, a);
    fprintf(f, "%s/%u", a, c->len);
}

char *wr_net_rules_text(const wr_net_ruleset *rs) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    /* Declaring the table first makes the delete succeed when it is absent. */
    fputs("table inet warren\ndelete table inet warren\n", f);
    if (rs->ntenants == 0) goto done;

    fputs("table inet warren {\n", f);
    fputs("\tset tenant_src {\n\t\ttype ifname . ipv4_addr\n\t\telements = { ", f);
    for (size_t i = 0; i < rs->ntenants; i++) {
        char a[16];
        wr_ipv4_format(rs->tenants[i].addr, a);
        fprintf(f, "%s\"%s\" . %s", i ? ", " : "", rs->tenants[i].host_if, a);
    }
    fputs(" }\n\t}\n", f);
    fputs("\tset tenant_v4 {\n\t\ttype ipv4_addr\n\t\telements = { ", f);
    for (size_t i = 0; i < rs->ntenants; i++) {
        char a[16];
        wr_ipv4_format(rs->tenants[i].addr, a);
        fprintf(f, "%s%s", i ? ", " : "", a);
    }
    fputs(" }\n\t}\n", f);
    /* auto-merge: the blocks may overlap (a deny entry covering the range). */
    fputs("\tset denied_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tauto-merge\n"
          "\t\telements = { 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/3, ",
          f);
    put_cidr(f, &rs->range);
    /* Subnets handed out under an earlier WARREN_NET_RANGE stay tenants'. */
    for (size_t i = 0; i < rs->ntenants; i++) {
        if (wr_cidr_contains(&rs->range, rs->tenants[i].subnet.addr)) continue;
        fputs(", ", f);
        put_cidr(f, &rs->tenants[i].subnet);
    }
    for (size_t i = 0; i < rs->ndeny; i++) {
        fputs(", ", f);
        put_cidr(f, &rs->deny[i]);
    }
    fputs(" }\n\t}\n", f);
    if (rs->max_conns)
        fputs("\tset tenant_conns {\n\t\ttype ifname\n\t\tsize 65535\n\t\tflags dynamic\n\t}\n", f);

    fputs("\tchain input {\n"
          "\t\ttype filter hook input priority filter - 5; policy accept;\n"
          "\t\tiifname \"" WR_NET_IF_PREFIX "*\" drop\n"
          "\t}\n",
          f);
    fputs("\tchain forward {\n"
          "\t\ttype filter hook forward priority filter - 5; policy accept;\n"
          "\t\tiifname \"" WR_NET_IF_PREFIX "*\" jump from_tenant\n"
          "\t\toifname \"" WR_NET_IF_PREFIX "*\" ct state established,related accept\n"
          "\t\toifname \"" WR_NET_IF_PREFIX "*\" drop\n",
          f);
    if (rs->forward_guard) fputs("\t\tdrop\n", f);
    fputs("\t}\n", f);
    fputs("\tchain from_tenant {\n"
          "\t\tmeta nfproto != ipv4 drop\n"
          "\t\tiifname . ip saddr != @tenant_src drop\n"
          "\t\tip daddr @denied_v4 drop\n"
          "\t\toifname \"" WR_NET_IF_PREFIX "*\" drop\n"
          "\t\tct state invalid drop\n",
          f);
    if (rs->max_conns)
        fprintf(f, "\t\tct state new add @tenant_conns { iifname ct count over %u } drop\n",
                rs->max_conns);
    fputs("\t\taccept\n\t}\n", f);
    fputs("\tchain postrouting {\n"
          "\t\ttype nat hook postrouting priority srcnat - 5; policy accept;\n"
          "\t\tip saddr @tenant_v4 oifname != \"" WR_NET_IF_PREFIX "*\" masquerade\n"
          "\t}\n",
          f);
    fputs("}\n", f);
done:
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int wr_net_rules_write(const char *state_dir, const wr_net_ruleset *rs, char *ret_path, size_t n,
                       wr_err *e) {
    _cleanup_free_ char *text = wr_net_rules_text(rs);
    if (!text) return wr_sys(e, ENOMEM, "nftables ruleset");
    char tmp[4200];
    if ((size_t)snprintf(ret_path, n, "%s/net-rules.nft", state_dir) >= n ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.net-rules.nft.tmp", state_dir) >= sizeof tmp)
        return wr_invalid(e, "state directory %.64s...: too long", state_dir);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return wr_sys(e, errno, "cannot write %s", tmp);
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int err = w < 0 ? errno : EIO;
            unlink(tmp);
            return wr_sys(e, err, "cannot write %s", tmp);
        }
        done += (size_t)w;
    }
    if (rename(tmp, ret_path) < 0) {
        int err = errno;
        unlink(tmp);
        return wr_sys(e, err, "cannot replace %s", ret_path);
    }
    return 0;
}
