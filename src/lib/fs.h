/* Safe path operations inside directories a tenant controls.
 *
 * warren runs as root; a tenant can plant symlinks, hard links and renames in
 * its home at any moment. So nothing under a home is ever opened by string
 * concatenation: paths are resolved relative to a directory fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV), or, where openat2 is missing, a component-by-component walk
 * with O_NOFOLLOW that gives the same answer. All fds are O_CLOEXEC. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

/* Opens `relpath` beneath `dirfd`. Refuses absolute paths, `..` that leaves
 * dirfd, any symlink on the way (ELOOP), and mount crossings (EXDEV). Returns
 * the fd or a negative errno. `flags` are open(2) flags (O_CLOEXEC added). */
int wr_open_beneath(int dirfd, const char *relpath, int flags, mode_t mode);

/* Forces the user-space fallback of wr_open_beneath (tests only). */
void wr_fs_force_fallback(bool on);

/* Makes directory `name` in dirfd (if missing) and returns an fd on it, owned
 * by uid:gid with exactly `mode`. An existing entry must be a real directory
 * (not a link); one owned by someone other than uid or root is refused (kind
 * unsafe) rather than taken over. `what` names it in errors. */
int wr_mkdir_owned(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, const char *what,
                   wr_err *e);

/* Removes `name` in dirfd and everything below it without following any link
 * and without crossing into another filesystem (a mount inside is refused,
 * kind unsafe, before anything else is removed below it). Any depth: subtrees
 * deeper than the fd budget are moved up to the top of the tree being removed
 * and removed from there. A missing `name` is success. */
int wr_remove_tree(int dirfd, const char *name, wr_err *e);
