/* The daemon's loop and request intake (daemon.h has the theory of
 * operation). libmicrohttpd runs in "external epoll" mode: its epoll fd sits
 * in our own epoll set beside the signalfd and the runs' fds, and MHD_run is
 * called when it is ready, so every handler runs on this one thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "daemon.h"
#include "util.h"

const double lat_bounds[LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,   0.25,   0.5,   1.0,  1e300};

/* Tags for the loop's fds that are not runs'. */
static loop_tag tag_signal, tag_tcp, tag_unix;

warren *srv_warren(srv *s) {
    return s->w;
}
double srv_started_at(srv *s) {
    return s->started_at;
}

int srv_watch(srv *s, int fd, loop_tag *tag, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void srv_unwatch(srv *s, int fd) {
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* The client's address as a rate-limit key: the IP for TCP, one key for the
 * Unix socket. */
static size_t client_key(dreq *r, unsigned char key[16]) {
    if (r->unix_peer) {
        memset(key, 0, 16);
        return 1;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, 4);
        return 4;
    }
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, 16);
        return 16;
    }
    memset(key, 0, 16);
    return 1;
}

bool srv_may_create(srv *s, dreq *r) {
    unsigned char key[16];
    size_t n = client_key(r, key);
    return ratelimit_take(s->rl_create, key, n, wr_mono());
}

/* --- one request ------------------------------------------------------------ */

static void dreq_free(dreq *r) {
    if (!r) return;
    if (r->upload_fd >= 0) close(r->upload_fd);
    json_decref(r->later);
    free(r->path);
    for (size_t i = 0; i < r->nparams; i++)
        free(r->params[i]);
    for (size_t i = 0; i < r->nscratch; i++)
        free(r->scratch[i]);
    free(r->body);
    free(r);
}

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
    if (query_key_is_token(key)) {
        *(bool *)cls = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* Everything before the handler: rate limit, size, route, tokens, access.
 * False after answering; true when the handler may run. */
static bool precheck(dreq *r, int *ret) {
    srv *s = r->s;
    /* An upload is checked once before its body and again to refuse it. */
    for (size_t i = 0; i < r->nparams; i++) {
        free(r->params[i]);
        r->params[i] = NULL;
    }
    r->nparams = 0;
    unsigned char key[16];
    size_t kn = client_key(r, key);
    if (!ratelimit_take(s->rl, key, kn, wr_mono())) {
        s->rate_limited_total++;
        *ret = reply_error(r, 429, "rate_limited", "too many requests from this client; slow down");
        return false;
    }
    if (r->body_too_big) {
        *ret = reply_error(r, 413, "too_large", "request body is larger than %llu bytes",
                           (unsigned long long)(r->upload_fd >= 0 ? r->upload_max : s->max_body));
        return false;
    }
    match_result m = route_match(r->method, r->path, &r->route, r->params, &r->nparams);
    r->compat = strncmp(r->path, "/runner/", 8) == 0;
    if (m != MATCH_OK) r->route = NULL;
    if (m == MATCH_NO_ROUTE) {
        *ret = reply_error(r, 404, "no_route", "no such route: %s", r->path);
        return false;
    }
    if (m == MATCH_BAD_METHOD) {
        *ret = reply_error(r, 405, "bad_method", "method %s is not allowed on %s", r->method,
                           r->path);
        return false;
    }
    if (m == MATCH_BAD_PATH) {
        *ret = reply_error(r, 400, "invalid", "malformed path: bad percent-escape or empty id");
        return false;
    }
    r->compat = r->route->compat;

    /* Tokens travel in headers only: a URL ends in proxy and access logs. */
    bool token_in_query = false;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &token_in_query);
    if (token_in_query) {
        *ret = reply_error(r, 400, "token_in_query",
                           "tokens in the query string are refused; send them in the "
                           "Authorization or X-Runner-Token header");
        return false;
    }
    bool answered;
    *ret = auth_identify(r, &answered);
    if (answered) return false;
    const char *tenant = r->nparams && r->route->pattern && strstr(r->route->pattern, "{id}")
                             ? r->params[0]
                             : NULL;
    return auth_allow(r, tenant, ret);
}

static int dispatch(dreq *r) {
    /* The benchmark's floor: the same server and loop, no work at all. */
    if (r->s->opts.bench_floor)
        return reply_text(r, 200, "application/json", "{\"ok\":true}", 11);
    int ret;
    /* A streamed upload was checked before its body was accepted. */
    if (r->upload_fd >= 0 && !r->body_too_big) return r->route->handler(r);
    if (!precheck(r, &ret)) return ret;
    return r->route->handler(r);
}

/* Whether the request is an archive upload, whose body goes to a file. */
static bool is_upload(const char *method, const char *url) {
    size_t n = strlen(url);
    return streq(method, "PUT") && n > 7 && streq(url + n - 7, "/import");
}

static int spool_open(dreq *r) {
    const char *dir = wr_config_of(r->s->w)->state_dir;
    /* Unnamed, root's, gone when closed: nothing of an upload outlives it. */
    r->upload_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    return r->upload_fd;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls) {
    srv *s = cls;
    dreq *r = *con_cls;
    if (!r) {
        /* First call: headers only. Answering now would make libmicrohttpd drop
         * keep-alive, so set up and answer on a later call. */
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->s = s;
        r->conn = conn;
        r->t0 = wr_mono();
        snprintf(r->method, sizeof r->method, "%s", method);
        r->path = strdup(url);
        if (!r->path) {
            free(r);
            return MHD_NO;
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
        r->unix_peer = ci && ci->daemon == s->unix_d;
        r->upload_fd = -1;
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (is_upload(method, url) && !s->opts.bench_floor) {
            /* Checked before the (large) body is taken; refused ones answer now. */
            r->upload_max = s->max_upload;
            if (cl && strtoull(cl, NULL, 10) > r->upload_max) r->body_too_big = true;
            int ret;
            if (!precheck(r, &ret)) return (enum MHD_Result)ret;
            if (spool_open(r) < 0)
                return (enum MHD_Result)reply_error(r, 500, "system",
                                                    "cannot spool the upload: %s",
                                                    strerror(errno));
            return MHD_YES;
        }
        if (cl && strtoull(cl, NULL, 10) > s->max_body) r->body_too_big = true;
        return MHD_YES;
    }
    if (*upload_size && r->upload_fd >= 0) {
        if (!r->body_too_big && r->upload_len + *upload_size > r->upload_max)
            r->body_too_big = true;
        if (!r->body_too_big) {
            for (size_t off = 0; off < *upload_size;) {
                ssize_t k = write(r->upload_fd, upload_data + off, *upload_size - off);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0) return MHD_NO; /* disk full: drop the connection */
                off += (size_t)k;
            }
            r->upload_len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Past the limit the rest is read and dropped, then refused with 413. */
        if (!r->body_too_big && r->body_len + *upload_size > s->max_body) {
            r->body_too_big = true;
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
        }
        if (!r->body_too_big) {
            if (r->body_len + *upload_size + 1 > r->body_cap) {
                size_t cap = (r->body_len + *upload_size + 1) * 2;
                if (cap > s->max_body + 1) cap = s->max_body + 1;
                char *b = realloc(r->body, cap);
                if (!b) return MHD_NO;
                r->body = b;
                r->body_cap = cap;
            }
            memcpy(r->body + r->body_len, upload_data, *upload_size);
            r->body_len += *upload_size;
            r->body[r->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->later) {
        /* Resumed after work done in the loop (an import): answer now. */
        json_t *j = r->later;
        r->later = NULL;
        return (enum MHD_Result)reply_json(r, r->later_status, j);
    }
    if (r->status || r->suspended) return MHD_YES; /* answered, or answering later */
    return (enum MHD_Result)dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    srv *s = cls;
    dreq *r = *con_cls;
    if (!r) return;
    metrics_observe(s, r->status ? r->status : 500, wr_mono() - r->t0);
    dreq_free(r);
    *con_cls = NULL;
}

/* URLs stay escaped: router.c splits the path before decoding (a tenant id
 * may contain %2F), and query values are decoded where they are read. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *uri) {
    return strlen(uri);
}

/* Upgraded (WebSocket) sockets and small JSON answers both want their bytes
 * sent now, not after Nagle's delay. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int one = 1;
    if (ci) setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* --- setup ------------------------------------------------------------------ */

static double env_num(const char *name, double dflt, double min, double max, wr_err *e, int *r) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= min && x <= max)) {
        *r = wr_invalid(e, "%s='%s': expected a number from %g to %g", name, v, min, max);
        return dflt;
    }
    return x;
}

/* "ADDR:PORT" or "[ADDR6]:PORT"; port 0 picks a free one. */
static int parse_listen(const char *v, struct sockaddr_storage *ss, socklen_t *len, wr_err *e) {
    char host[128];
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) goto bad;
    size_t hn = (size_t)(colon - v);
    if (hn >= sizeof host) goto bad;
    memcpy(host, v, hn);
    host[hn] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port > 65535) goto bad;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && hn > 2 && host[hn - 1] == ']') {
        host[hn - 1] = '\0';
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) goto bad;
        *len = sizeof *s6;
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) goto bad;
    *len = sizeof *s4;
    return 0;
bad:
    return wr_invalid(e, "--listen '%s': expected ADDR:PORT, e.g. 127.0.0.1:8801 or [::1]:8801",
                      v);
}

int srv_unix_listen(const char *path, int type, const char *what, wr_err *e) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strscpy(sun.sun_path, sizeof sun.sun_path, path) < 0)
        return wr_invalid(e, "%s '%s': path too long for a Unix socket", what, path);
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return wr_sys(e, errno, "socket");
    struct stat st;
    /* A stale socket of an earlier daemon goes; anything else at the path stays. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            return wr_unsafe(e, "%s %s exists and is not a socket", what, path);
        }
        unlink(path);
    }
    /* Root's alone from the moment it exists: bind under umask 077. */
    mode_t old = umask(077);
    int r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 1024) < 0) {
        r = wr_sys(e, errno, "cannot listen on %s", path);
        close(fd);
        return r;
    }
    return fd;
}

static int epoll_fd_of(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    return di ? di->epoll_fd : -1;
}

static struct MHD_Daemon *start_mhd(srv *s, const struct sockaddr *sa, int listen_fd,
                                    unsigned conn_limit, unsigned timeout) {
    /* Suspend/resume: streamed exports wait for their pipe, imports for their
     * helper, without holding the loop. */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE;
    if (sa && sa->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_UNESCAPE_CALLBACK,
        no_unescape, s, MHD_OPTION_CONNECTION_LIMIT, conn_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        timeout,
        /* Bounded memory per connection: request line and headers must fit
         * here (8 KiB, as most servers allow), or the client gets 431/414 from
         * libmicrohttpd. It is also what libmicrohttpd clears per request. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        1024u, sa ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_LISTEN_SOCKET,
        sa ? (intptr_t)sa : (intptr_t)listen_fd, MHD_OPTION_END);
}

/* How long the daemon must have had nothing to do before its upkeep. */
#define UPKEEP_IDLE_MS 200

static void loop(srv *s) {
    struct epoll_event evs[64];
    for (;;) {
        int timeout = -1;
        MHD_UNSIGNED_LONG_LONG mt;
        if (s->tcp && MHD_get_timeout(s->tcp, &mt) == MHD_YES) timeout = mt > 1000 ? 1000 : (int)mt;
        if (s->unix_d && MHD_get_timeout(s->unix_d, &mt) == MHD_YES && (timeout < 0 || (int)mt < timeout))
            timeout = mt > 1000 ? 1000 : (int)mt;
        int rt = runs_timeout_ms(s), ht = handoff_timeout_ms();
        if (rt >= 0 && (timeout < 0 || rt < timeout)) timeout = rt;
        if (ht >= 0 && (timeout < 0 || ht < timeout)) timeout = ht;
        if (s->stopping && (timeout < 0 || timeout > 100)) timeout = 100;
        /* Registry upkeep waits for a quiet moment, not for a request. */
        bool upkeep = wr_maintain_due(srv_warren(s)) &&
                      (timeout < 0 || timeout >= UPKEEP_IDLE_MS);
        if (upkeep) timeout = UPKEEP_IDLE_MS;
        int n = epoll_wait(s->epfd, evs, 64, timeout);
        if (n < 0 && errno != EINTR) break;
        if (n == 0 && upkeep) wr_maintain(srv_warren(s));
        for (int i = 0; i < n; i++) {
            loop_tag *tag = evs[i].data.ptr;
            if (tag == &tag_signal) {
                struct signalfd_siginfo si;
                while (read(s->sigfd, &si, sizeof si) == sizeof si)
                    if (!s->stopping) {
                        s->stopping = true;
                        s->stop_deadline = wr_mono() + s->grace;
                        /* Stop accepting; connections in flight are still served. */
                        int lfd = s->tcp ? MHD_quiesce_daemon(s->tcp) : -1;
                        if (lfd >= 0) close(lfd);
                        lfd = s->unix_d ? MHD_quiesce_daemon(s->unix_d) : -1;
                        if (lfd >= 0) close(lfd);
                        handoff_stop_listening(s);
                        if (!s->opts.quiet)
                            fprintf(stderr,
                                    "warren: stopping; %zu run(s) get %.0f s to finish\n",
                                    runs_active(s) + handoff_active(), s->grace);
                    }
            } else if (tag != &tag_tcp && tag != &tag_unix) {
                tag->fn(s, tag, evs[i].events);
            }
        }
        if (s->tcp) MHD_run(s->tcp);
        if (s->unix_d) MHD_run(s->unix_d);
        runs_tick(s);
        handoff_tick(s);
        if (s->stopping) {
            if (runs_active(s) == 0 && handoff_active() == 0 && archive_active() == 0) break;
            double now = wr_mono();
            if (now >= s->stop_deadline && !s->aborted) {
                /* Past the grace period: runs end now; exports and imports get
                 * a moment to report their helpers' end to their clients. */
                runs_end_all(s);
                handoff_end_all(s);
                archive_abort_all();
                s->aborted = true;
            }
            if (now >= s->stop_deadline + 2) break;
        }
    }
}

int serve(const wr_config *cfg, const serve_opts *o, wr_err *e) {
    int r = 0;
    srv *s = calloc(1, sizeof *s);
    if (!s) return wr_sys(e, ENOMEM, "serve");
    s->opts = *o;
    s->epfd = s->sigfd = -1;
    s->started_at = wr_now();
    char sock_path[PATH_MAX];
    double rate = env_num("WARREN_RATE_LIMIT", 50000, 0, 1e9, e, &r);
    double crate = env_num("WARREN_CREATE_RATE", 20, 0, 1e9, e, &r);
    s->max_body = (size_t)env_num("WARREN_MAX_BODY", 1 << 20, 1024, 1 << 30, e, &r);
    s->max_upload = (uint64_t)env_num("WARREN_MAX_UPLOAD", 16.0 * (1ull << 30), 1024, 1e15, e, &r);
    s->grace = env_num("WARREN_GRACE_SECONDS", 10, 0, 86400, e, &r);
    unsigned conns = (unsigned)env_num("WARREN_MAX_CONNECTIONS", 4096, 1, 1 << 20, e, &r);
    unsigned ctimeout = (unsigned)env_num("WARREN_CLIENT_TIMEOUT", 30, 1, 3600, e, &r);
    if (r < 0) goto out;
    rlim_t fd_need = srv_fd_need(conns), nofile = srv_raise_fd_limit(fd_need);
    if (nofile < fd_need)
        fprintf(stderr,
                "warren: open files limited to %llu, under the %llu that %u connections per "
                "listener and %d runs at once may need; runs past it fail with \"Too many open "
                "files\" (raise the limit: LimitNOFILE= or ulimit -n)\n",
                (unsigned long long)nofile, (unsigned long long)fd_need, conns,
                RUNS_MAX_RUNNING + HANDOFF_MAX_RUNS);
    struct sockaddr_storage ss;
    socklen_t sslen;
    if ((r = parse_listen(o->listen ? o->listen : "127.0.0.1:8801", &ss, &sslen, e)) < 0) goto out;

    if ((r = wr_open(cfg, &s->w, e)) < 0) goto out;
    /* The helpers the daemon runs (export, import) use the same state. */
    char uid_range[64];
    snprintf(uid_range, sizeof uid_range, "%u-%u", cfg->uid_min, cfg->uid_max);
    setenv("WARREN_STATE_DIR", cfg->state_dir, 1);
    setenv("WARREN_USERS_BASE", cfg->users_base, 1);
    setenv("WARREN_USER_PREFIX", cfg->prefix, 1);
    setenv("WARREN_UID_RANGE", uid_range, 1);
    wr_admin_token_path(cfg->state_dir, s->admin_token_path, sizeof s->admin_token_path);
    if ((r = wr_admin_token_load(s->admin_token_path, s->admin_token, e)) < 0) goto out;
    wr_token_hash(s->admin_token, s->admin_hash);
    /* Bursts: two seconds' worth of requests, five of creates. */
    s->rl = ratelimit_new(rate, rate * 2 > 1 ? rate * 2 : 1, 4096);
    s->rl_create = ratelimit_new(crate, crate * 5 > 1 ? crate * 5 : 1, 4096);
    if (!s->rl || !s->rl_create) {
        r = wr_sys(e, ENOMEM, "rate limits");
        goto out;
    }
    if ((r = runs_init(s, e)) < 0) goto out;

    /* Signals arrive on the loop as fd events, never as handlers mid-request. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->sigfd < 0 || s->epfd < 0) {
        r = wr_sys(e, errno, "signalfd/epoll");
        goto out;
    }
    srv_watch(s, s->sigfd, &tag_signal, EPOLLIN);

    s->tcp = start_mhd(s, (struct sockaddr *)&ss, -1, conns, ctimeout);
    if (!s->tcp) {
        r = wr_sys(e, errno ? errno : EADDRINUSE, "cannot listen on %s",
                   o->listen ? o->listen : "127.0.0.1:8801");
        goto out;
    }
    srv_watch(s, epoll_fd_of(s->tcp), &tag_tcp, EPOLLIN);
    if (!o->socket || *o->socket) {
        if (o->socket)
            snprintf(sock_path, sizeof sock_path, "%s", o->socket);
        else
            snprintf(sock_path, sizeof sock_path, "%s/warren.sock", cfg->state_dir);
        int ufd = srv_unix_listen(sock_path, SOCK_STREAM, "--socket", e);
        if (ufd < 0) {
            r = ufd;
            goto out;
        }
        s->unix_d = start_mhd(s, NULL, ufd, conns, ctimeout);
        if (!s->unix_d) {
            close(ufd);
            r = wr_sys(e, errno ? errno : EIO, "cannot serve on %s", sock_path);
            goto out;
        }
        srv_watch(s, epoll_fd_of(s->unix_d), &tag_unix, EPOLLIN);
    }
    if ((r = handoff_listen(s, cfg->state_dir, e)) < 0) goto out;

    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->tcp, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET6_ADDRSTRLEN] = "127.0.0.1";
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
    unsigned port = di ? di->port : 0;
    if (!o->quiet) {
        printf("warren: serving http://%s%s%s:%u/%s\n", ss.ss_family == AF_INET6 ? "[" : "", host,
               ss.ss_family == AF_INET6 ? "]" : "", port,
               o->bench_floor ? " (bench floor: constant answers)" : "");
        if (s->unix_d) printf("warren: unix socket %s (root only)\n", sock_path);
        printf("warren: run socket %s (warren run hands its runs here)\n", handoff_path());
        printf("warren: admin token in %s\n", s->admin_token_path);
        fflush(stdout);
    }
    /* Off the CPUs placed tenants run on, while some CPU holds none
     * (supervisor.c); the upkeep keeps it current. A host whose affinity
     * cannot be read or set keeps the daemon where it is. */
    (void)wr_supervisor_place(s->w, NULL);
    loop(s);
    if (s->unix_d && (!o->socket || *o->socket)) unlink(sock_path);
    r = 0;
out:
    /* libmicrohttpd wants upgraded sockets handed back before it stops. */
    stream_close_all();
    if (s->tcp) MHD_stop_daemon(s->tcp);
    if (s->unix_d) MHD_stop_daemon(s->unix_d);
    runs_free_all(s);
    handoff_free_all(s);
    if (s->sigfd >= 0) close(s->sigfd);
    if (s->epfd >= 0) close(s->epfd);
    ratelimit_free(s->rl);
    ratelimit_free(s->rl_create);
    wr_close(s->w);
    explicit_bzero(s->admin_token, sizeof s->admin_token);
    free(s);
    return r;
}
