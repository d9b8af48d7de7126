/* /v1/tenants: create, get, list (paged), delete, stats, sandboxes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "quota.h"
#include "util.h"



/* A positive count from the query, or dflt; -1 (after answering 400) if bad. */
static long long query_count(dreq *r, const char *key, long long dflt, long long max, int *ret) {
    const char *v = req_query(r, key);
    if (!v) return dflt;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > max) {
        *ret = reply_error(r, 400, "invalid", "%s '%s': expected a whole number from 0 to %lld",
                           key, v, max);
        return -1;
    }
    return n;
}

int h_tenants_list(dreq *r) {
    int ret = 0;
    long long limit = query_count(r, "limit", 100, 1000, &ret);
    if (limit < 0) return ret;
    /* The cursor is the last UID of the previous page: stable while tenants
     * come and go, since UIDs only grow. */
    long long after = query_count(r, "after", 0, 0xffffffffll, &ret);
    if (after < 0) return ret;
    wr_err e = WR_ERR_INIT;
    wr_tenant *v;
    size_t n;
    if (wr_tenant_list(srv_warren(r->s), &v, &n, &e) < 0) return reply_wr_err(r, &e);
    json_t *list = json_array();
    size_t taken = 0;
    long long last = -1;
    bool more = false;
    for (size_t i = 0; i < n; i++) {
        if ((long long)v[i].uid <= after) continue;
        if ((long long)taken == limit) {
            more = true;
            break;
        }
        json_array_append_new(list, wr_tenant_json(&v[i]));
        last = v[i].uid;
        taken++;
    }
    free(v);
    json_t *j = json_pack("{s:o,s:I}", "tenants", list, "count", (json_int_t)taken);
    char cursor[24];
    snprintf(cursor, sizeof cursor, "%lld", last);
    json_object_set_new(j, "next", more && last >= 0 ? json_string(cursor) : json_null());
    return reply_json(r, 200, j);
}

int h_tenants_create(dreq *r) {
    json_t *b = req_json(r, false);
    if (!b) return MHD_YES;
    const char *id = NULL;
    json_t *quotas = NULL;
    json_error_t je;
    if (json_unpack_ex(b, &je, JSON_STRICT, "{s:s,s?o}", "saas_user_id", &id, "quotas", &quotas) <
        0) {
        json_decref(b);
        return reply_error(r, 400, "invalid", "body: %s (expected {\"saas_user_id\": \"...\"})",
                           je.text);
    }
    wr_err e = WR_ERR_INIT;
    wr_quota change;
    /* Quotas are checked before anything is made, so a bad one changes nothing. */
    if (quotas && (!json_is_object(quotas) || quota_change_from_json(quotas, &change, &e) < 0)) {
        json_decref(b);
        if (!e.kind) wr_invalid(&e, "quotas: expected an object");
        return reply_wr_err(r, &e);
    }
    if (!srv_may_create(r->s, r)) {
        json_decref(b);
        return reply_error(r, 429, "rate_limited", "too many tenants created; slow down");
    }
    warren *w = srv_warren(r->s);
    wr_tenant t;
    bool with_quotas = quotas != NULL;
    int q = wr_tenant_create(w, id, &t, &e);
    if (q >= 0 && with_quotas && (q = wr_quota_set(w, id, &change, NULL, &e)) < 0)
        /* All or nothing: a tenant whose quotas the kernel refused is undone. */
        wr_tenant_delete(w, id, false, NULL);
    json_decref(b); /* id and quotas pointed into it */
    if (q < 0) return reply_wr_err(r, &e);
    json_t *j = wr_tenant_json(&t);
    if (with_quotas) {
        wr_quota eff;
        if (wr_quota_effective(w, t.saas_user_id, &eff, NULL) == 0)
            json_object_set_new(j, "quotas", wr_quota_json(&eff));
    }
    return reply_json(r, 201, j);
}

int h_tenant_get(dreq *r) {
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    if (wr_tenant_get(srv_warren(r->s), r->params[0], &t, &e) < 0) return reply_wr_err(r, &e);
    return reply_json(r, 200, wr_tenant_json(&t));
}

int h_tenant_delete(dreq *r) {
    int keep = parse_bool(req_query(r, "keep_home"), false);
    if (keep < 0) return reply_error(r, 400, "invalid", "keep_home: expected true or false");
    wr_err e = WR_ERR_INIT;
    if (wr_tenant_delete(srv_warren(r->s), r->params[0], keep, &e) < 0) return reply_wr_err(r, &e);
    return reply_json(r, 200, json_pack("{s:b,s:s,s:b}", "deleted", 1, "saas_user_id",
                                        r->params[0], "home_kept", keep));
}

int h_tenant_stats(dreq *r) {
    wr_err e = WR_ERR_INIT;
    wr_stats st;
    if (wr_tenant_stats(srv_warren(r->s), r->params[0], &st, &e) < 0) return reply_wr_err(r, &e);
    return reply_json(r, 200,
                      json_pack("{s:o,s:I,s:f,s:I,s:I,s:b}", "user", wr_tenant_json(&st.tenant),
                                "sandbox_count", (json_int_t)st.sandbox_count, "total_size_mb",
                                wr_size_mb(st.disk_bytes), "disk_bytes", (json_int_t)st.disk_bytes,
                                "files", (json_int_t)st.files, "truncated", st.truncated));
}

int h_sandbox_put(dreq *r) {
    wr_err e = WR_ERR_INIT;
    char *path = NULL;
    if (wr_sandbox_path(srv_warren(r->s), r->params[0], r->params[1], &path, &e) < 0)
        return reply_wr_err(r, &e);
    json_t *j = json_pack("{s:s,s:s,s:s}", "saas_user_id", r->params[0], "service_id",
                          r->params[1], "path", path);
    free(path);
    return reply_json(r, 200, j);
}
