/* home.c: the users base, homes and sandboxes get the owners and modes the
 * isolation depends on, and nothing a tenant planted (links to the outside,
 * loosened modes, leftovers) is followed, taken over or handed on. Tenants
 * are plain numeric uids; no account is needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "home.h"
#include "testlib.h"
#include "util.h"

#define T_UID 59990
#define T_GID 59990
#define OTHER_UID 59991

typedef struct fixture {
    char dir[TL_SCRATCH_MAX];
    int fd;   /* the scratch directory */
    int base; /* base/ in it, root 0711 */
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->base = -1;
    *state = f;
    f->fd = tl_scratch_make(f->dir, sizeof f->dir, "home");
    if (f->fd < 0 || mkdirat(f->fd, "base", 0711) < 0) return -1;
    f->base = openat(f->fd, "base", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return f->base < 0 ? -1 : 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    close(f->base);
    close(f->fd);
    tl_scratch_remove(f->dir);
    free(f);
    return 0;
}

static void path_in(fixture *f, const char *rel, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", f->dir, rel);
}

static void expect_dir(int dfd, const char *name, uid_t uid, mode_t mode) {
    struct stat st;
    assert_int_equal(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_uid, uid);
    assert_int_equal(st.st_mode & 07777, mode);
}

static int entries(int dfd, const char *name) {
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    DIR *d = fdopendir(fd);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* An outside directory with one file: what a planted link points at. */
static void make_outside(fixture *f) {
    assert_int_equal(mkdirat(f->fd, "outside", 0755), 0);
    tl_write_at(f->fd, "outside/precious", "precious", 0644);
}

static void expect_outside_untouched(fixture *f) {
    expect_dir(f->fd, "outside", 0, 0755);
    assert_int_equal(entries(f->fd, "outside"), 1);
    struct stat st;
    assert_int_equal(fstatat(f->fd, "outside/precious", &st, 0), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_size, 8);
}

static int make_home(fixture *f, const char *name) {
    wr_err e = WR_ERR_INIT;
    int r = wr_home_create(f->base, name, T_UID, T_GID, &e);
    if (r < 0) print_error("%s\n", e.msg);
    assert_int_equal(r, 0);
    int fd = wr_home_open(f->base, name, T_UID, &e);
    assert_true(fd >= 0);
    return fd;
}

static void test_base_root_mode(void **state) {
    fixture *f = *state;
    char path[PATH_MAX];
    path_in(f, "x/y/users", path, sizeof path);
    /* Parents must be 0755 whatever the umask. */
    mode_t old = umask(077);
    wr_err e = WR_ERR_INIT;
    int fd = wr_users_base_open(path, true, &e);
    umask(old);
    if (fd < 0) print_error("%s\n", e.msg);
    assert_true(fd >= 0);
    close(fd);
    expect_dir(f->fd, "x", 0, 0755);
    expect_dir(f->fd, "x/y", 0, 0755);
    expect_dir(f->fd, "x/y/users", 0, 0711);

    /* An existing root-owned base with a loose mode is tightened. */
    assert_int_equal(fchmodat(f->fd, "x/y/users", 0755, 0), 0);
    fd = wr_users_base_open(path, true, &e);
    assert_true(fd >= 0);
    close(fd);
    expect_dir(f->fd, "x/y/users", 0, 0711);

    /* One owned by someone else is not taken over. */
    assert_int_equal(fchownat(f->fd, "x/y/users", T_UID, T_GID, 0), 0);
    assert_int_equal(wr_users_base_open(path, true, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    expect_dir(f->fd, "x/y/users", T_UID, 0711);

    wr_err_clear(&e);
    assert_int_equal(wr_users_base_open("relative/users", true, &e), -EINVAL);
    assert_int_equal(e.kind, WR_ERR_INVALID);
}

static void test_base_unsafe_parents(void **state) {
    fixture *f = *state;
    char path[PATH_MAX];
    wr_err e = WR_ERR_INIT;

    /* A parent a tenant owns could have the base swapped under it. */
    assert_int_equal(mkdirat(f->fd, "theirs", 0755), 0);
    assert_int_equal(fchownat(f->fd, "theirs", T_UID, T_GID, 0), 0);
    path_in(f, "theirs/users", path, sizeof path);
    assert_int_equal(wr_users_base_open(path, true, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    assert_int_equal(entries(f->fd, "theirs"), 0);

    wr_err_clear(&e);
    assert_int_equal(mkdirat(f->fd, "open", 0777), 0);
    assert_int_equal(fchmodat(f->fd, "open", 0777, 0), 0);
    path_in(f, "open/users", path, sizeof path);
    assert_int_equal(wr_users_base_open(path, true, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);

    /* A link on the path that a tenant owns. */
    wr_err_clear(&e);
    make_outside(f);
    assert_int_equal(symlinkat("outside", f->fd, "tlink"), 0);
    assert_int_equal(fchownat(f->fd, "tlink", T_UID, T_GID, AT_SYMLINK_NOFOLLOW), 0);
    path_in(f, "tlink/users", path, sizeof path);
    assert_int_equal(wr_users_base_open(path, true, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    expect_outside_untouched(f);
}

/* In a child, as the tenant: opens (creating) the base at path. */
static int child_base_open_as_tenant(void *path) {
    if (setresgid(T_GID, T_GID, T_GID) < 0 || setresuid(T_UID, T_UID, T_UID) < 0) return 2;
    wr_err e = WR_ERR_INIT;
    int fd = wr_users_base_open(path, false, &e);
    if (fd < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    return 0;
}

static void test_base_nonroot_mode(void **state) {
    fixture *f = *state;
    assert_int_equal(mkdirat(f->fd, "mine", 0700), 0);
    assert_int_equal(fchownat(f->fd, "mine", T_UID, T_GID, 0), 0);
    /* The tenant must be able to pass through the test directory. */
    assert_int_equal(fchmod(f->fd, 0711), 0);
    char path[PATH_MAX];
    path_in(f, "mine/a/users", path, sizeof path);
    tl_in_child(child_base_open_as_tenant, path);
    expect_dir(f->fd, "mine/a/users", T_UID, 0700);
}

static void test_home_create(void **state) {
    fixture *f = *state;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_home_create(f->base, "alice", T_UID, T_GID, &e), 0);
    expect_dir(f->base, "alice", T_UID, 0700);
    expect_dir(f->base, "alice/sandboxes", T_UID, 0700);
    expect_dir(f->base, "alice/.cache", T_UID, 0700);
    assert_int_equal(entries(f->base, "alice"), 2);
    struct stat st;
    assert_int_equal(fstatat(f->base, "alice/sandboxes", &st, 0), 0);
    assert_int_equal(st.st_gid, T_GID);

    assert_int_equal(wr_home_create(f->base, "../escape", T_UID, T_GID, &e), -EINVAL);
    assert_int_equal(e.kind, WR_ERR_INVALID);
    assert_int_equal(entries(f->fd, "."), 1);
}

static void test_home_leftover_refused(void **state) {
    fixture *f = *state;
    assert_int_equal(mkdirat(f->base, "bob", 0700), 0);
    assert_int_equal(fchownat(f->base, "bob", OTHER_UID, OTHER_UID, 0), 0);
    tl_write_at(f->base, "bob/old-secrets", "old", 0644);
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_home_create(f->base, "bob", T_UID, T_GID, &e), -EEXIST);
    assert_int_equal(e.kind, WR_ERR_EXISTS);
    assert_non_null(strstr(e.msg, "bob"));
    assert_non_null(strstr(e.msg, "leftover"));
    expect_dir(f->base, "bob", OTHER_UID, 0700);
    assert_int_equal(entries(f->base, "bob"), 1);
}

static void test_home_open(void **state) {
    fixture *f = *state;
    close(make_home(f, "carol"));
    wr_err e = WR_ERR_INIT;

    /* Loosened by the tenant: tightened again on open. */
    assert_int_equal(fchmodat(f->base, "carol", 0755, 0), 0);
    int fd = wr_home_open(f->base, "carol", T_UID, &e);
    assert_true(fd >= 0);
    close(fd);
    expect_dir(f->base, "carol", T_UID, 0700);

    assert_int_equal(wr_home_open(f->base, "carol", OTHER_UID, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);

    wr_err_clear(&e);
    assert_int_equal(wr_home_open(f->base, "nobody", T_UID, &e), -ENOENT);
    assert_int_equal(e.kind, WR_ERR_NOT_FOUND);

    /* A home that is a link is not followed. */
    make_outside(f);
    assert_int_equal(symlinkat("../outside", f->base, "dave"), 0);
    wr_err_clear(&e);
    assert_int_equal(wr_home_open(f->base, "dave", 0, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    expect_outside_untouched(f);
}

static void test_sandbox_open(void **state) {
    fixture *f = *state;
    int home = make_home(f, "erin");
    wr_err e = WR_ERR_INIT;
    int sb = wr_sandbox_open(home, "web", T_UID, T_GID, &e);
    assert_true(sb >= 0);
    expect_dir(home, "sandboxes/web", T_UID, 0700);
    struct stat a, b;
    assert_int_equal(fstat(sb, &a), 0);
    close(sb);
    /* Opening again gives the same directory. */
    sb = wr_sandbox_open(home, "web", T_UID, T_GID, &e);
    assert_true(sb >= 0);
    assert_int_equal(fstat(sb, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    close(sb);

    /* The tenant removed sandboxes/: it comes back, theirs and 0700. */
    assert_int_equal(unlinkat(home, "sandboxes/web", AT_REMOVEDIR), 0);
    assert_int_equal(unlinkat(home, "sandboxes", AT_REMOVEDIR), 0);
    sb = wr_sandbox_open(home, "api", T_UID, T_GID, &e);
    assert_true(sb >= 0);
    close(sb);
    expect_dir(home, "sandboxes", T_UID, 0700);
    expect_dir(home, "sandboxes/api", T_UID, 0700);

    /* Another uid's directory is not taken over. */
    assert_int_equal(mkdirat(home, "sandboxes/theirs", 0755), 0);
    assert_int_equal(fchownat(home, "sandboxes/theirs", OTHER_UID, OTHER_UID, 0), 0);
    assert_int_equal(wr_sandbox_open(home, "theirs", T_UID, T_GID, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    expect_dir(home, "sandboxes/theirs", OTHER_UID, 0755);

    static const char *const bad[] = {"", ".", "..", "a/b", "../erin"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        wr_err_clear(&e);
        assert_int_equal(wr_sandbox_open(home, bad[i], T_UID, T_GID, &e), -EINVAL);
        assert_int_equal(e.kind, WR_ERR_INVALID);
    }
    close(home);
}

static void test_sandbox_planted_links(void **state) {
    fixture *f = *state;
    make_outside(f);
    int home = make_home(f, "frank");
    char target[PATH_MAX];
    path_in(f, "outside", target, sizeof target);

    /* sandboxes/x -> /outside */
    assert_int_equal(symlinkat(target, home, "sandboxes/x"), 0);
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_sandbox_open(home, "x", T_UID, T_GID, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    assert_non_null(strstr(e.msg, "sandboxes/x"));
    assert_non_null(strstr(e.msg, "link"));
    expect_outside_untouched(f);

    /* sandboxes -> /outside */
    assert_int_equal(unlinkat(home, "sandboxes/x", 0), 0);
    assert_int_equal(unlinkat(home, "sandboxes", AT_REMOVEDIR), 0);
    assert_int_equal(symlinkat(target, home, "sandboxes"), 0);
    wr_err_clear(&e);
    assert_int_equal(wr_sandbox_open(home, "svc", T_UID, T_GID, &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    assert_non_null(strstr(e.msg, "sandboxes"));
    assert_non_null(strstr(e.msg, "link"));
    expect_outside_untouched(f);

    /* Counting does not follow it either: a link is not a sandbox. */
    uint64_t n = 99;
    assert_int_equal(wr_sandbox_count(home, &n, NULL), 0);
    assert_int_equal(n, 0);
    expect_outside_untouched(f);
    close(home);
}

static void test_sandbox_count(void **state) {
    fixture *f = *state;
    make_outside(f);
    int home = make_home(f, "gina");
    uint64_t n = 99;
    assert_int_equal(wr_sandbox_count(home, &n, NULL), 0);
    assert_int_equal(n, 0);
    close(wr_sandbox_open(home, "one", T_UID, T_GID, NULL));
    close(wr_sandbox_open(home, "two", T_UID, T_GID, NULL));
    tl_write_at(home, "sandboxes/file", "x", 0644);
    assert_int_equal(symlinkat("one", home, "sandboxes/link-to-one"), 0);
    assert_int_equal(symlinkat("../../../outside", home, "sandboxes/link-out"), 0);
    assert_int_equal(mkfifoat(home, "sandboxes/fifo", 0600), 0);
    assert_int_equal(wr_sandbox_count(home, &n, NULL), 0);
    assert_int_equal(n, 2);

    /* sandboxes/ itself a link to a directory full of directories: zero. */
    assert_int_equal(mkdirat(f->fd, "dirs", 0755), 0);
    assert_int_equal(mkdirat(f->fd, "dirs/a", 0755), 0);
    assert_int_equal(mkdirat(f->fd, "dirs/b", 0755), 0);
    assert_int_equal(renameat(home, "sandboxes", home, "sandboxes.real"), 0);
    assert_int_equal(symlinkat("../../dirs", home, "sandboxes"), 0);
    assert_int_equal(wr_sandbox_count(home, &n, NULL), 0);
    assert_int_equal(n, 0);
    close(home);
}

static void test_home_remove(void **state) {
    fixture *f = *state;
    make_outside(f);
    tl_write_at(f->fd, "outside-file", "secret", 0644);
    int home = make_home(f, "hank");
    char target[PATH_MAX];
    path_in(f, "outside", target, sizeof target);
    assert_int_equal(symlinkat(target, home, "sandboxes/x"), 0);
    assert_int_equal(linkat(f->fd, "outside-file", home, ".cache/hl", 0), 0);
    close(home);
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_home_remove(f->base, "hank", &e), 0);
    struct stat st;
    assert_int_equal(fstatat(f->base, "hank", &st, AT_SYMLINK_NOFOLLOW), -1);
    expect_outside_untouched(f);
    assert_int_equal(fstatat(f->fd, "outside-file", &st, 0), 0);
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(st.st_size, 6);
    assert_int_equal(wr_home_remove(f->base, "..", &e), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_base_root_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_unsafe_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_nonroot_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_leftover_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sandbox_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sandbox_planted_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sandbox_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_remove, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
