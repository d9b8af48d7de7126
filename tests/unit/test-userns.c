/* userns.c: a user without root maps itself, and only itself, into a user
 * namespace it made; setgroups is denied there; the capabilities the
 * namespace gives are dropped; loopback comes up in a network namespace of
 * its own. Each check runs in a forked child that first becomes an
 * unprivileged uid (as warren without root would be), then unshares. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "rootfs.h"
#include "testlib.h"
#include "netns.h"
#include "userns.h"

#define T_UID 59982
#define T_GID 59982
#define T_INSIDE 60001

/* In a child: become T_UID/T_GID with no groups, like a user without root. */
static void become_user(void) {
    CHILD_CHECK(setgroups(0, NULL) == 0);
    CHILD_CHECK(setresgid(T_GID, T_GID, T_GID) == 0);
    CHILD_CHECK(setresuid(T_UID, T_UID, T_UID) == 0);
    /* The uid change made the process undumpable, which gives its /proc
     * files to root; a user's own process is dumpable. */
    CHILD_CHECK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
}

static bool userns_possible(void) {
    int fd = open("/proc/sys/kernel/unprivileged_userns_clone", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    char c = '1';
    ssize_t n = read(fd, &c, 1);
    close(fd);
    return n != 1 || c != '0';
}

static void test_prepare_formats_one_line_each(void **state) {
    (void)state;
    wr_userns u;
    wr_err e = WR_ERR_INIT;
    if (!userns_possible()) skip();
    assert_int_equal(wr_userns_prepare(&u, T_INSIDE, T_INSIDE + 1, &e), 0);
    char want[64];
    snprintf(want, sizeof want, "%d %u 1\n", T_INSIDE, (unsigned)getuid());
    assert_string_equal(u.uid_map, want);
    assert_int_equal(u.uid_len, strlen(want));
    snprintf(want, sizeof want, "%d %u 1\n", T_INSIDE + 1, (unsigned)getgid());
    assert_string_equal(u.gid_map, want);
    assert_int_equal(u.gid_len, strlen(want));
}

static int read_small(const char *path, char *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    if (r < 0) return -1;
    buf[r] = '\0';
    return 0;
}

static int caps_empty(void) {
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2] = {{0}};
    if (syscall(SYS_capget, &h, d) < 0) return -1;
    return !(d[0].effective | d[1].effective | d[0].permitted | d[1].permitted | d[0].inheritable |
             d[1].inheritable);
}

static int self_map_child(void *arg) {
    (void)arg;
    become_user();
    wr_userns u;
    CHILD_CHECK(wr_userns_prepare(&u, T_INSIDE, T_INSIDE, NULL) == 0);
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
    CHILD_CHECK(wr_userns_enter(&u) == 0);
    /* The caller's ids are the tenant's inside. */
    CHILD_CHECK(getuid() == T_INSIDE && geteuid() == T_INSIDE && getgid() == T_INSIDE);
    char buf[64];
    CHILD_CHECK(read_small("/proc/self/setgroups", buf, sizeof buf) == 0);
    CHILD_CHECK(strcmp(buf, "deny\n") == 0);
    CHILD_CHECK(setgroups(0, NULL) < 0 && errno == EPERM);
    /* A map is written once. */
    CHILD_CHECK(wr_userns_enter(&u) == -EPERM);
    /* The namespace gave every capability; none is left after the drop. */
    CHILD_CHECK(caps_empty() == 0);
    CHILD_CHECK(unshare(CLONE_NEWNET) == 0);
    CHILD_CHECK(wr_netns_loopback_up() == 0);
    struct ifreq ifr = {0};
    memcpy(ifr.ifr_name, "lo", 3);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHILD_CHECK(s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP));
    close(s);
    CHILD_CHECK(wr_userns_drop_caps() == 0);
    CHILD_CHECK(caps_empty() == 1);
    CHILD_CHECK(unshare(CLONE_NEWNS) < 0 && errno == EPERM);
    return 0;
}

static void test_self_map(void **state) {
    (void)state;
    if (!userns_possible()) skip();
    tl_in_child(self_map_child, NULL);
}

/* A map of any other outside id (here root's) is refused: only the caller
 * itself can be mapped. */
static int other_map_child(void *arg) {
    (void)arg;
    become_user();
    wr_userns u = {.uid_map = "0 0 1\n", .uid_len = 6, .gid_map = "0 0 1\n", .gid_len = 6};
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
    CHILD_CHECK(wr_userns_enter(&u) == -EPERM);
    return 0;
}

static void test_other_ids_refused(void **state) {
    (void)state;
    if (!userns_possible()) skip();
    tl_in_child(other_map_child, NULL);
}

/* --- the home, cloned by the child (rootfs spec.userns) ----------------------- */

/* Without root the child clones the home's mount from its path, so the path
 * must still lead, without a link, to the directory the parent opened. The
 * plan is made here (root, host namespace, as spawn.c makes it); the home's
 * path is then left alone, swapped for a link to /etc, or for another
 * directory; a child in fresh mount and pid namespaces enters the root. */
typedef enum swap { SWAP_NONE, SWAP_LINK, SWAP_DIR } swap;

static int enter_child(wr_rootfs *r, int *ret_step) {
    if (unshare(CLONE_NEWNS) < 0) return -errno;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return -errno;
    if (unshare(CLONE_NEWPID) < 0) return -errno;
    int pipefd[2];
    if (pipe(pipefd) < 0) return -errno;
    pid_t g = fork();
    if (g < 0) return -errno;
    if (g == 0) {
        int out[2] = {0, -1};
        out[0] = wr_rootfs_enter(r, &out[1]);
        /* Inside: the home's file is there when the entry worked. */
        if (out[0] == 0 && access("file", R_OK) < 0) out[0] = -EIO;
        ssize_t n = write(pipefd[1], out, sizeof out);
        _exit(n == (ssize_t)sizeof out ? 0 : 1);
    }
    close(pipefd[1]);
    int got[2] = {-EPIPE, -1};
    ssize_t n = read(pipefd[0], got, sizeof got);
    close(pipefd[0]);
    waitpid(g, NULL, 0);
    if (n != (ssize_t)sizeof got) return -EPIPE;
    *ret_step = got[1];
    return got[0];
}

static void home_case(swap how, int want, int want_step) {
    tl_scratch *s = tl_scratch_new("userns-home");
    assert_non_null(s);
    tl_write_at(s->fd, "file", "x\n", 0644);
    wr_rootfs_spec spec = {.home_dir = s->dir,
                           .home_fd = s->fd,
                           .username = "wr_userns_t",
                           .uid = T_UID,
                           .gid = T_GID,
                           .hostname = "wr_userns_t",
                           .userns = true};
    wr_rootfs *r = NULL;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_rootfs_plan(&spec, &r, &e), 0);
    char moved[TL_SCRATCH_MAX + 8];
    snprintf(moved, sizeof moved, "%s.moved", s->dir);
    if (how != SWAP_NONE) {
        assert_int_equal(rename(s->dir, moved), 0);
        if (how == SWAP_LINK)
            assert_int_equal(symlink("/etc", s->dir), 0);
        else
            assert_int_equal(mkdir(s->dir, 0700), 0);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int step = -1, ret = enter_child(r, &step);
        if (ret != want || (want < 0 && step != want_step)) {
            fprintf(stderr, "enter: %d at step %d (%s), wanted %d at %d\n", ret, step,
                    wr_rootfs_step_name(step), want, want_step);
            _exit(1);
        }
        _exit(0);
    }
    tl_wait_exit0(pid);
    wr_rootfs_free(r);
    if (how != SWAP_NONE) {
        assert_int_equal(how == SWAP_LINK ? unlink(s->dir) : rmdir(s->dir), 0);
        assert_int_equal(rename(moved, s->dir), 0);
    }
    tl_scratch_free(s);
}

static void test_home_cloned_by_the_child(void **state) {
    (void)state;
    home_case(SWAP_NONE, 0, -1);
}

static void test_home_swapped_for_a_link(void **state) {
    (void)state;
    home_case(SWAP_LINK, -ELOOP, WR_ROOTFS_HOME);
}

static void test_home_swapped_for_another_directory(void **state) {
    (void)state;
    home_case(SWAP_DIR, -ESTALE, WR_ROOTFS_HOME);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_formats_one_line_each),
        cmocka_unit_test(test_self_map),
        cmocka_unit_test(test_other_ids_refused),
        cmocka_unit_test(test_home_cloned_by_the_child),
        cmocka_unit_test(test_home_swapped_for_a_link),
        cmocka_unit_test(test_home_swapped_for_another_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
