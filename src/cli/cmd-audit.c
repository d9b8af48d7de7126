/* warren audit [TENANT] [--tenant T] [--since S] [--type TYPE] [--limit N]:
 * the audit log, oldest first. With a tenant named, --json also carries the
 * tenant's refused system calls in the shape `warren audit TENANT` always
 * had ({"saas_user_id", "refused_syscalls"}), before the events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "util.h"

typedef struct events {
    json_t *list; /* --json */
    size_t n;
} events;

static int add_event(const wr_audit_event *ev, void *userdata) {
    events *x = userdata;
    x->n++;
    if (x->list) {
        json_t *detail = json_loads(ev->detail_json, 0, NULL);
        json_array_append_new(
            x->list, json_pack("{s:I,s:f,s:s,s:s?,s:o}", "id", (json_int_t)ev->id, "at", ev->at,
                               "type", ev->type, "tenant", *ev->tenant ? ev->tenant : NULL,
                               "detail", detail ? detail : json_object()));
        return 0;
    }
    char when[64];
    format_time(ev->at, when, sizeof when);
    printf("%-23s  %-20s  %-24s  %s\n", when, ev->type, *ev->tenant ? ev->tenant : "-",
           ev->detail_json);
    return 0;
}

static json_t *refusals_json(const wr_refusal *v, size_t n) {
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s,s:I,s:f,s:f}", "syscall", v[i].syscall,
                                              "count", (json_int_t)v[i].count, "first_at",
                                              v[i].first_at, "last_at", v[i].last_at));
    return list;
}

int cmd_audit(cli *c, char **args) {
    wr_audit_filter f = {.tenant = args[0] ? args[0] : c->tenant, .type = c->type};
    if (args[0] && c->tenant && !streq(args[0], c->tenant))
        return cli_usage_error("audit: TENANT '%s' and --tenant '%s' differ", args[0], c->tenant);
    wr_err e = WR_ERR_INIT;
    if (c->since && wr_audit_parse_since(c->since, &f.since, &e) < 0)
        return cli_usage_error("%s", e.msg);
    if (c->limit) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(c->limit, &end, 10);
        if (errno || end == c->limit || *end || v == 0 || c->limit[0] == '-')
            return cli_usage_error("--limit '%s': expected a count > 0", c->limit);
        f.limit = v;
    }
    int rc = cli_open(c);
    if (rc) return rc;

    /* A named tenant that exists gets its refusal summary; one that is gone
     * (deleted) still has its history, and only an id nothing ever recorded
     * is unknown. */
    wr_refusal *ref = NULL;
    size_t nref = 0;
    bool exists = false;
    if (f.tenant) {
        wr_err ge = WR_ERR_INIT;
        if (wr_tenant_refusals(c->w, f.tenant, &ref, &nref, &ge) == 0)
            exists = true;
        else if (ge.kind != WR_ERR_NOT_FOUND)
            return cli_fail(c, &ge);
    }
    events x = {.list = c->json ? json_array() : NULL};
    if (!c->json) printf("%-23s  %-20s  %-24s  %s\n", "TIME", "TYPE", "TENANT", "DETAIL");
    int r = wr_audit_query(c->w, &f, add_event, &x, &e);
    if (r < 0) {
        json_decref(x.list);
        free(ref);
        return cli_fail(c, &e);
    }
    if (f.tenant && !exists && x.n == 0 && !f.type && !f.since) {
        json_decref(x.list);
        wr_not_found(&e, "tenant '%s' not found, and the audit log never named it", f.tenant);
        return cli_fail(c, &e);
    }
    if (c->json) {
        json_t *j = json_object();
        if (f.tenant) {
            json_object_set_new(j, "saas_user_id", json_string(f.tenant));
            json_object_set_new(j, "refused_syscalls", refusals_json(ref, nref));
        }
        json_object_set_new(j, "count", json_integer((json_int_t)x.n));
        json_object_set_new(j, "events", x.list);
        print_json(j);
    } else if (!x.n) {
        printf("no audit events\n");
    }
    free(ref);
    return EXIT_OK;
}
