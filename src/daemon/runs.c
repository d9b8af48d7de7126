/* Runs the daemon starts and supervises from its event loop: each run's
 * pidfd (it ended), stdout and stderr pipes (buffered, the last OUT_MAX bytes
 * of each kept), and at the strong level its seccomp notification fd (a
 * refused call blocks the program until answered, so it is answered here).
 *
 * Each run is also a registry row (daemon_runs) in state `running` until it
 * ends. A daemon that dies leaves its rows `running`; the next one marks them
 * `lost` and audits run_lost, so GET .../runs reports them. (Their processes
 * died with the old daemon: spawn.c gives every run a parent-death signal,
 * and reconcile ends what a dead warren left in its cgroups.) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "audit.h"
#include "daemon.h"
#include "run.h"
#include "util.h"

#define OUT_MAX (256 * 1024)
#define KEEP_ENDED 64

typedef struct outbuf {
    char *data;
    size_t len;
    bool truncated; /* the head was dropped to keep the tail */
} outbuf;

typedef struct rtag {
    loop_tag base; /* first: the loop calls base.fn */
    struct drun *d;
    int which; /* 0 pidfd, 1 notify, 2 stdout, 3 stderr */
} rtag;

struct drun {
    struct drun *next;
    char id[WR_TOKEN_ID_LEN + 1];
    char tenant[WR_TENANT_ID_MAX + 1];
    wr_run *run;
    int fds[4];
    rtag tags[4];
    outbuf out[2];
    json_t *spec;
    const char *state; /* running, exited, signaled, timed_out, killed, failed */
    wr_run_result res;
    double started_at, ended_at;
    bool killed;
    int pid;
    wsconn *watchers; /* live output clients (r-stream.c) */
};

typedef struct tcount {
    struct tcount *next;
    uint64_t started;
    char tenant[];
} tcount;
static tcount *counts;

static void count_start(const char *tenant) {
    for (tcount *c = counts; c; c = c->next)
        if (streq(c->tenant, tenant)) {
            c->started++;
            return;
        }
    tcount *c = calloc(1, sizeof *c + strlen(tenant) + 1);
    if (!c) return;
    strcpy(c->tenant, tenant);
    c->started = 1;
    c->next = counts;
    counts = c;
}

void runs_counts(srv *s, runs_count_fn fn, void *userdata) {
    for (tcount *c = counts; c; c = c->next) {
        uint64_t active = 0;
        for (drun *d = s->runs; d; d = d->next)
            if (!d->ended_at && streq(d->tenant, c->tenant)) active++;
        fn(c->tenant, c->started, active, userdata);
    }
}

/* --- restart: runs that died with an earlier daemon --------------------------- */

static int mark_lost(const char *id, const char *tenant, const char *detail, const char *state,
                     double started_at, double ended_at, long daemon_pid, void *userdata) {
    srv *s = userdata;
    /* A daemon still alive on this state directory keeps its runs. */
    if (daemon_pid == getpid() || (daemon_pid > 0 && kill((pid_t)daemon_pid, 0) == 0)) return 0;
    json_t *d = json_loads(detail, 0, NULL);
    if (!d) d = json_object();
    json_object_set_new(d, "lost_with_daemon_pid", json_integer(daemon_pid));
    char *text = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(d);
    wr_runlog_end(s->w, id, "lost", wr_now(), text ? text : "{}", NULL);
    free(text);
    char ev[128];
    snprintf(ev, sizeof ev, "{\"run\":\"%s\",\"daemon_pid\":%ld}", id, daemon_pid);
    wr_audit_note(s->w, "run_lost", tenant, ev);
    return 0;
}

int runs_init(srv *s, wr_err *e) {
    return wr_runlog_foreach(s->w, NULL, "running", mark_lost, s, e);
}

/* --- output ----------------------------------------------------------------- */

static void out_add(outbuf *o, const char *p, size_t n) {
    if (n >= OUT_MAX) {
        p += n - OUT_MAX;
        n = OUT_MAX;
        o->len = 0;
        o->truncated = true;
    } else if (o->len + n > OUT_MAX) {
        size_t drop = o->len + n - OUT_MAX;
        memmove(o->data, o->data + drop, o->len - drop);
        o->len -= drop;
        o->truncated = true;
    }
    if (!o->data && !(o->data = malloc(OUT_MAX))) return;
    memcpy(o->data + o->len, p, n);
    o->len += n;
}

static void close_fd(srv *s, drun *d, int which) {
    if (d->fds[which] < 0) return;
    srv_unwatch(s, d->fds[which]);
    if (which >= 2) close(d->fds[which]); /* pidfd and notify fd belong to the wr_run */
    d->fds[which] = -1;
}

/* Reads what the pipe holds now; closes it at EOF. */
static void drain(srv *s, drun *d, int which) {
    char buf[16384];
    while (d->fds[which] >= 0) {
        ssize_t n = read(d->fds[which], buf, sizeof buf);
        if (n > 0) {
            out_add(&d->out[which - 2], buf, (size_t)n);
            for (wsconn *c = d->watchers, *next; c; c = next) {
                next = *watcher_next(c);
                stream_output(c, which == 2 ? "stdout" : "stderr", text_json(buf, (size_t)n));
            }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        close_fd(s, d, which);
    }
}

/* --- ending ----------------------------------------------------------------- */

static json_t *result_json(const drun *d, json_t *j) {
    bool ended = d->ended_at > 0;
    json_object_set_new(j, "ended_at", ended ? json_real(d->ended_at) : json_null());
    json_object_set_new(j, "exit_code",
                        ended && !d->res.signal ? json_integer(d->res.exit_code) : json_null());
    json_object_set_new(j, "signal", ended && d->res.signal ? json_integer(d->res.signal)
                                                            : json_null());
    json_object_set_new(j, "timed_out", json_boolean(d->res.timed_out));
    json_object_set_new(j, "killed", json_boolean(d->killed));
    if (ended) {
        json_object_set_new(j, "wall_seconds", json_real(d->res.wall_seconds));
        json_object_set_new(j, "cpu_seconds", json_real(d->res.cpu_seconds));
        json_object_set_new(j, "peak_rss", json_integer((json_int_t)d->res.peak_rss));
    }
    return j;
}

json_t *run_json(const drun *d) {
    json_t *j = json_pack("{s:s,s:s,s:s}", "id", d->id, "saas_user_id", d->tenant, "state",
                          d->state);
    json_object_update(j, d->spec);
    json_object_set_new(j, "pid", d->pid ? json_integer(d->pid) : json_null());
    json_object_set_new(j, "started_at", json_real(d->started_at));
    return result_json(d, j);
}

static void finish(srv *s, drun *d) {
    drain(s, d, 2);
    drain(s, d, 3);
    wr_err e = WR_ERR_INIT;
    if (wr_run_wait(d->run, &d->res, &e) < 0) fprintf(stderr, "warren: run %s: %s\n", d->id, e.msg);
    d->ended_at = wr_now();
    d->state = d->killed            ? "killed"
               : d->res.timed_out  ? "timed_out"
               : d->res.signal     ? "signaled"
                                   : "exited";
    /* The tree is gone now: what is left in the pipes is all there will be. */
    drain(s, d, 2);
    drain(s, d, 3);
    close_fd(s, d, 2);
    close_fd(s, d, 3);
    close_fd(s, d, 0);
    close_fd(s, d, 1);
    wr_run_free(d->run);
    d->run = NULL;
    json_t *j = run_json(d);
    json_object_del(j, "id");
    json_object_del(j, "saas_user_id");
    json_object_del(j, "state");
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(j);
    wr_runlog_end(s->w, d->id, d->state, d->ended_at, text ? text : "{}", NULL);
    free(text);
    s->nended++;
    wsconn *c = d->watchers;
    d->watchers = NULL;
    for (wsconn *next; c; c = next) {
        next = *watcher_next(c);
        stream_end(c, run_json(d));
    }
}

static void drun_free(drun *d) {
    if (d->run) wr_run_free(d->run);
    for (int i = 2; i < 4; i++)
        if (d->fds[i] >= 0) close(d->fds[i]);
    free(d->out[0].data);
    free(d->out[1].data);
    json_decref(d->spec);
    free(d);
}

/* Keeps the newest KEEP_ENDED ended runs in memory; older ones live on in
 * the registry (status without output). */
static void prune(srv *s) {
    size_t ended = 0;
    for (drun **pp = &s->runs; *pp;) {
        drun *d = *pp;
        if (d->ended_at && ++ended > KEEP_ENDED) {
            *pp = d->next;
            drun_free(d);
            s->nruns--;
            continue;
        }
        pp = &d->next;
    }
}

static void run_event(srv *s, loop_tag *tag, uint32_t events) {
    rtag *t = (rtag *)tag;
    drun *d = t->d;
    if (!d->run) return;
    switch (t->which) {
    case 0:
        finish(s, d);
        prune(s);
        break;
    case 1: {
        wr_err e = WR_ERR_INIT;
        /* Unwatched once its filter has no task left: it would poll as hung
         * up until the pidfd's turn. */
        if (wr_run_service(d->run, &e) < 0 || wr_run_notify_fd(d->run) < 0) close_fd(s, d, 1);
        break;
    }
    default:
        drain(s, d, t->which);
    }
}

int runs_timeout_ms(srv *s) {
    int best = -1;
    for (drun *d = s->runs; d; d = d->next) {
        if (!d->run) continue;
        int ms = wr_run_deadline_ms(d->run);
        if (ms >= 0 && (best < 0 || ms < best)) best = ms;
    }
    return best;
}

void runs_tick(srv *s) {
    for (drun *d = s->runs; d; d = d->next)
        if (d->run && wr_run_deadline_ms(d->run) == 0) wr_run_expire(d->run, NULL);
}

size_t runs_active(srv *s) {
    size_t n = 0;
    for (drun *d = s->runs; d; d = d->next)
        if (d->run) n++;
    return n;
}

void runs_end_all(srv *s) {
    for (drun *d = s->runs; d; d = d->next)
        if (d->run) {
            d->killed = true;
            wr_run_cancel(d->run, NULL);
            finish(s, d);
        }
}

void runs_free_all(srv *s) {
    while (s->runs) {
        drun *d = s->runs;
        s->runs = d->next;
        drun_free(d);
    }
    while (counts) {
        tcount *c = counts;
        counts = c->next;
        free(c);
    }
}

/* --- starting ----------------------------------------------------------------- */

static int random_id(char *out, wr_err *e) {
    unsigned char b[WR_TOKEN_ID_LEN / 2];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) return wr_sys(e, errno, "getrandom");
    for (size_t i = 0; i < sizeof b; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    return 0;
}

int runs_parse_spec(json_t *j, wr_run_spec *spec, char ***ret_argv, char ***ret_env,
                    wr_err *e) {
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (!streq(key, "command") && !streq(key, "shell") && !streq(key, "level") &&
            !streq(key, "env") && !streq(key, "cwd") && !streq(key, "service") &&
            !streq(key, "timeout"))
            return wr_invalid(e, "body: unknown field '%s'", key);
    }
    json_t *cmd = json_object_get(j, "command"), *sh = json_object_get(j, "shell");
    if (!!cmd == !!sh) return wr_invalid(e, "body: give exactly one of 'command' and 'shell'");
    if (cmd) {
        size_t n = json_array_size(cmd);
        if (!json_is_array(cmd) || n == 0 || n > 4096)
            return wr_invalid(e, "command: expected a non-empty array of strings");
        char **argv = calloc(n + 1, sizeof *argv);
        if (!argv) return wr_sys(e, ENOMEM, "command");
        for (size_t i = 0; i < n; i++) {
            const char *a = json_string_value(json_array_get(cmd, i));
            if (!a || strlen(a) != json_string_length(json_array_get(cmd, i))) {
                free(argv);
                return wr_invalid(e, "command[%zu]: expected a string without NUL", i);
            }
            argv[i] = (char *)a;
        }
        spec->argv = (const char *const *)argv;
        *ret_argv = argv;
    } else {
        if (!json_is_string(sh) || !*json_string_value(sh) ||
            strlen(json_string_value(sh)) != json_string_length(sh))
            return wr_invalid(e, "shell: expected a non-empty string without NUL");
        spec->shell = json_string_value(sh);
    }
    json_t *lv = json_object_get(j, "level");
    spec->level = WR_LEVEL_STRONG;
    if (lv) {
        if (!json_is_string(lv)) return wr_invalid(e, "level: expected a string");
        int r = wr_level_parse(json_string_value(lv), &spec->level, e);
        if (r < 0) return r;
    }
    json_t *env = json_object_get(j, "env");
    if (env) {
        if (!json_is_object(env) || json_object_size(env) > 1024)
            return wr_invalid(e, "env: expected an object of strings");
        char **ev = calloc(json_object_size(env) + 1, sizeof *ev);
        if (!ev) return wr_sys(e, ENOMEM, "env");
        *ret_env = ev;
        size_t i = 0;
        json_object_foreach(env, key, v) {
            const char *val = json_string_value(v);
            if (!val || strlen(val) != json_string_length(v) || !*key || strchr(key, '='))
                return wr_invalid(e, "env.%s: expected a string value and a name without '='",
                                  key);
            if (asprintf(&ev[i], "%s=%s", key, val) < 0) return wr_sys(e, ENOMEM, "env");
            i++;
        }
        spec->env = (const char *const *)ev;
    }
    json_t *cwd = json_object_get(j, "cwd"), *svc = json_object_get(j, "service"),
           *to = json_object_get(j, "timeout");
    if (cwd && !json_is_string(cwd)) return wr_invalid(e, "cwd: expected a string");
    if (svc && !json_is_string(svc)) return wr_invalid(e, "service: expected a string");
    spec->cwd = cwd ? json_string_value(cwd) : NULL;
    spec->service = svc ? json_string_value(svc) : NULL;
    if (to) {
        if (!json_is_number(to) || !(json_number_value(to) > 0) || json_number_value(to) > 1e7)
            return wr_invalid(e, "timeout: expected seconds > 0");
        spec->timeout = json_number_value(to);
    }
    return 0;
}

void runs_strv_free(char **v, bool items) {
    if (!v) return;
    if (items)
        for (char **p = v; *p; p++)
            free(*p);
    free(v);
}

int runs_start(srv *s, const char *tenant, json_t *body, drun **ret, wr_err *e) {
    if (runs_active(s) >= RUNS_MAX_RUNNING)
        return wr_fail(e, WR_ERR_LIMIT, EAGAIN, "%d runs are in progress; try again later",
                       RUNS_MAX_RUNNING);
    wr_run_spec spec = {.tenant = tenant, .stdio = {-1, -1, -1}};
    char **argv = NULL, **env = NULL;
    int r = runs_parse_spec(body, &spec, &argv, &env, e);
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    drun *d = NULL;
    if (r < 0) goto fail;
    d = calloc(1, sizeof *d);
    if (!d) {
        r = wr_sys(e, ENOMEM, "run");
        goto fail;
    }
    for (int i = 0; i < 4; i++) {
        d->fds[i] = -1;
        d->tags[i] = (rtag){{run_event}, d, i};
    }
    snprintf(d->tenant, sizeof d->tenant, "%s", tenant);
    if ((r = random_id(d->id, e)) < 0) goto fail;
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        r = wr_sys(e, errno, "pipe");
        goto fail;
    }
    spec.stdio[1] = out[1];
    spec.stdio[2] = err[1];
    if ((r = wr_run_start(s->w, &spec, &d->run, e)) < 0) goto fail;
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;
    d->fds[0] = wr_run_pidfd(d->run);
    d->fds[1] = wr_run_notify_fd(d->run);
    d->fds[2] = out[0];
    d->fds[3] = err[0];
    out[0] = err[0] = -1;
    fcntl(d->fds[2], F_SETFL, O_NONBLOCK);
    fcntl(d->fds[3], F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 4; i++)
        if (d->fds[i] >= 0) srv_watch(s, d->fds[i], &d->tags[i].base, EPOLLIN);
    d->pid = wr_run_pid(d->run);
    d->started_at = wr_now();
    d->state = "running";
    /* What the run was asked to do, as the status shows it (env values stay out:
     * they may be secrets). */
    d->spec = json_object();
    json_object_set_new(d->spec, "level", json_string(wr_level_name(spec.level)));
    if (spec.shell)
        json_object_set_new(d->spec, "shell", json_string(spec.shell));
    else
        json_object_set(d->spec, "command", json_object_get(body, "command"));
    json_object_set_new(d->spec, "cwd", spec.cwd ? json_string(spec.cwd) : json_null());
    json_object_set_new(d->spec, "service", spec.service ? json_string(spec.service) : json_null());
    json_object_set_new(d->spec, "timeout", spec.timeout > 0 ? json_real(spec.timeout) : json_null());
    char *text = json_dumps(d->spec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    wr_runlog_begin(s->w, d->id, tenant, text, d->started_at, NULL);
    free(text);
    count_start(tenant);
    d->next = s->runs;
    s->runs = d;
    s->nruns++;
    *ret = d;
    runs_strv_free(argv, false);
    runs_strv_free(env, true);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
    }
    if (d) drun_free(d);
    runs_strv_free(argv, false);
    runs_strv_free(env, true);
    return r;
}

drun *runs_find(srv *s, const char *tenant, const char *id) {
    for (drun *d = s->runs; d; d = d->next)
        if (streq(d->id, id) && streq(d->tenant, tenant)) return d;
    return NULL;
}

json_t *text_json(const char *data, size_t len) {
    json_t *j = len ? json_stringn(data, len) : json_string("");
    if (j) return j;
    char *t = malloc(len * 3 + 1), *p = t;
    if (!t) return json_string("");
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)data[i];
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        json_t *ok = n && i + n <= len && n > 1 ? json_stringn(data + i, n) : NULL;
        if (n == 1 && c) {
            *p++ = (char)c;
            i++;
        } else if (ok) {
            memcpy(p, data + i, n);
            p += n;
            i += n;
        } else {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            i++;
        }
        json_decref(ok);
    }
    j = json_stringn(t, (size_t)(p - t));
    free(t);
    return j ? j : json_string("");
}

static json_t *text_of(const outbuf *o) {
    return text_json(o->data, o->len);
}

json_t *run_output_json(const drun *d) {
    return json_pack("{s:s,s:s,s:o,s:o,s:b,s:b}", "id", d->id, "state", d->state, "stdout",
                     text_of(&d->out[0]), "stderr", text_of(&d->out[1]), "stdout_truncated",
                     d->out[0].truncated, "stderr_truncated", d->out[1].truncated);
}

int runs_signal(drun *d, int sig, wr_err *e) {
    if (!d->run) return wr_fail(e, WR_ERR_EXISTS, ESRCH, "run %s has ended", d->id);
    return wr_run_signal(d->run, sig, e);
}

void runs_watch(drun *d, wsconn *c) {
    *watcher_next(c) = d->watchers;
    d->watchers = c;
}

void runs_unwatch(drun *d, wsconn *c) {
    for (wsconn **pp = &d->watchers; *pp; pp = watcher_next(*pp))
        if (*pp == c) {
            *pp = *watcher_next(c);
            return;
        }
}

bool runs_running(const drun *d) {
    return d->run != NULL;
}

int runs_kill(drun *d, wr_err *e) {
    if (!d->run) return wr_fail(e, WR_ERR_EXISTS, ESRCH, "run %s has ended", d->id);
    d->killed = true;
    return wr_run_cancel(d->run, e);
}

typedef struct list_ctx {
    srv *s;
    json_t *list;
} list_ctx;

static int add_stored(const char *id, const char *tenant, const char *detail, const char *state,
                      double started_at, double ended_at, long daemon_pid, void *userdata) {
    list_ctx *c = userdata;
    if (runs_find(c->s, tenant, id)) return 0;
    json_t *j = json_pack("{s:s,s:s,s:s}", "id", id, "saas_user_id", tenant, "state", state);
    json_t *d = json_loads(detail, 0, NULL);
    if (d) json_object_update(j, d);
    json_decref(d);
    json_object_set_new(j, "started_at", json_real(started_at));
    json_object_set_new(j, "ended_at", ended_at > 0 ? json_real(ended_at) : json_null());
    json_array_append_new(c->list, j);
    return 0;
}

json_t *runs_list_json(srv *s, const char *tenant, wr_err *e) {
    list_ctx c = {s, json_array()};
    if (wr_runlog_foreach(s->w, tenant, NULL, add_stored, &c, e) < 0) {
        json_decref(c.list);
        return NULL;
    }
    /* Oldest first, as the registry lists them; in memory the newest is first. */
    json_t *mem = json_array();
    for (drun *d = s->runs; d; d = d->next)
        if (streq(d->tenant, tenant)) json_array_insert_new(mem, 0, run_json(d));
    json_array_extend(c.list, mem);
    json_decref(mem);
    return c.list;
}
