/* Bringing the registry, the account files and the users base back into
 * agreement.
 *
 * Creates and deletes keep the three in step against a process crash (the
 * row states of tenant.c). A power cut is different: the registry (WAL,
 * synchronous=NORMAL) and the appended account lines are not synced per
 * operation, so either may lose its last seconds. An admin's hand edit of
 * /etc can break the agreement too. So, once per boot (wr_open compares the
 * kernel's boot id with the one recorded here) and on `warren repair`, this
 * pass compares them and repairs what it can without ever destroying a
 * tenant's data:
 *
 *  - a registered tenant whose account lines are missing or partial gets them
 *    written again (a passwd line with its name but another UID is a conflict:
 *    reported, never touched);
 *  - an account warren made (its UID in warren's range, its home
 *    <users_base>/<name>) that has no registry row is removed, with what its
 *    UID left outside the home (processes, IPC, keys, files in /tmp and the
 *    like, as a delete does), and its UID is retired so it is not handed out
 *    again while its home may remain;
 *  - a directory in the users base that belongs to no tenant is left in place,
 *    and its owner's UID is retired likewise: a new tenant with that UID could
 *    otherwise reach files that are not its own. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "accounts.h"
#include "warren-archive.h"
#include "net.h"
#include "offboard.h"
#include "proc.h"
#include "util.h"
#include "warren-internal.h"

typedef struct entry {
    char *name;
    long long id;
    char *home;
} entry;

typedef struct table {
    entry *v;
    size_t n, cap;
    bool present; /* the file exists (shadow and gshadow are optional) */
} table;

typedef struct accounts {
    table t[4]; /* by wr_account_file */
} accounts;

static int by_name(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static const entry *find(const table *t, const char *name) {
    if (t->n == 0) return NULL; /* bsearch may not be handed a NULL array */
    entry key = {.name = (char *)name};
    return bsearch(&key, t->v, t->n, sizeof *t->v, by_name);
}

static int add_entry(const wr_account_entry *en, void *userdata) {
    table *t = &((accounts *)userdata)->t[en->file];
    t->present = true;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        entry *v = realloc(t->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    entry *x = &t->v[t->n];
    x->name = strdup(en->name);
    x->home = en->home ? strdup(en->home) : NULL;
    x->id = en->id;
    if (!x->name || (en->home && !x->home)) {
        free(x->name);
        free(x->home);
        return -ENOMEM;
    }
    t->n++;
    return 0;
}

static void accounts_free(accounts *a) {
    for (int f = 0; f < 4; f++) {
        for (size_t i = 0; i < a->t[f].n; i++) {
            free(a->t[f].v[i].name);
            free(a->t[f].v[i].home);
        }
        free(a->t[f].v);
    }
}

static int read_accounts(warren *w, accounts *a, wr_err *e) {
    int r = wr_accounts_scan(w->cfg.etc_dir, add_entry, a, e);
    if (r == -ENOMEM) return wr_sys(e, ENOMEM, "reading the account files");
    if (r < 0) return r;
    /* A file that exists but is empty still counts as present. */
    for (int f = 0; f < 4; f++) {
        static const char *const names[] = {"passwd", "group", "shadow", "gshadow"};
        char p[WR_BASE_MAX + 16];
        snprintf(p, sizeof p, "%s/%s", w->cfg.etc_dir, names[f]);
        if (!a->t[f].present) a->t[f].present = access(p, F_OK) == 0;
        if (a->t[f].n) qsort(a->t[f].v, a->t[f].n, sizeof *a->t[f].v, by_name);
    }
    return 0;
}

static int tenant_by_name(const void *a, const void *b) {
    return strcmp(((const wr_tenant *)a)->linux_username, ((const wr_tenant *)b)->linux_username);
}

static const wr_tenant *tenant_named(const wr_rows *l, const char *name) {
    if (l->n == 0) return NULL;
    wr_tenant key;
    snprintf(key.linux_username, sizeof key.linux_username, "%s", name);
    return bsearch(&key, l->v, l->n, sizeof *l->v, tenant_by_name);
}

/* Account lines of a registered tenant: complete them if any is missing. */
static int check_tenant(warren *w, const accounts *a, const wr_tenant *t, wr_reconcile_report *rep,
                        wr_err *e) {
    const entry *p = find(&a->t[WR_ACCOUNT_PASSWD], t->linux_username);
    const entry *g = find(&a->t[WR_ACCOUNT_GROUP], t->linux_username);
    if ((p && p->id != (long long)t->uid) || (g && g->id != (long long)t->gid)) {
        rep->conflicts++;
        return 0;
    }
    bool whole =
        p && g &&
        (!a->t[WR_ACCOUNT_SHADOW].present || find(&a->t[WR_ACCOUNT_SHADOW], t->linux_username)) &&
        (!a->t[WR_ACCOUNT_GSHADOW].present || find(&a->t[WR_ACCOUNT_GSHADOW], t->linux_username));
    if (whole) return 0;
    /* Take out what is there, then write all four lines as a create does. */
    int r = wr_account_remove(w, t, e);
    if (r >= 0) r = wr_account_add(w, t, e);
    if (r >= 0) rep->accounts_restored++;
    return r;
}

static bool in_range(const warren *w, long long id) {
    return id >= (long long)w->cfg.uid_min && id <= (long long)w->cfg.uid_max;
}

static int retire(warren *w, uid_t uid, const char *name, bool clean, wr_reconcile_report *rep,
                  wr_err *e) {
    bool used;
    int r = wr_store_uid_used(w->store, uid, &used, e);
    if (r < 0 || used) return r;
    if ((r = wr_store_retire_uid(w->store, uid, name, clean, e)) >= 0) rep->uids_retired++;
    return r;
}

/* An account warren made (UID in range, home at its place in the users base)
 * that the registry does not know: a create whose row a power cut lost. */
static int check_orphan(warren *w, const wr_rows *l, const entry *p, wr_reconcile_report *rep,
                        wr_err *e) {
    if (!in_range(w, p->id) || tenant_named(l, p->name) || !p->home) return 0;
    size_t bl = strlen(w->cfg.users_base);
    if (strncmp(p->home, w->cfg.users_base, bl) || p->home[bl] != '/' ||
        !streq(p->home + bl + 1, p->name))
        return 0;
    wr_tenant t = {.uid = (uid_t)p->id, .gid = (gid_t)p->id};
    snprintf(t.linux_username, sizeof t.linux_username, "%s", p->name);
    /* Its tenant lived for a while, perhaps: what the UID left outside the
     * home goes as in a delete, before the UID can count as clean. */
    bool clean = true;
    int r = wr_kill_uid(t.uid, e);
    if (r >= 0) r = wr_offboard_tenant(w, &t, &clean, e);
    if (r >= 0) r = wr_account_remove(w, &t, e);
    if (r < 0) return r;
    rep->orphans_removed++;
    struct stat st;
    bool home_left = fstatat(w->basefd, p->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    return retire(w, t.uid, p->name, clean && !home_left, rep, e);
}

/* A directory in the users base that no tenant has: its owner's UID must not
 * go to a new tenant. The directory itself is the admin's to look at. */
static int check_leftover_homes(warren *w, const wr_rows *l, wr_reconcile_report *rep, wr_err *e) {
    int fd = openat(w->basefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "cannot read %s", w->cfg.users_base);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return wr_sys(e, errno, "cannot read %s", w->cfg.users_base);
    }
    int r = 0;
    for (struct dirent *de; r >= 0 && (de = readdir(d));) {
        if (de->d_name[0] == '.' || tenant_named(l, de->d_name)) continue;
        struct stat st;
        if (fstatat(w->basefd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (in_range(w, st.st_uid)) r = retire(w, st.st_uid, de->d_name, false, rep, e);
    }
    closedir(d);
    return r;
}

static int reconcile_locked(warren *w, wr_reconcile_report *rep, wr_err *e) {
    int r = wr_ensure_uidset(w, e);
    if (r < 0) return r;
    wr_rows l = {0};
    accounts a = {0};
    if ((r = wr_store_foreach(w->store, wr_rows_collect, &l, e)) < 0) goto out;
    if (l.n) qsort(l.v, l.n, sizeof *l.v, tenant_by_name);
    if ((r = read_accounts(w, &a, e)) < 0) goto out;
    bool cgroups = wr_ensure_cgroups(w, NULL) >= 0;
    for (size_t i = 0; i < l.n && r >= 0; i++) {
        rep->tenants_checked++;
        if (l.v[i].state != WR_TENANT_ACTIVE) continue;
        r = check_tenant(w, &a, &l.v[i], rep, e);
        /* Runs whose warren died: end what they left running. */
        int q = cgroups && r >= 0
                    ? wr_cgroup_reap_runs(w->cgroups, l.v[i].linux_username, wr_run_orphaned,
                                          NULL, e)
                    : 0;
        if (q < 0) r = q;
        else rep->runs_ended += (unsigned)q;
    }
    const table *pw = &a.t[WR_ACCOUNT_PASSWD];
    for (size_t i = 0; i < pw->n && r >= 0; i++)
        r = check_orphan(w, &l, &pw->v[i], rep, e);
    if (r >= 0) r = check_leftover_homes(w, &l, rep, e);
    if (r >= 0) r = wr_net_reconcile(w, NULL, e); /* network of tenants that are gone */
out:
    if (r == -ENOMEM) r = wr_sys(e, ENOMEM, "reconcile");
    accounts_free(&a);
    free(l.v);
    return r;
}

/* Read on every start: one read(2), no stdio buffer. */
static void boot_id(char out[64]) {
    out[0] = '\0';
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, 63);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

int wr_reconcile(warren *w, wr_reconcile_report *ret, wr_err *e) {
    wr_reconcile_report rep = {0};
    int cleaned = wr_import_clean_staging(w, e);
    if (cleaned < 0) return cleaned;
    if (!w->cfg.root_mode) {
        if (ret) *ret = rep;
        return 0; /* no accounts to agree with */
    }
    int r = wr_lock_mutations(w, e);
    if (r < 0) return r;
    /* A start looks in /etc for a killed rewrite's temporary file only when
     * the rewrite's mark says so (tenant.c); a power cut can lose the mark. */
    r = wr_accounts_clean_stale(w->cfg.etc_dir, e);
    if (r >= 0) r = reconcile_locked(w, &rep, e);
    char id[64];
    boot_id(id);
    if (r >= 0 && id[0]) r = wr_store_set_meta(w->store, "reconciled_boot", id, e);
    wr_unlock_mutations(w);
    if (r >= 0 && ret) *ret = rep;
    return r;
}

int wr_reconcile_after_boot(warren *w, wr_err *e) {
    /* Every start, not once per boot: what an import or export killed midway
     * left (a staging directory, a frozen tenant) is put right at once. */
    int r = wr_import_clean_staging(w, e);
    if (r < 0) return r;
    if (!w->cfg.root_mode) return 0;
    char now[64], last[64];
    boot_id(now);
    if (!now[0]) return 0; /* no boot id: nothing tells us a boot happened */
    if (wr_store_get_meta(w->store, "reconciled_boot", last, sizeof last, NULL) == 0 &&
        streq(last, now))
        return 0;
    return wr_reconcile(w, NULL, e);
}
