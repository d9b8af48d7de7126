/* Homes and sandboxes: <users_base>/<username>/{sandboxes/<service>,.cache}.
 *
 * In root mode the users base is root-owned 0711 (enter, not list), each home
 * 0700 owned by its tenant, and so is every directory warren makes in it. In
 * non-root mode everything belongs to the caller, 0700. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Opens the users base, creating it (and missing parents, 0755 root) if needed,
 * and sets its owner and mode as above. Returns the fd. */
int wr_users_base_open(const char *path, bool root_mode, wr_err *e);

/* Creates the home `name` with sandboxes/ and .cache/, owned by uid:gid.
 * A leftover directory of that name is refused (kind exists) rather than
 * handed to a new tenant. */
int wr_home_create(int basefd, const char *name, uid_t uid, gid_t gid, wr_err *e);
/* The part of wr_home_create after the directory exists (storage.c makes it a
 * btrfs subvolume instead): mode 0700, sandboxes/ and .cache/, then handed to
 * uid:gid. Leaves undoing a failure to the caller. */
int wr_home_fill(int basefd, const char *name, uid_t uid, gid_t gid, wr_err *e);
/* The error for a home name that is taken (kind exists). */
int wr_home_exists(const char *name, wr_err *e);
/* Opens the home (O_DIRECTORY, no link followed); checks it is owned by uid. */
int wr_home_open(int basefd, const char *name, uid_t uid, wr_err *e);
/* Creates or opens sandboxes/<service> in the open home; returns its fd. */
int wr_sandbox_open(int homefd, const char *service, uid_t uid, gid_t gid, wr_err *e);
/* Counts the directories in sandboxes/ (links and files are not sandboxes). */
int wr_sandbox_count(int homefd, uint64_t *ret, wr_err *e);
/* Removes the home and everything in it (see wr_remove_tree). */
int wr_home_remove(int basefd, const char *name, wr_err *e);
