/* rootfs.c: what a run sees after wr_rootfs_enter, checked from inside.
 *
 * The plan is made in the test process, in the host's mount namespace, as
 * spawn.c makes it. Each check then runs in a grandchild: the child unshares
 * its mount namespace, makes every mount private (so nothing here ever
 * touches the host's mounts) and unshares its pid namespace; the grandchild
 * it forks is pid 1 there, calls wr_rootfs_enter and checks what it sees,
 * reporting by exit code (CHILD_CHECK names the failed check on stderr).
 *
 * The home is a scratch directory holding "file". TMPDIR is set to /var/tmp
 * so the home lies outside /tmp and the run's /tmp can be checked empty; one
 * test puts a home under /tmp on purpose. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "rootfs.h"
#include "testlib.h"
#include "util.h"

#define T_USER "wr_rootfs_t"
#define T_UID 59970
#define T_GID 59971

typedef struct fixture {
    tl_scratch *s;
    wr_rootfs_spec spec;
    char rootdev[32]; /* major:minor of the host's / */
    int enter_ret, enter_step;
    int up[2], down[2]; /* grandchild → test, test → grandchild */
    char tmp_home[64];  /* a second home below /tmp, removed by teardown */
    bool swap_home;     /* after planning, the home's path becomes a link to /etc */
    char moved[TL_SCRATCH_MAX + 8];
    char kept[64]; /* kept mode: the directory of kept roots */
} fixture;

/* Every test runs twice: with the root built for each run, and with a kept
 * root (spec.template_dir), whose copy each run joins. */
static bool kept_mode;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->s = tl_scratch_new("rootfs");
    if (!f->s) {
        free(f);
        return -1;
    }
    tl_write_at(f->s->fd, "file", "hello\n", 0644);
    struct stat st;
    assert_int_equal(stat("/", &st), 0);
    snprintf(f->rootdev, sizeof f->rootdev, "%u:%u", major(st.st_dev), minor(st.st_dev));
    f->spec = (wr_rootfs_spec){
        .home_dir = f->s->dir,
        .home_fd = f->s->fd,
        .cwd = NULL,
        .username = T_USER,
        .uid = T_UID,
        .gid = T_GID,
        .hostname = "warren-test",
        .tmp_bytes = 16 << 20,
    };
    if (kept_mode) {
        snprintf(f->kept, sizeof f->kept, "/var/tmp/warren-test-rootns.XXXXXX");
        assert_non_null(mkdtemp(f->kept));
        f->spec.template_dir = f->kept;
    }
    f->up[0] = f->up[1] = f->down[0] = f->down[1] = -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    for (int i = 0; i < 2; i++) {
        if (f->up[i] >= 0) close(f->up[i]);
        if (f->down[i] >= 0) close(f->down[i]);
    }
    if (f->tmp_home[0]) tl_scratch_remove(f->tmp_home);
    if (f->moved[0]) {
        unlink(f->s->dir);
        rename(f->moved, f->s->dir);
    }
    if (f->kept[0]) {
        wr_err e = WR_ERR_INIT;
        assert_int_equal(wr_rootfs_template_remove(f->kept, T_USER, &e), 0);
        assert_int_equal(rmdir(f->kept), 0); /* nothing else was left there */
    }
    tl_scratch_free(f->s);
    free(f);
    return 0;
}

/* Plans in this process, then runs fn inside a fresh rootfs in a grandchild
 * that is pid 1 of its own pid namespace. With expect_fail, fn also runs when
 * wr_rootfs_enter fails (f->enter_ret, f->enter_step say how). Returns the
 * child's pid for the caller to wait for. */
static pid_t start_inside(fixture *f, int (*fn)(fixture *f), bool expect_fail) {
    wr_rootfs *r = NULL;
    wr_err e = WR_ERR_INIT;
    int ret = wr_rootfs_plan(&f->spec, &r, &e);
    if (ret < 0) fail_msg("plan: %s", e.msg);
    if (f->swap_home) {
        snprintf(f->moved, sizeof f->moved, "%s.moved", f->s->dir);
        assert_int_equal(rename(f->s->dir, f->moved), 0);
        assert_int_equal(symlink("/etc", f->s->dir), 0);
    }

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0) _exit(10);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) _exit(11);
        if (unshare(CLONE_NEWPID) < 0) _exit(12);
        pid_t g = fork();
        if (g < 0) _exit(13);
        if (g == 0) {
            int step = -1;
            f->enter_ret = wr_rootfs_enter(r, &step);
            f->enter_step = step;
            if (f->enter_ret < 0 && !expect_fail) {
                fprintf(stderr, "enter failed: %s: %s\n", wr_rootfs_step_name(step),
                        strerror(-f->enter_ret));
                _exit(20);
            }
            _exit(fn(f));
        }
        int status;
        if (waitpid(g, &status, 0) != g) _exit(14);
        if (WIFSIGNALED(status)) {
            fprintf(stderr, "grandchild killed by signal %d\n", WTERMSIG(status));
            _exit(15);
        }
        _exit(WEXITSTATUS(status));
    }
    wr_rootfs_free(r);
    return pid;
}

static void run_inside(fixture *f, int (*fn)(fixture *f)) {
    tl_wait_exit0(start_inside(f, fn, false));
}

/* --- helpers for the inside ---------------------------------------------------- */

/* The names in dir other than . and .., sorted, joined by spaces. */
static int list_dir(const char *dir, char *out, size_t size) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) return -1;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (!streq(nm, ".") && !streq(nm, "..")) {
            if (out[0]) strncat(out, " ", size - strlen(out) - 1);
            strncat(out, nm, size - strlen(out) - 1);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

static ssize_t read_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t got = 0;
    ssize_t n;
    while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
    return (ssize_t)got;
}

/* errno of creating path, 0 if it could (and then it is removed again). */
static int create_errno(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    close(fd);
    unlink(path);
    return 0;
}

/* Runs argv with a small environment and its stdout captured in out;
 * returns the exit status (-1 if it did not exit). */
static int run_capture(char *const argv[], char *out, size_t size) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C", NULL};
        dup2(p[1], 1);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (got < size - 1 && (n = read(p[0], out + got, size - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(p[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/* --- the home ------------------------------------------------------------------ */

static int inside_home(fixture *f) {
    char path[PATH_MAX], buf[64];
    snprintf(path, sizeof path, "%s/file", f->spec.home_dir);
    CHILD_CHECK(read_file(path, buf, sizeof buf) == 6 && streq(buf, "hello\n"));
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(write(fd, "again\n", 6) == 6);
    close(fd);
    snprintf(path, sizeof path, "%s/new", f->spec.home_dir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(write(fd, "from inside\n", 12) == 12);
    close(fd);
    /* The cwd defaults to the home. */
    char cwd[PATH_MAX];
    CHILD_CHECK(getcwd(cwd, sizeof cwd) && streq(cwd, f->spec.home_dir));
    return 0;
}

static void test_home_read_write(void **state) {
    fixture *f = *state;
    run_inside(f, inside_home);
    char buf[64];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/file", f->s->dir);
    assert_true(read_file(path, buf, sizeof buf) > 0);
    assert_string_equal(buf, "hello\nagain\n");
    snprintf(path, sizeof path, "%s/new", f->s->dir);
    assert_true(read_file(path, buf, sizeof buf) > 0);
    assert_string_equal(buf, "from inside\n");
}

/* The home mount carries nosuid,nodev. */
static int inside_home_flags(fixture *f) {
    FILE *m = fopen("/proc/self/mountinfo", "re");
    CHILD_CHECK(m);
    char line[4096];
    bool found = false;
    while (fgets(line, sizeof line, m)) {
        char mp[PATH_MAX], opts[512];
        if (sscanf(line, "%*d %*d %*s %*s %4095s %511s", mp, opts) != 2) continue;
        if (!streq(mp, f->spec.home_dir)) continue;
        found = true;
        CHILD_CHECK(strstr(opts, "nosuid") && strstr(opts, "nodev") && !strstr(opts, "ro,") &&
                    strncmp(opts, "ro", 2) != 0);
    }
    fclose(m);
    CHILD_CHECK(found);
    return 0;
}

static void test_home_nosuid_nodev(void **state) {
    run_inside(*state, inside_home_flags);
}

/* The home is attached from the fd the caller opened: swapping its path for
 * a link after planning changes nothing inside. */
static int inside_home_swapped(fixture *f) {
    char path[PATH_MAX], buf[64];
    struct stat st;
    CHILD_CHECK(lstat(f->spec.home_dir, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(path, sizeof path, "%s/file", f->spec.home_dir);
    CHILD_CHECK(read_file(path, buf, sizeof buf) == 6 && streq(buf, "hello\n"));
    snprintf(path, sizeof path, "%s/passwd", f->spec.home_dir);
    CHILD_CHECK(access(path, F_OK) < 0 && errno == ENOENT);
    return 0;
}

static void test_home_from_fd_not_path(void **state) {
    fixture *f = *state;
    f->swap_home = true;
    run_inside(f, inside_home_swapped);
}

/* A home below /tmp lands in the run's private /tmp, which holds nothing
 * else. */
static int inside_home_in_tmp(fixture *f) {
    char path[PATH_MAX], buf[64], list[256];
    snprintf(path, sizeof path, "%s/file", f->spec.home_dir);
    CHILD_CHECK(read_file(path, buf, sizeof buf) == 6 && streq(buf, "hello\n"));
    CHILD_CHECK(list_dir("/tmp", list, sizeof list) == 0);
    CHILD_CHECK(streq(list, f->spec.home_dir + strlen("/tmp/")));
    return 0;
}

static void test_home_below_tmp(void **state) {
    fixture *f = *state;
    snprintf(f->tmp_home, sizeof f->tmp_home, "/tmp/warren-test-rootfs-home.XXXXXX");
    assert_non_null(mkdtemp(f->tmp_home));
    int fd = open(f->tmp_home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    tl_write_at(fd, "file", "hello\n", 0644);
    f->spec.home_dir = f->tmp_home;
    f->spec.home_fd = fd;
    pid_t pid = start_inside(f, inside_home_in_tmp, false);
    close(fd);
    tl_wait_exit0(pid);
}

/* --- read-only and writable places --------------------------------------------- */

static int inside_readonly(fixture *f) {
    CHILD_CHECK(create_errno("/warren-probe") == EROFS);
    CHILD_CHECK(mkdir("/warren-probe-dir", 0700) < 0 && errno == EROFS);
    CHILD_CHECK(create_errno("/etc/warren-probe") == EROFS);
    CHILD_CHECK(create_errno("/etc/passwd") == EEXIST); /* exists; and: */
    CHILD_CHECK(open("/etc/passwd", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS);
    CHILD_CHECK(create_errno("/usr/warren-probe") == EROFS);
    CHILD_CHECK(create_errno("/usr/bin/warren-probe") == EROFS);
    CHILD_CHECK(open("/etc/ld.so.cache", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS);
    CHILD_CHECK(create_errno("/dev/warren-probe") == EROFS);
    return 0;
}

static void test_readonly(void **state) {
    run_inside(*state, inside_readonly);
}

static int inside_tmp(fixture *f) {
    char list[256];
    CHILD_CHECK(list_dir("/tmp", list, sizeof list) == 0 && streq(list, ""));
    CHILD_CHECK(list_dir("/dev/shm", list, sizeof list) == 0 && streq(list, ""));
    CHILD_CHECK(create_errno("/tmp/warren-probe") == 0);
    CHILD_CHECK(create_errno("/dev/shm/warren-probe") == 0);
    struct stat st;
    CHILD_CHECK(stat("/tmp", &st) == 0 && (st.st_mode & 07777) == 01777);
    CHILD_CHECK(stat("/dev/shm", &st) == 0 && (st.st_mode & 07777) == 01777);
    return 0;
}

static void test_tmp_private(void **state) {
    fixture *f = *state;
    if (!strncmp(f->s->dir, "/tmp/", 5)) skip(); /* no /var/tmp: the home is in /tmp */
    run_inside(f, inside_tmp);
}

/* --- /etc -------------------------------------------------------------------- */

static int inside_etc(fixture *f) {
    char buf[4096], want[1024];
    CHILD_CHECK(read_file("/etc/passwd", buf, sizeof buf) > 0);
    snprintf(want, sizeof want, "root:x:0:0:root:/root:/usr/sbin/nologin\n%s:x:%u:%u::%s:/bin/sh\n",
             T_USER, T_UID, T_GID, f->spec.home_dir);
    CHILD_CHECK(streq(buf, want));
    CHILD_CHECK(read_file("/etc/group", buf, sizeof buf) > 0);
    snprintf(want, sizeof want, "root:x:0:\n%s:x:%u:\n", T_USER, T_GID);
    CHILD_CHECK(streq(buf, want));
    CHILD_CHECK(read_file("/etc/hostname", buf, sizeof buf) > 0 && streq(buf, "warren-test\n"));
    CHILD_CHECK(read_file("/etc/hosts", buf, sizeof buf) > 0 && strstr(buf, "\twarren-test\n"));
    struct stat st;
    CHILD_CHECK(stat("/etc/passwd", &st) == 0 && (st.st_mode & 07777) == 0644);
    /* What must never be there. */
    static const char *const absent[] = {"/etc/shadow",        "/etc/gshadow", "/etc/ssh",
                                         "/etc/ld.so.preload", "/etc/sudoers", "/etc/ssl/private",
                                         "/etc/subuid",        "/etc/passwd-", "/etc/machine-id"};
    for (size_t i = 0; i < ELEMENTSOF(absent); i++) {
        errno = 0;
        if (lstat(absent[i], &st) == 0 || errno != ENOENT) {
            fprintf(stderr, "%s is visible\n", absent[i]);
            return 1;
        }
    }
    /* What programs need is there; links stay links. */
    CHILD_CHECK(stat("/etc/ld.so.cache", &st) == 0 && S_ISREG(st.st_mode));
    CHILD_CHECK(lstat("/etc/os-release", &st) == 0);
    CHILD_CHECK(read_file("/etc/os-release", buf, sizeof buf) > 0 && strstr(buf, "ID="));
    if (access("/etc/alternatives", F_OK) == 0)
        CHILD_CHECK(stat("/etc/alternatives", &st) == 0 && S_ISDIR(st.st_mode));
    return 0;
}

static void test_etc(void **state) {
    run_inside(*state, inside_etc);
}

/* The host's links into /usr (merged /usr) are links inside too, and work. */
static int inside_system_links(fixture *f) {
    static const char *const dirs[] = {"/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"};
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
        struct stat st;
        /* The test process wrote what the host has into the home. */
        char path[PATH_MAX], kind[16];
        snprintf(path, sizeof path, "%s/kind%s", f->spec.home_dir, dirs[i] + 1);
        CHILD_CHECK(read_file(path, kind, sizeof kind) > 0);
        errno = 0;
        int r = lstat(dirs[i], &st);
        if (streq(kind, "link"))
            CHILD_CHECK(r == 0 && S_ISLNK(st.st_mode));
        else if (streq(kind, "dir"))
            CHILD_CHECK(r == 0 && S_ISDIR(st.st_mode));
        else
            CHILD_CHECK(r < 0 && errno == ENOENT);
    }
    CHILD_CHECK(access("/bin/sh", X_OK) == 0);
    return 0;
}

static void test_system_links(void **state) {
    fixture *f = *state;
    static const char *const dirs[] = {"bin", "sbin", "lib", "lib64", "lib32", "libx32"};
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
        char host[32], name[32];
        snprintf(host, sizeof host, "/%s", dirs[i]);
        snprintf(name, sizeof name, "kind%s", dirs[i]);
        struct stat st;
        const char *kind = lstat(host, &st) < 0  ? "none"
                           : S_ISLNK(st.st_mode) ? "link"
                           : S_ISDIR(st.st_mode) ? "dir"
                                                 : "none";
        tl_write_at(f->s->fd, name, kind, 0644);
    }
    run_inside(f, inside_system_links);
}

/* --- /dev, /sys ---------------------------------------------------------------- */

static int inside_dev(fixture *f) {
    char list[512];
    CHILD_CHECK(list_dir("/dev", list, sizeof list) == 0);
    if (!streq(list, "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero")) {
        fprintf(stderr, "/dev holds: %s\n", list);
        return 1;
    }
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    char c;
    CHILD_CHECK(write(fd, "x", 1) == 1);
    CHILD_CHECK(read(fd, &c, 1) == 0);
    close(fd);
    fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0 && read(fd, &c, 1) == 1 && c == 0);
    close(fd);
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0 && read(fd, &c, 1) == 1);
    close(fd);
    /* A new devpts instance: a pty can be made, and it is the only one. */
    fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(list_dir("/dev/pts", list, sizeof list) == 0 && streq(list, "0 ptmx"));
    close(fd);
    char target[64];
    ssize_t n = readlink("/dev/fd", target, sizeof target - 1);
    CHILD_CHECK(n > 0);
    target[n] = '\0';
    CHILD_CHECK(streq(target, "/proc/self/fd"));
    CHILD_CHECK(access("/dev/stdout", F_OK) == 0);
    struct stat st;
    errno = 0;
    CHILD_CHECK(lstat("/sys", &st) < 0 && errno == ENOENT);
    return 0;
}

static void test_dev_minimal(void **state) {
    run_inside(*state, inside_dev);
}

/* --- /proc --------------------------------------------------------------------- */

static int inside_proc(fixture *f) {
    CHILD_CHECK(getpid() == 1);
    char target[32];
    ssize_t n = readlink("/proc/self", target, sizeof target - 1);
    CHILD_CHECK(n > 0);
    target[n] = '\0';
    CHILD_CHECK(streq(target, "1"));
    /* Only this namespace's processes: this one. */
    DIR *d = opendir("/proc");
    CHILD_CHECK(d);
    int pids = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] >= '0' && de->d_name[0] <= '9') pids++;
    closedir(d);
    CHILD_CHECK(pids == 1);

    /* Masked: whichever of these the kernel has reads as empty. */
    static const char *const masked[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list",
                                         "/proc/sched_debug"};
    int seen = 0;
    for (size_t i = 0; i < ELEMENTSOF(masked); i++) {
        char buf[64];
        if (access(masked[i], F_OK) < 0) continue;
        seen++;
        if (read_file(masked[i], buf, sizeof buf) != 0) {
            fprintf(stderr, "%s is not masked\n", masked[i]);
            return 1;
        }
    }
    CHILD_CHECK(seen > 0);
    if (access("/proc/sysrq-trigger", F_OK) == 0) {
        int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
        /* Bound to /dev/null: a write goes nowhere. */
        CHILD_CHECK(fd >= 0 && write(fd, "h", 1) == 1);
        close(fd);
    }
    if (access("/proc/acpi", F_OK) == 0) {
        char list[64];
        CHILD_CHECK(list_dir("/proc/acpi", list, sizeof list) == 0 && streq(list, ""));
        CHILD_CHECK(create_errno("/proc/acpi/x") == EROFS);
    }
    int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
    CHILD_CHECK(fd < 0 && errno == EROFS);
    fd = open("/proc/sys/kernel/hostname", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    close(fd);
    return 0;
}

static void test_proc(void **state) {
    run_inside(*state, inside_proc);
}

/* --- the old root -------------------------------------------------------------- */

/* Every mount of the host's root filesystem is one of the intended binds at
 * its own path: system directories, /etc entries, the home. */
static bool intended(const char *mp, const char *home) {
    static const char *const tops[] = {"/usr",   "/bin",   "/sbin",   "/lib",
                                       "/lib64", "/lib32", "/libx32", "/etc/"};
    if (streq(mp, home)) return true;
    for (size_t i = 0; i < ELEMENTSOF(tops); i++) {
        size_t l = strlen(tops[i]);
        if (!strncmp(mp, tops[i], l) && (tops[i][l - 1] == '/' || mp[l] == '\0' || mp[l] == '/'))
            return true;
    }
    return false;
}

static int inside_old_root(fixture *f) {
    struct stat st;
    static const char *const gone[] = {"/.old", "/work",     "/root", "/home", "/var/tmp",
                                       "/sys",  "/old_root", "/mnt",  "/run",  "/boot"};
    for (size_t i = 0; i < ELEMENTSOF(gone); i++) {
        /* /var/tmp is the home's parent when TMPDIR put it there. */
        if (!strncmp(f->spec.home_dir, gone[i], strlen(gone[i]))) continue;
        errno = 0;
        if (lstat(gone[i], &st) == 0 || errno != ENOENT) {
            fprintf(stderr, "%s is visible\n", gone[i]);
            return 1;
        }
    }
    /* Nothing else in the home's parent (the other scratch directories). */
    char parent[PATH_MAX], list[512];
    snprintf(parent, sizeof parent, "%s", f->spec.home_dir);
    *strrchr(parent, '/') = '\0';
    CHILD_CHECK(list_dir(parent, list, sizeof list) == 0);
    CHILD_CHECK(streq(list, strrchr(f->spec.home_dir, '/') + 1));

    FILE *m = fopen("/proc/self/mountinfo", "re");
    CHILD_CHECK(m);
    char line[4096];
    int lines = 0;
    while (fgets(line, sizeof line, m)) {
        char dev[32], root[PATH_MAX], mp[PATH_MAX];
        if (sscanf(line, "%*d %*d %31s %4095s %4095s", dev, root, mp) != 3) continue;
        lines++;
        CHILD_CHECK(strncmp(mp, "/.old", 5) != 0);
        if (!streq(dev, f->rootdev)) continue;
        if (!streq(root, mp) || !intended(mp, f->spec.home_dir)) {
            fprintf(stderr, "host root's %s is visible at %s\n", root, mp);
            return 1;
        }
    }
    fclose(m);
    CHILD_CHECK(lines > 5);
    return 0;
}

static void test_old_root_gone(void **state) {
    run_inside(*state, inside_old_root);
}

/* --- propagation --------------------------------------------------------------- */

static int inside_mount_probe(fixture *f) {
    CHILD_CHECK(mkdir("/tmp/x", 0700) == 0);
    char src[64];
    snprintf(src, sizeof src, "warren-rootfs-probe-%d", (int)getppid());
    CHILD_CHECK(mount(src, "/tmp/x", "tmpfs", 0, "size=4k") == 0);
    char c = 'm';
    CHILD_CHECK(write(f->up[1], &c, 1) == 1);
    /* Stay until the test has looked at the host's mounts. */
    CHILD_CHECK(read(f->down[0], &c, 1) == 1);
    return 0;
}

/* Whether the host's mount table mentions s. */
static bool host_mounts_mention(const char *s) {
    FILE *m = fopen("/proc/self/mountinfo", "re");
    assert_non_null(m);
    char line[4096];
    bool found = false;
    while (fgets(line, sizeof line, m))
        if (strstr(line, s)) found = true;
    fclose(m);
    return found;
}

static void test_mount_inside_stays_inside(void **state) {
    fixture *f = *state;
    assert_int_equal(pipe2(f->up, O_CLOEXEC), 0);
    assert_int_equal(pipe2(f->down, O_CLOEXEC), 0);
    pid_t pid = start_inside(f, inside_mount_probe, false);
    close(f->up[1]);
    f->up[1] = -1;
    char c;
    assert_int_equal(read(f->up[0], &c, 1), 1);
    char probe[64];
    snprintf(probe, sizeof probe, "warren-rootfs-probe-%d", (int)pid);
    /* While the run is alive: neither its mounts nor its home's bind. */
    assert_false(host_mounts_mention(probe));
    assert_false(host_mounts_mention("warren-rootfs-probe"));
    char home_mp[PATH_MAX + 8];
    snprintf(home_mp, sizeof home_mp, " %s ", f->s->dir);
    assert_false(host_mounts_mention(home_mp));
    assert_int_equal(write(f->down[1], "x", 1), 1);
    tl_wait_exit0(pid);
    assert_false(host_mounts_mention(probe));
}

/* The probe must be visible from inside: otherwise the test above proves
 * nothing. */
static int inside_mount_visible(fixture *f) {
    CHILD_CHECK(mkdir("/tmp/x", 0700) == 0);
    CHILD_CHECK(mount("warren-rootfs-probe", "/tmp/x", "tmpfs", 0, "size=4k") == 0);
    FILE *m = fopen("/proc/self/mountinfo", "re");
    CHILD_CHECK(m);
    char line[4096];
    bool found = false;
    while (fgets(line, sizeof line, m))
        if (strstr(line, " /tmp/x ") && strstr(line, "warren-rootfs-probe")) found = true;
    fclose(m);
    CHILD_CHECK(found);
    return 0;
}

static void test_mount_probe_visible_inside(void **state) {
    run_inside(*state, inside_mount_visible);
}

/* --- programs run -------------------------------------------------------------- */

static int inside_sh(fixture *f) {
    char out[256];
    char *argv[] = {"/bin/sh", "-c", "echo ok", NULL};
    CHILD_CHECK(run_capture(argv, out, sizeof out) == 0);
    CHILD_CHECK(streq(out, "ok\n"));
    return 0;
}

static void test_exec_sh(void **state) {
    run_inside(*state, inside_sh);
}

static int inside_python(fixture *f) {
    char out[256];
    char *argv[] = {"/usr/bin/python3", "-c",
                    "import ssl, json, time, socket, pwd; print(1, pwd.getpwuid(0).pw_name, "
                    "socket.gethostname() and 'h')",
                    NULL};
    int r = run_capture(argv, out, sizeof out);
    if (r != 0 || !streq(out, "1 root h\n")) {
        fprintf(stderr, "python3: exit %d, output '%s'\n", r, out);
        return 1;
    }
    return 0;
}

static void test_exec_python(void **state) {
    if (access("/usr/bin/python3", X_OK) < 0) skip();
    run_inside(*state, inside_python);
}

static int inside_gcc(fixture *f) {
    int fd = open("/tmp/hello.c", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHILD_CHECK(fd >= 0);
    const char *src = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";
    CHILD_CHECK(write(fd, src, strlen(src)) == (ssize_t)strlen(src));
    close(fd);
    CHILD_CHECK(chdir("/tmp") == 0);
    char out[256];
    char *cc[] = {"/usr/bin/gcc", "-o", "/tmp/hello", "/tmp/hello.c", NULL};
    int r = run_capture(cc, out, sizeof out);
    if (r != 0) {
        fprintf(stderr, "gcc: exit %d\n", r);
        return 1;
    }
    char *run[] = {"/tmp/hello", NULL};
    CHILD_CHECK(run_capture(run, out, sizeof out) == 0);
    CHILD_CHECK(streq(out, "hello\n"));
    return 0;
}

static void test_exec_gcc(void **state) {
    if (access("/usr/bin/gcc", X_OK) < 0) skip();
    run_inside(*state, inside_gcc);
}

static int inside_node(fixture *f) {
    char out[256];
    char *argv[] = {"/usr/bin/node", "-e", "console.log(1 + 1, require('os').hostname())", NULL};
    int r = run_capture(argv, out, sizeof out);
    if (r != 0 || !streq(out, "2 warren-test-ns\n")) {
        fprintf(stderr, "node: exit %d, output '%s'\n", r, out);
        return 1;
    }
    return 0;
}

static int inside_node_with_hostname(fixture *f) {
    /* The hostname is spawn.c's (a uts namespace); here it is set the same way. */
    CHILD_CHECK(unshare(CLONE_NEWUTS) == 0);
    CHILD_CHECK(sethostname("warren-test-ns", 14) == 0);
    return inside_node(f);
}

static void test_exec_node(void **state) {
    if (access("/usr/bin/node", X_OK) < 0) skip();
    run_inside(*state, inside_node_with_hostname);
}

/* --- failures ------------------------------------------------------------------ */

static int inside_expect_cwd_failure(fixture *f) {
    int want = f->up[0]; /* the errno expected, carried in an unused field */
    if (f->enter_ret != -want || f->enter_step != WR_ROOTFS_CWD) {
        fprintf(stderr, "enter: %d at step %d (%s)\n", f->enter_ret, f->enter_step,
                wr_rootfs_step_name(f->enter_step));
        return 1;
    }
    CHILD_CHECK(streq(wr_rootfs_step_name(f->enter_step), "chdir to the working directory"));
    return 0;
}

static void expect_cwd_failure(fixture *f, const char *cwd, int err) {
    f->spec.cwd = cwd;
    f->up[0] = err;
    tl_wait_exit0(start_inside(f, inside_expect_cwd_failure, true));
    f->up[0] = -1;
}

static void test_step_cwd_missing(void **state) {
    fixture *f = *state;
    expect_cwd_failure(f, "/does-not-exist", ENOENT);
}

/* The cwd is looked up without following links: not the system's merged-usr
 * ones, and above all not one the tenant planted in its home. */
static void test_step_cwd_no_links(void **state) {
    fixture *f = *state;
    struct stat st;
    if (lstat("/bin", &st) == 0 && S_ISLNK(st.st_mode)) expect_cwd_failure(f, "/bin", ELOOP);
    assert_int_equal(symlinkat("/etc", f->s->fd, "link"), 0);
    char cwd[PATH_MAX];
    snprintf(cwd, sizeof cwd, "%s/link", f->s->dir);
    expect_cwd_failure(f, cwd, ELOOP);
}

static void test_step_names(void **state) {
    (void)state;
    tl_assert_step_names(wr_rootfs_step_name, WR_ROOTFS_STEP_MAX, "unknown step");
    assert_string_equal(wr_rootfs_step_name(WR_ROOTFS_PIVOT), "pivot_root");
}

static void expect_plan_invalid(const wr_rootfs_spec *spec, int err, const char *in_msg) {
    wr_rootfs *r = (wr_rootfs *)0x1;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_rootfs_plan(spec, &r, &e), -err);
    assert_ptr_equal(r, (wr_rootfs *)0x1); /* untouched */
    assert_int_equal(e.kind, WR_ERR_INVALID);
    if (!strstr(e.msg, in_msg)) fail_msg("message '%s' does not name '%s'", e.msg, in_msg);
}

static void test_plan_refuses(void **state) {
    fixture *f = *state;
    int before = tl_count_fds();
    wr_rootfs_spec s = f->spec;
    s.home_fd = -1;
    expect_plan_invalid(&s, EBADF, f->s->dir);
    s = f->spec;
    s.home_dir = "relative/home";
    expect_plan_invalid(&s, EINVAL, "relative/home");
    s.home_dir = "/var/tmp/../etc";
    expect_plan_invalid(&s, EINVAL, "/var/tmp/../etc");
    s.home_dir = "/usr/local/home";
    expect_plan_invalid(&s, EINVAL, "/usr/local/home");
    s.home_dir = "/proc/1";
    expect_plan_invalid(&s, EINVAL, "/proc/1");
    s.home_dir = "/";
    expect_plan_invalid(&s, EINVAL, "home '/'");
    s.home_dir = "/.old/x";
    expect_plan_invalid(&s, EINVAL, "/.old/x");
    s.home_dir = "/etc";
    expect_plan_invalid(&s, EINVAL, "home '/etc'");
    s = f->spec;
    s.cwd = "/tmp/./x";
    expect_plan_invalid(&s, EINVAL, "/tmp/./x");
    s = f->spec;
    s.username = "bad:name";
    expect_plan_invalid(&s, EINVAL, "bad:name");
    s = f->spec;
    s.hostname = "host\nname";
    expect_plan_invalid(&s, EINVAL, "hostname");
    s = f->spec;
    int file = openat(f->s->fd, "file", O_RDONLY | O_CLOEXEC);
    assert_true(file >= 0);
    s.home_fd = file;
    expect_plan_invalid(&s, ENOTDIR, "not a directory");
    close(file);
    assert_int_equal(tl_count_fds(), before);
}

/* A plan holds one fd (the home's detached mount) and frees it. */
static void test_plan_no_leak(void **state) {
    fixture *f = *state;
    int before = tl_count_fds();
    for (int i = 0; i < 3; i++) {
        wr_rootfs *r = NULL;
        wr_err e = WR_ERR_INIT;
        assert_int_equal(wr_rootfs_plan(&f->spec, &r, &e), 0);
        assert_non_null(r);
        assert_int_equal(tl_count_fds(), before + 1);
        wr_rootfs_free(r);
    }
    assert_int_equal(tl_count_fds(), before);
    wr_rootfs_free(NULL);
}

/* Kept mode: the root is built once and then reused; a plan for another home
 * (a new key) replaces the tenant's kept root rather than adding one. */
static int count_entries(const char *dir) {
    char list[512];
    if (list_dir(dir, list, sizeof list) < 0) return -1;
    int n = 0;
    for (char *c = list; *c; c++)
        if (*c == ' ') n++;
    return list[0] ? n + 1 : 0;
}

static void test_kept_root_reused(void **state) {
    fixture *f = *state;
    for (int i = 0; i < 2; i++) {
        wr_rootfs *r = NULL;
        wr_err e = WR_ERR_INIT;
        assert_int_equal(wr_rootfs_plan(&f->spec, &r, &e), 0);
        assert_int_equal(wr_rootfs_needs_new_mount_ns(r), !kept_mode);
        wr_rootfs_free(r);
        if (kept_mode) assert_int_equal(count_entries(f->kept), 1);
    }
    if (!kept_mode) return;
    char list1[512], list2[512];
    assert_int_equal(list_dir(f->kept, list1, sizeof list1), 0);
    tl_scratch *other = tl_scratch_new("rootfs-other");
    assert_non_null(other);
    wr_rootfs_spec spec = f->spec;
    spec.home_dir = other->dir;
    spec.home_fd = other->fd;
    wr_rootfs *r = NULL;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_rootfs_plan(&spec, &r, &e), 0);
    assert_false(wr_rootfs_needs_new_mount_ns(r));
    wr_rootfs_free(r);
    assert_int_equal(list_dir(f->kept, list2, sizeof list2), 0);
    assert_int_equal(count_entries(f->kept), 1);
    assert_string_not_equal(list1, list2);
    tl_scratch_free(other);
}

int main(void) {
    /* Homes outside /tmp, so the run's /tmp can be checked empty. */
    struct stat st;
    if (stat("/var/tmp", &st) == 0 && S_ISDIR(st.st_mode)) setenv("TMPDIR", "/var/tmp", 1);
    if (geteuid() != 0) {
        printf("1..0 # SKIP rootfs tests need root\n");
        return 0;
    }
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_home_read_write),
        T(test_home_nosuid_nodev),
        T(test_home_below_tmp),
        T(test_home_from_fd_not_path),
        T(test_readonly),
        T(test_tmp_private),
        T(test_etc),
        T(test_system_links),
        T(test_dev_minimal),
        T(test_proc),
        T(test_old_root_gone),
        T(test_mount_inside_stays_inside),
        T(test_mount_probe_visible_inside),
        T(test_exec_sh),
        T(test_exec_python),
        T(test_exec_gcc),
        T(test_exec_node),
        T(test_step_cwd_missing),
        T(test_step_cwd_no_links),
        cmocka_unit_test(test_step_names),
        T(test_plan_refuses),
        T(test_plan_no_leak),
        T(test_kept_root_reused),
    };
    int failed = cmocka_run_group_tests_name("built for each run", tests, NULL, NULL);
    kept_mode = true;
    failed += cmocka_run_group_tests_name("kept root", tests, NULL, NULL);
    return failed;
}
