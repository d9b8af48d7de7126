/* The run handoff: how `warren run` gives its run to a daemon serving the
 * same state directory, instead of opening a warren of its own.
 *
 * Why: a CLI that runs a program by itself first opens the registry, warren's
 * cgroups, the seccomp program and the rest of a warren handle, and closes
 * them again: most of a short run's time (bench/spawn). A daemon holds all of
 * that open already.
 *
 * The socket is <state dir>/run.sock, a SOCK_SEQPACKET Unix socket of mode
 * 0600: one message is one JSON object, and each side checks that the other
 * has its own uid (SO_PEERCRED), so stdio is handed to nobody else and only
 * the daemon's own user (root) may start runs through it.
 *
 *   CLI -> daemon   {"tenant": ID, "run": BODY, "lang": S, "cpus": [N, ...]}
 *                   with exactly three fds attached (SCM_RIGHTS): the run's
 *                   stdin, stdout and stderr. BODY is what POST
 *                   /v1/tenants/{id}/runs takes; the rest may be left out.
 *                   lang and cpus are the CLI's own (LANG, its CPU affinity),
 *                   which its own child would have had. A --tty run is not
 *                   handed over: its terminal relay stays in the CLI.
 *   CLI -> daemon   {"cancel": SIGNO}: the CLI was stopped by that signal; the
 *                   run's whole tree is ended. The CLI hanging up does the same.
 *   daemon -> CLI   {"exit_code": N, "signal": N, "timed_out": B,
 *                    "wall_seconds": X, "cpu_seconds": X, "peak_rss": N,
 *                    "landlock_abi": N, "daemon_stopped": B}, when the run has
 *                   ended (daemon_stopped: the daemon, stopping, ended it);
 *                or {"error": {"code": KIND, "message": S, "exit_code": N}},
 *                   when it could not start (KIND as wr_kind_name says it; N
 *                   what `warren run` exits with: 125, or 126 and 127 for a
 *                   program that cannot be executed or found).
 *
 * The run's output goes straight to the fds the CLI attached: nothing of it
 * passes through the daemon. */
#pragma once

#define WR_HANDOFF_SOCKET "run.sock"
/* The largest request; a CLI with a longer command line runs it itself. */
#define WR_HANDOFF_MSG_MAX (128 * 1024)
