/* /v1/audit (admin) and /v1/tenants/{id}/audit (the tenant's own events). */
#include <errno.h>
#include <stdlib.h>

#include "audit.h"
#include "handlers.h"

typedef struct page {
    json_t *list;
    uint64_t last_id;
} page;

static int add(const wr_audit_event *ev, void *userdata) {
    page *p = userdata;
    json_t *d = json_loads(ev->detail_json, 0, NULL);
    json_array_append_new(p->list, json_pack("{s:I,s:f,s:s,s:s?,s:o}", "id", (json_int_t)ev->id,
                                             "at", ev->at, "type", ev->type, "tenant",
                                             *ev->tenant ? ev->tenant : NULL, "detail",
                                             d ? d : json_object()));
    if (ev->id) p->last_id = ev->id;
    return 0;
}

static int query(dreq *r, const char *tenant) {
    wr_audit_filter f = {.tenant = tenant, .type = req_query(r, "type"), .limit = 100};
    wr_err e = WR_ERR_INIT;
    const char *since = req_query(r, "since"), *after = req_query(r, "after"),
               *limit = req_query(r, "limit");
    if (since && wr_audit_parse_since(since, &f.since, &e) < 0) return reply_wr_err(r, &e);
    char *end;
    if (after) {
        errno = 0;
        f.after_id = strtoull(after, &end, 10);
        if (errno || end == after || *end || after[0] == '-')
            return reply_error(r, 400, "invalid", "after '%s': expected an event id", after);
    }
    if (limit) {
        errno = 0;
        f.limit = strtoull(limit, &end, 10);
        if (errno || end == limit || *end || f.limit == 0 || f.limit > 1000 || limit[0] == '-')
            return reply_error(r, 400, "invalid", "limit '%s': expected 1 to 1000", limit);
    }
    page p = {.list = json_array()};
    if (wr_audit_query(srv_warren(r->s), &f, add, &p, &e) < 0) {
        json_decref(p.list);
        return reply_wr_err(r, &e);
    }
    size_t n = json_array_size(p.list);
    json_t *j = json_pack("{s:o,s:I}", "events", p.list, "count", (json_int_t)n);
    json_object_set_new(j, "next",
                        n == f.limit && p.last_id ? json_integer((json_int_t)p.last_id)
                                                  : json_null());
    return reply_json(r, 200, j);
}

int h_audit(dreq *r) {
    return query(r, req_query(r, "tenant"));
}

int h_tenant_audit(dreq *r) {
    return query(r, r->params[0]);
}
