/* User namespaces for runs of warren without root (non-root mode).
 *
 * Without root, warren cannot give a run another uid, mount, or make
 * namespaces in the host's user namespace. So, as bubblewrap does, a contained
 * run starts in a user namespace of its own in which the calling user maps
 * itself and only itself: the tenant's uid and gid inside are the caller's
 * outside, and nothing else is mapped (every other owner shows as the
 * overflow id, 65534). The run then gets the same mount, pid, ipc, uts, net
 * and cgroup namespaces, private root, capabilities dropped, Landlock and
 * seccomp as in root mode, all owned by that user namespace: what it can do
 * to the host is what the caller could do, never more.
 *
 * The parent prepares the map texts (wr_userns_prepare); the child writes
 * them itself right after clone (wr_userns_enter), before any other step. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

typedef struct wr_userns {
    char uid_map[48]; /* "<inside> <outside> 1\n" */
    char gid_map[48];
    size_t uid_len, gid_len;
} wr_userns;

/* Parent side: checks that this kernel lets an unprivileged user make a user
 * namespace (kind system with a message naming the sysctl if not) and
 * formats the maps: inside_uid/inside_gid inside stand for the caller's real
 * uid and gid outside. */
int wr_userns_prepare(wr_userns *ret, uid_t inside_uid, gid_t inside_gid, wr_err *e);

/* Child side (system calls only, no allocation), in the new user namespace:
 * "deny" to setgroups, then the uid and gid maps. 0 or -errno. */
int wr_userns_enter(const wr_userns *u);

/* Child side: empties the effective, permitted, inheritable and ambient sets.
 * In root mode the change from uid 0 does this; in a user namespace the run's
 * uid never changes, and the capabilities the namespace gave its creator would
 * otherwise stay until exec. 0 or -errno. */
int wr_userns_drop_caps(void);

