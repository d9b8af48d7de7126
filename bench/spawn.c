/* bench-spawn: what starting a program costs at each of warren's levels, side
 * by side with the floor (fork + execve in C) and with the tools people use
 * for the same job. Every row runs /bin/true with stdio on /dev/null.
 *
 * In process (N timed iterations per row, after a warm-up):
 *   - the floor: fork, execve("/bin/true"), waitpid;
 *   - the same child made with clone(CLONE_NEWNS|NEWPID|NEWIPC|NEWUTS|NEWNET)
 *     that drops to the tenant's uid and gid and loads a seccomp filter before
 *     execve: what fresh namespaces, credentials and seccomp cost in plain C;
 *     and again joining a network namespace made once instead of a new one,
 *     as warren's contained levels join the tenant's kept one; and that again
 *     with an init: the clone stays as pid 1, vforks the program and waits
 *     (what an init costs in the plainest way);
 *   - the library: wr_run_start + wr_run_wait + wr_run_free at each level.
 * Then W worker processes (the number of cores) run the library at each level
 * as fast as they can for a few seconds: runs per second of the machine.
 *
 * As whole processes (M timed runs per row, the same fork/exec/wait loop as
 * the floor; their floor is /bin/true itself timed in that loop, in the same
 * rounds, so the ratios compare like with like):
 *   - `warren run --level L TENANT -- /bin/true` at each level;
 *   - `unshare -p -f -m -i -u -n --mount-proc /bin/true`;
 *   - `bwrap --ro-bind / / --unshare-all --die-with-parent /bin/true`;
 *   - `setpriv --reuid U --regid U --clear-groups /bin/true`;
 *   - python3's subprocess.run(['/bin/true'], user=U, group=U,
 *     extra_groups=[]), timed inside python around each call, so the
 *     interpreter's start is not counted.
 *
 * The rows take turns in rounds, so a machine that gets busier or quieter
 * partway through shifts them all alike. Each iteration is timed with
 * CLOCK_MONOTONIC; the table gives the median, p95, runs per second and the
 * median's ratio to the floor's, then the goals of this machine with PASS or
 * MISS. A row that cannot run (a level not available yet, a tool not
 * installed) prints "n/a: " and the reason, and the rest goes on.
 *
 * It makes one real tenant (account, home, cgroups), so, like bench-tenants,
 * it refuses to run outside the private namespaces bench/run-all sets up. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"
#include "config.h"
#include "err.h"
#include "handoff.h"
#include "run.h"
#include "tenant.h"

extern char **environ;

/* Goals of the issue, for this 2-core machine. */
#define GOAL_BASIC 1.3          /* library basic, median against the floor's */
#define GOAL_STRONG 2.0         /* library strong, likewise */
#define GOAL_STRONG_PER_S 700.0 /* strong runs per second from the library */

#define TENANT "bench-spawn@bench.example"

static const char python_loop[] =
    "import subprocess, sys, time\n"
    "u, n, warm = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
    "out = []\n"
    "for i in range(warm + n):\n"
    "    t0 = time.perf_counter_ns()\n"
    "    subprocess.run(['/bin/true'], user=u, group=u, extra_groups=[],\n"
    "                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,\n"
    "                   stderr=subprocess.DEVNULL, check=True)\n"
    "    t = time.perf_counter_ns() - t0\n"
    "    if i >= warm: out.append(t)\n"
    "sys.stdout.write(''.join('%d\\n' % t for t in out))\n";

static void die(const char *what, const wr_err *e) {
    fprintf(stderr, "bench-spawn: %s: %s\n", what, e && e->msg[0] ? e->msg : strerror(errno));
    exit(1);
}

/* snprintf through a va_list: messages are cut to the buffer, knowingly. */
static void msgf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* --- the shared state ------------------------------------------------------------ */

static int devnull = -1;
static uid_t tenant_uid;
static gid_t tenant_gid;
static int kept_netns = -1;          /* a network namespace made once */
static struct sock_fprog filter;     /* the plain-C rows' seccomp filter */
static warren *W;
static const char *const true_argv[] = {"/bin/true", NULL};

/* --- rows ---------------------------------------------------------------------- */

typedef struct row row;
/* Runs k iterations; records each one's seconds unless warming up. 0, or -1
 * with r->na saying why the row cannot run. */
typedef int (*run_fn)(row *r, size_t k, bool record);

struct row {
    const char *label;
    run_fn run;
    int flags;               /* the plain-C rows: clone flags */
    bool join_netns;         /* the plain-C rows: setns into kept_netns */
    bool init;               /* the plain-C rows: stay as pid 1, vfork the program (an init) */
    wr_level level;          /* library rows */
    char **argv;             /* whole-process rows */
    bool by_itself;          /* a warren run row: WARREN_RUN_LOCAL=1, no daemon's help */
    bool first_done;         /* a command row has run once (its errors captured) */
    double *t;
    size_t n, cap;
    double *start;           /* library rows: the wr_run_start part of each run */
    char na[300];
};

static void record2(row *r, double s, double start) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->t = realloc(r->t, r->cap * sizeof *r->t);
        r->start = realloc(r->start, r->cap * sizeof *r->start);
        if (!r->t || !r->start) die("realloc", NULL);
    }
    r->start[r->n] = start;
    r->t[r->n++] = s;
}

static void record(row *r, double s) { record2(r, s, 0); }

static int not_available(row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int not_available(row *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->na, sizeof r->na, fmt, ap);
    va_end(ap);
    /* One line: messages of several lines keep their first. */
    char *nl = strchr(r->na, '\n');
    if (nl) *nl = 0;
    return -1;
}

static int describe_status(row *r, int status) {
    if (WIFEXITED(status)) return not_available(r, "exited %d", WEXITSTATUS(status));
    return not_available(r, "killed by signal %d", WTERMSIG(status));
}

static int wait_child(pid_t pid, int *status) {
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return -1;
    return 0;
}

/* The floor: fork, execve, waitpid. */
static int run_fork_exec(row *r, size_t k, bool rec) {
    for (size_t i = 0; i < k; i++) {
        double t0 = bench_now();
        pid_t pid = fork();
        if (pid < 0) return not_available(r, "fork: %s", strerror(errno));
        if (pid == 0) {
            dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
            execve(true_argv[0], (char *const *)true_argv, environ);
            _exit(127);
        }
        int status;
        if (wait_child(pid, &status) < 0) return not_available(r, "waitpid: %s", strerror(errno));
        double t = bench_now() - t0;
        if (status != 0) return describe_status(r, status);
        if (rec) record(r, t);
    }
    return 0;
}

/* --- plain C: fresh namespaces, credentials, seccomp ------------------------------ */

/* A deny-list filter of the calls a sandbox refuses (mounts, modules, ptrace,
 * namespaces, keys, bpf...), checked one by one like a list-shaped filter;
 * every other call is allowed. A foreign architecture is killed. */
static void build_filter(void) {
    static const int deny[] = {
#define D(n) __NR_##n
        D(ptrace), D(mount), D(umount2), D(pivot_root), D(chroot), D(swapon), D(swapoff),
        D(reboot), D(sethostname), D(setdomainname), D(init_module), D(finit_module),
        D(delete_module), D(kexec_load), D(bpf), D(perf_event_open), D(keyctl), D(add_key),
        D(request_key), D(unshare), D(setns), D(open_by_handle_at), D(name_to_handle_at),
        D(userfaultfd), D(acct), D(quotactl), D(syslog), D(process_vm_readv),
        D(process_vm_writev), D(kcmp), D(fanotify_init), D(clock_settime), D(settimeofday),
        D(adjtimex), D(clock_adjtime), D(personality), D(vhangup), D(io_uring_setup),
        D(io_uring_enter), D(io_uring_register), D(fsopen), D(fsmount), D(fsconfig),
        D(move_mount), D(open_tree),
#ifdef __NR_kexec_file_load
        D(kexec_file_load),
#endif
#ifdef __NR_iopl
        D(iopl), D(ioperm),
#endif
#undef D
    };
    enum { NDENY = sizeof deny / sizeof deny[0] };
    static struct sock_filter prog[NDENY + 8];
    size_t i = 0;
#if defined(__x86_64__)
    const uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const uint32_t arch = AUDIT_ARCH_AARCH64;
#else
    const uint32_t arch = 0;
#endif
    if (arch) {
        prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                                 offsetof(struct seccomp_data, arch));
        prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0);
        prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    }
    prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, nr));
    /* Each deny entry: equal jumps to the EPERM return after the list. */
    for (size_t d = 0; d < NDENY; d++)
        prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)deny[d],
                                                 (uint8_t)(NDENY - d), 0);
    prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    filter.len = (unsigned short)i;
    filter.filter = prog;
}

/* The child of the plain-C rows: raw system calls only (it is a raw clone). */
static void __attribute__((noreturn)) plain_child(const row *r) {
    if (r->join_netns && setns(kept_netns, CLONE_NEWNET) < 0) _exit(120);
    if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0) _exit(121);
    if (syscall(SYS_setgroups, 0, NULL) < 0 ||
        syscall(SYS_setresgid, tenant_gid, tenant_gid, tenant_gid) < 0 ||
        syscall(SYS_setresuid, tenant_uid, tenant_uid, tenant_uid) < 0)
        _exit(122);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter) < 0)
        _exit(123);
    if (r->init) {
        /* What warren's init costs: pid 1 waits, the program is its child. */
        pid_t pid = vfork();
        if (pid == 0) {
            execve(true_argv[0], (char *const *)true_argv, environ);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid) _exit(124);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    execve(true_argv[0], (char *const *)true_argv, environ);
    _exit(127);
}

static int run_plain(row *r, size_t k, bool rec) {
    static const char *const steps[] = {"setns into the kept network namespace", "stdio",
                                        "setgroups/setresgid/setresuid", "seccomp",
                                        "the init's vfork or wait"};
    for (size_t i = 0; i < k; i++) {
        double t0 = bench_now();
        /* A raw clone without a stack works like fork, with namespace flags. */
        pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)r->flags | SIGCHLD, NULL, NULL,
                                   NULL, 0UL);
        if (pid < 0) return not_available(r, "clone: %s", strerror(errno));
        if (pid == 0) plain_child(r);
        int status;
        if (wait_child(pid, &status) < 0) return not_available(r, "waitpid: %s", strerror(errno));
        double t = bench_now() - t0;
        if (WIFEXITED(status) && WEXITSTATUS(status) >= 120 && WEXITSTATUS(status) <= 124)
            return not_available(r, "the child's step failed: %s", steps[WEXITSTATUS(status) - 120]);
        if (status != 0) return describe_status(r, status);
        if (rec) record(r, t);
    }
    return 0;
}

/* --- the library ----------------------------------------------------------------- */

/* *ret_started (may be NULL): when wr_run_start returned. */
static int library_once(warren *w, wr_level level, double *ret_started, char *err, size_t errlen) {
    wr_err e = WR_ERR_INIT;
    wr_run_spec spec = {.tenant = TENANT, .argv = true_argv, .level = level,
                        .stdio = {devnull, devnull, devnull}};
    wr_run *run;
    if (wr_run_start(w, &spec, &run, &e) < 0) {
        msgf(err, errlen, "%s", e.msg[0] ? e.msg : "wr_run_start failed");
        return -1;
    }
    if (ret_started) *ret_started = bench_now();
    wr_run_result res;
    int rc = wr_run_wait(run, &res, &e);
    wr_run_free(run);
    if (rc < 0) {
        msgf(err, errlen, "%s", e.msg[0] ? e.msg : "wr_run_wait failed");
        return -1;
    }
    if (res.signal || res.exit_code) {
        snprintf(err, errlen, "/bin/true %s %d", res.signal ? "killed by signal" : "exited",
                 res.signal ? res.signal : res.exit_code);
        return -1;
    }
    return 0;
}

static int run_library(row *r, size_t k, bool rec) {
    for (size_t i = 0; i < k; i++) {
        char err[sizeof r->na];
        double t0 = bench_now(), started;
        if (library_once(W, r->level, &started, err, sizeof err) < 0)
            return not_available(r, "%s", err);
        double t = bench_now() - t0;
        if (rec) record2(r, t, started - t0);
    }
    return 0;
}

/* --- whole processes --------------------------------------------------------------- */

/* `warren serve` on the bench's state directory, for the rows of `warren run`
 * handing its runs to a daemon (src/lib/handoff.h); its pid once its run
 * socket answers, or -1 with why in *why. */
static pid_t start_daemon(const char *cli_path, const char *state_dir, char *why, size_t whylen) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s/" WR_HANDOFF_SOCKET, state_dir) >=
        sizeof sun.sun_path) {
        snprintf(why, whylen, "the state directory is too long for a Unix socket's path");
        return -1;
    }
    char *argv[] = {(char *)cli_path, "serve", "--listen", "127.0.0.1:0", "--socket", "", NULL};
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid == 0) {
        dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket", NULL);
        int c = connect(fd, (struct sockaddr *)&sun, sizeof sun);
        close(fd);
        if (c == 0) return pid;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            snprintf(why, whylen, "warren serve exited (status %d) before its run socket answered",
                     status);
            return -1;
        }
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    snprintf(why, whylen, "warren serve's run socket %s did not answer within 10 s", sun.sun_path);
    return -1;
}

static void stop_daemon(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    wait_child(pid, &(int){0});
}

/* Runs argv with stdio on /dev/null; the first run of a row sends stderr to
 * a memory file instead, so a command that fails says why. */
static int run_command(row *r, size_t k, bool rec) {
    for (size_t i = 0; i < k; i++) {
        int errfd = devnull;
        bool first = !r->first_done;
        if (first) {
            errfd = memfd_create("bench-spawn-stderr", MFD_CLOEXEC);
            if (errfd < 0) die("memfd_create", NULL);
        }
        double t0 = bench_now();
        pid_t pid = fork();
        if (pid < 0) return not_available(r, "fork: %s", strerror(errno));
        if (pid == 0) {
            dup2(devnull, 0), dup2(devnull, 1), dup2(errfd, 2);
            if (r->by_itself) putenv("WARREN_RUN_LOCAL=1");
            execve(r->argv[0], r->argv, environ);
            dprintf(2, "cannot execute %s: %s\n", r->argv[0], strerror(errno));
            _exit(127);
        }
        int status;
        if (wait_child(pid, &status) < 0) return not_available(r, "waitpid: %s", strerror(errno));
        double t = bench_now() - t0;
        if (first) {
            r->first_done = true;
            if (status != 0) {
                char msg[sizeof r->na] = "";
                ssize_t n = pread(errfd, msg, sizeof msg - 1, 0);
                msg[n > 0 ? n : 0] = 0;
                close(errfd);
                if (msg[0]) return not_available(r, "%s", msg);
                return describe_status(r, status);
            }
            close(errfd);
        }
        if (status != 0) return describe_status(r, status);
        if (rec) record(r, t);
    }
    return 0;
}

static char *python3_path(void) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    char *copy = strdup(path), *save = NULL;
    if (!copy) die("strdup", NULL);
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char *p;
        if (asprintf(&p, "%s/python3", d) < 0) die("asprintf", NULL);
        if (access(p, X_OK) == 0) {
            free(copy);
            return p;
        }
        free(p);
    }
    free(copy);
    return NULL;
}

/* python3 runs k calls (after a warm-up of its own) and prints each one's
 * nanoseconds; the interpreter's start is outside every timing. */
static int run_python(row *r, size_t k, bool rec) {
    if (!r->argv[0]) return not_available(r, "python3 is not in PATH");
    char uid[16], n[24], warm[24];
    snprintf(uid, sizeof uid, "%u", (unsigned)tenant_uid);
    snprintf(n, sizeof n, "%zu", k);
    snprintf(warm, sizeof warm, "%d", rec ? 5 : 0);
    char *argv[] = {r->argv[0], "-c", (char *)python_loop, uid, n, warm, NULL};
    int out[2];
    int errfd = memfd_create("bench-spawn-stderr", MFD_CLOEXEC);
    if (errfd < 0 || pipe2(out, O_CLOEXEC) < 0) die("pipe", NULL);
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid == 0) {
        dup2(devnull, 0), dup2(out[1], 1), dup2(errfd, 2);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    if (!f) die("fdopen", NULL);
    char line[64];
    size_t got = 0;
    while (fgets(line, sizeof line, f)) {
        if (rec) record(r, strtod(line, NULL) / 1e9);
        got++;
    }
    fclose(f);
    int status;
    if (wait_child(pid, &status) < 0) die("waitpid", NULL);
    if (status != 0 || got != k) {
        char msg[4096] = "";
        ssize_t m = pread(errfd, msg, sizeof msg - 1, 0);
        msg[m > 0 ? m : 0] = 0;
        close(errfd);
        /* A traceback: its last line names the error. */
        size_t len = strlen(msg);
        while (len && msg[len - 1] == '\n') msg[--len] = 0;
        char *last = strrchr(msg, '\n');
        if (msg[0]) return not_available(r, "python3: %s", last ? last + 1 : msg);
        return describe_status(r, status);
    }
    close(errfd);
    return 0;
}

/* --- many at once ---------------------------------------------------------------- */

typedef struct tput {
    double runs_per_s; /* 0 if a worker failed */
    char err[256];
} tput;

/* W worker processes, each with its own warren handle, run /bin/true at
 * `level` back to back for `seconds`, all starting together. */
static tput throughput(const wr_config *cfg, wr_level level, int workers, double seconds) {
    tput res = {0};
    typedef struct msg {
        uint64_t runs;
        double seconds;
        char err[256];
    } msg;
    int go[2], back[2];
    if (pipe2(go, O_CLOEXEC) < 0 || pipe2(back, O_CLOEXEC) < 0) die("pipe", NULL);
    pid_t *pids = calloc((size_t)workers, sizeof *pids);
    if (!pids) die("calloc", NULL);
    for (int i = 0; i < workers; i++) {
        pids[i] = fork();
        if (pids[i] < 0) die("fork", NULL);
        if (pids[i] > 0) continue;
        close(go[1]);
        msg m = {0};
        wr_err e = WR_ERR_INIT;
        warren *w;
        if (wr_open(cfg, &w, &e) < 0) {
            msgf(m.err, sizeof m.err, "wr_open: %s", e.msg);
        } else {
            char c;
            while (read(go[0], &c, 1) < 0 && errno == EINTR) {}
            double t0 = bench_now();
            while ((m.seconds = bench_now() - t0) < seconds) {
                if (library_once(w, level, NULL, m.err, sizeof m.err) < 0) break;
                m.runs++;
            }
            wr_close(w);
        }
        if (write(back[1], &m, sizeof m) != (ssize_t)sizeof m) _exit(1);
        _exit(0);
    }
    close(go[0]);
    close(back[1]);
    /* Let every worker open its handle, then start them all at once. */
    usleep(200 * 1000);
    close(go[1]);
    double total = 0;
    for (int i = 0; i < workers; i++) {
        msg m;
        if (read(back[0], &m, sizeof m) != (ssize_t)sizeof m) {
            snprintf(res.err, sizeof res.err, "a worker ended without reporting");
            continue;
        }
        if (m.err[0] && !res.err[0]) msgf(res.err, sizeof res.err, "%s", m.err);
        if (m.seconds > 0) total += (double)m.runs / m.seconds;
    }
    close(back[0]);
    for (int i = 0; i < workers; i++) {
        int status;
        wait_child(pids[i], &status);
    }
    free(pids);
    if (!res.err[0]) res.runs_per_s = total;
    return res;
}

/* --- report ------------------------------------------------------------------ */

typedef struct stats {
    double median, p95, per_s; /* seconds, seconds, runs/s of one stream */
    double start_median;       /* library rows: of the wr_run_start parts */
} stats;

static double median_of(const double *v, size_t n) {
    double *c = malloc(n * sizeof *c);
    if (!c) die("malloc", NULL);
    memcpy(c, v, n * sizeof *c);
    bench_sort(c, n);
    double m = bench_median(c, n);
    free(c);
    return m;
}

static stats stats_of(const row *r) {
    stats s = {0};
    if (r->n == 0) return s;
    double *c = malloc(r->n * sizeof *c), sum = 0;
    if (!c) die("malloc", NULL);
    memcpy(c, r->t, r->n * sizeof *c);
    bench_sort(c, r->n);
    size_t n = r->n;
    s.median = bench_median(c, n);
    s.p95 = bench_percentile(c, n, 0.95);
    for (size_t i = 0; i < n; i++) sum += c[i];
    s.per_s = (double)n / sum;
    s.start_median = median_of(r->start, n);
    free(c);
    return s;
}

static bool usable(const row *r) { return !r->na[0] && r->n > 0; }

static void print_row(const row *r, double floor_median) {
    if (!usable(r)) {
        printf("  %-52s n/a: %s\n", r->label, r->na[0] ? r->na : "no samples");
        return;
    }
    stats s = stats_of(r);
    printf("  %-52s %9.3f %9.3f %8.0f %7.2fx", r->label, s.median * 1e3, s.p95 * 1e3, s.per_s,
           s.median / floor_median);
    if (r->run == run_library) printf("   start %.3f ms", s.start_median * 1e3);
    printf("\n");
}

static void print_header(const char *title, size_t n) {
    printf("%s (%zu timed runs each)\n", title, n);
    printf("  %-52s %9s %9s %8s %8s\n", "", "median ms", "p95 ms", "runs/s", "x floor");
}

static const char *verdict(bool ok) { return ok ? "PASS" : "MISS"; }

/* Runs every row in `rows` for `n` timed iterations, in `rounds` turns. */
static void run_rows(row **rows, size_t nrows, size_t n, size_t warm, size_t rounds) {
    for (size_t i = 0; i < nrows; i++) rows[i]->run(rows[i], warm, false);
    for (size_t round = 0; round < rounds; round++) {
        size_t k = n / rounds + (round < n % rounds);
        for (size_t i = 0; i < nrows; i++)
            if (!rows[i]->na[0]) rows[i]->run(rows[i], k, true);
    }
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench-spawn [-n RUNS] [-m RUNS] [-t SECONDS] [-j WORKERS] [-r ROUNDS] -w WARREN\n"
            "  -n  timed runs of each in-process row (2000)\n"
            "  -m  timed runs of each whole-process row (300)\n"
            "  -t  seconds of the many-at-once part, per level (3)\n"
            "  -j  worker processes of the many-at-once part (the number of cores)\n"
            "  -r  rounds the rows take turns in (10)\n"
            "  -w  the warren CLI to time\n"
            "Runs only inside bench/run-all's private namespace.\n");
}

int main(int argc, char **argv) {
    size_t n = 2000, m = 300, rounds = 10;
    double seconds = 3;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cores > 0 ? (int)cores : 1;
    const char *warren_cli = NULL;
    int o;
    while ((o = getopt(argc, argv, "n:m:t:j:r:w:h")) != -1) {
        if (o == 'h') {
            usage(stdout);
            return 0;
        }
        if (o == 'w') {
            warren_cli = optarg;
            continue;
        }
        char *end;
        double v = optarg ? strtod(optarg, &end) : 0;
        if (!optarg || *end || end == optarg || !(v > 0)) {
            usage(stderr);
            return 2;
        }
        switch (o) {
        case 'n': n = (size_t)v; break;
        case 'm': m = (size_t)v; break;
        case 't': seconds = v; break;
        case 'j': workers = (int)v; break;
        case 'r': rounds = (size_t)v; break;
        default: usage(stderr); return 2;
        }
    }
    if (!warren_cli || optind != argc || n == 0 || m == 0 || rounds == 0 || workers < 1) {
        usage(stderr);
        return 2;
    }
    if (rounds > m) rounds = m;
    const char *sandbox = getenv("WARREN_BENCH_SANDBOX");
    if (!sandbox || strcmp(sandbox, "1") != 0 || !bench_etc_is_overlay()) {
        fprintf(stderr, "bench-spawn: refusing to run: it adds an account to /etc, and /etc here\n"
                        "is not the overlay of bench/run-all's private namespace\n");
        return 1;
    }

    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) die("/dev/null", NULL);
    /* Children are reaped by waitpid; nothing else may take them. */
    signal(SIGCHLD, SIG_DFL);

    wr_config cfg;
    wr_err e = WR_ERR_INIT;
    if (wr_config_defaults(&cfg, &e) < 0 || wr_config_from_env(&cfg, &e) < 0) die("config", &e);
    if (!cfg.root_mode) {
        fprintf(stderr, "bench-spawn: runs as root (a real tenant account)\n");
        return 1;
    }
    if (wr_open(&cfg, &W, &e) < 0) die("wr_open", &e);
    wr_tenant tn;
    if (wr_tenant_get_or_create(W, TENANT, &tn, NULL, &e) < 0) die(TENANT, &e);
    tenant_uid = tn.uid;
    tenant_gid = tn.gid;

    /* A network namespace made once, for the plain-C row that joins one. */
    int own_net = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own_net < 0 || unshare(CLONE_NEWNET) < 0) die("unshare(CLONE_NEWNET)", NULL);
    kept_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (kept_netns < 0 || setns(own_net, CLONE_NEWNET) < 0) die("setns", NULL);
    close(own_net);
    build_filter();

    const int ns = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    row floor_row = {.label = "C fork + execve + waitpid (the floor)", .run = run_fork_exec};
    row plain_new = {.label = "C: new mnt/pid/ipc/uts/net ns, uid, seccomp", .run = run_plain,
                     .flags = ns | CLONE_NEWNET};
    row plain_kept = {.label = "C: the same, joining a kept net ns", .run = run_plain,
                      .flags = ns, .join_netns = true};
    row plain_init = {.label = "C: the same, + an init (pid 1 vforks, waits)", .run = run_plain,
                      .flags = ns, .join_netns = true, .init = true};
    row lib[3];
    static const char *const lib_labels[] = {"library: wr_run_start+wait, basic",
                                             "library: wr_run_start+wait, container",
                                             "library: wr_run_start+wait, strong"};
    for (int l = 0; l < 3; l++)
        lib[l] = (row){.label = lib_labels[l], .run = run_library, .level = (wr_level)l};

    struct utsname un;
    if (uname(&un) < 0) die("uname", NULL);
    printf("== bench-spawn: /bin/true, %ld cores, kernel %s; tenant %s, uid %u\n\n", cores,
           un.release, tn.linux_username, (unsigned)tn.uid);

    /* 1. In process. The net-ns-creating row goes last in each round: the
     *    kernel tears network namespaces down in the background. */
    fprintf(stderr, "bench-spawn: in process, %zu runs per row ...\n", n);
    row *inproc[] = {&floor_row, &lib[0], &lib[1], &lib[2], &plain_kept, &plain_init, &plain_new};
    run_rows(inproc, sizeof inproc / sizeof *inproc, n, n / 20 + 10, rounds);
    if (!usable(&floor_row)) {
        fprintf(stderr, "bench-spawn: the floor itself failed: %s\n", floor_row.na);
        return 1;
    }
    double fl = stats_of(&floor_row).median;
    wr_close(W);

    /* 2. Many at once. */
    tput tp[3];
    for (int l = 0; l < 3; l++) {
        if (lib[l].na[0]) {
            msgf(tp[l].err, sizeof tp[l].err, "%s", lib[l].na);
            tp[l].runs_per_s = 0;
            continue;
        }
        fprintf(stderr, "bench-spawn: %s: %d workers for %.0f s ...\n", wr_level_name((wr_level)l),
                workers, seconds);
        tp[l] = throughput(&cfg, (wr_level)l, workers, seconds);
    }

    /* 3. Whole processes. */
    char uid[16];
    snprintf(uid, sizeof uid, "%u", (unsigned)tn.uid);
    char *level_names[] = {"basic", "container", "strong"};
    char *cli_argv[3][8];
    row cli[3], alone[3];
    static const char *const cli_labels[] = {
        "warren run --level basic, a daemon serving", "warren run --level container, a daemon serving",
        "warren run --level strong, a daemon serving"};
    static const char *const alone_labels[] = {"warren run --level basic, by itself",
                                               "warren run --level container, by itself",
                                               "warren run --level strong, by itself"};
    for (int l = 0; l < 3; l++) {
        char *a[] = {(char *)warren_cli, "run", "--level", level_names[l], TENANT, "--",
                     "/bin/true", NULL};
        memcpy(cli_argv[l], a, sizeof a);
        cli[l] = (row){.label = cli_labels[l], .run = run_command, .argv = cli_argv[l]};
        alone[l] = (row){.label = alone_labels[l], .run = run_command, .argv = cli_argv[l],
                         .by_itself = true};
    }
    /* Unless told to run by itself, `warren run` hands its run to a daemon
     * serving the same state directory: the rows above time that, with one
     * serving, and the rows by itself time the CLI alone. */
    unsetenv("WARREN_RUN_LOCAL");
    char why[200];
    pid_t daemon = start_daemon(warren_cli, cfg.state_dir, why, sizeof why);
    if (daemon < 0)
        for (int l = 0; l < 3; l++)
            not_available(&cli[l], "%s", why);
    char *true_cmd[] = {"/bin/true", NULL};
    char *unshare_cmd[] = {"/usr/bin/unshare", "-p", "-f", "-m", "-i", "-u", "-n", "--mount-proc",
                           "/bin/true", NULL};
    char *bwrap_cmd[] = {"/usr/bin/bwrap", "--ro-bind", "/", "/", "--unshare-all",
                         "--die-with-parent", "/bin/true", NULL};
    char *setpriv_cmd[] = {"/usr/bin/setpriv", "--reuid", uid, "--regid", uid, "--clear-groups",
                           "/bin/true", NULL};
    char *python_cmd[] = {python3_path(), NULL};
    row whole_true = {.label = "/bin/true (the floor of this table)", .run = run_command,
                      .argv = true_cmd};
    row unshare_row = {.label = "unshare -p -f -m -i -u -n --mount-proc", .run = run_command,
                       .argv = unshare_cmd};
    row bwrap_row = {.label = "bwrap --ro-bind / / --unshare-all --die-with-parent",
                     .run = run_command, .argv = bwrap_cmd};
    row setpriv_row = {.label = "setpriv --reuid U --regid U --clear-groups", .run = run_command,
                       .argv = setpriv_cmd};
    row python_row = {.label = "python3 subprocess.run(user=U, group=U, ...) *",
                      .run = run_python, .argv = python_cmd};
    row *tools[] = {&bwrap_row, &unshare_row};
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++)
        if (access(tools[i]->argv[0], X_OK) < 0)
            not_available(tools[i], "%s is not installed", tools[i]->argv[0]);
    if (access(setpriv_cmd[0], X_OK) < 0) not_available(&setpriv_row, "setpriv is not installed");

    fprintf(stderr, "bench-spawn: whole processes, %zu runs per row ...\n", m);
    row *whole[] = {&whole_true, &cli[0],      &cli[1],     &cli[2],    &alone[0],  &alone[1],
                    &alone[2],   &setpriv_row, &python_row, &bwrap_row, &unshare_row};
    run_rows(whole, sizeof whole / sizeof *whole, m, m / 10 + 5, rounds);
    stop_daemon(daemon);

    /* The table. */
    print_header("In process", n);
    print_row(&floor_row, fl);
    print_row(&plain_kept, fl);
    print_row(&plain_init, fl);
    print_row(&plain_new, fl);
    for (int l = 0; l < 3; l++) print_row(&lib[l], fl);
    printf("  runs/s: one run at a time (1 / mean); x floor: median / the floor's median;\n"
           "  start: median time until wr_run_start returned (the program exec'ed), the rest\n"
           "  is wr_run_wait and wr_run_free\n");
    printf("\nLibrary, %d worker processes at once for %.0f s each\n", workers, seconds);
    for (int l = 0; l < 3; l++) {
        if (tp[l].runs_per_s > 0)
            printf("  %-52s %8.0f runs/s\n", wr_level_name((wr_level)l), tp[l].runs_per_s);
        else
            printf("  %-52s n/a: %s\n", wr_level_name((wr_level)l), tp[l].err);
    }
    printf("\n");
    /* Their floor is /bin/true timed in the same rounds, under the same load
     * (the network namespaces unshare and bwrap leave are torn down in the
     * background); the in-process floor is in the table above. */
    double wfl = usable(&whole_true) ? stats_of(&whole_true).median : fl;
    print_header("Whole processes, x floor against /bin/true in the same loop", m);
    for (size_t i = 0; i < sizeof whole / sizeof *whole; i++) print_row(whole[i], wfl);
    printf("  * timed inside python around each call: the interpreter's start is not counted\n");

    /* The goals. */
    printf("\ngoals (medians):\n");
    char label[128];
    for (int l = 0; l < 3; l += 2) {
        double goal = l == 0 ? GOAL_BASIC : GOAL_STRONG;
        snprintf(label, sizeof label, "library %s <= %.1fx the floor:", wr_level_name((wr_level)l),
                 goal);
        if (usable(&lib[l])) {
            double x = stats_of(&lib[l]).median / fl;
            printf("  %-44s %s (%.2fx", label, verdict(x <= goal), x);
            if (l == 2 && usable(&plain_new))
                printf("; plain C with fresh namespaces: %.2fx", stats_of(&plain_new).median / fl);
            printf(")\n");
        } else {
            printf("  %-44s MISS (n/a: %s)\n", label, lib[l].na);
        }
    }
    snprintf(label, sizeof label, "warren run --level strong < bwrap:");
    if (usable(&cli[2]) && usable(&bwrap_row)) {
        double a = stats_of(&cli[2]).median, b = stats_of(&bwrap_row).median;
        printf("  %-44s %s (%.3f ms against %.3f ms", label, verdict(a < b), a * 1e3, b * 1e3);
        if (usable(&alone[2]))
            printf("; by itself, without a daemon: %.3f ms", stats_of(&alone[2]).median * 1e3);
        printf(")\n");
    } else {
        printf("  %-44s MISS (n/a: %s)\n", label, usable(&cli[2]) ? bwrap_row.na : cli[2].na);
    }
    snprintf(label, sizeof label, ">= %.0f strong runs/s (library, %d workers):", GOAL_STRONG_PER_S,
             workers);
    if (tp[2].runs_per_s > 0)
        printf("  %-44s %s (%.0f/s)\n", label, verdict(tp[2].runs_per_s >= GOAL_STRONG_PER_S),
               tp[2].runs_per_s);
    else
        printf("  %-44s MISS (n/a: %s)\n", label, tp[2].err);
    if (cores != 2) printf("  (the goals are for 2 cores; this machine has %ld)\n", cores);
    return 0;
}
