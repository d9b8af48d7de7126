/* API tokens: secrets that let a client act as the admin or as one tenant.
 *
 * A token is 32 random bytes written as 64 hex digits. warren never stores a
 * tenant token itself, only its SHA-256, so a copy of the registry does not
 * let anyone in; a presented token is hashed and looked up, and the stored
 * hash is compared in constant time. Each tenant token also has a public id
 * (16 hex digits) to revoke it by.
 *
 * The admin token lives in a file (0600, root's): <state_dir>/admin.token,
 * made on first use, or the file WARREN_ADMIN_TOKEN_FILE names. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "tenant.h"

#define WR_TOKEN_LEN 64    /* hex digits of a token */
#define WR_TOKEN_ID_LEN 16 /* hex digits of a token id */

/* Issues a token for an existing tenant. ret_token: WR_TOKEN_LEN + 1 bytes;
 * ret_id: WR_TOKEN_ID_LEN + 1. Records token_created in the audit log. */
int wr_token_create(warren *w, const char *saas_user_id, char *ret_token, char *ret_id,
                    wr_err *e);
/* Revokes the tenant's token `id`, or all of its tokens when id is NULL.
 * -ENOENT (not found) if there was none. *ret_n (may be NULL): how many. */
int wr_token_revoke(warren *w, const char *saas_user_id, const char *id, size_t *ret_n,
                    wr_err *e);
/* The tenant a token belongs to: 0 and ret_tenant (WR_TENANT_ID_MAX + 1
 * bytes) filled, or -ENOENT for a token warren did not issue. */
int wr_token_lookup(warren *w, const char *token, char *ret_tenant, wr_err *e);

/* Reads the admin token from `path`, or generates one there if the file does
 * not exist. Refuses a file others may read or that is not a regular file. */
int wr_admin_token_load(const char *path, char ret_token[WR_TOKEN_LEN + 1], wr_err *e);
/* The default admin token path for a state directory, or
 * $WARREN_ADMIN_TOKEN_FILE. ret: PATH_MAX bytes. */
void wr_admin_token_path(const char *state_dir, char *ret, size_t n);

/* Constant-time equality of two NUL-terminated secrets (their length aside). */
bool wr_secret_equal(const char *a, const char *b);

/* The SHA-256 of a token, the form tokens are compared and stored in. */
void wr_token_hash(const char *token, unsigned char ret[32]);
/* As wr_token_lookup, for a caller that has hashed the token already (the
 * daemon hashes each presented token once, to compare it with the admin's
 * and to look it up). */
int wr_token_lookup_hash(warren *w, const unsigned char hash[32], char *ret_tenant, wr_err *e);
