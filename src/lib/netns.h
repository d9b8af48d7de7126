/* A tenant's network namespace: made on its first contained run and kept
 * while the tenant lives, so its services reach each other on localhost and
 * nobody else's. Only loopback is in it in network mode `none`; mode `nat`
 * adds an interface (net.h).
 *
 * Kept as a bind mount of the namespace onto <state_dir>/netns/<username>
 * (as `ip netns` keeps its own). A mount does not survive a reboot, and
 * neither does a namespace: an entry that is a plain file again is made anew. */
#pragma once

#include <stdbool.h>

#include "err.h"

/* Returns an fd (close-on-exec) on the tenant's namespace, making it first if
 * needed (then *ret_created, if given, is true); pass it to setns(fd,
 * CLONE_NEWNET) in the run's child. Runs get it through wr_net_open (net.h),
 * which also restores a nat tenant's interface in a namespace made anew. */
int wr_netns_open(const char *state_dir, const char *username, bool *ret_created, wr_err *e);
/* Whether the tenant has a kept namespace now. */
bool wr_netns_exists(const char *state_dir, const char *username);
/* Calls fn with the account name of every entry under <state_dir>/netns
 * (reconcile: entries of tenants that are gone); stops at fn's first non-zero
 * return and returns it. */
int wr_netns_foreach(const char *state_dir, int (*fn)(const char *username, void *userdata),
                     void *userdata, wr_err *e);
/* Brings loopback up in the calling process's network namespace, by the one
 * ioctl that needs no netlink: system calls only, so a run's child may call
 * it (without root a run has a namespace of its own, none kept for the
 * tenant). 0 or -errno. */
int wr_netns_loopback_up(void);
/* Removes the tenant's namespace (unmounts and unlinks); missing is fine. */
int wr_netns_remove(const char *state_dir, const char *username, wr_err *e);
