/* landlock.c: what a confined process can and cannot reach. Every check runs
 * in a forked child (a Landlock domain cannot be left), as root with
 * no_new_privs, against directories below the test's own mkdtemp()
 * directory:
 *   rw/     a WRITE rule    (holds a/ and b/, a copy of true)
 *   ro/     a READ rule     (holds file)
 *   other/  no rule         (holds file and a copy of true)
 * plus READ on the system directories, DEVICE on /dev/null and READ on
 * /dev/zero. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "landlock.h"
#include "testlib.h"
#include "util.h"

#define T_UID 59980
#define T_GID 59980

/* --- fixture ----------------------------------------------------------------- */

typedef struct fixture {
    tl_scratch *s;
    char rw[TL_SCRATCH_MAX + 16], ro[TL_SCRATCH_MAX + 16], other[TL_SCRATCH_MAX + 16];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->s = tl_scratch_new("landlock");
    if (!f->s) {
        free(f);
        return -1;
    }
    int dfd = f->s->fd;
    snprintf(f->rw, sizeof f->rw, "%s/rw", f->s->dir);
    snprintf(f->ro, sizeof f->ro, "%s/ro", f->s->dir);
    snprintf(f->other, sizeof f->other, "%s/other", f->s->dir);
    assert_int_equal(mkdirat(dfd, "rw", 0755), 0);
    assert_int_equal(mkdirat(dfd, "rw/a", 0755), 0);
    assert_int_equal(mkdirat(dfd, "rw/b", 0755), 0);
    assert_int_equal(mkdirat(dfd, "ro", 0755), 0);
    assert_int_equal(mkdirat(dfd, "other", 0755), 0);
    tl_write_at(dfd, "ro/file", "read only\n", 0644);
    tl_write_at(dfd, "other/file", "no rule\n", 0644);
    tl_copy_file("/bin/true", dfd, "other/true", 0755);
    tl_copy_file("/bin/true", dfd, "rw/true", 0755);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    tl_scratch_free(f->s);
    free(f);
    return 0;
}

/* --- helpers for children ---------------------------------------------------- */

static int add_path(int ruleset, const char *path, wr_landlock_access access, int abi) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -errno; /* /lib32 and the like may not exist */
    int r = wr_landlock_allow(ruleset, fd, access, abi);
    close(fd);
    return r;
}

/* Confines the calling child as the strong level would, with the fixture's
 * directories; returns the ABI. Exits 1 on any failure. */
static int confine(const fixture *f) {
    int abi = 0;
    wr_err e = WR_ERR_INIT;
    int rs = wr_landlock_ruleset(&abi, &e);
    if (rs < 0) {
        fprintf(stderr, "%s\n", e.msg);
        _exit(1);
    }
    static const char *const system_dirs[] = {"/usr",   "/bin",   "/sbin",   "/lib",
                                              "/lib64", "/lib32", "/libx32", "/etc"};
    for (size_t i = 0; i < ELEMENTSOF(system_dirs); i++)
        CHILD_CHECK(add_path(rs, system_dirs[i], WR_LANDLOCK_READ, abi) == 0);
    CHILD_CHECK(add_path(rs, f->ro, WR_LANDLOCK_READ, abi) == 0);
    CHILD_CHECK(add_path(rs, f->rw, WR_LANDLOCK_WRITE, abi) == 0);
    CHILD_CHECK(add_path(rs, "/dev/null", WR_LANDLOCK_DEVICE, abi) == 0);
    /* A device with a READ rule: read, but no write and no device ioctls. */
    CHILD_CHECK(add_path(rs, "/dev/zero", WR_LANDLOCK_READ, abi) == 0);
    CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHILD_CHECK(wr_landlock_enforce(rs) == 0);
    close(rs);
    return abi;
}

/* open() as a result: an fd (closed again) gives 0, a failure -errno. */
static int try_open(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}

static int try_open_at(const char *dir, const char *name, int flags) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return try_open(p, flags);
}

static int neg_errno(int r) {
    return r < 0 ? -errno : r;
}

/* --- the kernel and the uapi values ------------------------------------------ */

static void test_abi(void **state) {
    (void)state;
    int abi = wr_landlock_abi();
    print_message("# Landlock ABI %d\n", abi);
    assert_true(abi >= 1);

    int got = 0;
    wr_err e = WR_ERR_INIT;
    int rs = wr_landlock_ruleset(&got, &e);
    assert_true(rs >= 0);
    assert_int_equal(got, abi);
    assert_int_equal(e.kind, WR_ERR_NONE);
    /* Ruleset fds never leak into an exec'd program. */
    assert_true(fcntl(rs, F_GETFD) & FD_CLOEXEC);
    close(rs);
}

/* The uapi values landlock.c writes out, checked here against the running
 * kernel: each right of the ABI is accepted, the next bit is refused. The
 * values are restated here on purpose, as the documented uapi. */
struct t_ruleset_attr {
    uint64_t fs, net, scoped;
};

static long t_create(uint64_t fs, uint64_t net, uint64_t scoped, size_t size) {
    struct t_ruleset_attr a = {fs, net, scoped};
    long fd = syscall(444, &a, size, 0U);
    if (fd >= 0) close((int)fd);
    return fd >= 0 ? 0 : -errno;
}

static int restrict_flags_child(void *arg) {
    (void)arg;
    struct t_ruleset_attr a = {UINT64_C(1) << 2 /* READ_FILE */, 0, 0};
    long rs = syscall(444, &a, sizeof a.fs, 0U);
    CHILD_CHECK(rs >= 0);
    /* ABI 7: an unknown restrict_self flag is refused, the three logging
     * flags (LOG_SAME_EXEC_OFF 1<<0, LOG_NEW_EXEC_ON 1<<1, LOG_SUBDOMAINS_OFF
     * 1<<2) are taken; LOG_SUBDOMAINS_OFF alone even without a ruleset. */
    CHILD_CHECK(syscall(446, (int)rs, 1U << 3) < 0 && errno == EINVAL);
    CHILD_CHECK(syscall(446, -1, 1U << 2) == 0);
    CHILD_CHECK(syscall(446, (int)rs, (1U << 0) | (1U << 1)) == 0);
    return 0;
}

static void test_uapi_values(void **state) {
    (void)state;
    int abi = wr_landlock_abi();
    assert_true(abi >= 1);
    uint64_t fs_bits = abi >= 5 ? 16 : abi >= 3 ? 15 : abi >= 2 ? 14 : 13;
    uint64_t fs = (UINT64_C(1) << fs_bits) - 1;
    size_t size = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
    assert_int_equal(t_create(fs, 0, 0, size), 0);
    if (abi > 7) {
        print_message("# ABI %d: newer than the values this test knows; checked up to 7\n", abi);
        return;
    }
    assert_int_equal(t_create(fs | (UINT64_C(1) << fs_bits), 0, 0, size), -EINVAL);
    if (abi >= 4) {
        /* BIND_TCP 1<<0, CONNECT_TCP 1<<1 */
        assert_int_equal(t_create(fs, 3, 0, size), 0);
        assert_int_equal(t_create(fs, 4, 0, size), -EINVAL);
    }
    if (abi >= 6) {
        /* ABSTRACT_UNIX_SOCKET 1<<0, SIGNAL 1<<1 */
        assert_int_equal(t_create(fs, 0, 3, size), 0);
        assert_int_equal(t_create(fs, 0, 4, size), -EINVAL);
    }
    if (abi >= 7) tl_in_child(restrict_flags_child, NULL);
}

/* --- the filesystem ---------------------------------------------------------- */

static int fs_child(void *arg) {
    const fixture *f = arg;
    int abi = confine(f);
    char p[PATH_MAX], q[PATH_MAX];

    /* Read-only places: read, list, nothing more. */
    CHILD_CHECK(try_open("/etc/hostname", O_RDONLY) == 0);
    CHILD_CHECK(try_open("/etc/passwd", O_RDONLY) == 0);
    CHILD_CHECK(try_open_at(f->ro, "file", O_RDONLY) == 0);
    CHILD_CHECK(try_open(f->ro, O_RDONLY | O_DIRECTORY) == 0);
    CHILD_CHECK(try_open_at(f->ro, "file", O_WRONLY) == -EACCES);
    CHILD_CHECK(try_open_at(f->ro, "new", O_WRONLY | O_CREAT) == -EACCES);
    snprintf(p, sizeof p, "%s/file", f->ro);
    CHILD_CHECK(neg_errno(unlink(p)) == -EACCES);
    if (abi >= 3) CHILD_CHECK(neg_errno(truncate(p, 0)) == -EACCES);
    snprintf(p, sizeof p, "%s/dir", f->ro);
    CHILD_CHECK(neg_errno(mkdir(p, 0755)) == -EACCES);
    CHILD_CHECK(try_open("/etc/passwd", O_WRONLY) == -EACCES);

    /* Places without a rule: nothing at all. */
    CHILD_CHECK(try_open_at(f->other, "file", O_RDONLY) == -EACCES);
    CHILD_CHECK(try_open_at(f->other, "file", O_WRONLY) == -EACCES);
    CHILD_CHECK(try_open_at(f->other, "new", O_WRONLY | O_CREAT) == -EACCES);
    CHILD_CHECK(try_open(f->other, O_RDONLY | O_DIRECTORY) == -EACCES);
    CHILD_CHECK(try_open("/root", O_RDONLY | O_DIRECTORY) == -EACCES);
    CHILD_CHECK(try_open("/proc/self/status", O_RDONLY) == -EACCES);

    /* The writable place: create, write, truncate, link, rename, remove. */
    snprintf(p, sizeof p, "%s/a/new", f->rw);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(write(fd, "x", 1) == 1);
    CHILD_CHECK(ftruncate(fd, 0) == 0);
    close(fd);
    CHILD_CHECK(truncate(p, 0) == 0);
    CHILD_CHECK(try_open(p, O_WRONLY | O_TRUNC) == 0);
    snprintf(q, sizeof q, "%s/b/moved", f->rw);
    CHILD_CHECK(rename(p, q) == 0); /* to another directory: needs REFER */
    snprintf(p, sizeof p, "%s/a/hard", f->rw);
    CHILD_CHECK(link(q, p) == 0);
    CHILD_CHECK(unlink(p) == 0);
    snprintf(p, sizeof p, "%s/a/sym", f->rw);
    CHILD_CHECK(symlink("moved", p) == 0);
    CHILD_CHECK(unlink(p) == 0);
    snprintf(p, sizeof p, "%s/a/fifo", f->rw);
    CHILD_CHECK(mkfifo(p, 0600) == 0);
    CHILD_CHECK(unlink(p) == 0);
    snprintf(p, sizeof p, "%s/a/dir", f->rw);
    CHILD_CHECK(mkdir(p, 0755) == 0);
    CHILD_CHECK(rmdir(p) == 0);
    /* Nothing leaves it for a place that is not writable. */
    snprintf(p, sizeof p, "%s/moved", f->ro);
    int r = neg_errno(rename(q, p));
    CHILD_CHECK(r == -EACCES || r == -EXDEV);
    snprintf(p, sizeof p, "%s/moved", f->other);
    r = neg_errno(link(q, p));
    CHILD_CHECK(r == -EACCES || r == -EXDEV);
    CHILD_CHECK(unlink(q) == 0);

    /* Devices: /dev/null read and write; /dev/zero read only and without
     * device ioctls; /dev/full not at all. */
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(write(fd, "x", 1) == 1);
    struct termios t;
    CHILD_CHECK(neg_errno(ioctl(fd, TCGETS, &t)) == -ENOTTY); /* allowed, just not a tty */
    close(fd);
    fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    char c = 1;
    CHILD_CHECK(read(fd, &c, 1) == 1 && c == 0);
    if (abi >= 5) CHILD_CHECK(neg_errno(ioctl(fd, TCGETS, &t)) == -EACCES);
    close(fd);
    CHILD_CHECK(try_open("/dev/zero", O_WRONLY) == -EACCES);
    CHILD_CHECK(try_open("/dev/full", O_RDWR) == -EACCES);
    return 0;
}

static void test_fs_rules(void **state) {
    tl_in_child(fs_child, *state);
}

/* Runs path in a grandchild; its exit status, or -errno when execve failed. */
static int run(const char *path) {
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) return -errno;
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        char *const argv[] = {(char *)path, NULL};
        char *const envp[] = {NULL};
        execve(path, argv, envp);
        int err = errno;
        (void)!write(pfd[1], &err, sizeof err);
        _exit(127);
    }
    close(pfd[1]);
    int err = 0;
    ssize_t n = read(pfd[0], &err, sizeof err);
    close(pfd[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid) return -errno;
    if (n == (ssize_t)sizeof err) return -err;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int exec_child(void *arg) {
    const fixture *f = arg;
    confine(f);
    char p[PATH_MAX];
    CHILD_CHECK(run("/bin/true") == 0);
    CHILD_CHECK(run("/usr/bin/true") == 0);
    snprintf(p, sizeof p, "%s/true", f->rw);
    CHILD_CHECK(run(p) == 0);
    snprintf(p, sizeof p, "%s/true", f->other);
    CHILD_CHECK(run(p) == -EACCES);
    return 0;
}

static void test_exec(void **state) {
    fixture *f = *state;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/true", f->other);
    assert_int_equal(run(p), 0); /* unconfined, the same copy runs */
    tl_in_child(exec_child, f);
}

/* uid 0 with every capability, CAP_DAC_OVERRIDE included, is still held. */
static bool have_cap(int cap) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    if (syscall(SYS_capget, &h, d) < 0) return false;
    return d[cap / 32].effective & (1U << (cap % 32));
}

static int root_child(void *arg) {
    const fixture *f = arg;
    /* Unconfined, root reaches everything, through any mode bits. */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/secret", f->other);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    CHILD_CHECK(fd >= 0);
    close(fd);
    CHILD_CHECK(try_open(p, O_RDWR) == 0);

    confine(f);
    CHILD_CHECK(getuid() == 0 && geteuid() == 0);
    CHILD_CHECK(have_cap(CAP_DAC_OVERRIDE) && have_cap(CAP_SYS_ADMIN));
    CHILD_CHECK(try_open(p, O_RDONLY) == -EACCES);
    CHILD_CHECK(neg_errno(unlink(p)) == -EACCES);
    CHILD_CHECK(neg_errno(chdir(f->other)) == 0); /* chdir is not restricted */
    CHILD_CHECK(try_open("file", O_RDONLY) == -EACCES);
    return 0;
}

static void test_root_not_exempt(void **state) {
    tl_in_child(root_child, *state);
}

/* --- scopes (ABI 6) ---------------------------------------------------------- */

struct signal_arg {
    const fixture *f;
    pid_t outside; /* a process outside any domain */
};

static int signal_child(void *arg) {
    const struct signal_arg *sa = arg;
    pid_t outside = sa->outside;
    confine(sa->f);
    /* Signals are not scoped (landlock.c says why): a process outside the
     * domain, the parent too, is reached as far as the uid allows. */
    CHILD_CHECK(kill(outside, 0) == 0);
    CHILD_CHECK(kill(getppid(), 0) == 0);
    /* And inside its own domain. */
    CHILD_CHECK(kill(getpid(), 0) == 0);
    pid_t inside = fork();
    CHILD_CHECK(inside >= 0);
    if (inside == 0) {
        pause();
        _exit(0);
    }
    CHILD_CHECK(kill(inside, SIGKILL) == 0);
    int status;
    CHILD_CHECK(waitpid(inside, &status, 0) == inside);
    CHILD_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return 0;
}

static void test_signals_not_scoped(void **state) {
    if (wr_landlock_abi() < 6) skip();
    struct signal_arg arg = {.f = *state};
    fflush(NULL);
    arg.outside = fork();
    assert_true(arg.outside >= 0);
    if (arg.outside == 0) {
        pause();
        _exit(0);
    }
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(signal_child(&arg));
    int child_status, status;
    assert_int_equal(waitpid(child, &child_status, 0), child);
    /* The outside process is still there, untouched by the child; it is
     * reaped before any assert can leave it behind. */
    int alive = kill(arg.outside, 0);
    assert_int_equal(kill(arg.outside, SIGKILL), 0);
    assert_int_equal(waitpid(arg.outside, &status, 0), arg.outside);
    assert_true(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0);
    assert_int_equal(alive, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag, pid_t pid) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "warren-test-landlock-%s-%d", tag,
                     (int)pid);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static int unix_child(void *arg) {
    const fixture *f = arg;
    confine(f);
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, "out", getppid());
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHILD_CHECK(s >= 0);
    CHILD_CHECK(neg_errno(connect(s, (struct sockaddr *)&a, len)) == -EPERM);
    close(s);

    /* A socket bound inside the domain is reachable. */
    len = abstract_addr(&a, "in", getpid());
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHILD_CHECK(l >= 0);
    CHILD_CHECK(bind(l, (struct sockaddr *)&a, len) == 0);
    CHILD_CHECK(listen(l, 1) == 0);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHILD_CHECK(s >= 0);
    CHILD_CHECK(connect(s, (struct sockaddr *)&a, len) == 0);
    close(s);
    close(l);
    return 0;
}

static void test_scope_abstract_unix(void **state) {
    if (wr_landlock_abi() < 6) skip();
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, "out", getpid());
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&a, len), 0);
    assert_int_equal(listen(l, 4), 0);
    /* Unconfined, it connects. */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_int_equal(connect(s, (struct sockaddr *)&a, len), 0);
    close(s);
    tl_in_child(unix_child, *state);
    close(l);
}

/* --- enforcing --------------------------------------------------------------- */

static int nnp_child(void *arg) {
    (void)arg;
    int abi = 0;
    int rs = wr_landlock_ruleset(&abi, NULL);
    CHILD_CHECK(rs >= 0);
    CHILD_CHECK(setgroups(0, NULL) == 0);
    CHILD_CHECK(setresgid(T_GID, T_GID, T_GID) == 0);
    CHILD_CHECK(setresuid(T_UID, T_UID, T_UID) == 0);
    CHILD_CHECK(!have_cap(CAP_SYS_ADMIN));
    CHILD_CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
    /* Neither no_new_privs nor CAP_SYS_ADMIN: refused. */
    CHILD_CHECK(wr_landlock_enforce(rs) == -EPERM);
    CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHILD_CHECK(wr_landlock_enforce(rs) == 0);
    /* Enforced: with no rule, not even /etc is readable. */
    CHILD_CHECK(try_open("/etc/passwd", O_RDONLY) == -EACCES);
    close(rs);
    return 0;
}

static void test_enforce_needs_nnp(void **state) {
    (void)state;
    tl_in_child(nnp_child, NULL);
}

static void test_allow_arguments(void **state) {
    fixture *f = *state;
    int abi = 0;
    int rs = wr_landlock_ruleset(&abi, NULL);
    assert_true(rs >= 0);
    int dir = open(f->rw, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir >= 0);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/file", f->ro);
    int file = open(p, O_PATH | O_CLOEXEC);
    assert_true(file >= 0);

    /* Every access on a directory and on a plain file: the file rule keeps
     * only the rights a file can have, so none is refused. */
    for (int a = WR_LANDLOCK_READ; a <= WR_LANDLOCK_DEVICE; a++) {
        assert_int_equal(wr_landlock_allow(rs, dir, (wr_landlock_access)a, abi), 0);
        assert_int_equal(wr_landlock_allow(rs, file, (wr_landlock_access)a, abi), 0);
    }
    assert_int_equal(wr_landlock_allow(rs, dir, (wr_landlock_access)42, abi), -EINVAL);
    assert_int_equal(wr_landlock_allow(rs, -1, WR_LANDLOCK_READ, abi), -EBADF);
    /* Not a ruleset: an O_PATH fd is no fd at all to the kernel, another is
     * the wrong kind. */
    assert_int_equal(wr_landlock_allow(dir, dir, WR_LANDLOCK_READ, abi), -EBADF);
    assert_int_equal(wr_landlock_allow(f->s->fd, dir, WR_LANDLOCK_READ, abi), -EBADFD);
    assert_int_equal(wr_landlock_enforce(-1), -EBADF);
    close(file);
    close(dir);
    close(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi),
        cmocka_unit_test(test_uapi_values),
        cmocka_unit_test(test_fs_rules),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_root_not_exempt),
        cmocka_unit_test(test_signals_not_scoped),
        cmocka_unit_test(test_scope_abstract_unix),
        cmocka_unit_test(test_enforce_needs_nnp),
        cmocka_unit_test(test_allow_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
