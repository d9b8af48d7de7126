/* warren's two programs. `warren` links only what every command needs, so that
 * it starts in about a millisecond: `warren run` is on the path the issue's
 * speed goals measure, and each shared library a program loads costs start-up
 * time (libarchive brings libxml2 and ICU, libmicrohttpd brings GnuTLS).
 * `warren-full` is the same command line with every feature linked: the
 * daemon, export and import, the nat network. `warren` hands those commands
 * over to it, and library code that runs inside `warren` reaches a heavy
 * feature by running `warren-full` as a root helper (wr_full_run), the way git
 * finds git-<command>. tests/integration/cli-light.sh keeps `warren` light. */
#pragma once

#include <stddef.h>

#include "err.h"

/* Finds warren-full: $WARREN_FULL if set (tests, unusual installs), else
 * beside the running program (the build tree, a bindir install), else in
 * warren's libexec directory. */
int wr_full_program(char *buf, size_t n, wr_err *e);

/* Replaces the calling process with warren-full and argv[1...] (argv[0] is
 * ignored). Returns only on failure. */
int wr_full_exec(char *const argv[], wr_err *e);

/* Runs warren-full with argv[1...] and waits. Its stderr is the caller's; a
 * non-zero exit is an error naming the command. The helper inherits nothing but
 * stdio (everything else warren opens is close-on-exec). */
int wr_full_run(char *const argv[], wr_err *e);
