/* du.c: sizes agree with an independent count (nftw), hard links count once,
 * links are not followed, mounts are not entered, deep trees are walked with
 * few fds and truncated past WR_DU_MAX_DEPTH, deletions during the walk are
 * not errors, and 100,000 files are counted quickly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "du.h"
#include "testlib.h"
#include "util.h"

/* The scratch directory: its path (dir) and an fd on it (fd). The tree
 * measured is t/ in it. */
typedef tl_scratch fixture;

static int setup(void **state) {
    fixture *f = *state = tl_scratch_new("du");
    if (!f || mkdirat(f->fd, "t", 0755) < 0) return -1;
    return 0;
}

static int teardown(void **state) {
    tl_scratch_free(*state);
    return 0;
}

static int tree_open(fixture *f) {
    int fd = openat(f->fd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* Writes `size` bytes of non-zero data, synced so the block count is final. */
static void write_sized(int dfd, const char *name, size_t size) {
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char buf[8192];
    memset(buf, 'x', sizeof buf);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        done += n;
    }
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

/* The independent count: nftw without following links or leaving the
 * filesystem, each inode once. */
static struct {
    uint64_t bytes, inodes;
    dev_t dev[4096];
    ino_t ino[4096];
    size_t n;
} ref;

static int ref_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)path, (void)type, (void)ftw;
    for (size_t i = 0; i < ref.n; i++)
        if (ref.dev[i] == st->st_dev && ref.ino[i] == st->st_ino) return 0;
    if (ref.n < ELEMENTSOF(ref.ino)) {
        ref.dev[ref.n] = st->st_dev;
        ref.ino[ref.n++] = st->st_ino;
    }
    ref.bytes += (uint64_t)st->st_blocks * 512;
    ref.inodes++;
    return 0;
}

static void reference_usage(fixture *f, uint64_t *bytes, uint64_t *inodes) {
    memset(&ref, 0, sizeof ref);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/t", f->dir);
    assert_int_equal(nftw(path, ref_visit, 32, FTW_PHYS | FTW_MOUNT), 0);
    *bytes = ref.bytes;
    *inodes = ref.inodes;
}

static wr_usage usage_of(fixture *f) {
    int fd = tree_open(f);
    wr_usage u;
    memset(&u, 0xff, sizeof u);
    wr_err e = WR_ERR_INIT;
    int r = wr_disk_usage(fd, &u, &e);
    if (r < 0) print_error("%s\n", e.msg);
    assert_int_equal(r, 0);
    close(fd);
    return u;
}

static void make_sized_tree(fixture *f) {
    int t = tree_open(f);
    assert_int_equal(mkdirat(t, "a", 0755), 0);
    assert_int_equal(mkdirat(t, "a/b", 0755), 0);
    assert_int_equal(mkdirat(t, "c", 0755), 0);
    write_sized(t, "empty", 0);
    write_sized(t, "one", 1);
    write_sized(t, "a/page", 4096);
    write_sized(t, "a/b/odd", 100000);
    write_sized(t, "c/mib", 1 << 20);
    /* Sparse: 10 MiB long, a few blocks in use. */
    int fd = openat(t, "sparse", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 10 << 20), 0);
    assert_int_equal(pwrite(fd, "x", 1, 5 << 20), 1);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    close(t);
}

static void test_known_sizes(void **state) {
    fixture *f = *state;
    make_sized_tree(f);
    uint64_t bytes, inodes;
    reference_usage(f, &bytes, &inodes);
    wr_usage u = usage_of(f);
    assert_int_equal(u.bytes, bytes);
    assert_int_equal(u.inodes, inodes);
    assert_int_equal(u.inodes, 10); /* t, a, a/b, c and six files */
    assert_false(u.truncated);
    /* Blocks, not lengths: the sparse file counts a little, not 10 MiB. */
    assert_true(u.bytes >= (1 << 20) + 100000 + 4096);
    assert_true(u.bytes < (3 << 20));
}

static void test_hard_links_once(void **state) {
    fixture *f = *state;
    make_sized_tree(f);
    wr_usage before = usage_of(f);
    int t = tree_open(f);
    assert_int_equal(linkat(t, "c/mib", t, "a/mib-again", 0), 0);
    assert_int_equal(linkat(t, "c/mib", t, "a/b/mib-thrice", 0), 0);
    close(t);
    wr_usage after = usage_of(f);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.inodes, before.inodes);

    /* A hard link to a file outside still counts, once. */
    write_sized(f->fd, "outside", 64 * 1024);
    t = tree_open(f);
    assert_int_equal(linkat(f->fd, "outside", t, "in1", 0), 0);
    assert_int_equal(linkat(f->fd, "outside", t, "a/in2", 0), 0);
    close(t);
    struct stat st;
    assert_int_equal(fstatat(f->fd, "outside", &st, 0), 0);
    wr_usage linked = usage_of(f);
    assert_int_equal(linked.bytes, before.bytes + (uint64_t)st.st_blocks * 512);
    assert_int_equal(linked.inodes, before.inodes + 1);

    uint64_t bytes, inodes;
    reference_usage(f, &bytes, &inodes);
    assert_int_equal(linked.bytes, bytes);
    assert_int_equal(linked.inodes, inodes);
}

static void test_links_not_followed(void **state) {
    fixture *f = *state;
    write_sized(f->fd, "big", 8 << 20);
    assert_int_equal(mkdirat(f->fd, "bigdir", 0755), 0);
    write_sized(f->fd, "bigdir/inner", 4 << 20);
    wr_usage before = usage_of(f);

    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/big", f->dir);
    int t = tree_open(f);
    assert_int_equal(symlinkat(target, t, "to-big"), 0);
    assert_int_equal(symlinkat("../bigdir", t, "to-dir"), 0);
    close(t);
    wr_usage after = usage_of(f);
    assert_int_equal(after.inodes, before.inodes + 2);
    assert_true(after.bytes - before.bytes <= 2 * 4096);

    uint64_t bytes, inodes;
    reference_usage(f, &bytes, &inodes);
    assert_int_equal(after.bytes, bytes);
    assert_int_equal(after.inodes, inodes);
}

/* A chain of `depth` directories below t, with a file at the bottom. */
static void make_chain(fixture *f, int depth) {
    int cur = tree_open(f);
    for (int i = 0; i < depth; i++) {
        assert_int_equal(mkdirat(cur, "d", 0755), 0);
        int next = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(next >= 0);
        close(cur);
        cur = next;
    }
    write_sized(cur, "bottom", 1);
    close(cur);
}

static void test_deep_tree_few_fds(void **state) {
    fixture *f = *state;
    make_chain(f, 1000);
    /* Far fewer fds than levels. */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    wr_usage u = usage_of(f);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_false(u.truncated);
    assert_int_equal(u.inodes, 1 + 1000 + 1);
}

static void test_too_deep_truncated(void **state) {
    fixture *f = *state;
    make_chain(f, WR_DU_MAX_DEPTH + 5);
    wr_usage u = usage_of(f);
    assert_true(u.truncated);
    /* The top, every directory down to depth MAX + 1 (seen from its parent,
     * not entered), and nothing below. */
    assert_int_equal(u.inodes, 1 + WR_DU_MAX_DEPTH + 1);
}

enum { DEL_DIRS = 10, DEL_FILES = 500 };

static void test_deleted_during_walk(void **state) {
    fixture *f = *state;
    int t = tree_open(f);
    for (int d = 0; d < DEL_DIRS; d++) {
        char name[32];
        snprintf(name, sizeof name, "d%d", d);
        assert_int_equal(mkdirat(t, name, 0755), 0);
        for (int i = 0; i < DEL_FILES; i++) {
            snprintf(name, sizeof name, "d%d/f%d", d, i);
            int fd = openat(t, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            assert_true(fd >= 0);
            close(fd);
        }
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The deleter: files, then their directories. */
        for (int d = 0; d < DEL_DIRS; d++) {
            char name[32];
            for (int i = 0; i < DEL_FILES; i++) {
                snprintf(name, sizeof name, "d%d/f%d", d, i);
                unlinkat(t, name, 0);
            }
            snprintf(name, sizeof name, "d%d", d);
            unlinkat(t, name, AT_REMOVEDIR);
        }
        _exit(0);
    }
    int walks = 0;
    for (;;) {
        wr_usage u;
        wr_err e = WR_ERR_INIT;
        int r = wr_disk_usage(t, &u, &e);
        if (r < 0) print_error("walk %d: %s\n", walks, e.msg);
        assert_int_equal(r, 0);
        assert_true(u.inodes >= 1);
        walks++;
        if (waitpid(pid, NULL, WNOHANG) == pid) break;
    }
    print_message("# %d walks while a deleter ran\n", walks);
    wr_usage u;
    assert_int_equal(wr_disk_usage(t, &u, NULL), 0);
    assert_int_equal(u.inodes, 1);
    close(t);
}

typedef struct mounts_case {
    fixture *f;
    wr_usage before; /* the tree before anything is mounted in it */
} mounts_case;

static int child_mounts_not_entered(void *arg) {
    const mounts_case *c = arg;
    fixture *f = c->f;
    wr_usage before = c->before;
    CHILD_CHECK(unshare(CLONE_NEWNS) == 0);
    CHILD_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
    char p[PATH_MAX], q[PATH_MAX];
    snprintf(p, sizeof p, "%s/t/tmp", f->dir);
    CHILD_CHECK(mkdir(p, 0755) == 0);
    CHILD_CHECK(mount("tmpfs", p, "tmpfs", 0, "size=4m") == 0);
    snprintf(q, sizeof q, "%s/src", f->dir);
    CHILD_CHECK(mkdir(q, 0755) == 0);
    snprintf(p, sizeof p, "%s/t/bind", f->dir);
    CHILD_CHECK(mkdir(p, 0755) == 0);
    CHILD_CHECK(mount(q, p, NULL, MS_BIND, NULL) == 0);
    /* Opened after unshare, so lookups see the new mounts. */
    int t = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHILD_CHECK(t >= 0);
    int big = openat(t, "t/tmp/big", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHILD_CHECK(big >= 0);
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 512; i++)
        CHILD_CHECK(write(big, buf, sizeof buf) == sizeof buf);
    close(big);
    big = openat(t, "src/big", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHILD_CHECK(big >= 0);
    for (int i = 0; i < 512; i++)
        CHILD_CHECK(write(big, buf, sizeof buf) == sizeof buf);
    CHILD_CHECK(fsync(big) == 0);
    close(big);
    int tree = openat(t, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    wr_usage u;
    CHILD_CHECK(wr_disk_usage(tree, &u, NULL) == 0);
    /* The tmpfs mount point is another device: not counted at all. The
     * bind mount point is the same device: the directory counts, its
     * contents (2 MiB) do not. */
    CHILD_CHECK(u.inodes == before.inodes + 1);
    CHILD_CHECK(u.bytes <= before.bytes + 4096);
    return 0;
}

static void test_mounts_not_entered(void **state) {
    fixture *f = *state;
    mounts_case c = {f, usage_of(f)};
    tl_in_child(child_mounts_not_entered, &c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_known_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hard_links_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_tree_few_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_deep_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_during_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mounts_not_entered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
