/* Capabilities: a run keeps none. Through libcap-ng. */
#pragma once

/* Clears the bounding, inheritable and ambient sets of the calling process
 * while it is still root (the bounding set can only be dropped with
 * CAP_SETPCAP), clears keepcaps, and leaves in the effective and permitted sets
 * only CAP_SETUID and CAP_SETGID, which the caller's setgroups, setresgid and
 * setresuid need. That uid change (0 to a tenant's uid) makes the kernel clear
 * the effective and permitted sets; wr_caps_verify_none checks afterwards that
 * nothing is left. Child-safe: allocates nothing (libcap-ng keeps its state in
 * static storage; the bounding set is dropped with prctl). 0 or -errno. */
int wr_caps_drop_all(void);
/* After the uid change: 0 if every set, the bounding set included, is empty
 * and no_new_privs is set; -EPERM otherwise. Child-safe. */
int wr_caps_verify_none(void);
