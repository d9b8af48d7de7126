/* warren sandbox path TENANT SERVICE */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_sandbox_path(cli *c, char **args) {
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    char *path;
    if (wr_sandbox_path(c->w, args[0], args[1], &path, &e) < 0) return cli_fail(c, &e);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "saas_user_id", json_string(args[0]));
        json_object_set_new(j, "service_id", json_string(args[1]));
        json_object_set_new(j, "path", json_string(path));
        print_json(j);
    } else {
        printf("%s\n", path);
    }
    free(path);
    return EXIT_OK;
}
