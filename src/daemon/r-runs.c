/* /v1/tenants/{id}/runs: start, list, status, buffered output, signal, kill. */
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "run.h"
#include "util.h"

static drun *find(dreq *r, int *ret) {
    drun *d = runs_find(r->s, r->params[0], r->params[1]);
    if (!d)
        *ret = reply_error(r, 404, "not_found",
                           "run '%s' of tenant '%s' not found (or no longer kept in memory)",
                           r->params[1], r->params[0]);
    return d;
}

int h_run_start(dreq *r) {
    json_t *b = req_json(r, false);
    if (!b) return MHD_YES;
    wr_err e = WR_ERR_INIT;
    drun *d;
    int q = runs_start(r->s, r->params[0], b, &d, &e);
    json_decref(b);
    /* The program itself is the caller's mistake, not the server's. */
    if (q < 0 && e.exit_code == WR_EXIT_NOTFOUND)
        return reply_error(r, 400, "program_not_found", "%s", e.msg);
    if (q < 0 && e.exit_code == WR_EXIT_NOEXEC)
        return reply_error(r, 400, "program_not_executable", "%s", e.msg);
    if (q < 0) return reply_wr_err(r, &e);
    return reply_json(r, 201, run_json(d));
}

int h_runs_list(dreq *r) {
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    if (wr_tenant_get(srv_warren(r->s), r->params[0], &t, &e) < 0) return reply_wr_err(r, &e);
    json_t *list = runs_list_json(r->s, r->params[0], &e);
    if (!list) return reply_wr_err(r, &e);
    size_t n = json_array_size(list);
    return reply_json(r, 200, json_pack("{s:o,s:I}", "runs", list, "count", (json_int_t)n));
}

int h_run_get(dreq *r) {
    int ret;
    drun *d = find(r, &ret);
    return d ? reply_json(r, 200, run_json(d)) : ret;
}

int h_run_output(dreq *r) {
    int ret;
    drun *d = find(r, &ret);
    return d ? reply_json(r, 200, run_output_json(d)) : ret;
}

/* "TERM", "SIGTERM" or 15; only the signals a program may reasonably get. */
static int signal_of(json_t *v) {
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
                 {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT},
                 {"STOP", SIGSTOP}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH}};
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
            if (names[i].sig == n) return (int)n;
        return -1;
    }
    const char *s = json_string_value(v);
    if (!s) return -1;
    if (!strncasecmp(s, "SIG", 3)) s += 3;
    for (size_t i = 0; i < ELEMENTSOF(names); i++)
        if (!strcasecmp(s, names[i].name)) return names[i].sig;
    return -1;
}

int h_run_signal(dreq *r) {
    int ret;
    drun *d = find(r, &ret);
    if (!d) return ret;
    json_t *b = req_json(r, false);
    if (!b) return MHD_YES;
    int sig = signal_of(json_object_get(b, "signal"));
    json_decref(b);
    if (sig < 0)
        return reply_error(r, 400, "invalid",
                           "signal: expected one of HUP INT QUIT KILL USR1 USR2 TERM CONT STOP "
                           "ALRM WINCH, or its number");
    wr_err e = WR_ERR_INIT;
    if (runs_signal(d, sig, &e) < 0) return reply_wr_err(r, &e);
    return reply_json(r, 200, json_pack("{s:s,s:i}", "id", r->params[1], "signal", sig));
}

int h_run_kill(dreq *r) {
    int ret;
    drun *d = find(r, &ret);
    if (!d) return ret;
    /* Idempotent: killing a run that has ended already just says so. */
    bool was_running = runs_running(d);
    wr_err e = WR_ERR_INIT;
    if (was_running && runs_kill(d, &e) < 0) return reply_wr_err(r, &e);
    return reply_json(r, 200, json_pack("{s:s,s:b}", "id", r->params[1], "killed", was_running));
}
