/* spawn-internal.h: what spawn.c (the parent), spawn-child.c (the child's
 * steps) and spawn-init.c (the contained run's pid 1) share. spawn.c's
 * comment on top is the theory of operation. */
#ifndef WARREN_SPAWN_INTERNAL_H
#define WARREN_SPAWN_INTERNAL_H

#include <errno.h>
#include <linux/prctl.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "cgroup.h"
#include "err.h"
#include "rootfs.h"
#include "run.h"
#include "seccomp.h"
#include "userns.h"

/* The child's steps, in order (spawn-child.c runs them). */
typedef enum step {
    STEP_SIGNALS,        /* default dispositions, nothing blocked */
    STEP_CGROUP_V1,      /* hybrid host: join the tenant's v1 groups (quota limits) */
    STEP_PARENT_DEATH,   /* die with the parent */
    STEP_USERNS,         /* non-root container: map the caller's ids (userns.c) */
    STEP_NETNS,          /* container: the tenant's network namespace */
    STEP_ROOTFS,         /* container: the private root, cwd inside it */
    STEP_HOSTNAME,       /* container: hostname = the account name */
    STEP_INIT_TITLE,     /* contained: the init's /proc command line, not warren's */
    STEP_SETSID,         /* own session: no terminal of warren's, own process group */
    STEP_TERMINAL,       /* a tty run: its terminal becomes the controlling one */
    STEP_STDIO,          /* the three stdio fds */
    STEP_CLOSE_FDS,      /* every other fd closes at exec */
    STEP_CWD,            /* the working directory, from an fd resolved safely */
    STEP_RLIMITS,        /* core 0 and the other limits */
    STEP_UMASK,          /* 077: what the run creates is its own */
    STEP_BOUNDING,       /* strong: the bounding set, while still allowed to drop it */
    STEP_GROUPS,         /* no supplementary groups */
    STEP_GID,            /* the tenant's gid, real, effective and saved */
    STEP_UID,            /* the tenant's uid, likewise */
    STEP_USERNS_CAPS,    /* non-root container: what the user namespace gave, dropped */
    STEP_PARENT_DEATH_2, /* the uid change cleared the death signal: set again */
    STEP_NO_NEW_PRIVS,   /* no setuid, no file capabilities from here on */
    STEP_NO_CAPS,        /* strong: prove no capability is left */
    STEP_LANDLOCK,       /* strong: the filesystem it may touch */
    STEP_SECCOMP,        /* strong: the system-call filter, last before exec */
    STEP_INIT,           /* contained: stay as pid 1 (run_init), the command its child */
    STEP_EXEC,
    STEP_MAX,
} step;

/* The step's name in an error message. */
const char *wr_spawn_step_name(int step);

/* Limits every run gets at every level. Core dumps would write the program's
 * memory into the home as root could read it later; the others are ceilings
 * that keep one run from taking the host's tables, not quotas (those are the
 * tenant's cgroup's). */
typedef struct wr_run_rlimit {
    int resource;
    rlim_t soft, hard;
} wr_run_rlimit;
#define WR_RUN_NLIMITS 3
extern const wr_run_rlimit wr_run_rlimits[WR_RUN_NLIMITS];

/* Everything the child needs, prepared by the parent while it may still
 * allocate: the child only reads it. */
typedef struct plan {
    uid_t uid;
    gid_t gid;
    bool change_ids; /* root mode */
    bool tty;
    wr_level level;
    pid_t parent;
    int netns_fd;            /* container, root mode */
    const wr_userns *userns; /* container without root: the maps; else NULL */
    const wr_rootfs *rootfs; /* container */
    const char *hostname;    /* container */
    int landlock;            /* strong: the ruleset, or -1 */
    int landlock_abi;
    const wr_seccomp *seccomp; /* strong */
    int sync_fd;               /* strong without root: the parent has taken the listener */
    int stdio[3];
    int cwd_fd;
    int err_fd;
    int status_fd; /* contained: where the init reports the command's wait status */
    const char *path;
    char **argv;
    char **envp;
    struct rlimit limits[WR_RUN_NLIMITS]; /* wr_run_rlimits, clamped to what warren itself may set */
    int cgroup_v1[WR_CGROUP_ATTACH_MAX]; /* hybrid host: the tenant's v1 groups' tasks */
    int ncgroup_v1;
    const struct prctl_mm_map *mm; /* contained: warren's memory layout (init_identity) */
} plan;

/* What the child writes on the error pipe: a failed step (and, for the
 * private root, which part of it), or the number of the seccomp listener. */
typedef struct report {
    int step;
    int errnum;
    int detail;
} report;

#define REPORT_LISTENER (-1)

/* The child: runs the steps and execs the command (or, contained, becomes
 * the init that starts it). Never returns. */
_Noreturn void wr_spawn_child(const plan *p);

/* Reports the failed step on the error pipe and exits with WR_EXIT_SETUP. */
_Noreturn void wr_spawn_fail(const plan *p, step s, int errnum, int detail);

#define CHECK(p, s, cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) wr_spawn_fail((p), (s), errno, 0);                                            \
    } while (0)

/* --- the contained run's init (spawn-init.c) --- */

#define INIT_TITLE "warren-init"

/* The parent, before clone: warren's own memory layout, which the init's
 * PR_SET_MM_MAP needs (read once per process). */
int wr_spawn_mm_layout(const struct prctl_mm_map **ret, wr_err *e);
/* The child: /proc/1's command line and name become title. */
int wr_spawn_init_identity(const plan *p, const char title[static sizeof INIT_TITLE]);
/* The child, last: stays as pid 1 and starts the command. Never returns. */
_Noreturn void wr_spawn_init(const plan *p);

#endif
