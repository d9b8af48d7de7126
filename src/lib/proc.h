/* Ending every process a tenant's UID owns.
 *
 * A helper process takes the tenant's UID (all of real, effective and saved)
 * and sends SIGKILL to -1: the kernel delivers it to every process that UID may
 * signal, which is exactly the tenant's, in one sweep that a fork bomb cannot
 * outrun; it repeats until /proc shows no live process of that UID, or a
 * deadline (2 s) passes. kill(-1) alone cannot tell when to stop: it succeeds
 * while any other process exists, even one it may not signal. Root's
 * processes and other tenants' are untouchable from that UID. */
#pragma once

#include <sys/types.h>

#include "err.h"

/* Refuses uid 0 and the caller's own UID. Returns the number of sweeps that
 * found processes (0: there were none). */
int wr_kill_uid(uid_t uid, wr_err *e);

/* In a forked helper about to act as a UID (wr_kill_uid here, the keyring
 * sweep in offboard.c): uid:gid, no groups, and a check that no capability is
 * left. Raw system calls only, safe after fork in a threaded process. Returns
 * 0 or an errno. */
int wr_helper_become(uid_t uid, gid_t gid);
