/* What a run needs to know of the kernel's network state, read without libnl
 * or libnftables (net-internal.h): the light `warren` asks these on every run
 * of a nat tenant and must not load those libraries (src/lib/program.h). Each
 * is one system call or one small file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net-internal.h"
#include "util.h"

bool wr_net_if_exists(const char *ifname) {
    return if_nametoindex(ifname) != 0;
}

/* Appends a NUL-terminated string attribute. */
static size_t put_str(char *buf, size_t off, unsigned short type, const char *s) {
    struct nlattr *a = (struct nlattr *)(buf + off);
    size_t len = strlen(s) + 1;
    a->nla_type = type;
    a->nla_len = (unsigned short)(NLA_HDRLEN + len);
    memcpy(buf + off + NLA_HDRLEN, s, len);
    return off + NLA_ALIGN(a->nla_len);
}

int wr_net_rules_present(wr_err *e) {
    /* One NFT_MSG_GETCHAIN for inet warren / forward: the kernel answers with
     * the chain or with ENOENT (no table, or no such chain). */
    union {
        char buf[256];
        struct nlmsghdr align;
    } req = {0};
    struct nlmsghdr *nh = &req.align;
    nh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN;
    nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nh->nlmsg_seq = 1;
    struct nfgenmsg *nf = (struct nfgenmsg *)NLMSG_DATA(nh);
    nf->nfgen_family = NFPROTO_INET;
    nf->version = NFNETLINK_V0;
    size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *nf);
    off = put_str(req.buf, off, NFTA_CHAIN_TABLE, "warren");
    off = put_str(req.buf, off, NFTA_CHAIN_NAME, "forward");
    nh->nlmsg_len = (unsigned)off;

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    /* No nf_tables in this kernel: certainly no table of warren's. */
    if (fd < 0) return errno == EPROTONOSUPPORT ? 0 : wr_sys(e, errno, "netfilter netlink");
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int r = -EIO;
    if (sendto(fd, req.buf, off, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        r = wr_sys(e, errno, "netfilter netlink");
        goto out;
    }
    union {
        char buf[8192];
        struct nlmsghdr align;
    } resp;
    for (;;) {
        ssize_t n = recv(fd, resp.buf, sizeof resp.buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r = wr_sys(e, errno, "netfilter netlink");
            goto out;
        }
        for (struct nlmsghdr *m = &resp.align; NLMSG_OK(m, (size_t)n); m = NLMSG_NEXT(m, n)) {
            if (m->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *err = NLMSG_DATA(m);
                /* The ack after the chain, or the refusal instead of it. */
                if (err->error == 0) {
                    if (r != 1) r = 0;
                    goto out;
                }
                r = err->error == -ENOENT ? 0 : wr_sys(e, -err->error, "netfilter netlink");
                goto out;
            }
            if ((m->nlmsg_type & 0xff) == NFT_MSG_NEWCHAIN) r = 1;
        }
    }
out:
    close(fd);
    return r;
}

int wr_net_if_traffic(const char *host_if, wr_net_traffic *ret, wr_err *e) {
    /* /proc/thread-self/net is this thread's namespace (sysfs would be the
     * namespace it was mounted in). */
    _cleanup_fclose_ FILE *f = fopen("/proc/thread-self/net/dev", "re");
    if (!f) return wr_sys(e, errno, "cannot read /proc/net/dev");
    char line[512];
    size_t n = strlen(host_if);
    while (fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " ");
        if (strncmp(p, host_if, n) != 0 || p[n] != ':') continue;
        /* Receive: bytes packets errs drop fifo frame compressed multicast,
         * then transmit: bytes packets ... */
        uint64_t v[10];
        if (sscanf(p + n + 1,
                   "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) != 10)
            return wr_fail(e, WR_ERR_SYSTEM, EIO, "/proc/net/dev: cannot read the line of %s",
                           host_if);
        /* The host side receives what the tenant sends, and the reverse. */
        ret->bytes_out = v[0];
        ret->packets_out = v[1];
        ret->bytes_in = v[8];
        ret->packets_in = v[9];
        return 0;
    }
    return -ENOENT;
}

int wr_net_if_foreach(const char *prefix, int (*fn)(const char *ifname, void *userdata),
                      void *userdata, wr_err *e) {
    struct if_nameindex *l = if_nameindex();
    if (!l) return wr_sys(e, errno, "cannot list interfaces");
    size_t plen = strlen(prefix);
    int r = 0;
    for (struct if_nameindex *i = l; i->if_index && r == 0; i++)
        if (!strncmp(i->if_name, prefix, plen)) r = fn(i->if_name, userdata);
    if_freenameindex(l);
    return r;
}
