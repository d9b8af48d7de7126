/* Run tracking in the cgroup v2 hierarchy (see cgroup.h).
 *
 * Finding our place: /proc/self/cgroup's "0::" line names warren's cgroup
 * relative to the root of its cgroup namespace; /proc/self/mountinfo names,
 * for each cgroup2 mount, which cgroup it shows (its root, relative to the
 * same namespace root) and where. warren's cgroup is the mount point plus the
 * part of its path below the mount's root. A cgroup that no cgroup2 mount
 * shows (a namespace whose mount is the host's, a mount of another subtree,
 * a cgroup removed under us) is an error that says so: warren never guesses
 * a place elsewhere in the hierarchy.
 *
 * Everything below <own>/warren is reached with *at calls on directory fds;
 * tenant and run names are checked to be single plain path components first.
 *
 * Killing: cgroup.kill (Linux 5.14) sends SIGKILL to every process of the
 * cgroup and its descendants at once, and forks racing it fail. Without it,
 * processes are signalled from cgroup.procs, sweep after sweep, until the
 * cgroup is empty; each pid is pinned with a pidfd and signalled only when it
 * is still listed after the pidfd was taken, so a pid that was reused by a
 * process outside the cgroup is never signalled. Either way, cgroup.events
 * ("populated 0") says when the last process is gone; a change of it wakes
 * poll() with POLLPRI. */
#include "cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>

#include "cgroup-internal.h"
#include "tenant.h"
#include "util.h"
#include "warren-internal.h"

#define KILL_DEADLINE_MS 5000
#define POLL_SLICE_MS 250
/* How deep killing and removal descend into cgroups a run made below its own. */
#define NEST_DEPTH_MAX 32


static bool force_fallback;

void wr_cgroup_force_fallback(bool on) {
    force_fallback = on;
}

static void closedirp(DIR **d) {
    if (*d) closedir(*d);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The path of an open fd, for messages only. */
static const char *fd_name(int fd, char *buf, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, size - 1);
    if (n < 0) {
        snprintf(buf, size, "(cgroup fd %d)", fd);
        return buf;
    }
    buf[n] = '\0';
    return buf;
}

/* --- finding warren's cgroup -------------------------------------------------- */

/* Decodes the octal escapes (\040 for a space, \011, \012, \134) that
 * /proc/self/mountinfo uses in paths, in place. */
bool wr_cg_mountinfo_split(char *line, char *fields[6], char *after[3]) {
    char *save = NULL, *tok = strtok_r(line, " ", &save);
    size_t i = 0;
    for (; tok && i < 6; tok = strtok_r(NULL, " ", &save))
        fields[i++] = tok;
    if (i < 6) return false;
    /* Optional fields, as many as there are, end at "-". */
    while (tok && !streq(tok, "-"))
        tok = strtok_r(NULL, " ", &save);
    for (i = 0; i < 3; i++)
        after[i] = tok ? (tok = strtok_r(NULL, " ", &save)) : NULL;
    return true;
}

void wr_cg_unescape_octal(char *s) {
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* If `path` is `root` or below it (at a component boundary), returns the
 * rest of path after root ("" or "/..."), else NULL. */
const char *wr_cg_below(const char *path, const char *root) {
    if (streq(root, "/")) return streq(path, "/") ? "" : path;
    size_t n = strlen(root);
    if (strncmp(path, root, n) != 0) return NULL;
    if (path[n] != '\0' && path[n] != '/') return NULL;
    return path + n;
}

/* Whether the path has a ".." component: in /proc/self/cgroup, a cgroup
 * outside the reader's cgroup namespace. */
static bool has_dotdot(const char *p) {
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/')) return true;
    return false;
}

int wr_cg_read_proc(const char *path, char **ret, wr_err *e) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "reading %s", path);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) return wr_sys(e, ENOMEM, "reading %s", path);
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int r = wr_sys(e, errno, "reading %s", path);
            free(buf);
            return r;
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len == cap - 1) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    buf[len] = '\0';
    *ret = buf;
    return 0;
}

char *wr_cg_next_line(char **pos) {
    char *line = *pos;
    if (!line || !*line) return NULL;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *pos = nl + 1;
    } else
        *pos = line + strlen(line);
    return line;
}

/* Reads warren's cgroup v2 path from /proc/self/cgroup (its text) into *ret. */
static int read_own_cgroup(const char *proc_cgroup, char **ret, wr_err *e) {
    _cleanup_free_ char *text = strdup(proc_cgroup);
    if (!text) return wr_sys(e, ENOMEM, "reading /proc/self/cgroup");
    char *pos = text, *line;
    while ((line = wr_cg_next_line(&pos))) {
        if (strncmp(line, "0::", 3) != 0) continue;
        const char *p = line + 3;
        static const char deleted[] = " (deleted)";
        size_t l = strlen(p);
        if (l >= sizeof deleted - 1 && streq(p + l - (sizeof deleted - 1), deleted))
            return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                           "warren's cgroup %s has been removed (/proc/self/cgroup)", p);
        if (p[0] != '/')
            return wr_fail(e, WR_ERR_SYSTEM, EINVAL,
                           "/proc/self/cgroup: cgroup v2 path \"%s\" is not absolute", p);
        if (has_dotdot(p))
            return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                           "warren's cgroup %s lies outside its cgroup namespace "
                           "(/proc/self/cgroup): start warren inside the namespace's cgroup",
                           p);
        char *s = strdup(p);
        if (!s) return wr_sys(e, ENOMEM, "reading /proc/self/cgroup");
        /* A warren started in the leaf an earlier warren (or the service
         * manager) made for the no-internal-processes rule (cgroup-v2.c)
         * belongs to the group above it. */
        char *last = strrchr(s, '/');
        if (last && streq(last + 1, "warren-supervisor")) last[last == s ? 1 : 0] = '\0';
        *ret = s;
        return 0;
    }
    return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                   "/proc/self/cgroup has no cgroup v2 (\"0::\") line: this kernel has no "
                   "cgroup2 hierarchy");
}

/* Finds the first cgroup2 mount that shows the cgroup `own` and stores the
 * absolute path of `own` under it in *ret. */
static int locate_own(const char *mountinfo, const char *own, char **ret, wr_err *e) {
    _cleanup_free_ char *text = strdup(mountinfo);
    if (!text) return wr_sys(e, ENOMEM, "reading /proc/self/mountinfo");
    _cleanup_free_ char *seen = NULL; /* a cgroup2 mount that did not show `own` */
    char *pos = text, *line;
    while ((line = wr_cg_next_line(&pos))) {
        char *fields[6], *after[3];
        if (!wr_cg_mountinfo_split(line, fields, after) || !after[0] ||
            !streq(after[0], "cgroup2"))
            continue;

        char *root = fields[3], *mnt = fields[4];
        wr_cg_unescape_octal(root);
        wr_cg_unescape_octal(mnt);
        const char *rest = wr_cg_below(own, root);
        if (!rest) {
            if (!seen) {
                size_t sz = strlen(mnt) + strlen(root) + 16;
                seen = malloc(sz);
                if (seen) snprintf(seen, sz, "%s (root %s)", mnt, root);
            }
            continue;
        }
        size_t sz = strlen(mnt) + strlen(rest) + 1;
        char *p = malloc(sz);
        if (!p) return wr_sys(e, ENOMEM, "reading /proc/self/mountinfo");
        snprintf(p, sz, "%s%s", streq(mnt, "/") && *rest ? "" : mnt, rest);
        *ret = p;
        return 0;
    }
    if (seen)
        return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                       "warren's cgroup %s (/proc/self/cgroup) is not visible in any cgroup2 "
                       "mount (%s shows another part of the hierarchy): mount the cgroup2 "
                       "hierarchy of warren's cgroup namespace",
                       own, seen);
    return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                   "no cgroup2 hierarchy is mounted (none in /proc/self/mountinfo): mount one, "
                   "e.g. at /sys/fs/cgroup/unified");
}

int wr_cgroups_open(wr_cgroups **ret, wr_err *e) {
    /* Each read once: the v1 hierarchies are found in the same two files. */
    _cleanup_free_ char *proc_cgroup = NULL, *mountinfo = NULL;
    int r = wr_cg_read_proc("/proc/self/cgroup", &proc_cgroup, e);
    if (r < 0) return r;
    _cleanup_free_ char *own = NULL;
    if ((r = read_own_cgroup(proc_cgroup, &own, e)) < 0) return r;
    if ((r = wr_cg_read_proc("/proc/self/mountinfo", &mountinfo, e)) < 0) return r;
    _cleanup_free_ char *own_path = NULL;
    r = locate_own(mountinfo, own, &own_path, e);
    if (r < 0) return r;

    _cleanup_close_ int own_fd = open(own_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (own_fd < 0) {
        if (errno == ENOENT)
            return wr_fail(e, WR_ERR_SYSTEM, ENOENT,
                           "warren's cgroup %s (/proc/self/cgroup) should be at %s, which does "
                           "not exist: is /proc/self/cgroup relative to a cgroup namespace that "
                           "the cgroup2 mount does not belong to?",
                           own, own_path);
        return wr_sys(e, errno, "opening warren's cgroup %s", own_path);
    }
    struct statfs sfs;
    if (fstatfs(own_fd, &sfs) < 0) return wr_sys(e, errno, "statfs %s", own_path);
    if (sfs.f_type != CGROUP2_SUPER_MAGIC)
        return wr_fail(e, WR_ERR_SYSTEM, ENOTDIR,
                       "warren's cgroup %s is not on a cgroup2 filesystem", own_path);

    if (mkdirat(own_fd, "warren", 0755) < 0 && errno != EEXIST)
        return wr_sys(e, errno, "creating cgroup %s/warren", own_path);
    _cleanup_close_ int fd =
        openat(own_fd, "warren", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "opening cgroup %s/warren", own_path);

    wr_cgroups *c = calloc(1, sizeof *c);
    size_t sz = strlen(own_path) + sizeof "/warren";
    char *path = malloc(sz);
    if (!c || !path) {
        free(c);
        free(path);
        return wr_sys(e, ENOMEM, "opening cgroup %s/warren", own_path);
    }
    snprintf(path, sz, "%s/warren", streq(own_path, "/") ? "" : own_path);
    c->path = path;
    c->dir_fd = TAKE_FD(fd);
    c->own_fd = TAKE_FD(own_fd);

    /* The limits' backend: the controllers in the cgroup2 hierarchy if
     * warren's group can have them, else the v1 hierarchies beside it. */
    if (wr_cg2_available(c->own_fd))
        c->backend = WR_CG_V2;
    else {
        r = wr_cg1_discover(c, mountinfo, proc_cgroup, e);
        if (r < 0) {
            wr_cgroups_close(c);
            return r;
        }
        c->backend = r > 0 ? WR_CG_HYBRID : WR_CG_NONE;
    }
    *ret = c;
    return 0;
}

static void cache_clear(wr_cg_tenant *ct);

void wr_cgroups_close(wr_cgroups *c) {
    if (!c) return;
    for (size_t i = 0; i < WR_CG_CACHE_MAX; i++)
        cache_clear(&c->cache[i]);
    if (c->dir_fd >= 0) close(c->dir_fd);
    if (c->own_fd >= 0) close(c->own_fd);
    wr_cg1_close(c);
    free(c->path);
    free(c);
}

const char *wr_cgroups_backend(const wr_cgroups *c) {
    return c->backend == WR_CG_V2 ? "v2" : c->backend == WR_CG_HYBRID ? "hybrid" : "none";
}

const char *wr_cgroups_path(const wr_cgroups *c) {
    return c->path;
}

/* --- names -------------------------------------------------------------------- */

/* A tenant or run name becomes one directory name in cgroupfs: one plain
 * path component, which also cannot be a name the kernel reserves for its
 * own files ("cgroup.*"). */
static int check_name(const char *what, const char *name, wr_err *e) {
    if (!name || !*name) return wr_invalid(e, "%s name is empty", what);
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f)
            return wr_invalid(e, "%s name contains a control character (byte %zu)", what, i);
    }
    if (n > NAME_MAX) return wr_invalid(e, "%s name is longer than %d bytes", what, NAME_MAX);
    if (streq(name, ".") || streq(name, ".."))
        return wr_invalid(e, "%s name \"%s\" is not allowed", what, name);
    if (strchr(name, '/')) return wr_invalid(e, "%s name \"%s\" contains '/'", what, name);
    if (strncmp(name, "cgroup.", 7) == 0)
        return wr_invalid(e, "%s name \"%s\" is reserved for the kernel's cgroup files", what,
                          name);
    return 0;
}

int wr_cg_check_name(const char *what, const char *name, wr_err *e) {
    return check_name(what, name, e);
}

static int open_dir_at(int dirfd, const char *name) {
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* --- the tenants this handle knows (cgroup-internal.h) ------------------------------ */

static void cache_clear(wr_cg_tenant *ct) {
    if (ct->name[0]) {
        if (ct->spare[0]) {
            /* Empty, and no run's: the handle forgets it, so it goes. */
            close(ct->spare_fd);
            if (ct->fd >= 0) (void)unlinkat(ct->fd, ct->spare, AT_REMOVEDIR);
        }
        if (ct->fd >= 0) close(ct->fd);
        for (int i = 0; i < ct->ntasks; i++)
            close(ct->tasks[i]);
    }
    *ct = (wr_cg_tenant){.fd = -1, .ntasks = -1};
}

static wr_cg_tenant *cache_find(wr_cgroups *c, const char *tenant) {
    for (size_t i = 0; i < WR_CG_CACHE_MAX; i++)
        if (c->cache[i].name[0] && streq(c->cache[i].name, tenant)) {
            c->cache[i].used = ++c->clock;
            return &c->cache[i];
        }
    return NULL;
}

/* The tenant's entry if its cgroup2 group is still the live one; a group
 * removed under the handle is forgotten. */
static wr_cg_tenant *cache_live(wr_cgroups *c, const char *tenant) {
    wr_cg_tenant *ct = cache_find(c, tenant);
    if (!ct || faccessat(ct->fd, "cgroup.procs", F_OK, 0) == 0) return ct;
    cache_clear(ct);
    return NULL;
}

/* Remembers the tenant's group (already made and limited), taking its open
 * fd and the fds of its v1 groups' `tasks` (ntasks -1: none opened), in the
 * slot used longest ago. */
static void cache_put(wr_cgroups *c, const char *tenant, int fd, const int tasks[], int ntasks) {
    /* What the handle knew of the tenant is replaced: this is newer. */
    wr_cg_tenant *ct = cache_find(c, tenant);
    if (!ct) {
        ct = &c->cache[0];
        for (size_t i = 1; i < WR_CG_CACHE_MAX; i++)
            if (c->cache[i].used < ct->used) ct = &c->cache[i];
    }
    cache_clear(ct);
    snprintf(ct->name, sizeof ct->name, "%s", tenant);
    ct->fd = fd;
    for (int i = 0; i < ntasks; i++)
        ct->tasks[i] = tasks[i];
    ct->ntasks = ntasks;
    ct->used = ++c->clock;
}

/* --- runs ---------------------------------------------------------------------- */

int wr_cgroup_run_create(wr_cgroups *c, const char *tenant, const char *run, wr_err *e) {
    /* check_name refuses NULL too; saying it here lets the compiler see it
     * (UBSan's nonnull checks otherwise make it warn about the formats). */
    if (!tenant || !run) return wr_invalid(e, "a run's cgroup needs a tenant and a run name");
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    r = check_name("run", run, e);
    if (r < 0) return r;

    /* The tenant's group as the handle knows it (wr_cgroup_tenant_limit,
     * just before, checked it is still there). */
    wr_cg_tenant *ct = cache_find(c, tenant);
    if (ct) {
        if (mkdirat(ct->fd, run, 0755) == 0) {
            int fd = open_dir_at(ct->fd, run);
            if (fd >= 0) return fd;
            r = wr_sys(e, errno, "opening cgroup %s/%s/%s", c->path, tenant, run);
            (void)unlinkat(ct->fd, run, AT_REMOVEDIR);
            return r;
        }
        if (errno == EEXIST)
            return wr_exists(e, "run %s of tenant %s has a cgroup already (%s/%s/%s)", run,
                             tenant, c->path, tenant, run);
        if (errno != ENOENT) return wr_sys(e, errno, "creating cgroup %s/%s/%s", c->path, tenant, run);
        cache_clear(ct); /* removed meanwhile: the slow way below makes it again */
    }

    bool made_tenant = mkdirat(c->dir_fd, tenant, 0755) == 0;
    if (!made_tenant && errno != EEXIST)
        return wr_sys(e, errno, "creating cgroup %s/%s", c->path, tenant);
    _cleanup_close_ int tfd = open_dir_at(c->dir_fd, tenant);
    if (tfd < 0) {
        r = wr_sys(e, errno, "opening cgroup %s/%s", c->path, tenant);
        goto undo_tenant;
    }
    if (mkdirat(tfd, run, 0755) < 0) {
        if (errno == EEXIST)
            r = wr_exists(e, "run %s of tenant %s has a cgroup already (%s/%s/%s)", run, tenant,
                          c->path, tenant, run);
        else
            r = wr_sys(e, errno, "creating cgroup %s/%s/%s", c->path, tenant, run);
        goto undo_tenant;
    }
    int fd = open_dir_at(tfd, run);
    if (fd < 0) {
        r = wr_sys(e, errno, "opening cgroup %s/%s/%s", c->path, tenant, run);
        (void)unlinkat(tfd, run, AT_REMOVEDIR);
        goto undo_tenant;
    }
    return fd;

undo_tenant:
    /* Fails harmlessly (EBUSY) when another run appeared in it meanwhile. */
    if (made_tenant) (void)unlinkat(c->dir_fd, tenant, AT_REMOVEDIR);
    return r;
}

/* --- a run group kept for the next run -------------------------------------------- */

int wr_cgroup_run_take(wr_cgroups *c, const char *tenant, char run[WR_CGROUP_RUN_MAX],
                       uint64_t *ret_usec, wr_err *e) {
    *ret_usec = 0;
    wr_cg_tenant *ct = tenant ? cache_find(c, tenant) : NULL;
    if (ct && ct->spare[0]) {
        int fd = ct->spare_fd;
        char name[WR_CGROUP_RUN_MAX];
        snprintf(name, sizeof name, "%s", ct->spare);
        uint64_t usec = ct->spare_usec;
        ct->spare[0] = '\0';
        ct->spare_fd = -1;
        /* Gone if the tenant's runs were killed meanwhile, by this warren or
         * another (wr_cgroup_tenant_kill removes the empty groups it killed). */
        if (faccessat(fd, "cgroup.procs", F_OK, 0) == 0) {
            snprintf(run, WR_CGROUP_RUN_MAX, "%s", name);
            *ret_usec = usec;
            return fd;
        }
        close(fd);
        (void)unlinkat(ct->fd, name, AT_REMOVEDIR);
    }
    return wr_cgroup_run_create(c, tenant, run, e);
}

/* Whether the group open at fd has no process and is not frozen. */
static bool idle(int fd) {
    char buf[128];
    if (wr_cg_read(fd, "cgroup.events", buf, sizeof buf) < 0) return false;
    return strstr(buf, "populated 0") && strstr(buf, "frozen 0");
}

int wr_cgroup_run_release(wr_cgroups *c, const char *tenant, const char *run, int fd,
                          uint64_t usec, wr_err *e) {
    wr_cg_tenant *ct = tenant ? cache_find(c, tenant) : NULL;
    if (ct && !ct->spare[0] && run && strlen(run) < sizeof ct->spare && idle(fd)) {
        ct->spare_fd = fd;
        ct->spare_usec = usec;
        snprintf(ct->spare, sizeof ct->spare, "%s", run);
        return 1;
    }
    return wr_cgroup_run_remove(c, tenant, run, e);
}

/* --- cgroup.events ---------------------------------------------------------------- */

/* Reads "populated" from the open cgroup.events fd. Reading also arms poll()
 * for the next change. */
static int read_populated(int fd, bool *ret) {
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0) return -errno;
    buf[n] = '\0';
    for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "populated ", 10) != 0) continue;
        if (p[10] != '0' && p[10] != '1') return -EBADMSG;
        *ret = p[10] == '1';
        return 0;
    }
    return -EBADMSG;
}

static int open_events(int dirfd, const char *where, wr_err *e) {
    int fd = openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "opening %s/cgroup.events", where);
    return fd;
}

int wr_cgroup_populated(int dirfd, bool *ret, wr_err *e) {
    char where[PATH_MAX];
    _cleanup_close_ int fd = openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return wr_sys(e, errno, "opening %s/cgroup.events", fd_name(dirfd, where, sizeof where));
    int r = read_populated(fd, ret);
    if (r < 0)
        return wr_sys(e, -r, "reading %s/cgroup.events", fd_name(dirfd, where, sizeof where));
    return 0;
}

/* Waits until the cgroup whose cgroup.events is open at `events` is empty or
 * the deadline passes; *emptied tells which. */
static int wait_empty(int events, int64_t deadline, bool *emptied, const char *where, wr_err *e) {
    for (;;) {
        bool pop;
        int r = read_populated(events, &pop);
        if (r < 0) return wr_sys(e, -r, "reading %s/cgroup.events", where);
        if (!pop) {
            *emptied = true;
            return 0;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            *emptied = false;
            return 0;
        }
        struct pollfd pfd = {.fd = events, .events = POLLPRI};
        if (poll(&pfd, 1, (int)(left < POLL_SLICE_MS ? left : POLL_SLICE_MS)) < 0 && errno != EINTR)
            return wr_sys(e, errno, "waiting on %s/cgroup.events", where);
    }
}

/* --- killing without cgroup.kill -------------------------------------------------- */

typedef struct pid_list {
    pid_t *v;
    size_t n, cap;
} pid_list;

static int cmp_pid(const void *a, const void *b) {
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* Reads the cgroup.procs of dirfd into l (sorted). */
static int read_procs(int dirfd, pid_list *l) {
    l->n = 0;
    _cleanup_close_ int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    _cleanup_fclose_ FILE *f = fdopen(fd, "re");
    if (!f) return -errno;
    fd = -1;
    long v;
    while (fscanf(f, "%ld", &v) == 1) {
        if (v <= 0 || v > INT32_MAX) continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 64;
            pid_t *nv = realloc(l->v, cap * sizeof *nv);
            if (!nv) return -ENOMEM;
            l->v = nv;
            l->cap = cap;
        }
        l->v[l->n++] = (pid_t)v;
    }
    if (ferror(f)) return -EIO;
    if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, cmp_pid);
    return 0;
}

/* One sweep over the cgroup at dirfd and, to `depth` levels, its
 * descendants: SIGKILL to every process still listed after its pidfd was
 * taken. */
static int sweep(int dirfd, int depth, const char *where, wr_err *e) {
    pid_list first = {0}, second = {0};
    int *pidfds = NULL;
    int r = read_procs(dirfd, &first);
    if (r < 0) {
        wr_sys(e, -r, "reading %s/cgroup.procs", where);
        goto out;
    }
    if (first.n > 0) {
        pidfds = malloc(first.n * sizeof *pidfds);
        if (!pidfds) {
            r = wr_sys(e, ENOMEM, "killing the processes of %s", where);
            goto out;
        }
        for (size_t i = 0; i < first.n; i++) {
            pidfds[i] = (int)syscall(SYS_pidfd_open, first.v[i], 0);
            if (pidfds[i] < 0 && errno != ESRCH) {
                r = wr_sys(e, errno, "pidfd_open of process %d in %s", (int)first.v[i], where);
                for (size_t j = 0; j < i; j++)
                    if (pidfds[j] >= 0) close(pidfds[j]);
                goto out;
            }
        }
        r = read_procs(dirfd, &second);
        for (size_t i = 0; i < first.n; i++) {
            if (pidfds[i] < 0) continue;
            if (r == 0 && second.n > 0 &&
                bsearch(&first.v[i], second.v, second.n, sizeof *second.v, cmp_pid))
                (void)syscall(SYS_pidfd_send_signal, pidfds[i], SIGKILL, NULL, 0);
            close(pidfds[i]);
        }
        if (r < 0) {
            wr_sys(e, -r, "reading %s/cgroup.procs", where);
            goto out;
        }
    }
    if (depth > 0) {
        int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            r = wr_sys(e, errno, "listing %s", where);
            goto out;
        }
        _cleanup_(closedirp) DIR *d = fdopendir(dfd);
        if (!d) {
            r = wr_sys(e, errno, "listing %s", where);
            close(dfd);
            goto out;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
            _cleanup_close_ int cfd = open_dir_at(dfd, de->d_name);
            if (cfd < 0) continue; /* removed meanwhile */
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", where, de->d_name);
            r = sweep(cfd, depth - 1, sub, e);
            if (r < 0) goto out;
        }
    }
    r = 0;
out:
    free(first.v);
    free(second.v);
    free(pidfds);
    return r;
}

int wr_cgroup_kill(int dirfd, wr_err *e) {
    char where[PATH_MAX];
    fd_name(dirfd, where, sizeof where);
    int64_t deadline = now_ms() + KILL_DEADLINE_MS;
    _cleanup_close_ int events = open_events(dirfd, where, e);
    if (events < 0) return events;

    bool fallback = force_fallback;
    if (!fallback) {
        _cleanup_close_ int fd = openat(dirfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT) return wr_sys(e, errno, "opening %s/cgroup.kill", where);
        if (fd < 0)
            fallback = true; /* before Linux 5.14 */
        else if ((errno = 0, write(fd, "1", 1)) != 1)
            return wr_sys(e, errno ? errno : EIO, "writing %s/cgroup.kill", where);
    }

    bool emptied = false;
    int r;
    if (!fallback) {
        r = wait_empty(events, deadline, &emptied, where, e);
        if (r < 0) return r;
    } else {
        for (int64_t pause = 1;; pause = pause < 64 ? pause * 2 : pause) {
            r = sweep(dirfd, NEST_DEPTH_MAX, where, e);
            if (r < 0) return r;
            int64_t until = now_ms() + pause;
            r = wait_empty(events, until < deadline ? until : deadline, &emptied, where, e);
            if (r < 0) return r;
            if (emptied || now_ms() >= deadline) break;
        }
    }
    if (!emptied)
        return wr_fail(e, WR_ERR_BUSY, EBUSY,
                       "cgroup %s still has processes %d s after they were killed", where,
                       KILL_DEADLINE_MS / 1000);
    return 0;
}

/* --- removal ----------------------------------------------------------------------- */

/* Removes the cgroup `name` in dirfd and any cgroups below it (all must be
 * empty). Missing is fine. */
static int remove_cgroup(int dirfd, const char *name, const char *where, int depth, wr_err *e) {
    if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY) return wr_sys(e, errno, "removing cgroup %s", where);

    /* Busy: it has processes, or cgroups below it. */
    _cleanup_close_ int fd = open_dir_at(dirfd, name);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return wr_sys(e, errno, "opening cgroup %s", where);
    }
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return wr_sys(e, errno, "listing cgroup %s", where);
    _cleanup_(closedirp) DIR *d = fdopendir(dfd);
    if (!d) {
        int r = wr_sys(e, errno, "listing cgroup %s", where);
        close(dfd);
        return r;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", where, de->d_name);
        if (depth >= NEST_DEPTH_MAX)
            return wr_fail(e, WR_ERR_BUSY, EBUSY,
                           "cgroup %s has cgroups nested more than %d levels deep", sub,
                           NEST_DEPTH_MAX);
        int r = remove_cgroup(fd, de->d_name, sub, depth + 1, e);
        if (r < 0) return r;
    }
    if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
    if (errno == EBUSY)
        return wr_fail(e, WR_ERR_BUSY, EBUSY, "cgroup %s still has processes: kill them first",
                       where);
    return wr_sys(e, errno, "removing cgroup %s", where);
}

int wr_cgroup_run_remove(wr_cgroups *c, const char *tenant, const char *run, wr_err *e) {
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    r = check_name("run", run, e);
    if (r < 0) return r;
    char where[PATH_MAX];
    snprintf(where, sizeof where, "%s/%s/%s", c->path, tenant, run);
    /* A known group that was removed meanwhile took its runs' with it:
     * removing from its fd then finds nothing (ENOENT), which is fine. */
    wr_cg_tenant *ct = cache_find(c, tenant);
    if (ct) return remove_cgroup(ct->fd, run, where, 0, e);
    _cleanup_close_ int tfd = open_dir_at(c->dir_fd, tenant);
    if (tfd < 0) {
        if (errno == ENOENT) return 0;
        return wr_sys(e, errno, "opening cgroup %s/%s", c->path, tenant);
    }
    return remove_cgroup(tfd, run, where, 0, e);
}

int wr_cgroup_tenant_destroy(wr_cgroups *c, const char *tenant, wr_err *e) {
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    wr_cg_tenant *ct = cache_find(c, tenant);
    if (ct) cache_clear(ct);
    _cleanup_close_ int tfd = open_dir_at(c->dir_fd, tenant);
    if (tfd < 0) {
        if (errno == ENOENT) return wr_cg1_tenant_remove(c, tenant, e);
        return wr_sys(e, errno, "opening cgroup %s/%s", c->path, tenant);
    }
    /* Killing the tenant's cgroup kills every run below it. */
    r = wr_cgroup_kill(tfd, e);
    if (r < 0) return r;
    char where[PATH_MAX];
    snprintf(where, sizeof where, "%s/%s", c->path, tenant);
    r = remove_cgroup(c->dir_fd, tenant, where, 0, e);
    if (r < 0) return r;
    return wr_cg1_tenant_remove(c, tenant, e);
}

#define REAP_INTERVAL_MS 1000

int wr_cgroup_reap_runs_due(wr_cgroups *c, const char *tenant,
                            bool (*stale)(const char *run, void *userdata), void *userdata,
                            wr_err *e) {
    int64_t now = now_ms();
    wr_cg_tenant *ct = cache_find(c, tenant);
    if (ct && ct->reaped_ms > 0 && now - ct->reaped_ms < REAP_INTERVAL_MS) return 0;
    int r = wr_cgroup_reap_runs(c, tenant, stale, userdata, e);
    if (r >= 0 && (ct = cache_find(c, tenant))) ct->reaped_ms = now;
    return r;
}

int wr_cgroup_reap_runs(wr_cgroups *c, const char *tenant,
                        bool (*stale)(const char *run, void *userdata), void *userdata,
                        wr_err *e) {
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    int tfd = open_dir_at(c->dir_fd, tenant);
    if (tfd < 0) return errno == ENOENT ? 0 : wr_sys(e, errno, "opening cgroup %s/%s", c->path, tenant);
    DIR *d = fdopendir(tfd);
    if (!d) {
        close(tfd);
        return wr_sys(e, errno, "reading cgroup %s/%s", c->path, tenant);
    }
    int reaped = 0;
    for (struct dirent *de; r >= 0 && (de = readdir(d));) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.' || !stale(de->d_name, userdata)) continue;
        _cleanup_close_ int rfd = open_dir_at(dirfd(d), de->d_name);
        if (rfd < 0) continue; /* gone meanwhile */
        char where[PATH_MAX];
        snprintf(where, sizeof where, "%s/%s/%s", c->path, tenant, de->d_name);
        r = wr_cgroup_kill(rfd, e);
        if (r == -ENOENT) {
            /* Removed meanwhile: another warren sharing the state reaped it
             * too (two that start together find the same orphans). */
            if (e) wr_err_clear(e);
            r = 0;
            continue;
        }
        if (r >= 0 && (r = remove_cgroup(dirfd(d), de->d_name, where, 0, e)) >= 0) reaped++;
    }
    closedir(d);
    return r < 0 ? r : reaped;
}

/* --- small files ------------------------------------------------------------------ */

int wr_cg_write(int dirfd, const char *file, const char *value) {
    int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t n = strlen(value);
    ssize_t w = write(fd, value, n);
    int r = w == (ssize_t)n ? 0 : w < 0 ? -errno : -EIO;
    close(fd);
    return r;
}

int wr_cg_read(int dirfd, const char *file, char *buf, size_t size) {
    int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int r = -errno;
            close(fd);
            return r;
        }
        if (n == 0 || (got += (size_t)n) == size - 1) break;
    }
    close(fd);
    buf[got] = '\0';
    return 0;
}

int wr_cg_read_u64(int dirfd, const char *file, uint64_t *ret) {
    char buf[64];
    int r = wr_cg_read(dirfd, file, buf, sizeof buf);
    if (r < 0) return r;
    if (buf[0] < '0' || buf[0] > '9') return -EBADMSG;
    *ret = strtoull(buf, NULL, 10);
    return 0;
}

int wr_cg_read_key(int dirfd, const char *file, const char *key, uint64_t *ret) {
    char buf[4096];
    int r = wr_cg_read(dirfd, file, buf, sizeof buf);
    if (r < 0) return r;
    size_t kl = strlen(key);
    for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == ' ') {
            *ret = strtoull(p + kl + 1, NULL, 10);
            return 0;
        }
    return -ENOENT;
}

uint64_t wr_cgroup_cpu_usec(int dirfd) {
    uint64_t v = 0;
    return wr_cg_read_key(dirfd, "cpu.stat", "usage_usec", &v) < 0 ? 0 : v;
}

/* --- limits, attach, freeze, figures ---------------------------------------------- */

static int tenant_limit(wr_cgroups *c, const char *tenant, const wr_quota *q, bool force,
                        int *tfd, int tasks[], int *ntasks, wr_err *e);

int wr_cgroup_tenant_limit(wr_cgroups *c, const char *tenant, const wr_quota *q, bool force,
                           wr_err *e) {
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    /* A group this handle made or found before and still there has its
     * limits: they are written when it is made and by every change since. */
    if (!force && cache_live(c, tenant)) return 0;
    int tfd = -1, tasks[WR_V1_HIER_MAX], ntasks = -1;
    r = tenant_limit(c, tenant, q, force, &tfd, tasks, &ntasks, e);
    if (r < 0) {
        if (tfd >= 0) close(tfd);
        for (int i = 0; i < ntasks; i++)
            close(tasks[i]);
        return r;
    }
    cache_put(c, tenant, tfd, tasks, ntasks);
    return 0;
}

/* Makes the tenant's groups (opening the v1 ones' `tasks` on the way, for
 * the cache) and writes the limits into them if made or forced. */
static int tenant_limit(wr_cgroups *c, const char *tenant, const wr_quota *q, bool force,
                        int *tfd, int tasks[], int *ntasks, wr_err *e) {
    int r;
    bool made = false;
    if (c->backend == WR_CG_V2 && (r = wr_cg2_enable(c, e)) < 0) return r;
    /* Opened first: it is made only by a tenant's first run. */
    if ((*tfd = open_dir_at(c->dir_fd, tenant)) < 0 && errno == ENOENT) {
        if (mkdirat(c->dir_fd, tenant, 0755) == 0)
            made = true;
        else if (errno != EEXIST)
            return wr_sys(e, errno, "creating cgroup %s/%s", c->path, tenant);
        *tfd = open_dir_at(c->dir_fd, tenant);
    }
    if (*tfd < 0) return wr_sys(e, errno, "opening cgroup %s/%s", c->path, tenant);
    if (c->backend == WR_CG_HYBRID) {
        if ((r = wr_cg1_tenant_make(c, tenant, &made, tasks, e)) < 0) return r;
        *ntasks = r;
    }
    if (!made && !force) return 0;
    if (c->backend == WR_CG_V2) {
        char where[PATH_MAX];
        snprintf(where, sizeof where, "%s/%s", c->path, tenant);
        return wr_cg2_limit(c->dir_fd, *tfd, where, tenant, q, e);
    }
    if (c->backend == WR_CG_HYBRID) return wr_cg1_limit(c, tenant, q, e);
    if (wr_quota_limited(q->memory) || wr_quota_limited(q->cpu_milli) ||
        wr_quota_limited(q->pids) || wr_quota_limited(q->cpu_weight))
        return wr_fail(e, WR_ERR_SYSTEM, ENOTSUP,
                       "this host has no cgroup controllers warren can use (memory, cpu, pids "
                       "in cgroup v2 below %s, or v1 hierarchies): memory, cpu and pids quotas "
                       "cannot be enforced",
                       c->path);
    return 0;
}

bool wr_cgroup_unplaced_cpus(wr_cgroups *c, const cpu_set_t *from, cpu_set_t *ret) {
    wr_cpumask f = {{0}}, u;
    for (unsigned cpu = 0; cpu < WR_CPUS_MAX && cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, from)) f.bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
    bool some = c->backend == WR_CG_V2       ? wr_cg2_unplaced(c->dir_fd, &f, &u)
                : c->backend == WR_CG_HYBRID ? wr_cg1_unplaced(c, &f, &u)
                                             : false;
    *ret = *from;
    if (!some) return false;
    CPU_ZERO(ret);
    for (unsigned cpu = 0; cpu < WR_CPUS_MAX && cpu < CPU_SETSIZE; cpu++)
        if (wr_cpus_has(&u, cpu)) CPU_SET(cpu, ret);
    return true;
}

int wr_cgroup_attach_fds(wr_cgroups *c, const char *tenant, int fds[], size_t max, wr_err *e) {
    if (c->backend != WR_CG_HYBRID) return 0;
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    wr_cg_tenant *ct = cache_find(c, tenant);
    if (!ct) return wr_cg1_open_procs(c, tenant, fds, max, e);
    /* Opened once per handle; each run gets its own copies to close. */
    if (ct->ntasks < 0) {
        if ((r = wr_cg1_open_procs(c, tenant, ct->tasks, ELEMENTSOF(ct->tasks), e)) < 0) return r;
        ct->ntasks = r;
    }
    size_t n = 0;
    for (; n < (size_t)ct->ntasks && n < max; n++)
        if ((fds[n] = fcntl(ct->tasks[n], F_DUPFD_CLOEXEC, 3)) < 0) {
            r = wr_sys(e, errno, "duplicating the fd of a v1 cgroup's tasks of tenant %s", tenant);
            while (n > 0)
                close(fds[--n]);
            return r;
        }
    return (int)n;
}

int wr_cgroup_run_freeze(wr_cgroups *c, const char *tenant, const char *run, bool freeze,
                         wr_err *e) {
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    if ((r = check_name("run", run, e)) < 0) return r;
    char where[PATH_MAX];
    snprintf(where, sizeof where, "%s/%s/%s", c->path, tenant, run);
    _cleanup_close_ int tfd = open_dir_at(c->dir_fd, tenant);
    _cleanup_close_ int fd = tfd < 0 ? -1 : open_dir_at(tfd, run);
    if (fd < 0) return wr_not_found(e, "run %s of tenant %s has no cgroup (%s)", run, tenant, where);
    return wr_cg2_freeze(fd, freeze, where, e);
}

int wr_cgroup_freeze(wr_cgroups *c, const char *tenant, bool freeze, wr_err *e) {
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    char where[PATH_MAX];
    snprintf(where, sizeof where, "%s/%s", c->path, tenant);
    /* A tenant with no group yet has nothing to freeze; making it empty and
     * frozen keeps the promise for a run that starts meanwhile (it starts
     * frozen). Thawing a missing group is nothing to do. */
    if (freeze && mkdirat(c->dir_fd, tenant, 0755) < 0 && errno != EEXIST)
        return wr_sys(e, errno, "creating cgroup %s", where);
    _cleanup_close_ int fd = open_dir_at(c->dir_fd, tenant);
    if (fd < 0) return errno == ENOENT ? 0 : wr_sys(e, errno, "opening cgroup %s", where);
    return wr_cg2_freeze(fd, freeze, where, e);
}

int wr_cgroup_tenant_stats(wr_cgroups *c, const char *tenant, wr_cgroup_stats *ret, wr_err *e) {
    int r = check_name("tenant", tenant, e);
    if (r < 0) return r;
    wr_cgroup_stats st = {0};
    _cleanup_close_ int fd = open_dir_at(c->dir_fd, tenant);
    if (fd >= 0) {
        wr_cg2_stats(fd, c->backend == WR_CG_V2, &st);
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d && dfd >= 0) close(dfd);
        for (struct dirent *de; d && (de = readdir(d));)
            if (de->d_type == DT_DIR && !strncmp(de->d_name, "run-", 4)) st.runs++;
        if (d) closedir(d);
    }
    if (c->backend == WR_CG_HYBRID) {
        uint64_t v2_cpu = st.cpu_usec;
        if ((r = wr_cg1_stats(c, tenant, &st, e)) < 0) return r;
        /* A co-mounted cpuacct counts from when the tenant's v1 group was
         * made, cgroup2 from its own group's: take the larger. */
        if (v2_cpu > st.cpu_usec) st.cpu_usec = v2_cpu;
    }
    *ret = st;
    return 0;
}

/* --- on the warren handle ----------------------------------------------------------- */

int wr_cgroup_tenant_freeze(warren *w, const wr_tenant *t, bool freeze, wr_err *e) {
    int r = wr_ensure_cgroups(w, e);
    if (r < 0) return r;
    return wr_cgroup_freeze(w->cgroups, t->linux_username, freeze, e);
}

int wr_cgroup_tenant_kill(warren *w, const wr_tenant *t, wr_err *e) {
    int r = wr_ensure_cgroups(w, e);
    if (r < 0) return r;
    wr_cgroups *c = w->cgroups;
    if ((r = check_name("tenant", t->linux_username, e)) < 0) return r;
    _cleanup_close_ int tfd = open_dir_at(c->dir_fd, t->linux_username);
    if (tfd < 0)
        return errno == ENOENT ? 0
                               : wr_sys(e, errno, "opening cgroup %s/%s", c->path,
                                        t->linux_username);
    /* A frozen group's processes die too: SIGKILL is delivered to frozen
     * tasks. Thaw anyway, so the group is usable for the next run. */
    if ((r = wr_cgroup_kill(tfd, e)) < 0) return r;
    (void)wr_cg_write(tfd, "cgroup.freeze", "0");
    /* Every group below was killed with it, and a process cloned into a
     * killed group dies at once: the empty ones (kept for a next run, by
     * this warren or another, wr_cgroup_run_take) go now. */
    wr_cg_tenant *ct = cache_find(c, t->linux_username);
    if (ct && ct->spare[0]) {
        close(ct->spare_fd);
        ct->spare_fd = -1;
        ct->spare[0] = '\0';
    }
    int dfd = openat(tfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    _cleanup_(closedirp) DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d && dfd >= 0) close(dfd);
    for (struct dirent *de; d && (de = readdir(d));)
        if (de->d_type == DT_DIR && de->d_name[0] != '.')
            (void)unlinkat(tfd, de->d_name, AT_REMOVEDIR);
    return 0;
}

int wr_cgroup_tenant_remove(warren *w, const wr_tenant *t, wr_err *e) {
    int r = wr_ensure_cgroups(w, e);
    if (r < 0) return r;
    return wr_cgroup_tenant_destroy(w->cgroups, t->linux_username, e);
}
