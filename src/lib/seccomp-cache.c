/* seccomp-cache.c: the strong level's compiled filter, kept between processes.
 *
 * libseccomp takes ~1.6 ms here to turn the policy into BPF, which every
 * `warren run --level strong` would pay again, for the same program. So the
 * exported instructions are kept in the state directory (root's, 0700) as
 * seccomp-<key>.bpf, where the key covers everything the program depends on:
 * the running binary (its device, inode, size and modification time: a
 * rebuilt or upgraded warren has a new policy), libseccomp's version (its
 * system call table), the kernel (uname) and whether refusals are notified.
 * Any mismatch is a miss: the filter is built as before and stored, by a
 * temporary file renamed into place, so a reader never sees half a program.
 *
 * A cached file is trusted only if it is a regular file of the right size,
 * owned by the user warren runs as and writable by nobody else: whoever could
 * write it could already change warren itself. Entries of other keys older
 * than a week (earlier builds, kernels) are removed when a new one is stored;
 * a binary whose entry went is only one rebuild slower. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "seccomp.h"
#include "util.h"

#define CACHE_MAGIC "WRSCMP01"
#define STALE_SECONDS (7 * 24 * 3600)

typedef struct header {
    char magic[8];
    uint64_t key;
    uint32_t notify;
    uint32_t len; /* instructions that follow */
} header;

static int cache_key(bool notify, uint64_t *ret) {
    struct stat st;
    if (stat("/proc/self/exe", &st) < 0) return -errno;
    struct utsname u;
    if (uname(&u) < 0) return -errno;
    const struct scmp_version *v = seccomp_version();
    uint64_t h = WR_FNV_OFFSET;
    h = wr_fnv1a(h, CACHE_MAGIC, 8);
    uint64_t ids[] = {st.st_dev, st.st_ino, (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                      (uint64_t)st.st_mtim.tv_nsec, notify,
                      v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0};
    h = wr_fnv1a(h, ids, sizeof ids);
    h = wr_fnv1a(h, u.release, strlen(u.release));
    h = wr_fnv1a(h, u.version, strlen(u.version));
    h = wr_fnv1a(h, u.machine, strlen(u.machine));
    *ret = h;
    return 0;
}

static bool read_all(int fd, void *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t k = read(fd, (char *)buf + done, n - done);
        if (k <= 0) return false;
        done += (size_t)k;
    }
    return true;
}

/* The cached program, or -ENOENT (absent, foreign or malformed). */
static int load(const char *path, uint64_t key, bool notify, wr_seccomp **ret, wr_err *e) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -ENOENT;
    struct stat st;
    header h;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022) || (size_t)st.st_size < sizeof h || !read_all(fd, &h, sizeof h))
        return -ENOENT;
    if (memcmp(h.magic, CACHE_MAGIC, 8) || h.key != key || h.notify != notify || h.len == 0 ||
        h.len > BPF_MAXINSNS || (size_t)st.st_size != sizeof h + h.len * sizeof(struct sock_filter))
        return -ENOENT;
    struct sock_filter insns[BPF_MAXINSNS];
    if (!read_all(fd, insns, h.len * sizeof *insns)) return -ENOENT;
    return wr_seccomp_from_program(notify, insns, h.len, ret, e);
}

/* Other keys' entries unused for a week: left by earlier builds or kernels. */
static void prune(const char *state_dir, const char *keep) {
    _cleanup_close_ int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    DIR *d = fdopendir(dfd);
    if (!d) return;
    dfd = -1;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "seccomp-", 8) || streq(de->d_name, keep)) continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime > STALE_SECONDS)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* Stores the program; a failure only costs the next process a rebuild. */
static void store(const char *state_dir, const char *name, const char *path, uint64_t key,
                  const wr_seccomp *f) {
    size_t len;
    bool notify;
    const void *insns = wr_seccomp_program(f, &len, &notify);
    header h = {.key = key, .notify = notify, .len = (uint32_t)len};
    memcpy(h.magic, CACHE_MAGIC, 8);
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= sizeof tmp) return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return;
    size_t bytes = len * sizeof(struct sock_filter);
    bool ok = write(fd, &h, sizeof h) == (ssize_t)sizeof h &&
              write(fd, insns, bytes) == (ssize_t)bytes;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return;
    }
    prune(state_dir, name);
}

int wr_seccomp_cached(const char *state_dir, bool notify, wr_seccomp **ret, wr_err *e) {
    uint64_t key = 0;
    char name[64], path[4200];
    if (cache_key(notify, &key) < 0) return wr_seccomp_build(notify, ret, e);
    snprintf(name, sizeof name, "seccomp-%016llx.bpf", (unsigned long long)key);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", state_dir, name) >= sizeof path)
        return wr_seccomp_build(notify, ret, e);
    int r = load(path, key, notify, ret, e);
    if (r != -ENOENT) return r;
    if ((r = wr_seccomp_build(notify, ret, e)) < 0) return r;
    store(state_dir, name, path, key, *ret);
    return 0;
}
