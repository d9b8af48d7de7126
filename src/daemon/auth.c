/* Who is asking, and may they: the admin token, tenant tokens, the Unix
 * socket's peer. A tenant token reaches its own tenant only; an attempt on
 * another tenant is refused and audited as cross_tenant_access. Tokens in the
 * query string are refused before this (server.c): URLs end up in logs. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "audit.h"
#include "daemon.h"
#include "util.h"

/* The token of the request: "Authorization: Bearer T" or pactown's
 * "X-Runner-Token: T". NULL if neither; *bad if a header is there but malformed. */
static const char *presented_token(dreq *r, bool *bad) {
    const char *a = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    const char *x = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Runner-Token");
    *bad = false;
    if (a) {
        if (strncasecmp(a, "Bearer ", 7) != 0) {
            *bad = true;
            return NULL;
        }
        a += 7;
        while (*a == ' ')
            a++;
        return a;
    }
    return x;
}

static bool unix_peer_is_root(dreq *r) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return false;
    return cred.uid == 0;
}

int auth_identify(dreq *r, bool *answered) {
    *answered = false;
    r->who = WHO_NONE;
    bool bad;
    const char *tok = presented_token(r, &bad);
    if (!tok && !bad) {
        /* The Unix socket is root's alone (0600): root there is the admin. */
        if (r->unix_peer && unix_peer_is_root(r)) r->who = WHO_ADMIN;
        return 0;
    }
    if (bad || !*tok) goto refuse;
    /* One hash per request: compared (in constant time) with the admin
     * token's, then looked up among the tenants'. */
    unsigned char md[32];
    wr_token_hash(tok, md);
    if (CRYPTO_memcmp(md, r->s->admin_hash, 32) == 0) {
        r->who = WHO_ADMIN;
        return 0;
    }
    if (strlen(tok) == WR_TOKEN_LEN && wr_token_lookup_hash(r->s->w, md, r->tenant, NULL) == 0) {
        r->who = WHO_TENANT;
        return 0;
    }
refuse:
    r->s->denied_total++;
    *answered = true;
    return reply_error(r, 401, "unauthorized", "invalid token");
}

bool auth_allow(dreq *r, const char *tenant, int *ret) {
    route_access need = r->route->access;
    if (need == ACCESS_PUBLIC || r->who == WHO_ADMIN) return true;
    if (r->who == WHO_NONE) {
        r->s->denied_total++;
        *ret = reply_error(r, 401, "unauthorized",
                           "authentication required: send 'Authorization: Bearer TOKEN' or "
                           "'X-Runner-Token: TOKEN'");
        return false;
    }
    if (need == ACCESS_TENANT && tenant && streq(tenant, r->tenant)) return true;
    r->s->denied_total++;
    if (tenant && !streq(tenant, r->tenant)) {
        /* Another tenant's resource: the event names both. */
        r->s->cross_tenant_total++;
        json_t *d = json_pack("{s:s,s:s,s:s}", "target", tenant, "method", r->method, "route",
                              r->route->pattern);
        char *text = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(d);
        wr_audit_note(r->s->w, "cross_tenant_access", r->tenant, text);
        free(text);
        *ret = reply_error(r, 403, "forbidden", "this token may not reach another tenant");
        return false;
    }
    json_t *d = json_pack("{s:s,s:s}", "method", r->method, "route", r->route->pattern);
    char *text = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(d);
    wr_audit_note(r->s->w, "denied", r->tenant, text);
    free(text);
    *ret = reply_error(r, 403, "forbidden", "this route needs the admin token");
    return false;
}
