/* spawn.c: the one place warren creates a process for a tenant.
 *
 * Theory of operation
 * -------------------
 * The parent (the CLI, or a daemon thread) prepares everything the child will
 * need while it may still allocate: the tenant's IDs, the working directory
 * as an fd, the program's path, argv and environment, the stdio fds, the
 * run's cgroup as an fd, and a close-on-exec "error pipe". Then it blocks all
 * signals and calls clone3(CLONE_PIDFD | CLONE_INTO_CGROUP): the child starts
 * inside the run's cgroup, so nothing it ever forks can escape tracking, and
 * the parent holds a pidfd that cannot be confused with a recycled pid.
 *
 * The child runs the steps of child_main in a fixed order, each a plain system
 * call: it allocates nothing and takes no lock, because the parent may have
 * threads whose locks were copied mid-hold. Credentials are changed with raw
 * system calls: glibc's setresuid would try to synchronise threads that exist
 * only in the parent. If a step fails, the child writes {step, errno} to the
 * error pipe and exits with WR_EXIT_SETUP. If execve succeeds, the pipe closes
 * on exec and the parent reads EOF: the program is running.
 *
 * wr_run_wait polls the pidfd (with the timeout), reaps the program, then
 * kills whatever is left in the run's cgroup (daemonised grandchildren
 * included) and removes it. */
#include "run.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "fs.h"
#include "home.h"
#include "util.h"
#include "warren-internal.h"

/* --- the child's steps, in order --------------------------------------------- */

typedef enum step {
    STEP_SIGNALS,        /* default dispositions, nothing blocked */
    STEP_PARENT_DEATH,   /* die with the parent */
    STEP_SETSID,         /* own session: no terminal of warren's, own process group */
    STEP_TERMINAL,       /* a tty run: its terminal becomes the controlling one */
    STEP_STDIO,          /* the three stdio fds */
    STEP_CLOSE_FDS,      /* every other fd closes at exec */
    STEP_CWD,            /* the working directory, from an fd resolved safely */
    STEP_RLIMITS,        /* core 0 and the other limits */
    STEP_UMASK,          /* 077: what the run creates is its own */
    STEP_GROUPS,         /* no supplementary groups */
    STEP_GID,            /* the tenant's gid, real, effective and saved */
    STEP_UID,            /* the tenant's uid, likewise */
    STEP_PARENT_DEATH_2, /* the uid change cleared the death signal: set again */
    STEP_NO_NEW_PRIVS,   /* no setuid, no file capabilities from here on */
    STEP_EXEC,
    STEP_MAX,
} step;

static const char *const step_names[STEP_MAX] = {
    [STEP_SIGNALS] = "reset signals",          [STEP_PARENT_DEATH] = "parent-death signal",
    [STEP_SETSID] = "new session",             [STEP_TERMINAL] = "controlling terminal",
    [STEP_STDIO] = "stdio",                    [STEP_CLOSE_FDS] = "close inherited fds",
    [STEP_CWD] = "working directory",          [STEP_RLIMITS] = "resource limits",
    [STEP_UMASK] = "umask",                    [STEP_GROUPS] = "drop supplementary groups",
    [STEP_GID] = "set gid",                    [STEP_UID] = "set uid",
    [STEP_PARENT_DEATH_2] = "parent-death signal after uid change",
    [STEP_NO_NEW_PRIVS] = "no_new_privs",      [STEP_EXEC] = "exec",
};

/* Limits every run gets at every level. Core dumps would write the program's
 * memory into the home as root could read it later; the others are ceilings
 * that keep one run from taking the host's tables, not quotas (those are the
 * tenant's cgroup's). */
static const struct {
    int resource;
    rlim_t soft, hard;
} run_rlimits[] = {
    {RLIMIT_CORE, 0, 0},
    {RLIMIT_NOFILE, 1024, 4096},
    {RLIMIT_NPROC, 2048, 2048}, /* per tenant uid: a fork bomb stops here */
};

typedef struct plan {
    uid_t uid;
    gid_t gid;
    bool change_ids; /* root mode */
    bool tty;
    pid_t parent;
    int stdio[3];
    int cwd_fd;
    int err_fd;
    const char *path;
    char **argv;
    char **envp;
} plan;

typedef struct report {
    int step;
    int errnum;
} report;

static _Noreturn void child_fail(const plan *p, step s, int errnum) {
    report r = {s, errnum};
    ssize_t n = write(p->err_fd, &r, sizeof r);
    (void)n;
    _exit(WR_EXIT_SETUP);
}

#define CHECK(p, s, cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) child_fail((p), (s), errno);                                                  \
    } while (0)

static _Noreturn void child_main(const plan *p) {
    /* Signals: the daemon may ignore SIGPIPE or handle SIGCHLD; ignored
     * dispositions survive exec, so every one goes back to the default before
     * the mask blocked around clone is lifted. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL); /* EINVAL for RT ones glibc reserves */
    sigset_t none;
    sigemptyset(&none);
    CHECK(p, STEP_SIGNALS, sigprocmask(SIG_SETMASK, &none, NULL) == 0);

    /* If warren dies, the run must not outlive it unwatched. The parent may
     * have died before this line: then the death signal never comes. */
    CHECK(p, STEP_PARENT_DEATH, prctl(PR_SET_PDEATHSIG, SIGKILL) == 0);
    if (getppid() != p->parent) child_fail(p, STEP_PARENT_DEATH, ESRCH);

    CHECK(p, STEP_SETSID, setsid() >= 0);
    if (p->tty) CHECK(p, STEP_TERMINAL, ioctl(p->stdio[0], TIOCSCTTY, 0) == 0);

    /* Lift each stdio fd above 2 first, so that one landing on another's
     * number cannot clobber it; dup3 then clears close-on-exec on 0, 1, 2. */
    int high[3];
    for (int i = 0; i < 3; i++) CHECK(p, STEP_STDIO, (high[i] = fcntl(p->stdio[i], F_DUPFD_CLOEXEC, 3)) >= 0);
    for (int i = 0; i < 3; i++) CHECK(p, STEP_STDIO, dup3(high[i], i, 0) == i);

    /* Everything else closes at exec; the error pipe stays usable until then. */
    CHECK(p, STEP_CLOSE_FDS, syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) == 0);

    CHECK(p, STEP_CWD, fchdir(p->cwd_fd) == 0);

    for (size_t i = 0; i < ELEMENTSOF(run_rlimits); i++) {
        struct rlimit l = {run_rlimits[i].soft, run_rlimits[i].hard};
        CHECK(p, STEP_RLIMITS, setrlimit(run_rlimits[i].resource, &l) == 0);
    }

    umask(077);

    if (p->change_ids) {
        /* Groups, then gid, then uid: each later step takes the right to do
         * the earlier ones away. */
        CHECK(p, STEP_GROUPS, syscall(SYS_setgroups, 0, NULL) == 0);
        CHECK(p, STEP_GID, syscall(SYS_setresgid, p->gid, p->gid, p->gid) == 0);
        CHECK(p, STEP_UID, syscall(SYS_setresuid, p->uid, p->uid, p->uid) == 0);
        /* The kernel clears the death signal on a credential change. */
        CHECK(p, STEP_PARENT_DEATH_2, prctl(PR_SET_PDEATHSIG, SIGKILL) == 0);
        if (getppid() != p->parent) child_fail(p, STEP_PARENT_DEATH_2, ESRCH);
    }

    CHECK(p, STEP_NO_NEW_PRIVS, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);

    execve(p->path, p->argv, p->envp);
    child_fail(p, STEP_EXEC, errno);
}

/* --- the parent's preparation --------------------------------------------- */

struct wr_run {
    pid_t pid;
    int pidfd;
    int cgroup_fd;
    char tenant[WR_USERNAME_MAX + 1];
    char id[40];
    double started;
    double deadline; /* 0: none */
    bool reaped;
    wr_run_result result;
    warren *w;
};

int wr_level_parse(const char *s, wr_level *ret, wr_err *e) {
    static const char *const names[] = {"basic", "container", "strong"};
    for (int i = 0; i < 3; i++)
        if (s && streq(s, names[i])) {
            *ret = (wr_level)i;
            return 0;
        }
    return wr_invalid(e, "level '%s': expected basic, container or strong", s ? s : "");
}

const char *wr_level_name(wr_level l) {
    return l == WR_LEVEL_BASIC ? "basic" : l == WR_LEVEL_CONTAINER ? "container" : "strong";
}

static bool env_key_ok(const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return false;
    for (const char *c = kv; c < eq; c++) {
        bool alpha = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_';
        if (!alpha && !(c > kv && *c >= '0' && *c <= '9')) return false;
    }
    return true;
}

typedef struct strv {
    char **v;
    size_t n;
} strv;

static void strv_free(strv *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Sets KEY=VALUE, replacing an earlier KEY. */
static int strv_setenv(strv *s, const char *kv) {
    size_t kl = (size_t)(strchr(kv, '=') - kv) + 1;
    char *copy = strdup(kv);
    if (!copy) return -ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        if (!strncmp(s->v[i], kv, kl)) {
            free(s->v[i]);
            s->v[i] = copy;
            return 0;
        }
    char **v = realloc(s->v, (s->n + 2) * sizeof *v);
    if (!v) {
        free(copy);
        return -ENOMEM;
    }
    s->v = v;
    s->v[s->n++] = copy;
    s->v[s->n] = NULL;
    return 0;
}

static int strv_setf(strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int strv_setf(strv *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *kv;
    int n = vasprintf(&kv, fmt, ap);
    va_end(ap);
    if (n < 0) return -ENOMEM;
    int r = strv_setenv(s, kv);
    free(kv);
    return r;
}

#define RUN_PATH "/usr/local/bin:/usr/bin:/bin"

/* The run's environment: an allowlist built from scratch, never the caller's
 * (which may hold the daemon's tokens), then the spec's additions. */
static int build_env(const wr_run_spec *spec, const wr_tenant *t, strv *env, wr_err *e) {
    const char *lang = getenv("LANG"), *term = getenv("TERM");
    int r = 0;
    if ((r = strv_setf(env, "PATH=" RUN_PATH)) < 0 ||
        (r = strv_setf(env, "HOME=%s", t->home_dir)) < 0 ||
        (r = strv_setf(env, "USER=%s", t->linux_username)) < 0 ||
        (r = strv_setf(env, "LOGNAME=%s", t->linux_username)) < 0 ||
        (r = strv_setf(env, "SHELL=/bin/sh")) < 0 ||
        (r = strv_setf(env, "LANG=%s", lang && *lang && !strchr(lang, '\n') ? lang : "C.UTF-8")) < 0)
        return wr_sys(e, ENOMEM, "run environment");
    if (spec->tty && (r = strv_setf(env, "TERM=%s", term && *term ? term : "xterm")) < 0)
        return wr_sys(e, ENOMEM, "run environment");
    for (const char *const *kv = spec->env; kv && *kv; kv++) {
        if (!env_key_ok(*kv))
            return wr_invalid(e, "environment '%.64s': expected KEY=VALUE with KEY of "
                                 "[A-Za-z_][A-Za-z0-9_]*", *kv);
        if (strv_setenv(env, *kv) < 0) return wr_sys(e, ENOMEM, "run environment");
    }
    return 0;
}

/* argv[0] without '/' is looked up in the run's PATH, as the shell would. */
static int resolve_program(const char *name, char **ret, wr_err *e) {
    if (!*name) return wr_invalid(e, "program name is empty");
    if (strchr(name, '/')) return (*ret = strdup(name)) ? 0 : wr_sys(e, ENOMEM, "program");
    const char *dirs = RUN_PATH;
    for (const char *d = dirs; *d;) {
        size_t l = strcspn(d, ":");
        char *p;
        if (asprintf(&p, "%.*s/%s", (int)l, d, name) < 0) return wr_sys(e, ENOMEM, "program");
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            *ret = p;
            return 0;
        }
        free(p);
        d += l + (d[l] == ':');
    }
    return wr_fail(e, WR_ERR_NOT_FOUND, ENOENT, "command '%s' not found in %s", name, RUN_PATH);
}

/* The working directory as an fd: the named directory inside the home, the
 * service's sandbox, or the home; never through a link the tenant planted. */
static int open_cwd(warren *w, const wr_run_spec *spec, const wr_tenant *t, int homefd,
                    wr_err *e) {
    uid_t owner = w->cfg.root_mode ? t->uid : getuid();
    gid_t group = w->cfg.root_mode ? t->gid : getgid();
    if (spec->cwd) {
        const char *rel = spec->cwd;
        size_t hl = strlen(t->home_dir);
        if (rel[0] == '/') {
            if (strncmp(rel, t->home_dir, hl) || (rel[hl] != '/' && rel[hl] != '\0'))
                return wr_invalid(e, "working directory '%s': not inside the home %s", spec->cwd,
                                  t->home_dir);
            rel += hl;
            while (*rel == '/') rel++;
            if (!*rel) rel = ".";
        }
        int fd = wr_open_beneath(homefd, rel, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
            return wr_fail(e, fd == -ENOENT ? WR_ERR_NOT_FOUND : WR_ERR_INVALID, -fd,
                           "working directory '%s': %s", spec->cwd,
                           fd == -ELOOP ? "a link on the way (not followed)"
                           : fd == -EXDEV ? "outside the home"
                                          : strerror(-fd));
        return fd;
    }
    if (spec->service) return wr_sandbox_open(homefd, spec->service, owner, group, e);
    return fcntl(homefd, F_DUPFD_CLOEXEC, 3) >= 0 ? fcntl(homefd, F_DUPFD_CLOEXEC, 3)
                                                   : wr_sys(e, errno, "home");
}

static int open_devnull(wr_err *e) {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
    return fd >= 0 ? fd : wr_sys(e, errno, "cannot open /dev/null");
}

static int run_id(char out[40], wr_err *e) {
    unsigned char b[8];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) return wr_sys(e, errno, "run id");
    snprintf(out, 40, "run-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7]);
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The report the child wrote, as the error the caller sees. */
static int setup_failed(const report *rep, const char *path, wr_err *e) {
    int code = rep->step == STEP_EXEC && rep->errnum == ENOENT ? WR_EXIT_NOTFOUND
               : rep->step == STEP_EXEC                          ? WR_EXIT_NOEXEC
                                                                 : WR_EXIT_SETUP;
    const char *name = rep->step >= 0 && rep->step < STEP_MAX ? step_names[rep->step] : "?";
    int r = rep->step == STEP_EXEC
                ? wr_fail(e, WR_ERR_SYSTEM, rep->errnum, "cannot run %s: %s", path,
                          strerror(rep->errnum))
                : wr_fail(e, WR_ERR_SYSTEM, rep->errnum, "run setup failed at step '%s': %s",
                          name, strerror(rep->errnum));
    if (e && !e->exit_code) e->exit_code = code;
    return r;
}

static pid_t clone_into(int cgroup_fd, int *ret_pidfd) {
    struct clone_args args = {
        .flags = CLONE_PIDFD | CLONE_INTO_CGROUP,
        .pidfd = (uint64_t)(uintptr_t)ret_pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgroup_fd,
    };
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

int wr_run_start(warren *w, const wr_run_spec *spec, wr_run **ret, wr_err *e) {
    if (spec->level != WR_LEVEL_BASIC)
        return wr_fail(e, WR_ERR_INVALID, ENOTSUP,
                       "level '%s' is not available in this version of warren yet; use --level "
                       "basic",
                       wr_level_name(spec->level));
    if (!!spec->shell == !!(spec->argv && spec->argv[0]))
        return wr_invalid(e, "a run needs either a command or --shell, not both");
    if (spec->service && wr_check_service_id(spec->service, e) < 0) return -EINVAL;

    wr_tenant t;
    int r = wr_tenant_get(w, spec->tenant, &t, e);
    if (r < 0) return r;
    if ((r = wr_ensure_cgroups(w, e)) < 0) return r;

    _cleanup_close_ int homefd = wr_home_open(w->basefd, t.linux_username,
                                              w->cfg.root_mode ? t.uid : getuid(), e);
    if (homefd < 0) return homefd;
    _cleanup_close_ int cwd = open_cwd(w, spec, &t, homefd, e);
    if (cwd < 0) return cwd;

    strv env = {0};
    _cleanup_free_ char *path = NULL;
    char **argv = NULL;
    _cleanup_close_ int devnull = -1, err_r = -1, err_w = -1, cgfd = -1;
    wr_run *run = NULL;
    if ((r = build_env(spec, &t, &env, e)) < 0) goto out;
    const char *shell_argv[] = {"/bin/sh", "-c", spec->shell, NULL};
    const char *const *args = spec->shell ? shell_argv : spec->argv;
    if ((r = resolve_program(args[0], &path, e)) < 0) {
        if (e && e->kind == WR_ERR_NOT_FOUND) e->exit_code = WR_EXIT_NOTFOUND;
        goto out;
    }
    argv = (char **)args; /* execve takes char *const *; nothing writes to them */

    int stdio[3];
    for (int i = 0; i < 3; i++) {
        if (spec->stdio[i] >= 0) {
            stdio[i] = spec->stdio[i];
            continue;
        }
        if (devnull < 0 && (devnull = r = open_devnull(e)) < 0) goto out;
        stdio[i] = devnull;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        r = wr_sys(e, errno, "cannot make the run's error pipe");
        goto out;
    }
    err_r = p[0];
    err_w = p[1];

    run = calloc(1, sizeof *run);
    if (!run) {
        r = wr_sys(e, ENOMEM, "run");
        goto out;
    }
    run->pidfd = run->cgroup_fd = -1;
    run->w = w;
    snprintf(run->tenant, sizeof run->tenant, "%s", t.linux_username);
    if ((r = run_id(run->id, e)) < 0) goto out;
    if ((r = cgfd = wr_cgroup_run_create(w->cgroups, t.linux_username, run->id, e)) < 0) goto out;

    plan pl = {
        .uid = t.uid, .gid = t.gid, .change_ids = w->cfg.root_mode, .tty = spec->tty,
        .parent = getpid(), .stdio = {stdio[0], stdio[1], stdio[2]}, .cwd_fd = cwd,
        .err_fd = err_w, .path = path, .argv = argv, .envp = env.v,
    };

    /* Blocked across clone so that no handler of the parent's runs in the
     * child before child_main has reset them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pidfd = -1;
    pid_t pid = clone_into(cgfd, &pidfd);
    if (pid == 0) child_main(&pl);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        r = wr_sys(e, clone_errno, "cannot start the run (clone3)");
        wr_cgroup_run_remove(w->cgroups, run->tenant, run->id, NULL);
        goto out;
    }
    run->pid = pid;
    run->pidfd = pidfd;
    run->cgroup_fd = TAKE_FD(cgfd);
    run->started = now();
    run->deadline = spec->timeout > 0 ? run->started + spec->timeout : 0;

    /* EOF: exec happened. A report: a step failed, and the child has exited. */
    close(TAKE_FD(err_w));
    report rep;
    ssize_t n;
    do n = read(err_r, &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    if (n != 0) {
        if (n == (ssize_t)sizeof rep) r = setup_failed(&rep, path, e);
        else r = wr_sys(e, n < 0 ? errno : EPROTO, "cannot read the run's setup report");
        wr_run_free(run);
        run = NULL;
        goto out;
    }
    *ret = TAKE_PTR(run);
    r = 0;
out:
    free(run);
    strv_free(&env);
    return r;
}

int wr_run_pid(const wr_run *r) { return r->pid; }
int wr_run_pidfd(const wr_run *r) { return r->pidfd; }

static uint64_t cgroup_cpu_usec(int cgfd) {
    _cleanup_close_ int fd = openat(cgfd, "cpu.stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0) return 0;
    buf[n] = '\0';
    const char *p = strstr(buf, "usage_usec ");
    return p ? strtoull(p + 11, NULL, 10) : 0;
}

/* Reaps the program and records how it ended. */
static void reap(wr_run *r) {
    int status = 0;
    struct rusage ru = {0};
    while (wait4(r->pid, &status, 0, &ru) < 0 && errno == EINTR) {}
    r->reaped = true;
    r->result.wall_seconds = now() - r->started;
    r->result.peak_rss = (uint64_t)ru.ru_maxrss * 1024;
    if (WIFEXITED(status)) r->result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) r->result.signal = WTERMSIG(status);
}

/* Ends what is left in the run's cgroup and removes it. */
static int end_tree(wr_run *r, wr_err *e) {
    if (r->cgroup_fd < 0) return 0;
    int rc = wr_cgroup_kill(r->cgroup_fd, e);
    r->result.cpu_seconds = (double)cgroup_cpu_usec(r->cgroup_fd) / 1e6;
    close(TAKE_FD(r->cgroup_fd));
    if (rc >= 0) rc = wr_cgroup_run_remove(r->w->cgroups, r->tenant, r->id, e);
    return rc;
}

int wr_run_wait(wr_run *r, wr_run_result *ret, wr_err *e) {
    while (!r->reaped) {
        int ms = -1;
        if (r->deadline) {
            double left = r->deadline - now();
            ms = left <= 0 ? 0 : (int)(left * 1000) + 1;
        }
        struct pollfd pfd = {.fd = r->pidfd, .events = POLLIN};
        int n = poll(&pfd, 1, ms);
        if (n < 0 && errno != EINTR) return wr_sys(e, errno, "waiting for the run");
        if (n > 0) {
            reap(r);
            break;
        }
        if (n == 0 && r->deadline && now() >= r->deadline) {
            r->result.timed_out = true;
            int q = wr_cgroup_kill(r->cgroup_fd, e);
            if (q < 0) return q;
        }
    }
    int q = end_tree(r, e);
    if (q < 0) return q;
    *ret = r->result;
    return 0;
}

int wr_run_signal(wr_run *r, int sig, wr_err *e) {
    if (r->reaped) return wr_fail(e, WR_ERR_NOT_FOUND, ESRCH, "the run has ended");
    if (syscall(SYS_pidfd_send_signal, r->pidfd, sig, NULL, 0) < 0)
        return wr_sys(e, errno, "cannot signal the run");
    return 0;
}

int wr_run_cancel(wr_run *r, wr_err *e) {
    if (r->cgroup_fd < 0) return 0;
    return wr_cgroup_kill(r->cgroup_fd, e);
}

void wr_run_free(wr_run *r) {
    if (!r) return;
    if (!r->reaped && r->pid > 0) {
        if (r->cgroup_fd >= 0) wr_cgroup_kill(r->cgroup_fd, NULL);
        else syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
        reap(r);
    }
    end_tree(r, NULL);
    if (r->pidfd >= 0) close(r->pidfd);
    free(r);
}
