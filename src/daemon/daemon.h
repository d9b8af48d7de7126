/* warren serve: the REST API daemon.
 *
 * Theory of operation. One thread runs one epoll loop (server.c) that holds
 * everything the daemon waits on: libmicrohttpd's own epoll fd for the TCP
 * listener and for the root-only Unix socket, a signalfd (SIGTERM/SIGINT),
 * and for each supervised run its pidfd, its stdout/stderr pipes and, at the
 * strong level, its seccomp notification fd (runs.c). The run socket, where
 * `warren run` hands the daemon its runs with their stdio, and each such
 * run's client, pidfd and listener are in it too (handoff.c). Because nothing else
 * runs concurrently, handlers use the library's single registry connection
 * without locks; a handler must therefore never block for long.
 *
 * A request goes: libmicrohttpd parses it (header size and connection limits,
 * timeouts) -> access handler collects the body (size limit) -> on the last
 * call: rate limit, route match (router.c), refusal of tokens in the query,
 * authentication (auth.c), the route's access rule, the handler (one file
 * per resource: r-*.c). Handlers answer with the JSON helpers below; errors
 * take pactown's {"detail": "..."} shape on the seed-001 routes and
 * {"error":{"code","message"}} everywhere else. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "err.h"
#include "run.h"
#include "tenant.h"
#include "token.h"

typedef struct srv srv;
typedef struct dreq dreq;

/* Who may call a route. */
typedef enum route_access {
    ACCESS_PUBLIC, /* anyone, no token */
    ACCESS_ADMIN,  /* the admin token (or root over the Unix socket) */
    ACCESS_TENANT, /* the admin, or a token of the tenant the path names ({id}) */
} route_access;

typedef struct route {
    const char *method;
    const char *pattern; /* "/v1/tenants/{id}/runs/{run}": {x} is one path segment */
    route_access access;
    bool compat; /* a seed-001 route: pactown's error shape */
    int (*handler)(dreq *r);
    const char *summary;
    const char *body; /* NULL, or the JSON text of the request body's schema */
} route;

extern const route routes[];
extern const size_t nroutes;

#define MAX_PARAMS 4

typedef enum principal_kind {
    WHO_NONE,
    WHO_ADMIN,
    WHO_TENANT,
} principal_kind;

struct dreq {
    srv *s;
    struct MHD_Connection *conn;
    const route *route;
    char method[16];
    char *path; /* raw (still percent-encoded), without the query */
    char *params[MAX_PARAMS]; /* decoded {x} segments, in order */
    size_t nparams;
    char *body;
    size_t body_len, body_cap;
    bool body_too_big;
    bool compat;
    principal_kind who;
    char tenant[WR_TENANT_ID_MAX + 1]; /* WHO_TENANT: whose token */
    double t0;
    unsigned status;
    bool unix_peer; /* came over the Unix socket */
    /* A route that answers later (import): set before resuming the
     * connection; the next handler call sends it. */
    json_t *later;
    unsigned later_status;
    int upload_fd; /* import: the body, spooled to an unnamed file (-1: none) */
    uint64_t upload_len, upload_max;
    bool suspended;
    char *scratch[8]; /* decoded query values, freed with the request */
    size_t nscratch;
};

/* --- router.c: matching, decoding (no I/O; fuzzed) --------------------------- */

typedef enum match_result {
    MATCH_OK,
    MATCH_NO_ROUTE,  /* 404 */
    MATCH_BAD_METHOD, /* 405 */
    MATCH_BAD_PATH,  /* 400: bad percent-encoding, NUL, empty segment */
} match_result;

/* Matches method + raw path against the table; on MATCH_OK fills *ret_route
 * and ret_params (malloc'ed, decoded). */
match_result route_match(const char *method, const char *path, const route **ret_route,
                         char *ret_params[MAX_PARAMS], size_t *ret_n);
/* Decodes %XX (and '+' as space when `plus`) into a new string; NULL if an
 * escape is malformed or decodes to NUL. */
char *percent_decode(const char *s, size_t n, bool plus);
/* Whether a raw query string carries a credential (refused: it ends in logs). */
bool query_has_token(const char *query);
bool query_key_is_token(const char *raw_key);
/* Parses a request body as strict JSON: an object, UTF-8, no duplicate keys.
 * NULL with msg filled otherwise. */
json_t *parse_body(const char *body, size_t len, char *msg, size_t msg_n);

/* --- http.c: answering ------------------------------------------------------- */

int reply_json(dreq *r, unsigned status, json_t *j); /* takes j */
int reply_text(dreq *r, unsigned status, const char *type, const char *text, size_t len);
/* An error in the route's shape: {"detail": msg} or {"error":{"code","message"}}. */
int reply_error(dreq *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An error from the library, with the status its kind maps to. */
int reply_wr_err(dreq *r, const wr_err *e);
/* A decoded query value (freed with the request), or NULL. */
const char *req_query(dreq *r, const char *key);
/* Query flags: "true"/"1" or "false"/"0"; -1 for anything else. */
int parse_bool(const char *v, bool dflt);
/* The request body as a JSON object, or NULL after answering 400 (or with
 * an empty object when there is no body and `optional`). */
json_t *req_json(dreq *r, bool optional);

/* --- auth.c ------------------------------------------------------------------ */

/* Fills r->who from the Authorization / X-Runner-Token header or the Unix
 * socket's peer. Returns 0, or an MHD result after answering 401. */
int auth_identify(dreq *r, bool *answered);
/* The route's rule against r->who; answers 401/403 (and audits a cross-tenant
 * attempt) when it fails. True when the request may proceed. */
bool auth_allow(dreq *r, const char *tenant, int *ret_mhd);

/* --- ratelimit.c: per-client token buckets ----------------------------------- */

typedef struct ratelimit ratelimit;
ratelimit *ratelimit_new(double rate, double burst, size_t slots);
void ratelimit_free(ratelimit *rl);
/* Whether the client (an address) may make one more request now. */
bool ratelimit_take(ratelimit *rl, const void *key, size_t keylen, double now);

/* --- metrics.c --------------------------------------------------------------- */

void metrics_observe(srv *s, unsigned status, double seconds);
int metrics_render(srv *s, char **ret, size_t *ret_len);

/* --- runs.c: runs the daemon supervises --------------------------------------- */

typedef struct drun drun;
/* Runs started through the API at once; more are refused until one ends. */
#define RUNS_MAX_RUNNING 256
int runs_init(srv *s, wr_err *e); /* marks runs of a dead daemon lost */
/* Checks a run's body (as POST .../runs takes it) and fills the spec's
 * command, level, env, cwd, service and timeout. Strings stay owned by `j`;
 * *ret_argv and *ret_env (NULL if none) are the caller's to free with
 * runs_strv_free (false: argv's strings are j's; true: env's are its own).
 * No I/O: fuzzed. */
int runs_parse_spec(json_t *j, wr_run_spec *spec, char ***ret_argv, char ***ret_env, wr_err *e);
void runs_strv_free(char **v, bool items);
int runs_start(srv *s, const char *tenant, json_t *spec, drun **ret, wr_err *e);
drun *runs_find(srv *s, const char *tenant, const char *id);
json_t *run_json(const drun *d);
json_t *run_output_json(const drun *d);
int runs_signal(drun *d, int sig, wr_err *e);
int runs_kill(drun *d, wr_err *e);
bool runs_running(const drun *d);
/* Every run of the tenant: live and recent from memory, older ones and those
 * lost with a previous daemon from the registry. */
json_t *runs_list_json(srv *s, const char *tenant, wr_err *e);
/* Event-loop hooks: timeouts, shutdown. */
int runs_timeout_ms(srv *s);
void runs_tick(srv *s);
size_t runs_active(srv *s);
void runs_end_all(srv *s);
void runs_free_all(srv *s);
/* Live output (r-stream.c): WebSocket clients watching a run. */
typedef struct wsconn wsconn;
void runs_watch(drun *d, wsconn *c);
void runs_unwatch(drun *d, wsconn *c);
wsconn **watcher_next(wsconn *c); /* the link of a run's list of watchers */
void stream_output(wsconn *c, const char *stream, json_t *data); /* takes data */
void stream_end(wsconn *c, json_t *status);                       /* takes status */
/* Closes every live-output connection (the daemon is stopping). */
void stream_close_all(void);
/* Bytes as a JSON string; what is not UTF-8 becomes U+FFFD. */
json_t *text_json(const char *p, size_t n);
/* Per-tenant counts for /metrics. */
typedef void (*runs_count_fn)(const char *tenant, uint64_t started, uint64_t active,
                              void *userdata);
void runs_counts(srv *s, runs_count_fn fn, void *userdata);

/* --- handoff.c: runs `warren run` hands to the daemon (handoff.h) ------------- */

/* A parsed request: spec's strings are j's, argv and env as runs_parse_spec
 * leaves them. */
typedef struct handoff_req {
    json_t *j;
    wr_run_spec spec;
    char **argv, **env;
    cpu_set_t cpus; /* spec.cpus points here when the request names them */
} handoff_req;
/* Checks one request message (no I/O; fuzzed). Free with handoff_req_free,
 * whatever it returned. */
int handoff_parse(const char *buf, size_t n, handoff_req *ret, wr_err *e);
void handoff_req_free(handoff_req *r);
/* Runs handed over at once; more are refused until one ends. */
#define HANDOFF_MAX_RUNS 1024
/* <state_dir>/run.sock, in the loop. */
int handoff_listen(srv *s, const char *state_dir, wr_err *e);
const char *handoff_path(void);
void handoff_stop_listening(srv *s); /* and removes the socket */
/* Event-loop hooks, as runs.c's. */
size_t handoff_active(void);
int handoff_timeout_ms(void);
void handoff_tick(srv *s);
void handoff_end_all(srv *s);
void handoff_free_all(srv *s);

/* --- r-archive.c: exports and imports in flight ---------------------------- */

size_t archive_active(void);
void archive_abort_all(void); /* ends their helpers; they finish through the loop */

/* --- fdlimit.c: the daemon's own open-files limit ----------------------------- */

/* What the daemon's caps may hold open at once, with conns HTTP connections
 * per listener. */
rlim_t srv_fd_need(unsigned conns_per_listener);
/* Raises the soft limit (and, if it may, the hard one) towards need; the
 * soft limit it has now. */
rlim_t srv_raise_fd_limit(rlim_t need);

/* --- server.c ---------------------------------------------------------------- */

typedef struct serve_opts {
    const char *listen;   /* "ADDR:PORT"; NULL: 127.0.0.1:8801 */
    const char *socket;   /* Unix socket path; NULL: <state>/warren.sock; "" none */
    bool bench_floor;     /* answer every request with a constant body */
    bool quiet;
} serve_opts;

int serve(const wr_config *cfg, const serve_opts *o, wr_err *e);

/* What handlers reach through r->s. */
warren *srv_warren(srv *s);
/* Something the loop waits on: an fd registered with srv_watch comes back
 * as a call of tag->fn when it is ready. Embed it first in your own struct. */
typedef struct loop_tag loop_tag;
struct loop_tag {
    void (*fn)(srv *s, loop_tag *t, uint32_t events);
};
int srv_watch(srv *s, int fd, loop_tag *tag, uint32_t events);
/* A listening Unix socket of `type` at path, mode 0600 (a stale socket there
 * replaced, anything else refused); `what` names it in errors. */
int srv_unix_listen(const char *path, int type, const char *what, wr_err *e);
void srv_unwatch(srv *s, int fd);
bool srv_may_create(srv *s, dreq *r); /* the create rate limit */
double srv_started_at(srv *s);

/* --- the server's state (server.c owns it; the other files read it) ---------- */

#define LAT_BUCKETS 12
extern const double lat_bounds[LAT_BUCKETS]; /* seconds; the last is +Inf */

struct srv {
    warren *w;
    serve_opts opts;
    char admin_token[WR_TOKEN_LEN + 1];
    unsigned char admin_hash[32];
    char admin_token_path[4096];
    struct MHD_Daemon *tcp, *unix_d;
    int epfd, sigfd, tcp_ep, unix_ep;
    bool stopping, aborted;
    double started_at, stop_deadline, grace;
    ratelimit *rl, *rl_create;
    size_t max_body;
    uint64_t max_upload; /* import archives */
    /* metrics */
    uint64_t requests_total, status_counts[6]; /* 1xx..5xx by first digit; [0] other */
    uint64_t lat_counts[LAT_BUCKETS];
    double lat_sum;
    uint64_t denied_total, cross_tenant_total, rate_limited_total;
    /* runs.c */
    struct drun *runs;        /* newest first */
    size_t nruns, nended;
};
