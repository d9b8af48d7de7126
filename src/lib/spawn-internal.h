/* spawn-internal.h: what spawn.c (the parent), spawn-child.c (the child's
 * steps) and spawn-init.c (how the child becomes the contained run's pid 1,
 * src/init) share. spawn.c's
 * comment on top is the theory of operation. */
#ifndef WARREN_SPAWN_INTERNAL_H
#define WARREN_SPAWN_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "cgroup.h"
#include "err.h"
#include "rootfs.h"
#include "run.h"
#include "seccomp.h"
#include "spawn-protocol.h"
#include "userns.h"

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
/* Indices into wr_run_rlimits: the open-files limit is set apart from the
 * others (wr_spawn_limit_files), and the tenant's quota replaces its ceiling. */
enum { WR_RUN_CORE, WR_RUN_NOFILE, WR_RUN_NPROC, WR_RUN_NLIMITS };
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
    /* The caller's CPUs (wr_run_spec), else the supervisor's own when it
     * keeps off some, else NULL: the child keeps what it inherited. */
    const cpu_set_t *cpus;
    int init_fd;       /* contained: the init program (spawn-init.c) */
    char **init_envp;  /* contained: the init's environment (spawn-protocol.h) */
} plan;

/* The child: runs the steps and execs the command (or, contained, becomes
 * the init that starts it). Never returns. */
_Noreturn void wr_spawn_child(const plan *p);

/* Reports the failed step on the error pipe and exits with WR_EXIT_SETUP. */
_Noreturn void wr_spawn_fail(const plan *p, step s, int errnum, int detail);

/* The child, just before its exec: the run's open-files limit. Not with the
 * other limits: the inherited fds, marked close-on-exec, stay until the exec
 * and may hold every number under the run's limit (a daemon supervising
 * hundreds of runs holds thousands), so an fd made after it would fail with
 * EMFILE. */
void wr_spawn_limit_files(const plan *p);

#define CHECK(p, s, cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) wr_spawn_fail((p), (s), errno, 0);                                            \
    } while (0)

/* --- the contained run's init (spawn-init.c, src/init) --- */

/* The parent: an fd (close-on-exec) on the init program, a sealed memfd
 * made once per process. */
int wr_spawn_init_fd(wr_err *e);
/* The parent: the init's environment for a command (spawn-protocol.h), a
 * new array of the given strings. */
char **wr_spawn_init_env(char **envp, const char *path, char **argv);
/* The child, last: moves the error and status pipes (and the seccomp
 * listener, or -1) to the init's fds and execs the init. Never returns. */
_Noreturn void wr_spawn_exec_init(const plan *p, int listener);

#endif
