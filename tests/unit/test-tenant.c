/* The tenant lifecycle through the library, with account files in a scratch
 * directory (config.etc_dir) and a UID range nothing on the host uses: creates
 * are all or nothing, crashes are repaired on open, UIDs follow the policy. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"
#include "tenant.h"
#include "testlib.h"

#define UID_LO 3900001u

static char top[TL_SCRATCH_MAX];
static wr_config cfg;

static void write_file(const char *name, const char *content) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", cfg.etc_dir, name);
    tl_write_at(AT_FDCWD, p, content, 0644);
}

static char *read_file(const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", cfg.etc_dir, name);
    FILE *f = fopen(p, "r");
    if (!f) return strdup("");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strdup(buf);
}

static bool file_has_line_prefix(const char *file, const char *prefix) {
    char *s = read_file(file);
    bool found = false;
    for (char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, prefix, strlen(prefix))) found = true;
    free(s);
    return found;
}

static int setup(void **state) {
    (void)state;
    int fd = tl_scratch_make(top, sizeof top, "tenant");
    if (fd < 0) return -1;
    close(fd);
    wr_config_defaults(&cfg, NULL);
    cfg.root_mode = true;
    snprintf(cfg.etc_dir, sizeof cfg.etc_dir, "%s/etc", top);
    snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s/state", top);
    snprintf(cfg.users_base, sizeof cfg.users_base, "%s/users", top);
    cfg.uid_min = UID_LO;
    cfg.uid_max = UID_LO + 99;
    tl_write_root_etc(cfg.etc_dir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tl_scratch_remove(top);
}

static void lifecycle(void **state) {
    (void)state;
    warren *w;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_open(&cfg, &w, &e), 0);
    wr_tenant a, b, got;
    assert_int_equal(wr_tenant_create(w, "alice@example.com", &a, &e), 0);
    assert_string_equal(a.linux_username, "warren_ff8d9819");
    assert_int_equal(a.uid, UID_LO);
    assert_int_equal(a.gid, UID_LO);
    assert_int_equal(a.state, WR_TENANT_ACTIVE);
    char line[1024];
    snprintf(line, sizeof line, "warren_ff8d9819:x:%u:%u:alice@example.com:%s/warren_ff8d9819:",
             UID_LO, UID_LO, cfg.users_base);
    assert_true(file_has_line_prefix("passwd", line));
    assert_true(file_has_line_prefix("group", "warren_ff8d9819:x:"));
    assert_true(file_has_line_prefix("shadow", "warren_ff8d9819:!:"));
    assert_true(file_has_line_prefix("gshadow", "warren_ff8d9819:!:"));
    struct stat st;
    assert_int_equal(stat(a.home_dir, &st), 0);
    assert_int_equal(st.st_uid, UID_LO);
    assert_int_equal(st.st_mode & 07777, 0700);

    wr_err e2 = WR_ERR_INIT;
    assert_int_equal(wr_tenant_create(w, "alice@example.com", &got, &e2), -EEXIST);
    assert_int_equal(e2.kind, WR_ERR_EXISTS);

    bool created = true;
    assert_int_equal(wr_tenant_get_or_create(w, "alice@example.com", &got, &created, NULL), 0);
    assert_false(created);
    assert_int_equal(got.uid, a.uid);
    assert_true(got.created_at == a.created_at);
    assert_int_equal(wr_tenant_get_or_create(w, "bob", &b, &created, NULL), 0);
    assert_true(created);
    assert_int_equal(b.uid, UID_LO + 1);

    wr_tenant *v;
    size_t n;
    assert_int_equal(wr_tenant_list(w, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].saas_user_id, "alice@example.com");
    assert_string_equal(v[1].saas_user_id, "bob");
    free(v);

    char *path;
    assert_int_equal(wr_sandbox_path(w, "bob", "my-api", &path, NULL), 0);
    char want[1024];
    snprintf(want, sizeof want, "%s/sandboxes/my-api", b.home_dir);
    assert_string_equal(path, want);
    free(path);
    wr_stats s;
    assert_int_equal(wr_tenant_stats(w, "bob", &s, NULL), 0);
    assert_int_equal(s.sandbox_count, 1);
    assert_true(s.disk_bytes > 0);

    assert_int_equal(wr_tenant_delete(w, "alice@example.com", false, &e), 0);
    assert_false(file_has_line_prefix("passwd", "warren_ff8d9819:"));
    assert_false(file_has_line_prefix("group", "warren_ff8d9819:"));
    assert_int_equal(stat(a.home_dir, &st), -1);
    wr_err e3 = WR_ERR_INIT;
    assert_int_equal(wr_tenant_get(w, "alice@example.com", &got, &e3), -ENOENT);
    assert_int_equal(e3.kind, WR_ERR_NOT_FOUND);
    assert_int_equal(wr_tenant_delete(w, "alice@example.com", false, NULL), -ENOENT);
    assert_int_equal(wr_tenant_delete(w, "bob", false, NULL), 0);
    wr_close(w);
}

/* A create that fails midway leaves no row, no account line, no home. */
static void failed_create_leaves_nothing(void **state) {
    (void)state;
    warren *w;
    assert_int_equal(wr_open(&cfg, &w, NULL), 0);
    char *passwd = read_file("passwd"), *group = read_file("group");
    uid_t before = 0;
    wr_tenant probe;
    assert_int_equal(wr_tenant_create(w, "probe", &probe, NULL), 0);
    before = probe.uid;
    assert_int_equal(wr_tenant_delete(w, "probe", false, NULL), 0);
    free(passwd);
    free(group);
    passwd = read_file("passwd");
    group = read_file("group");

    /* An immutable users base: the account is written, then the home fails. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "chattr +i '%s'", cfg.users_base);
    if (system(cmd) != 0) skip();
    wr_tenant t;
    wr_err e = WR_ERR_INIT;
    int r = wr_tenant_create(w, "carol", &t, &e);
    snprintf(cmd, sizeof cmd, "chattr -i '%s'", cfg.users_base);
    assert_int_equal(system(cmd), 0);
    assert_true(r < 0);
    assert_int_equal(e.kind, WR_ERR_SYSTEM);
    assert_non_null(strstr(e.msg, "warren_"));
    assert_int_equal(wr_tenant_get(w, "carol", &t, NULL), -ENOENT);
    char *after = read_file("passwd");
    assert_string_equal(after, passwd);
    free(after);
    after = read_file("group");
    assert_string_equal(after, group);
    free(after);
    DIR *d = opendir(cfg.users_base);
    int entries = 0;
    for (struct dirent *de; (de = readdir(d));) entries += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 0);

    /* The same create now works and takes the UID the failed one had
     * reserved: nothing of the failure was left to step around. */
    assert_int_equal(wr_tenant_create(w, "carol", &t, NULL), 0);
    assert_int_equal(t.uid, before + 1);
    assert_int_equal(wr_tenant_delete(w, "carol", false, NULL), 0);
    free(group);
    free(passwd);
    wr_close(w);
}

/* A process that died in the middle of a create or a delete is finished by
 * the next open. */
static void crash_repaired_on_open(void **state) {
    (void)state;
    warren *w;
    assert_int_equal(wr_open(&cfg, &w, NULL), 0);
    wr_tenant d;
    assert_int_equal(wr_tenant_create(w, "dave", &d, NULL), 0);
    wr_close(w);

    /* Pretend a create of "erin" died after its account lines and home, and a
     * delete of "dave" died right after marking the row. */
    wr_store *s;
    assert_int_equal(wr_store_open(cfg.state_dir, &s, NULL), 0);
    wr_tenant x = {0};
    strcpy(x.saas_user_id, "erin");
    strcpy(x.linux_username, "warren_erin0001");
    x.uid = x.gid = UID_LO + 50;
    snprintf(x.home_dir, sizeof x.home_dir, "%s/%s", cfg.users_base, x.linux_username);
    x.state = WR_TENANT_CREATING;
    assert_int_equal(wr_store_insert(s, &x, NULL), 0);
    assert_int_equal(wr_store_set_state(s, "dave", WR_TENANT_DELETING, false, NULL), 0);
    wr_store_close(s);
    char *pw = read_file("passwd");
    char add[2048];
    snprintf(add, sizeof add, "%swarren_erin0001:x:%u:%u::%s:/usr/sbin/nologin\n", pw, x.uid,
             x.gid, x.home_dir);
    write_file("passwd", add);
    free(pw);
    assert_int_equal(mkdir(x.home_dir, 0700), 0);
    assert_int_equal(chown(x.home_dir, x.uid, x.gid), 0);

    assert_int_equal(wr_open(&cfg, &w, NULL), 0);
    wr_tenant got;
    assert_int_equal(wr_tenant_get(w, "erin", &got, NULL), -ENOENT);
    assert_int_equal(wr_tenant_get(w, "dave", &got, NULL), -ENOENT);
    assert_false(file_has_line_prefix("passwd", "warren_erin0001:"));
    assert_false(file_has_line_prefix("passwd", d.linux_username));
    struct stat st;
    assert_int_equal(stat(x.home_dir, &st), -1);
    assert_int_equal(stat(d.home_dir, &st), -1);
    wr_close(w);
}

/* IDs the host knows are skipped; a full range is an error that changes
 * nothing; clean UIDs are reused only when the range is exhausted, kept-home
 * UIDs never. */
static void uid_policy(void **state) {
    (void)state;
    /* A fresh registry and a host that has the next two UIDs in use. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cfg.state_dir);
    assert_int_equal(system(cmd), 0);
    wr_config c = cfg;
    c.uid_min = UID_LO + 200;
    c.uid_max = UID_LO + 204;
    char *pw = read_file("passwd");
    char add[2048];
    snprintf(add, sizeof add, "%shostuser:x:%u:100::/home/h:/bin/sh\n", pw, c.uid_min);
    write_file("passwd", add);
    free(pw);
    char *gr = read_file("group");
    snprintf(add, sizeof add, "%shostgroup:x:%u:\n", gr, c.uid_min + 1);
    write_file("group", add);
    free(gr);

    warren *w;
    assert_int_equal(wr_open(&c, &w, NULL), 0);
    wr_tenant t[4];
    const char *ids[] = {"t0", "t1", "t2", "t3"};
    for (int i = 0; i < 3; i++) assert_int_equal(wr_tenant_create(w, ids[i], &t[i], NULL), 0);
    assert_int_equal(t[0].uid, c.uid_min + 2); /* +0 is a user's, +1 a group's */
    assert_int_equal(t[1].uid, c.uid_min + 3);
    assert_int_equal(t[2].uid, c.uid_min + 4);

    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_tenant_create(w, "t3", &t[3], &e), -ENOSPC);
    assert_int_equal(e.kind, WR_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "exhausted"));
    assert_int_equal(wr_tenant_get(w, "t3", &t[3], NULL), -ENOENT);

    /* t1 kept its home: its UID is never reused. t0 was removed clean. */
    assert_int_equal(wr_tenant_delete(w, "t1", true, NULL), 0);
    wr_err e2 = WR_ERR_INIT;
    assert_int_equal(wr_tenant_create(w, "t3", &t[3], &e2), -ENOSPC);
    assert_int_equal(wr_tenant_delete(w, "t0", false, NULL), 0);
    assert_int_equal(wr_tenant_create(w, "t3", &t[3], NULL), 0);
    assert_int_equal(t[3].uid, c.uid_min + 2);
    wr_close(w);
}

int main(void) {
    if (geteuid() != 0) {
        printf("1..0 # SKIP needs root\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifecycle),
        cmocka_unit_test(failed_create_leaves_nothing),
        cmocka_unit_test(crash_repaired_on_open),
        cmocka_unit_test(uid_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
