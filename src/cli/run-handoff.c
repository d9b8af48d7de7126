/* `warren run` handing its run to a daemon that serves the same state
 * directory (src/lib/handoff.h has the why and the protocol). Nothing here
 * opens a warren: the point is to skip that. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff.h"
#include "run-handoff.h"
#include "util.h"

/* A connection to the daemon's run socket, or -1 when there is none to use. */
static int connect_daemon(const cli *c) {
    const char *local = getenv("WARREN_RUN_LOCAL");
    if (local && *local && !streq(local, "0")) return -1;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s/" WR_HANDOFF_SOCKET,
                         c->cfg.state_dir) >= sizeof sun.sun_path)
        return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    /* Only a daemon of this user gets the run's stdio. */
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A JSON string of s; JSON holds only UTF-8, which a Linux path or argument
 * need not be: then *sayable goes false. */
static json_t *text_of(const char *s, bool *sayable) {
    json_t *j = json_string(s);
    if (!j) *sayable = false;
    return j;
}

/* The request's text, or NULL when the run cannot be said in one: a string
 * that is not UTF-8, an --env without '=' (the library's to refuse), too long
 * a command line. */
static char *request_text(const wr_run_spec *spec) {
    bool sayable = true;
    json_t *run = json_object();
    if (spec->shell)
        json_object_set_new(run, "shell", text_of(spec->shell, &sayable));
    else {
        json_t *argv = json_array();
        for (const char *const *a = spec->argv; *a; a++)
            json_array_append_new(argv, text_of(*a, &sayable));
        json_object_set_new(run, "command", argv);
    }
    json_object_set_new(run, "level", json_string(wr_level_name(spec->level)));
    json_t *env = json_object();
    for (const char *const *kv = spec->env; kv && *kv && sayable; kv++) {
        const char *eq = strchr(*kv, '=');
        char key[256];
        if (!eq || eq == *kv || (size_t)(eq - *kv) >= sizeof key) {
            sayable = false;
            break;
        }
        memcpy(key, *kv, (size_t)(eq - *kv));
        key[eq - *kv] = '\0';
        json_t *v = text_of(eq + 1, &sayable);
        if (json_object_set_new(env, key, v) < 0) sayable = false; /* a key not UTF-8 */
    }
    json_object_set_new(run, "env", env);
    if (spec->cwd) json_object_set_new(run, "cwd", text_of(spec->cwd, &sayable));
    if (spec->service) json_object_set_new(run, "service", text_of(spec->service, &sayable));
    if (spec->timeout > 0) json_object_set_new(run, "timeout", json_real(spec->timeout));
    json_t *req = json_object();
    json_object_set_new(req, "tenant", text_of(spec->tenant, &sayable));
    json_object_set_new(req, "run", run);
    /* The run's LANG and CPUs are this process's, as if it ran the program
     * itself. */
    const char *lang = getenv("LANG");
    if (lang) json_object_set_new(req, "lang", text_of(lang, &sayable));
    cpu_set_t own;
    if (sched_getaffinity(0, sizeof own, &own) == 0) {
        json_t *cpus = json_array();
        for (int i = 0; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &own)) json_array_append_new(cpus, json_integer(i));
        json_object_set_new(req, "cpus", cpus);
    }
    char *text = sayable ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (text && strlen(text) > WR_HANDOFF_MSG_MAX) {
        free(text);
        text = NULL;
    }
    return text;
}

static int send_request(int fd, const char *text, const int stdio[3]) {
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int) * 3)];
    } ctl = {0};
    struct iovec iov = {(void *)text, strlen(text)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof ctl};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * 3);
    memcpy(CMSG_DATA(c), stdio, sizeof(int) * 3);
    ssize_t n;
    do
        n = sendmsg(fd, &m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)iov.iov_len ? 0 : -1;
}

static wr_kind kind_named(const char *name) {
    for (int k = WR_ERR_NONE; k <= WR_ERR_SYSTEM; k++)
        if (name && streq(name, wr_kind_name((wr_kind)k))) return (wr_kind)k;
    return WR_ERR_SYSTEM;
}

/* The daemon's answer: the result (0), or its error as cli_fail prints it. */
static int answer(cli *c, const char *text, wr_run_result *res) {
    wr_err e = WR_ERR_INIT;
    json_t *j = json_loads(text, 0, NULL);
    json_t *err = json_object_get(j, "error");
    int rc;
    if (err) {
        e.kind = kind_named(json_string_value(json_object_get(err, "code")));
        e.exit_code = (int)json_integer_value(json_object_get(err, "exit_code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        snprintf(e.msg, sizeof e.msg, "%s", msg ? msg : "failed");
        rc = cli_run_fail(c, &e);
    } else if (json_is_integer(json_object_get(j, "exit_code"))) {
        *res = (wr_run_result){
            .exit_code = (int)json_integer_value(json_object_get(j, "exit_code")),
            .signal = (int)json_integer_value(json_object_get(j, "signal")),
            .timed_out = json_is_true(json_object_get(j, "timed_out")),
            .wall_seconds = json_number_value(json_object_get(j, "wall_seconds")),
            .cpu_seconds = json_number_value(json_object_get(j, "cpu_seconds")),
            .peak_rss = (uint64_t)json_integer_value(json_object_get(j, "peak_rss")),
            .landlock_abi = (int)json_integer_value(json_object_get(j, "landlock_abi")),
        };
        if (json_is_true(json_object_get(j, "daemon_stopped")))
            fprintf(stderr,
                    "warren: the daemon serving %s stopped; the run's processes were "
                    "ended\n",
                    c->cfg.state_dir);
        rc = 0;
    } else {
        wr_fail(&e, WR_ERR_SYSTEM, EPROTO, "the daemon's answer about the run is not one: %.200s",
                text);
        rc = cli_run_fail(c, &e);
    }
    json_decref(j);
    return rc;
}

int cli_run_handoff(cli *c, const wr_run_spec *spec, int sigfd, wr_run_result *res, int *stopped) {
    int fd = connect_daemon(c);
    if (fd < 0) return -1;
    char *text = request_text(spec);
    if (!text || send_request(fd, text, spec->stdio) < 0) {
        free(text);
        close(fd);
        return -1; /* nothing started: the caller runs it itself */
    }
    free(text);

    /* The daemon has the run: wait for its end, passing on a stop. The answer
     * fits: an error's message is at most 1 KiB, 6 KiB escaped. */
    char buf[16384];
    int rc = -1;
    while (rc < 0) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si && !*stopped) {
                *stopped = (int)si.ssi_signo;
                char cancel[32];
                int n = snprintf(cancel, sizeof cancel, "{\"cancel\":%d}", *stopped);
                send(fd, cancel, (size_t)n, MSG_NOSIGNAL);
            }
        }
        if (p[0].revents) {
            ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
            /* A daemon that closed with our request unread reports
             * ECONNRESET once, before the answer it sent. */
            if (n < 0 && (errno == EINTR || errno == ECONNRESET)) continue;
            if (n <= 0) break;
            buf[n] = '\0';
            rc = answer(c, buf, res);
        }
    }
    close(fd);
    if (rc >= 0) return rc;
    wr_err e = WR_ERR_INIT;
    wr_fail(&e, WR_ERR_SYSTEM, EPIPE,
            "the daemon serving %s ended before the run did; the run ended with it",
            c->cfg.state_dir);
    return cli_run_fail(c, &e);
}
