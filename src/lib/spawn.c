/* spawn.c: the one place warren creates a process for a tenant.
 *
 * Theory of operation
 * -------------------
 * The parent (the CLI, or a daemon thread) prepares everything the child will
 * need while it may still allocate: the tenant's IDs, the working directory
 * as an fd, the program's path, argv and environment, the stdio fds, the
 * run's cgroup as an fd, and a close-on-exec "error pipe". Then it blocks all
 * signals and calls clone3(CLONE_PIDFD | CLONE_INTO_CGROUP), with vfork's
 * contract where it can (clone_vfork: the child borrows the parent's memory
 * until it execs, so none of it is copied): the child starts inside the
 * run's cgroup, so nothing it ever forks can escape tracking, and the parent
 * holds a pidfd that cannot be confused with a recycled pid.
 *
 * The child runs the steps of wr_spawn_child (spawn-child.c) in a fixed
 * order, each a plain system call: it allocates nothing and takes no lock,
 * because the parent may have threads whose locks were copied mid-hold.
 * Credentials are changed with raw system calls: glibc's setresuid would try
 * to synchronise threads that exist only in the parent. If a step fails, the
 * child writes {step, errno} to the error pipe and exits with WR_EXIT_SETUP.
 * If execve succeeds, the pipe closes on exec and the parent reads EOF: the
 * program is running.
 *
 * At the container level the clone also makes new mount, pid, ipc, uts and
 * cgroup namespaces; the child joins the tenant's kept network namespace and
 * enters the private root planned by rootfs.c. In root mode that root is the
 * tenant's kept one (rootfs.h, "kept roots"): the child is cloned without
 * CLONE_NEWNS, joins the kept root's mount namespace and unshares a copy of
 * it, so a run mounts only what is its own (/tmp, /dev/shm, devpts, /proc)
 * instead of building ~50 mounts.
 *
 * A contained child does not exec the command itself. Right after the cheap
 * steps (session, stdio, limits) it starts the command's own process
 * (spawn-command.c): a clone sharing its memory, on a stack in
 * wr_run_start's frame, which sets itself up beside the child, on the other
 * CPU, while the child builds the root: at the strong level it gives up the
 * bounding set and loads the seccomp filter then, joins the child's root
 * once it is built, gives up its ids and capabilities, restricts itself
 * with Landlock, and execs the command once the init runs. The filter is
 * compiled once per build and kept in the state directory
 * (seccomp-cache.c); its notification listener goes to the parent: the
 * child takes a copy from the command's process, leaves it at a fixed fd of
 * the init, says so on the error pipe, and the parent takes its own with
 * pidfd_getfd. The child, once the root is built, execs warren-init
 * (spawn-init.c, src/init) as the tenant: pid 1 of the run's pid namespace,
 * which reaps orphans, forwards termination signals, and reports the
 * command's own wait status on a status pipe, so the run ends with the
 * command's status. The error pipe reaches EOF when the command has exec'ed
 * and the init has started.
 *
 * Without root (userns.c), a contained run is cloned into a user namespace
 * and a network namespace of its own as well: its first step maps the
 * caller's uid and gid to the tenant's, it skips setgroups (denied there),
 * and after the uid step, which changes nothing, it drops the capabilities
 * the namespace gave it.
 *
 * wr_run_wait polls the pidfd (with the timeout) and the listener (answering
 * and counting refused system calls), and, for a contained run, the status
 * pipe. As soon as it knows how the program ended it records the refusals
 * and the audit's run_started and run_ended of a short run, in one
 * transaction (one commit per run; a run still going after a second has its
 * start written then): a contained run's init reports the command's status
 * just before it exits, and its exit, which takes the run's namespaces down,
 * goes on meanwhile on the other CPU. Then it reaps the program, kills
 * whatever is left in the run's cgroup (daemonised grandchildren included)
 * and removes it.
 * wr_run_end and wr_run_record are wr_run_wait's two halves, for a supervisor
 * that answers its client in between (the daemon's run socket). */
#include "run.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/prctl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cgroup.h"
#include "fs.h"
#include "home.h"
#include "landlock.h"
#include "net.h"
#include "quota.h"
#include "rootfs.h"
#include "seccomp.h"
#include "storage.h"
#include "store.h"
#include "userns.h"
#include "util.h"
#include "spawn-internal.h"
#include "warren-internal.h"

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
    bool listener_done; /* its filter has no task left: no longer watched */
    int status_fd;      /* contained: the init's report of the command's status, or -1 */
    refusal_count refused[64];
    size_t nrefused;
    double last_refusal;
    char saas_user_id[WR_TENANT_ID_MAX + 1];
    char tenant[WR_USERNAME_MAX + 1];
    char id[40];
    char group[WR_CGROUP_RUN_MAX]; /* its cgroup's name: id, or a kept group's */
    double started;
    double deadline; /* 0: none */
    /* The audit's run_started: written with run_ended, in one transaction,
     * unless the run lasts past start_due (then on its own, by
     * wr_run_expire). Most runs are short: one commit per run, not two. */
    char start_detail[128];
    double started_at; /* wall clock, for the event */
    double start_due;
    bool start_recorded;
    bool concluded;    /* how the program ended is known (the init's report, or its reaping) */
    bool status_gone;  /* the init closed its status pipe without a report (it was killed) */
    bool reaped;
    bool ended;        /* wr_run_end has ended its tree */
    bool end_recorded; /* wr_run_record has written its end */
    bool killed;       /* cgroup.kill was written to its group: not for another run */
    uint64_t cpu_base; /* usec its group had counted before (a kept group) */
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

/* A run still going after this many seconds has its run_started recorded
 * then; a shorter one, with its run_ended (struct wr_run). */
#define RUN_START_AUDIT_DELAY 1.0

/* The run's environment: an allowlist built from scratch, never the caller's
 * (which may hold the daemon's tokens), then the spec's additions. */
static int build_env(const wr_run_spec *spec, const wr_tenant *t, strv *env, wr_err *e) {
    const char *lang = spec->lang ? spec->lang : getenv("LANG");
    const char *term = getenv("TERM");
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

/* Strong: the read-write home, as a Landlock rule on the inode the new root
 * shares with the host (its bind). The rest is added by the child inside the
 * new root (landlock_inside). */
static int landlock_outside(int ruleset, int abi, int homefd, wr_err *e) {
    int r = wr_landlock_allow(ruleset, homefd, WR_LANDLOCK_WRITE, abi);
    return r < 0 ? wr_sys(e, -r, "landlock rule for the home") : 0;
}

/* The run's limits, never above warren's own hard limits: raising one needs
 * CAP_SYS_RESOURCE, which root may lack (in a container, say), and a run must
 * not fail for a ceiling it would not have reached. */
static void clamp_limits(struct rlimit out[]) {
    for (size_t i = 0; i < WR_RUN_NLIMITS; i++) {
        struct rlimit cur = {RLIM_INFINITY, RLIM_INFINITY};
        getrlimit(wr_run_rlimits[i].resource, &cur);
        rlim_t hard = wr_run_rlimits[i].hard < cur.rlim_max ? wr_run_rlimits[i].hard : cur.rlim_max;
        out[i].rlim_max = hard;
        out[i].rlim_cur = wr_run_rlimits[i].soft < hard ? wr_run_rlimits[i].soft : hard;
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

/* The report the child wrote, as the error the caller sees. */
static int setup_failed(const report *rep, const char *path, wr_err *e) {
    int code = rep->step == STEP_EXEC && rep->errnum == ENOENT ? WR_EXIT_NOTFOUND
               : rep->step == STEP_EXEC                        ? WR_EXIT_NOEXEC
                                                               : WR_EXIT_SETUP;
    const char *name = wr_spawn_step_name(rep->step);
    int r = rep->step == STEP_EXEC ? wr_fail(e, WR_ERR_SYSTEM, rep->errnum, "cannot run %s: %s",
                                             path, strerror(rep->errnum))
            : rep->step == STEP_ROOTFS || rep->step == STEP_JOIN_ROOT
                ? wr_fail(e, WR_ERR_SYSTEM, rep->errnum, "run setup failed at step '%s' (%s): %s",
                          name, wr_rootfs_step_name(rep->detail), strerror(rep->errnum))
                : wr_fail(e, WR_ERR_SYSTEM, rep->errnum, "run setup failed at step '%s': %s", name,
                          strerror(rep->errnum));
    if (e && !e->exit_code) e->exit_code = code;
    return r;
}

/* The stack of a contained run's command process until its exec
 * (spawn-command.c): a few frames of system-call wrappers, libcap-ng's and
 * Landlock's, with room for AddressSanitizer's red zones. */
#define COMMAND_STACK_SIZE (64 * 1024)

/* The namespaces a contained run gets new; the network one it joins. */
#define CONTAINER_NAMESPACES                                                                       \
    (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

/* clone3 with vfork's contract (CLONE_VM | CLONE_VFORK): the child borrows
 * the parent's memory and stack until it execs or exits, while the calling
 * thread waits. Copying the parent's address space is what fork costs
 * most in a process with many libraries mapped (the CLI, the daemon): about
 * four times an empty process's fork here. Safe for the child because it
 * allocates nothing, takes no lock and writes only its own new frames (and
 * errno, of the waiting thread) before execve. Like glibc's vfork, the stub
 * keeps its return address in a register across the system call, so the
 * child's calls cannot overwrite what the parent returns through; it must be
 * called from the function that then calls wr_spawn_child (wr_run_start). Not
 * under AddressSanitizer, whose shadow of the shared stack the child would
 * leave poisoned (clone_into, a fork, instead). A contained run's child ends
 * by an exec as well: of its init (spawn-init.c). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WR_NO_VFORK_CLONE 1
#endif
#endif
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(WR_NO_VFORK_CLONE)
#define WR_VFORK_CLONE 1
long wr_clone3_vfork(struct clone_args *args, size_t size) __attribute__((returns_twice));
__asm__(".text\n"
        ".globl wr_clone3_vfork\n"
        ".hidden wr_clone3_vfork\n"
        ".type wr_clone3_vfork, @function\n"
        "wr_clone3_vfork:\n"
        "    popq %rdx\n" /* the return address: rdx survives syscall, clone3 ignores it */
        "    movl $435, %eax\n" /* SYS_clone3 */
        "    syscall\n"
        "    pushq %rdx\n"
        "    ret\n"
        ".size wr_clone3_vfork, .-wr_clone3_vfork\n");
_Static_assert(SYS_clone3 == 435, "clone3's number on x86-64");

/* The child goes on in this frame into wr_spawn_child and never returns here;
 * the parent returns once the child has exec'ed or exited. -errno on failure. */
static __attribute__((noinline)) long clone_vfork(const plan *pl, struct clone_args *args) {
    long v = wr_clone3_vfork(args, sizeof *args);
    if (v == 0) wr_spawn_child(pl);
    return v;
}
#else
static pid_t clone_into(int cgroup_fd, uint64_t namespaces, int *ret_pidfd) {
    struct clone_args args = {
        .flags = CLONE_PIDFD | CLONE_INTO_CGROUP | namespaces,
        .pidfd = (uint64_t)(uintptr_t)ret_pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgroup_fd,
    };
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}
#endif

/* Whether a run's init has ended (or is ending: it lets go of its files
 * just before its pidfd turns readable). */
static bool init_ended(int pidfd) {
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    return poll(&pfd, 1, 1000) == 1;
}

int wr_run_start(warren *w, const wr_run_spec *spec, wr_run **ret, wr_err *e) {
    if (!!spec->shell == !!(spec->argv && spec->argv[0]))
        return wr_invalid(e, "a run needs either a command or --shell, not both");
    if (spec->service && wr_check_service_id(spec->service, e) < 0) return -EINVAL;

    wr_tenant t;
    int r = wr_tenant_get(w, spec->tenant, &t, e);
    if (r < 0) return r;
    if ((r = wr_ensure_cgroups(w, e)) < 0) return r;
    if ((r = wr_cgroup_reap_runs_due(w->cgroups, t.linux_username, wr_run_orphaned, NULL, e)) < 0)
        return r;
    /* The tenant's quota: its cgroup limits (written when its group is made
     * and on every change, so usually nothing to do here) and RLIMIT_NOFILE. */
    wr_quota quota;
    if ((r = wr_quota_run_prepare(w, &t, &quota, e)) < 0) return r;
    /* A tenant over its storage quota starts nothing new (storage.h); with
     * no storage or inode limit there is nothing to measure (the same
     * effective quota storage.c would read again). */
    if ((wr_quota_limited(quota.storage) || wr_quota_limited(quota.inodes)) &&
        (r = wr_storage_check_run(w, &t, e)) < 0)
        return r;

    _cleanup_close_ int homefd =
        wr_home_open(w->basefd, t.linux_username, w->cfg.root_mode ? t.uid : getuid(), e);
    if (homefd < 0) return homefd;
    _cleanup_free_ char *cwd_path = NULL;
    _cleanup_close_ int cwd = open_cwd(w, spec, &t, homefd, &cwd_path, e);
    if (cwd < 0) return cwd;
    bool contained = spec->level >= WR_LEVEL_CONTAINER, strong = spec->level == WR_LEVEL_STRONG;
    /* Without root a contained run gets a user namespace of its own. */
    bool userns = contained && !w->cfg.root_mode;
    wr_userns maps;
    if (userns && (r = wr_userns_prepare(&maps, t.uid, t.gid, e)) < 0) return r;

    strv env = {0};
    _cleanup_free_ char *path = NULL;
    char **argv = NULL;
    _cleanup_close_ int devnull = -1, err_r = -1, err_w = -1, cgfd = -1;
    _cleanup_close_ int netns = -1, ruleset = -1;
    _cleanup_close_ int status_r = -1, status_w = -1;
    wr_rootfs *root = NULL;
    const wr_seccomp *filter = NULL;
    int abi = 0;
    wr_run *run = NULL;
    if (contained) {
        if (!userns && (r = netns = wr_net_open(w, &t, e)) < 0) goto out;
        wr_rootfs_spec rs = {.home_dir = t.home_dir,
                             .home_fd = homefd,
                             .cwd = cwd_path,
                             .username = t.linux_username,
                             .uid = t.uid,
                             .gid = t.gid,
                             .hostname = t.linux_username,
                             .userns = userns};
        /* The tenant's root is built once and kept (rootfs.h, "kept roots"). */
        char kept[sizeof w->cfg.state_dir + 8];
        snprintf(kept, sizeof kept, "%s/rootns", w->cfg.state_dir);
        if (!userns) rs.template_dir = kept;
        if ((r = wr_rootfs_plan(&rs, &root, e)) < 0) goto out;
    }
    int init_fd = -1;
    if (contained && (r = init_fd = wr_spawn_init_fd(e)) < 0) goto out;
    if (strong) {
        /* The filter is the same for every run: once per handle, and
         * compiled only once per build of warren (seccomp-cache.c). */
        if (!w->seccomp && (r = wr_seccomp_cached(w->cfg.state_dir, true, &w->seccomp, e)) < 0)
            goto out;
        filter = w->seccomp;
        if ((r = ruleset = wr_landlock_ruleset(&abi, e)) < 0) {
            /* A kernel without Landlock still gets every other layer. */
            if (r != -EOPNOTSUPP) goto out;
            if (e) wr_err_clear(e);
            ruleset = -1;
        } else if ((r = landlock_outside(ruleset, abi, homefd, e)) < 0)
            goto out;
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
    if (contained) {
        /* Non-blocking: read once the init has ended, which may have been
         * before it could write (killed by the timeout or a cancel). */
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
            r = wr_sys(e, errno, "cannot make the run's status pipe");
            goto out;
        }
        status_r = p[0];
        status_w = p[1];
    }

    run = calloc(1, sizeof *run);
    if (!run) {
        r = wr_sys(e, ENOMEM, "run");
        goto out;
    }
    run->pidfd = run->cgroup_fd = run->listener = run->status_fd = -1;
    run->w = w;
    snprintf(run->saas_user_id, sizeof run->saas_user_id, "%s", t.saas_user_id);
    snprintf(run->tenant, sizeof run->tenant, "%s", t.linux_username);
    if ((r = run_id(run->id, e)) < 0) goto out;
    /* The group of an earlier run of the tenant's, if one is kept. */
    snprintf(run->group, sizeof run->group, "%s", run->id);
    if ((r = cgfd = wr_cgroup_run_take(w->cgroups, t.linux_username, run->group, &run->cpu_base,
                                       e)) < 0)
        goto out;

    /* Contained: where the child and the command's process meet, and the
     * stack that process runs on until its exec. Both stay until the error
     * pipe's EOF below, which comes only once that process has exec'ed or
     * ended. */
    wr_spawn_meet meet;
    wr_spawn_meet_init(&meet);
    char command_stack[COMMAND_STACK_SIZE] __attribute__((aligned(16)));
    plan pl = {
        .uid = t.uid,
        .gid = t.gid,
        .change_ids = w->cfg.root_mode,
        .tty = spec->tty,
        .level = spec->level,
        .parent = getpid(),
        .netns_fd = netns,
        .userns = userns ? &maps : NULL,
        .rootfs = root,
        .hostname = t.linux_username,
        .landlock = ruleset,
        .landlock_abi = abi,
        .seccomp = filter,
        .stdio = {stdio[0], stdio[1], stdio[2]},
        .cwd_fd = cwd,
        .err_fd = err_w,
        .status_fd = status_w,
        .path = path,
        .argv = argv,
        .envp = env.v,
        .init_fd = init_fd,
        .meet = &meet,
        .command_stack = command_stack,
        .command_stack_size = sizeof command_stack,
    };
    clamp_limits(pl.limits);
    /* The tenant's open-files quota replaces the default ceiling. */
    if (wr_quota_limited(quota.nofile)) {
        struct rlimit own = {RLIM_INFINITY, RLIM_INFINITY};
        getrlimit(RLIMIT_NOFILE, &own);
        rlim_t n = (rlim_t)quota.nofile < own.rlim_max ? (rlim_t)quota.nofile : own.rlim_max;
        pl.limits[WR_RUN_NOFILE] = (struct rlimit){n, n};
    }
    if ((r = pl.ncgroup_v1 = wr_cgroup_attach_fds(w->cgroups, t.linux_username, pl.cgroup_v1,
                                                  ELEMENTSOF(pl.cgroup_v1), e)) < 0)
        goto out;
    pl.cpus = spec->cpus ? spec->cpus : wr_supervisor_run_cpus(w);

    /* Blocked across clone so that no handler of the parent's runs in the
     * child before wr_spawn_child has reset them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pidfd = -1;
    uint64_t ns = !contained ? 0
                  : userns   ? CONTAINER_NAMESPACES | CLONE_NEWUSER | CLONE_NEWNET
                             : CONTAINER_NAMESPACES;
    /* With a kept root the child joins a copy of it instead (STEP_ROOTFS):
     * copying the host's mount table first would be wasted. */
    if (root && !wr_rootfs_needs_new_mount_ns(root)) ns &= ~(uint64_t)CLONE_NEWNS;
    pid_t pid;
    int clone_errno = 0;
#ifdef WR_VFORK_CLONE
    struct clone_args vargs = {
        .flags = CLONE_PIDFD | CLONE_INTO_CGROUP | CLONE_VM | CLONE_VFORK,
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgfd,
    };
    vargs.flags |= ns;
    {
        long v = clone_vfork(&pl, &vargs);
        pid = v < 0 ? -1 : (pid_t)v;
        clone_errno = v < 0 ? (int)-v : 0;
    }
#else
    {
        pid = clone_into(cgfd, ns, &pidfd);
        if (pid == 0) wr_spawn_child(&pl);
        clone_errno = errno;
    }
#endif
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < pl.ncgroup_v1; i++)
        close(pl.cgroup_v1[i]);
    if (pid < 0) {
        r = wr_sys(e, clone_errno, "cannot start the run (clone3)");
        wr_cgroup_run_remove(w->cgroups, run->tenant, run->group, NULL);
        goto out;
    }
    run->pid = pid;
    run->pidfd = pidfd;
    run->cgroup_fd = TAKE_FD(cgfd);
    run->started = wr_mono();
    run->result.landlock_abi = ruleset >= 0 ? abi : 0;
    run->deadline = spec->timeout > 0 ? run->started + spec->timeout : 0;

    /* EOF: every copy of the error pipe's write end has closed, at an exec
     * or an exit: the command is running (contained: and the init has
     * started). A report: a step failed; the pipe is still read to its EOF,
     * since the command's process of a contained run may still be going on
     * this frame's stack. Strong runs first hand over their seccomp
     * listener. */
    close(TAKE_FD(err_w));
    if (status_w >= 0) close(TAKE_FD(status_w));
    run->status_fd = TAKE_FD(status_r);
    report rep, failed = {0};
    bool setup_failure = false;
    ssize_t n;
    int read_errno = 0, listener_errno = 0;
    for (;;) {
        do
            n = read(err_r, &rep, sizeof rep);
        while (n < 0 && errno == EINTR);
        if (n == 0) break;
        if (n != (ssize_t)sizeof rep) {
            /* A short report, or none readable: the writers end all the
             * same (the child and the command exit on any failure). */
            if (!read_errno) read_errno = n < 0 ? errno : EPROTO;
            if (n < 0) break;
            continue;
        }
        if (rep.step != REPORT_LISTENER) {
            if (!setup_failure) failed = rep;
            setup_failure = true;
            continue;
        }
        if (setup_failure || run->listener >= 0) continue;
        run->listener = (int)syscall(SYS_pidfd_getfd, pidfd, rep.detail, 0);
        if (run->listener < 0 && init_ended(pidfd)) {
            /* The command came and went, and the init with it, before the
             * listener was taken: nothing was refused, or the command
             * would still be waiting for the answer. */
            run->listener_done = true;
            continue;
        }
        if (run->listener < 0) listener_errno = errno;
    }
    if (setup_failure || read_errno || listener_errno) {
        if (setup_failure)
            r = setup_failed(&failed, path, e);
        else if (read_errno)
            r = wr_sys(e, read_errno, "cannot read the run's setup report");
        else
            r = wr_sys(e, listener_errno, "cannot take the run's seccomp listener");
        wr_run_free(run);
        run = NULL;
        goto out;
    }
    snprintf(run->start_detail, sizeof run->start_detail,
             "{\"run\":\"%s\",\"pid\":%d,\"level\":\"%s\"}", run->id, (int)run->pid,
             wr_level_name(spec->level));
    run->started_at = wr_now();
    run->start_due = run->started + RUN_START_AUDIT_DELAY;
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

/* The run's cpu time: what its group counted, less what a kept group had
 * counted for earlier runs. */
static double run_cpu_seconds(const wr_run *r, uint64_t usec) {
    return (double)(usec - (usec < r->cpu_base ? usec : r->cpu_base)) / 1e6;
}

/* How the program ended: its wait status, at the time it became known. */
static void conclude(wr_run *r, int status) {
    r->concluded = true;
    r->result.wall_seconds = wr_mono() - r->started;
    if (WIFEXITED(status))
        r->result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r->result.signal = WTERMSIG(status);
}

/* Contained: the command's own status, as the init reports it when the
 * command ends, just before the init exits. 1: concluded; 0: not written
 * yet, or never will be (the init was killed: then the init's own status
 * says how the run ended). */
static int read_report(wr_run *r) {
    if (r->status_fd < 0 || r->status_gone || r->concluded) return 0;
    int status;
    ssize_t n = read(r->status_fd, &status, sizeof status);
    if (n == (ssize_t)sizeof status) {
        conclude(r, status);
        return 1;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) r->status_gone = true;
    return 0;
}

/* Reaps the program (the init, for a contained run). */
static void reap(wr_run *r) {
    int status = 0;
    struct rusage ru = {0};
    while (wait4(r->pid, &status, 0, &ru) < 0 && errno == EINTR) {}
    r->reaped = true;
    r->result.peak_rss = (uint64_t)ru.ru_maxrss * 1024;
    if (!r->concluded && !read_report(r)) conclude(r, status);
}

/* Ends what is left in the run's cgroup and removes it. */
static int end_tree(wr_run *r, wr_err *e) {
    if (r->cgroup_fd < 0) return 0;
    uint64_t usec = wr_cgroup_cpu_usec(r->cgroup_fd);
    r->result.cpu_seconds = run_cpu_seconds(r, usec);
    /* A run that ended by itself leaves its group, if empty, to the tenant's
     * next run (wr_cgroup_run_take); a killed one's group goes, since a
     * process cloned into it later would die at once (a SIGKILL may have come
     * from a kill of the whole tenant). Most programs leave nothing behind:
     * the group is kept or removed at once, and the kernel's refusal to
     * remove it (EBUSY) is the check that something is left to kill. */
    bool clean = !r->killed && !r->result.timed_out && r->result.signal != SIGKILL;
    wr_err busy = WR_ERR_INIT;
    int rc = clean ? wr_cgroup_run_release(r->w->cgroups, r->tenant, r->group, r->cgroup_fd,
                                           usec, &busy)
                   : wr_cgroup_run_remove(r->w->cgroups, r->tenant, r->group, &busy);
    if (rc == 1) {
        r->cgroup_fd = -1; /* the handle keeps it */
        return 0;
    }
    if (rc == -EBUSY) {
        r->killed = true;
        if ((rc = wr_cgroup_kill(r->cgroup_fd, e)) >= 0) {
            usec = wr_cgroup_cpu_usec(r->cgroup_fd);
            r->result.cpu_seconds = run_cpu_seconds(r, usec);
            rc = wr_cgroup_run_remove(r->w->cgroups, r->tenant, r->group, e);
        }
    } else if (rc < 0 && e && e->kind == WR_ERR_NONE)
        *e = busy;
    close(TAKE_FD(r->cgroup_fd));
    return rc;
}

int wr_run_notify_fd(const wr_run *r) {
    return r->listener_done ? -1 : r->listener;
}

int wr_run_service(wr_run *r, wr_err *e) {
    if (r->listener < 0 || r->listener_done) return 0;
    /* Once no task uses the filter (the run is ending) the listener polls as
     * hung up for good, while the pidfd may not be readable yet: a loop that
     * kept watching it would spin. Receiving blocks, so look first. */
    struct pollfd pl = {.fd = r->listener, .events = POLLIN};
    if (poll(&pl, 1, 0) <= 0) return 0;
    if (!(pl.revents & POLLIN)) {
        r->listener_done = true;
        return 0;
    }
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

static void record_start(wr_run *r) {
    if (r->start_recorded || !r->start_detail[0]) return; /* recorded, or never started */
    r->start_recorded = true;
    wr_audit_note(r->w, "run_started", r->saas_user_id, r->start_detail);
}

/* When wr_run_expire next has work: the timeout, or a long run's start to
 * record; 0 for nothing. */
static double next_due(const wr_run *r) {
    /* A program that has ended was in time, whatever its init still does. */
    double due = r->deadline && !r->result.timed_out && !r->concluded ? r->deadline : 0;
    if (!r->start_recorded && (!due || r->start_due < due)) due = r->start_due;
    return due;
}

int wr_run_deadline_ms(const wr_run *r) {
    double due = next_due(r);
    if (!due) return -1;
    double left = due - wr_mono();
    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

int wr_run_expire(wr_run *r, wr_err *e) {
    double t = wr_mono();
    if (!r->start_recorded && t >= r->start_due) record_start(r);
    if (!r->deadline || r->result.timed_out || r->concluded || t < r->deadline) return 0;
    r->result.timed_out = true;
    r->killed = true;
    return wr_cgroup_kill(r->cgroup_fd, e);
}

/* Waits until the program has ended (or only, with `until_report`, until
 * how it ended is known), answering refused calls and keeping the timeout.
 * A contained run's init reports the command's status and then exits,
 * taking the run's namespaces down: ~0.1 ms that wr_run_wait spends writing
 * the audit instead of waiting. */
static int await_run(wr_run *r, bool until_report, wr_err *e) {
    while (!r->reaped && !(until_report && r->concluded)) {
        bool watch = r->status_fd >= 0 && !r->status_gone && !r->concluded;
        struct pollfd pfd[3] = {{.fd = r->pidfd, .events = POLLIN},
                                {.fd = wr_run_notify_fd(r), .events = POLLIN},
                                {.fd = watch ? r->status_fd : -1, .events = POLLIN}};
        int n = poll(pfd, 3, wr_run_deadline_ms(r));
        if (n < 0 && errno != EINTR) return wr_sys(e, errno, "waiting for the run");
        if (n > 0 && pfd[1].revents) {
            int q = wr_run_service(r, e);
            if (q < 0) return q;
        }
        if (n > 0 && pfd[2].revents) read_report(r);
        if (n > 0 && pfd[0].revents & POLLIN) {
            reap(r);
            break;
        }
        int q = wr_run_expire(r, e);
        if (q < 0) return q;
    }
    return 0;
}

int wr_run_end(wr_run *r, wr_run_result *ret, wr_err *e) {
    int q = await_run(r, false, e);
    if (q < 0) return q;
    q = end_tree(r, e);
    r->ended = true;
    if (q < 0) return q;
    *ret = r->result;
    return 0;
}

void wr_run_record(wr_run *r) {
    if (!r->concluded || r->end_recorded) return;
    r->end_recorded = true;
    record_refusals(r);
    char detail[192];
    snprintf(detail, sizeof detail,
             "{\"run\":\"%s\",\"exit_code\":%d,\"signal\":%d,\"timed_out\":%s,"
             "\"wall_seconds\":%.3f}",
             r->id, r->result.exit_code, r->result.signal, r->result.timed_out ? "true" : "false",
             r->result.wall_seconds);
    /* A short run's start and its end: one transaction, one line write. */
    wr_audit_new ev[2] = {{"run_started", r->saas_user_id, r->start_detail, r->started_at},
                          {"run_ended", r->saas_user_id, detail, 0}};
    bool both = !r->start_recorded;
    r->start_recorded = true;
    wr_audit_note_batch(r->w, both ? ev : ev + 1, both ? 2 : 1);
}

int wr_run_wait(wr_run *r, wr_run_result *ret, wr_err *e) {
    /* Recorded as soon as it is known how the program ended, while a
     * contained run's init is still exiting; then the tree is ended. */
    int q = await_run(r, true, e);
    wr_run_record(r);
    return q < 0 ? q : wr_run_end(r, ret, e);
}

int wr_run_signal(wr_run *r, int sig, wr_err *e) {
    if (r->reaped) return wr_fail(e, WR_ERR_NOT_FOUND, ESRCH, "the run has ended");
    if (syscall(SYS_pidfd_send_signal, r->pidfd, sig, NULL, 0) < 0)
        return wr_sys(e, errno, "cannot signal the run");
    return 0;
}

int wr_run_cancel(wr_run *r, wr_err *e) {
    if (r->cgroup_fd < 0) return 0;
    r->killed = true;
    return wr_cgroup_kill(r->cgroup_fd, e);
}

void wr_run_free(wr_run *r) {
    if (!r) return;
    if (!r->reaped && r->pid > 0) {
        r->killed = true;
        if (r->cgroup_fd >= 0)
            wr_cgroup_kill(r->cgroup_fd, NULL);
        else
            syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
        reap(r);
    }
    end_tree(r, NULL);
    if (r->ended)
        wr_run_record(r); /* ended by wr_run_end, not yet recorded */
    else if (r->pidfd >= 0)
        record_start(r); /* freed without wr_run_wait: the start still counts */
    record_refusals(r);
    if (r->pidfd >= 0) close(r->pidfd);
    if (r->listener >= 0) close(r->listener);
    if (r->status_fd >= 0) close(r->status_fd);
    free(r);
}
