/* The kernel work of the nat network done in-process: libnl-route for links
 * and qdiscs (net-link.c), libnftables for the ruleset. Only warren-full links
 * this (src/lib/program.h); its commands select it with wr_net_use_ops. */
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net-internal.h"
#include "util.h"

static int open_ns(const char *path, wr_err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    return fd < 0 ? wr_sys(e, errno, "cannot open the network namespace %s", path) : fd;
}

static int pair_create(const char *netns_path, const wr_net_pair *p, wr_err *e) {
    _cleanup_close_ int ns = open_ns(netns_path, e);
    return ns < 0 ? ns : wr_netlink_pair_create(ns, p, e);
}

static int set_rates(const char *netns_path, const wr_net_pair *p, wr_err *e) {
    _cleanup_close_ int ns = open_ns(netns_path, e);
    return ns < 0 ? ns : wr_netlink_set_rates(ns, p, e);
}

static int rules_apply(const char *path, wr_err *e) {
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!nft) return wr_sys(e, ENOMEM, "nftables");
    int r = 0;
    /* libnftables' messages go into warren's error, not to stderr. */
    if (nft_ctx_buffer_output(nft) < 0 || nft_ctx_buffer_error(nft) < 0) {
        r = wr_sys(e, ENOMEM, "nftables");
    } else if (nft_run_cmd_from_filename(nft, path) != 0) {
        char msg[512];
        const char *err = nft_ctx_get_error_buffer(nft);
        snprintf(msg, sizeof msg, "%s", err && *err ? err : "failed");
        msg[strcspn(msg, "\n")] = '\0';
        r = wr_fail(e, WR_ERR_SYSTEM, EIO, "cannot install nftables table inet warren (%s): %s",
                    path, msg);
    }
    nft_ctx_free(nft);
    return r;
}

const wr_net_ops wr_net_kernel_ops = {
    .pair_create = pair_create,
    .pair_delete = wr_netlink_pair_delete,
    .set_rates = set_rates,
    .rules_apply = rules_apply,
};
