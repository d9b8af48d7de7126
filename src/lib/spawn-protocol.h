/* spawn-protocol.h: what a run's child, the parent and the init (src/init)
 * agree on: the steps a report names, the report itself, and how the child
 * hands the command to the init. Constants and types only: the init is built
 * without a C library and includes this file too. */
#ifndef WARREN_SPAWN_PROTOCOL_H
#define WARREN_SPAWN_PROTOCOL_H

/* The steps of a run's processes, in order: the child's (spawn-child.c);
 * at the contained levels, the command's own process's (spawn-command.c),
 * which runs beside the child from STEP_COMMAND on; the init's (the last
 * two). */
typedef enum step {
    STEP_SIGNALS,        /* default dispositions, nothing blocked */
    STEP_CGROUP_V1,      /* hybrid host: join the tenant's v1 groups (quota limits) */
    STEP_PARENT_DEATH,   /* die with the parent */
    STEP_USERNS,         /* non-root container: map the caller's ids (userns.c) */
    STEP_NETNS,          /* container: the tenant's network namespace */
    STEP_ROOTFS,         /* container: the private root, cwd inside it */
    STEP_HOSTNAME,       /* container: hostname = the account name */
    STEP_SETSID,         /* own session: no terminal of warren's, own process group */
    STEP_TERMINAL,       /* a tty run: its terminal becomes the controlling one */
    STEP_STDIO,          /* the three stdio fds */
    STEP_CLOSE_FDS,      /* every other fd closes at exec */
    STEP_CWD,            /* the working directory, from an fd resolved safely */
    STEP_RLIMITS,        /* core 0 and the other limits, open files aside */
    STEP_UMASK,          /* 077: what the run creates is its own */
    STEP_COMMAND,        /* contained: the command's process, beside the child */
    STEP_JOIN_ROOT,      /* contained, the command: into the child's root, and its cwd */
    STEP_LISTENER,       /* strong, the child: the command's seccomp listener, for the init */
    STEP_BOUNDING,       /* strong: the bounding set, while still allowed to drop it */
    STEP_CAPS,           /* strong: every capability but those the uid change needs */
    STEP_GROUPS,         /* no supplementary groups */
    STEP_GID,            /* the tenant's gid, real, effective and saved */
    STEP_UID,            /* the tenant's uid, likewise */
    STEP_USERNS_CAPS,    /* non-root container: what the user namespace gave, dropped */
    STEP_PARENT_DEATH_2, /* the uid change cleared the death signal: set again */
    STEP_NO_NEW_PRIVS,   /* no setuid, no file capabilities from here on */
    STEP_GATE,           /* contained, the command: waits for the child's exec */
    STEP_PLACE,          /* contained, the command: back on the child's CPUs */
    STEP_NO_CAPS,        /* strong: prove no capability is left */
    STEP_LANDLOCK,       /* strong: the filesystem it may touch */
    STEP_SECCOMP,        /* strong: the system-call filter */
    STEP_NOFILE,         /* the open-files limit, once the child's own fds are in place */
    STEP_INIT,           /* contained: exec the init (pid 1), which starts the command */
    STEP_EXEC,           /* the command's execve (by the child, or by the init) */
    STEP_MAX,
} step;

/* What is written on the error pipe: a failed step (and, for the private
 * root, which part of it), or the number of the seccomp listener. */
typedef struct report {
    int step;
    int errnum;
    int detail;
} report;

#define REPORT_LISTENER (-1)

/* The init's fds, as the child leaves them for it: the error pipe (a failed
 * exec of the command is reported there), the status pipe (the command's
 * wait status), and, at the strong level, the seccomp listener, which the
 * init keeps open until the parent has its own copy (spawn.c). */
#define INIT_FD_ERR 3
#define INIT_FD_STATUS 4
#define INIT_FD_LISTENER 5
/* The write end of the gate the command's process waits on
 * (spawn-command.c): the init closes it first thing, once it runs as
 * itself, with its own memory and command line. */
#define INIT_FD_GATE 6

/* The init's argv is {INIT_NAME, NULL}: /proc/1/cmdline shows that and
 * nothing of the run. Its environment is one entry, INIT_ENV_COMMAND followed
 * by the command's pid (decimal) in the run's pid namespace: the init's only
 * child when it starts, whose status it reports. The init is not dumpable, so
 * the run cannot read it there. */
#define INIT_NAME "warren-init"
#define INIT_ENV_COMMAND "WARREN_INIT_COMMAND="

/* The exit code of a child (or init) whose setup failed. */
#define INIT_EXIT_SETUP 125

#endif
