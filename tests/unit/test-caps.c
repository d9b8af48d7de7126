/* caps.c: after wr_caps_drop_all and the uid change a run holds no capability
 * in any set, cannot get one back through a setuid-root program, and
 * wr_caps_verify_none can tell when that is not so. Every check runs in a
 * forked child of the test (root, outside any namespace); the only file it
 * makes is a setuid-root copy of cat in its own mkdtemp() directory, which
 * only the test's group may run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "caps.h"
#include "testlib.h"
#include "util.h"

#define T_UID 59981
#define T_GID 59981

/* --- counting allocations ---------------------------------------------------- */

/* What a strong run's command does: the bounding set first, the rest later
 * (spawn-command.c runs other steps in between). */
static int drop_everything(void) {
    int r = wr_caps_drop_bounding();
    return r < 0 ? r : wr_caps_drop_all();
}

/* wr_caps_drop_all runs in a freshly created child, so it must not allocate.
 * This binary's malloc, calloc and realloc stand in front of glibc's and count
 * while `counting` is set. AddressSanitizer brings its own allocator, so the
 * check is left out under it. */
#if defined(__SANITIZE_ADDRESS__)
#define T_COUNT_ALLOCS 0
#else
#define T_COUNT_ALLOCS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
static volatile int counting, allocations;
void *malloc(size_t n) {
    if (counting) allocations++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
    if (counting) allocations++;
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
    if (counting) allocations++;
    return __libc_realloc(p, n);
}
#endif

/* --- fixture: a setuid-root cat ---------------------------------------------- */

typedef struct fixture {
    tl_scratch *s;
    char cat[TL_SCRATCH_MAX + 16];
    bool suid_works; /* setuid bits take effect where the copy lives */
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->s = tl_scratch_new("caps");
    if (!f->s) {
        free(f);
        return -1;
    }
    snprintf(f->cat, sizeof f->cat, "%s/cat", f->s->dir);
    /* Others may pass through the directory (the child runs as T_UID) but
     * only T_GID may run the copy. */
    assert_int_equal(fchmod(f->s->fd, 0711), 0);
    tl_copy_file("/bin/cat", f->s->fd, "cat", 0700);
    /* The owner first: a chown clears the setuid bit. */
    assert_int_equal(fchownat(f->s->fd, "cat", 0, T_GID, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(fchmodat(f->s->fd, "cat", 04750, 0), 0);

    struct statvfs sv;
    assert_int_equal(fstatvfs(f->s->fd, &sv), 0);
    f->suid_works = !(sv.f_flag & ST_NOSUID) && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0;
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

typedef struct status_caps {
    unsigned long long inh, prm, eff, bnd, amb;
    unsigned euid;
} status_caps;

/* Parses the Cap* and Uid lines of a /proc/<pid>/status text. */
static bool parse_status(const char *text, status_caps *c) {
    int found = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        unsigned r, e;
        found += sscanf(l, "CapInh: %llx", &c->inh) == 1;
        found += sscanf(l, "CapPrm: %llx", &c->prm) == 1;
        found += sscanf(l, "CapEff: %llx", &c->eff) == 1;
        found += sscanf(l, "CapBnd: %llx", &c->bnd) == 1;
        found += sscanf(l, "CapAmb: %llx", &c->amb) == 1;
        if (sscanf(l, "Uid: %u %u", &r, &e) == 2) {
            c->euid = e;
            found++;
        }
    }
    return found == 6;
}

static bool own_status(status_caps *c) {
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    return parse_status(buf, c);
}

/* Runs `path /proc/self/status` (the setuid cat) in a grandchild and parses
 * what it printed about itself. */
static bool status_through(const char *path, status_caps *c) {
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) return false;
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        if (dup2(pfd[1], STDOUT_FILENO) < 0) _exit(127);
        char *const argv[] = {(char *)path, (char *)"/proc/self/status", NULL};
        char *const envp[] = {NULL};
        execve(path, argv, envp);
        _exit(127);
    }
    close(pfd[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(pfd[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(pfd[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid) return false;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
    return parse_status(buf, c);
}

static int become_tenant(void) {
    if (setgroups(0, NULL) < 0) return -errno;
    if (setresgid(T_GID, T_GID, T_GID) < 0) return -errno;
    if (setresuid(T_UID, T_UID, T_UID) < 0) return -errno;
    return 0;
}

static int set_nnp(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

/* --- the tests --------------------------------------------------------------- */

static int drop_child(void *arg) {
    (void)arg;
    CHILD_CHECK(drop_everything() == 0);
    /* Still root: the bounding, inheritable and ambient sets are empty, and
     * only what the uid change needs is left. */
    status_caps c;
    CHILD_CHECK(own_status(&c));
    CHILD_CHECK(c.bnd == 0 && c.inh == 0 && c.amb == 0);
    unsigned long long need = (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID);
    CHILD_CHECK(c.eff == need && c.prm == need);
    CHILD_CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0);

    CHILD_CHECK(become_tenant() == 0);
    CHILD_CHECK(set_nnp() == 0);
    CHILD_CHECK(wr_caps_verify_none() == 0);
    CHILD_CHECK(own_status(&c));
    CHILD_CHECK(c.inh == 0 && c.prm == 0 && c.eff == 0 && c.bnd == 0 && c.amb == 0);
    CHILD_CHECK(c.euid == T_UID);
    /* And nothing brings a capability back. */
    CHILD_CHECK(setresuid(0, 0, 0) < 0 && errno == EPERM);
    CHILD_CHECK(drop_everything() == -EPERM);
    return 0;
}

static void test_drop_all(void **state) {
    (void)state;
    tl_in_child(drop_child, NULL);
}

static int ambient_child(void *arg) {
    (void)arg;
    /* Raise an ambient capability (it must be inheritable and permitted). */
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    CHILD_CHECK(syscall(SYS_capget, &h, d) == 0);
    d[0].inheritable |= 1U << CAP_NET_BIND_SERVICE;
    CHILD_CHECK(syscall(SYS_capset, &h, d) == 0);
    CHILD_CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) == 0);
    CHILD_CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);

    CHILD_CHECK(drop_everything() == 0);
    CHILD_CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) == 0);
    CHILD_CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0);
    CHILD_CHECK(become_tenant() == 0);
    CHILD_CHECK(set_nnp() == 0);
    CHILD_CHECK(wr_caps_verify_none() == 0);
    return 0;
}

/* Ambient capabilities and keepcaps a parent left behind go too. */
static void test_drop_clears_ambient_and_keepcaps(void **state) {
    (void)state;
    tl_in_child(ambient_child, NULL);
}

static int suid_child(void *arg) {
    const fixture *f = arg;
    CHILD_CHECK(drop_everything() == 0);
    CHILD_CHECK(become_tenant() == 0);
    CHILD_CHECK(set_nnp() == 0);
    CHILD_CHECK(wr_caps_verify_none() == 0);
    status_caps c;
    CHILD_CHECK(status_through(f->cat, &c));
    CHILD_CHECK(c.euid == T_UID);
    CHILD_CHECK(c.inh == 0 && c.prm == 0 && c.eff == 0 && c.bnd == 0 && c.amb == 0);
    return 0;
}

/* Without no_new_privs the copy does become root, so the check above means
 * something; with the bounding set empty, that root still has nothing. */
struct control_arg {
    const fixture *f;
    bool drop;
};

static int suid_control_child(void *arg) {
    const struct control_arg *ca = arg;
    const fixture *f = ca->f;
    bool drop = ca->drop;
    if (drop) CHILD_CHECK(drop_everything() == 0);
    CHILD_CHECK(become_tenant() == 0);
    status_caps c;
    CHILD_CHECK(status_through(f->cat, &c));
    CHILD_CHECK(c.euid == 0);
    if (drop)
        CHILD_CHECK(c.prm == 0 && c.eff == 0 && c.bnd == 0);
    else
        CHILD_CHECK(c.eff != 0);
    return 0;
}

static void test_setuid_gives_nothing(void **state) {
    fixture *f = *state;
    if (!f->suid_works) {
        print_message("# %s: setuid has no effect here (nosuid or no_new_privs)\n", f->s->dir);
        skip();
    }
    tl_in_child(suid_child, f);
    struct control_arg control = {.f = f, .drop = false};
    tl_in_child(suid_control_child, &control);
    control.drop = true;
    tl_in_child(suid_control_child, &control);
}

static int no_drop_child(void *arg) {
    (void)arg;
    /* The uid change alone empties the effective and permitted sets but
     * leaves the bounding set full. */
    CHILD_CHECK(become_tenant() == 0);
    CHILD_CHECK(set_nnp() == 0);
    status_caps c;
    CHILD_CHECK(own_status(&c));
    CHILD_CHECK(c.eff == 0 && c.prm == 0 && c.bnd != 0);
    CHILD_CHECK(wr_caps_verify_none() == -EPERM);
    return 0;
}

static int no_uid_change_child(void *arg) {
    (void)arg;
    CHILD_CHECK(drop_everything() == 0);
    CHILD_CHECK(set_nnp() == 0);
    /* Still uid 0 with CAP_SETUID and CAP_SETGID. */
    CHILD_CHECK(wr_caps_verify_none() == -EPERM);
    return 0;
}

static int no_nnp_child(void *arg) {
    (void)arg;
    CHILD_CHECK(drop_everything() == 0);
    CHILD_CHECK(become_tenant() == 0);
    CHILD_CHECK(wr_caps_verify_none() == -EPERM);
    CHILD_CHECK(set_nnp() == 0);
    CHILD_CHECK(wr_caps_verify_none() == 0);
    return 0;
}

static void test_verify_can_fail(void **state) {
    (void)state;
    tl_in_child(no_drop_child, NULL);
    tl_in_child(no_uid_change_child, NULL);
    tl_in_child(no_nnp_child, NULL);
}

static void test_verify_as_root(void **state) {
    (void)state;
    /* The test process itself: root with its capabilities. */
    assert_int_equal(wr_caps_verify_none(), -EPERM);
}

static int alloc_child(void *arg) {
    (void)arg;
#if T_COUNT_ALLOCS
    counting = 1;
    int r = drop_everything();
    counting = 0;
    CHILD_CHECK(r == 0);
    if (allocations != 0) fprintf(stderr, "dropping the capabilities: %d allocations\n", allocations);
    CHILD_CHECK(allocations == 0);
    CHILD_CHECK(become_tenant() == 0);
    CHILD_CHECK(set_nnp() == 0);
    counting = 1;
    r = wr_caps_verify_none();
    counting = 0;
    CHILD_CHECK(r == 0);
    CHILD_CHECK(allocations == 0);
#endif
    return 0;
}

static void test_no_allocation(void **state) {
    (void)state;
    if (!T_COUNT_ALLOCS) skip();
    tl_in_child(alloc_child, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_all),
        cmocka_unit_test(test_drop_clears_ambient_and_keepcaps),
        cmocka_unit_test(test_setuid_gives_nothing),
        cmocka_unit_test(test_verify_can_fail),
        cmocka_unit_test(test_verify_as_root),
        cmocka_unit_test(test_no_allocation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
