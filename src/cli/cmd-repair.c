/* warren repair: reconcile the registry, the account files and the homes. */
#include <stdio.h>

#include "cli.h"

int cmd_repair(cli *c, char **args) {
    (void)args;
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_reconcile_report rep;
    if (wr_reconcile(c->w, &rep, &e) < 0) return cli_fail(c, &e);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "tenants_checked", json_integer(rep.tenants_checked));
        json_object_set_new(j, "accounts_restored", json_integer(rep.accounts_restored));
        json_object_set_new(j, "orphans_removed", json_integer(rep.orphans_removed));
        json_object_set_new(j, "uids_retired", json_integer(rep.uids_retired));
        json_object_set_new(j, "conflicts", json_integer(rep.conflicts));
        json_object_set_new(j, "runs_ended", json_integer(rep.runs_ended));
        print_json(j);
        return rep.conflicts ? EXIT_FAILURE_ : EXIT_OK;
    }
    printf("checked %u tenants: %u accounts restored, %u orphaned accounts removed, "
           "%u UIDs retired, %u conflicts, %u orphaned runs ended\n",
           rep.tenants_checked, rep.accounts_restored, rep.orphans_removed, rep.uids_retired,
           rep.conflicts, rep.runs_ended);
    if (rep.conflicts)
        fprintf(stderr,
                "warren: %u tenants' account names are held by accounts with other IDs; "
                "left alone, see `getent passwd`\n",
                rep.conflicts);
    return rep.conflicts ? EXIT_FAILURE_ : EXIT_OK;
}
