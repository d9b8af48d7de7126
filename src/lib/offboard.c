/* Removing what a deleted tenant's UID left outside its home (offboard.h).
 *
 * Files: each shared directory is walked depth-first by directory fd. An
 * entry the UID (or its group) owns is removed whole, a directory with
 * wr_remove_tree, which follows no link and enters no mount; an entry owned
 * by someone else is left, but a directory is searched, since the UID may own
 * things inside a directory another user made world-writable. Nothing is
 * ever opened by a path a tenant could have planted: every step is an
 * openat(O_NOFOLLOW) from the fd of the directory above, and a directory on
 * another mount (by device and mount id) is not entered. An entry is judged
 * by fstatat and then removed by name: in the sticky directories this runs
 * over, nobody but its owner (dead by now) and root can swap it in between;
 * in a directory another user made writable by all and not sticky, that user
 * could swap in something else of that name (one it could move there) to be
 * removed in its place: such a directory offers its entries to everyone.
 *
 * IPC: /proc/sysvipc lists every SysV object of the caller's IPC namespace
 * with its owner and creator. Both count: an owner may hand an object to
 * another UID with IPC_SET, and the creator keeps rights to it. Root removes
 * them with IPC_RMID; a segment still attached would live on until detached,
 * which is why this runs after the processes have ended.
 *
 * Keyrings: a UID's user and user-session keyrings live in the kernel's
 * per-namespace register and survive every process of the UID; a new process
 * of the same UID would find them, keys and all. Root has no right to them
 * (key permissions have no root override), so, as wr_kill_uid does, a forked
 * helper takes the UID and nothing else and, between fork and _exit, makes
 * only raw system calls (the caller may be a threaded daemon):
 *   1. drop the groups, set gid and uid, check no capability is left;
 *   2. look up the user, user-session and persistent keyrings (this creates
 *      them if missing, which is harmless: they go in step 4);
 *   3. KEYCTL_CLEAR each, unlinking every key from it;
 *   4. KEYCTL_INVALIDATE each, so the kernel drops them from the register
 *      and the next process of the UID gets fresh, empty ones;
 *   5. report over a close-on-exec pipe.
 * Unlinked keys nobody else links are then freed by the kernel's collector;
 * the parent watches /proc/key-users until the UID has no key left. One
 * still counted after a second is linked from somewhere the UID's own rights
 * do not reach, or its owner locked the keyring against itself: reported. */
#include "offboard.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "fs.h"
#include "proc.h"
#include "util.h"
#include "warren-internal.h"

const char *const wr_offboard_dirs[] = {"/tmp",      "/var/tmp",    "/dev/shm",
                                        "/run/lock", "/dev/mqueue", NULL};

/* Records that something is left, and what, as far as the buffer goes. */
__attribute__((format(printf, 2, 3))) static void note_left(wr_offboard_report *rep,
                                                            const char *fmt, ...) {
    rep->left_behind = true;
    size_t n = strlen(rep->what_left);
    if (n + 8 >= sizeof rep->what_left) return;
    if (n) {
        memcpy(rep->what_left + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->what_left + n, sizeof rep->what_left - n, fmt, ap);
    va_end(ap);
}

/* --- files in the shared directories ----------------------------------------- */

typedef struct scrub {
    uid_t uid;
    gid_t gid;
    dev_t dev;    /* the filesystem of the directory being walked */
    uint64_t mnt; /* and its mount (0 where statx does not say) */
    const char *top;
    dev_t keep_dev; /* a directory never entered (the users base) */
    ino_t keep_ino;
    wr_offboard_report *rep;
} scrub;

static void closedirp(DIR **d) {
    if (*d) closedir(*d);
}

static int mount_of(int fd, dev_t *ret_dev, uint64_t *ret_mnt) {
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &sx) < 0) return -errno;
    *ret_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    *ret_mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
    return 0;
}

static void scrub_dir(scrub *s, int fd, unsigned depth);

/* Opens and searches a directory the UID does not own. */
static void scrub_enter(scrub *s, int dfd, const char *name, unsigned depth) {
    if (depth >= WR_OFFBOARD_MAX_DEPTH) {
        note_left(s->rep, "%s: a directory too deep to search", s->top);
        return;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        /* Gone, or no longer a directory: nothing of the UID in it. */
        if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
            note_left(s->rep, "%s: cannot search %s: %s", s->top, name, strerror(errno));
        return;
    }
    dev_t dev;
    uint64_t mnt;
    if (mount_of(fd, &dev, &mnt) < 0 || dev != s->dev || mnt != s->mnt) {
        close(fd); /* another filesystem mounted here: not ours to walk */
        return;
    }
    scrub_dir(s, fd, depth + 1);
}

static void scrub_entry(scrub *s, int dfd, const char *name, unsigned depth) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)
            note_left(s->rep, "%s: cannot inspect %s: %s", s->top, name, strerror(errno));
        return;
    }
    if (st.st_dev != s->dev) return; /* a mount point */
    /* Homes are removed (or kept) by their own step, never from here. */
    if (S_ISDIR(st.st_mode) && st.st_dev == s->keep_dev && st.st_ino == s->keep_ino) return;
    bool owned = st.st_uid == s->uid || st.st_gid == s->gid;
    if (!owned) {
        if (S_ISDIR(st.st_mode)) scrub_enter(s, dfd, name, depth);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        wr_err sub = WR_ERR_INIT;
        if (wr_remove_tree(dfd, name, &sub) < 0) {
            note_left(s->rep, "%s: %s", s->top, sub.msg);
            return;
        }
    } else if (unlinkat(dfd, name, 0) < 0) {
        if (errno != ENOENT)
            note_left(s->rep, "%s: cannot remove %s: %s", s->top, name, strerror(errno));
        return;
    }
    s->rep->files++;
}

/* Walks the directory open at fd (consumed). */
static void scrub_dir(scrub *s, int fd, unsigned depth) {
    _cleanup_(closedirp) DIR *d = fdopendir(fd);
    if (!d) {
        note_left(s->rep, "%s: cannot read a directory: %s", s->top, strerror(errno));
        close(fd);
        return;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                note_left(s->rep, "%s: cannot read a directory: %s", s->top, strerror(errno));
            return;
        }
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
        scrub_entry(s, dirfd(d), de->d_name, depth);
    }
}

int wr_offboard_files(uid_t uid, gid_t gid, const char *const *dirs, int keep_fd,
                      wr_offboard_report *rep, wr_err *e) {
    if (uid == 0 || gid == 0)
        return wr_invalid(e, "refusing to remove the files of uid %u gid %u: not a tenant's",
                          (unsigned)uid, (unsigned)gid);
    struct stat keep = {0};
    if (keep_fd >= 0 && fstat(keep_fd, &keep) < 0)
        return wr_sys(e, errno, "cannot inspect the users base");
    for (size_t i = 0; dirs && dirs[i]; i++) {
        /* The directory itself is the administrator's; a link there (say
         * /var/tmp -> /tmp) names a directory walked in its own right. */
        int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;
            return wr_sys(e, errno, "cannot open %s", dirs[i]);
        }
        scrub s = {.uid = uid,
                   .gid = gid,
                   .top = dirs[i],
                   .keep_dev = keep_fd >= 0 ? keep.st_dev : 0,
                   .keep_ino = keep_fd >= 0 ? keep.st_ino : 0,
                   .rep = rep};
        if (mount_of(fd, &s.dev, &s.mnt) < 0) {
            int errnum = errno;
            close(fd);
            return wr_sys(e, errnum, "cannot inspect %s", dirs[i]);
        }
        scrub_dir(&s, fd, 0);
    }
    return 0;
}

/* --- SysV IPC ----------------------------------------------------------------- */

typedef enum ipc_kind { IPC_MSG, IPC_SEM, IPC_SHM } ipc_kind;

static const struct {
    const char *file, *id_column, *what;
} ipc_kinds[] = {
    [IPC_MSG] = {"/proc/sysvipc/msg", "msqid", "message queue"},
    [IPC_SEM] = {"/proc/sysvipc/sem", "semid", "semaphore set"},
    [IPC_SHM] = {"/proc/sysvipc/shm", "shmid", "shared memory segment"},
};

enum { COL_ID, COL_UID, COL_GID, COL_CUID, COL_CGID, COL_MAX };

/* Column positions from the header line (the kernel has added columns over
 * the years; names are stable, positions less so). */
static bool parse_header(char *line, int cols[COL_MAX], const char *id_column) {
    static const char *const names[COL_MAX] = {NULL, "uid", "gid", "cuid", "cgid"};
    for (int c = 0; c < COL_MAX; c++)
        cols[c] = -1;
    int i = 0;
    for (char *save, *tok = strtok_r(line, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save), i++) {
        if (streq(tok, id_column)) cols[COL_ID] = i;
        for (int c = 1; c < COL_MAX; c++)
            if (streq(tok, names[c])) cols[c] = i;
    }
    for (int c = 0; c < COL_MAX; c++)
        if (cols[c] < 0) return false;
    return true;
}

static bool parse_row(char *line, const int cols[COL_MAX], long long v[COL_MAX]) {
    int i = 0, found = 0;
    for (char *save, *tok = strtok_r(line, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save), i++)
        for (int c = 0; c < COL_MAX; c++)
            if (cols[c] == i) {
                char *end;
                v[c] = strtoll(tok, &end, 10);
                if (*end) return false;
                found++;
            }
    return found == COL_MAX;
}

static int ipc_remove(ipc_kind k, int id) {
    int r;
    switch (k) {
    case IPC_MSG:
        r = msgctl(id, IPC_RMID, NULL);
        break;
    case IPC_SEM:
        r = semctl(id, 0, IPC_RMID);
        break;
    default:
        r = shmctl(id, IPC_RMID, NULL);
        break;
    }
    return r < 0 ? -errno : 0;
}

static int ipc_sweep(ipc_kind k, uid_t uid, gid_t gid, wr_offboard_report *rep, wr_err *e) {
    _cleanup_fclose_ FILE *f = fopen(ipc_kinds[k].file, "re");
    if (!f) {
        /* A kernel without SysV IPC has nothing to leave. */
        if (errno == ENOENT) return 0;
        return wr_sys(e, errno, "cannot read %s", ipc_kinds[k].file);
    }
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    int cols[COL_MAX];
    if (getline(&line, &cap, f) < 0) return 0;
    if (!parse_header(line, cols, ipc_kinds[k].id_column))
        return wr_fail(e, WR_ERR_SYSTEM, EPROTO, "%s: unexpected header", ipc_kinds[k].file);
    while (getline(&line, &cap, f) >= 0) {
        long long v[COL_MAX];
        if (!parse_row(line, cols, v)) continue;
        if (v[COL_UID] != (long long)uid && v[COL_CUID] != (long long)uid &&
            v[COL_GID] != (long long)gid && v[COL_CGID] != (long long)gid)
            continue;
        int r = ipc_remove(k, (int)v[COL_ID]);
        if (r == 0)
            rep->ipc++;
        else if (r != -EINVAL && r != -EIDRM) /* gone meanwhile */
            note_left(rep, "%s %lld: %s", ipc_kinds[k].what, v[COL_ID], strerror(-r));
    }
    return 0;
}

int wr_offboard_ipc(uid_t uid, gid_t gid, wr_offboard_report *rep, wr_err *e) {
    if (uid == 0 || gid == 0)
        return wr_invalid(e, "refusing to remove the IPC objects of uid %u: not a tenant's",
                          (unsigned)uid);
    for (ipc_kind k = IPC_MSG; k <= IPC_SHM; k++) {
        int r = ipc_sweep(k, uid, gid, rep, e);
        if (r < 0) return r;
    }
    return 0;
}

/* --- keyrings ----------------------------------------------------------------- */

#define KEYS_GONE_DEADLINE_NS (1000ull * 1000 * 1000)

typedef struct key_report {
    int errnum;  /* 0, or why the helper stopped */
    int cleared; /* keyrings cleared and invalidated */
    int locked;  /* keyrings the UID itself may no longer clear */
} key_report;

static long keyctl(int op, unsigned long a, unsigned long b) {
    return syscall(SYS_keyctl, op, a, b, 0, 0);
}

static _Noreturn void key_helper(uid_t uid, gid_t gid, int report_fd) {
    key_report rep = {0};
    rep.errnum = wr_helper_become(uid, gid);
    if (rep.errnum == 0) {
        /* Step 2: all three looked up before any is invalidated; looking one
         * up after would make the others anew. */
        long ids[3] = {-1, -1, -1};
        ids[0] = keyctl(KEYCTL_GET_KEYRING_ID, (unsigned long)KEY_SPEC_USER_KEYRING, 1);
        if (ids[0] >= 0)
            ids[1] = keyctl(KEYCTL_GET_KEYRING_ID, (unsigned long)KEY_SPEC_USER_SESSION_KEYRING, 1);
        if (ids[0] < 0 || ids[1] < 0) rep.errnum = errno;
        /* Persistent keyrings are optional in the kernel (EOPNOTSUPP). */
        if (rep.errnum == 0)
            ids[2] = keyctl(KEYCTL_GET_PERSISTENT, (unsigned long)-1,
                            (unsigned long)KEY_SPEC_PROCESS_KEYRING);
        for (size_t i = 0; i < ELEMENTSOF(ids) && rep.errnum == 0; i++) {
            if (ids[i] < 0) continue;
            /* Steps 3 and 4. EACCES: the tenant took its own rights away
             * (setperm); the keyring stays, and the parent says so. */
            if (keyctl(KEYCTL_CLEAR, (unsigned long)ids[i], 0) < 0 ||
                keyctl(KEYCTL_INVALIDATE, (unsigned long)ids[i], 0) < 0) {
                if (errno == EACCES)
                    rep.locked++;
                else if (errno != EKEYREVOKED && errno != ENOKEY)
                    rep.errnum = errno;
                continue;
            }
            rep.cleared++;
        }
    }
    ssize_t n = write(report_fd, &rep, sizeof rep);
    _exit(n == (ssize_t)sizeof rep ? 0 : 1);
}

/* The number of keys /proc/key-users counts for uid (0 if it lists none). */
static long keys_of(uid_t uid) {
    _cleanup_fclose_ FILE *f = fopen("/proc/key-users", "re");
    if (!f) return errno == ENOENT ? 0 : -errno; /* a kernel without keys */
    char line[256];
    while (fgets(line, sizeof line, f)) {
        /* "  <uid>:  <usage> <nkeys>/<nikeys> ..." */
        unsigned long u, usage, nkeys;
        if (sscanf(line, " %lu: %lu %lu/", &u, &usage, &nkeys) == 3 && u == (unsigned long)uid)
            return (long)nkeys;
    }
    return 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int wr_offboard_keyrings(uid_t uid, gid_t gid, wr_offboard_report *rep, wr_err *e) {
    if (uid == 0 || gid == 0 || uid == (uid_t)-1 || uid == getuid())
        return wr_invalid(e, "refusing to clear the keyrings of uid %u: not a tenant's",
                          (unsigned)uid);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return wr_sys(e, errno, "keyrings of uid %u", (unsigned)uid);
    _cleanup_close_ int rd = p[0];
    _cleanup_close_ int wr = p[1];
    pid_t pid = fork();
    if (pid < 0) return wr_sys(e, errno, "keyrings of uid %u: cannot fork", (unsigned)uid);
    if (pid == 0) key_helper(uid, gid, wr);
    closep(&wr);
    wr = -1;
    key_report kr;
    ssize_t n;
    do
        n = read(rd, &kr, sizeof kr);
    while (n < 0 && errno == EINTR);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return wr_sys(e, errno, "keyrings of uid %u: wait", (unsigned)uid);
    if (n != (ssize_t)sizeof kr || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return wr_fail(e, WR_ERR_SYSTEM, EIO, "keyrings of uid %u: the helper failed",
                       (unsigned)uid);
    /* A kernel without keys has none to leave. Keys refused to warren (a
     * seccomp filter around it) were most likely refused to the tenant too,
     * but that cannot be checked: the UID does not count as clean. */
    if (kr.errnum == ENOSYS) return 0;
    if (kr.errnum == EPERM || kr.errnum == EACCES) {
        note_left(rep, "keyrings of uid %u could not be reached: %s", (unsigned)uid,
                  strerror(kr.errnum));
        return 0;
    }
    if (kr.errnum) return wr_sys(e, kr.errnum, "clearing the keyrings of uid %u", (unsigned)uid);
    rep->keys += (unsigned)kr.cleared;
    if (kr.locked)
        note_left(rep, "%d keyring(s) of uid %u locked by their owner", kr.locked, (unsigned)uid);

    /* The collector runs shortly after the last link goes; wait for it. */
    uint64_t deadline = now_ns() + KEYS_GONE_DEADLINE_NS;
    long left;
    for (struct timespec pause = {0, 1000 * 1000};; nanosleep(&pause, NULL)) {
        left = keys_of(uid);
        if (left <= 0 || now_ns() >= deadline) break;
    }
    if (left < 0) return wr_sys(e, (int)-left, "cannot read /proc/key-users");
    if (left > 0) note_left(rep, "%ld key(s) of uid %u still exist", left, (unsigned)uid);
    return 0;
}

/* --- all three, for a tenant --------------------------------------------------- */

int wr_offboard_tenant(warren *w, const wr_tenant *t, bool *clean, wr_err *e) {
    wr_offboard_report rep = {0};
    int r;
    if ((r = wr_offboard_ipc(t->uid, t->gid, &rep, e)) < 0 ||
        (r = wr_offboard_keyrings(t->uid, t->gid, &rep, e)) < 0 ||
        (r = wr_offboard_files(t->uid, t->gid, wr_offboard_dirs, w->basefd, &rep, e)) < 0)
        return r;
    if (!rep.left_behind) return 0;
    *clean = false;
    json_t *j = json_pack("{s:s, s:I, s:s}", "linux_username", t->linux_username, "uid",
                          (json_int_t)t->uid, "left", rep.what_left);
    char *detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
    wr_audit_note(w, "offboard_incomplete", t->saas_user_id[0] ? t->saas_user_id : NULL, detail);
    free(detail);
    json_decref(j);
    return 0;
}
