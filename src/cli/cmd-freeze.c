/* warren freeze|thaw|kill TENANT: every process of the tenant at once,
 * through its cgroup (cgroup.freeze, cgroup.kill). */
#include <stdio.h>

#include "cgroup.h"
#include "cli.h"

static int tenant_op(cli *c, const char *id, int op) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    if (wr_tenant_get(c->w, id, &t, &e) < 0) return cli_fail(c, &e);
    int r = op == 2 ? wr_cgroup_tenant_kill(c->w, &t, &e)
                    : wr_cgroup_tenant_freeze(c->w, &t, op == 0, &e);
    if (r < 0) return cli_fail(c, &e);
    static const char *const done[] = {"frozen", "thawed", "killed"};
    if (c->json)
        print_json(json_pack("{s:s,s:s}", "saas_user_id", t.saas_user_id, "state", done[op]));
    else
        printf("%s: %s\n", t.saas_user_id, done[op]);
    return EXIT_OK;
}

int cmd_freeze(cli *c, char **args) {
    return tenant_op(c, args[0], 0);
}
int cmd_thaw(cli *c, char **args) {
    return tenant_op(c, args[0], 1);
}
int cmd_kill(cli *c, char **args) {
    return tenant_op(c, args[0], 2);
}
