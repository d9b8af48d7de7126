/* warren audit TENANT: the system calls the strong level refused the tenant. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_audit(cli *c, char **args) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_refusal *v;
    size_t n;
    if (wr_tenant_refusals(c->w, args[0], &v, &n, &e) < 0) return cli_fail(c, &e);
    if (c->json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, json_pack("{s:s,s:I,s:f,s:f}", "syscall", v[i].syscall,
                                                  "count", (json_int_t)v[i].count, "first_at",
                                                  v[i].first_at, "last_at", v[i].last_at));
        json_t *j = json_object();
        json_object_set_new(j, "saas_user_id", json_string(args[0]));
        json_object_set_new(j, "refused_syscalls", list);
        print_json(j);
    } else {
        if (n) printf("%-24s %8s  %-23s %s\n", "SYSCALL", "COUNT", "FIRST", "LAST");
        for (size_t i = 0; i < n; i++) {
            char first[64], last[64];
            format_time(v[i].first_at, first, sizeof first);
            format_time(v[i].last_at, last, sizeof last);
            printf("%-24s %8llu  %-23s %s\n", v[i].syscall, (unsigned long long)v[i].count, first,
                   last);
        }
        if (!n) printf("no refused system calls\n");
    }
    free(v);
    return EXIT_OK;
}
