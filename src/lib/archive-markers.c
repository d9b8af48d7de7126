/* The markers of exports and imports in progress, and the recovery of those
 * a crash interrupted (wr_import_clean_staging, run by every warren start).
 * Apart from archive-import.c and archive-export.c because the light `warren`
 * program runs the recovery and must not load libarchive (program.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-internal.h"
#include "warren-archive.h"
#include "cgroup.h"
#include "fs.h"
#include "storage-internal.h"
#include "util.h"
#include "warren-internal.h"

#define MARKERS_DIR "imports"

/* --- markers ------------------------------------------------------------------ */

static int markers_open(warren *w, bool create, wr_err *e) {
    char p[WR_BASE_MAX + 16];
    snprintf(p, sizeof p, "%s/" MARKERS_DIR, w->cfg.state_dir);
    if (create && mkdir(p, 0700) < 0 && errno != EEXIST)
        return wr_sys(e, errno, "cannot create %s", p);
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (create || errno != ENOENT)) return wr_sys(e, errno, "cannot open %s", p);
    return fd < 0 ? -ENOENT : fd;
}

int wr_archive_marker(warren *w, const char *kind, const char *name, int *ret_fd, wr_err *e) {
    char n[NAME_MAX + 1];
    if ((size_t)snprintf(n, sizeof n, "%s%s", kind, name) >= sizeof n)
        return wr_invalid(e, "marker name %s%s too long", kind, name);
    _cleanup_close_ int dfd = markers_open(w, true, e);
    if (dfd < 0) return dfd;
    _cleanup_close_ int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return wr_sys(e, errno, "cannot create a marker in %s/imports", w->cfg.state_dir);
    if (flock(fd, LOCK_EX) < 0) return wr_sys(e, errno, "cannot lock a marker");
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    for (int i = 0; i < 4; i++) {
        if (linkat(AT_FDCWD, proc, dfd, n, AT_SYMLINK_FOLLOW) == 0) {
            *ret_fd = TAKE_FD(fd);
            return 0;
        }
        if (errno != EEXIST) break;
        /* One left by a process that died can go; a live one means another
         * export or import of the same tenant is running. */
        _cleanup_close_ int old = openat(dfd, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (old >= 0 && flock(old, LOCK_EX | LOCK_NB) < 0)
            return wr_fail(e, WR_ERR_BUSY, EBUSY,
                           "another export or import of account %s is running", name);
        (void)unlinkat(dfd, n, 0);
    }
    return wr_sys(e, errno, "cannot create marker %s/imports/%s", w->cfg.state_dir, n);
}

void wr_archive_marker_drop(warren *w, const char *kind, const char *name, int *fd) {
    if (*fd < 0) return;
    char n[NAME_MAX + 1];
    snprintf(n, sizeof n, "%s%s", kind, name);
    _cleanup_close_ int dfd = markers_open(w, false, NULL);
    if (dfd >= 0) (void)unlinkat(dfd, n, 0);
    closep(fd);
    *fd = -1;
}

int wr_archive_stage_remove(warren *w, const char *name, wr_err *e) {
    if (wr_btrfs_is_subvolume(w->basefd, name)) return wr_btrfs_subvolume_delete(w->basefd, name, e);
    return wr_remove_tree(w->basefd, name, e);
}

/* A stale marker's work: remove its staging directory, or thaw its tenant. */
static int recover(warren *w, const char *marker, wr_err *e) {
    if (!strncmp(marker, "stage", 5)) {
        const char *stage = marker + 5;
        if (strncmp(stage, STAGE_PREFIX, strlen(STAGE_PREFIX)) || strchr(stage, '/')) return 0;
        return wr_archive_stage_remove(w, stage, e);
    }
    if (!strncmp(marker, "freeze-", 7)) {
        if (wr_ensure_cgroups(w, NULL) < 0) return 0;
        wr_tenant t = {0};
        if (strscpy(t.linux_username, sizeof t.linux_username, marker + 7) < 0) return 0;
        return wr_cgroup_tenant_freeze(w, &t, false, e);
    }
    return 0;
}

int wr_import_clean_staging(warren *w, wr_err *e) {
    int dfd = markers_open(w, false, e);
    if (dfd == -ENOENT) return 0;
    if (dfd < 0) return dfd;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return wr_sys(e, errno, "cannot read %s/imports", w->cfg.state_dir);
    }
    int r = 0, n = 0;
    for (struct dirent *de; r >= 0 && (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        _cleanup_close_ int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        /* Locked: its process is alive and at work. */
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) continue;
        if ((r = recover(w, de->d_name, e)) >= 0) {
            (void)unlinkat(dirfd(d), de->d_name, 0);
            n++;
        }
    }
    closedir(d);
    return r < 0 ? r : n;
}
