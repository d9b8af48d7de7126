/* fs.c: lookups beneath a directory (openat2 and the fallback walk must give
 * the same answers), taking over directories, and removing trees a tenant
 * has booby-trapped. Every test works in its own mkdtemp() directory; tests
 * that mount do so in a forked child with a private mount namespace. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "fs.h"
#include "testlib.h"
#include "util.h"

#define T_UID 59990
#define T_GID 59990
#define OTHER_UID 59992

/* The scratch directory: its path (dir) and an fd on it (fd). */
typedef tl_scratch fixture;

static int setup(void **state) {
    *state = tl_scratch_new("fs");
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    wr_fs_force_fallback(false);
    /* Removed by a spawned rm, not wr_remove_tree: cleanup must not depend on
     * the code under test. */
    tl_scratch_free(*state);
    return 0;
}

static void read_at(int dfd, const char *name, char *buf, size_t n) {
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t r = read(fd, buf, n - 1);
    assert_true(r >= 0);
    buf[r] = '\0';
    close(fd);
}

static bool exists_at(int dfd, const char *name) {
    struct stat st;
    return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A tree with the usual traps:
 *   a/b/file            "hello"
 *   a/link -> b         relative link to a directory
 *   a/b/flink -> file   link to a file
 *   etc -> /etc         absolute link out
 *   dangling -> nowhere */
static void make_lookup_tree(fixture *f) {
    assert_int_equal(mkdirat(f->fd, "a", 0755), 0);
    assert_int_equal(mkdirat(f->fd, "a/b", 0755), 0);
    tl_write_at(f->fd, "a/b/file", "hello", 0644);
    assert_int_equal(symlinkat("b", f->fd, "a/link"), 0);
    assert_int_equal(symlinkat("file", f->fd, "a/b/flink"), 0);
    assert_int_equal(symlinkat("/etc", f->fd, "etc"), 0);
    assert_int_equal(symlinkat("nowhere", f->fd, "dangling"), 0);
}

typedef struct lookup_case {
    const char *path;
    int flags;
    int expect; /* 0: success, else the negative errno */
} lookup_case;

static const lookup_case lookup_cases[] = {
    {"a/b/file", O_RDONLY, 0},
    {"a/./b//file", O_RDONLY, 0},
    {"a/b/../b/file", O_RDONLY, 0},
    {".", O_RDONLY | O_DIRECTORY, 0},
    {"a/b/", O_RDONLY, 0},
    {"a/..", O_RDONLY, 0},
    {"a/link/file", O_RDONLY, -ELOOP},
    {"a/link", O_RDONLY, -ELOOP},
    {"a/b/flink", O_RDONLY, -ELOOP},
    {"a/b/flink", O_RDONLY | O_NOFOLLOW, -ELOOP},
    {"a/b/flink", O_PATH | O_NOFOLLOW, 0},
    {"a/b/flink", O_PATH, -ELOOP},
    {"etc/passwd", O_RDONLY, -ELOOP},
    {"etc", O_RDONLY | O_DIRECTORY, -ELOOP},
    {"dangling", O_WRONLY | O_CREAT, -ELOOP},
    {"dangling", O_WRONLY | O_CREAT | O_EXCL, -EEXIST},
    {"..", O_RDONLY, -EXDEV},
    {"../etc", O_RDONLY, -EXDEV},
    {"a/../../x", O_RDONLY, -EXDEV},
    {"a/b/../../..", O_RDONLY, -EXDEV},
    {"/etc/passwd", O_RDONLY, -EXDEV},
    {"/", O_RDONLY, -EXDEV},
    {"", O_RDONLY, -ENOENT},
    {"missing/x", O_RDONLY, -ENOENT},
    {"a/b/file/x", O_RDONLY, -ENOTDIR},
    {"a/b/file/", O_RDONLY, -ENOTDIR},
    {"a/b/new", O_WRONLY | O_CREAT | O_EXCL, 0},
    {"a/b/../../a/b/file", O_RDONLY, 0},
    {"a/../a/../..", O_RDONLY, -EXDEV},
    {"a/link/", O_RDONLY, -ELOOP},
    {"a/b/", O_WRONLY | O_CREAT, -EISDIR},
};

static void run_lookup_cases(fixture *f, bool fallback) {
    int fds = tl_count_fds();
    wr_fs_force_fallback(fallback);
    for (size_t i = 0; i < ELEMENTSOF(lookup_cases); i++) {
        const lookup_case *c = &lookup_cases[i];
        /* O_CREAT cases create; start each from the same state. */
        (void)unlinkat(f->fd, "a/b/new", 0);
        int r = wr_open_beneath(f->fd, c->path, c->flags, 0600);
        if ((r < 0 ? r : 0) != c->expect)
            print_error("%s: \"%s\" flags %#x: got %d, expected %d\n",
                        fallback ? "fallback" : "openat2", c->path, (unsigned)c->flags, r,
                        c->expect);
        assert_int_equal(r < 0 ? r : 0, c->expect);
        if (r >= 0) {
            assert_true(fcntl(r, F_GETFD) & FD_CLOEXEC);
            close(r);
        }
    }
    wr_fs_force_fallback(false);
    assert_int_equal(tl_count_fds(), fds);
}

static void test_open_beneath_openat2(void **state) {
    fixture *f = *state;
    make_lookup_tree(f);
    run_lookup_cases(f, false);
}

static void test_open_beneath_fallback(void **state) {
    fixture *f = *state;
    make_lookup_tree(f);
    run_lookup_cases(f, true);
}

static void check_reads_hello(fixture *f, bool fallback) {
    wr_fs_force_fallback(fallback);
    int fd = wr_open_beneath(f->fd, "a/b/../b/file", O_RDONLY, 0);
    assert_true(fd >= 0);
    char buf[16] = {0};
    assert_int_equal(read(fd, buf, sizeof buf - 1), 5);
    assert_string_equal(buf, "hello");
    close(fd);
    /* A created file lands where it should, with the mode asked for. */
    fd = wr_open_beneath(f->fd, "a/b/made", O_WRONLY | O_CREAT | O_EXCL, 0640);
    assert_true(fd >= 0);
    close(fd);
    struct stat st;
    assert_int_equal(fstatat(f->fd, "a/b/made", &st, 0), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(unlinkat(f->fd, "a/b/made", 0), 0);
    wr_fs_force_fallback(false);
}

static void test_open_beneath_content(void **state) {
    fixture *f = *state;
    make_lookup_tree(f);
    check_reads_hello(f, false);
    check_reads_hello(f, true);
}

/* In a private mount namespace: a tmpfs and a bind mount of the same
 * filesystem inside the tree; neither may be crossed, by either path. */
static int child_open_mounts(void *arg) {
    fixture *f = arg;
    CHILD_CHECK(unshare(CLONE_NEWNS) == 0);
    CHILD_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
    CHILD_CHECK(mkdirat(f->fd, "tmp", 0755) == 0);
    CHILD_CHECK(mkdirat(f->fd, "bind", 0755) == 0);
    CHILD_CHECK(mkdirat(f->fd, "src", 0755) == 0);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/tmp", f->dir);
    CHILD_CHECK(mount("tmpfs", p, "tmpfs", 0, "size=1m") == 0);
    char q[PATH_MAX];
    snprintf(q, sizeof q, "%s/src", f->dir);
    snprintf(p, sizeof p, "%s/bind", f->dir);
    CHILD_CHECK(mount(q, p, NULL, MS_BIND, NULL) == 0);
    int t = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHILD_CHECK(t >= 0);
    CHILD_CHECK(mkdirat(t, "tmp/d", 0755) == 0);
    CHILD_CHECK(mkdirat(t, "bind/d", 0755) == 0);
    for (int fb = 0; fb < 2; fb++) {
        wr_fs_force_fallback(fb);
        CHILD_CHECK(wr_open_beneath(t, "tmp/d", O_RDONLY, 0) == -EXDEV);
        CHILD_CHECK(wr_open_beneath(t, "tmp", O_RDONLY, 0) == -EXDEV);
        CHILD_CHECK(wr_open_beneath(t, "bind/d", O_RDONLY, 0) == -EXDEV);
        CHILD_CHECK(wr_open_beneath(t, "bind", O_RDONLY, 0) == -EXDEV);
        int fd = wr_open_beneath(t, "src/d", O_RDONLY, 0);
        CHILD_CHECK(fd >= 0);
        close(fd);
    }
    return 0;
}

static void test_open_beneath_mounts(void **state) {
    tl_in_child(child_open_mounts, *state);
}

static void test_mkdir_owned_new(void **state) {
    fixture *f = *state;
    wr_err e = WR_ERR_INIT;
    int fd = wr_mkdir_owned(f->fd, "new", 0750, T_UID, T_GID + 1, "test dir", &e);
    assert_true(fd >= 0);
    assert_int_equal(e.kind, WR_ERR_NONE);
    struct stat st, fst;
    assert_int_equal(fstatat(f->fd, "new", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_uid, T_UID);
    assert_int_equal(st.st_gid, T_GID + 1);
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_int_equal(fstat(fd, &fst), 0);
    assert_int_equal(fst.st_ino, st.st_ino);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
}

static void test_mkdir_owned_existing(void **state) {
    fixture *f = *state;
    /* The tenant's own directory, loosened: accepted and tightened. */
    assert_int_equal(mkdirat(f->fd, "mine", 0777), 0);
    assert_int_equal(fchownat(f->fd, "mine", T_UID, T_GID, 0), 0);
    assert_int_equal(fchmodat(f->fd, "mine", 0777, 0), 0);
    tl_write_at(f->fd, "mine/keep", "data", 0644);
    wr_err e = WR_ERR_INIT;
    int fd = wr_mkdir_owned(f->fd, "mine", 0700, T_UID, T_GID, "test dir", &e);
    assert_true(fd >= 0);
    close(fd);
    struct stat st;
    assert_int_equal(fstatat(f->fd, "mine", &st, 0), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(st.st_uid, T_UID);
    assert_true(exists_at(f->fd, "mine/keep"));

    /* Root's directory is handed over. */
    assert_int_equal(mkdirat(f->fd, "roots", 0755), 0);
    fd = wr_mkdir_owned(f->fd, "roots", 0700, T_UID, T_GID, "test dir", &e);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fstatat(f->fd, "roots", &st, 0), 0);
    assert_int_equal(st.st_uid, T_UID);
    assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_mkdir_owned_other_owner(void **state) {
    fixture *f = *state;
    assert_int_equal(mkdirat(f->fd, "theirs", 0755), 0);
    assert_int_equal(fchownat(f->fd, "theirs", OTHER_UID, OTHER_UID, 0), 0);
    wr_err e = WR_ERR_INIT;
    int r = wr_mkdir_owned(f->fd, "theirs", 0700, T_UID, T_GID, "the sandbox", &e);
    assert_int_equal(r, -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    assert_non_null(strstr(e.msg, "the sandbox"));
    struct stat st;
    assert_int_equal(fstatat(f->fd, "theirs", &st, 0), 0);
    assert_int_equal(st.st_uid, OTHER_UID);
    assert_int_equal(st.st_mode & 07777, 0755);
}

static void test_mkdir_owned_planted(void **state) {
    fixture *f = *state;
    assert_int_equal(mkdirat(f->fd, "outside", 0755), 0);
    assert_int_equal(mkdirat(f->fd, "home", 0700), 0);
    assert_int_equal(symlinkat("../outside", f->fd, "home/x"), 0);
    tl_write_at(f->fd, "home/file", "not a dir", 0644);
    int home = openat(f->fd, "home", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(home >= 0);

    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_mkdir_owned(home, "x", 0700, T_UID, T_GID, "sandbox x", &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    assert_non_null(strstr(e.msg, "sandbox x"));
    assert_non_null(strstr(e.msg, "link"));

    wr_err_clear(&e);
    assert_int_equal(wr_mkdir_owned(home, "file", 0700, T_UID, T_GID, "sandbox file", &e), -EPERM);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    assert_non_null(strstr(e.msg, "sandbox file"));

    /* The link's target kept its owner and mode. */
    struct stat st;
    assert_int_equal(fstatat(f->fd, "outside", &st, 0), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_true(exists_at(home, "x"));

    wr_err_clear(&e);
    assert_int_equal(wr_mkdir_owned(home, "../outside", 0700, T_UID, T_GID, "bad", &e), -EINVAL);
    assert_int_equal(e.kind, WR_ERR_INVALID);
    assert_int_equal(wr_mkdir_owned(home, "..", 0700, T_UID, T_GID, "bad", NULL), -EINVAL);
    assert_int_equal(wr_mkdir_owned(home, "", 0700, T_UID, T_GID, "bad", NULL), -EINVAL);
    close(home);
}

static void test_remove_tree_plain(void **state) {
    fixture *f = *state;
    assert_int_equal(mkdirat(f->fd, "t", 0755), 0);
    assert_int_equal(mkdirat(f->fd, "t/d1", 0755), 0);
    assert_int_equal(mkdirat(f->fd, "t/d1/d2", 0000), 0);
    tl_write_at(f->fd, "t/f", "x", 0644);
    tl_write_at(f->fd, "t/d1/f", "x", 0644);
    assert_int_equal(mkfifoat(f->fd, "t/d1/fifo", 0600), 0);
    assert_int_equal(symlinkat("d1", f->fd, "t/l"), 0);
    tl_write_at(f->fd, "sibling", "stay", 0644);
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_remove_tree(f->fd, "t", &e), 0);
    assert_false(exists_at(f->fd, "t"));
    assert_true(exists_at(f->fd, "sibling"));
    /* Missing is success; a bad name is not. */
    assert_int_equal(wr_remove_tree(f->fd, "t", &e), 0);
    assert_int_equal(wr_remove_tree(f->fd, "../x", &e), -EINVAL);
    assert_int_equal(e.kind, WR_ERR_INVALID);
}

static void test_remove_tree_planted_links(void **state) {
    fixture *f = *state;
    assert_int_equal(mkdirat(f->fd, "outside", 0755), 0);
    tl_write_at(f->fd, "outside/precious", "precious", 0644);
    tl_write_at(f->fd, "outside-file", "secret", 0644);
    assert_int_equal(mkdirat(f->fd, "t", 0755), 0);
    assert_int_equal(mkdirat(f->fd, "t/sub", 0755), 0);
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/outside", f->dir);
    assert_int_equal(symlinkat(target, f->fd, "t/sub/abs"), 0);
    assert_int_equal(symlinkat("../../outside", f->fd, "t/sub/rel"), 0);
    assert_int_equal(symlinkat("../outside-file", f->fd, "t/flink"), 0);
    assert_int_equal(linkat(f->fd, "outside-file", f->fd, "t/sub/hardlink", 0), 0);
    /* The top itself a link to the outside. */
    assert_int_equal(symlinkat("outside", f->fd, "top-link"), 0);

    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_remove_tree(f->fd, "t", &e), 0);
    assert_int_equal(wr_remove_tree(f->fd, "top-link", &e), 0);
    assert_false(exists_at(f->fd, "t"));
    assert_false(exists_at(f->fd, "top-link"));

    char buf[32];
    read_at(f->fd, "outside/precious", buf, sizeof buf);
    assert_string_equal(buf, "precious");
    read_at(f->fd, "outside-file", buf, sizeof buf);
    assert_string_equal(buf, "secret");
    struct stat st;
    assert_int_equal(fstatat(f->fd, "outside-file", &st, 0), 0);
    assert_int_equal(st.st_nlink, 1);
}

static void test_remove_tree_deep(void **state) {
    fixture *f = *state;
    enum { DEPTH = 5000 };
    assert_int_equal(mkdirat(f->fd, "deep", 0755), 0);
    int cur = openat(f->fd, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cur >= 0);
    for (int i = 0; i < DEPTH; i++) {
        assert_int_equal(mkdirat(cur, "d", 0755), 0);
        if (i % 1000 == 0) tl_write_at(cur, "f", "x", 0644);
        int next = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(next >= 0);
        close(cur);
        cur = next;
    }
    tl_write_at(cur, "bottom", "x", 0644);
    close(cur);

    /* Under the usual soft limit, so that holding one fd per level fails. */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    if (low.rlim_cur > 1024) low.rlim_cur = 1024;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds = tl_count_fds();
    wr_err e = WR_ERR_INIT;
    int r = wr_remove_tree(f->fd, "deep", &e);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (r < 0) print_error("%s\n", e.msg);
    assert_int_equal(r, 0);
    assert_false(exists_at(f->fd, "deep"));
    assert_int_equal(tl_count_fds(), fds);
    /* Nothing moved out of the tree: the parent holds nothing new. */
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        assert_true(de->d_name[0] == '.');
    closedir(d);
}

/* In a private mount namespace: a tmpfs mounted below the tree stops the
 * removal, and nothing on it is touched. */
static int child_remove_mount(void *arg) {
    fixture *f = arg;
    CHILD_CHECK(unshare(CLONE_NEWNS) == 0);
    CHILD_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
    CHILD_CHECK(mkdirat(f->fd, "t", 0755) == 0);
    CHILD_CHECK(mkdirat(f->fd, "t/a", 0755) == 0);
    CHILD_CHECK(mkdirat(f->fd, "t/a/mnt", 0755) == 0);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/t/a/mnt", f->dir);
    CHILD_CHECK(mount("tmpfs", p, "tmpfs", 0, "size=1m") == 0);
    /* Reopened: an fd from before unshare() walks the old mount tree. */
    int t = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHILD_CHECK(t >= 0);
    int m = openat(t, "t/a/mnt", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHILD_CHECK(m >= 0);
    struct statfs sfs;
    CHILD_CHECK(fstatfs(m, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC);
    CHILD_CHECK(mkdirat(m, "sub", 0755) == 0);
    int fd = openat(m, "sub/data", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHILD_CHECK(fd >= 0 && write(fd, "tmpfs", 5) == 5);
    close(fd);

    wr_err e = WR_ERR_INIT;
    int r = wr_remove_tree(t, "t", &e);
    CHILD_CHECK(r == -EPERM);
    CHILD_CHECK(e.kind == WR_ERR_UNSAFE);
    CHILD_CHECK(strstr(e.msg, "mount") != NULL);
    struct stat st;
    CHILD_CHECK(fstatat(m, "sub/data", &st, 0) == 0 && st.st_size == 5);
    CHILD_CHECK(fstatat(t, "t/a/mnt/sub", &st, 0) == 0);
    close(m);
    CHILD_CHECK(umount(p) == 0);
    close(t);
    return 0;
}

static void test_remove_tree_mount(void **state) {
    tl_in_child(child_remove_mount, *state);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_beneath_openat2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_beneath_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_beneath_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_beneath_mounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_owned_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_owned_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_owned_other_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_owned_planted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_tree_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_tree_planted_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_tree_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_tree_mount, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
