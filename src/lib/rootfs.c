/* rootfs.c: the container level's private root filesystem.
 *
 * Theory of operation
 * -------------------
 * wr_rootfs_plan runs in the parent, which may allocate and read the host's
 * files. It turns the spec into a flat list of operations (make a directory,
 * make an empty file to mount on, make a link, write a file, mount, set mount
 * attributes), each with every string it needs already formatted: paths,
 * mount options, file contents. It looks at the host once, so that the list
 * holds only what exists: which of /bin, /lib64, ... are directories to bind
 * and which are merged-usr links to recreate, which /etc entries are files,
 * directories or links, which device nodes exist. It also clones the home
 * into a detached mount (open_tree) and marks it nosuid,nodev.
 *
 * wr_rootfs_enter (rootfs-enter.c) runs in the child, a raw clone of a
 * possibly threaded parent: it walks the list with plain system calls and
 * allocates nothing.
 * The new root is a tmpfs mounted over /tmp in the child's own, now private,
 * mount namespace; every mount destination is a name warren has just created
 * inside it, so no path the tenant controls is ever resolved while mounting,
 * and nobody else can reach those names (the tmpfs exists only in this
 * namespace, and only root may look into a root process's /proc/<pid>/root).
 * The home is attached from the detached mount by fd, never by its path.
 * Every bind is made the same way: a copy of the source mount (open_tree),
 * its attributes (read-only, nosuid, nodev) set while it is still detached,
 * then attached with move_mount, which does not follow a link at the
 * destination; so no bind is ever visible writable, even for a moment.
 * Then pivot_root, the old root detached, the new root made read-only, and
 * the working directory opened inside the new root without following links.
 *
 * What /etc holds is listed at etc_entries below: nothing else of the host's
 * /etc (shadow, ssh host keys, ld.so.preload, the host's own configuration)
 * is there. A tenant's root is built once and kept (rootfs-kept.c). */
#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs-internal.h"
#include "util.h"

static const char *const step_names[WR_ROOTFS_STEP_MAX] = {
    [WR_ROOTFS_PRIVATE] = "make every mount private",
    [WR_ROOTFS_ROOT] = "mount the new root tmpfs",
    [WR_ROOTFS_SYSTEM] = "bind the system directories read-only",
    [WR_ROOTFS_ETC] = "bind the /etc entries read-only",
    [WR_ROOTFS_TMP] = "mount /tmp",
    [WR_ROOTFS_HOME] = "bind the home",
    [WR_ROOTFS_DEV] = "set up /dev",
    [WR_ROOTFS_PROC] = "mount /proc",
    [WR_ROOTFS_PROC_MASK] = "mask /proc",
    [WR_ROOTFS_FILES] = "write the generated /etc files",
    [WR_ROOTFS_PIVOT] = "pivot_root",
    [WR_ROOTFS_OLD_ROOT] = "detach the old root",
    [WR_ROOTFS_READONLY] = "make the root read-only",
    [WR_ROOTFS_CWD] = "chdir to the working directory",
    [WR_ROOTFS_TEMPLATE] = "join a copy of the tenant's kept root",
    [WR_ROOTFS_JOIN] = "join the run's root",
};

const char *wr_rootfs_step_name(int step) {
    if (step < 0 || step >= WR_ROOTFS_STEP_MAX) return "unknown step";
    return step_names[step];
}

/* --- the plan ---------------------------------------------------------------- */

/* The system directories: /usr must be a directory; the others are bound when
 * they are directories, recreated when they are links (merged /usr), skipped
 * when missing. */
static const char *const system_dirs[] = {"/usr",   "/bin",   "/sbin",  "/lib",
                                          "/lib64", "/lib32", "/libx32"};

/* The /etc entries taken from the host, read-only: directories and files
 * bound, links recreated as links (os-release -> ../usr/lib/os-release).
 * A name with a '/' is one exact path below /etc, the others are patterns
 * matched against /etc's own entries. Checked by tracing /bin/sh -c,
 * python3 -c, gcc (cc1, as, collect2, ld) and node -e: between them they open
 * ld.so.cache, localtime, nsswitch.conf, passwd and ssl/openssl.cnf.
 * Generated instead (etc_generated): passwd and group (root and the tenant),
 * hostname, and hosts (localhost and the run's hostname, so that it resolves;
 * the host's hosts names the host's network). Left out on purpose:
 * ssl/private, resolv.conf (a run's network is loopback-only unless its
 * network mode adds one, and that setup provides it), profile.d, pip.conf,
 * npmrc, gitconfig (the host's settings, maybe its tokens). */
/* clang-format off */
static const char *const etc_entries[] = {
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d",                  /* the dynamic linker */
    "alternatives",                                               /* cc, awk, editor, java */
    "localtime", "timezone",                                      /* time zone */
    "ssl/certs", "ssl/openssl.cnf", "ca-certificates*",           /* TLS trust, OpenSSL */
    "nsswitch.conf", "host.conf", "gai.conf",                     /* glibc's NSS, resolver */
    "protocols", "services", "networks",                          /* getprotobyname & co. */
    "mime.types", "os-release", "debian_version",                 /* mimetypes, platform */
    "python3*", "perl", "java-*",                                 /* interpreters' config */
    "inputrc", "profile", "bash.bashrc", "environment", "shells", /* shells */
    "locale.*", "mtab", "terminfo",                               /* locales, df, ncurses */
};
/* clang-format on */

/* What the generated files replace: never taken from the host even if a
 * pattern above matched them. */
static const char *const etc_generated[] = {"passwd", "group", "hostname", "hosts"};

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

static const char *const dev_links[][2] = {
    {"ptmx", "pts/ptmx"},          {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
};



void wr_rootfs_free(wr_rootfs *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->ops[i].path);
        free(r->ops[i].src);
        free(r->ops[i].data);
    }
    free(r->ops);
    if (r->home_tree >= 0) close(r->home_tree);
    free(r->cwd);
    if (r->template_fd >= 0) close(r->template_fd);
    if (r->template_lock >= 0) close(r->template_lock);
    free(r->home_dir);
    free(r->home_path);
    free(r);
}

static char *xasprintf(wr_rootfs *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *xasprintf(wr_rootfs *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        r->oom = true;
        return NULL;
    }
    return s;
}

/* Appends an op; `inside` is the path as the run will see it. Returns the op
 * (NULL after an allocation failure, which r->oom remembers). */
static op *add(wr_rootfs *r, op_kind kind, wr_rootfs_step step, const char *inside) {
    if (r->oom) return NULL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        op *v = realloc(r->ops, cap * sizeof *v);
        if (!v) {
            r->oom = true;
            return NULL;
        }
        r->ops = v;
        r->cap = cap;
    }
    char *path = xasprintf(r, NEWROOT "%s", inside);
    if (!path) return NULL;
    op *o = &r->ops[r->n++];
    *o = (op){.kind = kind, .step = step, .path = path};
    return o;
}

static void add_mkdir(wr_rootfs *r, wr_rootfs_step step, const char *inside, mode_t mode) {
    op *o = add(r, OP_MKDIR, step, inside);
    if (o) o->mode = mode;
}

/* Whether the plan already makes the directory `inside`. */
static bool planned_dir(const wr_rootfs *r, const char *inside) {
    size_t pl = strlen(NEWROOT);
    for (size_t i = 0; i < r->n; i++)
        if (r->ops[i].kind == OP_MKDIR && streq(r->ops[i].path + pl, inside)) return true;
    return false;
}

/* mkdir -p for the parents of `inside` (not `inside` itself), skipping those
 * the plan makes already. */
static void add_parents(wr_rootfs *r, wr_rootfs_step step, const char *inside) {
    char buf[PATH_MAX];
    if (strscpy(buf, sizeof buf, inside) < 0) {
        r->oom = true; /* checked by the callers' validation first */
        return;
    }
    for (char *s = strchr(buf + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (!planned_dir(r, buf)) add_mkdir(r, step, buf, 0755);
        *s = '/';
    }
}

static void add_symlink(wr_rootfs *r, wr_rootfs_step step, const char *inside, const char *target) {
    op *o = add(r, OP_SYMLINK, step, inside);
    if (o) o->src = xasprintf(r, "%s", target);
}

static void add_write(wr_rootfs *r, wr_rootfs_step step, const char *inside, char *content) {
    op *o = add(r, OP_WRITE, step, inside);
    if (!o || !content) {
        free(content);
        r->oom = true;
        return;
    }
    o->data = content;
    o->len = strlen(content);
    o->mode = 0644;
}

static op *add_mount(wr_rootfs *r, wr_rootfs_step step, const char *src, const char *inside,
                     const char *fstype, unsigned long flags, const char *data) {
    op *o = add(r, OP_MOUNT, step, inside);
    if (!o) return NULL;
    o->fstype = fstype;
    o->flags = flags;
    if (src) o->src = xasprintf(r, "%s", src);
    if (data) o->data = xasprintf(r, "%s", data);
    return o;
}

static op *add_setattr(wr_rootfs *r, wr_rootfs_step step, const char *inside, uint64_t attr,
                       bool recursive) {
    op *o = add(r, OP_SETATTR, step, inside);
    if (!o) return NULL;
    o->attr = attr;
    o->recursive = recursive;
    return o;
}

/* A bind of src at `inside`. The copy gets its attributes while still
 * detached, so it is never visible writable, and attaching it does not follow
 * a link at the destination. */
static op *add_bind(wr_rootfs *r, wr_rootfs_step step, const char *src, const char *inside,
                    uint64_t attr, bool recursive) {
    op *o = add(r, OP_BIND, step, inside);
    if (!o) return NULL;
    o->src = xasprintf(r, "%s", src);
    o->attr = attr;
    o->recursive = recursive;
    return o;
}

/* Binds the host's `host` (a directory or a regular file) read-only at
 * `inside`, nosuid, nodev, submounts included. */
/* A character device bound over `inside` by one classic mount(MS_BIND), not
 * the four calls of add_bind: its mount flags do not matter (nosuid and
 * noexec mean nothing for a device node, and the host's /dev is not nodev),
 * and nothing is ever writable through it but the device itself. Used for
 * the /dev nodes and for /dev/null over the masked /proc files: a dozen mounts
 * per run, each three system calls cheaper. */
static op *add_bind_node(wr_rootfs *r, wr_rootfs_step step, const char *src, const char *inside) {
    op *o = add(r, OP_BIND_NODE, step, inside);
    if (o) o->src = xasprintf(r, "%s", src);
    return o;
}

/* The host's character device `host` made again at the same path with its
 * number and permissions, or, where the kernel refuses that (root of a user
 * namespace), bound over an empty file as add_bind_node does. */
static op *add_node(wr_rootfs *r, wr_rootfs_step step, const char *host, const struct stat *st) {
    op *o = add(r, OP_NODE, step, host);
    if (!o) return NULL;
    o->src = xasprintf(r, "%s", host);
    o->mode = st->st_mode & 0777;
    o->rdev = st->st_rdev;
    return o;
}

/* Small regular files of /etc are copied into the root rather than bound:
 * a copy is three cheap calls on a tmpfs, a bind four mount calls plus the
 * mount itself, set up and torn down with every run. The run sees the file
 * as it was when the run started, as a bind of a file shows the inode that
 * was there then; read-only either way (the root is remounted so). Larger
 * files, and any beyond the budget (the root tmpfs is 4 MiB), are bound. */
#define COPY_MAX (128 * 1024)
#define COPY_BUDGET (1024 * 1024)

/* 1 if copied, 0 if it should be bound instead, -1 with errno on failure. */
static int add_copy(wr_rootfs *r, wr_rootfs_step step, const char *host, const char *inside,
                    const struct stat *st) {
    if (st->st_size > COPY_MAX || r->copied + (size_t)st->st_size > COPY_BUDGET) return 0;
    int fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno == EACCES ? 0 : -1;
    size_t cap = (size_t)st->st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int saved = errno;
            close(fd);
            if (n < 0) {
                free(buf);
                errno = saved;
                return -1;
            }
            break;
        }
        len += (size_t)n;
        if (len == cap) { /* grew since the stat: bind it instead */
            close(fd);
            free(buf);
            return 0;
        }
    }
    op *o = add(r, OP_WRITE, step, inside);
    if (!o) {
        free(buf);
        errno = ENOMEM;
        return -1;
    }
    o->data = buf;
    o->len = len;
    o->mode = st->st_mode & 0755;
    r->copied += len;
    return 1;
}

static void add_bind_ro(wr_rootfs *r, wr_rootfs_step step, const char *host, const char *inside,
                        bool dir) {
    if (dir)
        add_mkdir(r, step, inside, 0755);
    else {
        op *o = add(r, OP_MKFILE, step, inside);
        if (o) o->mode = 0644;
    }
    add_bind(r, step, host, inside, RO_ATTRS, true);
}

/* One host entry, as what it is: a directory or file bound read-only, a link
 * recreated with the same target. Missing or other types: nothing. */
static int add_host_entry(wr_rootfs *r, wr_rootfs_step step, const char *host, const char *inside,
                          wr_err *e) {
    struct stat st;
    if (lstat(host, &st) < 0) {
        if (errno == ENOENT) return 0;
        return wr_sys(e, errno, "rootfs: stat %s", host);
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(host, target, sizeof target - 1);
        if (n < 0) return wr_sys(e, errno, "rootfs: readlink %s", host);
        target[n] = '\0';
        add_symlink(r, step, inside, target);
    } else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
        /* A kept root binds them: built once, and a bind shows edits made in place. */
        if (step == WR_ROOTFS_ETC && S_ISREG(st.st_mode) && !r->templ) {
            int c = add_copy(r, step, host, inside, &st);
            if (c < 0) return wr_sys(e, errno, "rootfs: read %s", host);
            if (c > 0) return 0;
        }
        add_bind_ro(r, step, host, inside, S_ISDIR(st.st_mode));
    }
    return 0;
}

static bool is_generated(const char *name) {
    for (size_t i = 0; i < ELEMENTSOF(etc_generated); i++)
        if (streq(name, etc_generated[i])) return true;
    return false;
}

static int plan_etc(wr_rootfs *r, wr_err *e) {
    add_mkdir(r, WR_ROOTFS_ETC, "/etc", 0755);

    struct dirent **names = NULL;
    int n = scandir("/etc", &names, NULL, alphasort);
    if (n < 0) return wr_sys(e, errno, "rootfs: list /etc");
    int ret = 0;
    for (int i = 0; i < n && ret == 0; i++) {
        const char *name = names[i]->d_name;
        if (name[0] == '.' || is_generated(name)) continue;
        for (size_t j = 0; j < ELEMENTSOF(etc_entries); j++) {
            if (strchr(etc_entries[j], '/') || fnmatch(etc_entries[j], name, 0) != 0) continue;
            char host[PATH_MAX];
            snprintf(host, sizeof host, "/etc/%s", name);
            ret = add_host_entry(r, WR_ROOTFS_ETC, host, host, e);
            break;
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (ret < 0) return ret;

    /* The exact paths below /etc, each in its own directory of the tmpfs. */
    for (size_t j = 0; j < ELEMENTSOF(etc_entries); j++) {
        if (!strchr(etc_entries[j], '/')) continue;
        char host[PATH_MAX];
        snprintf(host, sizeof host, "/etc/%s", etc_entries[j]);
        struct stat st;
        if (lstat(host, &st) < 0) continue;
        add_parents(r, WR_ROOTFS_ETC, host);
        ret = add_host_entry(r, WR_ROOTFS_ETC, host, host, e);
        if (ret < 0) return ret;
    }
    return 0;
}

static void plan_dev(wr_rootfs *r, const char *tmpfs_opts, gid_t tty_gid) {
    add_mkdir(r, WR_ROOTFS_DEV, "/dev", 0755);
    /* A kept root makes its nodes in its own /dev, which is then not nodev:
     * every mount of a kept root is copied and torn down again with each run
     * (rootfs.h), and binds would be six more. Only root in the initial user
     * namespace can make a node there (CAP_MKNOD), and /dev is read-only
     * once made (below). A root built per run binds the host's: in a user
     * namespace the kernel makes no device nodes. */
    add_mount(r, WR_ROOTFS_DEV, "tmpfs", "/dev", "tmpfs",
              MS_NOSUID | MS_NOEXEC | (r->templ ? 0 : MS_NODEV), "mode=0755,size=64k,nr_inodes=64");
    for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
        char host[64];
        snprintf(host, sizeof host, "/dev/%s", dev_nodes[i]);
        struct stat st;
        if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode)) continue;
        if (r->templ) {
            add_node(r, WR_ROOTFS_DEV, host, &st);
            continue;
        }
        op *o = add(r, OP_MKFILE, WR_ROOTFS_DEV, host);
        if (o) o->mode = 0644;
        /* The /dev tmpfs is nodev; each node's own bind is not. */
        add_bind_node(r, WR_ROOTFS_DEV, host, host);
    }
    add_mkdir(r, WR_ROOTFS_DEV, "/dev/pts", 0755);
    char *pts = xasprintf(r, "newinstance,ptmxmode=0666,mode=0620,gid=%u", (unsigned)tty_gid);
    if (!r->templ) /* a kept root: each run mounts its own (enter_template) */
        add_mount(r, WR_ROOTFS_DEV, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, pts);
    free(pts);
    for (size_t i = 0; i < ELEMENTSOF(dev_links); i++) {
        char inside[64];
        snprintf(inside, sizeof inside, "/dev/%s", dev_links[i][0]);
        add_symlink(r, WR_ROOTFS_DEV, inside, dev_links[i][1]);
    }
    add_mkdir(r, WR_ROOTFS_DEV, "/dev/shm", 01777);
    if (!r->templ)
        add_mount(r, WR_ROOTFS_DEV, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts);
    /* Nothing more is made in /dev: the run cannot add to it. */
    add_setattr(r, WR_ROOTFS_DEV, "/dev", MOUNT_ATTR_RDONLY, false);
}

static void plan_proc(wr_rootfs *r) {
    add_mkdir(r, WR_ROOTFS_PROC, "/proc", 0555);
    if (r->templ) return; /* a kept root: each run mounts its own (enter_template) */
    /* The child is pid 1 of its own pid namespace by now: this proc shows
     * that namespace only. */
    add_mount(r, WR_ROOTFS_PROC, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);

    char inside[64];
    for (size_t i = 0; i < ELEMENTSOF(proc_null); i++) {
        snprintf(inside, sizeof inside, "/proc/%s", proc_null[i]);
        op *o = add_bind_node(r, WR_ROOTFS_PROC_MASK, NEWROOT "/dev/null", inside);
        if (o) o->optional = true;
    }
    for (size_t i = 0; i < ELEMENTSOF(proc_empty); i++) {
        snprintf(inside, sizeof inside, "/proc/%s", proc_empty[i]);
        op *o = add_mount(r, WR_ROOTFS_PROC_MASK, "tmpfs", inside, "tmpfs",
                          MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          "mode=0555,size=4k,nr_inodes=2");
        if (o) o->optional = true;
    }
    for (size_t i = 0; i < ELEMENTSOF(proc_readonly); i++) {
        snprintf(inside, sizeof inside, "/proc/%s", proc_readonly[i]);
        char self[80];
        snprintf(self, sizeof self, NEWROOT "%s", inside);
        op *o = add_bind(r, WR_ROOTFS_PROC_MASK, self, inside, RO_ATTRS | MOUNT_ATTR_NOEXEC, true);
        if (o) o->optional = true;
    }
}

static void plan_files(wr_rootfs *r, const wr_rootfs_spec *s) {
    add_write(r, WR_ROOTFS_FILES, "/etc/passwd",
              xasprintf(r, "root:x:0:0:root:/root:/usr/sbin/nologin\n%s:x:%u:%u::%s:/bin/sh\n",
                        s->username, (unsigned)s->uid, (unsigned)s->gid, s->home_dir));
    add_write(r, WR_ROOTFS_FILES, "/etc/group",
              xasprintf(r, "root:x:0:\n%s:x:%u:\n", s->username, (unsigned)s->gid));
    add_write(r, WR_ROOTFS_FILES, "/etc/hostname", xasprintf(r, "%s\n", s->hostname));
    add_write(r, WR_ROOTFS_FILES, "/etc/hosts",
              xasprintf(r,
                        "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n"
                        "::1\tlocalhost ip6-localhost ip6-loopback\n",
                        s->hostname));
}

/* An absolute path with no empty, "." or ".." component, and no character
 * that would break a passwd line. */
static bool path_clean(const char *p) {
    if (!p || p[0] != '/' || strlen(p) >= PATH_MAX - sizeof NEWROOT) return false;
    if (strpbrk(p, ":\n")) return false;
    if (streq(p, "/")) return true;
    for (const char *c = p; *c;) {
        c++; /* past the '/' */
        size_t l = strcspn(c, "/");
        if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += l;
    }
    return true;
}

/* Whether path is top or lies below it. */
bool wr_rootfs_path_under(const char *path, const char *top) {
    size_t l = strlen(top);
    return !strncmp(path, top, l) && (path[l] == '\0' || path[l] == '/');
}

bool wr_rootfs_name_ok(const char *s, size_t max, const char *extra) {
    size_t l = s ? strlen(s) : 0;
    if (l == 0 || l > max || s[0] == '-' || s[0] == '.') return false;
    for (const char *c = s; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || strchr(extra, *c);
        if (!ok) return false;
    }
    return true;
}

static int check_spec(const wr_rootfs_spec *s, wr_err *e) {
    if (!s) return wr_invalid(e, "rootfs: no spec");
    if (!path_clean(s->home_dir) || streq(s->home_dir, "/") || streq(s->home_dir, NEWROOT))
        return wr_invalid(e, "rootfs: home '%s': expected a clean absolute path",
                          s->home_dir ? s->home_dir : "");
    /* The home must not land inside what the plan mounts itself. */
    static const char *const reserved[] = {"/usr",    "/bin", "/sbin", "/lib",  "/lib64", "/lib32",
                                           "/libx32", "/etc", "/dev",  "/proc", "/sys",   "/.old"};
    for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
        if (wr_rootfs_path_under(s->home_dir, reserved[i]))
            return wr_invalid(e, "rootfs: home '%s': lies in %s, which the root provides",
                              s->home_dir, reserved[i]);
    if (s->home_fd < 0)
        return wr_fail(e, WR_ERR_INVALID, EBADF, "rootfs: home '%s': no fd", s->home_dir);
    struct stat st;
    if (fstat(s->home_fd, &st) < 0)
        return wr_fail(e, WR_ERR_INVALID, errno, "rootfs: home '%s': bad fd %d", s->home_dir,
                       s->home_fd);
    if (!S_ISDIR(st.st_mode))
        return wr_fail(e, WR_ERR_INVALID, ENOTDIR, "rootfs: home '%s': fd %d is not a directory",
                       s->home_dir, s->home_fd);
    if (s->cwd && !path_clean(s->cwd))
        return wr_invalid(e, "rootfs: working directory '%s': expected a clean absolute path",
                          s->cwd);
    if (!wr_rootfs_name_ok(s->username, 32, "_-"))
        return wr_invalid(e, "rootfs: username '%s': expected letters, digits, '_' and '-'",
                          s->username ? s->username : "");
    /* The hostname is the account name, '_' and all: the kernel takes any
     * bytes, and a run sees its own account's name as its host's. */
    if (!wr_rootfs_name_ok(s->hostname, 64, "-._"))
        return wr_invalid(e, "rootfs: hostname '%s': expected letters, digits, '-', '_' and '.'",
                          s->hostname ? s->hostname : "");
    return 0;
}

static gid_t tty_gid(void) {
    struct group g, *res = NULL;
    char buf[4096];
    if (getgrnam_r("tty", &g, buf, sizeof buf, &res) == 0 && res) return res->gr_gid;
    return 5;
}

int wr_rootfs_plan(const wr_rootfs_spec *spec, wr_rootfs **ret, wr_err *e) {
    int r = check_spec(spec, e);
    if (r < 0) return r;

    wr_rootfs *p = calloc(1, sizeof *p);
    if (!p) return wr_sys(e, ENOMEM, "rootfs: plan");
    p->home_tree = p->template_fd = p->template_lock = -1;
    p->cwd = strdup(spec->cwd ? spec->cwd : spec->home_dir);
    if (!p->cwd) {
        wr_rootfs_free(p);
        return wr_sys(e, ENOMEM, "rootfs: plan");
    }

    /* A kept root: ready, or to be built from the plan below (templ). */
    uint64_t key = 0;
    if (spec->template_dir && !spec->userns) {
        if ((r = wr_rootfs_template_lookup(spec, p, &key, e)) < 0) {
            wr_rootfs_free(p);
            return r;
        }
        if (p->template_fd >= 0) {
            *ret = p;
            return 0;
        }
        p->templ = true;
    }

    /* userns: without root the mount cannot be cloned here; the child clones
     * it in its own namespace (clone_home) and checks it is this directory. */
    struct stat home_st;
    if (spec->userns) {
        if (fstat(spec->home_fd, &home_st) < 0 || !(p->home_path = strdup(spec->home_dir))) {
            r = wr_sys(e, errno ? errno : ENOMEM, "rootfs: home '%s'", spec->home_dir);
            wr_rootfs_free(p);
            return r;
        }
        p->home_dev = home_st.st_dev;
        p->home_ino = home_st.st_ino;
        goto home_done;
    }
    /* The home, cloned now in the host's namespace (the child's copy of the
     * fd could no longer be bound there), and made nosuid,nodev before it is
     * attached anywhere. Only the home itself, not mounts below it. */
    p->home_tree =
        open_tree(spec->home_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (p->home_tree < 0) {
        r = wr_sys(e, errno, "rootfs: home '%s': clone the mount", spec->home_dir);
        wr_rootfs_free(p);
        return r;
    }
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (mount_setattr(p->home_tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        r = wr_sys(e, errno, "rootfs: home '%s': nosuid,nodev", spec->home_dir);
        wr_rootfs_free(p);
        return r;
    }
home_done:;

    /* /dev/null is what the masked /proc files become: without it they
     * would stay readable. */
    struct stat null_st;
    if (stat("/dev/null", &null_st) < 0 || !S_ISCHR(null_st.st_mode)) {
        r = wr_sys(e, ENODEV, "rootfs: /dev/null is not a character device");
        wr_rootfs_free(p);
        return r;
    }

    uint64_t bytes = spec->tmp_bytes ? spec->tmp_bytes : DEFAULT_TMP_BYTES;
    uint64_t inodes = bytes / 4096 < 1024 ? 1024 : bytes / 4096;
    char tmpfs_opts[96];
    snprintf(tmpfs_opts, sizeof tmpfs_opts, "size=%" PRIu64 ",nr_inodes=%" PRIu64 ",mode=1777",
             bytes, inodes);

    /* 2. the root itself: small, it holds only mount points and /etc. */
    op *o = add(p, OP_MOUNT, WR_ROOTFS_ROOT, "");
    if (o) {
        o->src = xasprintf(p, "tmpfs");
        o->fstype = "tmpfs";
        o->flags = MS_NOSUID | MS_NODEV;
        o->data = xasprintf(p, "mode=0755,size=4m,nr_inodes=4096");
    }

    /* 3. the system directories */
    for (size_t i = 0; i < ELEMENTSOF(system_dirs) && r == 0; i++) {
        struct stat st;
        if (i == 0 && lstat("/usr", &st) < 0) {
            r = wr_sys(e, errno, "rootfs: stat /usr");
            break;
        }
        if (i == 0 && !S_ISDIR(st.st_mode)) {
            r = wr_sys(e, ENOTDIR, "rootfs: /usr");
            break;
        }
        r = add_host_entry(p, WR_ROOTFS_SYSTEM, system_dirs[i], system_dirs[i], e);
    }
    if (r == 0) r = plan_etc(p, e);
    if (r < 0) {
        wr_rootfs_free(p);
        return r;
    }

    /* 5. /tmp before the home, which may lie below it. */
    add_mkdir(p, WR_ROOTFS_TMP, "/tmp", 01777);
    if (!p->templ)
        add_mount(p, WR_ROOTFS_TMP, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts);

    /* 4. the home at its own path */
    add_parents(p, WR_ROOTFS_HOME, spec->home_dir);
    add_mkdir(p, WR_ROOTFS_HOME, spec->home_dir, 0755);
    add(p, OP_ATTACH, WR_ROOTFS_HOME, spec->home_dir);

    /* userns: only the run's own gid is mapped; devpts refuses any other. */
    plan_dev(p, tmpfs_opts, spec->userns ? spec->gid : tty_gid()); /* 6 */
    plan_proc(p);                       /* 7 */
    plan_files(p, spec);                /* 8 */
    add_mkdir(p, WR_ROOTFS_PIVOT, "/.old", 0700);

    if (p->templ && !p->oom && wr_rootfs_template_build(spec, p, key, NULL) < 0) {
        /* Keeping it failed (a bind of the namespace refused now and then
         * with EINVAL under load): this run builds its own root, as without
         * template_dir; the next one tries to keep it again. */
        wr_rootfs_free(p);
        wr_rootfs_spec own = *spec;
        own.template_dir = NULL;
        return wr_rootfs_plan(&own, ret, e);
    }

    if (p->oom) {
        wr_rootfs_free(p);
        return wr_sys(e, ENOMEM, "rootfs: plan");
    }
    *ret = p;
    return 0;
}
