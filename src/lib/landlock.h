/* Landlock for the strong level: the filesystem a run may touch, enforced by
 * the kernel whatever its uid can do.
 *
 * Debian's kernel headers stop at Landlock ABI 2 while this kernel has ABI 7,
 * so the system call numbers, structures and access bits this file uses are
 * defined here, for every ABI up to 7, and each is used only when the running
 * kernel's ABI has it.
 *
 * Rules: read and execute everywhere below the read-only paths; read, write,
 * create and remove below the read-write paths (the home, /tmp, /dev/shm);
 * read and write of the device nodes listed; nothing else. From ABI 6, the
 * ruleset also scopes abstract unix sockets to the run's own Landlock
 * domain, so a run cannot connect to another run's abstract socket. Signals
 * are left unscoped (landlock.c says why).
 *
 * The ruleset is made in the parent (wr_landlock_ruleset: allocating is fine
 * there); the child adds the rules for paths that only exist inside its new
 * root (a fresh /tmp) with wr_landlock_allow, then calls wr_landlock_enforce
 * after no_new_privs. Both child calls are plain system calls. */
#pragma once

#include <stdbool.h>

#include "err.h"

/* The kernel's Landlock ABI version, 0 if it has none (or it is disabled). */
int wr_landlock_abi(void);

typedef enum wr_landlock_access {
    WR_LANDLOCK_READ,   /* read files and directories, execute */
    WR_LANDLOCK_WRITE,  /* everything READ allows, plus write, create, remove, rename */
    WR_LANDLOCK_DEVICE, /* read and write an existing file (device nodes) */
} wr_landlock_access;

/* Creates a ruleset handling every filesystem access the ABI knows (and, from
 * ABI 6, the scopes). Returns its fd (close-on-exec) and the ABI in *ret_abi;
 * -EOPNOTSUPP (kind system) without Landlock. */
int wr_landlock_ruleset(int *ret_abi, wr_err *e);
/* Adds a rule for the file or directory open at `fd` (O_PATH is enough); on a
 * file that is not a directory only the file rights of `access` apply (read,
 * write, execute, truncate, device ioctls). `abi` is the ruleset's. Child-safe:
 * an fstat and one system call. Returns 0 or -errno. */
int wr_landlock_allow(int ruleset, int fd, wr_landlock_access access, int abi);
/* Enforces the ruleset on the calling thread; needs no_new_privs. Child-safe. */
int wr_landlock_enforce(int ruleset);
