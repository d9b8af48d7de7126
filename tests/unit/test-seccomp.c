/* seccomp.c: the strong level's system-call filter, loaded for real. Every
 * scenario runs in a forked child that makes itself undumpable, sets
 * no_new_privs, loads the filter and then tries things, reporting through its
 * exit status (CHILD_CHECK) or a pipe. Calls the filter must refuse are made
 * with arguments that would do nothing to the host if the filter let them
 * through (a missing path, a bad fd, the child's own namespaces), so that a
 * broken filter fails a test and harms nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "seccomp.h"
#include "testlib.h"
#include "util.h"

extern char **environ;

/* Built once by the group setup. */
static wr_seccomp *plain;  /* the kernel answers refusals */
static wr_seccomp *notify; /* refusals go to a listener */

/* A path that exists nowhere, for calls that must fail harmlessly. */
#define NOWHERE "/nonexistent-warren-seccomp-test"

/* --- children ---------------------------------------------------------------- */

/* In a forked child: no core file when the filter kills it (core_pattern may
 * name the working directory), no_new_privs, then the filter. Returns the
 * listener fd (notify) or 0. */
static int enter_filter(const wr_seccomp *f) {
    struct rlimit none = {0, 0};
    CHILD_CHECK(setrlimit(RLIMIT_CORE, &none) == 0);
    CHILD_CHECK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0);
    CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    alarm(60); /* a hang (a call the filter broke) ends the child, also after execve */
    int r = wr_seccomp_load(f);
    if (r < 0) {
        fprintf(stderr, "wr_seccomp_load: %s\n", strerror(-r));
        _exit(90);
    }
    return r;
}

/* Runs fn(arg) in a forked child under f; returns the wait status. */
static int run_filtered_status(const wr_seccomp *f, int (*fn)(void *), void *arg) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        enter_filter(f);
        _exit(fn(arg));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_exit0(int status) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        print_error("child status: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void run_filtered(const wr_seccomp *f, int (*fn)(void *), void *arg) {
    assert_exit0(run_filtered_status(f, fn, arg));
}

/* In a child: the call returns -1 with errno err. */
#define CHILD_ERRNO(call, err)                                                                     \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(call);                                                                    \
        if (r_ != -1 || errno != (err)) {                                                          \
            fprintf(stderr, "line %d: %s returned %ld, errno %s; wanted %s\n", __LINE__, #call,    \
                    r_, strerrorname_np(errno) ? strerrorname_np(errno) : "0",                     \
                    strerrorname_np(err));                                                         \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

/* --- fd passing -------------------------------------------------------------- */

static int send_fd(int sock, int fd) {
    char byte = 'f';
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* --- setup ------------------------------------------------------------------- */

static int group_setup(void **state) {
    wr_err e = WR_ERR_INIT;
    if (wr_seccomp_build(false, &plain, &e) < 0 || wr_seccomp_build(true, &notify, &e) < 0) {
        print_error("wr_seccomp_build: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    wr_seccomp_free(plain);
    wr_seccomp_free(notify);
    return 0;
}

static void test_build_free(void **state) {
    for (int n = 0; n < 2; n++) {
        wr_err e = WR_ERR_INIT;
        wr_seccomp *f = NULL;
        int fds = tl_count_fds();
        assert_int_equal(wr_seccomp_build(n, &f, &e), 0);
        assert_non_null(f);
        assert_int_equal(e.kind, WR_ERR_NONE);
        assert_int_equal(tl_count_fds(), fds); /* the export memfd is closed */
        wr_seccomp_free(f);
    }
    wr_seccomp_free(NULL);
}

/* --- what is allowed ---------------------------------------------------------- */

static int child_basics(void *arg) {
    CHILD_CHECK(getpid() > 1);
    CHILD_CHECK(getppid() > 0);

    /* files */
    char path[] = "/tmp/warren-seccomp-XXXXXX";
    int fd = mkstemp(path);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(write(fd, "hello", 5) == 5);
    CHILD_CHECK(lseek(fd, 0, SEEK_SET) == 0);
    char buf[16] = {0};
    CHILD_CHECK(read(fd, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    struct statx stx;
    CHILD_CHECK(statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx) == 0 && stx.stx_size == 5);
    CHILD_CHECK(unlink(path) == 0);
    CHILD_CHECK(close(fd) == 0);
    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0 && read(fd, buf, sizeof buf) > 0);
    close(fd);

    /* memory */
    char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(m != MAP_FAILED);
    m[4096] = 1;
    CHILD_CHECK(mprotect(m, 4096, PROT_READ) == 0 && munmap(m, 1 << 20) == 0);
    int mfd = memfd_create("t", MFD_CLOEXEC);
    CHILD_CHECK(mfd >= 0);
    close(mfd);

    /* misc */
    CHILD_CHECK(getrandom(buf, sizeof buf, 0) == sizeof buf);
    struct timespec ts;
    CHILD_CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    struct utsname u;
    CHILD_CHECK(uname(&u) == 0);
    struct rlimit rl;
    CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHILD_CHECK(personality(0xffffffff) == 0 && personality(PER_LINUX) == 0);
    int p[2];
    CHILD_CHECK(pipe2(p, O_CLOEXEC) == 0);
    int avail = -1;
    CHILD_CHECK(ioctl(p[0], FIONREAD, &avail) == 0 && avail == 0);

    /* processes: fork (clone with SIGCHLD only), raw clone, posix_spawn (clone
     * with CLONE_VM | CLONE_VFORK) */
    pid_t pid = fork();
    CHILD_CHECK(pid >= 0);
    if (pid == 0) _exit(7);
    int st;
    CHILD_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
    pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    CHILD_CHECK(pid >= 0);
    if (pid == 0) _exit(8);
    CHILD_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 8);
    char *argv[] = {"true", NULL};
    CHILD_CHECK(posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0);
    CHILD_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}

static void test_allowed_basics(void **state) {
    run_filtered(plain, child_basics, NULL);
}

/* --- what is refused --------------------------------------------------------- */

static int child_eperm(void *arg) {
    CHILD_ERRNO(unshare(CLONE_NEWUSER), EPERM);
    CHILD_ERRNO(unshare(CLONE_NEWNS), EPERM);
    CHILD_ERRNO(unshare(CLONE_FILES), EPERM); /* unshare is refused whole */
    /* clone with a namespace flag; a grandchild made by a broken filter
     * leaves at once */
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    CHILD_CHECK(pid == -1 && errno == EPERM);
    pid = syscall(SYS_clone, CLONE_NEWNET | CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    CHILD_CHECK(pid == -1 && errno == EPERM);
    pid = syscall(SYS_clone, (1UL << 32) | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    CHILD_CHECK(pid == -1 && errno == EPERM);

    int ns = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(ns >= 0);
    CHILD_ERRNO(setns(ns, 0), EPERM);
    CHILD_ERRNO(setns(ns, CLONE_NEWUTS), EPERM);
    /* Joining a mount namespace passes the filter (a contained run's
     * command joins its root after loading it, spawn-command.c); the kernel
     * then asks for capabilities, which this child, root, has: it joins its
     * own. A run has none left (isolation-levels checks its refusal). */
    int mnt = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(mnt >= 0 && setns(mnt, CLONE_NEWNS) == 0);
    CHILD_ERRNO(mount("none", NOWHERE, "tmpfs", 0, NULL), EPERM);
    CHILD_ERRNO(umount2(NOWHERE, 0), EPERM);
    CHILD_ERRNO(syscall(SYS_pivot_root, NOWHERE, NOWHERE), EPERM);
    CHILD_ERRNO(chroot("/"), EPERM);
    CHILD_ERRNO(syscall(SYS_fsopen, "warren-no-such-fs", 0), EPERM);
    CHILD_ERRNO(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
    CHILD_ERRNO(syscall(SYS_process_vm_readv, getpid(), NULL, 0, NULL, 0, 0), EPERM);
    CHILD_ERRNO(syscall(SYS_bpf, 0, NULL, 0), EPERM);
    CHILD_ERRNO(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM);
    CHILD_ERRNO(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0), EPERM);
    CHILD_ERRNO(syscall(SYS_request_key, "user", "warren-test-no-such-key", NULL, 0), EPERM);
    CHILD_ERRNO(syscall(SYS_userfaultfd, O_CLOEXEC), EPERM);
    CHILD_ERRNO(syscall(SYS_io_uring_setup, 1, NULL), EPERM);
    CHILD_ERRNO(syscall(SYS_finit_module, -1, "", 0), EPERM);
    CHILD_ERRNO(syscall(SYS_delete_module, "warren_test_no_such_module", O_NONBLOCK), EPERM);
    CHILD_ERRNO(swapoff(NOWHERE), EPERM);
    CHILD_ERRNO(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", NULL, NULL, 0), EPERM);
    CHILD_ERRNO(syscall(SYS_open_by_handle_at, -1, NULL, 0), EPERM);
    return 0;
}

static void test_refused_eperm(void **state) {
    run_filtered(plain, child_eperm, NULL);
}

static int child_enosys(void *arg) {
    CHILD_ERRNO(syscall(SYS_clone3, NULL, 0), ENOSYS);
    CHILD_ERRNO(syscall(1000), ENOSYS);
    /* real calls outside the allowlist */
    CHILD_ERRNO(syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), ENOSYS);
    CHILD_ERRNO(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, 0), ENOSYS);
    /* prlimit64 on another process (on itself it is allowed) */
    struct rlimit rl;
    CHILD_ERRNO(prlimit(getppid(), RLIMIT_NOFILE, NULL, &rl), ENOSYS);
    CHILD_CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &rl) == 0);
    /* glibc falls back from clone3 to clone: threads work (python below too) */
    return 0;
}

static void test_refused_enosys(void **state) {
    run_filtered(plain, child_enosys, NULL);
}

/* --- ioctl ------------------------------------------------------------------- */

static int child_ioctl(void *arg) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHILD_CHECK(master >= 0);
    CHILD_CHECK(grantpt(master) == 0 && unlockpt(master) == 0);
    const char *name = ptsname(master);
    CHILD_CHECK(name);
    int tty = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHILD_CHECK(tty >= 0);

    char c = 'x';
    CHILD_ERRNO(ioctl(tty, TIOCSTI, &c), EPERM);
    CHILD_ERRNO(syscall(SYS_ioctl, tty, (1UL << 32) | TIOCSTI, &c), EPERM);
    CHILD_ERRNO(syscall(SYS_ioctl, tty, 0xffffffff00000000UL | TIOCSTI, &c), EPERM);
    char sub = 0; /* TIOCL_ subcommand 0 */
    CHILD_ERRNO(ioctl(tty, TIOCLINUX, &sub), EPERM);
    CHILD_ERRNO(syscall(SYS_ioctl, tty, (1UL << 40) | TIOCLINUX, &sub), EPERM);

    /* ordinary ioctls, also right next to the refused numbers */
    struct termios t;
    CHILD_CHECK(ioctl(tty, TCGETS, &t) == 0);
    struct winsize ws;
    CHILD_CHECK(ioctl(tty, TIOCGWINSZ, &ws) == 0); /* 0x5413 */
    CHILD_CHECK(ioctl(tty, TIOCSWINSZ, &ws) == 0); /* 0x5414 */
    int n;
    CHILD_CHECK(ioctl(master, FIONREAD, &n) == 0);                       /* 0x541B */
    CHILD_CHECK(syscall(SYS_ioctl, tty, (1UL << 32) | TCGETS, &t) == 0); /* high bits ignored */

    /* Every command in the tty range and then some, with and without high
     * bits, on a bad fd: EBADF (allowed: the kernel looked at the fd) except
     * for the two refused commands. Also a spread of 32-bit values. */
    for (unsigned long cmd = 0; cmd < 0x10000; cmd++) {
        for (int hi = 0; hi < 3; hi++) {
            unsigned long full = cmd | (hi == 0 ? 0 : hi == 1 ? 1UL << 32 : 0xffffffff00000000UL);
            bool refused = cmd == TIOCSTI || cmd == TIOCLINUX;
            errno = 0;
            long r = syscall(SYS_ioctl, -1, full, 0);
            if (r != -1 || errno != (refused ? EPERM : EBADF)) {
                fprintf(stderr, "ioctl(-1, %#lx): %ld %s\n", full, r, strerror(errno));
                _exit(1);
            }
        }
    }
    uint32_t x = 0x9e3779b9u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        errno = 0;
        long r = syscall(SYS_ioctl, -1, (unsigned long)x, 0);
        if (r != -1 || errno != EBADF) {
            fprintf(stderr, "ioctl(-1, %#x): %ld %s\n", x, r, strerror(errno));
            _exit(1);
        }
    }
    return 0;
}

static void test_ioctl(void **state) {
    run_filtered(plain, child_ioctl, NULL);
}

/* --- personality and socket families ---------------------------------------- */

static int child_personality(void *arg) {
    CHILD_CHECK(personality(0xffffffff) == PER_LINUX);
    CHILD_CHECK(syscall(SYS_personality, 0xffffffffUL) == PER_LINUX);
    CHILD_CHECK(syscall(SYS_personality, 0UL) == PER_LINUX);
    CHILD_CHECK(syscall(SYS_personality, 1UL << 32) == PER_LINUX); /* read as 0 */
    CHILD_ERRNO(personality(PER_LINUX32), EPERM);
    CHILD_ERRNO(personality(ADDR_NO_RANDOMIZE), EPERM);
    CHILD_ERRNO(personality(READ_IMPLIES_EXEC), EPERM);
    CHILD_ERRNO(syscall(SYS_personality, 0xfffffffeUL), EPERM);
    for (int i = 0; i < 32; i++)
        CHILD_ERRNO(syscall(SYS_personality, 1UL << i), EPERM);
    CHILD_CHECK(personality(0xffffffff) == PER_LINUX);
    return 0;
}

static void test_personality(void **state) {
    run_filtered(plain, child_personality, NULL);
}

static bool family_allowed(unsigned long fam) {
    return fam == AF_UNIX || fam == AF_INET || fam == AF_INET6 || fam == AF_NETLINK;
}

/* socket(family, -1, 0): the kernel refuses the type with EINVAL before it
 * looks at the family, so EINVAL means the filter let the call through. */
static int child_families(void *arg) {
    for (unsigned long fam = 0; fam < 64; fam++) {
        for (int hi = 0; hi < 2; hi++) {
            unsigned long full = fam | (hi ? 1UL << 32 : 0);
            int want = family_allowed(fam) ? EINVAL : EAFNOSUPPORT;
            errno = 0;
            long r = syscall(SYS_socket, full, -1L, 0L);
            if (r != -1 || errno != want) {
                fprintf(stderr, "socket(%#lx, -1, 0): %ld %s\n", full, r, strerror(errno));
                _exit(1);
            }
        }
    }
    CHILD_ERRNO(socket(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
    CHILD_ERRNO(socket(AF_PACKET, SOCK_RAW, 0), EAFNOSUPPORT);
    CHILD_ERRNO(socket(AF_ALG, SOCK_SEQPACKET, 0), EAFNOSUPPORT);
    int sv[2];
    CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHILD_ERRNO(socketpair(AF_PACKET, SOCK_RAW, 0, sv), EAFNOSUPPORT);
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */);
    CHILD_CHECK(fd >= 0);
    close(fd);
    return 0;
}

static void test_socket_families(void **state) {
    /* Unfiltered, the probe call says EINVAL for a family the filter refuses,
     * so the check below can tell. */
    errno = 0;
    assert_int_equal(syscall(SYS_socket, (long)AF_PACKET, -1L, 0L), -1);
    assert_int_equal(errno, EINVAL);
    run_filtered(plain, child_families, NULL);
}

/* --- other ABIs -------------------------------------------------------------- */

static int child_int80(void *arg) {
    long ret;
    /* getpid through the 32-bit entry */
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "rcx", "r11");
    fprintf(stderr, "int 0x80 getpid returned %ld\n", ret);
    return 0;
}

static int child_x32(void *arg) {
    long r = syscall(39 | 0x40000000L); /* x32 getpid */
    fprintf(stderr, "x32 getpid returned %ld (%s)\n", r, strerror(errno));
    return 0;
}

static void assert_sigsys(int status) {
    if (!WIFSIGNALED(status))
        print_error("child exited %d instead of being killed\n", WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
}

static int child_listener_then(void *arg) {
    /* notify filter: refusals would block without a supervisor, so none */
    int (*fn)(void *) = (int (*)(void *))arg;
    return fn(NULL);
}

static void test_other_abis_killed(void **state) {
    assert_sigsys(run_filtered_status(plain, child_int80, NULL));
    assert_sigsys(run_filtered_status(plain, child_x32, NULL));
    assert_sigsys(run_filtered_status(notify, child_listener_then, (void *)child_int80));
    assert_sigsys(run_filtered_status(notify, child_listener_then, (void *)child_x32));
}

/* --- real programs ----------------------------------------------------------- */

/* Runs argv under the filter in dir (NULL: here) with a small environment;
 * stdout goes to out (NUL-terminated). Returns the wait status. */
static int run_program(const char *dir, char *const argv[], char *out, size_t size) {
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char home[PATH_MAX], tmp[PATH_MAX];
    snprintf(home, sizeof home, "HOME=%s", dir ? dir : "/tmp");
    snprintf(tmp, sizeof tmp, "TMPDIR=%s", dir ? dir : "/tmp");
    char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", home, tmp, NULL};
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(p[1], 1) < 0 || (dir && chdir(dir) < 0)) _exit(91);
        enter_filter(plain);
        execve(argv[0], argv, env);
        fprintf(stderr, "execve %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(p[0], out + len, size - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == size - 1) break;
    }
    out[len] = '\0';
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_exec_shell(void **state) {
    char out[256];
    char *argv[] = {"/bin/sh", "-c",
                    "echo hi; ls / >/dev/null && grep -c '^Pid:' /proc/self/status", NULL};
    assert_exit0(run_program(NULL, argv, out, sizeof out));
    assert_string_equal(out, "hi\n1\n");
}

static void test_exec_python(void **state) {
    if (access("/usr/bin/python3", X_OK) != 0) skip();
    char out[256];
    char *argv[] = {"/usr/bin/python3", "-c",
                    "import threading, subprocess\n"
                    "r = []\n"
                    "ts = [threading.Thread(target=lambda i=i: r.append(i)) for i in range(4)]\n"
                    "[t.start() for t in ts]; [t.join() for t in ts]\n"
                    "p = subprocess.run(['/bin/echo', 'sub'], capture_output=True, text=True)\n"
                    "print(sorted(r), p.stdout.strip())\n",
                    NULL};
    assert_exit0(run_program(NULL, argv, out, sizeof out));
    assert_string_equal(out, "[0, 1, 2, 3] sub\n");
}

static void test_exec_gcc(void **state) {
    if (access("/usr/bin/gcc", X_OK) != 0) skip();
    char dir[TL_SCRATCH_MAX];
    int dfd = tl_scratch_make(dir, sizeof dir, "seccomp");
    assert_true(dfd >= 0);
    tl_write_at(dfd, "hello.c",
                "#include <stdio.h>\nint main(void) { puts(\"hello from gcc\"); return 0; }\n",
                0644);
    char out[256];
    char *argv[] = {"/bin/sh", "-c", "gcc -O1 -o hello hello.c && ./hello", NULL};
    int status = run_program(dir, argv, out, sizeof out);
    close(dfd);
    assert_int_equal(tl_scratch_remove(dir), 0);
    assert_exit0(status);
    assert_string_equal(out, "hello from gcc\n");
}

static void test_exec_node(void **state) {
    if (access("/usr/bin/node", X_OK) != 0) skip();
    char out[256];
    char *argv[] = {"/usr/bin/node", "-e",
                    "const fs = require('fs');\n"
                    "fs.readFile('/proc/self/status', (err) => {\n"
                    "  if (err) throw err;\n"
                    "  setTimeout(() => console.log(1 + 1), 10);\n"
                    "});\n",
                    NULL};
    assert_exit0(run_program(NULL, argv, out, sizeof out));
    assert_string_equal(out, "2\n");
}

/* A loopback server with epoll and a forked client, all under the filter. */
static int child_tcp(void *arg) {
    int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHILD_CHECK(srv >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHILD_CHECK(bind(srv, (struct sockaddr *)&a, sizeof a) == 0);
    CHILD_CHECK(listen(srv, 4) == 0);
    socklen_t alen = sizeof a;
    CHILD_CHECK(getsockname(srv, (struct sockaddr *)&a, &alen) == 0);

    pid_t pid = fork();
    CHILD_CHECK(pid >= 0);
    if (pid == 0) {
        /* Not holding the listening socket, a client whose server died sees
         * its connection reset instead of waiting in the backlog. */
        close(srv);
        alarm(30);
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHILD_CHECK(c >= 0);
        CHILD_CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
        CHILD_CHECK(send(c, "ping", 4, 0) == 4);
        char b[4];
        CHILD_CHECK(recv(c, b, 4, MSG_WAITALL) == 4 && memcmp(b, "pong", 4) == 0);
        _exit(0);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHILD_CHECK(ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = srv};
    CHILD_CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, srv, &ev) == 0);
    CHILD_CHECK(epoll_wait(ep, &ev, 1, 10000) == 1);
    int conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
    CHILD_CHECK(conn >= 0);
    char b[4];
    CHILD_CHECK(recv(conn, b, 4, MSG_WAITALL) == 4 && memcmp(b, "ping", 4) == 0);
    CHILD_CHECK(send(conn, "pong", 4, 0) == 4);
    int st;
    CHILD_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}

static void test_loopback_tcp(void **state) {
    run_filtered(plain, child_tcp, NULL);
}

/* --- notification ------------------------------------------------------------ */

/* A child under the notify filter that hands its listener to the parent over
 * sock, then runs fn. */
typedef struct notified {
    pid_t pid;
    int listener; /* in the parent */
} notified;

static notified start_notified(int (*fn)(void *), void *arg) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        int l = enter_filter(notify);
        CHILD_CHECK(l > 0);
        CHILD_CHECK(fcntl(l, F_GETFD) & FD_CLOEXEC);
        CHILD_CHECK(send_fd(sv[1], l) == 0);
        close(l);
        close(sv[1]);
        _exit(fn(arg));
    }
    close(sv[1]);
    struct pollfd p = {sv[0], POLLIN, 0};
    int l = poll(&p, 1, 10000) == 1 ? recv_fd(sv[0]) : -1;
    close(sv[0]);
    if (l < 0) kill(pid, SIGKILL);
    assert_true(l >= 0);
    return (notified){pid, l};
}

static int child_notify(void *arg) {
    CHILD_ERRNO(unshare(CLONE_NEWUSER), EPERM);
    CHILD_CHECK(getpid() > 0);
    CHILD_ERRNO(syscall(1000), ENOSYS);
    CHILD_ERRNO(syscall(SYS_clone3, NULL, 0), ENOSYS); /* not notified */
    CHILD_ERRNO(ioctl(-1, TCGETS, NULL), EBADF);       /* allowed */
    CHILD_ERRNO(syscall(SYS_ioctl, -1, (1UL << 32) | TIOCSTI, NULL), EPERM);
    CHILD_CHECK(personality(0xffffffff) == PER_LINUX);
    CHILD_ERRNO(personality(PER_LINUX32), EPERM);
    CHILD_ERRNO(syscall(SYS_socket, (long)AF_INET, -1L, 0L), EINVAL); /* allowed */
    CHILD_ERRNO(syscall(SYS_socket, (long)AF_VSOCK, -1L, 0L), EAFNOSUPPORT);
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    CHILD_CHECK(pid == -1 && errno == EPERM);
    CHILD_ERRNO(mount("none", NOWHERE, "tmpfs", 0, NULL), EPERM);
    struct rlimit rl;
    CHILD_ERRNO(prlimit(getppid(), RLIMIT_NOFILE, NULL, &rl), ENOSYS);
    return 0;
}

static void test_notify_refusals(void **state) {
    static const struct {
        const char *name;
        int errnum;
    } want[] = {
        {"unshare", EPERM},     {"syscall_1000", ENOSYS}, {"ioctl", EPERM},
        {"personality", EPERM}, {"socket", EAFNOSUPPORT}, {"clone", EPERM},
        {"mount", EPERM},       {"prlimit64", ENOSYS},
    };
    notified c = start_notified(child_notify, NULL);
    size_t got = 0;
    for (;;) {
        struct pollfd p = {c.listener, POLLIN, 0};
        int n = poll(&p, 1, 10000);
        if (n <= 0) {
            kill(c.pid, SIGKILL);
            fail_msg("no notification after %zu", got);
        }
        if (!(p.revents & POLLIN)) break; /* POLLHUP: the child is gone */
        wr_err e = WR_ERR_INIT;
        wr_seccomp_refusal r;
        memset(&r, 0xa5, sizeof r);
        assert_int_equal(wr_seccomp_handle(c.listener, &r, &e), 0);
        assert_true(got < ELEMENTSOF(want));
        assert_string_equal(r.name, want[got].name);
        assert_int_equal(r.errnum, want[got].errnum);
        assert_int_equal(r.pid, (uint32_t)c.pid);
        if (got == 1) assert_int_equal(r.nr, 1000);
        got++;
    }
    assert_int_equal(got, ELEMENTSOF(want));
    close(c.listener);
    tl_wait_exit0(c.pid);
}

typedef struct quiet_pipes {
    int done[2], go[2];
} quiet_pipes;

static int child_quiet(void *arg) {
    quiet_pipes *q = arg;
    /* allowed work, also in a grandchild that execs a shell */
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    close(fd);
    char *argv[] = {"/bin/sh", "-c", "echo hi >/dev/null; ls / >/dev/null", NULL};
    pid_t pid;
    CHILD_CHECK(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0);
    int st;
    CHILD_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHILD_CHECK(write(q->done[1], "d", 1) == 1);
    char b;
    CHILD_CHECK(read(q->go[0], &b, 1) == 1);
    return 0;
}

static void test_notify_quiet(void **state) {
    quiet_pipes q;
    assert_int_equal(pipe2(q.done, O_CLOEXEC), 0);
    assert_int_equal(pipe2(q.go, O_CLOEXEC), 0);
    notified c = start_notified(child_quiet, &q);
    close(q.done[1]), close(q.go[0]); /* the child's ends: EOF when it dies */
    char b;
    assert_int_equal(read(q.done[0], &b, 1), 1);
    struct pollfd p = {c.listener, POLLIN, 0};
    int n = poll(&p, 1, 300);
    assert_int_equal(write(q.go[1], "g", 1), 1);
    assert_int_equal(n, 0);
    close(c.listener);
    tl_wait_exit0(c.pid);
    close(q.done[0]), close(q.go[1]);
}

static int child_blocked(void *arg) {
    unshare(CLONE_NEWUSER); /* waits for an answer that never comes */
    return 3;
}

static void test_notify_task_gone(void **state) {
    notified c = start_notified(child_blocked, NULL);
    struct pollfd p = {c.listener, POLLIN, 0};
    int n = poll(&p, 1, 10000);
    kill(c.pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(c.pid, &status, 0), c.pid);
    assert_int_equal(n, 1);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    wr_err e = WR_ERR_INIT;
    wr_seccomp_refusal r;
    assert_int_equal(wr_seccomp_handle(c.listener, &r, &e), -ENOENT);
    assert_int_equal(e.kind, WR_ERR_NONE);
    close(c.listener);
}

static void test_handle_not_a_listener(void **state) {
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    wr_err e = WR_ERR_INIT;
    wr_seccomp_refusal r;
    assert_int_equal(wr_seccomp_handle(p[0], &r, &e), -ENOTTY);
    assert_int_equal(e.kind, WR_ERR_SYSTEM);
    char fdname[32];
    snprintf(fdname, sizeof fdname, "listener %d", p[0]);
    assert_non_null(strstr(e.msg, fdname));
    close(p[0]), close(p[1]);
    e = (wr_err)WR_ERR_INIT;
    assert_int_equal(wr_seccomp_handle(-1, &r, &e), -EBADF);
    assert_int_equal(e.kind, WR_ERR_SYSTEM);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_free),
        cmocka_unit_test(test_allowed_basics),
        cmocka_unit_test(test_refused_eperm),
        cmocka_unit_test(test_refused_enosys),
        cmocka_unit_test(test_ioctl),
        cmocka_unit_test(test_personality),
        cmocka_unit_test(test_socket_families),
        cmocka_unit_test(test_other_abis_killed),
        cmocka_unit_test(test_exec_shell),
        cmocka_unit_test(test_exec_python),
        cmocka_unit_test(test_exec_gcc),
        cmocka_unit_test(test_exec_node),
        cmocka_unit_test(test_loopback_tcp),
        cmocka_unit_test(test_notify_refusals),
        cmocka_unit_test(test_notify_quiet),
        cmocka_unit_test(test_notify_task_gone),
        cmocka_unit_test(test_handle_not_a_listener),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
