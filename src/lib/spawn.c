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
 * At the container level the clone also makes new mount, pid, ipc, uts and
 * cgroup namespaces; the child joins the tenant's kept network namespace and
 * enters the private root planned by rootfs.c. At the strong level it then
 * gives up the bounding set before the uid change, checks no capability is
 * left, restricts itself with Landlock, and loads the seccomp filter last:
 * the filter's notification listener is handed to the parent (its number on
 * the error pipe, the parent takes it with pidfd_getfd and says go on a sync
 * pipe) before execve would close it.
 *
 * wr_run_wait polls the pidfd (with the timeout) and the listener (answering
 * and counting refused system calls), reaps the program, then kills whatever
 * is left in the run's cgroup (daemonised grandchildren included), removes
 * it, and records the refusals in the registry. */
#include "run.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
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

#include "caps.h"
#include "cgroup.h"
#include "fs.h"
#include "home.h"
#include "landlock.h"
#include "netns.h"
#include "rootfs.h"
#include "seccomp.h"
#include "store.h"
#include "util.h"
#include "warren-internal.h"

/* --- the child's steps, in order --------------------------------------------- */

typedef enum step {
    STEP_SIGNALS,        /* default dispositions, nothing blocked */
    STEP_PARENT_DEATH,   /* die with the parent */
    STEP_NETNS,          /* container: the tenant's network namespace */
    STEP_ROOTFS,         /* container: the private root, cwd inside it */
    STEP_HOSTNAME,       /* container: hostname = the account name */
    STEP_SETSID,         /* own session: no terminal of warren's, own process group */
    STEP_TERMINAL,       /* a tty run: its terminal becomes the controlling one */
    STEP_STDIO,          /* the three stdio fds */
    STEP_CLOSE_FDS,      /* every other fd closes at exec */
    STEP_CWD,            /* the working directory, from an fd resolved safely */
    STEP_RLIMITS,        /* core 0 and the other limits */
    STEP_UMASK,          /* 077: what the run creates is its own */
    STEP_BOUNDING,       /* strong: the bounding set, while still allowed to drop it */
    STEP_GROUPS,         /* no supplementary groups */
    STEP_GID,            /* the tenant's gid, real, effective and saved */
    STEP_UID,            /* the tenant's uid, likewise */
    STEP_PARENT_DEATH_2, /* the uid change cleared the death signal: set again */
    STEP_NO_NEW_PRIVS,   /* no setuid, no file capabilities from here on */
    STEP_NO_CAPS,        /* strong: prove no capability is left */
    STEP_LANDLOCK,       /* strong: the filesystem it may touch */
    STEP_SECCOMP,        /* strong: the system-call filter, last before exec */
    STEP_EXEC,
    STEP_MAX,
} step;

static const char *const step_names[STEP_MAX] = {
    [STEP_SIGNALS] = "reset signals",
    [STEP_PARENT_DEATH] = "parent-death signal",
    [STEP_NETNS] = "join network namespace",
    [STEP_ROOTFS] = "private root",
    [STEP_HOSTNAME] = "hostname",
    [STEP_BOUNDING] = "drop bounding set",
    [STEP_NO_CAPS] = "verify no capabilities",
    [STEP_LANDLOCK] = "landlock",
    [STEP_SECCOMP] = "seccomp filter",
    [STEP_SETSID] = "new session",
    [STEP_TERMINAL] = "controlling terminal",
    [STEP_STDIO] = "stdio",
    [STEP_CLOSE_FDS] = "close inherited fds",
    [STEP_CWD] = "working directory",
    [STEP_RLIMITS] = "resource limits",
    [STEP_UMASK] = "umask",
    [STEP_GROUPS] = "drop supplementary groups",
    [STEP_GID] = "set gid",
    [STEP_UID] = "set uid",
    [STEP_PARENT_DEATH_2] = "parent-death signal after uid change",
    [STEP_NO_NEW_PRIVS] = "no_new_privs",
    [STEP_EXEC] = "exec",
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
    wr_level level;
    pid_t parent;
    int netns_fd;            /* container */
    const wr_rootfs *rootfs; /* container */
    const char *hostname;    /* container */
    int landlock;            /* strong: the ruleset, or -1 */
    int landlock_abi;
    const wr_seccomp *seccomp; /* strong */
    int sync_fd;               /* strong: the parent has taken the listener */
    int stdio[3];
    int cwd_fd;
    int err_fd;
    const char *path;
    char **argv;
    char **envp;
    struct rlimit limits[3]; /* run_rlimits, clamped to what warren itself may set */
} plan;

/* What the child writes on the error pipe: a failed step (and, for the
 * private root, which part of it), or the number of the seccomp listener. */
typedef struct report {
    int step;
    int errnum;
    int detail;
} report;

#define REPORT_LISTENER (-1)

static _Noreturn void child_fail_at(const plan *p, step s, int errnum, int detail) {
    report r = {s, errnum, detail};
    ssize_t n = write(p->err_fd, &r, sizeof r);
    (void)n;
    _exit(WR_EXIT_SETUP);
}

static _Noreturn void child_fail(const plan *p, step s, int errnum) {
    child_fail_at(p, s, errnum, 0);
}

/* Strong: the rules for what exists only inside the new root. Reading is
 * allowed from its "/" down, since everything under it is what rootfs.c put
 * there (read-only system, generated /etc, /proc, /dev); writing only below
 * /tmp, /dev/shm and the home (the parent's rule, on the home's inode). */
static int landlock_inside(const plan *p) {
    static const struct {
        const char *path;
        wr_landlock_access access;
    } inside[] = {{"/", WR_LANDLOCK_READ},
                  {"/tmp", WR_LANDLOCK_WRITE},
                  {"/dev/shm", WR_LANDLOCK_WRITE},
                  {"/dev/pts", WR_LANDLOCK_DEVICE}};
    for (size_t i = 0; i < ELEMENTSOF(inside); i++) {
        int fd = open(inside[i].path, O_PATH | O_CLOEXEC);
        if (fd < 0) continue; /* not every root has every one */
        int r = wr_landlock_allow(p->landlock, fd, inside[i].access, p->landlock_abi);
        close(fd);
        if (r < 0) return r;
    }
    return wr_landlock_enforce(p->landlock);
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
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* EINVAL for RT ones glibc reserves */
    sigset_t none;
    sigemptyset(&none);
    CHECK(p, STEP_SIGNALS, sigprocmask(SIG_SETMASK, &none, NULL) == 0);

    /* If warren dies, the run must not outlive it unwatched. The parent may
     * have died before this line: then the death signal never comes. */
    CHECK(p, STEP_PARENT_DEATH, prctl(PR_SET_PDEATHSIG, SIGKILL) == 0);
    /* In a new pid namespace the parent is outside it and getppid() says 0. */
    bool contained = p->level >= WR_LEVEL_CONTAINER;
    if (!contained && getppid() != p->parent) child_fail(p, STEP_PARENT_DEATH, ESRCH);

    if (contained) {
        CHECK(p, STEP_NETNS, setns(p->netns_fd, CLONE_NEWNET) == 0);
        int part = 0, r = wr_rootfs_enter(p->rootfs, &part);
        if (r < 0) child_fail_at(p, STEP_ROOTFS, -r, part);
        CHECK(p, STEP_HOSTNAME, sethostname(p->hostname, strlen(p->hostname)) == 0);
    }

    CHECK(p, STEP_SETSID, setsid() >= 0);
    if (p->tty) CHECK(p, STEP_TERMINAL, ioctl(p->stdio[0], TIOCSCTTY, 0) == 0);

    /* Lift each stdio fd above 2 first, so that one landing on another's
     * number cannot clobber it; dup3 then clears close-on-exec on 0, 1, 2. */
    int high[3];
    for (int i = 0; i < 3; i++)
        CHECK(p, STEP_STDIO, (high[i] = fcntl(p->stdio[i], F_DUPFD_CLOEXEC, 3)) >= 0);
    for (int i = 0; i < 3; i++)
        CHECK(p, STEP_STDIO, dup3(high[i], i, 0) == i);

    /* Everything else closes at exec; the error pipe stays usable until then. */
    CHECK(p, STEP_CLOSE_FDS, syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) == 0);

    /* Contained runs are already in their directory, by path inside the new
     * root: an fd from the host's view would lead back out of it. */
    if (!contained) CHECK(p, STEP_CWD, fchdir(p->cwd_fd) == 0);

    for (size_t i = 0; i < ELEMENTSOF(run_rlimits); i++)
        CHECK(p, STEP_RLIMITS, setrlimit(run_rlimits[i].resource, &p->limits[i]) == 0);

    umask(077);

    /* The bounding set can only shrink while CAP_SETPCAP is held, so before
     * the uid change; the change itself then empties the other sets. */
    if (p->level == WR_LEVEL_STRONG) {
        int r = wr_caps_drop_all();
        if (r < 0) child_fail(p, STEP_BOUNDING, -r);
    }

    if (p->change_ids) {
        /* Groups, then gid, then uid: each later step takes the right to do
         * the earlier ones away. */
        CHECK(p, STEP_GROUPS, syscall(SYS_setgroups, 0, NULL) == 0);
        CHECK(p, STEP_GID, syscall(SYS_setresgid, p->gid, p->gid, p->gid) == 0);
        CHECK(p, STEP_UID, syscall(SYS_setresuid, p->uid, p->uid, p->uid) == 0);
        /* The kernel clears the death signal on a credential change. */
        CHECK(p, STEP_PARENT_DEATH_2, prctl(PR_SET_PDEATHSIG, SIGKILL) == 0);
        if (!contained && getppid() != p->parent) child_fail(p, STEP_PARENT_DEATH_2, ESRCH);
    }

    CHECK(p, STEP_NO_NEW_PRIVS, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);

    if (p->level == WR_LEVEL_STRONG) {
        int r = wr_caps_verify_none();
        if (r < 0) child_fail(p, STEP_NO_CAPS, -r);
        if (p->landlock >= 0 && (r = landlock_inside(p)) < 0) child_fail(p, STEP_LANDLOCK, -r);
        /* Last: after this only what the filter allows works, and the
         * listener must reach the parent before execve closes it. */
        int listener = wr_seccomp_load(p->seccomp);
        if (listener < 0) child_fail(p, STEP_SECCOMP, -listener);
        report hand = {REPORT_LISTENER, 0, listener};
        char go;
        if (write(p->err_fd, &hand, sizeof hand) != (ssize_t)sizeof hand ||
            read(p->sync_fd, &go, 1) != 1)
            child_fail(p, STEP_SECCOMP, EPIPE);
    }

    execve(p->path, p->argv, p->envp);
    child_fail(p, STEP_EXEC, errno);
}

/* --- the parent's preparation --------------------------------------------- */

/* Refused system calls of one run, summed by name until the run ends. */
typedef struct refusal_count {
    char name[32];
    uint64_t count;
} refusal_count;

struct wr_run {
    pid_t pid;
    int pidfd;
    int cgroup_fd;
    int listener; /* strong: the seccomp notification fd, or -1 */
    refusal_count refused[64];
    size_t nrefused;
    double last_refusal;
    char saas_user_id[WR_TENANT_ID_MAX + 1];
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
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
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
        (r = strv_setf(env, "LANG=%s", lang && *lang && !strchr(lang, '\n') ? lang : "C.UTF-8")) <
            0)
        return wr_sys(e, ENOMEM, "run environment");
    if (spec->tty && (r = strv_setf(env, "TERM=%s", term && *term ? term : "xterm")) < 0)
        return wr_sys(e, ENOMEM, "run environment");
    for (const char *const *kv = spec->env; kv && *kv; kv++) {
        if (!env_key_ok(*kv))
            return wr_invalid(e,
                              "environment '%.64s': expected KEY=VALUE with KEY of "
                              "[A-Za-z_][A-Za-z0-9_]*",
                              *kv);
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
 * service's sandbox, or the home; never through a link the tenant planted.
 * *ret_path is the same directory as a path (contained runs chdir by path
 * inside their own root). */
static int open_cwd(warren *w, const wr_run_spec *spec, const wr_tenant *t, int homefd,
                    char **ret_path, wr_err *e) {
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
            while (*rel == '/')
                rel++;
            if (!*rel) rel = ".";
        }
        int fd = wr_open_beneath(homefd, rel, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
            return wr_fail(e, fd == -ENOENT ? WR_ERR_NOT_FOUND : WR_ERR_INVALID, -fd,
                           "working directory '%s': %s", spec->cwd,
                           fd == -ELOOP   ? "a link on the way (not followed)"
                           : fd == -EXDEV ? "outside the home"
                                          : strerror(-fd));
        if (asprintf(ret_path, "%s/%s", t->home_dir, rel) < 0) {
            close(fd);
            return wr_sys(e, ENOMEM, "working directory");
        }
        return fd;
    }
    int fd = spec->service ? wr_sandbox_open(homefd, spec->service, owner, group, e)
                           : fcntl(homefd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return spec->service ? fd : wr_sys(e, errno, "home");
    int n = spec->service ? asprintf(ret_path, "%s/sandboxes/%s", t->home_dir, spec->service)
                          : asprintf(ret_path, "%s", t->home_dir);
    if (n < 0) {
        close(fd);
        return wr_sys(e, ENOMEM, "working directory");
    }
    return fd;
}

/* Strong: the read-write home and the device nodes, as Landlock rules on
 * inodes the new root shares with the host (its binds). The rest is added by
 * the child inside the new root (landlock_inside). */
static int landlock_outside(int ruleset, int abi, int homefd, wr_err *e) {
    static const char *const devices[] = {"/dev/null",   "/dev/zero",    "/dev/full",
                                          "/dev/random", "/dev/urandom", "/dev/tty"};
    for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
        int fd = open(devices[i], O_PATH | O_CLOEXEC);
        if (fd < 0) continue;
        int r = wr_landlock_allow(ruleset, fd, WR_LANDLOCK_DEVICE, abi);
        close(fd);
        if (r < 0) return wr_sys(e, -r, "landlock rule for %s", devices[i]);
    }
    int r = wr_landlock_allow(ruleset, homefd, WR_LANDLOCK_WRITE, abi);
    return r < 0 ? wr_sys(e, -r, "landlock rule for the home") : 0;
}

/* The run's limits, never above warren's own hard limits: raising one needs
 * CAP_SYS_RESOURCE, which root may lack (in a container, say), and a run must
 * not fail for a ceiling it would not have reached. */
static void clamp_limits(struct rlimit out[]) {
    for (size_t i = 0; i < ELEMENTSOF(run_rlimits); i++) {
        struct rlimit cur = {RLIM_INFINITY, RLIM_INFINITY};
        getrlimit(run_rlimits[i].resource, &cur);
        rlim_t hard = run_rlimits[i].hard < cur.rlim_max ? run_rlimits[i].hard : cur.rlim_max;
        out[i].rlim_max = hard;
        out[i].rlim_cur = run_rlimits[i].soft < hard ? run_rlimits[i].soft : hard;
    }
}

static int open_devnull(wr_err *e) {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
    return fd >= 0 ? fd : wr_sys(e, errno, "cannot open /dev/null");
}

/* run-<pid of the supervising warren>-<random>: the pid tells a later warren
 * whether the run's supervisor is still there (see reap_orphans). */
static int run_id(char out[40], wr_err *e) {
    unsigned char b[4];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) return wr_sys(e, errno, "run id");
    snprintf(out, 40, "run-%d-%02x%02x%02x%02x", (int)getpid(), b[0], b[1], b[2], b[3]);
    return 0;
}

/* A run whose supervising warren died (SIGKILL, a crash) is ended by the next
 * run of the same tenant: at basic level its daemonised grandchildren would
 * otherwise live on unwatched. A reused pid keeps a run alive (the safe way). */
bool wr_run_orphaned(const char *run, void *userdata) {
    (void)userdata;
    int pid = 0;
    if (sscanf(run, "run-%d-", &pid) != 1 || pid <= 0) return false;
    return pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The report the child wrote, as the error the caller sees. */
static int setup_failed(const report *rep, const char *path, wr_err *e) {
    int code = rep->step == STEP_EXEC && rep->errnum == ENOENT ? WR_EXIT_NOTFOUND
               : rep->step == STEP_EXEC                        ? WR_EXIT_NOEXEC
                                                               : WR_EXIT_SETUP;
    const char *name = rep->step >= 0 && rep->step < STEP_MAX ? step_names[rep->step] : "?";
    int r = rep->step == STEP_EXEC ? wr_fail(e, WR_ERR_SYSTEM, rep->errnum, "cannot run %s: %s",
                                             path, strerror(rep->errnum))
            : rep->step == STEP_ROOTFS
                ? wr_fail(e, WR_ERR_SYSTEM, rep->errnum, "run setup failed at step '%s' (%s): %s",
                          name, wr_rootfs_step_name(rep->detail), strerror(rep->errnum))
                : wr_fail(e, WR_ERR_SYSTEM, rep->errnum, "run setup failed at step '%s': %s", name,
                          strerror(rep->errnum));
    if (e && !e->exit_code) e->exit_code = code;
    return r;
}

/* The namespaces a contained run gets new; the network one it joins. */
#define CONTAINER_NAMESPACES                                                                       \
    (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

static pid_t clone_into(int cgroup_fd, uint64_t namespaces, int *ret_pidfd) {
    struct clone_args args = {
        .flags = CLONE_PIDFD | CLONE_INTO_CGROUP | namespaces,
        .pidfd = (uint64_t)(uintptr_t)ret_pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgroup_fd,
    };
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

int wr_run_start(warren *w, const wr_run_spec *spec, wr_run **ret, wr_err *e) {
    if (spec->level != WR_LEVEL_BASIC && !w->cfg.root_mode)
        return wr_fail(e, WR_ERR_INVALID, ENOTSUP,
                       "level '%s' needs root in this version of warren (user namespaces for "
                       "non-root mode are not done yet); use --level basic",
                       wr_level_name(spec->level));
    if (!!spec->shell == !!(spec->argv && spec->argv[0]))
        return wr_invalid(e, "a run needs either a command or --shell, not both");
    if (spec->service && wr_check_service_id(spec->service, e) < 0) return -EINVAL;

    wr_tenant t;
    int r = wr_tenant_get(w, spec->tenant, &t, e);
    if (r < 0) return r;
    if ((r = wr_ensure_cgroups(w, e)) < 0) return r;
    if ((r = wr_cgroup_reap_runs(w->cgroups, t.linux_username, wr_run_orphaned, NULL, e)) < 0)
        return r;

    _cleanup_close_ int homefd =
        wr_home_open(w->basefd, t.linux_username, w->cfg.root_mode ? t.uid : getuid(), e);
    if (homefd < 0) return homefd;
    _cleanup_free_ char *cwd_path = NULL;
    _cleanup_close_ int cwd = open_cwd(w, spec, &t, homefd, &cwd_path, e);
    if (cwd < 0) return cwd;
    bool contained = spec->level >= WR_LEVEL_CONTAINER, strong = spec->level == WR_LEVEL_STRONG;

    strv env = {0};
    _cleanup_free_ char *path = NULL;
    char **argv = NULL;
    _cleanup_close_ int devnull = -1, err_r = -1, err_w = -1, cgfd = -1;
    _cleanup_close_ int netns = -1, ruleset = -1, sync_r = -1, sync_w = -1;
    wr_rootfs *root = NULL;
    const wr_seccomp *filter = NULL;
    int abi = 0;
    wr_run *run = NULL;
    if (contained) {
        if ((r = netns = wr_netns_open(w->cfg.state_dir, t.linux_username, e)) < 0) goto out;
        wr_rootfs_spec rs = {.home_dir = t.home_dir,
                             .home_fd = homefd,
                             .cwd = cwd_path,
                             .username = t.linux_username,
                             .uid = t.uid,
                             .gid = t.gid,
                             .hostname = t.linux_username};
        if ((r = wr_rootfs_plan(&rs, &root, e)) < 0) goto out;
    }
    if (strong) {
        int sp[2];
        /* The filter is the same for every run: built once per handle. */
        if (!w->seccomp && (r = wr_seccomp_build(true, &w->seccomp, e)) < 0) goto out;
        filter = w->seccomp;
        if ((r = ruleset = wr_landlock_ruleset(&abi, e)) < 0) {
            /* A kernel without Landlock still gets every other layer. */
            if (r != -EOPNOTSUPP) goto out;
            if (e) wr_err_clear(e);
            ruleset = -1;
        } else if ((r = landlock_outside(ruleset, abi, homefd, e)) < 0)
            goto out;
        if (pipe2(sp, O_CLOEXEC) < 0) {
            r = wr_sys(e, errno, "cannot make the run's sync pipe");
            goto out;
        }
        sync_r = sp[0];
        sync_w = sp[1];
    }
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
    run->pidfd = run->cgroup_fd = run->listener = -1;
    run->w = w;
    snprintf(run->saas_user_id, sizeof run->saas_user_id, "%s", t.saas_user_id);
    snprintf(run->tenant, sizeof run->tenant, "%s", t.linux_username);
    if ((r = run_id(run->id, e)) < 0) goto out;
    if ((r = cgfd = wr_cgroup_run_create(w->cgroups, t.linux_username, run->id, e)) < 0) goto out;

    plan pl = {
        .uid = t.uid,
        .gid = t.gid,
        .change_ids = w->cfg.root_mode,
        .tty = spec->tty,
        .level = spec->level,
        .parent = getpid(),
        .netns_fd = netns,
        .rootfs = root,
        .hostname = t.linux_username,
        .landlock = ruleset,
        .landlock_abi = abi,
        .seccomp = filter,
        .sync_fd = sync_r,
        .stdio = {stdio[0], stdio[1], stdio[2]},
        .cwd_fd = cwd,
        .err_fd = err_w,
        .path = path,
        .argv = argv,
        .envp = env.v,
    };
    _Static_assert(ELEMENTSOF(pl.limits) == ELEMENTSOF(run_rlimits), "one slot per limit");
    clamp_limits(pl.limits);

    /* Blocked across clone so that no handler of the parent's runs in the
     * child before child_main has reset them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pidfd = -1;
    pid_t pid = clone_into(cgfd, contained ? CONTAINER_NAMESPACES : 0, &pidfd);
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
    run->result.landlock_abi = ruleset >= 0 ? abi : 0;
    run->deadline = spec->timeout > 0 ? run->started + spec->timeout : 0;

    /* EOF: exec happened. A report: a step failed, and the child has exited.
     * Strong runs first hand over their seccomp listener. */
    close(TAKE_FD(err_w));
    if (sync_r >= 0) close(TAKE_FD(sync_r));
    report rep;
    ssize_t n;
    for (;;) {
        do
            n = read(err_r, &rep, sizeof rep);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof rep || rep.step != REPORT_LISTENER) break;
        run->listener = (int)syscall(SYS_pidfd_getfd, pidfd, rep.detail, 0);
        if (run->listener < 0 || write(sync_w, "g", 1) != 1) {
            r = wr_sys(e, errno, "cannot take the run's seccomp listener");
            wr_run_free(run);
            run = NULL;
            goto out;
        }
    }
    if (n != 0) {
        if (n == (ssize_t)sizeof rep)
            r = setup_failed(&rep, path, e);
        else
            r = wr_sys(e, n < 0 ? errno : EPROTO, "cannot read the run's setup report");
        wr_run_free(run);
        run = NULL;
        goto out;
    }
    *ret = TAKE_PTR(run);
    r = 0;
out:
    free(run);
    strv_free(&env);
    wr_rootfs_free(root);
    return r;
}

int wr_run_pid(const wr_run *r) {
    return r->pid;
}
int wr_run_pidfd(const wr_run *r) {
    return r->pidfd;
}

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
    if (WIFEXITED(status))
        r->result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r->result.signal = WTERMSIG(status);
}

/* Ends what is left in the run's cgroup and removes it. */
static int end_tree(wr_run *r, wr_err *e) {
    if (r->cgroup_fd < 0) return 0;
    /* Most programs leave nothing behind: then there is nothing to kill and
     * no emptiness to wait for. */
    bool populated = true;
    int rc = 0;
    if (wr_cgroup_populated(r->cgroup_fd, &populated, NULL) < 0 || populated)
        rc = wr_cgroup_kill(r->cgroup_fd, e);
    r->result.cpu_seconds = (double)cgroup_cpu_usec(r->cgroup_fd) / 1e6;
    close(TAKE_FD(r->cgroup_fd));
    if (rc >= 0) rc = wr_cgroup_run_remove(r->w->cgroups, r->tenant, r->id, e);
    return rc;
}

int wr_run_notify_fd(const wr_run *r) {
    return r->listener;
}

int wr_run_service(wr_run *r, wr_err *e) {
    if (r->listener < 0) return 0;
    wr_seccomp_refusal x;
    int q = wr_seccomp_handle(r->listener, &x, e);
    if (q == -ENOENT) return 0; /* the task died meanwhile */
    if (q < 0) return q;
    r->last_refusal = wr_now();
    size_t i = 0;
    while (i < r->nrefused && !streq(r->refused[i].name, x.name))
        i++;
    if (i == r->nrefused) {
        if (i == ELEMENTSOF(r->refused))
            i--; /* a run refused that many kinds: pool the rest */
        else
            r->nrefused++;
        snprintf(r->refused[i].name, sizeof r->refused[i].name, "%s",
                 i == ELEMENTSOF(r->refused) - 1 ? "(other)" : x.name);
    }
    r->refused[i].count++;
    return 1;
}

/* Into the registry, so `warren audit` lists them; a failure here must not
 * hide how the run ended, so it is not reported as the run's error. */
static void record_refusals(wr_run *r) {
    for (size_t i = 0; i < r->nrefused; i++)
        wr_store_add_refusal(r->w->store, r->saas_user_id, r->refused[i].name, r->refused[i].count,
                             r->last_refusal, NULL);
    r->nrefused = 0;
}

int wr_run_deadline_ms(const wr_run *r) {
    if (!r->deadline || r->result.timed_out) return -1;
    double left = r->deadline - now();
    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

int wr_run_expire(wr_run *r, wr_err *e) {
    if (!r->deadline || r->result.timed_out || now() < r->deadline) return 0;
    r->result.timed_out = true;
    return wr_cgroup_kill(r->cgroup_fd, e);
}

int wr_run_wait(wr_run *r, wr_run_result *ret, wr_err *e) {
    while (!r->reaped) {
        struct pollfd pfd[2] = {{.fd = r->pidfd, .events = POLLIN},
                                {.fd = r->listener, .events = POLLIN}};
        int n = poll(pfd, 2, wr_run_deadline_ms(r));
        if (n < 0 && errno != EINTR) return wr_sys(e, errno, "waiting for the run");
        if (n > 0 && pfd[1].revents & POLLIN) {
            int q = wr_run_service(r, e);
            if (q < 0) return q;
        }
        if (n > 0 && pfd[0].revents & POLLIN) {
            reap(r);
            break;
        }
        int q = wr_run_expire(r, e);
        if (q < 0) return q;
    }
    int q = end_tree(r, e);
    record_refusals(r);
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
        if (r->cgroup_fd >= 0)
            wr_cgroup_kill(r->cgroup_fd, NULL);
        else
            syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
        reap(r);
    }
    end_tree(r, NULL);
    record_refusals(r);
    if (r->pidfd >= 0) close(r->pidfd);
    if (r->listener >= 0) close(r->listener);
    free(r);
}
