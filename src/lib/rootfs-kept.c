/* rootfs-kept.c: kept roots (rootfs.h says what they are and why). */
#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rootfs-internal.h"
#include "util.h"

/* Bumped whenever the plan changes what a root holds: older kept roots then
 * no longer match and are rebuilt. */
#define TEMPLATE_VERSION 2

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

bool wr_rootfs_needs_new_mount_ns(const wr_rootfs *r) {
    return r->template_fd < 0;
}

static uint64_t fnv_stat(uint64_t h, const struct stat *st) {
    uint64_t v[] = {st->st_dev, st->st_ino, st->st_mode, (uint64_t)st->st_mtim.tv_sec,
                    (uint64_t)st->st_mtim.tv_nsec};
    return wr_fnv1a(h, v, sizeof v);
}

static int template_key(const wr_rootfs_spec *s, uint64_t *ret, wr_err *e) {
    struct stat st;
    uint64_t h = WR_FNV_OFFSET;
    uint64_t head[] = {TEMPLATE_VERSION, s->uid, s->gid};
    h = wr_fnv1a(h, head, sizeof head);
    static const char *const host[] = {"/etc", "/etc/ssl", "/usr"};
    for (size_t i = 0; i < ELEMENTSOF(host); i++) {
        if (stat(host[i], &st) < 0) {
            if (errno != ENOENT) return wr_sys(e, errno, "rootfs: stat %s", host[i]);
            memset(&st, 0, sizeof st);
        }
        h = fnv_stat(h, &st);
    }
    if (fstat(s->home_fd, &st) < 0) return wr_sys(e, errno, "rootfs: home '%s'", s->home_dir);
    uint64_t home[] = {st.st_dev, st.st_ino};
    h = wr_fnv1a(h, home, sizeof home);
    h = wr_fnv1a(h, s->home_dir, strlen(s->home_dir) + 1);
    h = wr_fnv1a(h, s->username, strlen(s->username) + 1);
    h = wr_fnv1a(h, s->hostname, strlen(s->hostname) + 1);
    *ret = h;
    return 0;
}

static int template_entry(const char *dir, const char *username, uint64_t key, char *out,
                          size_t n, wr_err *e) {
    if ((size_t)snprintf(out, n, "%s/%s-%016llx", dir, username, (unsigned long long)key) >= n)
        return wr_invalid(e, "rootfs: template directory %.64s...: too long", dir);
    return 0;
}

/* An fd on the mount namespace kept at path, or -1 if none is (never made,
 * or the entry outlived a reboot). */
static int template_open(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0 || sf.f_type != NSFS_MAGIC) {
        close(fd);
        return -1;
    }
    return fd;
}

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* Which proc_null entries this kernel lacks, so that each run does not try
 * to mask them in its new proc only to be told ENOENT. The kernel makes them
 * while it boots (timer_stats and sched_debug it no longer makes at all),
 * so a run's proc has exactly those of the host's: looked up once per
 * process, and believed only from a proc that shows the kernel's own
 * entries (one mounted with subset=pid shows none; then every mask is
 * tried, as before). The hardware directories (proc_empty) come and go
 * with modules: always tried. */
_Static_assert(ELEMENTSOF(proc_null) <= 32, "proc_null_absent has a bit per entry");
static unsigned proc_null_absent;

static void find_proc_null_absent(void) {
    struct statfs sf;
    struct stat st;
    if (statfs("/proc", &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC ||
        stat("/proc/version", &st) < 0)
        return;
    unsigned absent = 0;
    for (size_t i = 0; i < ELEMENTSOF(proc_null); i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%s", proc_null[i]);
        if (lstat(path, &st) < 0 && errno == ENOENT) absent |= 1u << i;
    }
    proc_null_absent = absent;
}

/* The tenant's kept root if it matches (p->template_fd), else the lock on
 * the directory taken, to build one. Either way, what each run mounts. */
int wr_rootfs_template_lookup(const wr_rootfs_spec *spec, wr_rootfs *p, uint64_t *ret_key,
                           wr_err *e) {
    int r = template_key(spec, ret_key, e);
    if (r < 0) return r;
    uint64_t bytes = spec->tmp_bytes ? spec->tmp_bytes : DEFAULT_TMP_BYTES;
    uint64_t inodes = bytes / 4096 < 1024 ? 1024 : bytes / 4096;
    snprintf(p->tmpfs_opts, sizeof p->tmpfs_opts,
             "size=%" PRIu64 ",nr_inodes=%" PRIu64 ",mode=1777", bytes, inodes);
    /* The group of the host's /dev/tty: no account database scan per run. */
    struct stat tty;
    gid_t gid = stat("/dev/tty", &tty) == 0 ? tty.st_gid : 5;
    snprintf(p->pts_opts, sizeof p->pts_opts, "newinstance,ptmxmode=0666,mode=0620,gid=%u",
             (unsigned)gid);
    p->home_under_tmp = wr_rootfs_path_under(spec->home_dir, "/tmp");
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, find_proc_null_absent);
    p->proc_null_absent = proc_null_absent;
    if (!(p->home_dir = strdup(spec->home_dir))) return wr_sys(e, ENOMEM, "rootfs: plan");

    char path[PATH_MAX];
    if ((r = template_entry(spec->template_dir, spec->username, *ret_key, path, sizeof path, e)) <
        0)
        return r;
    if ((p->template_fd = template_open(path)) >= 0) return 0;

    if (mkdir(spec->template_dir, 0700) < 0 && errno != EEXIST)
        return wr_sys(e, errno, "rootfs: cannot create %s", spec->template_dir);
    p->template_lock = open(spec->template_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (p->template_lock < 0) return wr_sys(e, errno, "rootfs: cannot open %s", spec->template_dir);
    while (flock(p->template_lock, LOCK_EX) < 0)
        if (errno != EINTR) return wr_sys(e, errno, "rootfs: cannot lock %s", spec->template_dir);
    /* Another process may have built it while this one waited. */
    if ((p->template_fd = template_open(path)) >= 0) {
        close(p->template_lock);
        p->template_lock = -1;
    }
    return 0;
}

/* Removes the tenant's kept roots other than `keep` (NULL: all of them). */
static int template_remove_others(const char *dir, const char *username, const char *keep,
                                  wr_err *e) {
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd < 0) return errno == ENOENT ? 0 : wr_sys(e, errno, "rootfs: cannot open %s", dir);
    DIR *d = fdopendir(dfd);
    if (!d) return wr_sys(e, errno, "rootfs: cannot list %s", dir);
    dfd = -1;
    size_t ul = strlen(username);
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (strncmp(n, username, ul) || n[ul] != '-' || strlen(n + ul + 1) != 16) continue;
        if (keep && streq(n, keep)) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, n);
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT && r == 0)
            r = wr_sys(e, errno, "rootfs: cannot unmount %s", path);
        if (unlink(path) < 0 && errno != ENOENT && r == 0)
            r = wr_sys(e, errno, "rootfs: cannot remove %s", path);
    }
    closedir(d);
    return r;
}

int wr_rootfs_template_remove(const char *template_dir, const char *username, wr_err *e) {
    if (!template_dir || !wr_rootfs_name_ok(username, 32, "_-"))
        return wr_invalid(e, "rootfs: username '%s': expected letters, digits, '_' and '-'",
                          username ? username : "");
    return template_remove_others(template_dir, username, NULL, e);
}

/* A helper builds the root in a mount namespace of its own (the plan's ops,
 * pivot_root, old root detached: build_root), then waits while the parent
 * keeps the namespace with a bind mount of /proc/<helper>/ns/mnt on the
 * entry. The helper is a fork of a process that may have threads: system
 * calls only. */
int wr_rootfs_template_build(const wr_rootfs_spec *spec, wr_rootfs *p, uint64_t key, wr_err *e) {
    char path[PATH_MAX];
    int r = template_entry(spec->template_dir, spec->username, key, path, sizeof path, e);
    if (r < 0) return r;
    int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f < 0) return wr_sys(e, errno, "rootfs: cannot create %s", path);
    close(f);
    int ready[2], go[2];
    if (pipe2(ready, O_CLOEXEC) < 0) return wr_sys(e, errno, "rootfs: kept root");
    if (pipe2(go, O_CLOEXEC) < 0) {
        close(ready[0]);
        close(ready[1]);
        return wr_sys(e, errno, "rootfs: kept root");
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        int report[2] = {0, 0}; /* -errno, step */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
            report[0] = -errno;
            report[1] = WR_ROOTFS_PRIVATE;
        } else {
            mode_t saved = umask(0);
            report[0] = wr_rootfs_build_root(p, p->home_tree, &report[1], saved);
        }
        ssize_t n = write(ready[1], report, sizeof report);
        char c;
        n = read(go[0], &c, 1);
        (void)n;
        _exit(0);
    }
    int err = errno;
    close(ready[1]);
    close(go[0]);
    int report[2] = {-EIO, WR_ROOTFS_TEMPLATE};
    if (pid < 0)
        r = wr_sys(e, err, "rootfs: kept root: fork");
    else if (read(ready[0], report, sizeof report) != (ssize_t)sizeof report || report[0] < 0)
        r = wr_sys(e, -report[0], "rootfs: building the kept root of %s failed at '%s'",
                   spec->username, wr_rootfs_step_name(report[1]));
    else {
        char src[64];
        snprintf(src, sizeof src, "/proc/%d/ns/mnt", (int)pid);
        if (mount(src, path, NULL, MS_BIND, NULL) < 0 && mount(src, path, NULL, MS_BIND, NULL) < 0)
            r = wr_sys(e, errno, "rootfs: cannot keep the root at %s", path);
    }
    close(go[1]); /* the helper may go */
    close(ready[0]);
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    if (r < 0) {
        unlink(path);
        return r;
    }
    /* The home's clone now lives in the kept root. */
    close(p->home_tree);
    p->home_tree = -1;
    if ((p->template_fd = template_open(path)) < 0)
        return wr_sys(e, EIO, "rootfs: the kept root at %s did not stay", path);
    const char *name = strrchr(path, '/') + 1;
    template_remove_others(spec->template_dir, spec->username, name, NULL);
    close(p->template_lock);
    p->template_lock = -1;
    return 0;
}

/* The child's side with a kept root: join it, make a private copy, and mount
 * what is the run's own over the copy's empty mount points. System calls only. */
int wr_rootfs_enter_template(const wr_rootfs *r, int *ret_step, mode_t saved_umask) {
    if (setns(r->template_fd, CLONE_NEWNS) < 0 || unshare(CLONE_NEWNS) < 0)
        return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_TEMPLATE, saved_umask);

    /* A home below /tmp would be hidden by the run's own /tmp: take a copy of
     * its mount first, and put it back at the same path on the new /tmp. */
    int home = -1;
    if (r->home_under_tmp &&
        (home = open_tree(AT_FDCWD, r->home_dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) < 0)
        return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_HOME, saved_umask);
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, r->tmpfs_opts) < 0)
        return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_TMP, saved_umask);
    if (home >= 0) {
        char buf[PATH_MAX];
        if (strscpy(buf, sizeof buf, r->home_dir) < 0) {
            errno = ENAMETOOLONG;
            return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_HOME, saved_umask);
        }
        for (char *c = strchr(buf + 1, '/'); c; c = strchr(c + 1, '/')) {
            *c = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_HOME, saved_umask);
            *c = '/';
        }
        if (mkdir(buf, 0755) < 0 ||
            move_mount(home, "", AT_FDCWD, buf, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_HOME, saved_umask);
        close(home);
    }
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, r->pts_opts) < 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, r->tmpfs_opts) < 0)
        return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_DEV, saved_umask);
    /* The child is pid 1 of its own pid namespace: this proc shows it only. */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_PROC, saved_umask);
    char p[64];
    for (size_t i = 0; i < ELEMENTSOF(proc_null); i++) {
        if (r->proc_null_absent & (1u << i)) continue;
        snprintf(p, sizeof p, "/proc/%s", proc_null[i]);
        if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0 && errno != ENOENT)
            return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_PROC_MASK, saved_umask);
    }
    for (size_t i = 0; i < ELEMENTSOF(proc_empty); i++) {
        snprintf(p, sizeof p, "/proc/%s", proc_empty[i]);
        if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "mode=0555,size=4k,nr_inodes=2") < 0 &&
            errno != ENOENT)
            return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_PROC_MASK, saved_umask);
    }
    /* Kernel settings, read-only. A bind and a remount: nothing of the run
     * exists yet to see the bind writable in between, and a proc just
     * mounted has nothing mounted below these. */
    for (size_t i = 0; i < ELEMENTSOF(proc_readonly); i++) {
        snprintf(p, sizeof p, "/proc/%s", proc_readonly[i]);
        if (mount(p, p, NULL, MS_BIND, NULL) < 0) {
            if (errno == ENOENT) continue;
            return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_PROC_MASK, saved_umask);
        }
        if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  NULL) < 0)
            return wr_rootfs_enter_fail(ret_step, WR_ROOTFS_PROC_MASK, saved_umask);
    }
    return 0;
}
