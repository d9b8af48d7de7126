/* warren run [--level L] [--service S] [--cwd DIR] [--env K=V]... [--timeout S]
 *            [--tty] [--shell CMD] TENANT [-- CMD [ARG...]]
 *
 * Output streams through as the program writes it (the run gets warren's own
 * stdio, or with --tty a terminal of its own that warren relays). The exit
 * status is the program's, 128+N if signal N ended it. warren's own failures
 * exit 125, whatever they are (an unknown tenant, a bad option, a quota, a
 * setup step, which the message names), 126 if the program cannot be executed
 * and 127 if it is not found, as env, chroot and docker run do: the kinds'
 * codes (1, 2, 3) are common exit codes of programs. When a daemon serves the
 * same state directory, the run is handed to it (run-handoff.c); the program
 * sees no difference. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "run-handoff.h"
#include "run.h"

/* --- a terminal of the run's own ------------------------------------------- */

typedef struct pty {
    int master, slave;
    bool raw;
    struct termios saved;
} pty;

static volatile sig_atomic_t winch;
static void on_winch(int sig) {
    (void)sig;
    winch = 1;
}

static int pty_open(pty *t, wr_err *e) {
    t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (t->master < 0 || grantpt(t->master) < 0 || unlockpt(t->master) < 0)
        return wr_sys(e, errno, "cannot allocate a terminal for the run");
    /* TIOCGPTPEER opens the peer through the master: no path to race on. */
    t->slave = ioctl(t->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (t->slave < 0) return wr_sys(e, errno, "cannot open the run's terminal");
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ioctl(t->master, TIOCSWINSZ, &ws);
    if (tcgetattr(STDIN_FILENO, &t->saved) == 0) {
        struct termios raw = t->saved;
        cfmakeraw(&raw);
        t->raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    signal(SIGWINCH, on_winch);
    return 0;
}

static void pty_restore(pty *t) {
    if (t->raw) tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
}

static bool copy_some(int from, int to) {
    char buf[4096];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return false;
        off += w;
    }
    return true;
}

/* Until the program ends: answers its refused system calls, relays its
 * terminal (with --tty), and on SIGINT, SIGTERM or SIGHUP ends its whole tree,
 * so that nothing of it outlives warren being stopped. Returns the signal
 * that stopped warren, or 0. */
static int supervise(pty *t, wr_run *run, int sigfd) {
    bool in_open = t != NULL;
    int stopped = 0;
    for (;;) {
        if (t && winch) {
            winch = 0;
            struct winsize ws;
            if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ioctl(t->master, TIOCSWINSZ, &ws);
        }
        struct pollfd p[5] = {{.fd = wr_run_pidfd(run), .events = POLLIN},
                              {.fd = wr_run_notify_fd(run), .events = POLLIN},
                              {.fd = sigfd, .events = POLLIN},
                              {.fd = t ? t->master : -1, .events = POLLIN},
                              {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN}};
        int n = poll(p, 5, wr_run_deadline_ms(run));
        if (n < 0 && errno != EINTR) break;
        if (n == 0) wr_run_expire(run, NULL); /* the timeout: the pidfd says when it is over */
        /* A refused system call waits for its answer: give it first. */
        if (p[1].revents) wr_run_service(run, NULL); /* a request, or the filter's end */
        if (p[2].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si && !stopped) {
                stopped = (int)si.ssi_signo;
                wr_run_cancel(run, NULL);
            }
        }
        if (p[3].revents & POLLIN) copy_some(t->master, STDOUT_FILENO);
        if (p[4].revents & (POLLIN | POLLHUP) && !copy_some(STDIN_FILENO, t->master))
            in_open = false;
        if (p[0].revents & POLLIN) {
            /* Drain what the program wrote before it ended. */
            while (t && poll(&p[3], 1, 20) > 0 && p[3].revents & POLLIN &&
                   copy_some(t->master, STDOUT_FILENO)) {
            }
            return stopped;
        }
    }
    return stopped;
}

/* --- the command ------------------------------------------------------------- */

int cli_run_fail(cli *c, const wr_err *e) {
    cli_fail(c, e);
    return e->exit_code ? e->exit_code : WR_EXIT_SETUP;
}

/* How the run ended, as `warren run` tells it; the exit status. */
static int report_end(cli *c, wr_level level, const wr_run_result *res, int stopped) {
    if (stopped) {
        fprintf(stderr, "warren: stopped by signal %d; the run's processes were ended\n", stopped);
        return 128 + stopped;
    }
    if (c->verbose)
        fprintf(stderr,
                "warren: run ended: level %s, landlock ABI %d, %s %d, %.3f s wall, %.3f s cpu, "
                "peak %.1f MiB\n",
                wr_level_name(level), res->landlock_abi, res->signal ? "signal" : "exit",
                res->signal ? res->signal : res->exit_code, res->wall_seconds, res->cpu_seconds,
                (double)res->peak_rss / 1048576.0);
    if (res->timed_out)
        fprintf(stderr, "warren: run timed out after %g s; its processes were ended\n", c->timeout);
    return res->signal ? 128 + res->signal : res->exit_code;
}

int cmd_run(cli *c, char **args) {
    wr_err e = WR_ERR_INIT;
    wr_run_spec spec = {.tenant = args[0],
                        .service = c->service,
                        .cwd = c->cwd,
                        .shell = c->shell,
                        .timeout = c->timeout,
                        .tty = c->tty,
                        .stdio = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}};
    spec.argv = (const char *const *)(args + 1);
    spec.env = (const char *const *)c->env;
    if (wr_level_parse(c->level ? c->level : "strong", &spec.level, &e) < 0)
        return cli_run_fail(c, &e);
    if (!c->shell && !args[1]) {
        cli_usage_error("run: give a command after '--', or --shell");
        return WR_EXIT_SETUP;
    }
    if (c->shell && args[1]) {
        cli_usage_error("run: give a command or --shell, not both");
        return WR_EXIT_SETUP;
    }
    if (!c->cfg.root_mode && spec.level == WR_LEVEL_BASIC)
        fprintf(stderr, "warren: note: without root, basic gives no uid separation: the run has "
                        "your uid\n");

    /* Taken as events, not handlers: the run's tree is ended on them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    int sigfd = signalfd(-1, &stop, SFD_CLOEXEC);

    /* A daemon serving this state directory has a warren open already: the
     * run goes to it (a terminal of the run's own stays here, relayed). */
    wr_run_result res;
    int stopped = 0;
    int r = c->tty ? -1 : cli_run_handoff(c, &spec, sigfd, &res, &stopped);
    if (r >= 0) {
        if (sigfd >= 0) close(sigfd);
        return r > 0 ? r : report_end(c, spec.level, &res, stopped);
    }

    if (wr_open(&c->cfg, &c->w, &e) < 0) return cli_run_fail(c, &e);
    pty t = {.master = -1, .slave = -1};
    if (c->tty) {
        if (pty_open(&t, &e) < 0) return cli_run_fail(c, &e);
        spec.stdio[0] = spec.stdio[1] = spec.stdio[2] = t.slave;
    }
    wr_run *run;
    r = wr_run_start(c->w, &spec, &run, &e);
    if (t.slave >= 0) close(t.slave);
    if (r < 0) {
        pty_restore(&t);
        return cli_run_fail(c, &e);
    }
    stopped = supervise(c->tty ? &t : NULL, run, sigfd);
    r = wr_run_wait(run, &res, &e);
    pty_restore(&t);
    wr_run_free(run);
    if (t.master >= 0) close(t.master);
    if (sigfd >= 0) close(sigfd);
    if (r < 0) return cli_run_fail(c, &e);
    return report_end(c, spec.level, &res, stopped);
}
