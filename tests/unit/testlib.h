/* testlib: scaffolding the unit tests share: scratch directories, forked
 * children, fd counts and file writing. None of it goes through the code
 * under test: scratch directories are removed by a spawned rm, children are
 * plain fork()s, files are written with plain system calls.
 *
 * Include after <cmocka.h>. The functions fail the running test with cmocka's
 * asserts where they can fail, so they belong in the test process (a setup, a
 * test, a teardown), never in a forked child; CHILD_CHECK is for children. */
#pragma once

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

/* --- scratch directories ----------------------------------------------------- */

/* A size for a scratch directory's path that leaves room to build paths below
 * it in PATH_MAX buffers. */
#define TL_SCRATCH_MAX 256

/* Makes a fresh directory $TMPDIR/warren-test-<name>.XXXXXX (/tmp when TMPDIR
 * is unset or empty), stores its path in dir (of size bytes) and returns an
 * fd on it, O_RDONLY | O_DIRECTORY | O_CLOEXEC, for the caller to close. On
 * failure it says why and returns -1, so a cmocka setup can fail with it. */
int tl_scratch_make(char *dir, size_t size, const char *name);

/* Removes dir and everything below it with a spawned
 * `rm -rf --one-file-system`: cleanup never depends on the code under test
 * and never crosses a mount a test left behind. Returns 0 when rm succeeded,
 * else -1. */
int tl_scratch_remove(const char *dir);

/* The two together, as a fixture for a setup to put in *state: a scratch
 * directory's path and an fd on it. */
typedef struct tl_scratch {
    char dir[TL_SCRATCH_MAX];
    int fd;
} tl_scratch;

/* Allocates a tl_scratch and makes its directory; NULL (said why) on failure. */
tl_scratch *tl_scratch_new(const char *name);

/* Closes s's fd, removes its directory and frees it. NULL is ignored. */
void tl_scratch_free(tl_scratch *s);

/* --- forked children --------------------------------------------------------- */

/* Waits for the child pid and asserts that it exited with status 0. */
void tl_wait_exit0(pid_t pid);

/* Runs fn(arg) in a forked child, whose exit status is what fn returns, and
 * asserts that it exited 0. Children report failures by exit code (cmocka's
 * asserts must not unwind in a child), e.g. with CHILD_CHECK. */
void tl_in_child(int (*fn)(void *arg), void *arg);

/* In a forked child: unless cond holds, names the check on stderr and exits 1. */
#define CHILD_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "child check failed at line %d: %s\n", __LINE__, #cond);               \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

/* --- step names -------------------------------------------------------------- */

/* name(i) for every i in [0, max) is a name of its own, none unknown; name(-1)
 * and name(max) are unknown: the steps a failed setup's message names. */
void tl_assert_step_names(const char *(*name)(int), int max, const char *unknown);

/* --- fds and files ----------------------------------------------------------- */

/* The number of entries in /proc/self/fd: equal before and after an
 * operation when it left no fd open. */
int tl_count_fds(void);

/* Creates or truncates name beneath dfd (a path, with AT_FDCWD), writes
 * content to it and leaves it with exactly mode, whatever the umask. */
void tl_write_at(int dfd, const char *name, const char *content, mode_t mode);

/* Copies the file from (a path) to name beneath dfd, which must not exist
 * yet, and leaves the copy with exactly mode: a binary a test runs from its
 * scratch directory. */
void tl_copy_file(const char *from, int dfd, const char *name, mode_t mode);

/* Makes etc_dir (0755) holding the four account files (passwd, group,
 * shadow, gshadow, each 0644) with root's lines only: the host a tenant
 * test starts from. */
void tl_write_root_etc(const char *etc_dir);
