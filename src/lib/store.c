/* The registry in SQLite. One connection per wr_store, used by one thread at a
 * time; statements are prepared once and reused, which keeps a lookup at a few
 * microseconds. WAL mode lets readers run beside a writer; writers serialise
 * on BEGIN IMMEDIATE with a busy timeout, so concurrent warren processes queue
 * instead of failing.
 *
 * synchronous=NORMAL: in WAL mode a power loss can lose the last commits but
 * never corrupt the database; the repair on open (tenant.c) reconciles what
 * the account files and homes say. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

/* Each entry moves the schema one version forward; never edit a released one. */
static const char *const migrations[] = {
    /* 1: tenants, retired UIDs, counters. */
    "CREATE TABLE tenants ("
    "  saas_user_id TEXT PRIMARY KEY NOT NULL,"
    "  linux_username TEXT NOT NULL UNIQUE,"
    "  uid INTEGER NOT NULL UNIQUE,"
    "  gid INTEGER NOT NULL,"
    "  home_dir TEXT NOT NULL,"
    "  created_at REAL NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  keep_home INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX tenants_unfinished ON tenants(state) WHERE state != 1;"
    "CREATE TABLE retired_uids ("
    "  uid INTEGER PRIMARY KEY,"
    "  linux_username TEXT NOT NULL,"
    "  retired_at REAL NOT NULL,"
    "  clean INTEGER NOT NULL"
    ");"
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;",
    /* 2: system calls the strong level refused, per tenant. */
    "CREATE TABLE refused_syscalls ("
    "  saas_user_id TEXT NOT NULL,"
    "  syscall TEXT NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  first_at REAL NOT NULL,"
    "  last_at REAL NOT NULL,"
    "  PRIMARY KEY (saas_user_id, syscall)"
    ") WITHOUT ROWID;",
    /* audit log (audit.c), API tokens stored hashed (token.c), and the runs
     * the daemon supervises, so a restart can report those that died with it. */
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at REAL NOT NULL,"
    "  type TEXT NOT NULL,"
    "  tenant TEXT NOT NULL DEFAULT '',"
    "  detail TEXT NOT NULL DEFAULT '{}'"
    ");"
    "CREATE INDEX audit_log_tenant ON audit_log(tenant, at);"
    "CREATE INDEX audit_log_at ON audit_log(at);"
    "CREATE TABLE api_tokens ("
    "  hash TEXT PRIMARY KEY NOT NULL,"
    "  id TEXT NOT NULL UNIQUE,"
    "  tenant TEXT NOT NULL,"
    "  created_at REAL NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX api_tokens_tenant ON api_tokens(tenant);"
    "CREATE TABLE daemon_runs ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  detail TEXT NOT NULL DEFAULT '{}',"
    "  state TEXT NOT NULL,"
    "  started_at REAL NOT NULL,"
    "  ended_at REAL NOT NULL DEFAULT 0,"
    "  daemon_pid INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX daemon_runs_state ON daemon_runs(state);",
    /* network mode (net.c): `none` or `nat`; a nat tenant's /30 (its first
     * address, host order) is unique; rates in bits/s, 0 = unlimited. */
    "CREATE TABLE tenant_net ("
    "  saas_user_id TEXT PRIMARY KEY NOT NULL,"
    "  mode TEXT NOT NULL DEFAULT 'none',"
    "  subnet INTEGER UNIQUE,"
    "  egress_bps INTEGER NOT NULL DEFAULT 0,"
    "  ingress_bps INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;",
    /* tenant quotas (quota.c): one row per tenant, and the host-wide
     * defaults under the key ''; -1 = unset (the default applies), the
     * largest int64 = unlimited. A tenant's row goes with the tenant. */
    "CREATE TABLE tenant_quotas ("
    "  saas_user_id TEXT PRIMARY KEY NOT NULL,"
    "  memory INTEGER NOT NULL DEFAULT -1,"
    "  cpu_milli INTEGER NOT NULL DEFAULT -1,"
    "  cpu_weight INTEGER NOT NULL DEFAULT -1,"
    "  pids INTEGER NOT NULL DEFAULT -1,"
    "  nofile INTEGER NOT NULL DEFAULT -1,"
    "  storage INTEGER NOT NULL DEFAULT -1,"
    "  inodes INTEGER NOT NULL DEFAULT -1,"
    "  net_egress INTEGER NOT NULL DEFAULT -1,"
    "  net_ingress INTEGER NOT NULL DEFAULT -1"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER tenant_quotas_drop AFTER DELETE ON tenants BEGIN"
    "  DELETE FROM tenant_quotas WHERE saas_user_id = OLD.saas_user_id; END;",
};

enum stmt_id {
    ST_GET,
    ST_GET_BY_NAME,
    ST_ALL,
    ST_UNFINISHED,
    ST_COUNT,
    ST_INSERT,
    ST_SET_STATE,
    ST_DELETE,
    ST_RETIRE,
    ST_UID_USED,
    ST_NAME_USED,
    ST_META_GET,
    ST_META_SET,
    ST_REUSABLE,
    ST_UNRETIRE,
    ST_REFUSAL_ADD,
    ST_REFUSALS,
    ST_REFUSALS_DROP,
    ST_AUDIT_ADD,
    ST_AUDIT_QUERY,
    ST_TOKEN_ADD,
    ST_TOKEN_FIND,
    ST_TOKEN_DROP,
    ST_TOKEN_DROP_ALL,
    ST_RUN_ADD,
    ST_RUN_END,
    ST_NET_GET,
    ST_NET_PUT,
    ST_NET_DROP,
    ST_QUOTA_GET,
    ST_BEGIN,
    ST_COMMIT,
    ST_MAX,
};

#define QUOTA_COLS "memory, cpu_milli, cpu_weight, pids, nofile, storage, inodes, net_egress, " \
                   "net_ingress"
#define TENANT_COLS "saas_user_id, linux_username, uid, gid, home_dir, created_at, state, keep_home"

static const char *const stmt_sql[ST_MAX] = {
    [ST_GET] = "SELECT " TENANT_COLS " FROM tenants WHERE saas_user_id = ?1",
    [ST_GET_BY_NAME] = "SELECT " TENANT_COLS " FROM tenants WHERE linux_username = ?1",
    [ST_ALL] = "SELECT " TENANT_COLS " FROM tenants ORDER BY uid",
    [ST_UNFINISHED] = "SELECT " TENANT_COLS " FROM tenants WHERE state != 1 ORDER BY uid",
    [ST_COUNT] = "SELECT count(*) FROM tenants WHERE state = 1",
    [ST_INSERT] = "INSERT INTO tenants (" TENANT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_SET_STATE] = "UPDATE tenants SET state = ?2, keep_home = ?3 WHERE saas_user_id = ?1",
    [ST_DELETE] = "DELETE FROM tenants WHERE saas_user_id = ?1 RETURNING uid, linux_username",
    [ST_RETIRE] = "INSERT OR REPLACE INTO retired_uids (uid, linux_username, retired_at, clean) "
                  "VALUES (?1, ?2, ?3, ?4)",
    [ST_UID_USED] = "SELECT EXISTS (SELECT 1 FROM tenants WHERE uid = ?1) OR "
                    "EXISTS (SELECT 1 FROM retired_uids WHERE uid = ?1)",
    [ST_NAME_USED] = "SELECT EXISTS (SELECT 1 FROM tenants WHERE linux_username = ?1)",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
    [ST_REUSABLE] = "SELECT uid FROM retired_uids WHERE clean = 1 AND uid BETWEEN ?1 AND ?2 "
                    "ORDER BY retired_at LIMIT 1",
    [ST_UNRETIRE] = "DELETE FROM retired_uids WHERE uid = ?1",
    [ST_REFUSAL_ADD] =
        "INSERT INTO refused_syscalls (saas_user_id, syscall, count, first_at, last_at) "
        "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (saas_user_id, syscall) DO UPDATE "
        "SET count = count + ?3, last_at = ?4",
    [ST_REFUSALS] = "SELECT syscall, count, first_at, last_at FROM refused_syscalls "
                    "WHERE saas_user_id = ?1 ORDER BY count DESC, syscall",
    [ST_REFUSALS_DROP] = "DELETE FROM refused_syscalls WHERE saas_user_id = ?1",
    [ST_AUDIT_ADD] = "INSERT INTO audit_log (at, type, tenant, detail) VALUES (?1, ?2, ?3, ?4)",
    /* Refused system calls are summed per tenant and call; they join the log
     * as one event each, on the first page only (they have no row id). */
    [ST_AUDIT_QUERY] =
        "SELECT id, at, type, tenant, detail FROM ("
        " SELECT id, at, type, tenant, detail FROM audit_log"
        " UNION ALL SELECT 0, last_at, 'syscall_refused', saas_user_id,"
        "  json_object('syscall', syscall, 'count', count, 'first_at', first_at)"
        "  FROM refused_syscalls)"
        " WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR type = ?2) AND at >= ?3"
        " AND (id > ?4 OR (id = 0 AND ?4 = 0)) ORDER BY at, id LIMIT ?5",
    [ST_TOKEN_ADD] = "INSERT INTO api_tokens (hash, id, tenant, created_at) VALUES (?1, ?2, ?3, ?4)",
    [ST_TOKEN_FIND] = "SELECT hash, tenant FROM api_tokens WHERE hash = ?1",
    [ST_TOKEN_DROP] = "DELETE FROM api_tokens WHERE tenant = ?1 AND id = ?2",
    [ST_TOKEN_DROP_ALL] = "DELETE FROM api_tokens WHERE tenant = ?1",
    [ST_RUN_ADD] = "INSERT OR REPLACE INTO daemon_runs (id, tenant, detail, state, started_at,"
                   " daemon_pid) VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
    [ST_RUN_END] = "UPDATE daemon_runs SET state = ?2, ended_at = ?3, detail = ?4 WHERE id = ?1",
    [ST_NET_GET] = "SELECT saas_user_id, mode, subnet, egress_bps, ingress_bps FROM tenant_net "
                   "WHERE saas_user_id = ?1",
    [ST_NET_PUT] = "INSERT OR REPLACE INTO tenant_net (saas_user_id, mode, subnet, egress_bps, "
                   "ingress_bps) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_NET_DROP] = "DELETE FROM tenant_net WHERE saas_user_id = ?1",
    /* Every run reads two rows: the tenant's and the defaults (''). */
    [ST_QUOTA_GET] = "SELECT " QUOTA_COLS " FROM tenant_quotas WHERE saas_user_id = ?1",
    /* Every run's audit is a transaction: prepared once, not parsed each time. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
};

struct wr_store {
    sqlite3 *db;
    char path[PATH_MAX];
    sqlite3_stmt *stmt[ST_MAX];
    int wal_frames; /* the WAL's length after this connection's last commit */
};

static int db_fail(wr_store *s, wr_err *e, const char *what) {
    int code = sqlite3_extended_errcode(s->db);
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
        return wr_fail(e, WR_ERR_BUSY, EBUSY, "registry %s: %s: database is busy", s->path, what);
    return wr_fail(e, WR_ERR_SYSTEM, EIO, "registry %s: %s: %s", s->path, what,
                   sqlite3_errmsg(s->db));
}

/* Returns the statement reset and with bindings cleared, prepared on first use. */
static sqlite3_stmt *stmt(wr_store *s, enum stmt_id id, wr_err *e) {
    sqlite3_stmt *st = s->stmt[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK) {
        db_fail(s, e, "prepare");
        return NULL;
    }
    s->stmt[id] = st;
    return st;
}

/* Fails with sqlite3_exec's message, which it frees. */
static int exec_fail(wr_store *s, char *msg, wr_err *e) {
    int r = wr_fail(e, WR_ERR_SYSTEM, EIO, "registry %s: %s", s->path, msg ? msg : "error");
    sqlite3_free(msg);
    return r;
}

static int exec(wr_store *s, const char *sql, wr_err *e) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    return exec_fail(s, msg, e);
}

static int schema_version(wr_store *s) {
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return version;
}

/* `seen`: the version read when the connection opened. */
static int migrate(wr_store *s, int seen, wr_err *e) {
    /* Up to date (every open but the first after an upgrade): no write
     * transaction, which would wait for any other warren writing. */
    if (seen == (int)ELEMENTSOF(migrations)) return 0;
    int r = wr_store_begin(s, e);
    if (r < 0) return r;
    /* Again, now under the write lock: another warren may have migrated. */
    int version = schema_version(s);
    if (version < 0) {
        r = db_fail(s, e, "read schema version");
        goto fail;
    }
    int known = (int)ELEMENTSOF(migrations);
    if (version > known) {
        r = wr_fail(e, WR_ERR_UNSAFE, EPROTO,
                    "registry %s: schema version %d is newer than this warren knows (%d); "
                    "refusing to touch it",
                    s->path, version, known);
        goto fail;
    }
    for (int v = version; v < known; v++) {
        if ((r = exec(s, migrations[v], e)) < 0) goto fail;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if ((r = exec(s, sql, e)) < 0) goto fail;
    }
    return wr_store_commit(s, e);
fail:
    wr_store_rollback(s);
    return r;
}

static int mkdir_p(const char *path, mode_t mode, wr_err *e) {
    struct stat st;
    /* Every open but the first finds it there. */
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    char buf[PATH_MAX];
    if (strscpy(buf, sizeof buf, path) < 0) return wr_invalid(e, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, c ? 0755 : mode) < 0 && errno != EEXIST)
            return wr_sys(e, errno, "cannot create directory %s", buf);
        *p = c;
        if (!c) break;
    }
    if (lstat(path, &st) < 0) return wr_sys(e, errno, "cannot stat %s", path);
    if (!S_ISDIR(st.st_mode)) return wr_unsafe(e, "%s is not a directory", path);
    return 0;
}

/* Another process holds the write lock. SQLite's own busy timeout sleeps 1,
 * 2, 5, 10... ms between tries, while a write here holds the lock for well
 * under a millisecond: processes starting runs back to back (each records
 * its run's audit events) would spend more time asleep than waiting. Short
 * sleeps first, doubling from 50 us up to 8 ms; about 15 s in all. */
static int busy_wait(void *userdata, int tries) {
    (void)userdata;
    enum { FIRST_US = 50, CAP_US = 8000, TOTAL_US = 15000000 };
    long us = tries < 8 ? (long)FIRST_US << tries : CAP_US;
    if (us > CAP_US) us = CAP_US;
    /* time slept so far: the doubling part, then CAP_US per try */
    long slept = tries <= 8 ? FIRST_US * ((1L << tries) - 1)
                            : FIRST_US * 255L + (tries - 8L) * CAP_US;
    if (slept >= TOTAL_US) return 0;
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

/* exec for a statement run outside any transaction, where SQLite may answer
 * BUSY without its busy handler: retried on the busy handler's schedule. */
static int exec_waiting(wr_store *s, const char *sql, wr_err *e) {
    for (int tries = 0;; tries++) {
        char *msg = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        if (rc == SQLITE_OK) return 0;
        if ((rc & 0xff) != SQLITE_BUSY || !sqlite3_get_autocommit(s->db) ||
            !busy_wait(NULL, tries))
            return exec_fail(s, msg, e);
        sqlite3_free(msg);
    }
}

/* Frames in the WAL (4 KiB each) before it is truncated (see wr_store_open):
 * by wr_store_maintain, which the caller runs when nothing waits on it, and
 * by a commit only once the log is much longer, for callers that never do. */
#define WAL_MAINTAIN_FRAMES 64
#define WAL_COMMIT_FRAMES 4096

static void checkpoint(wr_store *s) {
    /* A reader that keeps the log busy leaves it for a later time. */
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) ==
        SQLITE_OK)
        s->wal_frames = 0;
}

static int wal_hook(void *userdata, sqlite3 *db, const char *name, int frames) {
    (void)db;
    (void)name;
    wr_store *s = userdata;
    s->wal_frames = frames;
    if (frames >= WAL_COMMIT_FRAMES) checkpoint(s);
    return SQLITE_OK;
}

bool wr_store_maintain_due(const wr_store *s) {
    return s->wal_frames >= WAL_MAINTAIN_FRAMES;
}

void wr_store_maintain(wr_store *s) {
    if (wr_store_maintain_due(s)) checkpoint(s);
}

int wr_store_open(const char *state_dir, wr_store **ret, wr_err *e) {
    /* The registry names every tenant: readable by warren alone. */
    int r = mkdir_p(state_dir, 0700, e);
    if (r < 0) return r;
    wr_store *s = calloc(1, sizeof *s);
    if (!s) return wr_sys(e, ENOMEM, "registry");
    snprintf(s->path, sizeof s->path, "%s/registry.db", state_dir);
    mode_t old = umask(077);
    int rc = sqlite3_open_v2(
        s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    umask(old);
    if (rc != SQLITE_OK) {
        r = wr_fail(e, WR_ERR_SYSTEM, EIO, "registry %s: cannot open: %s", s->path,
                    s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        wr_store_close(s);
        return r;
    }
    sqlite3_busy_handler(s->db, busy_wait, NULL);
    /* Most connections are one short CLI call: keep the WAL file between them
     * (re-creating it syncs its header and the directory every time) and
     * checkpoint from the commit hook below rather than, with its fsyncs, at
     * every close. Durability is the same (WAL, synchronous=NORMAL). */
    int on = 1;
    sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    /* The first connection after all others closed rebuilds the WAL's index
     * by reading every frame the WAL holds (SQLite's recovery), and that
     * recovery also forgets what earlier checkpoints copied: SQLite's own
     * passive checkpoint then copies the same frames again and never restarts
     * the log, so a WAL written by short processes only grows (9.5 MB after
     * 300 CLI runs, all of it re-read by each). A truncating checkpoint
     * starts the log afresh. Its fsyncs take milliseconds, tens of them when
     * another tenant keeps the disk busy, so no run's start or end waits for
     * one: the log is truncated when the connection closes (a CLI call, after
     * its work) or when its owner is idle (the daemon), once it holds
     * WAL_MAINTAIN_FRAMES (256 KB, all a CLI call then reads); a commit does
     * it only past WAL_COMMIT_FRAMES (16 MB), for a busy long-lived caller. */
    sqlite3_wal_hook(s->db, wal_hook, s);
    /* A read first: it opens the WAL a registry already has, and the
     * journal_mode below then changes nothing. Asked first on a fresh
     * connection, it switches the file to WAL again, which takes the write
     * lock, and where another process holds that SQLite answers BUSY without
     * calling the busy handler (two CLI calls creating tenants at once saw
     * it about once in 2,000 opens): so that one waits here too. */
    int seen = schema_version(s);
    if ((r = exec_waiting(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", e)) < 0 ||
        (r = migrate(s, seen, e)) < 0) {
        wr_store_close(s);
        return r;
    }
    *ret = s;
    return 0;
}

void wr_store_close(wr_store *s) {
    if (!s) return;
    if (s->db) wr_store_maintain(s);
    for (int i = 0; i < ST_MAX; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

/* Defined with the other statements' helpers, below. */
static int step_done(wr_store *s, sqlite3_stmt *st, wr_err *e, const char *what);

int wr_store_begin(wr_store *s, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_BEGIN, e);
    return st ? step_done(s, st, e, "begin a transaction") : -EIO;
}
int wr_store_commit(wr_store *s, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_COMMIT, e);
    return st ? step_done(s, st, e, "commit") : -EIO;
}
void wr_store_rollback(wr_store *s) {
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void copy_text(char *dst, size_t n, sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Listings: a statement of their own, prepared here and finalized by
 * rows_end, since the caller's function may use the store (and so the cached
 * statements) between rows. */
static int rows_begin(wr_store *s, const char *sql, sqlite3_stmt **ret, wr_err *e) {
    if (sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) == SQLITE_OK) return 0;
    return db_fail(s, e, "prepare");
}

/* rc: the last sqlite3_step; r: what the caller's function last returned
 * (non-zero stopped the listing early and is passed on as it is). */
static int rows_end(wr_store *s, sqlite3_stmt *st, int rc, int r, wr_err *e, const char *what) {
    if (r == 0 && rc != SQLITE_DONE) r = db_fail(s, e, what);
    sqlite3_finalize(st);
    return r;
}

static void row_to_tenant(sqlite3_stmt *st, wr_tenant *t) {
    memset(t, 0, sizeof *t);
    copy_text(t->saas_user_id, sizeof t->saas_user_id, st, 0);
    copy_text(t->linux_username, sizeof t->linux_username, st, 1);
    t->uid = (uid_t)sqlite3_column_int64(st, 2);
    t->gid = (gid_t)sqlite3_column_int64(st, 3);
    copy_text(t->home_dir, sizeof t->home_dir, st, 4);
    t->created_at = sqlite3_column_double(st, 5);
    t->state = (wr_tenant_state)sqlite3_column_int(st, 6);
    t->keep_home = sqlite3_column_int(st, 7) != 0;
}

static int get_one(wr_store *s, enum stmt_id id, const char *key, const char *what, wr_tenant *ret,
                   wr_err *e) {
    sqlite3_stmt *st = stmt(s, id, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_to_tenant(st, ret);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return wr_not_found(e, "%s '%s' not found", what, key);
    return db_fail(s, e, "lookup");
}

int wr_store_get(wr_store *s, const char *saas_user_id, wr_tenant *ret, wr_err *e) {
    return get_one(s, ST_GET, saas_user_id, "tenant", ret, e);
}

int wr_store_get_by_username(wr_store *s, const char *username, wr_tenant *ret, wr_err *e) {
    return get_one(s, ST_GET_BY_NAME, username, "account", ret, e);
}

static int foreach (wr_store *s, enum stmt_id id, int (*fn)(const wr_tenant *, void *),
                    void *userdata, wr_err * e) {
    /* Rows are copied out before fn runs, so fn may use the store itself. */
    sqlite3_stmt *st;
    int rc, r = rows_begin(s, stmt_sql[id], &st, e);
    if (r < 0) return r;
    wr_tenant t;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_to_tenant(st, &t);
        if ((r = fn(&t, userdata)) != 0) break;
    }
    return rows_end(s, st, rc, r, e, "list");
}

int wr_store_foreach(wr_store *s, int (*fn)(const wr_tenant *, void *), void *userdata, wr_err *e) {
    return foreach (s, ST_ALL, fn, userdata, e);
}

int wr_store_foreach_unfinished(wr_store *s, int (*fn)(const wr_tenant *, void *), void *userdata,
                                wr_err *e) {
    return foreach (s, ST_UNFINISHED, fn, userdata, e);
}

/* Runs a statement that returns at most one integer row. *ret = -1 if no row. */
static int step_int(wr_store *s, sqlite3_stmt *st, int64_t *ret, wr_err *e, const char *what) {
    int rc = sqlite3_step(st);
    *ret = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_fail(s, e, what);
    return 0;
}

int wr_store_count(wr_store *s, uint64_t *ret, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_COUNT, e);
    if (!st) return -EIO;
    int64_t v;
    int r = step_int(s, st, &v, e, "count");
    if (r < 0) return r;
    *ret = v < 0 ? 0 : (uint64_t)v;
    return 0;
}

static int step_done(wr_store *s, sqlite3_stmt *st, wr_err *e, const char *what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return 0;
    if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT)
        return wr_exists(e, "registry %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return db_fail(s, e, what);
}

int wr_store_insert(wr_store *s, const wr_tenant *t, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_INSERT, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, t->saas_user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->linux_username, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, t->uid);
    sqlite3_bind_int64(st, 4, t->gid);
    sqlite3_bind_text(st, 5, t->home_dir, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, t->created_at);
    sqlite3_bind_int(st, 7, (int)t->state);
    sqlite3_bind_int(st, 8, t->keep_home);
    return step_done(s, st, e, "insert tenant");
}

int wr_store_set_state(wr_store *s, const char *saas_user_id, wr_tenant_state state, bool keep_home,
                       wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_SET_STATE, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, saas_user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)state);
    sqlite3_bind_int(st, 3, keep_home);
    int r = step_done(s, st, e, "update tenant");
    if (r < 0) return r;
    if (sqlite3_changes(s->db) != 1) return wr_not_found(e, "tenant '%s' not found", saas_user_id);
    return 0;
}

int wr_store_remove(wr_store *s, const char *saas_user_id, bool clean, wr_err *e) {
    int r = wr_store_begin(s, e);
    if (r < 0) return r;
    sqlite3_stmt *st = stmt(s, ST_DELETE, e);
    if (!st) {
        r = -EIO;
        goto fail;
    }
    sqlite3_bind_text(st, 1, saas_user_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        r = rc == SQLITE_DONE ? wr_not_found(e, "tenant '%s' not found", saas_user_id)
                              : db_fail(s, e, "delete tenant");
        goto fail;
    }
    int64_t uid = sqlite3_column_int64(st, 0);
    char name[WR_USERNAME_MAX + 1];
    copy_text(name, sizeof name, st, 1);
    sqlite3_reset(st);
    sqlite3_stmt *rt = stmt(s, ST_RETIRE, e);
    if (!rt) {
        r = -EIO;
        goto fail;
    }
    sqlite3_bind_int64(rt, 1, uid);
    sqlite3_bind_text(rt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_double(rt, 3, wr_now());
    sqlite3_bind_int(rt, 4, clean);
    if ((r = step_done(s, rt, e, "retire uid")) < 0) goto fail;
    sqlite3_stmt *rd = stmt(s, ST_REFUSALS_DROP, e);
    if (!rd) {
        r = -EIO;
        goto fail;
    }
    sqlite3_bind_text(rd, 1, saas_user_id, -1, SQLITE_STATIC);
    if ((r = step_done(s, rd, e, "drop refusals")) < 0) goto fail;
    /* A later tenant of the same id must not inherit this one's API tokens. */
    sqlite3_stmt *rk = stmt(s, ST_TOKEN_DROP_ALL, e);
    if (!rk) {
        r = -EIO;
        goto fail;
    }
    sqlite3_bind_text(rk, 1, saas_user_id, -1, SQLITE_STATIC);
    if ((r = step_done(s, rk, e, "drop tokens")) < 0) goto fail;
    return wr_store_commit(s, e);
fail:
    wr_store_rollback(s);
    return r;
}

int wr_store_uid_used(wr_store *s, uid_t uid, bool *ret, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_UID_USED, e);
    if (!st) return -EIO;
    sqlite3_bind_int64(st, 1, uid);
    int64_t v;
    int r = step_int(s, st, &v, e, "uid lookup");
    if (r < 0) return r;
    *ret = v > 0;
    return 0;
}

int wr_store_username_used(wr_store *s, const char *name, bool *ret, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_NAME_USED, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int64_t v;
    int r = step_int(s, st, &v, e, "name lookup");
    if (r < 0) return r;
    *ret = v > 0;
    return 0;
}

int wr_store_next_uid(wr_store *s, uid_t *ret, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_META_GET, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, "next_uid", -1, SQLITE_STATIC);
    int64_t v;
    int r = step_int(s, st, &v, e, "read next uid");
    if (r < 0) return r;
    *ret = v < 0 ? 0 : (uid_t)v;
    return 0;
}

int wr_store_set_next_uid(wr_store *s, uid_t next, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_META_SET, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, "next_uid", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, next);
    return step_done(s, st, e, "write next uid");
}

int wr_store_reusable_uid(wr_store *s, uid_t min, uid_t max, uid_t *ret, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_REUSABLE, e);
    if (!st) return -EIO;
    sqlite3_bind_int64(st, 1, min);
    sqlite3_bind_int64(st, 2, max);
    int64_t v;
    int r = step_int(s, st, &v, e, "find reusable uid");
    if (r < 0) return r;
    if (v < 0) return -ENOENT;
    *ret = (uid_t)v;
    return 0;
}

int wr_store_unretire_uid(wr_store *s, uid_t uid, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_UNRETIRE, e);
    if (!st) return -EIO;
    sqlite3_bind_int64(st, 1, uid);
    return step_done(s, st, e, "reuse uid");
}

int wr_store_retire_uid(wr_store *s, uid_t uid, const char *username, bool clean, wr_err *e) {
    sqlite3_stmt *rt = stmt(s, ST_RETIRE, e);
    if (!rt) return -EIO;
    sqlite3_bind_int64(rt, 1, uid);
    sqlite3_bind_text(rt, 2, username, -1, SQLITE_STATIC);
    sqlite3_bind_double(rt, 3, wr_now());
    sqlite3_bind_int(rt, 4, clean);
    return step_done(s, rt, e, "retire uid");
}

int wr_store_get_meta(wr_store *s, const char *key, char *buf, size_t n, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_META_GET, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_text(buf, n, st, 0);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? -ENOENT : db_fail(s, e, "read meta");
}

int wr_store_set_meta(wr_store *s, const char *key, const char *value, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_META_SET, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return step_done(s, st, e, "write meta");
}

int wr_store_add_refusal(wr_store *s, const char *saas_user_id, const char *syscall, uint64_t count,
                         double when, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_REFUSAL_ADD, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, saas_user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, syscall, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)count);
    sqlite3_bind_double(st, 4, when);
    return step_done(s, st, e, "record refused syscall");
}

int wr_store_foreach_refusal(wr_store *s, const char *saas_user_id,
                             int (*fn)(const wr_refusal *r, void *userdata), void *userdata,
                             wr_err *e) {
    sqlite3_stmt *st;
    int rc, r = rows_begin(s, stmt_sql[ST_REFUSALS], &st, e);
    if (r < 0) return r;
    sqlite3_bind_text(st, 1, saas_user_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        wr_refusal x = {0};
        copy_text(x.syscall, sizeof x.syscall, st, 0);
        x.count = (uint64_t)sqlite3_column_int64(st, 1);
        x.first_at = sqlite3_column_double(st, 2);
        x.last_at = sqlite3_column_double(st, 3);
        if ((r = fn(&x, userdata)) != 0) break;
    }
    return rows_end(s, st, rc, r, e, "list refusals");
}

/* --- audit log, API tokens, daemon runs -------------------------------------- */

int wr_store_add_audit(wr_store *s, double at, const char *type, const char *tenant,
                       const char *detail, uint64_t *ret_id, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_AUDIT_ADD, e);
    if (!st) return -EIO;
    sqlite3_bind_double(st, 1, at);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, tenant ? tenant : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, detail ? detail : "{}", -1, SQLITE_STATIC);
    int r = step_done(s, st, e, "record audit event");
    if (r < 0) return r;
    if (ret_id) *ret_id = (uint64_t)sqlite3_last_insert_rowid(s->db);
    return 0;
}

int wr_store_foreach_audit(wr_store *s, const char *tenant, const char *type, double since,
                           uint64_t after_id, uint64_t limit,
                           int (*fn)(uint64_t id, double at, const char *type, const char *tenant,
                                     const char *detail, void *userdata),
                           void *userdata, wr_err *e) {
    /* A statement of its own: fn may record events while the query runs. */
    sqlite3_stmt *st;
    int rc, r = rows_begin(s, stmt_sql[ST_AUDIT_QUERY], &st, e);
    if (r < 0) return r;
    if (tenant) sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    if (type) sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, since);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)after_id);
    sqlite3_bind_int64(st, 5, limit ? (sqlite3_int64)limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *ty = sqlite3_column_text(st, 2), *tn = sqlite3_column_text(st, 3),
                            *de = sqlite3_column_text(st, 4);
        r = fn((uint64_t)sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1),
               ty ? (const char *)ty : "", tn ? (const char *)tn : "",
               de ? (const char *)de : "{}", userdata);
        if (r != 0) break;
    }
    return rows_end(s, st, rc, r, e, "query audit log");
}

int wr_store_add_token(wr_store *s, const char *hash, const char *id, const char *tenant,
                       double at, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_TOKEN_ADD, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, at);
    return step_done(s, st, e, "store token");
}

int wr_store_find_token(wr_store *s, const char *hash, char *ret_hash, size_t hash_n,
                        char *ret_tenant, size_t tenant_n, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_TOKEN_FIND, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_text(ret_hash, hash_n, st, 0);
        copy_text(ret_tenant, tenant_n, st, 1);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? -ENOENT : db_fail(s, e, "find token");
}

int wr_store_drop_tokens(wr_store *s, const char *tenant, const char *id, uint64_t *ret_n,
                         wr_err *e) {
    sqlite3_stmt *st = stmt(s, id ? ST_TOKEN_DROP : ST_TOKEN_DROP_ALL, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    if (id) sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int r = step_done(s, st, e, "revoke tokens");
    if (r < 0) return r;
    if (ret_n) *ret_n = (uint64_t)sqlite3_changes(s->db);
    return 0;
}

int wr_store_add_run(wr_store *s, const char *id, const char *tenant, const char *detail,
                     double started_at, long daemon_pid, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_RUN_ADD, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, started_at);
    sqlite3_bind_int64(st, 5, daemon_pid);
    return step_done(s, st, e, "record run");
}

int wr_store_end_run(wr_store *s, const char *id, const char *state, double ended_at,
                     const char *detail, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_RUN_END, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, ended_at);
    sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
    return step_done(s, st, e, "record run end");
}

int wr_store_foreach_run(wr_store *s, const char *tenant, const char *state,
                         int (*fn)(const char *id, const char *tenant, const char *detail,
                                   const char *state, double started_at, double ended_at,
                                   long daemon_pid, void *userdata),
                         void *userdata, wr_err *e) {
    sqlite3_stmt *st;
    int rc, r = rows_begin(s,
                           "SELECT id, tenant, detail, state, started_at, ended_at, daemon_pid "
                           "FROM daemon_runs WHERE (?1 IS NULL OR tenant = ?1) AND "
                           "(?2 IS NULL OR state = ?2) ORDER BY started_at",
                           &st, e);
    if (r < 0) return r;
    if (tenant) sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    if (state) sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r = fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
               sqlite3_column_double(st, 4), sqlite3_column_double(st, 5),
               (long)sqlite3_column_int64(st, 6), userdata);
        if (r != 0) break;
    }
    return rows_end(s, st, rc, r, e, "list runs");
}

/* --- network settings (net.c) ------------------------------------------------- */

static void row_to_net(sqlite3_stmt *st, wr_net_row *n) {
    memset(n, 0, sizeof *n);
    copy_text(n->saas_user_id, sizeof n->saas_user_id, st, 0);
    copy_text(n->mode, sizeof n->mode, st, 1);
    n->subnet = sqlite3_column_type(st, 2) == SQLITE_NULL ? 0 : (uint32_t)sqlite3_column_int64(st, 2);
    n->egress_bps = (uint64_t)sqlite3_column_int64(st, 3);
    n->ingress_bps = (uint64_t)sqlite3_column_int64(st, 4);
}

int wr_store_net_get(wr_store *s, const char *saas_user_id, wr_net_row *ret, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_NET_GET, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, saas_user_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) row_to_net(st, ret);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    return rc == SQLITE_DONE ? -ENOENT : db_fail(s, e, "read network settings");
}

int wr_store_net_put(wr_store *s, const wr_net_row *n, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_NET_PUT, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, n->saas_user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, n->mode, -1, SQLITE_STATIC);
    if (n->subnet) sqlite3_bind_int64(st, 3, n->subnet);
    else sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n->egress_bps);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)n->ingress_bps);
    return step_done(s, st, e, "write network settings");
}

int wr_store_net_drop(wr_store *s, const char *saas_user_id, wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_NET_DROP, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, saas_user_id, -1, SQLITE_STATIC);
    return step_done(s, st, e, "drop network settings");
}

int wr_store_net_foreach(wr_store *s, int (*fn)(const wr_net_row *n, void *userdata),
                         void *userdata, wr_err *e) {
    sqlite3_stmt *st;
    int rc, r = rows_begin(s,
                           "SELECT saas_user_id, mode, subnet, egress_bps, ingress_bps "
                           "FROM tenant_net ORDER BY saas_user_id",
                           &st, e);
    if (r < 0) return r;
    wr_net_row n;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_to_net(st, &n);
        if ((r = fn(&n, userdata)) != 0) break;
    }
    return rows_end(s, st, rc, r, e, "list network settings");
}

/* --- tenant quotas (quota.c) ---------------------------------------------------- */

int wr_store_get_quota(wr_store *s, const char *key, int64_t v[WR_STORE_QUOTA_FIELDS], wr_err *e) {
    sqlite3_stmt *st = stmt(s, ST_QUOTA_GET, e);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), r = 0;
    for (int i = 0; i < WR_STORE_QUOTA_FIELDS; i++)
        v[i] = rc == SQLITE_ROW ? sqlite3_column_int64(st, i) : -1;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) r = db_fail(s, e, "read quota");
    sqlite3_reset(st);
    return r;
}

int wr_store_put_quota(wr_store *s, const char *key, const int64_t v[WR_STORE_QUOTA_FIELDS],
                       wr_err *e) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO tenant_quotas (saas_user_id, " QUOTA_COLS
                           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, e, "prepare");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    for (int i = 0; i < WR_STORE_QUOTA_FIELDS; i++)
        sqlite3_bind_int64(st, i + 2, v[i]);
    int r = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(s, e, "write quota");
    sqlite3_finalize(st);
    return r;
}
