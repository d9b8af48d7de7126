/* uidset.c against a scratch account directory, plus one read-only load of the
 * host's /etc through NSS. */
#include "uidset.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include "accounts.h"
#include "testlib.h"
#include "util.h"

enum { MIN = 60001, MAX = 199999 };

static const char PASSWD[] = "root:x:0:0:root:/root:/bin/bash\n"
                             "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                             "alice:x:60010:60010::/home/alice:/bin/sh\n"
                             "bob:x:70000:60030::/home/bob:/bin/sh\n"
                             "# not an entry:x:60040:60040\n";
static const char GROUP[] = "root:x:0:\n"
                            "users:x:100:\n"
                            "devs:x:60020:alice,bob\n"
                            "alice:x:60010:\n";

static char scratch[PATH_MAX - 16];
static char etc[PATH_MAX];

static void path_of(char p[PATH_MAX], const char *file) {
    assert_true((size_t)snprintf(p, PATH_MAX, "%s/%s", etc, file) < PATH_MAX);
}

static void write_file(const char *file, const char *content) {
    char p[PATH_MAX];
    path_of(p, file);
    tl_write_at(AT_FDCWD, p, content, 0644);
}

static void append_file(const char *file, const char *content) {
    char p[PATH_MAX];
    path_of(p, file);
    FILE *f = fopen(p, "ae");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
    int fd = tl_scratch_make(scratch, sizeof scratch, "uidset");
    assert_true(fd >= 0);
    close(fd);
    snprintf(etc, sizeof etc, "%s/etc", scratch);
    assert_int_equal(mkdir(etc, 0755), 0);
    write_file("passwd", PASSWD);
    write_file("group", GROUP);
    write_file("shadow", "");
    write_file("gshadow", "");
    return 0;
}

static int teardown(void **state) {
    tl_scratch_remove(scratch);
    return 0;
}

static wr_uidset *load(uid_t min, uid_t max) {
    wr_uidset *s = NULL;
    wr_err e = WR_ERR_INIT;
    int r = wr_uidset_load(etc, min, max, &s, &e);
    if (r < 0) fail_msg("load: %s", e.msg);
    assert_non_null(s);
    return s;
}

/* --- the fixed holes ------------------------------------------------------------ */

static void reserved_holes(void **state) {
    const uid_t reserved[] = {0, 61184, 62000, 65519, 65534, 65535, (uid_t)-1};
    const uid_t usable[] = {1, 1000, 60001, 61183, 65520, 65533, 65536, 299999, (uid_t)-2};
    for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
        if (!wr_uid_is_reserved(reserved[i])) fail_msg("%u is not reserved", reserved[i]);
    for (size_t i = 0; i < ELEMENTSOF(usable); i++)
        if (wr_uid_is_reserved(usable[i])) fail_msg("%u is reserved", usable[i]);

    wr_uidset *s = load(MIN, MAX);
    for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
        assert_true(wr_uidset_id_taken(s, reserved[i]));
    wr_uidset_free(s);
}

/* --- what the files say ------------------------------------------------------------ */

static void ids_from_passwd_and_group(void **state) {
    wr_uidset *s = load(MIN, MAX);
    assert_true(wr_uidset_id_taken(s, 60010));  /* alice, user and group */
    assert_true(wr_uidset_id_taken(s, 70000));  /* bob's UID */
    assert_true(wr_uidset_id_taken(s, 60030));  /* bob's primary GID, no group line */
    assert_true(wr_uidset_id_taken(s, 60020));  /* group devs only */
    assert_false(wr_uidset_id_taken(s, 60040)); /* a comment line */
    assert_false(wr_uidset_id_taken(s, 60001));
    assert_false(wr_uidset_id_taken(s, 60011));
    assert_false(wr_uidset_id_taken(s, 70001));
    assert_false(wr_uidset_id_taken(s, MAX));
    /* Outside the range: never for warren to hand out. */
    assert_true(wr_uidset_id_taken(s, MIN - 1));
    assert_true(wr_uidset_id_taken(s, MAX + 1));
    assert_true(wr_uidset_id_taken(s, 1000));
    wr_uidset_free(s);
}

static void names_of_users_and_groups(void **state) {
    wr_uidset *s = load(MIN, MAX);
    const char *taken[] = {"root", "nobody", "alice", "bob", "users", "devs"};
    const char *free_[] = {"ali", "alicex", "Alice", "dev", "warren_1a2b3c4d", ""};
    for (size_t i = 0; i < ELEMENTSOF(taken); i++)
        if (!wr_uidset_name_taken(s, taken[i])) fail_msg("%s is not taken", taken[i]);
    for (size_t i = 0; i < ELEMENTSOF(free_); i++)
        if (wr_uidset_name_taken(s, free_[i])) fail_msg("'%s' is taken", free_[i]);
    wr_uidset_free(s);
}

static void subordinate_ranges(void **state) {
    write_file("subuid", "alice:100000:65536\n"
                         "# comment:60500:10\n"
                         "garbage line\n"
                         "carol:60100:10\n"
                         "1000:199990:100\n");
    write_file("subgid", "dave:60200:1\n"
                         "erin:59990:20\n"
                         "frank:10:5\n");
    wr_uidset *s = load(MIN, MAX);
    assert_true(wr_uidset_id_taken(s, 100000));
    assert_true(wr_uidset_id_taken(s, 123456));
    assert_true(wr_uidset_id_taken(s, 165535));
    assert_false(wr_uidset_id_taken(s, 99999));
    assert_false(wr_uidset_id_taken(s, 165536));
    assert_false(wr_uidset_id_taken(s, 60099));
    for (uid_t id = 60100; id < 60110; id++)
        assert_true(wr_uidset_id_taken(s, id));
    assert_false(wr_uidset_id_taken(s, 60110));
    assert_false(wr_uidset_id_taken(s, 60500));
    assert_true(wr_uidset_id_taken(s, 199990));
    assert_true(wr_uidset_id_taken(s, MAX)); /* a range running past max */
    assert_false(wr_uidset_id_taken(s, 199989));
    assert_true(wr_uidset_id_taken(s, 60200));
    assert_false(wr_uidset_id_taken(s, 60201));
    /* A range starting below min: its part inside counts. */
    for (uid_t id = MIN; id < 60010; id++)
        assert_true(wr_uidset_id_taken(s, id));
    assert_false(wr_uidset_id_taken(s, 60011));
    wr_uidset_free(s);
}

static void refuses_bad_ranges_and_missing_files(void **state) {
    wr_uidset *s = NULL;
    wr_err e = WR_ERR_INIT;
    assert_true(wr_uidset_load(etc, 70000, 60000, &s, &e) < 0);
    assert_int_equal(e.kind, WR_ERR_INVALID);
    assert_non_null(strstr(e.msg, "70000"));
    wr_err e2 = WR_ERR_INIT;
    assert_true(wr_uidset_load(etc, 1, 4000000000u, &s, &e2) < 0);
    assert_int_equal(e2.kind, WR_ERR_INVALID);
    assert_null(s);

    char p[PATH_MAX];
    path_of(p, "group");
    assert_int_equal(unlink(p), 0);
    wr_err e3 = WR_ERR_INIT;
    assert_int_equal(wr_uidset_load(etc, MIN, MAX, &s, &e3), -ENOENT);
    assert_int_equal(e3.kind, WR_ERR_SYSTEM);
    assert_non_null(strstr(e3.msg, "group"));
    assert_null(s);
}

/* --- refresh and notes ---------------------------------------------------------------- */

static void refresh_sees_external_changes(void **state) {
    wr_uidset *s = load(MIN, MAX);
    assert_false(wr_uidset_id_taken(s, 60050));
    assert_false(wr_uidset_name_taken(s, "eve"));
    assert_int_equal(wr_uidset_refresh(s, NULL), 0);
    assert_false(wr_uidset_id_taken(s, 60050));

    append_file("passwd", "eve:x:60050:60050::/home/eve:/bin/sh\n");
    assert_int_equal(wr_uidset_refresh(s, NULL), 0);
    assert_true(wr_uidset_id_taken(s, 60050));
    assert_true(wr_uidset_name_taken(s, "eve"));

    append_file("group", "ops:x:60051:\n");
    assert_int_equal(wr_uidset_refresh(s, NULL), 0);
    assert_true(wr_uidset_id_taken(s, 60051));
    assert_true(wr_uidset_name_taken(s, "ops"));

    /* subuid alone changing counts too (usermod --add-subuids). */
    append_file("subuid", "eve:61000:10\n");
    assert_int_equal(wr_uidset_refresh(s, NULL), 0);
    assert_true(wr_uidset_id_taken(s, 61005));
    wr_uidset_free(s);
}

static void add_locked(const char *name, uid_t uid) {
    char home[64];
    snprintf(home, sizeof home, "/home/w/%s", name);
    wr_account a = {.name = name, .uid = uid, .gid = uid, .gecos = "", .home = home};
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_accounts_lock(etc, &e), 0);
    int r = wr_accounts_add(etc, &a, &e);
    wr_accounts_unlock(etc);
    if (r < 0) fail_msg("add %s: %s", name, e.msg);
}

static void remove_locked(const char *name, uid_t uid) {
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_accounts_lock(etc, &e), 0);
    int r = wr_accounts_remove(etc, name, uid, &e);
    wr_accounts_unlock(etc);
    if (r < 0) fail_msg("remove %s: %s", name, e.msg);
}

/* "ghost" is noted but in no file: it survives a refresh only if the refresh
 * did not reload. */
static void note_added_is_not_mistaken_for_a_change(void **state) {
    wr_uidset *s = load(MIN, MAX);
    add_locked("warren_t1", 60060);
    wr_uidset_note_added(s, 60060, "warren_t1");
    wr_uidset_note_added(s, 60061, "ghost");
    assert_true(wr_uidset_id_taken(s, 60060));
    assert_true(wr_uidset_name_taken(s, "warren_t1"));

    assert_int_equal(wr_uidset_refresh(s, NULL), 0);
    assert_true(wr_uidset_id_taken(s, 60061));
    assert_true(wr_uidset_name_taken(s, "ghost"));

    /* Someone else's change: reload, the ghost goes, the real account stays. */
    append_file("passwd", "zed:x:60070:60070::/home/zed:/bin/sh\n");
    assert_int_equal(wr_uidset_refresh(s, NULL), 0);
    assert_false(wr_uidset_id_taken(s, 60061));
    assert_false(wr_uidset_name_taken(s, "ghost"));
    assert_true(wr_uidset_id_taken(s, 60060));
    assert_true(wr_uidset_name_taken(s, "warren_t1"));
    assert_true(wr_uidset_id_taken(s, 60070));
    wr_uidset_free(s);
}

static void note_removed_frees_only_warrens_own(void **state) {
    wr_uidset *s = load(MIN, MAX);
    add_locked("warren_t2", 60080);
    wr_uidset_note_added(s, 60080, "warren_t2");
    add_locked("warren_t3", 60090);
    wr_uidset_note_added(s, 60090, "warren_t3");
    /* An administrator gives a group warren_t3's GID. */
    append_file("group", "ops:x:60090:\n");
    assert_int_equal(wr_uidset_refresh(s, NULL), 0);

    remove_locked("warren_t2", 60080);
    wr_uidset_note_removed(s, 60080, "warren_t2");
    remove_locked("warren_t3", 60090);
    wr_uidset_note_removed(s, 60090, "warren_t3");
    wr_uidset_note_added(s, 60099, "ghost");

    assert_false(wr_uidset_id_taken(s, 60080));
    assert_false(wr_uidset_name_taken(s, "warren_t2"));
    assert_false(wr_uidset_name_taken(s, "warren_t3"));
    assert_true(wr_uidset_id_taken(s, 60090)); /* still ops's GID */
    assert_true(wr_uidset_name_taken(s, "ops"));
    /* Removing a name not in the set is harmless. */
    wr_uidset_note_removed(s, 60098, "never_there");
    assert_true(wr_uidset_name_taken(s, "alice"));

    /* The removals were noted: no reload (the ghost survives). */
    assert_int_equal(wr_uidset_refresh(s, NULL), 0);
    assert_true(wr_uidset_name_taken(s, "ghost"));
    assert_false(wr_uidset_id_taken(s, 60080));
    assert_true(wr_uidset_id_taken(s, 60090));
    wr_uidset_free(s);
}

/* --- scale --------------------------------------------------------------------------- */

enum { MANY = 100000, BIG_MAX = 499999 };

static void loads_100k_accounts(void **state) {
    /* From MIN: users at even offsets, groups at 1 mod 4, nothing at 3 mod 4. */
    char p[PATH_MAX];
    path_of(p, "passwd");
    FILE *f = fopen(p, "we");
    assert_non_null(f);
    for (unsigned i = 0; i < MANY; i++)
        fprintf(f, "user%06u:x:%u:%u::/home/user%06u:/bin/sh\n", i, MIN + 2 * i, MIN + 2 * i, i);
    assert_int_equal(fclose(f), 0);
    path_of(p, "group");
    f = fopen(p, "we");
    assert_non_null(f);
    for (unsigned i = 0; i < MANY; i++)
        fprintf(f, "grp%06u:x:%u:\n", i, MIN + 1 + 4 * i);
    assert_int_equal(fclose(f), 0);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wr_uidset *s = load(MIN, BIG_MAX);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "# loaded %d users and %d groups in %.1f ms\n", MANY, MANY,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

    for (unsigned i = 0; i < MANY; i++) {
        char name[16];
        if (!wr_uidset_id_taken(s, MIN + 2 * i)) fail_msg("UID %u free", MIN + 2 * i);
        if (!wr_uidset_id_taken(s, MIN + 1 + 4 * i)) fail_msg("GID %u free", MIN + 1 + 4 * i);
        uid_t gap = MIN + 3 + 4 * i;
        if (wr_uidset_id_taken(s, gap) != wr_uid_is_reserved(gap)) fail_msg("%u wrong", gap);
        snprintf(name, sizeof name, "user%06u", i);
        if (!wr_uidset_name_taken(s, name)) fail_msg("%s free", name);
        snprintf(name, sizeof name, "grp%06u", i);
        if (!wr_uidset_name_taken(s, name)) fail_msg("%s free", name);
    }
    assert_false(wr_uidset_name_taken(s, "user100000"));
    assert_false(wr_uidset_name_taken(s, "grp100000"));
    assert_false(wr_uidset_id_taken(s, MIN + 2 * MANY));
    assert_false(wr_uidset_id_taken(s, BIG_MAX));
    wr_uidset_free(s);
}

/* --- the host, read only ------------------------------------------------------------------ */

static void host_etc_through_nss(void **state) {
    wr_uidset *s = NULL;
    wr_err e = WR_ERR_INIT;
    if (wr_uidset_load("/etc", 1, 200000, &s, &e) < 0) fail_msg("load /etc: %s", e.msg);
    assert_true(wr_uidset_name_taken(s, "root"));
    size_t n = 0;
    setpwent();
    for (struct passwd *pw; (pw = getpwent());) {
        if (!wr_uidset_name_taken(s, pw->pw_name)) fail_msg("user %s is free", pw->pw_name);
        if (pw->pw_uid >= 1 && pw->pw_uid <= 200000 && !wr_uidset_id_taken(s, pw->pw_uid))
            fail_msg("UID %u of %s is free", pw->pw_uid, pw->pw_name);
        n++;
    }
    endpwent();
    assert_true(n > 0);
    assert_false(wr_uidset_name_taken(s, "warren-no-such-account-9f3c"));
    wr_uidset_free(s);
}

static void no_fd_left_open(void **state) {
    int before = tl_count_fds();
    wr_uidset *s = load(MIN, MAX);
    append_file("passwd", "eve:x:60050:60050::/home/eve:/bin/sh\n");
    assert_int_equal(wr_uidset_refresh(s, NULL), 0);
    wr_uidset_note_added(s, 60060, "warren_x");
    wr_uidset_note_removed(s, 60060, "warren_x");
    wr_uidset_free(s);
    assert_int_equal(tl_count_fds(), before);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(reserved_holes),
        T(ids_from_passwd_and_group),
        T(names_of_users_and_groups),
        T(subordinate_ranges),
        T(refuses_bad_ranges_and_missing_files),
        T(refresh_sees_external_changes),
        T(note_added_is_not_mistaken_for_a_change),
        T(note_removed_frees_only_warrens_own),
        T(loads_100k_accounts),
        T(host_etc_through_nss),
        T(no_fd_left_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
