/* Limits and figures from cgroup v1 hierarchies (the "hybrid" backend).
 *
 * On a hybrid host the controllers (memory, cpu, pids) each sit in a v1
 * hierarchy of their own (or co-mounted, as cpu,cpuacct often are; a
 * cpuacct of its own is not used: cgroup2's cpu.stat has the CPU time),
 * while runs are tracked, killed and frozen in the cgroup2 hierarchy. Here a
 * tenant has one group per v1 hierarchy, <own>/warren/<tenant>, holding its
 * limits; its runs' processes join it directly. v1 groups per run would add
 * a mkdir and an rmdir per hierarchy to every run and buy nothing: a run's
 * tree, its kill and its freeze are its cgroup2 group's, and the quotas are
 * the tenant's as a whole.
 *
 * A run's first process joins by writing "0" (itself) into each group's
 * `tasks`, from fds the parent opened, as the first step of the child,
 * before it can fork: every descendant inherits the groups.
 *
 * Where: /proc/self/cgroup names warren's group in each hierarchy
 * ("id:controllers:path"); /proc/self/mountinfo names each v1 mount's
 * controllers (its super options) and which group it shows (its root). As
 * with cgroup2, a group no mount shows is an error, never a guess. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "cgroup-internal.h"
#include "util.h"

static const struct {
    const char *name;
    unsigned bit;
} known[] = {
    {"memory", WR_V1_MEMORY},
    {"cpu", WR_V1_CPU},
    {"cpuacct", WR_V1_CPUACCT},
    {"pids", WR_V1_PIDS},
    {"cpuset", WR_V1_CPUSET},
};

/* The WR_V1_* bits of a comma-separated controller list; *other says
 * whether it names anything else (name=systemd, net_cls, ...). */
static unsigned ctrl_mask(const char *list, bool *other) {
    unsigned m = 0;
    *other = false;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
            if (streq(t, known[i].name)) {
                m |= known[i].bit;
                found = true;
            }
        if (!found) *other = true;
    }
    return m;
}

/* From /proc/self/cgroup: warren's path in the hierarchy with exactly
 * these controllers. */
static int own_path_of(const char *proc_cgroup, unsigned mask, char **ret, wr_err *e) {
    _cleanup_free_ char *text = strdup(proc_cgroup);
    if (!text) return wr_sys(e, ENOMEM, "reading /proc/self/cgroup");
    char *pos = text, *line;
    while ((line = wr_cg_next_line(&pos))) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = '\0';
        bool other;
        unsigned m = ctrl_mask(c1 + 1, &other);
        /* A co-mounted extra controller (net_cls with cpu, say) is fine:
         * the mount and this line then name the same set. */
        if (m != mask) continue;
        if (c2[1] != '/' || strstr(c2 + 1, "/..") )
            return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                           "warren's v1 cgroup %s (/proc/self/cgroup) lies outside its cgroup "
                           "namespace",
                           c2 + 1);
        *ret = strdup(c2 + 1);
        return *ret ? 0 : wr_sys(e, ENOMEM, "reading /proc/self/cgroup");
    }
    return -ENOENT;
}

int wr_cg1_discover(wr_cgroups *c, const char *mountinfo, const char *proc_cgroup, wr_err *e) {
    _cleanup_free_ char *text = strdup(mountinfo);
    if (!text) return wr_sys(e, ENOMEM, "reading /proc/self/mountinfo");
    char *pos = text, *line;
    unsigned have = 0;
    while ((line = wr_cg_next_line(&pos))) {
        char *fields[6], *after[3];
        if (!wr_cg_mountinfo_split(line, fields, after) || !after[0] ||
            !streq(after[0], "cgroup"))
            continue;
        const char *opts = after[2]; /* the super options: rw,memory... */
        if (!opts) continue;
        bool other;
        unsigned m = ctrl_mask(opts, &other);
        if (!m || (m & have)) continue; /* not ours, or seen (a second mount of it) */
        /* cpuacct on its own adds nothing: cgroup2's cpu.stat counts CPU
         * time without any controller, and joining a hierarchy costs every
         * run a migration. */
        if (m == WR_V1_CPUACCT) continue;

        /* The super options also hold rw, relatime...: the controller set
         * is what /proc/self/cgroup lists for the hierarchy. */
        _cleanup_free_ char *own = NULL;
        int r = own_path_of(proc_cgroup, m, &own, e);
        if (r == -ENOENT) continue;
        if (r < 0) return r;
        char *root = fields[3], *mnt = fields[4];
        wr_cg_unescape_octal(root);
        wr_cg_unescape_octal(mnt);
        const char *rest = wr_cg_below(own, root);
        if (!rest) continue; /* a mount of another part of the hierarchy */
        char *p;
        if (asprintf(&p, "%s%s", mnt, rest) < 0) return wr_sys(e, ENOMEM, "cgroup v1");
        struct stat st;
        /* Without root (a delegated cgroup2 only), v1 hierarchies are not
         * ours to write: no backend, and quotas say so when set. */
        if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode) || faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) < 0) {
            free(p);
            continue;
        }
        if (c->nv1 == WR_V1_HIER_MAX) {
            free(p);
            break;
        }
        c->v1[c->nv1++] = (wr_v1_hier){.ctrls = m, .own = p, .warren_fd = -1};
        have |= m;
    }
    return (int)c->nv1;
}

void wr_cg1_close(wr_cgroups *c) {
    for (unsigned i = 0; i < c->nv1; i++) {
        free(c->v1[i].own);
        if (c->v1[i].warren_fd >= 0) close(c->v1[i].warren_fd);
    }
    c->nv1 = 0;
}

static int open_dir_at(int dirfd, const char *name) {
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A v1 cpuset group starts with no CPUs and no memory nodes, and no task
 * can join it so: warren's group takes its parent's, and hands its own to
 * each tenant's group as it is made (cgroup.clone_children), before any
 * limit is written. Checked once per handle, so a group some other program
 * made is filled too. */
static int cpuset_fill(const wr_v1_hier *h, int own, int fd, wr_err *e) {
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        char mine[WR_CPUS_LIST_MAX], parent[WR_CPUS_LIST_MAX];
        int r = wr_cg_read(fd, files[i], mine, sizeof mine);
        if (r == 0 && mine[0] != '\n' && mine[0]) continue;
        if (r == 0) r = wr_cg_read(own, files[i], parent, sizeof parent);
        if (r == 0) r = wr_cg_write(fd, files[i], parent);
        if (r < 0) return wr_sys(e, -r, "setting %s/warren/%s from %s", h->own, files[i], h->own);
    }
    int r = wr_cg_write(fd, "cgroup.clone_children", "1");
    if (r < 0) return wr_sys(e, -r, "setting %s/warren/cgroup.clone_children", h->own);
    return 0;
}

static int warren_fd(wr_v1_hier *h, wr_err *e) {
    if (h->warren_fd >= 0) return h->warren_fd;
    _cleanup_close_ int own = open(h->own, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (own < 0) return wr_sys(e, errno, "opening cgroup %s", h->own);
    /* Opened first: it is there but on the very first run. */
    int fd = open_dir_at(own, "warren");
    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(own, "warren", 0755) < 0 && errno != EEXIST)
            return wr_sys(e, errno, "creating cgroup %s/warren", h->own);
        fd = open_dir_at(own, "warren");
    }
    if (fd < 0) return wr_sys(e, errno, "opening cgroup %s/warren", h->own);
    if ((h->ctrls & WR_V1_CPUSET) && cpuset_fill(h, own, fd, e) < 0) {
        close(fd);
        return -EIO;
    }
    return h->warren_fd = fd;
}

/* Warren's group in hierarchy h if it is there, never made: a host where no
 * tenant ever had a v1 group keeps none. -1 without one. */
static int warren_fd_existing(wr_v1_hier *h) {
    if (h->warren_fd < 0) {
        _cleanup_close_ int own = open(h->own, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (own >= 0) h->warren_fd = open_dir_at(own, "warren");
    }
    return h->warren_fd;
}

/* The tenant's group in hierarchy h, made if missing. */
static int tenant_fd(wr_v1_hier *h, const char *tenant, bool make, bool *made, wr_err *e) {
    int wfd = warren_fd(h, e);
    if (wfd < 0) return wfd;
    int fd = open_dir_at(wfd, tenant);
    if (fd < 0 && errno == ENOENT && make) {
        if (mkdirat(wfd, tenant, 0755) == 0) {
            if (made) *made = true;
        } else if (errno != EEXIST)
            return wr_sys(e, errno, "creating cgroup %s/warren/%s", h->own, tenant);
        fd = open_dir_at(wfd, tenant);
    }
    if (fd < 0 && (make || errno != ENOENT))
        return wr_sys(e, errno, "opening cgroup %s/warren/%s", h->own, tenant);
    return fd < 0 ? -ENOENT : fd;
}

int wr_cg1_tenant_make(wr_cgroups *c, const char *tenant, bool *ret_made, int tasks[],
                       wr_err *e) {
    unsigned i = 0;
    int r = 0;
    for (; i < c->nv1; i++) {
        _cleanup_close_ int fd = tenant_fd(&c->v1[i], tenant, true, ret_made, e);
        if (fd < 0) {
            r = fd;
            break;
        }
        /* `tasks`, as wr_cg1_open_procs says why. */
        if (tasks && (tasks[i] = openat(fd, "tasks", O_WRONLY | O_CLOEXEC)) < 0) {
            r = wr_sys(e, errno, "opening %s/warren/%s/tasks", c->v1[i].own, tenant);
            break;
        }
    }
    if (r >= 0) return (int)c->nv1;
    while (tasks && i > 0)
        close(tasks[--i]);
    return r;
}

int wr_cg1_open_procs(wr_cgroups *c, const char *tenant, int fds[], size_t max, wr_err *e) {
    size_t n = 0;
    for (unsigned i = 0; i < c->nv1 && n < max; i++) {
        _cleanup_close_ int fd = tenant_fd(&c->v1[i], tenant, true, NULL, e);
        if (fd < 0) goto fail;
        /* `tasks`, not cgroup.procs: the child writes "0" (itself) while it
         * is still single-threaded, so moving the thread moves the process;
         * and the kernel moves a lone thread without the host-wide
         * threadgroup lock, whose first taking after a pause waits for an
         * RCU grace period (6-25 ms measured here, on every CLI run). */
        fds[n] = openat(fd, "tasks", O_WRONLY | O_CLOEXEC);
        if (fds[n] < 0) {
            wr_sys(e, errno, "opening %s/warren/%s/tasks", c->v1[i].own, tenant);
            goto fail;
        }
        n++;
    }
    return (int)n;
fail:
    for (size_t j = 0; j < n; j++)
        close(fds[j]);
    return -EIO;
}

static wr_v1_hier *hier_of(wr_cgroups *c, unsigned bit) {
    for (unsigned i = 0; i < c->nv1; i++)
        if (c->v1[i].ctrls & bit) return &c->v1[i];
    return NULL;
}

/* Writes a limit, naming file and value if the kernel refuses it. */
static int set(int fd, const wr_v1_hier *h, const char *tenant, const char *file,
               const char *value, wr_err *e) {
    int r = wr_cg_write(fd, file, value);
    if (r < 0)
        return wr_sys(e, -r, "setting %s/warren/%s/%s to %s", h->own, tenant, file, value);
    return 0;
}

static int limit_memory(wr_v1_hier *h, int fd, const char *tenant, int64_t v, wr_err *e) {
    char val[32];
    if (wr_quota_limited(v))
        snprintf(val, sizeof val, "%lld", (long long)v);
    else
        snprintf(val, sizeof val, "-1");
    /* Swap off: memory+swap gets the same limit. memsw may never be below
     * the memory limit, so the order depends on the direction; trying the
     * memory limit first and retrying after memsw covers both. Hosts
     * without swap accounting have no memsw file. */
    bool memsw = faccessat(fd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0;
    int r = wr_cg_write(fd, "memory.limit_in_bytes", val);
    if (r == -EINVAL && memsw) {
        if ((r = set(fd, h, tenant, "memory.memsw.limit_in_bytes", val, e)) < 0) return r;
        r = wr_cg_write(fd, "memory.limit_in_bytes", val);
    }
    if (r == -EBUSY) {
        uint64_t used = 0;
        wr_cg_read_u64(fd, "memory.usage_in_bytes", &used);
        return wr_fail(e, WR_ERR_LIMIT, EBUSY,
                       "memory quota %s bytes is below what tenant cgroup %s uses now (%llu "
                       "bytes) and the kernel could not reclaim enough",
                       val, tenant, (unsigned long long)used);
    }
    if (r < 0) return wr_sys(e, -r, "setting %s/warren/%s/memory.limit_in_bytes to %s", h->own,
                             tenant, val);
    if (memsw && (r = set(fd, h, tenant, "memory.memsw.limit_in_bytes", val, e)) < 0) return r;
    return 0;
}

/* The tenant's CPUs (cgroup-cpus.c): its placement, or all of warren's. */
static int limit_cpus(wr_v1_hier *h, const char *tenant, int64_t cpu_milli, wr_err *e) {
    _cleanup_close_ int fd = tenant_fd(h, tenant, true, NULL, e);
    if (fd < 0) return fd;
    wr_cpumask all, placed;
    int r = wr_cpus_read(h->warren_fd, "cpuset.cpus", &all);
    if (r < 0) return wr_sys(e, -r, "reading %s/warren/cpuset.cpus", h->own);
    wr_cg_place(h->warren_fd, "cpuset.cpus", tenant, &all, cpu_milli, &placed);
    char list[WR_CPUS_LIST_MAX];
    wr_cpus_format(&placed, list, sizeof list);
    return set(fd, h, tenant, "cpuset.cpus", list, e);
}

bool wr_cg1_unplaced(wr_cgroups *c, const wr_cpumask *from, wr_cpumask *ret) {
    wr_v1_hier *h = hier_of(c, WR_V1_CPUSET);
    wr_cpumask all;
    *ret = *from;
    /* Without warren's group no tenant is placed. */
    int wfd = h ? warren_fd_existing(h) : -1;
    if (wfd < 0 || wr_cpus_read(wfd, "cpuset.cpus", &all) < 0) return false;
    return wr_cg_unplaced(wfd, "cpuset.cpus", &all, from, ret);
}

int wr_cg1_limit(wr_cgroups *c, const char *tenant, const wr_quota *q, wr_err *e) {
    wr_v1_hier *h;
    char val[32];
    int r;
    if ((h = hier_of(c, WR_V1_MEMORY))) {
        _cleanup_close_ int fd = tenant_fd(h, tenant, true, NULL, e);
        if (fd < 0) return fd;
        if ((r = limit_memory(h, fd, tenant, q->memory, e)) < 0) return r;
    } else if (wr_quota_limited(q->memory))
        return wr_fail(e, WR_ERR_SYSTEM, ENOTSUP,
                       "memory quota: this host mounts no cgroup memory controller");
    if ((h = hier_of(c, WR_V1_CPU))) {
        _cleanup_close_ int fd = tenant_fd(h, tenant, true, NULL, e);
        if (fd < 0) return fd;
        /* cpu cores = quota / period; a 100 ms period as the kernel's default. */
        if ((r = set(fd, h, tenant, "cpu.cfs_period_us", "100000", e)) < 0) return r;
        snprintf(val, sizeof val, "%lld",
                 wr_quota_limited(q->cpu_milli) ? (long long)(q->cpu_milli * 100) : -1LL);
        if ((r = set(fd, h, tenant, "cpu.cfs_quota_us", val, e)) < 0) return r;
        /* weight 100 (cgroup v2's even share) = 1024 shares. */
        int64_t w = wr_quota_limited(q->cpu_weight) ? q->cpu_weight : 100;
        snprintf(val, sizeof val, "%lld", (long long)(w * 1024 / 100 < 2 ? 2 : w * 1024 / 100));
        if ((r = set(fd, h, tenant, "cpu.shares", val, e)) < 0) return r;
    } else if (wr_quota_limited(q->cpu_milli) || wr_quota_limited(q->cpu_weight))
        return wr_fail(e, WR_ERR_SYSTEM, ENOTSUP,
                       "cpu quota: this host mounts no cgroup cpu controller");
    if ((h = hier_of(c, WR_V1_CPUSET)) && (r = limit_cpus(h, tenant, q->cpu_milli, e)) < 0)
        return r;
    if ((h = hier_of(c, WR_V1_PIDS))) {
        _cleanup_close_ int fd = tenant_fd(h, tenant, true, NULL, e);
        if (fd < 0) return fd;
        if (wr_quota_limited(q->pids))
            snprintf(val, sizeof val, "%lld", (long long)q->pids);
        else
            snprintf(val, sizeof val, "max");
        if ((r = set(fd, h, tenant, "pids.max", val, e)) < 0) return r;
    } else if (wr_quota_limited(q->pids))
        return wr_fail(e, WR_ERR_SYSTEM, ENOTSUP,
                       "pids quota: this host mounts no cgroup pids controller");
    return 0;
}

static void read_limit(int fd, const char *file, uint64_t *ret) {
    char buf[64];
    if (wr_cg_read(fd, file, buf, sizeof buf) < 0) return;
    /* "max", or v1 memory's "unlimited" (a page-rounded LLONG_MAX). */
    if (buf[0] < '0' || buf[0] > '9') return;
    unsigned long long v = strtoull(buf, NULL, 10);
    *ret = v >= (1ULL << 62) ? 0 : v;
}

int wr_cg1_stats(wr_cgroups *c, const char *tenant, wr_cgroup_stats *st, wr_err *e) {
    (void)e;
    for (unsigned i = 0; i < c->nv1; i++) {
        wr_v1_hier *h = &c->v1[i];
        _cleanup_close_ int fd = tenant_fd(h, tenant, false, NULL, NULL);
        if (fd < 0) continue;
        if (h->ctrls & WR_V1_MEMORY) {
            st->have_memory = true;
            wr_cg_read_u64(fd, "memory.usage_in_bytes", &st->memory_current);
            wr_cg_read_u64(fd, "memory.max_usage_in_bytes", &st->memory_peak);
            read_limit(fd, "memory.limit_in_bytes", &st->memory_max);
            wr_cg_read_key(fd, "memory.oom_control", "oom_kill", &st->oom_kills);
            wr_cg_read_u64(fd, "memory.failcnt", &st->memory_max_events);
        }
        if (h->ctrls & WR_V1_CPU) {
            st->have_cpu = true;
            uint64_t ns = 0, quota = 0;
            if (wr_cg_read_key(fd, "cpu.stat", "throttled_time", &ns) == 0)
                st->throttled_usec = ns / 1000;
            wr_cg_read_key(fd, "cpu.stat", "nr_throttled", &st->nr_throttled);
            char buf[32];
            if (wr_cg_read(fd, "cpu.cfs_quota_us", buf, sizeof buf) == 0 && buf[0] != '-') {
                quota = strtoull(buf, NULL, 10);
                st->cpu_quota_milli = quota / 100;
            }
        }
        if (h->ctrls & WR_V1_CPUACCT) {
            uint64_t ns = 0;
            if (wr_cg_read_u64(fd, "cpuacct.usage", &ns) == 0) st->cpu_usec = ns / 1000;
        }
        if (h->ctrls & WR_V1_CPUSET) {
            wr_cpumask all, mine;
            if (wr_cpus_read(h->warren_fd, "cpuset.cpus", &all) == 0 &&
                wr_cpus_read(fd, "cpuset.cpus", &mine) == 0 && wr_cpus_count(&mine) &&
                !wr_cpus_equal(&mine, &all))
                wr_cpus_format(&mine, st->cpus, sizeof st->cpus);
        }
        if (h->ctrls & WR_V1_PIDS) {
            st->have_pids = true;
            wr_cg_read_u64(fd, "pids.current", &st->pids_current);
            wr_cg_read_u64(fd, "pids.peak", &st->pids_peak);
            read_limit(fd, "pids.max", &st->pids_max);
            wr_cg_read_key(fd, "pids.events", "max", &st->pids_max_events);
        }
    }
    return 0;
}

int wr_cg1_tenant_remove(wr_cgroups *c, const char *tenant, wr_err *e) {
    for (unsigned i = 0; i < c->nv1; i++) {
        wr_v1_hier *h = &c->v1[i];
        int wfd = warren_fd_existing(h); /* removal never makes it */
        if (wfd < 0) continue;
        /* The processes are gone (the cgroup2 group is empty), but an exiting
         * task can stay listed in a v1 group for a moment: retry briefly. */
        int tries = 0;
        while (unlinkat(wfd, tenant, AT_REMOVEDIR) < 0) {
            if (errno == ENOENT) break;
            if (errno != EBUSY || ++tries > 200)
                return wr_sys(e, errno, "removing cgroup %s/warren/%s", h->own, tenant);
            usleep(10000);
        }
    }
    return 0;
}
