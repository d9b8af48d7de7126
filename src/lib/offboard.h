/* What a tenant's UID can leave on the host outside its home, and removing it
 * when the tenant is deleted (offboard.c).
 *
 * A UID owns more than its home: files in the world-writable directories
 * (/tmp, /var/tmp, /dev/shm, /run/lock, /dev/mqueue), SysV IPC objects, and
 * the kernel's keyrings for that UID, which outlive every process of it. A
 * later tenant given the same UID would own all of it. Each function here
 * removes one kind and says whether anything of the UID is left that it could
 * not remove: then the UID must never be handed out again (docs/ACCOUNTS.md).
 *
 * All three must run after the UID's processes have ended, or a process could
 * make new ones behind the sweep. Each is idempotent: a delete a crash
 * interrupted runs them again. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "tenant.h"

typedef struct wr_offboard_report {
    unsigned files;      /* entries removed from the shared directories (a tree counts once) */
    unsigned ipc;        /* SysV message queues, semaphore sets and shared memory segments */
    unsigned keys;       /* keyrings cleared and invalidated */
    bool left_behind;    /* something of the UID remains that could not be removed */
    char what_left[256]; /* if so, what (for the audit log) */
} wr_offboard_report;

/* The shared directories walked by wr_offboard_files (NULL-terminated). */
extern const char *const wr_offboard_dirs[];

/* Removes every entry owned by uid or gid (a directory with all below it) in
 * the shared directories. Walks by directory fd, never follows a link, never
 * enters another filesystem; a directory that is not the UID's is searched
 * down to WR_OFFBOARD_MAX_DEPTH levels. The directory open at keep_fd (the
 * users base, where homes have their own step; -1 for none) is never entered.
 * Anything it cannot reach or remove sets left_behind rather than failing:
 * the rest is still removed. */
#define WR_OFFBOARD_MAX_DEPTH 64
int wr_offboard_files(uid_t uid, gid_t gid, const char *const *dirs, int keep_fd,
                      wr_offboard_report *rep, wr_err *e);

/* Removes the SysV IPC objects (of the caller's IPC namespace) whose owner or
 * creator is uid or gid, read from /proc/sysvipc, with IPC_RMID. */
int wr_offboard_ipc(uid_t uid, gid_t gid, wr_offboard_report *rep, wr_err *e);

/* Empties and invalidates the UID's user, user-session and persistent
 * keyrings. A helper process takes the UID (and nothing else) to reach them:
 * they are the UID's own, and root has no right to them. Then waits (up to
 * a second) for /proc/key-users to show no key of the UID; a key still
 * counted (linked from a keyring of someone else, or locked by its owner)
 * sets left_behind, and so do keyrings warren may not reach (keyctl refused
 * to it by a seccomp filter around warren); a kernel without keys is fine. */
int wr_offboard_keyrings(uid_t uid, gid_t gid, wr_offboard_report *rep, wr_err *e);

/* The three above for the tenant's UID and group, with the users base kept
 * out of the walk. Sets *clean to false if anything is left, and records an
 * `offboard_incomplete` audit event saying what. Root mode only; run it once
 * the UID's processes have ended. */
int wr_offboard_tenant(warren *w, const wr_tenant *t, bool *clean, wr_err *e);
