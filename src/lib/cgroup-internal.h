/* What cgroup.c shares with its two limit backends (cgroup-v1.c,
 * cgroup-v2.c), and nothing outside them sees.
 *
 * Tracking, killing and freezing always use the cgroup2 hierarchy: it exists
 * on every kernel warren runs on, it needs no controller for them, and
 * cgroup.kill and cgroup.freeze act on a whole subtree at once. Limits and
 * the resource figures come from wherever the host put the controllers:
 * into the same cgroup2 hierarchy ("v2"), or into v1 hierarchies beside it
 * ("hybrid"). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"
#include "quota.h"

enum { WR_CG_NONE, WR_CG_V2, WR_CG_HYBRID };

/* The v1 controllers warren uses, each the bit of its hierarchy. */
enum {
    WR_V1_MEMORY = 1u << 0,
    WR_V1_CPU = 1u << 1,
    WR_V1_CPUACCT = 1u << 2,
    WR_V1_PIDS = 1u << 3,
    WR_V1_CPUSET = 1u << 4,
};
#define WR_V1_HIER_MAX 5

typedef struct wr_v1_hier {
    unsigned ctrls; /* the WR_V1_* this hierarchy has (cpu,cpuacct are often together) */
    char *own;      /* absolute path of warren's own cgroup in it */
    int warren_fd;  /* <own>/warren, made on first use; -1 until then */
} wr_v1_hier;

/* A tenant's groups as this handle last found them: its cgroup2 group open,
 * and on a hybrid host the `tasks` of its v1 groups. A run then costs one
 * check that the group is still there (another warren may have deleted the
 * tenant: an open fd of a removed cgroup answers ENOENT) instead of a mkdir,
 * open and close in every hierarchy (cgroup.c). v1 groups are only ever
 * removed after the cgroup2 one (wr_cgroup_tenant_destroy), so a live cgroup2
 * group vouches for them. */
#define WR_CG_CACHE_MAX 8
typedef struct wr_cg_tenant {
    char name[NAME_MAX + 1];      /* "": a free slot */
    int fd;                       /* <own>/warren/<name> in cgroup2 */
    int tasks[WR_V1_HIER_MAX];    /* hybrid: its v1 groups' `tasks` (write-only) */
    int ntasks;                   /* -1: not opened yet */
    uint64_t used;                /* the least recently used slot is reused */
    int64_t reaped_ms;            /* when runs were last scanned for orphans (monotonic) */
    /* The group of a run that ended cleanly, kept for the next run of the
     * tenant (wr_cgroup_run_take): -1 and "" when none. */
    int spare_fd;
    char spare[WR_CGROUP_RUN_MAX];
    uint64_t spare_usec; /* its cpu.stat usage_usec when it was kept */
} wr_cg_tenant;

struct wr_cgroups {
    int dir_fd; /* cgroup2 <own>/warren */
    char *path; /* its absolute path */
    int own_fd; /* cgroup2 <own> */
    int backend;
    bool v2_enabled;              /* v2: controllers switched on for <own>/warren's children */
    wr_v1_hier v1[WR_V1_HIER_MAX]; /* hybrid */
    unsigned nv1;
    wr_cg_tenant cache[WR_CG_CACHE_MAX];
    uint64_t clock;
};

/* Small file access relative to a cgroup directory fd. */
int wr_cg_write(int dirfd, const char *file, const char *value);
/* Reads the file into buf (NUL-terminated); -errno. */
int wr_cg_read(int dirfd, const char *file, char *buf, size_t size);
int wr_cg_read_u64(int dirfd, const char *file, uint64_t *ret);
/* The number after "key " in a flat-keyed file (cpu.stat, memory.events). */
int wr_cg_read_key(int dirfd, const char *file, const char *key, uint64_t *ret);
/* A whole /proc file into a malloc'd NUL-terminated buffer. */
int wr_cg_read_proc(const char *path, char **ret, wr_err *e);
/* The next line of a text (NUL-terminated in place), advancing *pos; NULL at
 * the end. */
char *wr_cg_next_line(char **pos);
/* Splits one line of /proc/self/mountinfo in place: fields[0..5] (id, parent,
 * major:minor, root, mount point, options) and after[0..2], the words after
 * the "-" separator (fstype, source, super options; NULL where missing).
 * False for a line with fewer than six fields. */
bool wr_cg_mountinfo_split(char *line, char *fields[6], char *after[3]);
/* mountinfo's octal escapes, decoded in place; the rest of `path` below
 * `root` ("" or "/...") or NULL. */
void wr_cg_unescape_octal(char *s);
const char *wr_cg_below(const char *path, const char *root);
/* One directory name for a tenant (checked like cgroup.c's names). */
int wr_cg_check_name(const char *what, const char *name, wr_err *e);

/* cgroup-cpus.c: CPU sets and the placement of a tenant on CPUs. */
#define WR_CPUS_MAX 1024
#define WR_CPUS_LIST_MAX 8192 /* the longest cpu list read ("0,2,4,...") */
typedef struct wr_cpumask {
    uint64_t bits[WR_CPUS_MAX / 64];
} wr_cpumask;
/* A kernel cpu list ("0-3,8\n"; "" is empty); -EINVAL for anything else. */
int wr_cpus_parse(const char *list, wr_cpumask *ret);
/* The list form of m, cut short if buf is. */
void wr_cpus_format(const wr_cpumask *m, char *buf, size_t size);
int wr_cpus_read(int dirfd, const char *file, wr_cpumask *ret);
bool wr_cpus_has(const wr_cpumask *m, unsigned cpu);
unsigned wr_cpus_count(const wr_cpumask *m);
bool wr_cpus_equal(const wr_cpumask *a, const wr_cpumask *b);
/* The CPUs of `all` a tenant with this cpu quota is placed on: as many as
 * the quota needs rounded up, those that the fewest other tenants' `file`
 * (cpuset.cpus in their groups below warren_fd) hold. False, with *ret =
 * *all, when the quota is unlimited or needs every CPU. */
bool wr_cg_place(int warren_fd, const char *file, const char *tenant, const wr_cpumask *all,
                 int64_t cpu_milli, wr_cpumask *ret);
/* The CPUs of `from` that no tenant's placement holds (as wr_cg_place
 * counts them). False, with *ret = *from, when no placement holds any of
 * them, or every one. */
bool wr_cg_unplaced(int warren_fd, const char *file, const wr_cpumask *all, const wr_cpumask *from,
                    wr_cpumask *ret);

/* cgroup-v1.c */
/* Finds the v1 hierarchies from the text of /proc/self/mountinfo and
 * /proc/self/cgroup (read once by wr_cgroups_open); how many. */
int wr_cg1_discover(wr_cgroups *c, const char *mountinfo, const char *proc_cgroup, wr_err *e);
void wr_cg1_close(wr_cgroups *c);
/* Makes the tenant's group in each hierarchy if missing; with `tasks`, also
 * opens their `tasks` into it (one per hierarchy). How many hierarchies. */
int wr_cg1_tenant_make(wr_cgroups *c, const char *tenant, bool *ret_made, int tasks[],
                       wr_err *e);
int wr_cg1_limit(wr_cgroups *c, const char *tenant, const wr_quota *q, wr_err *e);
/* wr_cg_unplaced in the cpuset hierarchy; false without one. */
bool wr_cg1_unplaced(wr_cgroups *c, const wr_cpumask *from, wr_cpumask *ret);
int wr_cg1_stats(wr_cgroups *c, const char *tenant, wr_cgroup_stats *st, wr_err *e);
int wr_cg1_tenant_remove(wr_cgroups *c, const char *tenant, wr_err *e);
int wr_cg1_open_procs(wr_cgroups *c, const char *tenant, int fds[], size_t max, wr_err *e);

/* cgroup-v2.c */
/* Whether warren's own group can have memory, cpu and pids (cgroup.controllers);
 * cpuset is switched on too where it is there. */
bool wr_cg2_available(int own_fd);
int wr_cg2_enable(wr_cgroups *c, wr_err *e);
int wr_cg2_limit(int warren_fd, int tenant_fd, const char *where, const char *tenant,
                 const wr_quota *q, wr_err *e);
void wr_cg2_stats(int tenant_fd, bool controllers, wr_cgroup_stats *st);
/* wr_cg_unplaced below warren's group; false without the cpuset controller. */
bool wr_cg2_unplaced(int warren_fd, const wr_cpumask *from, wr_cpumask *ret);
int wr_cg2_freeze(int fd, bool freeze, const char *where, wr_err *e);
