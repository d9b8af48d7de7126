/* warren demo: pactown's user-isolation demo (seed 000), with real accounts.
 * It reuses the tenants if they exist, so it can run again and again. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

static const char *const demo_tenants[] = {"user_alice", "user_bob"};
#define DEMO_SERVICE "my-api"

int cmd_demo(cli *c, char **args) {
    (void)args;
    int rc = cli_open(c);
    if (rc) return rc;
    wr_err e = WR_ERR_INIT;
    wr_tenant t[2];

    printf("=== User Isolation Demo ===\n\nCreating isolated users...\n");
    for (int i = 0; i < 2; i++) {
        bool created;
        if (wr_tenant_get_or_create(c->w, demo_tenants[i], &t[i], &created, &e) < 0)
            return cli_fail(c, &e);
        printf("  \u2713 %s -> %s (UID: %u)%s\n", demo_tenants[i], t[i].linux_username,
               (unsigned)t[i].uid, created ? "" : " (existing)");
    }

    printf("\nCreating sandboxes...\n");
    for (int i = 0; i < 2; i++) {
        char *path;
        if (wr_sandbox_path(c->w, demo_tenants[i], DEMO_SERVICE, &path, &e) < 0)
            return cli_fail(c, &e);
        printf("  \u2713 %s/%s: %s\n", demo_tenants[i], DEMO_SERVICE, path);
        free(path);
    }

    if (c->cfg.root_mode) {
        /* What the host itself now says about them: real accounts, not a list. */
        printf("\nAccounts as the system sees them:\n");
        for (int i = 0; i < 2; i++) {
            struct passwd *pw = getpwnam(t[i].linux_username);
            struct group *gr = getgrgid(t[i].gid);
            if (!pw) {
                printf("  %s: not known to getpwnam!\n", t[i].linux_username);
                continue;
            }
            printf("  %s:%u:%u:%s:%s:%s (group %s)\n", pw->pw_name, (unsigned)pw->pw_uid,
                   (unsigned)pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell,
                   gr ? gr->gr_name : "?");
        }
    } else {
        printf("\n(non-root mode: no accounts; files belong to you, uid %u)\n", (unsigned)getuid());
    }

    printf("\nUser statistics:\n");
    for (int i = 0; i < 2; i++) {
        wr_stats s;
        if (wr_tenant_stats(c->w, demo_tenants[i], &s, &e) < 0) return cli_fail(c, &e);
        printf("  %s: %llu sandbox%s, %.2f MB\n", demo_tenants[i],
               (unsigned long long)s.sandbox_count, s.sandbox_count == 1 ? "" : "es",
               wr_size_mb(s.disk_bytes));
    }

    wr_tenant *all;
    size_t n;
    if (wr_tenant_list(c->w, &all, &n, &e) < 0) return cli_fail(c, &e);
    free(all);
    printf("\nTotal isolated users: %zu\n", n);
    printf("\nRemove them with: warren user delete user_alice; warren user delete user_bob\n");
    return EXIT_OK;
}
