/* Which CPUs a tenant's runs may use (the cpuset controller, v1 or v2).
 *
 * A tenant whose cpu quota is a fraction of the host is given only as many
 * CPUs as its quota needs, rounded up: half a core, one CPU. Its quota (cfs
 * bandwidth) still says how much time it gets; the placement says where. The
 * reason is the neighbours' latency, not the tenant's share: a kernel that
 * preempts only at scheduler ticks (PREEMPT(none), HZ 250 here) lets a
 * spinning task keep its CPU until the next tick, so a neighbour's run that
 * wakes on that CPU waits up to 4 ms, at every wakeup of its start. Spread
 * over every CPU, half a core of spinners sits on all of them at once for a
 * quarter of each period; placed on one, the others stay free for the rest.
 *
 * The CPUs are the ones the fewest other placed tenants have, so tenants
 * spread over the host; ties go round from a point given by the tenant's
 * name, so that tenants placed at the same time by separate warren
 * processes rarely pick alike. It is a balance made when the tenant's limits
 * are written, not a reservation: the scheduler's balancing still works within
 * each placement. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>

#include "cgroup-internal.h"
#include "util.h"

static void set_bit(wr_cpumask *m, unsigned cpu) {
    m->bits[cpu / 64] |= 1ULL << (cpu % 64);
}

bool wr_cpus_has(const wr_cpumask *m, unsigned cpu) {
    return cpu < WR_CPUS_MAX && (m->bits[cpu / 64] >> (cpu % 64) & 1);
}

unsigned wr_cpus_count(const wr_cpumask *m) {
    unsigned n = 0;
    for (size_t i = 0; i < ELEMENTSOF(m->bits); i++)
        n += (unsigned)__builtin_popcountll(m->bits[i]);
    return n;
}

bool wr_cpus_equal(const wr_cpumask *a, const wr_cpumask *b) {
    return memcmp(a->bits, b->bits, sizeof a->bits) == 0;
}

/* "0-3,8,10-11\n" as the kernel writes it; "" (or "\n") is the empty set. */
int wr_cpus_parse(const char *list, wr_cpumask *ret) {
    *ret = (wr_cpumask){{0}};
    const char *p = list;
    while (*p && *p != '\n') {
        char *end;
        errno = 0;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (end == p || errno || lo >= WR_CPUS_MAX) return -EINVAL;
        p = end;
        if (*p == '-') {
            hi = strtoul(++p, &end, 10);
            if (end == p || hi < lo || hi >= WR_CPUS_MAX) return -EINVAL;
            p = end;
        }
        for (unsigned long c = lo; c <= hi; c++)
            set_bit(ret, (unsigned)c);
        if (*p == ',') p++;
        else if (*p && *p != '\n') return -EINVAL;
    }
    return 0;
}

void wr_cpus_format(const wr_cpumask *m, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned c = 0; c < WR_CPUS_MAX; c++) {
        if (!wr_cpus_has(m, c)) continue;
        unsigned hi = c;
        while (hi + 1 < WR_CPUS_MAX && wr_cpus_has(m, hi + 1))
            hi++;
        int n = hi == c ? snprintf(buf + used, size - used, "%s%u", used ? "," : "", c)
                        : snprintf(buf + used, size - used, "%s%u-%u", used ? "," : "", c, hi);
        if (n < 0 || (size_t)n >= size - used) return; /* cut short: the caller's buffer */
        used += (size_t)n;
        c = hi;
    }
}

int wr_cpus_read(int dirfd, const char *file, wr_cpumask *ret) {
    char buf[WR_CPUS_LIST_MAX];
    int r = wr_cg_read(dirfd, file, buf, sizeof buf);
    return r < 0 ? r : wr_cpus_parse(buf, ret);
}

/* How many of the other tenants' placements (their `file` below warren's
 * group) hold each CPU; every tenant's when tenant is NULL. A group whose
 * set is empty or all of `all` is not placed. */
static void count_placed(int warren_fd, const char *file, const char *tenant,
                         const wr_cpumask *all, unsigned counts[]) {
    int fd = openat(warren_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0) close(fd);
        return; /* nothing known: every CPU counts as free */
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.' || (tenant && streq(de->d_name, tenant)))
            continue;
        _cleanup_close_ int tfd =
            openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        wr_cpumask m;
        if (tfd < 0 || wr_cpus_read(tfd, file, &m) < 0) continue;
        unsigned n = wr_cpus_count(&m);
        if (n == 0 || wr_cpus_equal(&m, all)) continue;
        for (unsigned c = 0; c < WR_CPUS_MAX; c++)
            if (wr_cpus_has(&m, c)) counts[c]++;
    }
    closedir(d);
}

bool wr_cg_place(int warren_fd, const char *file, const char *tenant, const wr_cpumask *all,
                 int64_t cpu_milli, wr_cpumask *ret) {
    *ret = *all;
    unsigned n = wr_cpus_count(all);
    if (!wr_quota_limited(cpu_milli) || cpu_milli <= 0 || n == 0) return false;
    uint64_t want = ((uint64_t)cpu_milli + 999) / 1000;
    if (want >= n) return false;

    unsigned cpus[WR_CPUS_MAX], counts[WR_CPUS_MAX] = {0};
    unsigned k = 0;
    for (unsigned c = 0; c < WR_CPUS_MAX; c++)
        if (wr_cpus_has(all, c)) cpus[k++] = c;
    count_placed(warren_fd, file, tenant, all, counts);
    unsigned start = (unsigned)(wr_fnv1a(WR_FNV_OFFSET, tenant, strlen(tenant)) % n);
    bool taken[WR_CPUS_MAX] = {false};
    *ret = (wr_cpumask){{0}};
    for (uint64_t picked = 0; picked < want; picked++) {
        unsigned best = UINT_MAX;
        for (unsigned i = 0; i < n; i++) {
            unsigned j = (start + i) % n;
            if (!taken[j] && (best == UINT_MAX || counts[cpus[j]] < counts[cpus[best]])) best = j;
        }
        taken[best] = true;
        set_bit(ret, cpus[best]);
    }
    return true;
}

bool wr_cg_unplaced(int warren_fd, const char *file, const wr_cpumask *all, const wr_cpumask *from,
                    wr_cpumask *ret) {
    *ret = *from;
    unsigned counts[WR_CPUS_MAX] = {0};
    count_placed(warren_fd, file, NULL, all, counts);
    wr_cpumask free_ = {{0}};
    bool held = false;
    for (unsigned c = 0; c < WR_CPUS_MAX; c++) {
        if (!wr_cpus_has(from, c)) continue;
        if (counts[c])
            held = true;
        else
            set_bit(&free_, c);
    }
    if (!held || wr_cpus_count(&free_) == 0) return false;
    *ret = free_;
    return true;
}
