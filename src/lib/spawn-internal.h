/* spawn-internal.h: what spawn.c (the parent), spawn-child.c (the child's
 * steps) and spawn-init.c (how the child becomes the contained run's pid 1,
 * src/init) share. spawn.c's
 * comment on top is the theory of operation. */
#ifndef WARREN_SPAWN_INTERNAL_H
#define WARREN_SPAWN_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
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

/* Contained runs: where the child and the command's process
 * (spawn-command.c) meet. It lives in wr_run_start's frame, which both see
 * (the command's process shares the child's memory until its exec, and the
 * child the parent's, or a copy of it), and which outlives them: the parent
 * leaves it only once every copy of the error pipe has closed. */
typedef struct wr_spawn_meet {
    /* The child: 1 once the run's root is built, for the command to join. */
    atomic_int root_ready;
    /* The command: 1 once its seccomp filter is loaded, with the listener's
     * number in listener (strong); -1 once it has reported a failed step. */
    atomic_int command_state;
    int listener;
    /* The child: 1 just before its exec of the init. The command execs only
     * once the init has closed the gate (a pipe made by the child, read end
     * gate_r): until the exec pid 1 is an image of the calling warren, whose
     * /proc/1/cmdline anyone in the run may read, and in the middle of it
     * that command line is empty. */
    atomic_int init_exec;
    int gate_r, gate_w;
    /* The child's CPUs, which the command's process takes back once the
     * root is built if the child moved it off its own CPU (moved). */
    cpu_set_t cpus;
    atomic_int moved;
    /* The init's environment: one entry, INIT_ENV_COMMAND and the command's
     * pid, which the child writes in. */
    char init_env[sizeof INIT_ENV_COMMAND + 12];
    char *init_envp[2];
} wr_spawn_meet;

/* Everything the child needs, prepared by the parent while it may still
 * allocate: the child only reads it (and writes the meeting point). */
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
    int init_fd; /* contained: the init program (spawn-init.c) */
    /* Contained: the meeting point, and the stack the command's process
     * runs on until its exec, both in wr_run_start's frame. */
    wr_spawn_meet *meet;
    void *command_stack;
    size_t command_stack_size;
} plan;

/* The child: runs the steps and execs the command (or, contained, starts the
 * command's process and becomes the run's init). Never returns. */
_Noreturn void wr_spawn_child(const plan *p);

/* Contained, the child: starts the command's process (spawn-command.c), a
 * clone sharing its memory, on p->command_stack; its pid in the run's pid
 * namespace and a pidfd on it, or -errno. */
int wr_spawn_command(const plan *p, int *ret_pidfd);
/* The child and the command's process waiting for each other on a word of
 * the meeting point m: wr_spawn_set stores v and wakes the waiter;
 * wr_spawn_await returns the word once it is not 0 (spinning a little
 * first when the two run on two CPUs), or 0 after sleeping sleep_ms. Raw
 * calls only. */
void wr_spawn_set(atomic_int *w, int v);
int wr_spawn_await(const wr_spawn_meet *m, atomic_int *w, int sleep_ms);

/* Every signal disposition back to the default: the daemon may ignore
 * SIGPIPE or handle SIGCHLD, and ignored dispositions survive exec. Raw
 * calls (the command's process runs it beside the child). 0 or -errno. */
int wr_spawn_default_signals(void);

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
/* The parent: the meeting point's initial state. */
void wr_spawn_meet_init(wr_spawn_meet *m);
/* The child, last: moves the error and status pipes (and the seccomp
 * listener, or -1) to the init's fds and execs the init, telling it the
 * command's pid. Never returns. */
_Noreturn void wr_spawn_exec_init(const plan *p, int listener, pid_t command);

#endif
