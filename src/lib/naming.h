/* What names warren accepts, and the names it derives.
 *
 * tenant id (saas_user_id): UTF-8, 1-256 bytes, no control characters.
 * service id: [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
 * Linux username: prefix + the first N hex digits of sha256(tenant id), N = 8
 * unless that name is taken, in which case the next longer one that is free. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define WR_TENANT_ID_MAX 256
#define WR_SERVICE_ID_MAX 64
#define WR_USERNAME_MAX 32 /* what useradd and utmp accept */
#define WR_NAME_HEX_MIN 8
#define WR_GECOS_MAX 200
/* A prefix of at most 16 bytes leaves at least 16 hex digits for a username
 * that collides on its first 8. */
#define WR_PREFIX_MAX 16

int wr_check_tenant_id(const char *id, wr_err *e);
int wr_check_service_id(const char *id, wr_err *e);
/* Prefix: [a-z_][a-z0-9_-]*, 1..16 bytes, leaving room for at least 8 hex digits. */
int wr_check_prefix(const char *prefix, wr_err *e);

/* sha256(id) as 64 lowercase hex digits plus NUL. */
void wr_tenant_hash_hex(const char *id, char out[65]);
/* prefix + first `hexlen` digits of the hash into out (WR_USERNAME_MAX+1 bytes).
 * Returns -ENAMETOOLONG when prefix + hexlen exceeds WR_USERNAME_MAX. */
int wr_username_for(const char *prefix, const char *id, size_t hexlen, char *out);

/* A copy of the tenant id fit for the GECOS field of /etc/passwd: the bytes
 * that would break the file or its readers (':', ',', '=', '\\', control
 * characters) become '_', cut at a UTF-8 boundary to WR_GECOS_MAX bytes. */
void wr_gecos_from_tenant_id(const char *id, char out[WR_GECOS_MAX + 1]);
