/* offboard.c: what a UID leaves outside its home, removed. Files in scratch
 * directories standing in for /tmp and friends, SysV objects in an IPC
 * namespace of this test's own, keyrings of a UID nothing on the host uses
 * (emptied again by the code under test). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/keyctl.h>
#include <cmocka.h>

#include "offboard.h"
#include "testlib.h"

#define U 3960001u
#define OTHER 3960002u

static tl_scratch *s;

static int setup(void **state) {
    (void)state;
    if (geteuid() != 0) return 0;
    s = tl_scratch_new("offboard");
    if (!s) return -1;
    fchmod(s->fd, 0755);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tl_scratch_free(s);
    return 0;
}

static void path(char *buf, size_t n, const char *rel) {
    snprintf(buf, n, "%s/%s", s->dir, rel);
}

static void mk(const char *rel, uid_t uid, mode_t mode, bool dir) {
    char p[1024];
    path(p, sizeof p, rel);
    if (dir)
        assert_int_equal(mkdir(p, mode), 0);
    else
        tl_write_at(AT_FDCWD, p, "x", mode);
    assert_int_equal(lchown(p, uid, uid), 0);
    if (dir) assert_int_equal(chmod(p, mode), 0);
}

static bool exists(const char *rel) {
    char p[1024];
    struct stat st;
    path(p, sizeof p, rel);
    return lstat(p, &st) == 0;
}

static void files(void **state) {
    (void)state;
    if (geteuid() != 0) skip();
    mk("tmp", 0, 01777, true);
    mk("shm", 0, 01777, true);
    mk("tmp/mine", U, 0644, false);
    mk("tmp/mydir", U, 0755, true);
    mk("tmp/mydir/sub", U, 0755, true);
    mk("tmp/mydir/sub/f", U, 0644, false);
    mk("tmp/mydir/others", OTHER, 0644, false); /* goes with the tenant's directory */
    mk("tmp/theirs", OTHER, 0644, false);
    mk("tmp/shared", 0, 01777, true);
    mk("tmp/shared/mine", U, 0644, false);
    mk("tmp/shared/theirs", OTHER, 0644, false);
    mk("shm/seg", U, 0600, false);
    mk("victim", 0, 0644, false);
    /* The tenant's links: removed, never followed. */
    char p[1024], target[1024];
    path(target, sizeof target, "victim");
    path(p, sizeof p, "tmp/link");
    assert_int_equal(symlink(target, p), 0);
    assert_int_equal(lchown(p, U, U), 0);
    path(p, sizeof p, "tmp/dirlink");
    assert_int_equal(symlink(s->dir, p), 0);
    assert_int_equal(lchown(p, U, U), 0);
    /* A link of someone else's to a directory of the tenant's elsewhere:
     * not followed, so that directory stays. */
    mk("elsewhere", U, 0755, true);
    path(target, sizeof target, "elsewhere");
    path(p, sizeof p, "tmp/theirlink");
    assert_int_equal(symlink(target, p), 0);
    /* A filesystem mounted inside: not entered. */
    mk("tmp/mnt", 0, 0755, true);
    path(p, sizeof p, "tmp/mnt");
    bool mounted = unshare(CLONE_NEWNS) == 0 &&
                   mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
                   mount("tmpfs", p, "tmpfs", 0, "mode=0755") == 0;
    if (mounted) mk("tmp/mnt/mine", U, 0644, false);
    /* The users base is never entered. */
    mk("tmp/users", 0, 0711, true);
    mk("tmp/users/home", U, 0700, true);

    char d1[1024], d2[1024], base[1024];
    path(d1, sizeof d1, "tmp");
    path(d2, sizeof d2, "shm");
    path(base, sizeof base, "tmp/users");
    const char *dirs[] = {d1, d2, "/nonexistent-dir", NULL};
    int basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(basefd >= 0);
    wr_offboard_report rep = {0};
    wr_err e = WR_ERR_INIT;
    int fds = tl_count_fds();
    assert_int_equal(wr_offboard_files(U, U, dirs, basefd, &rep, &e), 0);
    assert_int_equal(tl_count_fds(), fds);
    close(basefd);
    assert_false(rep.left_behind);
    assert_false(exists("tmp/mine"));
    assert_false(exists("tmp/mydir"));
    assert_false(exists("tmp/shared/mine"));
    assert_false(exists("shm/seg"));
    assert_false(exists("tmp/link"));
    assert_false(exists("tmp/dirlink"));
    assert_true(exists("victim"));
    assert_true(exists("elsewhere"));
    assert_true(exists("tmp/theirlink"));
    assert_true(exists("tmp/theirs"));
    assert_true(exists("tmp/shared/theirs"));
    assert_true(exists("tmp/users/home"));
    assert_int_equal(rep.files, 6);
    if (mounted) {
        assert_true(exists("tmp/mnt/mine"));
        path(p, sizeof p, "tmp/mnt");
        umount2(p, MNT_DETACH);
    }

    /* Root's and nobody's: refused. */
    wr_err bad = WR_ERR_INIT;
    assert_int_equal(wr_offboard_files(0, 0, dirs, -1, &rep, &bad), -EINVAL);
    assert_int_equal(bad.kind, WR_ERR_INVALID);
}

static void too_deep(void **state) {
    (void)state;
    if (geteuid() != 0) skip();
    mk("deep", 0, 01777, true);
    char rel[4096] = "deep";
    for (int i = 0; i < WR_OFFBOARD_MAX_DEPTH + 2; i++) {
        strcat(rel, "/d");
        mk(rel, OTHER, 0777, true);
    }
    strcat(rel, "/mine");
    mk(rel, U, 0644, false);
    char d[1024];
    path(d, sizeof d, "deep");
    const char *dirs[] = {d, NULL};
    wr_offboard_report rep = {0};
    assert_int_equal(wr_offboard_files(U, U, dirs, -1, &rep, NULL), 0);
    assert_true(rep.left_behind); /* not searched that deep: said so */
    assert_non_null(strstr(rep.what_left, "too deep"));
}

/* In a child as uid: makes one SysV object of each kind; exits 0 if all. */
static int make_ipc(void *arg) {
    uid_t uid = *(uid_t *)arg;
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
        return 1;
    if (shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) < 0) return 2;
    if (semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) < 0) return 3;
    if (msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0) return 4;
    return 0;
}

/* In a child as uid: a segment it makes and then gives to OTHER (IPC_SET). */
static int make_given_shm(void *arg) {
    uid_t uid = *(uid_t *)arg;
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
        return 1;
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    struct shmid_ds ds;
    if (id < 0 || shmctl(id, IPC_STAT, &ds) < 0) return 2;
    ds.shm_perm.uid = OTHER;
    return shmctl(id, IPC_SET, &ds) < 0 ? 3 : 0;
}

/* Rows of a /proc/sysvipc file whose `column` (uid, cuid) is id. */
static int count_ipc(const char *file, const char *column, uid_t id) {
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    char line[512];
    int col = -1, n = 0;
    for (bool header = true; fgets(line, sizeof line, f); header = false) {
        int i = 0;
        char *save;
        for (char *tok = strtok_r(line, " \t\n", &save); tok;
             tok = strtok_r(NULL, " \t\n", &save), i++) {
            if (header && !strcmp(tok, column)) col = i;
            if (!header && i == col && strtoul(tok, NULL, 10) == id) n++;
        }
    }
    fclose(f);
    assert_true(col >= 0);
    return n;
}

static void ipc(void **state) {
    (void)state;
    if (geteuid() != 0) skip();
    /* An IPC namespace of our own: the host's objects are not ours to see. */
    assert_int_equal(unshare(CLONE_NEWIPC), 0);
    uid_t u = U, other = OTHER;
    tl_in_child(make_ipc, &u);
    tl_in_child(make_ipc, &u);
    tl_in_child(make_given_shm, &u); /* created by U, owned by OTHER: still U's */
    tl_in_child(make_ipc, &other);
    /* Root's, given to U: U's now. */
    int given = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    assert_true(given >= 0);
    struct shmid_ds ds;
    assert_int_equal(shmctl(given, IPC_STAT, &ds), 0);
    ds.shm_perm.uid = U;
    assert_int_equal(shmctl(given, IPC_SET, &ds), 0);
    assert_int_equal(count_ipc("/proc/sysvipc/shm", "cuid", U), 3);

    wr_offboard_report rep = {0};
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_offboard_ipc(U, U, &rep, &e), 0);
    assert_int_equal(rep.ipc, 8);
    assert_false(rep.left_behind);
    static const char *const files[] = {"/proc/sysvipc/shm", "/proc/sysvipc/sem",
                                        "/proc/sysvipc/msg"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(count_ipc(files[i], "uid", U), 0);
        assert_int_equal(count_ipc(files[i], "cuid", U), 0);
        assert_int_equal(count_ipc(files[i], "uid", OTHER), 1); /* the other user's stay */
    }
    /* Again: nothing left to do. */
    rep = (wr_offboard_report){0};
    assert_int_equal(wr_offboard_ipc(U, U, &rep, &e), 0);
    assert_int_equal(rep.ipc, 0);
}

static long keyctl(int op, unsigned long a, unsigned long b, unsigned long c) {
    return syscall(SYS_keyctl, op, a, b, c, 0);
}

/* In a child as uid: a key in its user keyring; exits 0 if added. */
static int add_key_as(void *arg) {
    uid_t uid = *(uid_t *)arg;
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
        return 1;
    long id =
        syscall(SYS_add_key, "user", "offboard-test", "secret", 6, (long)KEY_SPEC_USER_KEYRING);
    return id < 0 ? 2 : 0;
}

/* In a child as uid: exits 0 if the key is not found in its user keyring. */
static int key_gone_as(void *arg) {
    uid_t uid = *(uid_t *)arg;
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
        return 1;
    long id = keyctl(KEYCTL_SEARCH, (unsigned long)KEY_SPEC_USER_KEYRING, (unsigned long)"user",
                     (unsigned long)"offboard-test");
    return id < 0 && errno == ENOKEY ? 0 : 2;
}

static void keyrings(void **state) {
    (void)state;
    if (geteuid() != 0) skip();
    uid_t u = U;
    tl_in_child(add_key_as, &u);
    wr_offboard_report rep = {0};
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_offboard_keyrings(U, U, &rep, &e), 0);
    assert_false(rep.left_behind);
    assert_true(rep.keys >= 2); /* user and user-session keyrings */
    tl_in_child(key_gone_as, &u);
    /* The lookup just now made fresh keyrings: clean up after ourselves. */
    rep = (wr_offboard_report){0};
    assert_int_equal(wr_offboard_keyrings(U, U, &rep, &e), 0);
    assert_false(rep.left_behind);
    wr_err bad = WR_ERR_INIT;
    assert_int_equal(wr_offboard_keyrings(0, 0, &rep, &bad), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(files),
        cmocka_unit_test(too_deep),
        cmocka_unit_test(ipc),
        cmocka_unit_test(keyrings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
