/* Which UIDs, GIDs and names are already known to the host, so that the
 * allocator never hands out one of them.
 *
 * Loaded once by enumerating NSS (getpwent/getgrent: /etc files and every
 * source that enumerates), plus the subordinate ranges of /etc/subuid and
 * /etc/subgid (a tenant's UID inside someone's rootless-container range would
 * share files with it) and the fixed holes: 65534/65535 and systemd's dynamic
 * range 61184-65519. Only IDs inside the configured range are kept, as a
 * bitmap, so the set is small however many accounts exist.
 *
 * wr_uidset_refresh reloads only when /etc/passwd, /etc/group, /etc/subuid or
 * /etc/subgid changed since the last load (device, inode, size, mtime) by
 * someone other than warren itself; wr_uidset_note_added/removed record what
 * warren just did and the files' new fingerprints. This keeps a create O(1) on
 * a host with 100,000 accounts.
 *
 * When nsswitch.conf names a source that may not enumerate (ldap, sss, ...),
 * wr_uidset_id_taken and wr_uidset_name_taken also ask getpwuid/getgrgid or
 * getpwnam/getgrnam for the single candidate.
 *
 * Not thread-safe. An answer is as fresh as the last refresh: the uniqueness
 * wr_accounts_add relies on holds when refresh, check, add and note all happen
 * under the account lock. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

typedef struct wr_uidset wr_uidset;

int wr_uidset_load(const char *etc_dir, uid_t min, uid_t max, wr_uidset **ret, wr_err *e);
void wr_uidset_free(wr_uidset *s);
/* Reloads if the account files changed behind warren's back. */
int wr_uidset_refresh(wr_uidset *s, wr_err *e);

/* True when `id` must not be used as a tenant's UID and GID: known as a user or
 * group, inside a subordinate range, one of the fixed holes, or outside the
 * range the set was loaded for. */
bool wr_uidset_id_taken(wr_uidset *s, uid_t id);
/* True when `name` is known as a user or a group name. */
bool wr_uidset_name_taken(wr_uidset *s, const char *name);
/* The fixed holes alone (no NSS), for unit tests and the docs. */
bool wr_uid_is_reserved(uid_t id);

/* After warren added (or removed) an account: update the set and remember the
 * account files' new fingerprint, so the change is not mistaken for someone
 * else's. */
void wr_uidset_note_added(wr_uidset *s, uid_t id, const char *name);
void wr_uidset_note_removed(wr_uidset *s, uid_t id, const char *name);
