/* The registry: rows survive reopening, states and UIDs are kept, the schema
 * version is checked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "store.h"
#include "testlib.h"

static char dir[TL_SCRATCH_MAX];

static int setup(void **state) {
    (void)state;
    int fd = tl_scratch_make(dir, sizeof dir, "store");
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tl_scratch_remove(dir);
}

static wr_tenant tenant(const char *id, const char *name, uid_t uid, double t) {
    wr_tenant x = {0};
    strcpy(x.saas_user_id, id);
    strcpy(x.linux_username, name);
    x.uid = x.gid = uid;
    snprintf(x.home_dir, sizeof x.home_dir, "/home/warren_users/%s", name);
    x.created_at = t;
    x.state = WR_TENANT_ACTIVE;
    return x;
}

static void rows_survive_reopen(void **state) {
    (void)state;
    wr_store *s;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_store_open(dir, &s, &e), 0);
    wr_tenant a = tenant("alice@example.com", "warren_ff8d9819", 60001, 1705410000.25);
    assert_int_equal(wr_store_insert(s, &a, &e), 0);
    wr_store_close(s);

    assert_int_equal(wr_store_open(dir, &s, &e), 0);
    wr_tenant got;
    assert_int_equal(wr_store_get(s, "alice@example.com", &got, &e), 0);
    assert_string_equal(got.linux_username, "warren_ff8d9819");
    assert_int_equal(got.uid, 60001);
    assert_int_equal(got.gid, 60001);
    assert_string_equal(got.home_dir, "/home/warren_users/warren_ff8d9819");
    assert_true(got.created_at == 1705410000.25);
    assert_int_equal(got.state, WR_TENANT_ACTIVE);
    assert_int_equal(wr_store_get_by_username(s, "warren_ff8d9819", &got, &e), 0);
    assert_string_equal(got.saas_user_id, "alice@example.com");

    /* Registry files are warren's alone: they name every tenant. */
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/registry.db", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    wr_store_close(s);
}

static void not_found_and_duplicates(void **state) {
    (void)state;
    wr_store *s;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_store_open(dir, &s, &e), 0);
    wr_tenant got;
    assert_int_equal(wr_store_get(s, "nobody", &got, &e), -ENOENT);
    assert_int_equal(e.kind, WR_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "'nobody'"));

    wr_tenant b = tenant("bob", "warren_b0b", 60002, 1.0);
    assert_int_equal(wr_store_insert(s, &b, NULL), 0);
    wr_tenant same_uid = tenant("carol", "warren_ca201", 60002, 1.0);
    wr_err e2 = WR_ERR_INIT;
    assert_int_equal(wr_store_insert(s, &same_uid, &e2), -EEXIST);
    wr_tenant same_name = tenant("dave", "warren_b0b", 60003, 1.0);
    assert_int_equal(wr_store_insert(s, &same_name, NULL), -EEXIST);
    wr_tenant same_id = tenant("bob", "warren_other", 60004, 1.0);
    assert_int_equal(wr_store_insert(s, &same_id, NULL), -EEXIST);
    wr_store_close(s);
}

static int count_cb(const wr_tenant *t, void *u) {
    (void)t;
    (*(int *)u)++;
    return 0;
}

static void states_and_retirement(void **state) {
    (void)state;
    wr_store *s;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_store_open(dir, &s, &e), 0);
    wr_tenant c = tenant("carol", "warren_ca201", 60010, 2.0);
    c.state = WR_TENANT_CREATING;
    assert_int_equal(wr_store_insert(s, &c, NULL), 0);
    int n = 0;
    assert_int_equal(wr_store_foreach_unfinished(s, count_cb, &n, NULL), 0);
    assert_int_equal(n, 1);
    uint64_t active;
    assert_int_equal(wr_store_count(s, &active, NULL), 0);
    assert_int_equal(active, 2); /* alice and bob from the tests before */

    assert_int_equal(wr_store_set_state(s, "carol", WR_TENANT_DELETING, true, NULL), 0);
    wr_tenant got;
    assert_int_equal(wr_store_get(s, "carol", &got, NULL), 0);
    assert_int_equal(got.state, WR_TENANT_DELETING);
    assert_true(got.keep_home);
    assert_int_equal(wr_store_set_state(s, "nobody", WR_TENANT_ACTIVE, false, NULL), -ENOENT);

    /* Removed with the home kept: the UID stays used and is not reusable. */
    assert_int_equal(wr_store_remove(s, "carol", false, NULL), 0);
    assert_int_equal(wr_store_get(s, "carol", &got, NULL), -ENOENT);
    bool used;
    assert_int_equal(wr_store_uid_used(s, 60010, &used, NULL), 0);
    assert_true(used);
    uid_t reuse;
    assert_int_equal(wr_store_reusable_uid(s, 60000, 70000, &reuse, NULL), -ENOENT);

    /* Removed clean: reusable, oldest first, and only inside the range. */
    assert_int_equal(wr_store_remove(s, "bob", true, NULL), 0);
    assert_int_equal(wr_store_reusable_uid(s, 60000, 70000, &reuse, NULL), 0);
    assert_int_equal(reuse, 60002);
    assert_int_equal(wr_store_reusable_uid(s, 60003, 70000, &reuse, NULL), -ENOENT);
    assert_int_equal(wr_store_unretire_uid(s, 60002, NULL), 0);
    assert_int_equal(wr_store_uid_used(s, 60002, &used, NULL), 0);
    assert_false(used);
    assert_int_equal(wr_store_remove(s, "bob", true, &e), -ENOENT);

    bool nused;
    assert_int_equal(wr_store_username_used(s, "warren_ff8d9819", &nused, NULL), 0);
    assert_true(nused);
    assert_int_equal(wr_store_username_used(s, "warren_b0b", &nused, NULL), 0);
    assert_false(nused);

    uid_t next;
    assert_int_equal(wr_store_next_uid(s, &next, NULL), 0);
    assert_int_equal(next, 0);
    assert_int_equal(wr_store_set_next_uid(s, 60011, NULL), 0);
    assert_int_equal(wr_store_next_uid(s, &next, NULL), 0);
    assert_int_equal(next, 60011);
    wr_store_close(s);
}

static void rollback_leaves_nothing(void **state) {
    (void)state;
    wr_store *s;
    assert_int_equal(wr_store_open(dir, &s, NULL), 0);
    assert_int_equal(wr_store_begin(s, NULL), 0);
    wr_tenant x = tenant("xavier", "warren_0x", 60020, 3.0);
    assert_int_equal(wr_store_insert(s, &x, NULL), 0);
    wr_store_rollback(s);
    wr_tenant got;
    assert_int_equal(wr_store_get(s, "xavier", &got, NULL), -ENOENT);
    wr_store_close(s);
}

static void newer_schema_refused(void **state) {
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/registry.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    wr_store *s;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_store_open(dir, &s, &e), -EPROTO);
    assert_non_null(strstr(e.msg, "schema version 99"));
    /* Nothing was changed: the version is still the one we set. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 99);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void unopenable_dir_named(void **state) {
    (void)state;
    wr_store *s;
    wr_err e = WR_ERR_INIT;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(path, sizeof path, "%s/file/sub", dir);
    assert_true(wr_store_open(path, &s, &e) < 0);
    assert_non_null(strstr(e.msg, dir));
}

static int refusal_cb(const wr_refusal *r, void *u) {
    wr_refusal *out = u;
    for (int i = 0; i < 4; i++)
        if (!out[i].syscall[0]) {
            out[i] = *r;
            break;
        }
    return 0;
}

/* Refused system calls add up per tenant and go with the tenant's row. */
static void refusals_add_up(void **state) {
    (void)state;
    char sub[TL_SCRATCH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/refusals", dir);
    wr_store *s;
    assert_int_equal(wr_store_open(sub, &s, NULL), 0);
    wr_tenant t = tenant("rita", "warren_717a", 60030, 5.0);
    assert_int_equal(wr_store_insert(s, &t, NULL), 0);
    assert_int_equal(wr_store_add_refusal(s, "rita", "unshare", 1, 100.0, NULL), 0);
    assert_int_equal(wr_store_add_refusal(s, "rita", "ptrace", 1, 101.0, NULL), 0);
    assert_int_equal(wr_store_add_refusal(s, "rita", "unshare", 2, 102.0, NULL), 0);
    wr_refusal got[4] = {0};
    assert_int_equal(wr_store_foreach_refusal(s, "rita", refusal_cb, got, NULL), 0);
    assert_string_equal(got[0].syscall, "unshare"); /* most frequent first */
    assert_int_equal(got[0].count, 3);
    assert_true(got[0].first_at == 100.0 && got[0].last_at == 102.0);
    assert_string_equal(got[1].syscall, "ptrace");
    assert_int_equal(got[1].count, 1);
    assert_int_equal(got[2].syscall[0], 0);
    assert_int_equal(wr_store_remove(s, "rita", true, NULL), 0);
    wr_refusal none[4] = {0};
    assert_int_equal(wr_store_foreach_refusal(s, "rita", refusal_cb, none, NULL), 0);
    assert_int_equal(none[0].syscall[0], 0);
    wr_store_close(s);
}

static off_t wal_size(const char *sub) {
    char path[TL_SCRATCH_MAX + 64];
    snprintf(path, sizeof path, "%s/registry.db-wal", sub);
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The WAL is truncated by upkeep (when asked, and at close), not by the
 * commits a run makes: those never wait for a checkpoint's fsyncs until the
 * log is 16 MB long. */
static void wal_trimmed_by_upkeep(void **state) {
    (void)state;
    char sub[TL_SCRATCH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/wal", dir);
    wr_store *s;
    assert_int_equal(wr_store_open(sub, &s, NULL), 0);
    assert_false(wr_store_maintain_due(s));
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(wr_store_set_meta(s, key, "a value", NULL), 0);
    }
    /* 200 commits, one frame or more each: the log holds them all. */
    assert_true(wal_size(sub) >= 200 * 4096);
    assert_true(wr_store_maintain_due(s));
    wr_store_maintain(s);
    assert_int_equal(wal_size(sub), 0);
    assert_false(wr_store_maintain_due(s));
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(wr_store_set_meta(s, key, "another", NULL), 0);
    }
    assert_true(wal_size(sub) > 0);
    wr_store_close(s);
    assert_int_equal(wal_size(sub), 0); /* the next opener reads no log */
    assert_int_equal(wr_store_open(sub, &s, NULL), 0);
    char val[64];
    assert_int_equal(wr_store_get_meta(s, "k99", val, sizeof val, NULL), 0);
    assert_string_equal(val, "another");
    wr_store_close(s);
}

/* A registry written by the first schema version opens, keeps its rows and
 * gains the newer tables. */
static void older_schema_migrates(void **state) {
    (void)state;
    char sub[TL_SCRATCH_MAX + 16], path[TL_SCRATCH_MAX + 32];
    snprintf(sub, sizeof sub, "%s/v1", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/registry.db", sub);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
        "CREATE TABLE tenants (saas_user_id TEXT PRIMARY KEY NOT NULL, linux_username TEXT NOT NULL "
        "UNIQUE, uid INTEGER NOT NULL UNIQUE, gid INTEGER NOT NULL, home_dir TEXT NOT NULL, "
        "created_at REAL NOT NULL, state INTEGER NOT NULL, keep_home INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX tenants_unfinished ON tenants(state) WHERE state != 1;"
        "CREATE TABLE retired_uids (uid INTEGER PRIMARY KEY, linux_username TEXT NOT NULL, "
        "retired_at REAL NOT NULL, clean INTEGER NOT NULL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;"
        "INSERT INTO tenants VALUES ('old', 'warren_01d', 60040, 60040, '/h/warren_01d', 7.5, 1, 0);"
        "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    wr_store *s;
    assert_int_equal(wr_store_open(sub, &s, NULL), 0);
    wr_tenant got;
    assert_int_equal(wr_store_get(s, "old", &got, NULL), 0);
    assert_true(got.created_at == 7.5);
    assert_int_equal(wr_store_add_refusal(s, "old", "bpf", 1, 1.0, NULL), 0);
    wr_store_close(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int migrated = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* At the version a fresh registry gets: every later step was applied. */
    char fresh[TL_SCRATCH_MAX + 16];
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    assert_int_equal(wr_store_open(fresh, &s, NULL), 0);
    wr_store_close(s);
    snprintf(path, sizeof path, "%s/registry.db", fresh);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(migrated >= 2);
    assert_int_equal(migrated, sqlite3_column_int(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_survive_reopen),
        cmocka_unit_test(not_found_and_duplicates),
        cmocka_unit_test(states_and_retirement),
        cmocka_unit_test(rollback_leaves_nothing),
        cmocka_unit_test(newer_schema_refused),
        cmocka_unit_test(unopenable_dir_named),
        cmocka_unit_test(refusals_add_up),
        cmocka_unit_test(older_schema_migrates),
        cmocka_unit_test(wal_trimmed_by_upkeep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
