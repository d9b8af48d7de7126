/* Runs handed over by `warren run` (handoff.h has the why and the protocol).
 *
 * Each client is one connection and at most one run. The connection waits in
 * the loop for its request; the run then starts with the client's own stdio
 * (the daemon closes its copies at once, so the client's readers see EOF when
 * the run's processes are gone), and its pidfd and seccomp listener join the
 * loop as a daemon run's do (runs.c). When the pidfd turns readable the run's
 * tree is ended, the client gets the result, and then the run's audit is
 * written. A client that hangs up or sends a cancel has the run's tree ended.
 *
 * These runs are the CLI's: they are in the audit as every run is, but not in
 * GET .../runs, which lists the runs started through the API. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "handoff.h"
#include "util.h"

/* --- the request (no I/O; fuzzed) ------------------------------------------ */

int handoff_parse(const char *buf, size_t n, handoff_req *ret, wr_err *e) {
    *ret = (handoff_req){0};
    char msg[256];
    json_t *j = parse_body(buf, n, msg, sizeof msg);
    if (!j) return wr_invalid(e, "run request: %s", msg);
    ret->j = j;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (!streq(key, "tenant") && !streq(key, "run") && !streq(key, "lang") &&
            !streq(key, "cpus"))
            return wr_invalid(e, "run request: unknown field '%s'", key);
        if ((streq(key, "tenant") || streq(key, "lang")) &&
            (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)))
            return wr_invalid(e, "run request: %s: expected a string without NUL", key);
    }
    json_t *tenant = json_object_get(j, "tenant"), *run = json_object_get(j, "run");
    if (!tenant || !*json_string_value(tenant))
        return wr_invalid(e, "run request: tenant: expected a tenant id");
    if (!json_is_object(run)) return wr_invalid(e, "run request: run: expected an object");
    int r = runs_parse_spec(run, &ret->spec, &ret->argv, &ret->env, e);
    if (r < 0) return r;
    ret->spec.tenant = json_string_value(tenant);
    ret->spec.lang = json_string_value(json_object_get(j, "lang"));
    json_t *cpus = json_object_get(j, "cpus");
    if (cpus) {
        size_t i;
        json_t *c;
        if (!json_is_array(cpus) || json_array_size(cpus) == 0)
            return wr_invalid(e, "run request: cpus: expected a non-empty array of CPU numbers");
        CPU_ZERO(&ret->cpus);
        json_array_foreach(cpus, i, c) {
            json_int_t cpu = json_is_integer(c) ? json_integer_value(c) : -1;
            if (cpu < 0 || cpu >= CPU_SETSIZE)
                return wr_invalid(e, "run request: cpus[%zu]: expected a CPU number below %d", i,
                                  CPU_SETSIZE);
            CPU_SET((int)cpu, &ret->cpus);
        }
        ret->spec.cpus = &ret->cpus;
    }
    return 0;
}

void handoff_req_free(handoff_req *r) {
    runs_strv_free(r->argv, false);
    runs_strv_free(r->env, true);
    json_decref(r->j);
    *r = (handoff_req){0};
}

/* --- connections -------------------------------------------------------------- */

enum { H_CONN, H_PIDFD, H_NOTIFY, H_N };

typedef struct htag {
    loop_tag base; /* first: the loop calls base.fn */
    struct hconn *h;
    int which;
} htag;

typedef struct hconn {
    struct hconn *next;
    int conn;     /* the client's socket; -1 once it hung up */
    int fds[H_N]; /* what the loop watches: conn, and the run's pidfd and listener */
    htag tags[H_N];
    wr_run *run;  /* NULL until started */
    bool stopped; /* ended by the daemon's stop, past its grace period */
    double request_due; /* monotonic: the request must have come by then */
} hconn;

/* A client sends its request as soon as it connects (run-handoff.c). One
 * that says nothing for this long is told so and closed: otherwise it holds
 * a daemon fd, and an entry here, for as long as it likes. */
#define REQUEST_TIMEOUT_S 10

static hconn *conns;
static int listen_fd = -1;
static char sock_path[PATH_MAX];
/* At the open-files limit accept4 fails and the listener stays readable: the
 * loop would spin on it while the clients wait unanswered. One fd is kept in
 * reserve for that moment; given up, it lets the daemon take a waiting
 * client, tell it why, and close it. Without it the listener rests until the
 * next tick. */
static int reserve_fd = -1;
static bool listen_paused;

static void unwatch(srv *s, hconn *h, int which) {
    if (h->fds[which] < 0) return;
    srv_unwatch(s, h->fds[which]);
    h->fds[which] = -1;
}

static void hconn_free(srv *s, hconn *h) {
    for (hconn **pp = &conns; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    for (int i = 0; i < H_N; i++)
        unwatch(s, h, i);
    if (h->run) wr_run_free(h->run); /* ends what is left of it */
    if (h->conn >= 0) close(h->conn);
    free(h);
}

/* One message on a client's socket (j is consumed); a client gone by now
 * has nothing to learn. */
static void send_json(int fd, json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(16));
    json_decref(j);
    if (text && fd >= 0) send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
    free(text);
}

static void reply(hconn *h, json_t *j) {
    send_json(h->conn, j);
}

/* exit_code: what `warren run` exits with, as when it runs by itself
 * (cli_run_fail): the program's 126 or 127, else 125. */
static json_t *error_json(const wr_err *e) {
    return json_pack("{s:{s:s,s:s,s:i}}", "error", "code", wr_kind_name(e->kind), "message",
                     e->msg[0] ? e->msg : "failed", "exit_code",
                     e->exit_code ? e->exit_code : WR_EXIT_SETUP);
}

static void reply_err(hconn *h, const wr_err *e) {
    reply(h, error_json(e));
}

static void fail_stopping(wr_err *e) {
    wr_fail(e, WR_ERR_BUSY, EAGAIN, "the daemon is stopping; run again");
}

static void fail_out_of_fds(wr_err *e, int err) {
    if (err == ENFILE) {
        wr_fail(e, WR_ERR_LIMIT, err,
                "the host is out of open files (fs.file-max); try again later, or run with "
                "WARREN_RUN_LOCAL=1");
        return;
    }
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_NOFILE, &rl);
    wr_fail(e, WR_ERR_LIMIT, err,
            "the daemon has no file descriptors left (its open-files limit is %llu); try again "
            "later, or run with WARREN_RUN_LOCAL=1",
            (unsigned long long)rl.rlim_cur);
}

/* The client's message with its fds: *nfds says how many came, fds holds the
 * first `max` of them (any more are closed). *flags: the message's
 * (MSG_TRUNC: longer than size; MSG_CTRUNC: fds the daemon could not take).
 * -1 and errno on failure; 0 when the client hung up. */
static ssize_t receive(int fd, char *buf, size_t size, int *fds, size_t max, size_t *nfds,
                       int *flags) {
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int) * 8)];
    } ctl;
    struct iovec iov = {buf, size};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof ctl};
    ssize_t n;
    do
        n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    *nfds = 0;
    if (n < 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            if (*nfds < max)
                fds[*nfds] = got;
            else
                close(got);
            (*nfds)++;
        }
    }
    *flags = m.msg_flags;
    return n;
}

/* The run has ended: its result to the client, then the registry's record of
 * it (wr_run_free), and the connection goes. */
static void finish(srv *s, hconn *h) {
    wr_err e = WR_ERR_INIT;
    wr_run_result res;
    if (wr_run_end(h->run, &res, &e) < 0)
        reply_err(h, &e);
    else
        reply(h,
              json_pack("{s:i,s:i,s:b,s:f,s:f,s:I,s:i,s:b}", "exit_code", res.exit_code, "signal",
                        res.signal, "timed_out", res.timed_out, "wall_seconds", res.wall_seconds,
                        "cpu_seconds", res.cpu_seconds, "peak_rss", (json_int_t)res.peak_rss,
                        "landlock_abi", res.landlock_abi, "daemon_stopped", h->stopped));
    hconn_free(s, h);
}

/* The request: start the run, or answer why not and hang up. */
static void start(srv *s, hconn *h) {
    static char buf[WR_HANDOFF_MSG_MAX];
    int fds[4];
    size_t nfds = 0;
    int flags = 0;
    ssize_t n = receive(h->conn, buf, sizeof buf, fds, ELEMENTSOF(fds), &nfds, &flags);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    wr_err e = WR_ERR_INIT;
    handoff_req req = {0};
    if (n <= 0) {
        hconn_free(s, h);
        goto out;
    }
    if (flags & MSG_TRUNC)
        wr_invalid(&e, "run request: longer than %d bytes", WR_HANDOFF_MSG_MAX);
    else if ((flags & MSG_CTRUNC) && nfds < 3)
        /* Room for eight came with the message: the kernel could not give
         * the daemon the ones that are missing. */
        fail_out_of_fds(&e, EMFILE);
    else if (nfds != 3 || (flags & MSG_CTRUNC))
        wr_invalid(&e, "run request: expected three fds (stdin, stdout, stderr), got %zu%s", nfds,
                   flags & MSG_CTRUNC ? " or more" : "");
    else if (s->stopping)
        fail_stopping(&e);
    else if (handoff_active() >= HANDOFF_MAX_RUNS)
        wr_fail(&e, WR_ERR_LIMIT, EAGAIN, "%d handed-over runs are in progress; try again later",
                HANDOFF_MAX_RUNS);
    else if (handoff_parse(buf, (size_t)n, &req, &e) >= 0) {
        for (int i = 0; i < 3; i++)
            req.spec.stdio[i] = fds[i];
        wr_run_start(s->w, &req.spec, &h->run, &e);
    }
    if (!h->run) {
        reply_err(h, &e);
        hconn_free(s, h);
        goto out;
    }
    h->fds[H_PIDFD] = wr_run_pidfd(h->run);
    h->fds[H_NOTIFY] = wr_run_notify_fd(h->run);
    for (int i = H_PIDFD; i < H_N; i++)
        if (h->fds[i] >= 0 && srv_watch(s, h->fds[i], &h->tags[i].base, EPOLLIN) < 0)
            h->fds[i] = -1;
    /* A run the loop cannot see end is not left to run unwatched. */
    if (h->fds[H_PIDFD] < 0) {
        wr_run_cancel(h->run, NULL);
        finish(s, h);
    }
out:
    /* The run holds its own copies now. */
    for (size_t i = 0; i < nfds && i < ELEMENTSOF(fds); i++)
        close(fds[i]);
    handoff_req_free(&req);
}

/* What the client says while its run goes: a cancel, or that it hung up. */
static void client_said(srv *s, hconn *h, uint32_t events) {
    char buf[256];
    int fds[1];
    size_t nfds = 0;
    int flags = 0;
    ssize_t n = receive(h->conn, buf, sizeof buf - 1, fds, 0, &nfds, &flags);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !(events & (EPOLLHUP | EPOLLERR)))
        return;
    if (n > 0) {
        buf[n] = '\0';
        json_t *j = json_loads(buf, 0, NULL);
        bool cancel = json_is_integer(json_object_get(j, "cancel"));
        json_decref(j);
        if (cancel) wr_run_cancel(h->run, NULL);
        return;
    }
    /* Gone: nobody is left to see the run, so it ends now. */
    unwatch(s, h, H_CONN);
    close(h->conn);
    h->conn = -1;
    wr_run_cancel(h->run, NULL);
}

static void on_event(srv *s, loop_tag *tag, uint32_t events) {
    htag *t = (htag *)tag;
    hconn *h = t->h;
    switch (t->which) {
    case H_CONN:
        if (!h->run)
            start(s, h);
        else
            client_said(s, h, events);
        break;
    case H_PIDFD:
        finish(s, h);
        break;
    case H_NOTIFY:
        /* Unwatched once its filter has no task left: it would poll as hung
         * up until the pidfd's turn. */
        if (wr_run_service(h->run, NULL) < 0 || wr_run_notify_fd(h->run) < 0)
            unwatch(s, h, H_NOTIFY);
        break;
    }
}

/* Only a peer with the daemon's own uid: root's runs are root's to start. */
static bool peer_is_own(int fd) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == geteuid();
}

static loop_tag tag_listen;

/* A client turned away before its connection is kept: told why, and closed. */
static void refuse(int fd, const wr_err *e) {
    /* Its request, read and dropped (its fds with it: with no room for them
     * the kernel installs none) so that closing leaves no unread data, which
     * would reach the client as ECONNRESET before the answer. */
    char drop[64];
    while (recv(fd, drop, sizeof drop, MSG_DONTWAIT) > 0) {
    }
    send_json(fd, error_json(e));
    close(fd);
}

/* Out of fds with clients waiting: the reserve makes room to refuse one.
 * Whether one was taken (none: nobody is waiting, or the listener rests). */
static bool refuse_at_limit(srv *s, int err) {
    if (reserve_fd >= 0) {
        close(reserve_fd);
        reserve_fd = -1;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        bool took = fd >= 0;
        if (took) {
            wr_err e = WR_ERR_INIT;
            fail_out_of_fds(&e, err);
            refuse(fd, &e);
        }
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (reserve_fd >= 0) return took;
    }
    /* No reserve to give: the listener rests until the tick takes it back. */
    srv_unwatch(s, listen_fd);
    listen_paused = true;
    return false;
}

static void on_listen(srv *s, loop_tag *tag, uint32_t events) {
    (void)tag;
    (void)events;
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            if (!refuse_at_limit(s, errno)) return;
            continue;
        }
        if (fd < 0) return; /* EAGAIN: all taken; anything else: the next event */
        if (!peer_is_own(fd)) {
            close(fd);
            continue;
        }
        if (s->stopping) {
            wr_err e = WR_ERR_INIT;
            fail_stopping(&e);
            refuse(fd, &e);
            continue;
        }
        hconn *h = calloc(1, sizeof *h);
        if (!h) {
            close(fd);
            continue;
        }
        h->conn = fd;
        h->request_due = wr_mono() + REQUEST_TIMEOUT_S;
        for (int i = 0; i < H_N; i++) {
            h->fds[i] = -1;
            h->tags[i] = (htag){{on_event}, h, i};
        }
        if (srv_watch(s, fd, &h->tags[H_CONN].base, EPOLLIN | EPOLLRDHUP) < 0) {
            close(fd);
            free(h);
            continue;
        }
        h->fds[H_CONN] = fd;
        h->next = conns;
        conns = h;
    }
}

static loop_tag tag_listen = {on_listen};

/* The reserve, and the listener if it rested; once a tick. */
static void resume_listening(srv *s) {
    if (reserve_fd < 0) reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (listen_paused && listen_fd >= 0 && reserve_fd >= 0 &&
        srv_watch(s, listen_fd, &tag_listen, EPOLLIN) == 0)
        listen_paused = false;
}

/* --- the daemon's hooks ------------------------------------------------------- */

int handoff_listen(srv *s, const char *state_dir, wr_err *e) {
    if ((size_t)snprintf(sock_path, sizeof sock_path, "%s/" WR_HANDOFF_SOCKET, state_dir) >=
        sizeof sock_path)
        return wr_invalid(e, "state directory %s: too long for its run socket", state_dir);
    int fd = srv_unix_listen(sock_path, SOCK_SEQPACKET, "run socket", e);
    if (fd < 0) return fd;
    int r = srv_watch(s, fd, &tag_listen, EPOLLIN);
    if (r < 0) {
        close(fd);
        unlink(sock_path);
        return wr_sys(e, -r, "cannot listen on %s", sock_path);
    }
    listen_fd = fd;
    resume_listening(s);
    return 0;
}

const char *handoff_path(void) {
    return listen_fd >= 0 ? sock_path : NULL;
}

void handoff_stop_listening(srv *s) {
    if (listen_fd < 0) return;
    if (!listen_paused) srv_unwatch(s, listen_fd);
    close(listen_fd);
    listen_fd = -1;
    listen_paused = false;
    unlink(sock_path);
}

size_t handoff_active(void) {
    size_t n = 0;
    for (hconn *h = conns; h; h = h->next)
        n += h->run != NULL;
    return n;
}

/* Milliseconds until h has something due: its run's timeout, or the end of
 * the wait for its request; -1 for nothing. */
static int due_ms(const hconn *h, double now) {
    if (h->run) return wr_run_deadline_ms(h->run);
    double left = h->request_due - now;
    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

int handoff_timeout_ms(void) {
    int best = listen_paused ? 100 : -1; /* a rested listener is tried again */
    double now = wr_mono();
    for (hconn *h = conns; h; h = h->next) {
        int ms = due_ms(h, now);
        if (ms >= 0 && (best < 0 || ms < best)) best = ms;
    }
    return best;
}

void handoff_tick(srv *s) {
    resume_listening(s);
    double now = wr_mono();
    for (hconn *h = conns, *next; h; h = next) {
        next = h->next;
        if (due_ms(h, now) != 0) continue;
        if (h->run) {
            wr_run_expire(h->run, NULL);
            continue;
        }
        wr_err e = WR_ERR_INIT;
        wr_fail(&e, WR_ERR_INVALID, ETIMEDOUT, "run request: none came within %d s",
                REQUEST_TIMEOUT_S);
        reply_err(h, &e);
        hconn_free(s, h);
    }
}

void handoff_end_all(srv *s) {
    for (hconn *h = conns, *next; h; h = next) {
        next = h->next;
        if (!h->run) continue;
        h->stopped = true;
        wr_run_cancel(h->run, NULL);
        finish(s, h);
    }
}

void handoff_free_all(srv *s) {
    while (conns)
        hconn_free(s, conns);
    handoff_stop_listening(s);
    if (reserve_fd >= 0) close(reserve_fd);
    reserve_fd = -1;
}
