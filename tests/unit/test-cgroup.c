/* cgroup.c: run cgroups under this process's own cgroup v2 group.
 *
 * These tests make real cgroups, as root, under the cgroup this test process
 * was started in: <own>/warren/test-<pid>/<run>. Nothing else in the
 * hierarchy is touched. After every test, a teardown that does not use the
 * code under test (plain open/write/rmdir) kills whatever is left in the test
 * tenant's cgroup and removes it.
 *
 * Processes are started straight into a run's cgroup with clone3 and
 * CLONE_INTO_CGROUP. The test process is a child subreaper, so a daemon that
 * double-forks away from its run's process tree is reparented to it and can
 * be reaped here, which proves it is dead rather than a zombie. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"
#include "quota.h"
#include "testlib.h"
#include "util.h"

static wr_cgroups *cg;
static char tenant[64];
static char tenant_path[PATH_MAX - 256];

/* --- helpers that do not use the code under test ---------------------------------- */

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void run_path(char *buf, size_t size, const char *run) {
    int n = snprintf(buf, size, "%s/%s", tenant_path, run);
    assert_true(n > 0 && (size_t)n < size);
}

/* Reads a whole small file into buf; returns its length or -1. */
static ssize_t read_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    ssize_t n;
    while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* The "0::" line of /proc/<pid>/cgroup, without "0::" and the newline. */
static void v2_cgroup_of(const char *pid, char *out, size_t size) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%s/cgroup", pid);
    assert_true(read_file(path, buf, sizeof buf) > 0);
    char *p = strstr(buf, "0::");
    while (p && p != buf && p[-1] != '\n')
        p = strstr(p + 1, "0::");
    assert_non_null(p);
    p += 3;
    size_t n = strcspn(p, "\n");
    assert_true(n < size);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void assert_in_run(pid_t pid, const char *run) {
    char p[32], got[PATH_MAX], want[256];
    snprintf(p, sizeof p, "%d", (int)pid);
    v2_cgroup_of(p, got, sizeof got);
    snprintf(want, sizeof want, "/warren/%s/%s", tenant, run);
    size_t g = strlen(got), w = strlen(want);
    if (g < w || !streq(got + g - w, want))
        fail_msg("process %d is in cgroup %s, not under .../%s", (int)pid, got, want);
}

/* The first cgroup2 mount point in /proc/self/mounts. */
static void cgroup2_mount(char *out, size_t size) {
    FILE *f = fopen("/proc/self/mounts", "re");
    assert_non_null(f);
    char dev[256], dir[PATH_MAX], type[64];
    bool found = false;
    while (!found && fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3)
        found = streq(type, "cgroup2");
    fclose(f);
    assert_true(found);
    assert_true(strlen(dir) < size);
    strcpy(out, dir);
}

static int count_procs(const char *cgpath) {
    char path[PATH_MAX], buf[65536];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgpath);
    if (read_file(path, buf, sizeof buf) < 0) return -1;
    int n = 0;
    for (char *p = buf; *p; p++)
        if (*p == '\n') n++;
    return n;
}

static int events_populated(const char *cgpath) {
    char path[PATH_MAX], buf[512];
    snprintf(path, sizeof path, "%s/cgroup.events", cgpath);
    if (read_file(path, buf, sizeof buf) < 0) return -1;
    char *p = strstr(buf, "populated ");
    return p ? p[10] - '0' : -1;
}

/* Reaps every child that has exited; gives up after `secs` if some live on. */
static void reap_all(double secs) {
    double end = seconds() + secs;
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p > 0) continue;
        if (p < 0) return; /* ECHILD: none left */
        if (seconds() > end) return;
        usleep(1000);
    }
}

/* Removes the cgroup at path and any below it, deepest first. */
static void rmdir_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        rmdir_tree(sub);
    }
    closedir(d);
    if (rmdir(path) < 0 && errno != ENOENT)
        print_error("teardown: rmdir %s: %s\n", path, strerror(errno));
}

/* Ends and removes everything a test left in the test tenant's cgroup. */
static int cleanup(void **state) {
    (void)state;
    wr_cgroup_force_fallback(false);
    if (exists(tenant_path)) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/cgroup.kill", tenant_path);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, "1", 1) != 1) print_error("teardown: write %s failed\n", path);
            close(fd);
        }
        double end = seconds() + 5;
        while (events_populated(tenant_path) == 1 && seconds() < end)
            usleep(1000);
        reap_all(2);
        rmdir_tree(tenant_path);
        if (exists(tenant_path)) {
            print_error("teardown: %s is still there\n", tenant_path);
            return -1;
        }
    }
    reap_all(2);
    return 0;
}

static int group_setup(void **state) {
    (void)state;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return -1;
    wr_err e = WR_ERR_INIT;
    if (wr_cgroups_open(&cg, &e) < 0) {
        print_error("wr_cgroups_open: %s\n", e.msg);
        return -1;
    }
    snprintf(tenant, sizeof tenant, "test-%d", (int)getpid());
    snprintf(tenant_path, sizeof tenant_path, "%s/%s", wr_cgroups_path(cg), tenant);
    /* The handle opens warren's own group in each v1 controller the first
     * time it makes a tenant's there, and keeps it for its life. One tenant
     * made and destroyed here does that, so the tests that count fds hold on
     * a fresh host too, whichever of them runs first. */
    wr_quota q;
    wr_quota_init(&q);
    if (wr_cgroup_tenant_limit(cg, tenant, &q, false, &e) == 0)
        (void)wr_cgroup_tenant_destroy(cg, tenant, &e);
    return cleanup(state);
}

static int group_teardown(void **state) {
    int r = cleanup(state);
    wr_cgroups_close(cg);
    return r;
}

/* --- children in a run's cgroup ---------------------------------------------------- */

/* Starts a child inside the cgroup open at cgfd; 0 in the child. */
static pid_t clone_into(int cgfd) {
    struct clone_args args = {
        .flags = CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgfd,
    };
    fflush(NULL);
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) fail_msg("clone3 into cgroup: %s", strerror(errno));
    return pid;
}

static _Noreturn void sleep_forever(void) {
    for (;;)
        pause();
}

/* A child in the cgroup that sleeps until killed; returns once it is in. */
static pid_t start_sleeper(int cgfd) {
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = clone_into(cgfd);
    if (pid == 0) {
        close(p[0]);
        if (write(p[1], "r", 1) != 1) _exit(2);
        sleep_forever();
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void assert_killed(pid_t pid) {
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
}

static bool populated(int fd) {
    wr_err e = WR_ERR_INIT;
    bool pop = true;
    if (wr_cgroup_populated(fd, &pop, &e) < 0) fail_msg("wr_cgroup_populated: %s", e.msg);
    return pop;
}

/* --- tests ------------------------------------------------------------------------- */

static void open_finds_own_cgroup(void **state) {
    (void)state;
    char mnt[PATH_MAX], own[PATH_MAX], want[2 * PATH_MAX + 16];
    cgroup2_mount(mnt, sizeof mnt);
    v2_cgroup_of("self", own, sizeof own);
    snprintf(want, sizeof want, "%s%s/warren", mnt, streq(own, "/") ? "" : own);
    assert_string_equal(wr_cgroups_path(cg), want);

    struct stat st;
    assert_int_equal(stat(want, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    struct statfs sfs;
    assert_int_equal(statfs(want, &sfs), 0);
    assert_true(sfs.f_type == CGROUP2_SUPER_MAGIC);

    /* Opening again finds <own>/warren already there and leaks no fd. */
    int fds = tl_count_fds();
    wr_cgroups *again = NULL;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_cgroups_open(&again, &e), 0);
    assert_string_equal(wr_cgroups_path(again), want);
    wr_cgroups_close(again);
    assert_int_equal(tl_count_fds(), fds);
}

/* In a cgroup namespace rooted at a run's cgroup, /proc/self/cgroup says "/"
 * while the inherited cgroup2 mount still shows the whole hierarchy: joining
 * the two would land at the real <mount>/warren, outside warren's cgroup.
 * open must refuse that, and must work once the namespace's own cgroup2 is
 * mounted, making warren's group inside the run's cgroup. */
static void open_respects_cgroup_namespace(void **state) {
    (void)state;
    wr_err e = WR_ERR_INIT;
    char path[PATH_MAX], inner[PATH_MAX];
    run_path(path, sizeof path, "ns");
    int n = snprintf(inner, sizeof inner, "%s/warren", path);
    assert_true(n > 0 && (size_t)n < sizeof inner);
    int fd = wr_cgroup_run_create(cg, tenant, "ns", &e);
    assert_true(fd >= 0);
    char mnt[PATH_MAX], scratch[TL_SCRATCH_MAX];
    cgroup2_mount(mnt, sizeof mnt);
    int sfd = tl_scratch_make(scratch, sizeof scratch, "cgroup-ns");
    assert_true(sfd >= 0);
    close(sfd);

    pid_t pid = clone_into(fd);
    if (pid == 0) {
        CHILD_CHECK(unshare(CLONE_NEWCGROUP | CLONE_NEWNS) == 0);
        CHILD_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
        wr_cgroups *c = NULL;
        wr_err ce = WR_ERR_INIT;
        CHILD_CHECK(wr_cgroups_open(&c, &ce) == -ENOENT);
        CHILD_CHECK(ce.kind == WR_ERR_SYSTEM);
        CHILD_CHECK(strstr(ce.msg, "not visible") != NULL);
        CHILD_CHECK(access(inner, F_OK) < 0);

        /* The namespace's own view of the hierarchy, in a private mount
         * namespace: nothing outside sees it. */
        CHILD_CHECK(mount("cgroup2", scratch, "cgroup2", 0, NULL) == 0);
        wr_err_clear(&ce);
        if (wr_cgroups_open(&c, &ce) < 0) {
            fprintf(stderr, "wr_cgroups_open in the namespace: %s\n", ce.msg);
            _exit(1);
        }
        char want[PATH_MAX + 16];
        snprintf(want, sizeof want, "%s/warren", scratch);
        CHILD_CHECK(streq(wr_cgroups_path(c), want));
        wr_cgroups_close(c);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(tl_scratch_remove(scratch), 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(exists(inner)); /* made inside the run's cgroup, nowhere else */
    close(fd);
    assert_int_equal(wr_cgroup_tenant_destroy(cg, tenant, &e), 0);
    assert_false(exists(tenant_path));
}

static void run_create_and_clone_into(void **state) {
    (void)state;
    wr_err e = WR_ERR_INIT;
    char path[PATH_MAX];
    run_path(path, sizeof path, "r1");
    assert_false(exists(tenant_path));

    int fd = wr_cgroup_run_create(cg, tenant, "r1", &e);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(exists(path));
    assert_int_equal(events_populated(path), 0);

    pid_t pid = start_sleeper(fd);
    assert_in_run(pid, "r1");
    assert_int_equal(count_procs(path), 1);

    /* The same run again: kind exists; another run shares the tenant. */
    assert_int_equal(wr_cgroup_run_create(cg, tenant, "r1", &e), -EEXIST);
    assert_int_equal(e.kind, WR_ERR_EXISTS);
    assert_non_null(strstr(e.msg, "r1"));
    wr_err_clear(&e);
    int fd2 = wr_cgroup_run_create(cg, tenant, "r2", &e);
    assert_true(fd2 >= 0);
    close(fd2);

    kill(pid, SIGKILL);
    assert_killed(pid);
    assert_int_equal(wr_cgroup_run_remove(cg, tenant, "r1", &e), 0);
    assert_false(exists(path));
    assert_int_equal(wr_cgroup_run_remove(cg, tenant, "r2", &e), 0);
    close(fd);
}

static void populated_reports(void **state) {
    (void)state;
    wr_err e = WR_ERR_INIT;
    int fd = wr_cgroup_run_create(cg, tenant, "p", &e);
    assert_true(fd >= 0);
    int tfd = open(tenant_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(tfd >= 0);
    assert_false(populated(fd));
    assert_false(populated(tfd));

    pid_t pid = start_sleeper(fd);
    assert_true(populated(fd));
    assert_true(populated(tfd)); /* a run's process populates its tenant too */

    kill(pid, SIGKILL);
    assert_killed(pid);
    assert_false(populated(fd));
    assert_false(populated(tfd));

    /* A directory that is not a cgroup: a system error naming it. */
    bool pop;
    int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(root >= 0);
    assert_true(wr_cgroup_populated(root, &pop, &e) < 0);
    assert_int_equal(e.kind, WR_ERR_SYSTEM);
    assert_non_null(strstr(e.msg, "cgroup.events"));
    close(root);
    close(tfd);
    close(fd);
}

/* The run: a daemon that double-forked away (setsid, reparented to us), a
 * loop that forks without end, and the first process itself. */
static void kill_ends_tree(bool fallback) {
    wr_err e = WR_ERR_INIT;
    const char *run = fallback ? "k-fallback" : "k";
    char path[PATH_MAX];
    run_path(path, sizeof path, run);
    int fd = wr_cgroup_run_create(cg, tenant, run, &e);
    assert_true(fd >= 0);

    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t first = clone_into(fd);
    if (first == 0) {
        close(p[0]);
        pid_t mid = fork();
        if (mid == 0) {
            setsid();
            pid_t daemon = fork();
            if (daemon == 0) {
                setsid();
                pid_t self = getpid();
                if (write(p[1], &self, sizeof self) != sizeof self) _exit(2);
                sleep_forever();
            }
            _exit(daemon > 0 ? 0 : 1);
        }
        int st;
        if (mid < 0 || waitpid(mid, &st, 0) != mid) _exit(3);
        pid_t looper = fork();
        if (looper == 0) {
            pid_t self = getpid();
            if (write(p[1], &self, sizeof self) != sizeof self) _exit(2);
            for (;;) {
                pid_t c = fork();
                if (c == 0) _exit(0);
                if (c > 0) waitpid(c, NULL, 0);
            }
        }
        sleep_forever();
    }
    close(p[1]);
    pid_t got[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(read(p[0], &got[i], sizeof got[i]), (ssize_t)sizeof got[i]);
    close(p[0]);
    /* Which one wrote first is a race; the daemon is the one whose parent is us. */
    pid_t daemon = -1, looper = -1;
    for (int i = 0; i < 2; i++) {
        char statpath[64], buf[1024];
        snprintf(statpath, sizeof statpath, "/proc/%d/stat", (int)got[i]);
        assert_true(read_file(statpath, buf, sizeof buf) > 0);
        int ppid = 0;
        char *rp = strrchr(buf, ')');
        assert_non_null(rp);
        assert_int_equal(sscanf(rp + 2, "%*c %d", &ppid), 1);
        if (ppid == getpid())
            daemon = got[i];
        else if (ppid == first)
            looper = got[i];
    }
    assert_true(daemon > 0); /* reparented away from the run's tree */
    assert_true(looper > 0);
    assert_in_run(first, run);
    assert_in_run(daemon, run);
    assert_in_run(looper, run);
    assert_true(count_procs(path) >= 3);
    assert_true(populated(fd));

    wr_cgroup_force_fallback(fallback);
    double t0 = seconds();
    int r = wr_cgroup_kill(fd, &e);
    wr_cgroup_force_fallback(false);
    if (r < 0) fail_msg("wr_cgroup_kill: %s", e.msg);
    assert_true(seconds() - t0 < 5);

    assert_int_equal(count_procs(path), 0);
    assert_int_equal(events_populated(path), 0);
    assert_false(populated(fd));
    assert_killed(first);
    assert_killed(daemon);
    assert_killed(looper);
    reap_all(2);
    assert_int_equal(kill(daemon, 0), -1);
    assert_int_equal(errno, ESRCH);

    /* Killing an empty cgroup is quick and fine. */
    t0 = seconds();
    assert_int_equal(wr_cgroup_kill(fd, &e), 0);
    assert_true(seconds() - t0 < 1);

    close(fd);
    assert_int_equal(wr_cgroup_run_remove(cg, tenant, run, &e), 0);
    assert_false(exists(path));
}

static void kill_with_cgroup_kill(void **state) {
    (void)state;
    kill_ends_tree(false);
}

static void kill_with_fallback(void **state) {
    (void)state;
    kill_ends_tree(true);
}

static void invalid_names_refused(void **state) {
    (void)state;
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = {"", ".", "..", "a/b", "x\n", "/abs", "cgroup.procs", "t\x7f", longname};
    char a_path[PATH_MAX];
    snprintf(a_path, sizeof a_path, "%s/a", wr_cgroups_path(cg));
    bool a_existed = exists(a_path);

    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        wr_err e = WR_ERR_INIT;
        assert_int_equal(wr_cgroup_run_create(cg, bad[i], "r", &e), -EINVAL);
        assert_int_equal(e.kind, WR_ERR_INVALID);
        assert_non_null(strstr(e.msg, "tenant"));
        if (streq(bad[i], "a/b") || streq(bad[i], "..")) assert_non_null(strstr(e.msg, bad[i]));

        wr_err_clear(&e);
        assert_int_equal(wr_cgroup_run_create(cg, tenant, bad[i], &e), -EINVAL);
        assert_int_equal(e.kind, WR_ERR_INVALID);
        assert_non_null(strstr(e.msg, "run"));
        /* Refused before anything was made, the tenant's group included. */
        assert_false(exists(tenant_path));

        wr_err_clear(&e);
        assert_int_equal(wr_cgroup_run_remove(cg, bad[i], "r", &e), -EINVAL);
        assert_int_equal(e.kind, WR_ERR_INVALID);
        wr_err_clear(&e);
        assert_int_equal(wr_cgroup_run_remove(cg, tenant, bad[i], &e), -EINVAL);
        assert_int_equal(e.kind, WR_ERR_INVALID);
        wr_err_clear(&e);
        assert_int_equal(wr_cgroup_tenant_destroy(cg, bad[i], &e), -EINVAL);
        assert_int_equal(e.kind, WR_ERR_INVALID);
    }
    assert_int_equal(exists(a_path), a_existed);
}

static void missing_is_fine(void **state) {
    (void)state;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_cgroup_run_remove(cg, tenant, "nope", &e), 0);
    assert_int_equal(wr_cgroup_tenant_destroy(cg, tenant, &e), 0);
    int fd = wr_cgroup_run_create(cg, tenant, "r", &e);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(wr_cgroup_run_remove(cg, tenant, "nope", &e), 0);
    assert_int_equal(e.kind, WR_ERR_NONE);
    assert_int_equal(wr_cgroup_tenant_destroy(cg, tenant, &e), 0);
    assert_false(exists(tenant_path));
}

static void remove_busy_then_destroy(bool fallback) {
    wr_err e = WR_ERR_INIT;
    char p1[PATH_MAX];
    run_path(p1, sizeof p1, "r1");
    int fd1 = wr_cgroup_run_create(cg, tenant, "r1", &e);
    int fd2 = wr_cgroup_run_create(cg, tenant, "r2", &e);
    int fd3 = wr_cgroup_run_create(cg, tenant, "r3", &e);
    assert_true(fd1 >= 0 && fd2 >= 0 && fd3 >= 0);
    /* A cgroup a run made below its own, with a process in it. */
    assert_int_equal(mkdirat(fd2, "inner", 0755), 0);
    int inner = openat(fd2, "inner", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(inner >= 0);

    pid_t a = start_sleeper(fd1);
    pid_t b = start_sleeper(fd2);
    pid_t c = start_sleeper(inner);

    assert_int_equal(wr_cgroup_run_remove(cg, tenant, "r1", &e), -EBUSY);
    assert_int_equal(e.kind, WR_ERR_BUSY);
    assert_non_null(strstr(e.msg, "r1"));
    assert_true(exists(p1));
    assert_in_run(a, "r1");
    assert_true(populated(fd1));

    wr_err_clear(&e);
    wr_cgroup_force_fallback(fallback);
    int r = wr_cgroup_tenant_destroy(cg, tenant, &e);
    wr_cgroup_force_fallback(false);
    if (r < 0) fail_msg("wr_cgroup_tenant_destroy: %s", e.msg);
    assert_false(exists(tenant_path));
    assert_killed(a);
    assert_killed(b);
    assert_killed(c);
    close(inner);
    close(fd1);
    close(fd2);
    close(fd3);
}

static void remove_busy_and_tenant_destroy(void **state) {
    (void)state;
    remove_busy_then_destroy(false);
}

static void tenant_destroy_with_fallback(void **state) {
    (void)state;
    remove_busy_then_destroy(true);
}

static void no_fd_leaks(void **state) {
    (void)state;
    wr_err e = WR_ERR_INIT;
    int before = tl_count_fds();
    int fd = wr_cgroup_run_create(cg, tenant, "f", &e);
    assert_true(fd >= 0);
    pid_t pid = start_sleeper(fd);
    bool pop;
    assert_int_equal(wr_cgroup_populated(fd, &pop, &e), 0);
    assert_int_equal(wr_cgroup_kill(fd, &e), 0);
    assert_killed(pid);
    /* A killed cgroup is not reused (see cgroup.h): the next run gets its own. */
    int fd2 = wr_cgroup_run_create(cg, tenant, "g", &e);
    assert_true(fd2 >= 0);
    pid = start_sleeper(fd2);
    wr_cgroup_force_fallback(true);
    assert_int_equal(wr_cgroup_kill(fd2, &e), 0);
    wr_cgroup_force_fallback(false);
    assert_killed(pid);
    assert_int_equal(wr_cgroup_run_create(cg, tenant, "f", &e), -EEXIST);
    close(fd);
    close(fd2);
    assert_int_equal(wr_cgroup_run_remove(cg, tenant, "f", &e), 0);
    assert_int_equal(wr_cgroup_tenant_destroy(cg, tenant, &e), 0);
    assert_int_equal(tl_count_fds(), before);
}

/* The handle keeps the tenant's group open between runs (cgroup-internal.h);
 * another warren deleting the tenant must not leave it making runs in a
 * removed group, nor skipping the tenant's groups and limits. */
static void tenant_removed_under_handle(void **state) {
    (void)state;
    wr_err e = WR_ERR_INIT;
    wr_quota q;
    wr_quota_init(&q);
    int before = tl_count_fds();
    assert_int_equal(wr_cgroup_tenant_limit(cg, tenant, &q, false, &e), 0);
    assert_true(exists(tenant_path));
    int fd = wr_cgroup_run_create(cg, tenant, "a", &e);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(wr_cgroup_run_remove(cg, tenant, "a", &e), 0);

    /* Removed between two runs: the check before the next run makes it again. */
    rmdir_tree(tenant_path);
    assert_false(exists(tenant_path));
    assert_int_equal(wr_cgroup_tenant_limit(cg, tenant, &q, false, &e), 0);
    assert_true(exists(tenant_path));

    /* Removed between the check and the run's group: made again there. */
    rmdir_tree(tenant_path);
    fd = wr_cgroup_run_create(cg, tenant, "b", &e);
    assert_true(fd >= 0);
    char path[PATH_MAX];
    run_path(path, sizeof path, "b");
    assert_true(exists(path));
    pid_t pid = start_sleeper(fd);
    assert_int_equal(wr_cgroup_kill(fd, &e), 0);
    assert_killed(pid);
    close(fd);

    /* Removed with its runs before theirs is: nothing left to remove. */
    rmdir_tree(tenant_path);
    assert_int_equal(wr_cgroup_run_remove(cg, tenant, "b", &e), 0);
    assert_int_equal(wr_cgroup_tenant_limit(cg, tenant, &q, false, &e), 0);
    int v1[WR_CGROUP_ATTACH_MAX];
    int n = wr_cgroup_attach_fds(cg, tenant, v1, WR_CGROUP_ATTACH_MAX, &e);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++)
        close(v1[i]);
    assert_int_equal(wr_cgroup_tenant_destroy(cg, tenant, &e), 0);
    assert_false(exists(tenant_path));
    /* Destroying forgets the group: what the handle keeps is gone with it. */
    assert_int_equal(tl_count_fds(), before);
}

static void kept_group_for_next_run(void **state) {
    (void)state;
    wr_err e = WR_ERR_INIT;
    wr_quota q;
    wr_quota_init(&q);
    int before = tl_count_fds();
    assert_int_equal(wr_cgroup_tenant_limit(cg, tenant, &q, false, &e), 0);
    char run[WR_CGROUP_RUN_MAX] = "k1", path[PATH_MAX];
    uint64_t usec = 99;
    int fd = wr_cgroup_run_take(cg, tenant, run, &usec, &e);
    assert_true(fd >= 0);
    assert_string_equal(run, "k1");
    assert_int_equal(usec, 0);

    /* A group with a process in it is not kept: the removal says busy. */
    pid_t pid = start_sleeper(fd);
    assert_int_equal(wr_cgroup_run_release(cg, tenant, "k1", fd, 5, &e), -EBUSY);
    assert_int_equal(e.kind, WR_ERR_BUSY);
    wr_err_clear(&e);
    kill(pid, SIGKILL);
    assert_killed(pid);
    /* Empty: kept, and the next run gets it, with the usage it counted. */
    assert_int_equal(wr_cgroup_run_release(cg, tenant, "k1", fd, 5, &e), 1);
    run_path(path, sizeof path, "k1");
    assert_true(exists(path));
    snprintf(run, sizeof run, "k2");
    int fd2 = wr_cgroup_run_take(cg, tenant, run, &usec, &e);
    assert_true(fd2 >= 0);
    assert_string_equal(run, "k1");
    assert_int_equal(usec, 5);
    pid = start_sleeper(fd2);
    assert_in_run(pid, "k1");
    kill(pid, SIGKILL);
    assert_killed(pid);

    /* One kept group a tenant: while k1 is out, the next run's is new, and
     * of two released, the second is removed. */
    snprintf(run, sizeof run, "k3");
    int fd3 = wr_cgroup_run_take(cg, tenant, run, &usec, &e);
    assert_true(fd3 >= 0);
    assert_string_equal(run, "k3");
    assert_int_equal(wr_cgroup_run_release(cg, tenant, "k3", fd3, 0, &e), 1);
    assert_int_equal(wr_cgroup_run_release(cg, tenant, "k1", fd2, 7, &e), 0);
    close(fd2);
    run_path(path, sizeof path, "k1");
    assert_false(exists(path));

    /* A kept group removed meanwhile (a kill of the tenant's runs removes
     * them) is not handed out: the run gets a new one. */
    run_path(path, sizeof path, "k3");
    assert_int_equal(rmdir(path), 0);
    snprintf(run, sizeof run, "k4");
    int fd4 = wr_cgroup_run_take(cg, tenant, run, &usec, &e);
    assert_true(fd4 >= 0);
    assert_string_equal(run, "k4");
    assert_int_equal(usec, 0);

    /* Destroying the tenant takes the kept group with it, fds and all. */
    assert_int_equal(wr_cgroup_run_release(cg, tenant, "k4", fd4, 0, &e), 1);
    assert_int_equal(wr_cgroup_tenant_destroy(cg, tenant, &e), 0);
    assert_false(exists(tenant_path));
    assert_int_equal(tl_count_fds(), before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(open_finds_own_cgroup, cleanup),
        cmocka_unit_test_teardown(open_respects_cgroup_namespace, cleanup),
        cmocka_unit_test_teardown(run_create_and_clone_into, cleanup),
        cmocka_unit_test_teardown(populated_reports, cleanup),
        cmocka_unit_test_teardown(kill_with_cgroup_kill, cleanup),
        cmocka_unit_test_teardown(kill_with_fallback, cleanup),
        cmocka_unit_test_teardown(invalid_names_refused, cleanup),
        cmocka_unit_test_teardown(missing_is_fine, cleanup),
        cmocka_unit_test_teardown(remove_busy_and_tenant_destroy, cleanup),
        cmocka_unit_test_teardown(tenant_destroy_with_fallback, cleanup),
        cmocka_unit_test_teardown(no_fd_leaks, cleanup),
        cmocka_unit_test_teardown(tenant_removed_under_handle, cleanup),
        cmocka_unit_test_teardown(kept_group_for_next_run, cleanup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
