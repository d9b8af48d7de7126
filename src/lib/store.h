/* The registry: tenants and what warren remembers about them, in SQLite (WAL)
 * under the state directory. The schema carries a version (PRAGMA user_version)
 * and migrates forward on open; an older warren refuses a newer schema.
 *
 * A tenant row has a state. `creating` and `deleting` mark an operation in
 * flight; if the process dies, the row tells the next start what to finish or
 * undo (tenant.c). UIDs of deleted tenants are kept in `retired_uids` so the
 * allocator can apply the reuse policy of docs/ACCOUNTS.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "tenant.h"

typedef struct wr_store wr_store;

/* Opens (creating if needed) <state_dir>/registry.db. */
int wr_store_open(const char *state_dir, wr_store **ret, wr_err *e);
void wr_store_close(wr_store *s);

/* Write transactions. BEGIN IMMEDIATE, so writers queue here, not midway. */
int wr_store_begin(wr_store *s, wr_err *e);
int wr_store_commit(wr_store *s, wr_err *e);
void wr_store_rollback(wr_store *s);

/* 0 and *ret filled, or -ENOENT (with a not-found error naming the id). */
int wr_store_get(wr_store *s, const char *saas_user_id, wr_tenant *ret, wr_err *e);
int wr_store_get_by_username(wr_store *s, const char *username, wr_tenant *ret, wr_err *e);
/* Calls fn for each tenant in UID order (all states); stops at fn's first
 * non-zero return and returns it. */
int wr_store_foreach(wr_store *s, int (*fn)(const wr_tenant *t, void *userdata), void *userdata,
                     wr_err *e);
/* Tenants whose state is not `active`. */
int wr_store_foreach_unfinished(wr_store *s, int (*fn)(const wr_tenant *t, void *userdata),
                                void *userdata, wr_err *e);
int wr_store_count(wr_store *s, uint64_t *ret, wr_err *e);

int wr_store_insert(wr_store *s, const wr_tenant *t, wr_err *e);
int wr_store_set_state(wr_store *s, const char *saas_user_id, wr_tenant_state state, bool keep_home,
                       wr_err *e);
/* Deletes the row and retires its UID; `clean` says nothing the UID owned remains. */
int wr_store_remove(wr_store *s, const char *saas_user_id, bool clean, wr_err *e);

/* UID bookkeeping for the allocator. */
int wr_store_uid_used(wr_store *s, uid_t uid, bool *ret, wr_err *e); /* by a tenant or retired */
int wr_store_username_used(wr_store *s, const char *name, bool *ret, wr_err *e);
int wr_store_next_uid(wr_store *s, uid_t *ret, wr_err *e); /* 0 when none handed out yet */
int wr_store_set_next_uid(wr_store *s, uid_t next, wr_err *e);
/* The oldest retired UID marked clean inside [min,max]; -ENOENT if none. */
int wr_store_reusable_uid(wr_store *s, uid_t min, uid_t max, uid_t *ret, wr_err *e);
int wr_store_unretire_uid(wr_store *s, uid_t uid, wr_err *e);
/* Marks a UID retired without a tenant row (reconcile: an orphan's UID). */
int wr_store_retire_uid(wr_store *s, uid_t uid, const char *username, bool clean, wr_err *e);

/* Small named values (e.g. the boot the registry was last reconciled in).
 * get: -ENOENT if unset; the value is cut to n-1 bytes. */
int wr_store_get_meta(wr_store *s, const char *key, char *buf, size_t n, wr_err *e);
int wr_store_set_meta(wr_store *s, const char *key, const char *value, wr_err *e);

/* System calls the strong level refused, per tenant (wr_refusal: tenant.h). */
int wr_store_add_refusal(wr_store *s, const char *saas_user_id, const char *syscall, uint64_t count,
                         double when, wr_err *e);
/* Most frequent first. Stops at fn's first non-zero return and returns it. */
int wr_store_foreach_refusal(wr_store *s, const char *saas_user_id,
                             int (*fn)(const wr_refusal *r, void *userdata), void *userdata,
                             wr_err *e);
