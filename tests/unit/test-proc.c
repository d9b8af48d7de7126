/* proc.c: wr_kill_uid ends every process of the tenant's uid (a plain one, a
 * double-forked daemon, one that keeps forking, one blocking all signals)
 * and nothing else (another uid's process, root's).
 *
 * The killing happens only inside a new PID namespace: kill(-1) from there
 * cannot reach any process of the host. The namespace's init (our
 * grandchild) starts the processes, reaps everything as an init must, and
 * checks the result in its own /proc. Children report by exit code; cmocka
 * asserts are used only in the test process itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

#include "proc.h"
#include "testlib.h"
#include "util.h"

#define TENANT_UID 59990
#define OTHER_UID 59991

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed at line %d: %s\n", __LINE__, #cond);                     \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void become(uid_t uid) {
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
        _exit(3);
}

static void ready(int fd) {
    if (write(fd, "r", 1) != 1) _exit(4);
}

static _Noreturn void sleep_forever(void) {
    for (;;)
        pause();
}

/* Starts a process as `uid` that runs `body`; returns its pid. */
static pid_t start_as(uid_t uid, int ready_fd, void (*body)(int)) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (uid) become(uid);
        body(ready_fd);
        _exit(0);
    }
    return pid;
}

static void body_sleeper(int fd) {
    ready(fd);
    sleep_forever();
}

static void body_blocker(int fd) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    signal(SIGTERM, SIG_IGN);
    ready(fd);
    sleep_forever();
}

static void body_daemon(int fd) {
    /* The classic detach: fork, the parent exits, the child starts a new
     * session and forks again. */
    pid_t pid = fork();
    if (pid != 0) _exit(0);
    setsid();
    if (fork() != 0) _exit(0);
    ready(fd);
    sleep_forever();
}

static void body_forker(int fd) {
    ready(fd);
    for (;;) {
        pid_t pid = fork();
        if (pid == 0) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
            _exit(0);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Processes whose real uid is `uid`, per this namespace's /proc, reaping
 * whatever has died meanwhile so that zombies do not count. */
static int count_uid(uid_t uid) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    DIR *d = opendir("/proc");
    CHECK(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        unsigned real = 0;
        bool zombie = false;
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "State:", 6) && strchr(line, 'Z')) zombie = true;
            sscanf(line, "Uid: %u", &real);
        }
        fclose(f);
        if (real == uid && !zombie) n++;
    }
    closedir(d);
    return n;
}

static bool alive(pid_t pid) {
    return waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, 0) == 0;
}

/* The namespace's init: pid 1, so kill(-1) from below cannot leave. */
static _Noreturn void ns_init(void) {
    CHECK(getpid() == 1);
    CHECK(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0);
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);

    start_as(TENANT_UID, p[1], body_sleeper);
    start_as(TENANT_UID, p[1], body_blocker);
    start_as(TENANT_UID, p[1], body_daemon);
    start_as(TENANT_UID, p[1], body_forker);
    pid_t other = start_as(OTHER_UID, p[1], body_sleeper);
    pid_t rootp = start_as(0, p[1], body_sleeper);
    close(p[1]);
    char c;
    for (int i = 0; i < 6; i++)
        CHECK(read(p[0], &c, 1) == 1);
    close(p[0]);
    CHECK(count_uid(TENANT_UID) >= 4);

    double start = seconds();
    pid_t tester = fork();
    CHECK(tester >= 0);
    if (tester == 0) {
        wr_err e = WR_ERR_INIT;
        int r = wr_kill_uid(TENANT_UID, &e);
        if (r < 1) fprintf(stderr, "wr_kill_uid: %d %s\n", r, e.msg);
        _exit(r >= 1 ? 0 : 1);
    }
    /* Reap as init does, so that killed processes do not linger as zombies. */
    int status = -1;
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        CHECK(pid > 0);
        if (pid == tester) {
            status = st;
            break;
        }
    }
    double took = seconds() - start;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fprintf(stderr, "# wr_kill_uid took %.0f ms\n", took * 1000);
    /* With every dead process reaped, the sweeps end at ESRCH, well before
     * the helper's deadline. */
    CHECK(took < 1.5);

    for (int i = 0; i < 100 && count_uid(TENANT_UID) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK(count_uid(TENANT_UID) == 0);
    CHECK(alive(other));
    CHECK(alive(rootp));
    CHECK(count_uid(OTHER_UID) == 1);

    /* Nothing left: no sweep finds anything. */
    CHECK(wr_kill_uid(TENANT_UID, NULL) == 0);
    CHECK(alive(other));
    _exit(0);
}

/* The test's child: a new PID namespace, whose init's verdict it passes on. */
static int child_pid_namespace(void *arg) {
    (void)arg;
    CHECK(unshare(CLONE_NEWPID | CLONE_NEWNS) == 0);
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
    pid_t init = fork();
    CHECK(init >= 0);
    if (init == 0) ns_init();
    int status;
    CHECK(waitpid(init, &status, 0) == init);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

static void test_kill_uid_in_pid_namespace(void **state) {
    (void)state;
    tl_in_child(child_pid_namespace, NULL);
}

/* As a non-root uid: its own uid and root are refused. */
static int child_refuses_self(void *arg) {
    (void)arg;
    become(OTHER_UID);
    wr_err ce = WR_ERR_INIT;
    CHECK(wr_kill_uid(OTHER_UID, &ce) == -EINVAL);
    CHECK(ce.kind == WR_ERR_INVALID);
    /* Root stays refused when the caller is not root. */
    wr_err_clear(&ce);
    CHECK(wr_kill_uid(0, &ce) == -EINVAL);
    CHECK(ce.kind == WR_ERR_INVALID);
    return 0;
}

static void test_refuses_root_and_self(void **state) {
    (void)state;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_kill_uid(0, &e), -EINVAL);
    assert_int_equal(e.kind, WR_ERR_INVALID);
    assert_non_null(strstr(e.msg, "uid 0"));
    wr_err_clear(&e);
    assert_int_equal(wr_kill_uid((uid_t)-1, &e), -EINVAL);
    assert_int_equal(e.kind, WR_ERR_INVALID);

    /* The caller's own uid, as a non-root caller. Refused before any fork,
     * so nothing is signalled even outside a PID namespace. */
    tl_in_child(child_refuses_self, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_root_and_self),
        cmocka_unit_test(test_kill_uid_in_pid_namespace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
