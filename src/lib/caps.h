/* Capabilities: a run keeps none. Through libcap-ng. */
#pragma once

/* Empties the bounding set of the calling process while it still holds
 * CAP_SETPCAP, which only wr_caps_drop_all takes away: it can go well before
 * the rest. Child-safe (prctl only). 0 or -errno. */
int wr_caps_drop_bounding(void);
/* After wr_caps_drop_bounding: clears the inheritable and ambient sets and
 * keepcaps, and leaves in the effective and permitted sets only CAP_SETUID
 * and CAP_SETGID, which the caller's setgroups, setresgid and setresuid need.
 * That uid change (0 to a tenant's uid) makes the kernel clear the effective
 * and permitted sets; wr_caps_verify_none checks afterwards that nothing is
 * left. Child-safe: allocates nothing (libcap-ng keeps its state in static
 * storage). 0 or -errno. */
int wr_caps_drop_all(void);
/* After the uid change: 0 if every set, the bounding set included, is empty
 * and no_new_privs is set; -EPERM otherwise. Child-safe. */
int wr_caps_verify_none(void);
