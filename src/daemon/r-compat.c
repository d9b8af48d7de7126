/* Seed 001's four routes under /runner/isolation/, exactly as pactown
 * documents them: shapes, field order, and {"detail": "..."} errors. */
#include <math.h>
#include <stdlib.h>

#include "handlers.h"

int h_compat_users(dreq *r) {
    wr_err e = WR_ERR_INIT;
    wr_tenant *v;
    size_t n;
    if (wr_tenant_list(srv_warren(r->s), &v, &n, &e) < 0) return reply_wr_err(r, &e);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, wr_tenant_json(&v[i]));
    free(v);
    return reply_json(r, 200, json_pack("{s:o,s:I}", "users", list, "count", (json_int_t)n));
}

int h_compat_user(dreq *r) {
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    warren *w = srv_warren(r->s);
    /* Reads are free; a create counts against the client's create rate. */
    if (wr_tenant_get(w, r->params[0], &t, &e) == 0) return reply_json(r, 200, wr_tenant_json(&t));
    if (e.kind == WR_ERR_INVALID) return reply_wr_err(r, &e);
    if (!srv_may_create(r->s, r))
        return reply_error(r, 429, "rate_limited", "too many users created; slow down");
    wr_err_clear(&e);
    if (wr_tenant_get_or_create(w, r->params[0], &t, NULL, &e) < 0) return reply_wr_err(r, &e);
    return reply_json(r, 200, wr_tenant_json(&t));
}

int h_compat_stats(dreq *r) {
    wr_err e = WR_ERR_INIT;
    wr_stats st;
    if (wr_tenant_stats(srv_warren(r->s), r->params[0], &st, &e) < 0) return reply_wr_err(r, &e);
    json_t *j = json_pack("{s:{s:s,s:s},s:I,s:f}", "user", "saas_user_id",
                          st.tenant.saas_user_id, "linux_username", st.tenant.linux_username,
                          "sandbox_count", (json_int_t)st.sandbox_count, "total_size_mb",
                          wr_size_mb(st.disk_bytes));
    return reply_json(r, 200, j);
}

int h_compat_delete(dreq *r) {
    int del = parse_bool(req_query(r, "delete_home"), true);
    if (del < 0) return reply_error(r, 400, "invalid", "delete_home: expected true or false");
    wr_err e = WR_ERR_INIT;
    if (wr_tenant_delete(srv_warren(r->s), r->params[0], !del, &e) < 0) return reply_wr_err(r, &e);
    return reply_json(r, 200,
                      json_pack("{s:b,s:s}", "success", 1, "user_id", r->params[0]));
}
