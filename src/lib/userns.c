/* User namespaces for non-root runs (userns.h).
 *
 * Who writes the maps: the child, for itself. An unprivileged user may write
 * a one-line map of its own uid (and, once setgroups is denied, of its own
 * gid) into a user namespace it owns, from inside or from the parent. Doing
 * it in the child needs no handshake: the parent would otherwise have to hold
 * the child on a pipe between clone and the write, a round trip on every run,
 * and the child must not take any step before its ids exist anyway (a tmpfs
 * refuses to create files for an unmapped fsuid). A parent-side write only
 * pays off for maps of several ids, which need root or newuidmap; warren
 * without root has exactly one id to map.
 *
 * setgroups is denied first because the kernel asks for it before an
 * unprivileged gid map: otherwise the run could drop a supplementary group
 * that denies it access to a file (a group in a "negative" ACL). The deny is
 * inherited by every user namespace the run makes in turn. The flip side:
 * the caller's own supplementary groups cannot be dropped either; inside they
 * show as the overflow gid, and grant what they grant the caller. */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "raw-syscall.h"
#include "util.h"

/* A sysctl's integer value, or -1 if this kernel has no such file. */
static long sysctl_long(const char *path) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0) return -1;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int wr_userns_prepare(wr_userns *ret, uid_t inside_uid, gid_t inside_gid, wr_err *e) {
    /* Debian's own switch, and the upstream limit: either at 0 makes clone
     * fail with a bare EPERM or ENOSPC, so say which one it is. */
    if (sysctl_long("/proc/sys/kernel/unprivileged_userns_clone") == 0)
        return wr_fail(e, WR_ERR_SYSTEM, EPERM,
                       "this kernel does not let users without root make user namespaces "
                       "(kernel.unprivileged_userns_clone = 0): without root only --level basic "
                       "works");
    if (sysctl_long("/proc/sys/user/max_user_namespaces") == 0)
        return wr_fail(e, WR_ERR_SYSTEM, ENOSPC,
                       "user namespaces are disabled (user.max_user_namespaces = 0): without "
                       "root only --level basic works");
    wr_userns u = {0};
    int n = snprintf(u.uid_map, sizeof u.uid_map, "%u %u 1\n", (unsigned)inside_uid,
                     (unsigned)getuid());
    int m = snprintf(u.gid_map, sizeof u.gid_map, "%u %u 1\n", (unsigned)inside_gid,
                     (unsigned)getgid());
    if (n < 0 || m < 0 || (size_t)n >= sizeof u.uid_map || (size_t)m >= sizeof u.gid_map)
        return wr_invalid(e, "user namespace: ids out of range");
    u.uid_len = (size_t)n;
    u.gid_len = (size_t)m;
    *ret = u;
    return 0;
}

/* Writes the whole of data to a /proc file in one write, as the kernel
 * wants maps (a map is set once, by one write). */
static int write_proc(const char *path, const char *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = write(fd, data, len);
    int r = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
    close(fd);
    return r;
}

int wr_userns_enter(const wr_userns *u) {
    int r = write_proc("/proc/self/setgroups", "deny", 4);
    if (r == 0) r = write_proc("/proc/self/uid_map", u->uid_map, u->uid_len);
    if (r == 0) r = write_proc("/proc/self/gid_map", u->gid_map, u->gid_len);
    return r;
}

int wr_userns_drop_caps(void) {
    /* Raw calls: also made by a contained run's command process, beside the
     * child (raw-syscall.h). */
    long r = RAW(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (r < 0) return (int)r;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {{0}};
    r = RAW(SYS_capset, &hdr, none);
    return r < 0 ? (int)r : 0;
}
