/* bench-noisy: what a noisy neighbour does to a quiet tenant, and what a
 * tenant's cgroup costs a run.
 *
 * Part 1, the neighbour. Tenant B runs /bin/true at the basic level through
 * the library (wr_run_start + wr_run_wait + wr_run_free), N times per row,
 * first with the host quiet, then while tenant A attacks within its quotas
 * (64 processes, 64M of memory, half a core, 64 open files):
 *   fork bomb     a shell function forking itself, held at A's pids limit;
 *   memory        python3 balloons, OOM-killed inside A and started again;
 *   cpu           four spinning shells, throttled to A's half core;
 *   fds           processes opening files up to A's nofile limit, in a loop;
 *   all at once   the four together.
 * Each row prints B's median and p99 and the p99's ratio to the quiet one;
 * the goal is B's p99 within 1.5x of quiet. Beside them, the same of the CPU
 * time each run took (warren's side in this process and the run's own). Every attack comes back in each
 * of R rounds, after as many quiet runs as it gets (those are pooled), so
 * other load on a shared machine falls on the quiet and the attack rows
 * alike rather than on whichever row it coincides with. A p99 needs many
 * runs: 1,000 a row by default, 200 a round. This process starts B's runs as
 * the daemon does, and like the daemon it keeps off the CPUs placed tenants
 * (A) run on (wr_supervisor_place; B's runs still get every CPU).
 *
 * Part 2, the cgroup's cost. The same child (clone3 with CLONE_VM |
 * CLONE_VFORK, execve /bin/true, waitpid, as spawn.c starts a basic run)
 * timed in turns without any cgroup work, and with everything a run's cgroup
 * takes: the scan of the tenant's group for orphaned runs, at most once a
 * second (wr_cgroup_reap_runs_due), its groups checked
 * (wr_quota_run_prepare), the run's group taken (wr_cgroup_run_take: the one
 * the previous run left, or a new one), the v1 groups' `tasks` handed over
 * and joined by the child (hybrid hosts), clone3 with CLONE_INTO_CGROUP, and
 * after the exit its cpu usage read and the group kept for the next run
 * (wr_cgroup_run_release, which checks it is empty). Every row reads the tenant's quota, as every run does with or
 * without cgroups. The difference of the medians is what a tenant's cgroup
 * adds to a run; the goal is <= 0.1 ms.
 *
 * It makes two real tenants, so it refuses to run outside the private
 * namespaces bench/run-all sets up. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"
#include "cgroup.h"
#include "config.h"
#include "err.h"
#include "quota.h"
#include "run.h"
#include "tenant.h"
#include "warren-internal.h"

#define TENANT_A "noisy-a@bench.example"
#define TENANT_B "noisy-b@bench.example"
#define GOAL_P99_RATIO 1.5
#define GOAL_CGROUP_MS 0.1

static warren *W;

static void die(const char *what, const wr_err *e) {
    fprintf(stderr, "bench-noisy: %s: %s\n", what, e && e->msg[0] ? e->msg : strerror(errno));
    exit(1);
}

/* --- part 1 ---------------------------------------------------------------------- */

static const char *const true_argv[] = {"/bin/true", NULL};

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One run's wall time; *cpu gets the CPU time it took: this process's
 * (warren's side) plus the run's own, from its cgroup. */
static double one_run(const char *tenant, const char *const *argv, double *cpu) {
    wr_err e = WR_ERR_INIT;
    double c0 = cpu_now();
    wr_run_spec spec = {.tenant = tenant, .argv = argv, .level = WR_LEVEL_BASIC,
                        .stdio = {-1, -1, -1}};
    wr_run *run;
    double t0 = bench_now();
    if (wr_run_start(W, &spec, &run, &e) < 0) die("run", &e);
    wr_run_result res;
    if (wr_run_wait(run, &res, &e) < 0) die("wait", &e);
    wr_run_free(run);
    double t = bench_now() - t0;
    if (cpu) *cpu = cpu_now() - c0 + res.cpu_seconds;
    return t;
}

typedef struct attack {
    const char *label;
    const char *shell[4]; /* shell commands started as A's runs */
} attack;

static const char balloon[] =
    "while :; do python3 -c 'a = []\nwhile True: a.append(bytearray(8 << 20))' "
    ">/dev/null 2>&1; done";
static const char bomb[] = "bomb() { bomb | bomb & }; bomb; sleep 3600";
static const char spin[] =
    "for i in 1 2 3 4; do (while :; do :; done) & done; wait";
static const char fds[] =
    "while :; do python3 -c 'import os\nfds = []\ntry:\n    while True: "
    "fds.append(os.open(\"/dev/null\", 0))\nexcept OSError: pass' ; done";

static const attack attacks[] = {
    {"fork bomb", {bomb}},
    {"memory balloon", {balloon}},
    {"cpu spin", {spin}},
    {"fd exhaustion", {fds}},
    {"all at once", {bomb, balloon, spin, fds}},
};

typedef struct stats {
    double *t, *cpu; /* wall and CPU time of each run */
    size_t n;
} stats;

static void measure(stats *s, size_t n) {
    s->t = realloc(s->t, (s->n + n) * sizeof *s->t);
    s->cpu = realloc(s->cpu, (s->n + n) * sizeof *s->cpu);
    if (!s->t || !s->cpu) die("memory", NULL);
    for (size_t i = 0; i < n; i++, s->n++)
        s->t[s->n] = one_run(TENANT_B, true_argv, &s->cpu[s->n]);
}

/* The wall columns and the goal, then the CPU ones: a wall p99 that grows
 * while the CPU p99 does not is B waiting for a core, not B's work made
 * dearer by A (locks, caches). */
static void print_row(const char *label, stats *s, double quiet_p99, double quiet_cpu99) {
    bench_sort(s->t, s->n);
    bench_sort(s->cpu, s->n);
    double med = bench_median(s->t, s->n), p99 = bench_percentile(s->t, s->n, 0.99);
    double cmed = bench_median(s->cpu, s->n), c99 = bench_percentile(s->cpu, s->n, 0.99);
    if (quiet_p99 > 0)
        printf("  %-16s %8.3f %8.3f %6.2fx %s  %8.3f %8.3f %6.2fx\n", label, med * 1e3, p99 * 1e3,
               p99 / quiet_p99, p99 / quiet_p99 <= GOAL_P99_RATIO ? "PASS" : "MISS", cmed * 1e3,
               c99 * 1e3, c99 / quiet_cpu99);
    else
        printf("  %-16s %8.3f %8.3f %12s  %8.3f %8.3f\n", label, med * 1e3, p99 * 1e3, "", cmed * 1e3,
               c99 * 1e3);
}

static void attack_start(size_t a, wr_run *runs[4]) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) die("/dev/null", NULL);
    for (size_t k = 0; k < 4 && attacks[a].shell[k]; k++) {
        wr_err e = WR_ERR_INIT;
        wr_run_spec spec = {.tenant = TENANT_A, .shell = attacks[a].shell[k],
                            .level = WR_LEVEL_BASIC, .stdio = {null, null, null}};
        if (wr_run_start(W, &spec, &runs[k], &e) < 0) die("attack", &e);
    }
    close(null);
    usleep(500 * 1000); /* let it reach its limits */
}

static void attack_end(wr_run *runs[4]) {
    for (size_t k = 0; k < 4 && runs[k]; k++) {
        wr_err e = WR_ERR_INIT;
        wr_run_result res;
        if (wr_run_cancel(runs[k], &e) < 0 || wr_run_wait(runs[k], &res, &e) < 0)
            die("ending the attack", &e);
        wr_run_free(runs[k]);
        runs[k] = NULL;
    }
}

static void neighbours(size_t n, size_t rounds) {
    printf("B's run (/bin/true, basic) while A attacks within its quotas "
           "(pids 64, memory 64M, cpu 0.5, nofile 64), %zu runs a row in %zu rounds\n", n,
           rounds);
    printf("  %-16s %8s %8s %12s  %8s %8s %7s\n", "row", "wall med", "p99 ms", "p99/quiet",
           "cpu med", "p99 ms", "/quiet");
    enum { NATTACKS = sizeof attacks / sizeof *attacks };
    stats quiet = {0}, rows[NATTACKS] = {{0}};
    for (size_t i = 0; i < 20; i++)
        one_run(TENANT_B, true_argv, NULL); /* warm-up */
    /* Each attack in every round, each time after a quiet stretch of the
     * same length: other load on a shared host then falls on the quiet and
     * the attack rows alike, instead of on whichever row it coincides with. */
    for (size_t r = 0; r < rounds; r++)
        for (size_t a = 0; a < NATTACKS; a++) {
            size_t chunk = n / rounds + (r < n % rounds);
            measure(&quiet, chunk);
            wr_run *runs[4] = {0};
            attack_start(a, runs);
            measure(&rows[a], chunk);
            attack_end(runs);
        }
    print_row("quiet (pooled)", &quiet, 0, 0);
    double q99 = bench_percentile(quiet.t, quiet.n, 0.99);
    double qc99 = bench_percentile(quiet.cpu, quiet.n, 0.99);
    for (size_t a = 0; a < NATTACKS; a++) {
        print_row(attacks[a].label, &rows[a], q99, qc99);
        free(rows[a].t);
        free(rows[a].cpu);
    }
    free(quiet.t);
    free(quiet.cpu);
}

/* --- part 2 ---------------------------------------------------------------------- */

/* spawn.c's basic runs clone with vfork's contract (CLONE_VM | CLONE_VFORK)
 * through its stub, which keeps the return address out of the shared stack;
 * a fork-style clone would charge every row the parent's copy-on-write faults
 * after it, which no basic run pays. Where spawn.c has no stub (other
 * architectures, AddressSanitizer) it forks, and so does this. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_VFORK_CLONE 1
#endif
#endif
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(NO_VFORK_CLONE)
long wr_clone3_vfork(struct clone_args *args, size_t size) __attribute__((returns_twice));
#define VFORK_FLAGS (CLONE_VM | CLONE_VFORK)
#else
static long wr_clone3_vfork(struct clone_args *args, size_t size) {
    long v = syscall(SYS_clone3, args, size);
    return v < 0 ? -errno : v;
}
#define VFORK_FLAGS 0
#endif

static pid_t clone_true(int cgfd, const int *v1, int nv1) {
    int pidfd = -1;
    struct clone_args args = {
        .flags = CLONE_PIDFD | VFORK_FLAGS | (cgfd >= 0 ? CLONE_INTO_CGROUP : 0),
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = cgfd >= 0 ? (uint64_t)cgfd : 0,
    };
    long v = wr_clone3_vfork(&args, sizeof args);
    if (v == 0) {
        for (int i = 0; i < nv1; i++)
            if (write(v1[i], "0", 1) != 1) _exit(126);
        execve("/bin/true", (char *const *)true_argv, (char *const[]){NULL});
        _exit(127);
    }
    if (v < 0) {
        errno = (int)-v;
        die("clone3", NULL);
    }
    close(pidfd);
    int st;
    waitpid((pid_t)v, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        errno = EPROTO;
        die("the child failed", NULL);
    }
    return (pid_t)v;
}

/* How much of a run's cgroup work a row does, each including the one before.
 * Every row reads the tenant's quota from the registry, as every run does for
 * its open-files and storage limits with or without cgroups; the rows differ
 * only in the cgroup work. */
enum { BARE, RUN_GROUP, QUOTA, V1_JOIN, NSTEPS };
static const char *const step_label[NSTEPS] = {
    [BARE] = "without cgroup setup",
    [RUN_GROUP] = "+ run's cgroup2 group (clone into it)",
    [QUOTA] = "+ tenant's groups checked, reap scan",
    [V1_JOIN] = "+ v1 groups joined: a whole run's",
};

static bool never_stale(const char *run, void *userdata) {
    (void)run;
    (void)userdata;
    return false;
}

static double with_cgroup(const wr_tenant *t, unsigned i, int steps) {
    wr_err e = WR_ERR_INIT;
    double t0 = bench_now();
    wr_quota q;
    if (steps < QUOTA && wr_quota_of(W, t, &q, &e) < 0) die("quota", &e);
    if (steps == BARE) {
        clone_true(-1, NULL, 0);
        return bench_now() - t0;
    }
    /* What wr_run_start does before it makes the run's group: the tenant's
     * runs whose warren died are ended (none here, but the group is read),
     * and the tenant's groups checked, made and limited if missing. */
    if (steps >= QUOTA && (wr_cgroup_reap_runs_due(W->cgroups, t->linux_username, never_stale,
                                                   NULL, &e) < 0 ||
                           wr_quota_run_prepare(W, t, &q, &e) < 0))
        die("quota", &e);
    /* The run's group: the one the previous run left, as spawn.c takes it. */
    char run[WR_CGROUP_RUN_MAX];
    snprintf(run, sizeof run, "run-%d-b%07u", (int)getpid(), i);
    uint64_t base;
    int cg = wr_cgroup_run_take(W->cgroups, t->linux_username, run, &base, &e);
    if (cg < 0) die("run cgroup", &e);
    int v1[WR_CGROUP_ATTACH_MAX];
    int nv1 = steps < V1_JOIN ? 0
                              : wr_cgroup_attach_fds(W->cgroups, t->linux_username, v1,
                                                     WR_CGROUP_ATTACH_MAX, &e);
    if (nv1 < 0) die("v1 groups", &e);
    clone_true(cg, v1, nv1);
    for (int k = 0; k < nv1; k++)
        close(v1[k]);
    /* As a run's end: its cpu usage read, then its group kept for the next. */
    uint64_t usec = wr_cgroup_cpu_usec(cg);
    int kept = wr_cgroup_run_release(W->cgroups, t->linux_username, run, cg, usec, &e);
    if (kept < 0) die("release", &e);
    if (!kept) close(cg);
    return bench_now() - t0;
}

static void cgroup_cost(size_t n) {
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    if (wr_tenant_get(W, TENANT_B, &t, &e) < 0) die("tenant", &e);
    if (wr_ensure_cgroups(W, &e) < 0) die("cgroups", &e);
    double *v[NSTEPS];
    for (int k = 0; k < NSTEPS; k++)
        if (!(v[k] = calloc(n, sizeof *v[k]))) die("memory", NULL);
    unsigned id = 0;
    for (unsigned i = 0; i < 50; i++)
        for (int k = 0; k < NSTEPS; k++)
            with_cgroup(&t, id++, k);
    /* In turns, so every row sees the same machine. */
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < NSTEPS; k++)
            v[k][i] = with_cgroup(&t, id++, k);
    printf("\nA run's tenant cgroup (backend %s), %zu runs a row in turns, "
           "clone3 + execve /bin/true + wait\n",
           wr_cgroups_backend(W->cgroups), n);
    printf("  %-40s %9s %9s %10s\n", "row", "median ms", "p95 ms", "+ms (med)");
    double m[NSTEPS];
    for (int k = 0; k < NSTEPS; k++) {
        bench_sort(v[k], n);
        m[k] = bench_median(v[k], n);
        printf("  %-40s %9.3f %9.3f %10.3f\n", step_label[k], m[k] * 1e3,
               bench_percentile(v[k], n, 0.95) * 1e3, (m[k] - m[BARE]) * 1e3);
        free(v[k]);
    }
    double cost = (m[V1_JOIN] - m[BARE]) * 1e3, v2cost = (m[QUOTA] - m[BARE]) * 1e3;
    printf("  cgroup cost per run: %.3f ms (goal <= %.1f ms): %s\n", cost, GOAL_CGROUP_MS,
           cost <= GOAL_CGROUP_MS ? "PASS" : "MISS");
    printf("  of which the cgroup2 part (all a v2 host does): %.3f ms: %s\n", v2cost,
           v2cost <= GOAL_CGROUP_MS ? "PASS" : "MISS");
}

int main(int argc, char **argv) {
    size_t n = 1000, m = 2000, rounds = 5;
    int o;
    while ((o = getopt(argc, argv, "n:m:r:")) != -1) {
        if (o == 'n') n = strtoul(optarg, NULL, 10);
        else if (o == 'm') m = strtoul(optarg, NULL, 10);
        else if (o == 'r') rounds = strtoul(optarg, NULL, 10);
        else {
            fprintf(stderr, "usage: bench-noisy [-n B's runs per row (1000)] [-r rounds they are "
                            "spread over (5)] [-m cgroup-cost runs (2000)]; 0 skips that part\n");
            return 2;
        }
    }
    if (rounds == 0 || (n && n < rounds)) {
        fprintf(stderr, "bench-noisy: -r must be at least 1 and at most -n\n");
        return 2;
    }
    const char *sandbox = getenv("WARREN_BENCH_SANDBOX");
    if (!sandbox || strcmp(sandbox, "1") != 0 || !bench_etc_is_overlay()) {
        fprintf(stderr, "bench-noisy: makes real tenants; run it through bench/run-all\n");
        return 1;
    }
    if (n == 1 || m == 1) {
        fprintf(stderr, "bench-noisy: -n and -m must be 0 (skip that part) or at least 2\n");
        return 2;
    }
    wr_config cfg;
    wr_err e = WR_ERR_INIT;
    if (wr_config_defaults(&cfg, &e) < 0 || wr_config_from_env(&cfg, &e) < 0) die("config", &e);
    if (wr_open(&cfg, &W, &e) < 0) die("wr_open", &e);
    wr_tenant t;
    bool created;
    if (wr_tenant_get_or_create(W, TENANT_A, &t, &created, &e) < 0 ||
        wr_tenant_get_or_create(W, TENANT_B, &t, &created, &e) < 0)
        die("tenants", &e);
    wr_quota q;
    wr_quota_init(&q);
    q.pids = 64;
    q.memory = 64 << 20;
    q.cpu_milli = 500;
    q.nofile = 64;
    if (wr_quota_set(W, TENANT_A, &q, NULL, &e) < 0) die("A's quota", &e);
    /* This process starts B's runs, as the daemon does, and like the daemon
     * it keeps off the CPUs placed tenants (A) run on (supervisor.c). */
    int kept_off = wr_supervisor_place(W, &e);
    if (kept_off < 0) die("the supervisor's CPUs", &e);
    printf("this process, B's supervisor as the daemon is, %s\n",
           kept_off ? "keeps off A's CPU" : "runs on every CPU (none is free of A)");

    if (n) neighbours(n, rounds);
    if (m) cgroup_cost(m);

    if (wr_tenant_delete(W, TENANT_A, false, &e) < 0 || wr_tenant_delete(W, TENANT_B, false, &e) < 0)
        die("delete", &e);
    wr_close(W);
    return 0;
}
