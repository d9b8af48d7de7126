/* bench-tenants: how fast warren makes tenants, side by side with what pactown
 * does (groupadd + useradd -m per tenant), and how fast it looks them up.
 *
 *   1. useradd: M accounts through `groupadd -g UID NAME` and
 *      `useradd -m -u UID -g UID -d BASE/NAME -s /usr/sbin/nologin NAME`, each
 *      pair timed as one tenant. The account files are then put back as they
 *      were, so warren starts from the same files.
 *   2. warren: N tenants through wr_tenant_create, each timed.
 *   3. get: wr_tenant_get of random existing tenants, lookups per second.
 *
 * Each timing is CLOCK_MONOTONIC around one tenant. It prints the total, the
 * median and p95 of the first and the last window of tenants, the ratio
 * last/first, warren against useradd at the same tenant counts, and the goals
 * with PASS or MISS.
 *
 * It adds real accounts to /etc, so it refuses to run outside the private
 * mount namespace bench/run-all sets up (an overlay over /etc and
 * WARREN_BENCH_SANDBOX=1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"
#include "config.h"
#include "err.h"
#include "naming.h"
#include "tenant.h"

/* Goals of the issue, for this 2-core machine. */
#define GOAL_TOTAL_S 10.0       /* 10,000 tenants */
#define GOAL_GROWTH 1.5         /* last 1,000 against the first */
#define GOAL_VS_USERADD 10.0    /* per tenant, against groupadd + useradd -m */
#define GOAL_GETS_PER_S 200000.0

#define USERADD_UID_BASE 400000u /* outside warren's default range */

typedef struct summary {
    double median, p95; /* seconds */
} summary;

/* Median and p95 (nearest rank) of v[from..to). */
static summary summarize(const double *v, size_t from, size_t to) {
    summary s = {0};
    size_t n = to - from;
    if (n == 0) return s;
    double *c = malloc(n * sizeof *c);
    if (!c) {
        perror("bench-tenants");
        exit(1);
    }
    memcpy(c, v + from, n * sizeof *c);
    bench_sort(c, n);
    s.median = bench_median(c, n);
    s.p95 = bench_percentile(c, n, 0.95);
    free(c);
    return s;
}

static void die(const char *what, const wr_err *e) {
    fprintf(stderr, "bench-tenants: %s: %s\n", what, e && e->msg[0] ? e->msg : strerror(errno));
    exit(1);
}

/* --- the account files, saved and put back ----------------------------------- */

static const char *const account_files[] = {"passwd", "group", "shadow", "gshadow", "subuid",
                                            "subgid"};
#define NFILES (sizeof account_files / sizeof account_files[0])

typedef struct saved {
    char *data[NFILES];
    size_t len[NFILES];
    bool present[NFILES];
} saved;

static void save_files(saved *s) {
    for (size_t i = 0; i < NFILES; i++) {
        char path[64];
        snprintf(path, sizeof path, "/etc/%s", account_files[i]);
        FILE *f = fopen(path, "re");
        if (!f) {
            if (errno != ENOENT) die(path, NULL);
            continue;
        }
        s->present[i] = true;
        char buf[65536];
        size_t n;
        FILE *m = open_memstream(&s->data[i], &s->len[i]);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, m);
        fclose(m);
        fclose(f);
    }
}

static void restore_files(const saved *s) {
    for (size_t i = 0; i < NFILES; i++) {
        char path[64];
        snprintf(path, sizeof path, "/etc/%s", account_files[i]);
        if (!s->present[i]) {
            unlink(path);
            continue;
        }
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0 || write(fd, s->data[i], s->len[i]) != (ssize_t)s->len[i]) die(path, NULL);
        close(fd);
    }
}

/* --- pactown's way: groupadd + useradd -m ------------------------------------ */

static int run(char *const argv[]) {
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2); /* useradd warns about UIDs above UID_MAX */
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) die("waitpid", NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static double *bench_useradd(size_t m, const char *base) {
    double *t = calloc(m ? m : 1, sizeof *t);
    if (!t) die("calloc", NULL);
    if (mkdir(base, 0755) < 0 && errno != EEXIST) die(base, NULL);
    for (size_t i = 0; i < m; i++) {
        char id[64], name[WR_USERNAME_MAX + 1], uid[16], home[1024];
        snprintf(id, sizeof id, "useradd-%zu@bench.example", i);
        wr_username_for("pt_", id, 8, name);
        snprintf(uid, sizeof uid, "%u", USERADD_UID_BASE + (unsigned)i);
        snprintf(home, sizeof home, "%s/%s", base, name);
        char *groupadd[] = {"/usr/sbin/groupadd", "-g", uid, name, NULL};
        char *useradd[] = {"/usr/sbin/useradd", "-m", "-u", uid, "-g", uid, "-d", home,
                           "-s", "/usr/sbin/nologin", name, NULL};
        double t0 = bench_now();
        int r = run(groupadd);
        if (r == 0) r = run(useradd);
        t[i] = bench_now() - t0;
        if (r != 0) {
            fprintf(stderr, "bench-tenants: groupadd/useradd of %s (uid %s) exited %d\n", name, uid, r);
            exit(1);
        }
    }
    return t;
}

/* --- warren ------------------------------------------------------------------ */

static double *bench_create(warren *w, size_t n) {
    double *t = calloc(n, sizeof *t);
    if (!t) die("calloc", NULL);
    for (size_t i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "tenant-%zu@bench.example", i);
        wr_err e = WR_ERR_INIT;
        wr_tenant tn;
        double t0 = bench_now();
        if (wr_tenant_create(w, id, &tn, &e) < 0) die(id, &e);
        t[i] = bench_now() - t0;
    }
    return t;
}

/* Lookups per second over `gets` random existing tenants. The ids are made
 * before the clock starts; the xorshift generator costs next to nothing. */
static double bench_get(warren *w, size_t n, size_t gets) {
    enum { NIDS = 4096 };
    static char ids[NIDS][64];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < NIDS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        snprintf(ids[i], sizeof ids[i], "tenant-%zu@bench.example", (size_t)(x % n));
    }
    double t0 = bench_now();
    for (size_t i = 0; i < gets; i++) {
        wr_err e = WR_ERR_INIT;
        wr_tenant tn;
        if (wr_tenant_get(w, ids[i % NIDS], &tn, &e) < 0) die(ids[i % NIDS], &e);
    }
    return (double)gets / (bench_now() - t0);
}

/* --- report ------------------------------------------------------------------ */

static void print_window(const char *what, const double *t, size_t from, size_t to) {
    summary s = summarize(t, from, to);
    printf("  %-34s median %8.3f ms   p95 %8.3f ms\n", what, s.median * 1e3, s.p95 * 1e3);
}

static const char *verdict(bool ok) { return ok ? "PASS" : "MISS"; }

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench-tenants [-n TENANTS] [-u USERADD_TENANTS] [-g LOOKUPS] [-w WINDOW]\n"
            "  -n  tenants warren creates (10000)\n"
            "  -u  tenants made with groupadd + useradd -m (2000; 0 skips them)\n"
            "  -g  wr_tenant_get lookups (1000000)\n"
            "  -w  tenants in the first and last window of warren's creates (1000)\n"
            "Runs only inside bench/run-all's private namespace.\n");
}

int main(int argc, char **argv) {
    size_t n = 10000, m = 2000, gets = 1000000, win = 1000;
    int o;
    while ((o = getopt(argc, argv, "n:u:g:w:h")) != -1) {
        char *end;
        unsigned long long v = strtoull(optarg ? optarg : "", &end, 10);
        if (o == 'h') {
            usage(stdout);
            return 0;
        }
        if (!optarg || *end || end == optarg) {
            usage(stderr);
            return 2;
        }
        switch (o) {
        case 'n': n = v; break;
        case 'u': m = v; break;
        case 'g': gets = v; break;
        case 'w': win = v; break;
        default: usage(stderr); return 2;
        }
    }
    if (n == 0 || win == 0 || win > n || gets == 0) {
        usage(stderr);
        return 2;
    }
    const char *sandbox = getenv("WARREN_BENCH_SANDBOX");
    if (!sandbox || strcmp(sandbox, "1") != 0 || !bench_etc_is_overlay()) {
        fprintf(stderr, "bench-tenants: refusing to run: it adds accounts to /etc, and /etc here is\n"
                        "not the overlay of bench/run-all's private namespace\n");
        return 1;
    }

    wr_config cfg;
    wr_err e = WR_ERR_INIT;
    if (wr_config_defaults(&cfg, &e) < 0 || wr_config_from_env(&cfg, &e) < 0) die("config", &e);
    if (!cfg.root_mode) {
        fprintf(stderr, "bench-tenants: runs as root (real accounts)\n");
        return 1;
    }
    if ((size_t)(cfg.uid_max - cfg.uid_min) < n) {
        fprintf(stderr, "bench-tenants: the UID range holds fewer than %zu tenants\n", n);
        return 1;
    }

    /* 1. useradd, on the files as they are; then the files go back. */
    char ua_base[WR_BASE_MAX + 16];
    snprintf(ua_base, sizeof ua_base, "%s.useradd", cfg.users_base);
    saved files = {0};
    save_files(&files);
    size_t uwin = m / 10;
    double ua_total = 0, *ua = NULL;
    if (m) {
        fprintf(stderr, "bench-tenants: %zu tenants through groupadd + useradd -m ...\n", m);
        double t0 = bench_now();
        ua = bench_useradd(m, ua_base);
        ua_total = bench_now() - t0;
        restore_files(&files);
    }

    /* 2. warren, from the same files. */
    fprintf(stderr, "bench-tenants: %zu tenants through wr_tenant_create ...\n", n);
    warren *w;
    double t0 = bench_now();
    if (wr_open(&cfg, &w, &e) < 0) die("wr_open", &e);
    double open_s = bench_now() - t0;
    t0 = bench_now();
    double *wt = bench_create(w, n);
    double total = bench_now() - t0;

    /* 3. lookups. */
    double gps = bench_get(w, n, gets);
    wr_close(w);

    summary first = summarize(wt, 0, win), last = summarize(wt, n - win, n);
    double growth = last.median / first.median;
    printf("warren: %zu tenants (account, group, home each) in %.2f s, %.0f tenants/s"
           " (wr_open %.1f ms)\n",
           n, total, (double)n / total, open_s * 1e3);
    char label[128];
    snprintf(label, sizeof label, "first %zu:", win);
    print_window(label, wt, 0, win);
    snprintf(label, sizeof label, "last %zu:", win);
    print_window(label, wt, n - win, n);
    printf("  last/first (medians):              %.2f\n", growth);
    printf("warren get: %zu lookups of random tenants: %.0f lookups/s\n", gets, gps);

    double vs_first = 0, vs_last = 0;
    if (m) {
        summary uf = summarize(ua, 0, uwin ? uwin : m), ul = summarize(ua, m - (uwin ? uwin : m), m);
        printf("groupadd + useradd -m: %zu tenants in %.2f s, %.1f tenants/s\n", m, ua_total,
               (double)m / ua_total);
        snprintf(label, sizeof label, "first %zu:", uwin ? uwin : m);
        print_window(label, ua, 0, uwin ? uwin : m);
        snprintf(label, sizeof label, "last %zu (tenants %zu-%zu):", uwin ? uwin : m,
                 m - (uwin ? uwin : m) + 1, m);
        print_window(label, ua, m - (uwin ? uwin : m), m);
        printf("  last/first (medians):              %.2f\n", ul.median / uf.median);
        if (m != n)
            printf("useradd made %zu tenants, not %zu (it takes minutes): the comparison below\n"
                   "sets its windows against warren's tenants at the same counts.\n", m, n);
        size_t k = uwin ? uwin : m;
        summary wf = summarize(wt, 0, k < n ? k : n);
        size_t hi = m < n ? m : n, lo = hi > k ? hi - k : 0;
        summary wl = summarize(wt, lo, hi);
        vs_first = uf.median / wf.median;
        vs_last = ul.median / wl.median;
        printf("warren against useradd, per tenant (medians):\n");
        snprintf(label, sizeof label, "tenants 1-%zu:", k);
        printf("  %-34s useradd %8.3f ms  warren %8.3f ms  useradd/warren %6.1fx\n", label,
               uf.median * 1e3, wf.median * 1e3, vs_first);
        snprintf(label, sizeof label, "tenants %zu-%zu:", lo + 1, hi);
        printf("  %-34s useradd %8.3f ms  warren %8.3f ms  useradd/warren %6.1fx\n", label,
               ul.median * 1e3, wl.median * 1e3, vs_last);
        printf("  %-34s useradd %8.3f ms  warren %8.3f ms  useradd/warren %6.1fx\n",
               "whole runs, per tenant (mean):",
               ua_total / (double)m * 1e3, total / (double)n * 1e3,
               (ua_total / (double)m) / (total / (double)n));
    }

    printf("goals:\n");
    if (n == 10000)
        printf("  %-36s %s (%.2f s)\n", "10,000 tenants in <= 10 s:", verdict(total <= GOAL_TOTAL_S),
               total);
    else
        printf("  %-36s n/a (this run made %zu)\n", "10,000 tenants in <= 10 s:", n);
    snprintf(label, sizeof label, "last %zu <= %.1fx the first %zu:", win, GOAL_GROWTH, win);
    printf("  %-36s %s (%.2fx)\n", label, verdict(growth <= GOAL_GROWTH), growth);
    if (m) {
        double worst = vs_first < vs_last ? vs_first : vs_last;
        printf("  %-36s %s (%.1fx at worst)\n", ">= 10x faster than useradd:",
               verdict(worst >= GOAL_VS_USERADD), worst);
    }
    printf("  %-36s %s (%.0f/s)\n", "get >= 200,000 lookups/s:", verdict(gps >= GOAL_GETS_PER_S),
           gps);
    free(wt);
    free(ua);
    for (size_t i = 0; i < NFILES; i++) free(files.data[i]);
    return 0;
}
