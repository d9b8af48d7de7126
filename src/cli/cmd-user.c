/* warren user create|get|list|stats|delete */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static void print_tenant(const wr_tenant *t) {
    char when[64];
    format_time(t->created_at, when, sizeof when);
    printf("tenant   %s\n"
           "account  %s (uid %u, gid %u)\n"
           "home     %s\n"
           "created  %s\n",
           t->saas_user_id, t->linux_username, (unsigned)t->uid, (unsigned)t->gid, t->home_dir,
           when);
}

static int show_tenant(cli *c, const wr_tenant *t) {
    if (c->json)
        print_json(wr_tenant_json(t));
    else
        print_tenant(t);
    return EXIT_OK;
}

int cmd_user_create(cli *c, char **args) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    bool created = true;
    int r = c->exist_ok ? wr_tenant_get_or_create(c->w, args[0], &t, &created, &e)
                        : wr_tenant_create(c->w, args[0], &t, &e);
    if (r < 0) return cli_fail(c, &e);
    if (!c->json && !created) printf("(exists already)\n");
    return show_tenant(c, &t);
}

int cmd_user_get(cli *c, char **args) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    if (wr_tenant_get(c->w, args[0], &t, &e) < 0) return cli_fail(c, &e);
    return show_tenant(c, &t);
}

int cmd_user_list(cli *c, char **args) {
    (void)args;
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_tenant *v;
    size_t n;
    if (wr_tenant_list(c->w, &v, &n, &e) < 0) return cli_fail(c, &e);
    if (c->json) {
        json_t *users = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(users, wr_tenant_json(&v[i]));
        json_t *j = json_object();
        json_object_set_new(j, "users", users);
        json_object_set_new(j, "count", json_integer((json_int_t)n));
        print_json(j);
    } else {
        if (n) printf("%-8s %-24s %-23s %s\n", "UID", "ACCOUNT", "CREATED", "TENANT");
        for (size_t i = 0; i < n; i++) {
            char when[64];
            format_time(v[i].created_at, when, sizeof when);
            printf("%-8u %-24s %-23s %s\n", (unsigned)v[i].uid, v[i].linux_username, when,
                   v[i].saas_user_id);
        }
        printf("%zu tenant%s\n", n, n == 1 ? "" : "s");
    }
    free(v);
    return EXIT_OK;
}

int cmd_user_stats(cli *c, char **args) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_stats s;
    if (wr_tenant_stats(c->w, args[0], &s, &e) < 0) return cli_fail(c, &e);
    if (c->json) {
        print_json(stats_json(&s));
    } else {
        printf("%s: %llu sandbox%s, %.2f MB in %llu files%s\n", s.tenant.saas_user_id,
               (unsigned long long)s.sandbox_count, s.sandbox_count == 1 ? "" : "es",
               wr_size_mb(s.disk_bytes), (unsigned long long)s.files,
               s.truncated ? " (some directories too deep to count)" : "");
    }
    return EXIT_OK;
}

int cmd_user_delete(cli *c, char **args) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    if (wr_tenant_delete(c->w, args[0], c->keep_home, &e) < 0) return cli_fail(c, &e);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "success", json_true());
        json_object_set_new(j, "user_id", json_string(args[0]));
        print_json(j);
    } else {
        printf("deleted %s%s\n", args[0], c->keep_home ? " (home kept)" : "");
    }
    return EXIT_OK;
}
