/* `warren run` through a daemon serving the same state directory
 * (src/lib/handoff.h). */
#pragma once

#include "cli.h"
#include "run.h"

/* Hands the run to the daemon and waits for its end, passing on a stop that
 * arrives on sigfd (*stopped: its signal). Returns -1 when no daemon took the
 * run (none serves the state directory, WARREN_RUN_LOCAL is set, or the run
 * cannot be said in one request): nothing was started, and the caller runs
 * it itself. Otherwise 0 with *res filled, or the exit code of a failure,
 * already printed. */
int cli_run_handoff(cli *c, const wr_run_spec *spec, int sigfd, wr_run_result *res, int *stopped);
