/* A tenant's network namespace: made on its first contained run and kept
 * while the tenant lives, so its services reach each other on localhost and
 * nobody else's. Only loopback is in it (network mode `none`).
 *
 * Kept as a bind mount of the namespace onto <state_dir>/netns/<username>
 * (as `ip netns` keeps its own). A mount does not survive a reboot, and
 * neither does a namespace: an entry that is a plain file again is made anew. */
#pragma once

#include "err.h"

/* Returns an fd (close-on-exec) on the tenant's namespace, making it first if
 * needed; pass it to setns(fd, CLONE_NEWNET) in the run's child. */
int wr_netns_open(const char *state_dir, const char *username, wr_err *e);
/* Removes the tenant's namespace (unmounts and unlinks); missing is fine. */
int wr_netns_remove(const char *state_dir, const char *username, wr_err *e);
