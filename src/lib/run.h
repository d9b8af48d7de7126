/* Runs: a tenant's program started in isolation (spawn.c), waited for, and
 * ended with its whole process tree.
 *
 * A run spec names the tenant, the program (argv, or a shell command for
 * /bin/sh -c), environment additions, the working directory, the level, a
 * timeout and the three stdio fds. wr_run_start returns once the program has
 * been exec'ed (or with the setup step that failed); wr_run_wait returns its
 * exit status, ends whatever it left running, and reports CPU and memory. */
#pragma once

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "tenant.h"

typedef enum wr_level {
    WR_LEVEL_BASIC = 0,
    WR_LEVEL_CONTAINER = 1,
    WR_LEVEL_STRONG = 2,
} wr_level;

/* "basic", "container", "strong". */
int wr_level_parse(const char *s, wr_level *ret, wr_err *e);
const char *wr_level_name(wr_level l);

typedef struct wr_run_spec {
    const char *tenant;      /* saas_user_id */
    const char *service;     /* NULL, or a service id: cwd defaults to its sandbox */
    const char *const *argv; /* the program; argv[0] without '/' is looked up in PATH */
    const char *shell;       /* instead of argv: run `/bin/sh -c shell` */
    const char *const *env;  /* "KEY=VALUE" additions (NULL-terminated), or NULL */
    const char *cwd;         /* NULL, or a directory inside the home: relative to
                                it, or absolute under home_dir; never through a link */
    wr_level level;
    double timeout; /* seconds of wall time; 0: none */
    int stdio[3];   /* fds the run gets as 0, 1, 2; -1: /dev/null */
    bool tty;       /* stdio[0] is a terminal: make it the controlling
                       terminal and pass TERM */
    /* The caller's LANG, which the run's environment takes; NULL: this
     * process's own (a daemon passes its client's). */
    const char *lang;
    /* The CPUs the run may use, within its tenant's cpuset; NULL: those of
     * this process (a daemon passes its client's). */
    const cpu_set_t *cpus;
} wr_run_spec;

typedef struct wr_run_result {
    int exit_code;  /* the program's exit status, if it exited */
    int signal;     /* the signal that ended it, else 0 */
    bool timed_out; /* ended by the timeout */
    double wall_seconds;
    double cpu_seconds; /* user + system of the whole tree (the run's cgroup) */
    uint64_t peak_rss;  /* bytes: the largest resident set of the program or a
                           descendant it waited for */
    int landlock_abi;   /* strong: the Landlock ABI enforced (0: none, or not strong) */
} wr_run_result;

typedef struct wr_run wr_run;

/* Exit code wr_run_start's failures map to in the CLI (as isolate keeps the
 * sandbox's failures apart from the program's). */
#define WR_EXIT_SETUP 125
#define WR_EXIT_NOEXEC 126
#define WR_EXIT_NOTFOUND 127

int wr_run_start(warren *w, const wr_run_spec *spec, wr_run **ret, wr_err *e);
int wr_run_pid(const wr_run *r);
int wr_run_pidfd(const wr_run *r);
/* Waits for the program to end (or the timeout), writes the run's audit
 * events and refused system calls to the registry as soon as it knows how
 * the program ended (a contained run's init tells before it exits), then
 * ends the rest of its tree and removes its cgroup: wr_run_record and
 * wr_run_end, overlapping. */
int wr_run_wait(wr_run *r, wr_run_result *ret, wr_err *e);
/* wr_run_wait's halves, for a supervisor that answers its client before the
 * registry write: after wr_run_end the result is final; wr_run_record (also
 * done by wr_run_free if left out) writes what the run leaves in the
 * registry, once, when how the program ended is known. */
int wr_run_end(wr_run *r, wr_run_result *ret, wr_err *e);
void wr_run_record(wr_run *r);
/* Strong runs: the seccomp notification fd (else -1). A caller that waits
 * on the run in its own loop (a terminal relay) must poll it and call
 * wr_run_service when it is readable: a refused call blocks until answered. */
int wr_run_notify_fd(const wr_run *r);
/* Answers one pending refusal and counts it; 1 if one was answered. */
int wr_run_service(wr_run *r, wr_err *e);
/* For such a loop: milliseconds until wr_run_expire has work (-1: none, 0:
 * due), to poll with: the run's timeout, when it ends the tree and marks the
 * run timed out; or, for a run lasting over a second, recording its
 * run_started audit event (a shorter run's is written with its run_ended, in
 * one transaction). A no-op before either is due. */
int wr_run_deadline_ms(const wr_run *r);
int wr_run_expire(wr_run *r, wr_err *e);
/* Sends `sig` to the program itself. */
int wr_run_signal(wr_run *r, int sig, wr_err *e);
/* Ends the whole tree now; wr_run_wait then reports how it ended. */
int wr_run_cancel(wr_run *r, wr_err *e);
/* Ends the tree if still running, and frees. */
void wr_run_free(wr_run *r);
