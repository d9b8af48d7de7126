/* Storage backends through the library: btrfs homes (a loop-mounted image in
 * a mount namespace of this test's own) with limits the kernel enforces and
 * read-only snapshots, and the dir backend's accounting against the quota
 * registry. Account files are in a scratch directory (config.etc_dir). */
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "quota.h"
#include "storage.h"
#include "tenant.h"
#include "testlib.h"

#define UID_LO 3950001u

static char top[TL_SCRATCH_MAX];
static char mnt[TL_SCRATCH_MAX + 16];
static bool have_btrfs;
static wr_config cfg;

static int run(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int setup(void **state) {
    (void)state;
    if (geteuid() != 0) return 0;
    /* Our own mount namespace: the image's mount is seen by nobody else and
     * goes when the test ends. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        fprintf(stderr, "mount namespace: %s\n", strerror(errno));
        return -1;
    }
    int fd = tl_scratch_make(top, sizeof top, "storage");
    if (fd < 0) return -1;
    /* Tenants write in their homes below it. */
    fchmod(fd, 0755);
    close(fd);
    wr_config_defaults(&cfg, NULL);
    cfg.root_mode = true;
    snprintf(cfg.etc_dir, sizeof cfg.etc_dir, "%s/etc", top);
    snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s/state", top);
    cfg.uid_min = UID_LO;
    cfg.uid_max = UID_LO + 99;
    tl_write_root_etc(cfg.etc_dir);
    snprintf(mnt, sizeof mnt, "%s/btrfs", top);
    char cmd[8 * TL_SCRATCH_MAX];
    snprintf(cmd, sizeof cmd,
             "command -v mkfs.btrfs >/dev/null && grep -qw btrfs /proc/filesystems && "
             "truncate -s 300M %s/img && mkfs.btrfs -q %s/img >/dev/null && mkdir %s && "
             "mount -o loop %s/img %s",
             top, top, mnt, top, mnt);
    have_btrfs = run(cmd) == 0;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (geteuid() != 0) return 0;
    if (have_btrfs) umount2(mnt, MNT_DETACH);
    return tl_scratch_remove(top);
}

static warren *open_on(const char *base) {
    snprintf(cfg.users_base, sizeof cfg.users_base, "%s/%s", top, base);
    warren *w;
    wr_err e = WR_ERR_INIT;
    if (wr_open(&cfg, &w, &e) < 0) fail_msg("wr_open: %s", e.msg);
    return w;
}

/* Writes `mb` MiB to path as uid in a child; returns 0 or the errno that
 * stopped it. */
static int write_as(uid_t uid, const char *path, int mb) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
            _exit(200);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) _exit(errno);
        static char buf[1 << 20];
        memset(buf, 'x', sizeof buf);
        for (int i = 0; i < mb; i++)
            for (size_t off = 0; off < sizeof buf;) {
                ssize_t n = write(fd, buf + off, sizeof buf - off);
                if (n < 0) _exit(errno);
                off += (size_t)n; /* a short write: the next one says why */
            }
        _exit(fsync(fd) < 0 ? errno : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *slurp(const char *path) {
    static char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void btrfs_snapshot(void **state) {
    (void)state;
    if (!have_btrfs) skip();
    warren *w = open_on("btrfs/users");
    wr_tenant t;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_tenant_create(w, "snap@example.com", &t, &e), 0);
    assert_string_equal(wr_storage_backend_name(w, &t), "btrfs");
    char data[1024];
    snprintf(data, sizeof data, "%s/sandboxes/data", t.home_dir);
    tl_write_at(AT_FDCWD, data, "v1", 0600);
    assert_int_equal(chown(data, t.uid, t.gid), 0);

    char *snap = NULL;
    assert_int_equal(wr_storage_snapshot(w, &t, &snap, &e), 0);
    struct stat st;
    assert_int_equal(stat(snap, &st), 0);
    assert_int_equal(st.st_ino, 256); /* a subvolume of its own */
    char p[2048];
    snprintf(p, sizeof p, "%s/..", snap);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 0); /* the snapshot directory is root's alone */
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(p, sizeof p, "%s/sandboxes/data", snap);
    assert_string_equal(slurp(p), "v1");
    tl_write_at(AT_FDCWD, data, "v2", 0600); /* the home moves on */
    assert_string_equal(slurp(p), "v1");     /* the snapshot does not */
    snprintf(p, sizeof p, "%s/new", snap);
    assert_int_equal(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), -1);
    assert_int_equal(errno, EROFS);

    wr_err e2 = WR_ERR_INIT;
    assert_int_equal(wr_storage_snapshot_remove(w, t.home_dir, &e2), -EINVAL);
    assert_int_equal(wr_storage_snapshot_remove(w, "/etc", NULL), -EINVAL);
    assert_int_equal(wr_storage_snapshot_remove(w, snap, &e), 0);
    assert_int_equal(stat(snap, &st), -1);
    free(snap);

    /* A snapshot left behind (say, by a crash) goes with the tenant. */
    assert_int_equal(wr_storage_snapshot(w, &t, &snap, &e), 0);
    assert_int_equal(wr_tenant_delete(w, "snap@example.com", false, &e), 0);
    assert_int_equal(stat(snap, &st), -1);
    assert_int_equal(stat(t.home_dir, &st), -1);
    free(snap);
    wr_close(w);
}

static void btrfs_limit(void **state) {
    (void)state;
    if (!have_btrfs) skip();
    warren *w = open_on("btrfs/users");
    wr_tenant t;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_tenant_create(w, "full@example.com", &t, &e), 0);
    assert_int_equal(wr_storage_set_quota(w, &t, 8 << 20, -1, &e), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/sandboxes/big", t.home_dir);
    assert_int_equal(write_as(t.uid, path, 32), EDQUOT);
    sync();
    uint64_t bytes = 0, inodes = 0;
    assert_int_equal(wr_storage_usage(w, &t, &bytes, &inodes, &e), 0);
    assert_true(bytes > (4u << 20) && bytes <= (9u << 20));
    assert_true(inodes >= 4); /* home, sandboxes, .cache, big */
    /* Lifted: the same write goes through. */
    assert_int_equal(wr_storage_set_quota(w, &t, INT64_MAX, -1, &e), 0);
    assert_int_equal(write_as(t.uid, path, 32), 0);
    wr_err bad = WR_ERR_INIT;
    assert_int_equal(wr_storage_set_quota(w, &t, -5, -1, &bad), -EINVAL);
    assert_int_equal(wr_tenant_delete(w, "full@example.com", false, &e), 0);
    wr_close(w);
}

static void dir_backend(void **state) {
    (void)state;
    if (geteuid() != 0) skip();
    setenv("WARREN_STORAGE", "dir", 1);
    warren *w = open_on(have_btrfs ? "btrfs/dir-users" : "dir-users");
    wr_tenant t;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_tenant_create(w, "dora@example.com", &t, &e), 0);
    assert_string_equal(wr_storage_backend_name(w, &t), "dir");
    struct stat st;
    assert_int_equal(stat(t.home_dir, &st), 0);
    assert_int_not_equal(st.st_ino, 256);

    wr_quota q;
    wr_quota_init(&q);
    q.storage = 1 << 20;
    assert_int_equal(wr_quota_set(w, "dora@example.com", &q, NULL, &e), 0);
    bool over = true;
    assert_int_equal(wr_storage_over_quota(w, &t, &over, &e), 0);
    assert_false(over);
    assert_int_equal(wr_storage_check_run(w, &t, &e), 0);

    char path[1024];
    snprintf(path, sizeof path, "%s/sandboxes/fill", t.home_dir);
    assert_int_equal(write_as(t.uid, path, 2), 0); /* nothing stops it */
    assert_int_equal(wr_storage_over_quota(w, &t, &over, &e), 0);
    assert_true(over);
    wr_err refused = WR_ERR_INIT;
    assert_int_equal(wr_storage_check_run(w, &t, &refused), -EDQUOT);
    assert_int_equal(refused.kind, WR_ERR_LIMIT);
    assert_non_null(strstr(refused.msg, "over its storage quota"));
    char *snap = NULL;
    assert_int_equal(wr_storage_snapshot(w, &t, &snap, NULL), -EOPNOTSUPP);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(wr_storage_over_quota(w, &t, &over, &e), 0);
    assert_false(over);
    assert_int_equal(wr_tenant_delete(w, "dora@example.com", false, &e), 0);
    wr_close(w);
    unsetenv("WARREN_STORAGE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(btrfs_snapshot),
        cmocka_unit_test(btrfs_limit),
        cmocka_unit_test(dir_backend),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
