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
/* Truncates the WAL if it has grown past a few hundred KB since (fsyncs:
 * run it when nothing waits, as wr_store_close does); whether that is due. */
void wr_store_maintain(wr_store *s);
bool wr_store_maintain_due(const wr_store *s);

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

/* The audit log (audit.c): `tenant` "" or NULL for a host-wide event. */
int wr_store_add_audit(wr_store *s, double at, const char *type, const char *tenant,
                       const char *detail, uint64_t *ret_id, wr_err *e);
/* Oldest first; NULL tenant/type match all; limit 0 is none. Refused system
 * calls come as `syscall_refused` events with id 0 when after_id is 0. */
int wr_store_foreach_audit(wr_store *s, const char *tenant, const char *type, double since,
                           uint64_t after_id, uint64_t limit,
                           int (*fn)(uint64_t id, double at, const char *type, const char *tenant,
                                     const char *detail, void *userdata),
                           void *userdata, wr_err *e);

/* API tokens (token.c), by the hex SHA-256 of the token; -ENOENT if unknown. */
int wr_store_add_token(wr_store *s, const char *hash, const char *id, const char *tenant,
                       double at, wr_err *e);
int wr_store_find_token(wr_store *s, const char *hash, char *ret_hash, size_t hash_n,
                        char *ret_tenant, size_t tenant_n, wr_err *e);
/* id NULL: every token of the tenant. *ret_n: how many were removed. */
int wr_store_drop_tokens(wr_store *s, const char *tenant, const char *id, uint64_t *ret_n,
                         wr_err *e);

/* Runs the daemon supervises: state `running` until it records the end. */
int wr_store_add_run(wr_store *s, const char *id, const char *tenant, const char *detail,
                     double started_at, long daemon_pid, wr_err *e);
int wr_store_end_run(wr_store *s, const char *id, const char *state, double ended_at,
                     const char *detail, wr_err *e);
int wr_store_foreach_run(wr_store *s, const char *tenant, const char *state,
                         int (*fn)(const char *id, const char *tenant, const char *detail,
                                   const char *state, double started_at, double ended_at,
                                   long daemon_pid, void *userdata),
                         void *userdata, wr_err *e);

/* A tenant's network settings (net.c). A tenant without a row is in mode
 * `none` with no rate limits. subnet: first address of its nat /30, host
 * order, 0 when it has none. Rates in bits/s, 0 = unlimited. */
typedef struct wr_net_row {
    char saas_user_id[WR_TENANT_ID_MAX + 1];
    char mode[8];
    uint32_t subnet;
    uint64_t egress_bps, ingress_bps;
} wr_net_row;
/* -ENOENT (no error set) when the tenant has no row. */
int wr_store_net_get(wr_store *s, const char *saas_user_id, wr_net_row *ret, wr_err *e);
int wr_store_net_put(wr_store *s, const wr_net_row *n, wr_err *e); /* insert or replace */
int wr_store_net_drop(wr_store *s, const char *saas_user_id, wr_err *e);
/* Every row; stops at fn's first non-zero return and returns it. */
int wr_store_net_foreach(wr_store *s, int (*fn)(const wr_net_row *n, void *userdata),
                         void *userdata, wr_err *e);

/* Quotas (quota.c): the nine fields of a wr_quota in its order, for a tenant
 * or, under the key "", the host-wide defaults; all -1 when there is no row. */
#define WR_STORE_QUOTA_FIELDS 9
int wr_store_get_quota(wr_store *s, const char *key, int64_t v[WR_STORE_QUOTA_FIELDS], wr_err *e);
int wr_store_put_quota(wr_store *s, const char *key, const int64_t v[WR_STORE_QUOTA_FIELDS],
                       wr_err *e);
