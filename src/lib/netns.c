/* Tenants' network namespaces (netns.h). A helper child unshares a new
 * network namespace and brings loopback up; the parent bind-mounts the
 * child's /proc/<pid>/ns/net onto the tenant's entry, which keeps the
 * namespace alive after the helper exits. */
#include "netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static int entry_path(const char *state_dir, const char *username, char *out, size_t n, wr_err *e) {
    if (!*username || strchr(username, '/') || username[0] == '.')
        return wr_invalid(e, "account name '%s' cannot name a network namespace", username);
    if ((size_t)snprintf(out, n, "%s/netns/%s", state_dir, username) >= n)
        return wr_invalid(e, "state directory %.64s...: too long for a network namespace path",
                          state_dir);
    return 0;
}

/* An fd on the namespace mounted at path, or -ENOENT if none is mounted there. */
static int open_mounted(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0 || sf.f_type != NSFS_MAGIC) {
        close(fd);
        return -ENOENT;
    }
    return fd;
}

int wr_netns_loopback_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    int r = 0;
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        r = -errno;
    else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) r = -errno;
    }
    close(s);
    return r;
}

static int make(const char *path, wr_err *e) {
    /* The entry is the mount point: an empty file, ours alone. */
    _cleanup_close_ int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f < 0) return wr_sys(e, errno, "cannot create %s", path);
    int go[2], ready[2];
    if (pipe2(go, O_CLOEXEC) < 0) return wr_sys(e, errno, "network namespace");
    if (pipe2(ready, O_CLOEXEC) < 0) {
        close(go[0]);
        close(go[1]);
        return wr_sys(e, errno, "network namespace");
    }
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(go[0]);
        close(go[1]);
        close(ready[0]);
        close(ready[1]);
        return wr_sys(e, err, "network namespace");
    }
    if (pid == 0) {
        /* The helper: new namespace, loopback up, say so, wait to be mounted. */
        close(go[1]);
        close(ready[0]);
        int r = unshare(CLONE_NEWNET) < 0 ? -errno : wr_netns_loopback_up();
        ssize_t n = write(ready[1], &r, sizeof r);
        char c;
        n = read(go[0], &c, 1);
        (void)n;
        _exit(r < 0 ? 1 : 0);
    }
    close(go[0]);
    close(ready[1]);
    int hr = -EIO;
    ssize_t n = read(ready[0], &hr, sizeof hr);
    int r = 0;
    if (n != (ssize_t)sizeof hr || hr < 0) {
        r = wr_sys(e, n == (ssize_t)sizeof hr ? -hr : EIO, "cannot make a network namespace for %s",
                   path);
    } else {
        char src[64];
        snprintf(src, sizeof src, "/proc/%d/ns/net", (int)pid);
        if (mount(src, path, NULL, MS_BIND, NULL) < 0)
            r = wr_sys(e, errno, "cannot keep the network namespace at %s", path);
    }
    close(go[1]); /* the helper may go now */
    close(ready[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    if (r < 0) unlink(path);
    return r;
}

int wr_netns_open(const char *state_dir, const char *username, bool *ret_created, wr_err *e) {
    char dir[4096], path[4096];
    int r = entry_path(state_dir, username, path, sizeof path, e);
    if (r < 0) return r;
    snprintf(dir, sizeof dir, "%s/netns", state_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return wr_sys(e, errno, "cannot create %s", dir);
    int fd = open_mounted(path);
    if (fd >= 0) {
        if (ret_created) *ret_created = false;
        return fd;
    }
    /* Nothing mounted: first run, or the entry outlived a reboot. */
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {}
    if ((r = make(path, e)) < 0) return r;
    fd = open_mounted(path);
    if (fd < 0) return wr_sys(e, -fd, "cannot open the network namespace at %s", path);
    if (ret_created) *ret_created = true;
    return fd;
}

bool wr_netns_exists(const char *state_dir, const char *username) {
    char path[4096];
    if (entry_path(state_dir, username, path, sizeof path, NULL) < 0) return false;
    int fd = open_mounted(path);
    if (fd < 0) return false;
    close(fd);
    return true;
}

int wr_netns_foreach(const char *state_dir, int (*fn)(const char *username, void *userdata),
                     void *userdata, wr_err *e) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/netns", state_dir);
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : wr_sys(e, errno, "cannot list %s", dir);
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d)))
        if (de->d_name[0] != '.') r = fn(de->d_name, userdata);
    closedir(d);
    return r;
}

int wr_netns_remove(const char *state_dir, const char *username, wr_err *e) {
    char path[4096];
    int r = entry_path(state_dir, username, path, sizeof path, e);
    if (r < 0) return r;
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return wr_sys(e, errno, "cannot unmount %s", path);
    if (unlink(path) < 0 && errno != ENOENT) return wr_sys(e, errno, "cannot remove %s", path);
    return 0;
}
