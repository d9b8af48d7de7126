/* Homes and sandboxes.
 *
 * Approach: the users base is opened once from its absolute path; from then on
 * every home, sandboxes/ directory and sandbox is reached from the base fd one
 * component at a time with O_NOFOLLOW, and made or taken over only through
 * wr_mkdir_owned, which chowns the directory it opened, never a path. The
 * path of the base itself is administrator territory, but in root mode each
 * directory on it must still be root's and not writable by others: whoever
 * can rename an entry on that path can swap the base for a directory of their
 * own and read every tenant's name.
 *
 * A new home is filled while it is still root's and 0700, and handed to the
 * tenant last, so there is never a moment when the tenant could plant
 * anything in it before warren is done. */
#include "home.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "fs.h"
#include "util.h"

#define HOME_MODE 0700

static int check_name(const char *name, const char *what, wr_err *e) {
    if (!name || !name[0] || streq(name, ".") || streq(name, "..") || strchr(name, '/') ||
        strlen(name) > NAME_MAX)
        return wr_invalid(e, "%s \"%s\" is not a valid directory name", what, name ? name : "");
    return 0;
}

/* In root mode a directory on the way to the base must be root's and not
 * writable by others (the sticky bit, as on /tmp, keeps root's entries safe). */
static int check_base_parent(int fd, const char *path, bool root_mode, wr_err *e) {
    if (!root_mode) return 0;
    struct stat st;
    if (fstat(fd, &st) < 0) return wr_sys(e, errno, "users base %s: cannot inspect a parent", path);
    if (st.st_uid != 0)
        return wr_unsafe(e, "users base %s: a directory on its path is owned by uid %u, not root",
                         path, (unsigned)st.st_uid);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return wr_unsafe(e, "users base %s: a directory on its path is writable by others", path);
    return 0;
}

/* Steps from `cur` into parent directory `name` of the base, creating it 0755
 * if missing. Links here are the administrator's, but in root mode only
 * root's own links are followed. */
static int open_base_parent(int cur, const char *name, const char *path, bool root_mode,
                            wr_err *e) {
    struct stat st;
    if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)
            return wr_sys(e, errno, "users base %s: cannot inspect %s", path, name);
        if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST)
            return wr_sys(e, errno, "users base %s: cannot create %s", path, name);
        _cleanup_close_ int fd = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return wr_sys(e, errno, "users base %s: cannot open %s", path, name);
        /* The umask must not decide whether others may enter. */
        if (fchmod(fd, 0755) < 0)
            return wr_sys(e, errno, "users base %s: cannot set the mode of %s", path, name);
        return TAKE_FD(fd);
    }
    if (S_ISLNK(st.st_mode) && root_mode && st.st_uid != 0)
        return wr_unsafe(e, "users base %s: %s is a symbolic link owned by uid %u", path, name,
                         (unsigned)st.st_uid);
    /* O_PATH: passing through needs search permission only, not read. */
    int fd = openat(cur, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "users base %s: cannot open %s", path, name);
    return fd;
}

int wr_users_base_open(const char *path, bool root_mode, wr_err *e) {
    if (!path || path[0] != '/')
        return wr_invalid(e, "users base \"%s\" is not an absolute path", path ? path : "");
    if (strlen(path) >= PATH_MAX) return wr_invalid(e, "users base %s is too long", path);
    _cleanup_free_ char *buf = strdup(path);
    if (!buf) return wr_sys(e, ENOMEM, "users base %s", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    char *last = strrchr(buf, '/') + 1;
    if (check_name(last, "users base", NULL) < 0)
        return wr_invalid(e, "users base %s does not end in a directory name", path);

    _cleanup_close_ int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0) return wr_sys(e, errno, "users base %s: cannot open /", path);
    int r = check_base_parent(cur, path, root_mode, e);
    if (r < 0) return r;
    for (char *p = buf + 1; p < last;) {
        char *slash = strchr(p, '/');
        *slash = '\0';
        if (streq(p, "..")) return wr_invalid(e, "users base %s must not contain \"..\"", path);
        if (*p && !streq(p, ".")) {
            int fd = open_base_parent(cur, p, path, root_mode, e);
            if (fd < 0) return fd;
            closep(&cur);
            cur = fd;
            r = check_base_parent(cur, path, root_mode, e);
            if (r < 0) return r;
        }
        p = slash + 1;
    }
    char what[PATH_MAX + 32];
    snprintf(what, sizeof what, "users base %s", path);
    if (root_mode) {
        /* 0711: tenants can reach their own home but not list the others. */
        return wr_mkdir_owned(cur, last, 0711, 0, 0, what, e);
    }
    return wr_mkdir_owned(cur, last, 0700, getuid(), getgid(), what, e);
}

static int make_home_dirs(int homefd, const char *name, uid_t uid, gid_t gid, wr_err *e) {
    static const char *const subdirs[] = {"sandboxes", ".cache"};
    for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
        char what[NAME_MAX + 64];
        snprintf(what, sizeof what, "%s of home %s", subdirs[i], name);
        _cleanup_close_ int fd = wr_mkdir_owned(homefd, subdirs[i], HOME_MODE, uid, gid, what, e);
        if (fd < 0) return fd;
    }
    return 0;
}

int wr_home_fill(int basefd, const char *name, uid_t uid, gid_t gid, wr_err *e) {
    int r = check_name(name, "home", e);
    if (r < 0) return r;
    _cleanup_close_ int fd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return wr_sys(e, errno, "cannot open the new home %s", name);
    /* Root's and 0700 while it is filled (a btrfs subvolume starts 0755). */
    if (fchmod(fd, HOME_MODE) < 0) return wr_sys(e, errno, "cannot set the mode of home %s", name);
    r = make_home_dirs(fd, name, uid, gid, e);
    if (r < 0) return r;
    /* Handed over last: until now only root could enter. */
    if (fchown(fd, uid, gid) < 0)
        return wr_sys(e, errno, "cannot give home %s to %u:%u", name, (unsigned)uid, (unsigned)gid);
    if (fchmod(fd, HOME_MODE) < 0) return wr_sys(e, errno, "cannot set the mode of home %s", name);
    return 0;
}

int wr_home_create(int basefd, const char *name, uid_t uid, gid_t gid, wr_err *e) {
    int r = check_name(name, "home", e);
    if (r < 0) return r;
    if (mkdirat(basefd, name, HOME_MODE) < 0) {
        if (errno == EEXIST) return wr_home_exists(name, e);
        return wr_sys(e, errno, "cannot create home %s", name);
    }
    if ((r = wr_home_fill(basefd, name, uid, gid, e)) < 0) (void)wr_remove_tree(basefd, name, NULL);
    return r;
}

int wr_home_exists(const char *name, wr_err *e) {
    return wr_exists(e,
                     "home %s exists already; a leftover home is not handed to a new "
                     "tenant (remove or rename it first)",
                     name);
}

int wr_home_open(int basefd, const char *name, uid_t uid, wr_err *e) {
    int r = check_name(name, "home", e);
    if (r < 0) return r;
    _cleanup_close_ int fd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return wr_not_found(e, "home %s does not exist", name);
        if (errno == ELOOP || errno == ENOTDIR)
            return wr_unsafe(e, "home %s is not a directory (a link or a file)", name);
        return wr_sys(e, errno, "cannot open home %s", name);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) return wr_sys(e, errno, "cannot inspect home %s", name);
    if (st.st_uid != uid)
        return wr_unsafe(e, "home %s is owned by uid %u, not by its tenant's uid %u", name,
                         (unsigned)st.st_uid, (unsigned)uid);
    /* A home others can read breaks isolation at the basic level. */
    if ((st.st_mode & 07777) != HOME_MODE && fchmod(fd, HOME_MODE) < 0)
        return wr_sys(e, errno, "cannot restore mode 0700 of home %s", name);
    return TAKE_FD(fd);
}

int wr_sandbox_open(int homefd, const char *service, uid_t uid, gid_t gid, wr_err *e) {
    int r = check_name(service, "service", e);
    if (r < 0) return r;
    _cleanup_close_ int sbfd = wr_mkdir_owned(homefd, "sandboxes", HOME_MODE, uid, gid,
                                              "the sandboxes directory of the home", e);
    if (sbfd < 0) return sbfd;
    char what[NAME_MAX + 32];
    snprintf(what, sizeof what, "sandbox sandboxes/%s", service);
    return wr_mkdir_owned(sbfd, service, HOME_MODE, uid, gid, what, e);
}

static void closedirp(DIR **d) {
    if (*d) closedir(*d);
}

static bool is_real_dir(int dfd, const struct dirent *de) {
    if (de->d_type != DT_UNKNOWN) return de->d_type == DT_DIR;
    struct stat st;
    return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int wr_sandbox_count(int homefd, uint64_t *ret, wr_err *e) {
    int fd = openat(homefd, "sandboxes", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* Missing, or replaced by a link or a file: no sandboxes. Counting is
         * read-only, so nothing needs refusing; wr_sandbox_open refuses. */
        if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
            *ret = 0;
            return 0;
        }
        return wr_sys(e, errno, "cannot open the sandboxes directory");
    }
    _cleanup_(closedirp) DIR *d = fdopendir(fd);
    if (!d) {
        int errnum = errno;
        close(fd);
        return wr_sys(e, errnum, "cannot read the sandboxes directory");
    }
    uint64_t n = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) return wr_sys(e, errno, "cannot read the sandboxes directory");
            break;
        }
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
        if (is_real_dir(dirfd(d), de)) n++;
    }
    *ret = n;
    return 0;
}

int wr_home_remove(int basefd, const char *name, wr_err *e) {
    int r = check_name(name, "home", e);
    if (r < 0) return r;
    return wr_remove_tree(basefd, name, e);
}
