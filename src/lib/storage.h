/* Where a tenant's home lives and how much of the disk it may fill
 * (docs/STORAGE.md).
 *
 * Two backends, chosen when a home is made:
 *   btrfs  the home is a btrfs subvolume with a qgroup limit on the bytes it
 *          references: the kernel refuses writes past it (EDQUOT), usage is
 *          the kernel's own counter, and a read-only snapshot gives a
 *          consistent copy of a running tenant's home.
 *   dir    a plain directory on any filesystem: usage is counted by walking
 *          the home (du.c). Nothing stops a write; a tenant over its quota is
 *          refused new runs and reported. Not hard enforcement.
 * WARREN_STORAGE=auto|dir|btrfs picks; auto (the default) takes btrfs when the
 * users base is on btrfs. An existing home keeps the backend it was made with
 * (a home is btrfs iff it is a subvolume), whatever the setting says later.
 *
 * The limits themselves are kept by the quota registry (quota.h); storage
 * applies them (btrfs) and compares usage with them. Inodes are never a
 * kernel limit here (btrfs qgroups count bytes only; a file's metadata counts
 * toward them, so an inode flood still meets the byte limit): both backends
 * compare the walked inode count, like dir does for bytes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "tenant.h"

/* "btrfs" or "dir": the backend of the tenant's existing home (or, for a
 * home not made yet, the one a create would pick). */
const char *wr_storage_backend_name(warren *w, const wr_tenant *t);

/* Makes the tenant's home with the configured backend, owned by owner:group
 * (see wr_home_create); applies the tenant's effective storage quota. */
int wr_storage_home_create(warren *w, const wr_tenant *t, uid_t owner, gid_t group, wr_err *e);
/* Removes the home, whichever backend made it, and (btrfs) every snapshot
 * of it. A missing home is success. */
int wr_storage_home_remove(warren *w, const wr_tenant *t, wr_err *e);

/* Applies a byte and inode limit (-1 or INT64_MAX: none). btrfs: the qgroup
 * limit, at once. dir: nothing to apply (the registry holds it). */
int wr_storage_set_quota(warren *w, const wr_tenant *t, int64_t bytes, int64_t inodes, wr_err *e);
/* Bytes in use (btrfs: qgroup referenced bytes of the home's subvolume and
 * of any subvolume the tenant made inside it, as of the last transaction
 * commit; dir: allocated blocks of a walk) and inodes (a walk). Either
 * pointer may be NULL; if ret_inodes is NULL on btrfs, no walk is done. */
int wr_storage_usage(warren *w, const wr_tenant *t, uint64_t *ret_bytes, uint64_t *ret_inodes,
                     wr_err *e);
/* Whether usage has reached the tenant's effective storage or inode quota.
 * No walk at all for a tenant without limits. */
int wr_storage_over_quota(warren *w, const wr_tenant *t, bool *ret, wr_err *e);
/* For the start of a run: -EDQUOT (kind limit) with a message giving usage
 * and limit if the tenant is over quota (dir bytes, or inodes on either
 * backend), and records a storage_over_quota audit event; 0 otherwise. On
 * btrfs the byte limit is the kernel's business and a tenant at its limit may
 * still run (to delete files), unless it holds bytes in subvolumes of its own
 * inside the home: their qgroups are outside the limit, so warren counts
 * them with the rest and refuses runs past the limit. */
int wr_storage_check_run(warren *w, const wr_tenant *t, wr_err *e);

/* btrfs: a read-only snapshot of the home, made at once and consistent
 * however busy the tenant is, at <users_base>/.warren-snapshots/<name>-<hex>
 * (a root-only directory). *ret_path is malloc'ed. dir: -EOPNOTSUPP (kind
 * system); freeze the tenant's runs instead. */
int wr_storage_snapshot(warren *w, const wr_tenant *t, char **ret_path, wr_err *e);
/* Removes a snapshot wr_storage_snapshot made (its path); nothing else. */
int wr_storage_snapshot_remove(warren *w, const char *path, wr_err *e);
