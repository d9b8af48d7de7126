/* testlib: see testlib.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testlib.h"

int tl_scratch_make(char *dir, size_t size, const char *name) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    int n = snprintf(dir, size, "%s/warren-test-%s.XXXXXX", tmp, name);
    if (n < 0 || (size_t)n >= size) {
        print_error("scratch directory in %s: name too long\n", tmp);
        return -1;
    }
    if (!mkdtemp(dir)) {
        print_error("mkdtemp %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        print_error("open %s: %s\n", dir, strerror(errno));
        rmdir(dir);
    }
    return fd;
}

int tl_scratch_remove(const char *dir) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--one-file-system", "--", dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

tl_scratch *tl_scratch_new(const char *name) {
    tl_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->fd = tl_scratch_make(s->dir, sizeof s->dir, name);
    if (s->fd < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void tl_scratch_free(tl_scratch *s) {
    if (!s) return;
    close(s->fd);
    tl_scratch_remove(s->dir);
    free(s);
}

void tl_wait_exit0(pid_t pid) {
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

void tl_in_child(int (*fn)(void *arg), void *arg) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(fn(arg));
    tl_wait_exit0(pid);
}

void tl_assert_step_names(const char *(*name)(int), int max, const char *unknown) {
    for (int i = 0; i < max; i++) {
        const char *n = name(i);
        assert_non_null(n);
        assert_string_not_equal(n, unknown);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, name(j));
    }
    assert_string_equal(name(-1), unknown);
    assert_string_equal(name(max), unknown);
}

int tl_count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

void tl_write_at(int dfd, const char *name, const char *content, mode_t mode) {
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

void tl_copy_file(const char *from, int dfd, const char *name, mode_t mode) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    assert_true(out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    assert_int_equal(fchmod(out, mode), 0);
    close(out);
    close(in);
}

void tl_write_root_etc(const char *etc_dir) {
    static const char *const files[][2] = {
        {"passwd", "root:x:0:0:root:/root:/bin/bash\n"},
        {"group", "root:x:0:\n"},
        {"shadow", "root:*:19000:0:99999:7:::\n"},
        {"gshadow", "root:*::\n"},
    };
    mkdir(etc_dir, 0755);
    int dfd = open(etc_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        tl_write_at(dfd, files[i][0], files[i][1], 0644);
    close(dfd);
}
