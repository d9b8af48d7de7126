/* Finding and running warren-full: see program.h for why there are two. */
#include "program.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#ifndef WARREN_LIBEXECDIR
#define WARREN_LIBEXECDIR "/usr/local/libexec/warren"
#endif

#define FULL_NAME "warren-full"

static bool executable_file(const char *path) {
    return access(path, X_OK) == 0;
}

int wr_full_program(char *buf, size_t n, wr_err *e) {
    const char *env = getenv("WARREN_FULL");
    if (env && *env) {
        if (strscpy(buf, n, env) < 0) return wr_invalid(e, "WARREN_FULL is too long");
        if (!executable_file(buf))
            return wr_fail(e, WR_ERR_SYSTEM, ENOENT, "WARREN_FULL=%s is not an executable", env);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l > 0) {
        self[l] = '\0';
        char *slash = strrchr(self, '/');
        if (slash && (size_t)(slash - self) + sizeof("/" FULL_NAME) <= n) {
            snprintf(buf, n, "%.*s/" FULL_NAME, (int)(slash - self), self);
            if (executable_file(buf)) return 0;
        }
    }
    if (strscpy(buf, n, WARREN_LIBEXECDIR "/" FULL_NAME) < 0)
        return wr_invalid(e, "path of " FULL_NAME " is too long");
    if (executable_file(buf)) return 0;
    return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                   FULL_NAME " (the program with every feature) was found neither beside %s nor "
                   "in " WARREN_LIBEXECDIR "; set WARREN_FULL to its path",
                   l > 0 ? self : "this program");
}

int wr_full_exec(char *const argv[], wr_err *e) {
    char path[PATH_MAX];
    int r = wr_full_program(path, sizeof path, e);
    if (r < 0) return r;
    /* argv[0] stays what the user typed's first word, for messages. */
    execv(path, argv);
    return wr_sys(e, errno, "cannot execute %s", path);
}

int wr_full_run(char *const argv[], wr_err *e) {
    char path[PATH_MAX];
    int r = wr_full_program(path, sizeof path, e);
    if (r < 0) return r;
    pid_t pid = fork();
    if (pid < 0) return wr_sys(e, errno, "cannot fork for %s", path);
    if (pid == 0) {
        execv(path, argv);
        fprintf(stderr, "warren: cannot execute %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return wr_sys(e, errno, "cannot wait for %s", path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    char cmd[256] = "";
    for (size_t i = 1; argv[i] && strlen(cmd) + strlen(argv[i]) + 2 < sizeof cmd; i++) {
        if (i > 1) strcat(cmd, " ");
        strcat(cmd, argv[i]);
    }
    if (WIFSIGNALED(status))
        return wr_fail(e, WR_ERR_SYSTEM, EIO, FULL_NAME " %s was killed by signal %d", cmd,
                       WTERMSIG(status));
    return wr_fail(e, WR_ERR_SYSTEM, EIO, FULL_NAME " %s failed (exit %d)", cmd,
                   WEXITSTATUS(status));
}
