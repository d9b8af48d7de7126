/* The tenant registry's public face: tenants become Linux accounts with a home
 * and one sandbox per service. This is the API the CLI, the daemon, the tests
 * and the benchmarks use; store.c, accounts.c, home.c and the rest are its
 * parts.
 *
 * A create is all or nothing: the registry row is written first in state
 * `creating`, then the account, then the home, then the row becomes `active`.
 * A failure undoes what was done; a crash leaves the row in `creating`, and the
 * next warren that opens the registry undoes it (wr_open repairs). A delete
 * marks the row `deleting` first and likewise finishes after a crash. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "err.h"
#include "naming.h"

typedef enum wr_tenant_state {
    WR_TENANT_CREATING = 0,
    WR_TENANT_ACTIVE = 1,
    WR_TENANT_DELETING = 2,
} wr_tenant_state;

typedef struct wr_tenant {
    char saas_user_id[WR_TENANT_ID_MAX + 1];
    char linux_username[WR_USERNAME_MAX + 1];
    uid_t uid;
    gid_t gid;
    char home_dir[WR_BASE_MAX + WR_USERNAME_MAX + 2];
    double created_at;
    wr_tenant_state state;
    bool keep_home; /* meaningful in state `deleting` */
} wr_tenant;

typedef struct wr_stats {
    wr_tenant tenant;
    uint64_t sandbox_count;
    uint64_t disk_bytes; /* blocks in use, hard links once, no links followed */
    uint64_t files;
    bool truncated; /* parts of the tree were too deep to walk */
} wr_stats;

typedef struct warren warren;

/* Opens the registry, creates the state directory and users base as needed,
 * and finishes any create or delete a crash interrupted. */
int wr_open(const wr_config *cfg, warren **ret, wr_err *e);
void wr_close(warren *w);
const wr_config *wr_config_of(const warren *w);
/* Upkeep a long-lived caller runs when idle (the registry's log, which
 * wr_close also trims): whether any is due, and doing it. */
bool wr_maintain_due(const warren *w);
void wr_maintain(warren *w);
/* For a long-lived supervisor (the daemon): keeps the calling thread off
 * the CPUs that tenants with a fractional cpu quota are placed on, while
 * some of its CPUs hold none (supervisor.c says why); its runs still get
 * every CPU their tenant may use. From then on wr_maintain keeps it
 * current. 1 if the thread is kept off some CPUs, 0 if not. */
int wr_supervisor_place(warren *w, wr_err *e);
/* Around starting a process that is warren's own work (an export or import
 * helper): the thread takes its first CPUs back for the child to inherit,
 * then keeps off again. Nothing when it is not kept off any. */
void wr_supervisor_widen(warren *w);
void wr_supervisor_narrow(warren *w);

/* Creates the tenant; -EEXIST (kind exists) if it is registered already. */
int wr_tenant_create(warren *w, const char *saas_user_id, wr_tenant *ret, wr_err *e);
/* pactown's get_or_create_user. *ret_created tells which happened (may be NULL). */
int wr_tenant_get_or_create(warren *w, const char *saas_user_id, wr_tenant *ret, bool *ret_created,
                            wr_err *e);
/* -ENOENT (kind not found) for an unknown tenant. */
int wr_tenant_get(warren *w, const char *saas_user_id, wr_tenant *ret, wr_err *e);
/* Active tenants in UID order. *ret is malloc'ed (free it); *ret_n its length. */
int wr_tenant_list(warren *w, wr_tenant **ret, size_t *ret_n, wr_err *e);
int wr_tenant_stats(warren *w, const char *saas_user_id, wr_stats *ret, wr_err *e);
/* Ends the tenant's processes, removes the home (unless keep_home), the account
 * and the registry row. */
int wr_tenant_delete(warren *w, const char *saas_user_id, bool keep_home, wr_err *e);

/* A system call the strong level refused a tenant's runs, summed over them. */
typedef struct wr_refusal {
    char syscall[32];
    uint64_t count;
    double first_at, last_at;
} wr_refusal;

/* The tenant's refused system calls, most frequent first (*ret malloc'ed). */
int wr_tenant_refusals(warren *w, const char *saas_user_id, wr_refusal **ret, size_t *ret_n,
                       wr_err *e);

typedef struct wr_reconcile_report {
    unsigned tenants_checked;
    unsigned accounts_restored; /* tenants whose account lines were missing or partial */
    unsigned orphans_removed;   /* accounts warren made that no tenant owns any more */
    unsigned uids_retired;      /* UIDs kept from reuse: orphans and homes without a tenant */
    unsigned conflicts;         /* a tenant's name held by an account with another ID */
    unsigned runs_ended;        /* runs whose warren died, ended with all they left */
} wr_reconcile_report;

/* Compares the registry with the account files and the users base and brings
 * them into agreement without destroying data (reconcile.c). wr_open runs it
 * once per boot; `warren repair` runs it on demand. */
int wr_reconcile(warren *w, wr_reconcile_report *ret, wr_err *e);
/* Runs wr_reconcile if it has not run since the kernel booted. */
int wr_reconcile_after_boot(warren *w, wr_err *e);

/* The sandbox directory of a service, created (0700, owned by the tenant) if
 * missing. Refuses a path the tenant replaced with a link. *ret_path is
 * malloc'ed. */
int wr_sandbox_path(warren *w, const char *saas_user_id, const char *service_id, char **ret_path,
                    wr_err *e);
