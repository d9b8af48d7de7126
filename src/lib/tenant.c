/* Tenants: the registry row, the Linux account and the home, kept in step.
 *
 * Order of a create, each step undone if a later one fails:
 *   1. registry row in state `creating` (this also reserves the UID and name)
 *   2. group, gshadow, passwd and shadow lines (root mode)
 *   3. the home with sandboxes/ and .cache/
 *   4. the row becomes `active`
 * Order of a delete: row `deleting`, then the sequence of finish_delete
 * (runs, processes, network, tokens, IPC, keyrings, scratch files, home,
 * account), row removed and its UID retired.
 *
 * Mutations run under an exclusive flock on <state_dir>/lock, shared by every
 * warren process on the host (CLI and daemon), so a row found `creating` or
 * `deleting` by a process holding the lock was left by one that died: wr_open
 * finishes those (undoes the create, completes the delete). Reads take no lock.
 *
 * UID policy (docs/ACCOUNTS.md): UIDs are handed out in increasing order from a
 * high-water mark kept in the registry, skipping every ID the host knows. A
 * deleted tenant's UID is retired; it is reused only once the range above the
 * mark is exhausted, and only if its delete removed everything the UID owned
 * (not after --keep-home). */
#include "tenant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "audit.h"
#include "du.h"
#include "fs.h"
#include "home.h"
#include "net.h"
#include "netns.h"
#include "offboard.h"
#include "proc.h"
#include "rootfs.h"
#include "seccomp.h"
#include "storage.h"
#include "store.h"
#include "uidset.h"
#include "util.h"
#include "warren-internal.h"

const wr_config *wr_config_of(const warren *w) {
    return &w->cfg;
}

/* --- the mutation lock ------------------------------------------------------ */

int wr_lock_mutations(warren *w, wr_err *e) {
    while (flock(w->lockfd, LOCK_EX) < 0)
        if (errno != EINTR) return wr_sys(e, errno, "cannot lock %s/lock", w->cfg.state_dir);
    return 0;
}

void wr_unlock_mutations(warren *w) {
    flock(w->lockfd, LOCK_UN);
}

/* --- the account files ------------------------------------------------------ */

/* Removing an account rewrites each account file through a temporary file
 * beside it (accounts.c), and a process killed between the write and the
 * rename leaves that file in /etc. Finding one means reading all of /etc:
 * about 70 us on every warren start, more on an overlay. So every change of
 * the account files is bracketed, under the account lock, by a mark in the
 * state directory, and only a start that finds the mark reads /etc (repair).
 * The mark is not synced: after a power cut, the first start's reconcile
 * reads /etc whatever it finds (reconcile.c). */
#define REWRITE_MARK "accounts-rewrite"

static int rewrite_mark(const warren *w, char *buf, size_t n) {
    return snprintf(buf, n, "%s/" REWRITE_MARK, w->cfg.state_dir) < (int)n ? 0 : -ENAMETOOLONG;
}

static int mark_rewrite(const warren *w, wr_err *e) {
    char path[WR_BASE_MAX + sizeof REWRITE_MARK + 1];
    if (rewrite_mark(w, path, sizeof path) < 0) return wr_invalid(e, "state directory too long");
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return wr_sys(e, errno, "cannot create %s", path);
    close(fd);
    return 0;
}

static void unmark_rewrite(const warren *w) {
    char path[WR_BASE_MAX + sizeof REWRITE_MARK + 1];
    if (rewrite_mark(w, path, sizeof path) == 0) unlink(path);
}

/* Removes what an account change killed midway left in /etc, if the mark
 * says one may have been. */
static int clean_rewrite_leftovers(warren *w, wr_err *e) {
    char path[WR_BASE_MAX + sizeof REWRITE_MARK + 1];
    struct stat st;
    if (rewrite_mark(w, path, sizeof path) == 0 && lstat(path, &st) < 0 && errno == ENOENT)
        return 0;
    /* Under the lock no change is in flight: the mark, and every temporary
     * file, is a dead process's. */
    int r = wr_accounts_lock(w->cfg.etc_dir, e);
    if (r < 0) return r;
    if ((r = wr_accounts_remove_stale(w->cfg.etc_dir, e)) >= 0) unmark_rewrite(w);
    wr_accounts_unlock(w->cfg.etc_dir);
    return r;
}

int wr_account_add(warren *w, const wr_tenant *t, wr_err *e) {
    if (!w->cfg.root_mode) return 0;
    char gecos[WR_GECOS_MAX + 1];
    wr_gecos_from_tenant_id(t->saas_user_id, gecos);
    wr_account a = {.name = t->linux_username,
                    .uid = t->uid,
                    .gid = t->gid,
                    .gecos = gecos,
                    .home = t->home_dir};
    int r = wr_accounts_lock(w->cfg.etc_dir, e);
    if (r < 0) return r;
    /* The UID and name were checked under warren's lock only; useradd takes
     * just this one, so look again now that nobody else can add. */
    if ((r = wr_uidset_refresh(w->uids, e)) >= 0) {
        if (wr_uidset_id_taken(w->uids, t->uid) || wr_uidset_name_taken(w->uids, t->linux_username))
            r = wr_fail(e, WR_ERR_BUSY, EAGAIN,
                        "UID %u or name %s was just taken by another program; try again",
                        (unsigned)t->uid, t->linux_username);
        /* An add that fails may undo itself with a rewrite. */
        else if ((r = mark_rewrite(w, e)) >= 0) {
            if ((r = wr_accounts_add(w->cfg.etc_dir, &a, e)) >= 0)
                wr_uidset_note_added(w->uids, t->uid, t->linux_username);
            unmark_rewrite(w);
        }
    }
    wr_accounts_unlock(w->cfg.etc_dir);
    return r;
}

int wr_account_remove(warren *w, const wr_tenant *t, wr_err *e) {
    if (!w->cfg.root_mode) return 0;
    int r = wr_accounts_lock(w->cfg.etc_dir, e);
    if (r < 0) return r;
    if ((r = mark_rewrite(w, e)) >= 0) {
        r = wr_accounts_remove(w->cfg.etc_dir, t->linux_username, t->uid, e);
        unmark_rewrite(w);
    }
    if (r >= 0 && w->uids) wr_uidset_note_removed(w->uids, t->uid, t->linux_username);
    wr_accounts_unlock(w->cfg.etc_dir);
    return r;
}

int wr_ensure_cgroups(warren *w, wr_err *e) {
    return w->cgroups ? 0 : wr_cgroups_open(&w->cgroups, e);
}

int wr_ensure_uidset(warren *w, wr_err *e) {
    if (!w->cfg.root_mode) return 0;
    if (!w->uids)
        return wr_uidset_load(w->cfg.etc_dir, w->cfg.uid_min, w->cfg.uid_max, &w->uids, e);
    return wr_uidset_refresh(w->uids, e);
}

/* --- undoing and finishing -------------------------------------------------- */

/* Whether the directory at the tenant's home path was made by the tenant's own
 * create: in root mode it belongs to the tenant's fresh UID (or still to root,
 * if the create died between mkdir and chown). A home that belongs to anyone
 * else is some earlier tenant's and is never removed here. */
static bool home_is_ours(warren *w, const wr_tenant *t) {
    struct stat st;
    if (fstatat(w->basefd, t->linux_username, &st, AT_SYMLINK_NOFOLLOW) < 0) return false;
    if (!S_ISDIR(st.st_mode)) return false;
    if (w->cfg.root_mode) return st.st_uid == t->uid || st.st_uid == 0;
    /* Without accounts every home belongs to the caller; creates never reuse a
     * name whose home exists, so the one at this name is the create's own. */
    return true;
}

static int undo_create(warren *w, const wr_tenant *t, bool made_home, wr_err *e) {
    int r = 0, q;
    if (made_home && home_is_ours(w, t) && (q = wr_storage_home_remove(w, t, e)) < 0) r = q;
    if ((q = wr_account_remove(w, t, e)) < 0) r = r ? r : q;
    if (r < 0) return r;
    /* The UID was never used by anyone: it goes back to the allocator rather
     * than into retirement. We hold the lock, so nobody allocated after it. */
    uid_t next;
    if ((r = wr_store_remove(w->store, t->saas_user_id, true, e)) < 0 ||
        (r = wr_store_unretire_uid(w->store, t->uid, e)) < 0 ||
        (r = wr_store_next_uid(w->store, &next, e)) < 0)
        return r;
    if (next == t->uid + 1) r = wr_store_set_next_uid(w->store, t->uid, e);
    return r;
}

/* The delete sequence. Each step is idempotent, and the row stays `deleting`
 * until the last one: a crash anywhere leaves the row for the next start,
 * which runs the whole list again (repair_one). The order matters:
 *
 *   1. runs      every process in the tenant's cgroups, then the cgroups
 *                (a run's tree, whatever UID its processes took)
 *   2. processes anything else the UID still runs (escaped, or started
 *                outside warren); before 5-7, so nothing makes new objects
 *                behind the sweeps
 *   3. network   the tenant's network and its kept namespace
 *   4. tokens    the tenant's API tokens
 *   5. IPC       SysV message queues, semaphores, shared memory
 *   6. keyrings  the UID's user, user-session and persistent keyrings
 *   7. scratch   the UID's files in /tmp, /var/tmp, /dev/shm, /run/lock,
 *                /dev/mqueue
 *   8. home      (a btrfs subvolume and its snapshots, or a tree) unless kept
 *   9. account   the four account lines
 *  10. row       the registry row goes; the UID is retired, marked clean
 *                only if steps 5-8 left nothing of it (docs/ACCOUNTS.md)
 *
 * Steps 2 and 5-7 need the UID to be the tenant's alone: root mode only. */
static int finish_delete(warren *w, const wr_tenant *t, wr_err *e) {
    int r;
    bool clean = !t->keep_home;
    bool root = w->cfg.root_mode;
    /* 1. runs */
    if (wr_ensure_cgroups(w, NULL) >= 0 &&
        (r = wr_cgroup_tenant_destroy(w->cgroups, t->linux_username, e)) < 0)
        return r;
    /* 2. processes */
    if (root && (r = wr_kill_uid(t->uid, e)) < 0) return r;
    /* 3. network */
    if (root && (r = wr_net_tenant_remove(w, t, e)) < 0) return r;
    if (root && (r = wr_netns_remove(w->cfg.state_dir, t->linux_username, e)) < 0) return r;
    /*    and the kept root its runs shared (rootfs.h) */
    char kept[sizeof w->cfg.state_dir + 8];
    snprintf(kept, sizeof kept, "%s/rootns", w->cfg.state_dir);
    if (root && (r = wr_rootfs_template_remove(kept, t->linux_username, e)) < 0) return r;
    /* 4. tokens (slot) */
    /* 5-7. IPC, keyrings, scratch files */
    if (root && (r = wr_offboard_tenant(w, t, &clean, e)) < 0) return r;
    /* 8. home */
    if (!t->keep_home && (r = wr_storage_home_remove(w, t, e)) < 0) return r;
    /* 9. account */
    if ((r = wr_account_remove(w, t, e)) < 0) return r;
    /* 10. row: with anything of the UID left, never hand it out again. */
    return wr_store_remove(w->store, t->saas_user_id, clean, e);
}

/* Must hold the lock. Finishes whatever a dead process left of this row. */
static int repair_one(warren *w, const wr_tenant *t, wr_err *e) {
    if (t->state == WR_TENANT_CREATING) return undo_create(w, t, true, e);
    if (t->state == WR_TENANT_DELETING) return finish_delete(w, t, e);
    return 0;
}

int wr_rows_collect(const wr_tenant *t, void *userdata) {
    wr_rows *l = userdata;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        wr_tenant *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *t;
    return 0;
}

static int collect_active(const wr_tenant *t, void *userdata) {
    return t->state == WR_TENANT_ACTIVE ? wr_rows_collect(t, userdata) : 0;
}

static int repair(warren *w, wr_err *e) {
    wr_rows l = {0};
    int r = w->cfg.root_mode ? clean_rewrite_leftovers(w, e) : 0;
    if (r < 0) return r;
    r = wr_store_foreach_unfinished(w->store, wr_rows_collect, &l, e);
    if (r < 0 || l.n == 0) goto out;
    if ((r = wr_lock_mutations(w, e)) < 0) goto out;
    if ((r = wr_ensure_uidset(w, e)) >= 0)
        for (size_t i = 0; i < l.n && r >= 0; i++) {
            /* Re-read under the lock: the row may have been a live create. */
            wr_tenant t;
            if (wr_store_get(w->store, l.v[i].saas_user_id, &t, NULL) == 0)
                r = repair_one(w, &t, e);
        }
    wr_unlock_mutations(w);
out:
    free(l.v);
    if (r == -ENOMEM) return wr_sys(e, ENOMEM, "repair");
    return r < 0 ? r : 0;
}

/* --- open and close --------------------------------------------------------- */

int wr_open(const wr_config *cfg, warren **ret, wr_err *e) {
    if (cfg->root_mode && geteuid() != 0)
        return wr_fail(e, WR_ERR_DENIED, EPERM, "root mode needs root");
    warren *w = calloc(1, sizeof *w);
    if (!w) return wr_sys(e, ENOMEM, "warren");
    w->cfg = *cfg;
    w->basefd = w->lockfd = -1;
    int r = wr_store_open(cfg->state_dir, &w->store, e);
    if (r < 0) goto fail;
    char path[WR_BASE_MAX + 8];
    snprintf(path, sizeof path, "%s/lock", cfg->state_dir);
    w->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->lockfd < 0) {
        r = wr_sys(e, errno, "cannot open %s", path);
        goto fail;
    }
    if ((r = wr_users_base_open(cfg->users_base, cfg->root_mode, e)) < 0) goto fail;
    w->basefd = r;
    if ((r = repair(w, e)) < 0 || (r = wr_reconcile_after_boot(w, e)) < 0) goto fail;
    *ret = w;
    return 0;
fail:
    wr_close(w);
    return r;
}

void wr_close(warren *w) {
    if (!w) return;
    wr_store_close(w->store);
    wr_uidset_free(w->uids);
    wr_cgroups_close(w->cgroups);
    wr_seccomp_free(w->seccomp);
    if (w->basefd >= 0) close(w->basefd);
    if (w->lockfd >= 0) close(w->lockfd);
    free(w);
}

bool wr_maintain_due(const warren *w) {
    return wr_store_maintain_due(w->store) || wr_supervisor_due(w);
}

void wr_maintain(warren *w) {
    wr_store_maintain(w->store);
    if (wr_supervisor_due(w)) (void)wr_supervisor_place(w, NULL);
}

/* --- create ------------------------------------------------------------------ */

static bool uid_free(warren *w, uid_t uid, wr_err *e, int *r) {
    if (w->cfg.root_mode ? wr_uidset_id_taken(w->uids, uid) : wr_uid_is_reserved(uid)) return false;
    bool used = true;
    *r = wr_store_uid_used(w->store, uid, &used, e);
    return *r >= 0 && !used;
}

/* Picks the tenant's UID (= GID); sets *ret_next to the new high-water mark, or
 * 0 when a retired UID is reused. */
static int allocate_uid(warren *w, uid_t *ret, uid_t *ret_next, wr_err *e) {
    uid_t next;
    int r = wr_store_next_uid(w->store, &next, e);
    if (r < 0) return r;
    if (next < w->cfg.uid_min) next = w->cfg.uid_min;
    for (uid_t uid = next; uid <= w->cfg.uid_max && uid >= next; uid++) {
        if (uid_free(w, uid, e, &r)) {
            *ret = uid;
            *ret_next = uid + 1;
            return 0;
        }
        if (r < 0) return r;
    }
    uid_t old;
    r = wr_store_reusable_uid(w->store, w->cfg.uid_min, w->cfg.uid_max, &old, e);
    if (r == 0 && !(w->cfg.root_mode && wr_uidset_id_taken(w->uids, old))) {
        *ret = old;
        *ret_next = 0;
        return 0;
    }
    if (r < 0 && r != -ENOENT) return r;
    return wr_fail(e, WR_ERR_LIMIT, ENOSPC, "UID range %u-%u is exhausted", w->cfg.uid_min,
                   w->cfg.uid_max);
}

/* prefix + 8 hex digits of the id's hash; if another tenant, a host account or
 * a leftover home has that name, the next longer one. Deterministic for a given
 * registry, and never two tenants on one account. */
static int choose_username(warren *w, const char *id, char *out, wr_err *e) {
    for (size_t n = WR_NAME_HEX_MIN;; n++) {
        if (wr_username_for(w->cfg.prefix, id, n, out) < 0)
            return wr_fail(e, WR_ERR_LIMIT, ENAMETOOLONG,
                           "tenant id '%s': no free account name with prefix '%s'", id,
                           w->cfg.prefix);
        bool used;
        int r = wr_store_username_used(w->store, out, &used, e);
        if (r < 0) return r;
        if (used || (w->cfg.root_mode && wr_uidset_name_taken(w->uids, out))) continue;
        struct stat st;
        if (fstatat(w->basefd, out, &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
        return 0;
    }
}

static int reserve(warren *w, const char *id, wr_tenant *t, wr_err *e) {
    uid_t next = 0;
    int r = wr_store_begin(w->store, e);
    if (r < 0) return r;
    memset(t, 0, sizeof *t);
    strcpy(t->saas_user_id, id);
    if ((r = allocate_uid(w, &t->uid, &next, e)) < 0 ||
        (r = choose_username(w, id, t->linux_username, e)) < 0)
        goto fail;
    t->gid = t->uid;
    snprintf(t->home_dir, sizeof t->home_dir, "%s/%s", w->cfg.users_base, t->linux_username);
    t->created_at = wr_now();
    t->state = WR_TENANT_CREATING;
    if ((r = wr_store_insert(w->store, t, e)) < 0) goto fail;
    r = next ? wr_store_set_next_uid(w->store, next, e)
             : wr_store_unretire_uid(w->store, t->uid, e);
    if (r < 0) goto fail;
    return wr_store_commit(w->store, e);
fail:
    wr_store_rollback(w->store);
    return r;
}

/* The tenant exists (or is gone) whatever the audit write does. */
static void audit_tenant(warren *w, const char *type, const wr_tenant *t) {
    const char *kept = !streq(type, "tenant_deleted") ? ""
                       : t->keep_home                     ? ",\"home_kept\":true"
                                                          : ",\"home_kept\":false";
    char detail[256];
    snprintf(detail, sizeof detail, "{\"linux_username\":\"%s\",\"uid\":%u%s}",
             t->linux_username, (unsigned)t->uid, kept);
    wr_audit_note(w, type, t->saas_user_id, detail);
}

/* Must hold the lock. */
static int create_locked(warren *w, const char *id, wr_tenant *ret, bool *ret_created, wr_err *e) {
    wr_tenant t;
    bool found = wr_store_get(w->store, id, &t, NULL) == 0;
    if (found && t.state == WR_TENANT_ACTIVE) {
        if (!ret_created) return wr_exists(e, "tenant '%s' already exists", id);
        *ret_created = false;
        *ret = t;
        return 0;
    }
    int r = wr_ensure_uidset(w, e);
    if (r < 0) return r;
    /* Holding the lock, a row in flight was left by a process that died. */
    if (found && (r = repair_one(w, &t, e)) < 0) return r;
    if ((r = reserve(w, id, &t, e)) < 0) return r;

    bool made_home = false;
    if ((r = wr_account_add(w, &t, e)) < 0) goto undo;
    uid_t owner = w->cfg.root_mode ? t.uid : getuid();
    gid_t group = w->cfg.root_mode ? t.gid : getgid();
    if ((r = wr_storage_home_create(w, &t, owner, group, e)) < 0) goto undo;
    made_home = true;
    if ((r = wr_store_set_state(w->store, id, WR_TENANT_ACTIVE, false, e)) < 0) goto undo;
    t.state = WR_TENANT_ACTIVE;
    *ret = t;
    if (ret_created) *ret_created = true;
    audit_tenant(w, "tenant_created", &t);
    return 0;
undo:
    undo_create(w, &t, made_home, NULL);
    return r;
}

static int create(warren *w, const char *id, wr_tenant *ret, bool *ret_created, wr_err *e) {
    int r = wr_check_tenant_id(id, e);
    if (r < 0) return r;
    if ((r = wr_lock_mutations(w, e)) < 0) return r;
    r = create_locked(w, id, ret, ret_created, e);
    wr_unlock_mutations(w);
    return r;
}

int wr_tenant_create(warren *w, const char *id, wr_tenant *ret, wr_err *e) {
    return create(w, id, ret, NULL, e);
}

int wr_tenant_get_or_create(warren *w, const char *id, wr_tenant *ret, bool *ret_created,
                            wr_err *e) {
    bool created;
    wr_err ignored = WR_ERR_INIT;
    if (wr_tenant_get(w, id, ret, &ignored) == 0) {
        if (ret_created) *ret_created = false;
        return 0;
    }
    if (ignored.kind == WR_ERR_INVALID) return wr_check_tenant_id(id, e);
    int r = create(w, id, ret, &created, e);
    if (r >= 0 && ret_created) *ret_created = created;
    return r;
}

/* --- reads ------------------------------------------------------------------- */

int wr_tenant_get(warren *w, const char *id, wr_tenant *ret, wr_err *e) {
    int r = wr_check_tenant_id(id, e);
    if (r < 0) return r;
    wr_tenant t;
    if ((r = wr_store_get(w->store, id, &t, e)) < 0) return r;
    /* A row in flight is not a tenant yet, or not any more. */
    if (t.state != WR_TENANT_ACTIVE)
        return wr_not_found(e, "tenant '%s' not found (it is being %s)", id,
                            t.state == WR_TENANT_CREATING ? "created" : "deleted");
    *ret = t;
    return 0;
}

int wr_tenant_list(warren *w, wr_tenant **ret, size_t *ret_n, wr_err *e) {
    wr_rows l = {0};
    int r = wr_store_foreach(w->store, collect_active, &l, e);
    if (r < 0) {
        free(l.v);
        return r == -ENOMEM ? wr_sys(e, ENOMEM, "list tenants") : r;
    }
    *ret = l.v;
    *ret_n = l.n;
    return 0;
}

static int open_home(warren *w, const wr_tenant *t, wr_err *e) {
    return wr_home_open(w->basefd, t->linux_username, w->cfg.root_mode ? t->uid : getuid(), e);
}

int wr_tenant_stats(warren *w, const char *id, wr_stats *ret, wr_err *e) {
    wr_stats s = {0};
    int r = wr_tenant_get(w, id, &s.tenant, e);
    if (r < 0) return r;
    _cleanup_close_ int home = open_home(w, &s.tenant, e);
    if (home < 0) return home;
    if ((r = wr_sandbox_count(home, &s.sandbox_count, e)) < 0) return r;
    wr_usage u;
    if ((r = wr_disk_usage(home, &u, e)) < 0) return r;
    s.disk_bytes = u.bytes;
    s.files = u.inodes;
    s.truncated = u.truncated;
    *ret = s;
    return 0;
}

typedef struct refusals {
    wr_refusal *v;
    size_t n, cap;
} refusals;

static int collect_refusal(const wr_refusal *x, void *userdata) {
    refusals *l = userdata;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        wr_refusal *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *x;
    return 0;
}

int wr_tenant_refusals(warren *w, const char *id, wr_refusal **ret, size_t *ret_n, wr_err *e) {
    wr_tenant t;
    int r = wr_tenant_get(w, id, &t, e);
    if (r < 0) return r;
    refusals l = {0};
    if ((r = wr_store_foreach_refusal(w->store, id, collect_refusal, &l, e)) < 0) {
        free(l.v);
        return r == -ENOMEM ? wr_sys(e, ENOMEM, "refusals") : r;
    }
    *ret = l.v;
    *ret_n = l.n;
    return 0;
}

int wr_sandbox_path(warren *w, const char *id, const char *service, char **ret_path, wr_err *e) {
    int r = wr_check_service_id(service, e);
    if (r < 0) return r;
    wr_tenant t;
    if ((r = wr_tenant_get(w, id, &t, e)) < 0) return r;
    _cleanup_close_ int home = open_home(w, &t, e);
    if (home < 0) return home;
    _cleanup_close_ int sb = wr_sandbox_open(home, service, w->cfg.root_mode ? t.uid : getuid(),
                                             w->cfg.root_mode ? t.gid : getgid(), e);
    if (sb < 0) return sb;
    char *p;
    if (asprintf(&p, "%s/sandboxes/%s", t.home_dir, service) < 0)
        return wr_sys(e, ENOMEM, "sandbox path");
    *ret_path = p;
    return 0;
}

/* --- delete ------------------------------------------------------------------ */

int wr_tenant_delete(warren *w, const char *id, bool keep_home, wr_err *e) {
    int r = wr_check_tenant_id(id, e);
    if (r < 0) return r;
    if ((r = wr_lock_mutations(w, e)) < 0) return r;
    wr_tenant t;
    if ((r = wr_store_get(w->store, id, &t, e)) < 0) goto out;
    if ((r = wr_ensure_uidset(w, e)) < 0) goto out;
    if (t.state == WR_TENANT_CREATING) {
        /* Holding the lock, so its creator died: undo it, and it never existed. */
        if ((r = undo_create(w, &t, true, e)) >= 0)
            r = wr_not_found(e, "tenant '%s' not found", id);
        goto out;
    }
    /* A delete that died midway keeps the choice it was started with. */
    if (t.state == WR_TENANT_ACTIVE) t.keep_home = keep_home;
    if ((r = wr_store_set_state(w->store, id, WR_TENANT_DELETING, t.keep_home, e)) < 0) goto out;
    t.state = WR_TENANT_DELETING;
    r = finish_delete(w, &t, e);
    if (r >= 0) audit_tenant(w, "tenant_deleted", &t);
out:
    wr_unlock_mutations(w);
    return r;
}
