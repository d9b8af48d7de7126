/* The audit log: a registry table for queries and a JSON-lines file for
 * shippers (audit.h says why both). */
#include "audit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "util.h"
#include "warren-internal.h"

static bool type_ok(const char *t) {
    size_t n = strlen(t);
    if (n == 0 || n > WR_AUDIT_TYPE_MAX) return false;
    for (const char *p = t; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) return false;
    return true;
}

/* The line of one event, with its newline; NULL when out of memory. */
static char *line_text(uint64_t id, double at, const char *type, const char *tenant,
                       json_t *detail) {
    json_t *j = json_object();
    json_object_set_new(j, "id", json_integer((json_int_t)id));
    json_object_set_new(j, "at", json_real(at));
    json_object_set_new(j, "type", json_string(type));
    json_object_set_new(j, "tenant", tenant ? json_string(tenant) : json_null());
    json_object_set(j, "detail", detail);
    _cleanup_free_ char *text =
        json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(j);
    if (!text) return NULL;
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    if (!line) return NULL;
    memcpy(line, text, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

/* One write(2) of whole lines: O_APPEND makes each write land whole at the
 * end, so lines of concurrent warren processes never mix. */
static int write_lines(warren *w, const char *text, wr_err *e) {
    char path[WR_BASE_MAX + 16];
    snprintf(path, sizeof path, "%s/audit.log", w->cfg.state_dir);
    _cleanup_close_ int fd =
        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return wr_sys(e, errno, "cannot open %s", path);
    size_t n = strlen(text);
    ssize_t k = write(fd, text, n);
    if (k < 0) return wr_sys(e, errno, "cannot write %s", path);
    if ((size_t)k != n) return wr_sys(e, EIO, "short write to %s", path);
    return 0;
}

static int append_line(warren *w, uint64_t id, double at, const char *type, const char *tenant,
                       json_t *detail, wr_err *e) {
    _cleanup_free_ char *line = line_text(id, at, type, tenant, detail);
    if (!line) return wr_sys(e, ENOMEM, "audit line");
    return write_lines(w, line, e);
}

int wr_audit_record(warren *w, const char *type, const char *tenant, const char *detail_json,
                    wr_err *e) {
    if (!type || !type_ok(type))
        return wr_invalid(e, "audit event type '%s': expected [a-z0-9_]{1,%d}", type ? type : "",
                          WR_AUDIT_TYPE_MAX);
    json_t *detail;
    if (detail_json) {
        json_error_t je;
        detail = json_loads(detail_json, JSON_REJECT_DUPLICATES, &je);
        if (!detail) return wr_invalid(e, "audit event %s: detail: %s", type, je.text);
        if (!json_is_object(detail)) {
            json_decref(detail);
            return wr_invalid(e, "audit event %s: detail is not a JSON object", type);
        }
    } else {
        detail = json_object();
    }
    /* The stored text is jansson's own rendering, compact and valid. */
    _cleanup_free_ char *canon = json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!canon) {
        json_decref(detail);
        return wr_sys(e, ENOMEM, "audit event");
    }
    double at = wr_now();
    uint64_t id = 0;
    int r = wr_store_add_audit(w->store, at, type, tenant, canon, &id, e);
    if (r >= 0) r = append_line(w, id, at, type, tenant, detail, e);
    json_decref(detail);
    return r < 0 ? r : 0;
}

void wr_audit_note(warren *w, const char *type, const char *tenant, const char *detail_json) {
    wr_err e = WR_ERR_INIT;
    if (wr_audit_record(w, type, tenant, detail_json, &e) < 0)
        fprintf(stderr, "warren: audit: %s\n", e.msg);
}

typedef struct query_ctx {
    int (*fn)(const wr_audit_event *ev, void *userdata);
    void *userdata;
} query_ctx;

static int query_row(uint64_t id, double at, const char *type, const char *tenant,
                     const char *detail, void *userdata) {
    query_ctx *q = userdata;
    wr_audit_event ev = {.id = id, .at = at, .type = type, .tenant = tenant, .detail_json = detail};
    return q->fn(&ev, q->userdata);
}

int wr_audit_query(warren *w, const wr_audit_filter *f,
                   int (*fn)(const wr_audit_event *ev, void *userdata), void *userdata, wr_err *e) {
    wr_audit_filter none = {0};
    if (!f) f = &none;
    if (f->type && !type_ok(f->type))
        return wr_invalid(e, "audit event type '%s': expected [a-z0-9_]{1,%d}", f->type,
                          WR_AUDIT_TYPE_MAX);
    if (f->tenant && wr_check_tenant_id(f->tenant, e) < 0) return -EINVAL;
    query_ctx q = {fn, userdata};
    return wr_store_foreach_audit(w->store, f->tenant, f->type, f->since, f->after_id, f->limit,
                                  query_row, &q, e);
}

int wr_audit_parse_since(const char *s, double *ret, wr_err *e) {
    if (!s || !*s) return wr_invalid(e, "--since: empty value");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!errno && end != s && isfinite(v) && v >= 0) {
        double unit = 0;
        if (!*end)
            unit = -1; /* plain seconds since the epoch */
        else if (!end[1])
            unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
        if (unit < 0 && strchr(s, '-') == NULL) {
            *ret = v;
            return 0;
        }
        if (unit > 0) {
            *ret = wr_now() - v * unit;
            return 0;
        }
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (rest && (*rest == 'T' || *rest == ' ')) rest = strptime(rest + 1, "%H:%M:%S", &tm);
    if (rest && *rest == 'Z') rest++;
    if (!rest || *rest)
        return wr_invalid(e,
                          "--since '%s': expected seconds since the epoch, YYYY-MM-DD[THH:MM:SS] "
                          "(UTC) or an age like 90s, 15m, 2h, 7d",
                          s);
    *ret = (double)timegm(&tm);
    return 0;
}

int wr_runlog_begin(warren *w, const char *run_id, const char *tenant, const char *detail_json,
                    double started_at, wr_err *e) {
    return wr_store_add_run(w->store, run_id, tenant, detail_json ? detail_json : "{}",
                            started_at, (long)getpid(), e);
}

int wr_runlog_end(warren *w, const char *run_id, const char *state, double ended_at,
                  const char *detail_json, wr_err *e) {
    return wr_store_end_run(w->store, run_id, state, ended_at, detail_json ? detail_json : "{}",
                            e);
}

int wr_runlog_foreach(warren *w, const char *tenant, const char *state, wr_runlog_fn fn,
                      void *userdata, wr_err *e) {
    return wr_store_foreach_run(w->store, tenant, state, fn, userdata, e);
}

/* Checks one event's type and detail; the parsed detail (an object). */
static int parse_event(const wr_audit_new *ev, json_t **ret, wr_err *e) {
    if (!ev->type || !type_ok(ev->type))
        return wr_invalid(e, "audit event type '%s': expected [a-z0-9_]{1,%d}",
                          ev->type ? ev->type : "", WR_AUDIT_TYPE_MAX);
    if (!ev->detail_json) {
        *ret = json_object();
        return *ret ? 0 : wr_sys(e, ENOMEM, "audit event");
    }
    json_error_t je;
    json_t *d = json_loads(ev->detail_json, JSON_REJECT_DUPLICATES, &je);
    if (!d) return wr_invalid(e, "audit event %s: detail: %s", ev->type, je.text);
    if (!json_is_object(d)) {
        json_decref(d);
        return wr_invalid(e, "audit event %s: detail is not a JSON object", ev->type);
    }
    *ret = d;
    return 0;
}

int wr_audit_record_batch(warren *w, const wr_audit_new *ev, size_t n, wr_err *e) {
    if (n == 0) return 0;
    if (n > WR_AUDIT_BATCH_MAX)
        return wr_invalid(e, "audit: %zu events at once (at most %d)", n, WR_AUDIT_BATCH_MAX);
    json_t *detail[WR_AUDIT_BATCH_MAX] = {0};
    char *canon[WR_AUDIT_BATCH_MAX] = {0};
    char *lines[WR_AUDIT_BATCH_MAX] = {0};
    int r = 0;
    for (size_t i = 0; i < n && r >= 0; i++)
        if ((r = parse_event(&ev[i], &detail[i], e)) >= 0 &&
            !(canon[i] = json_dumps(detail[i], JSON_COMPACT | JSON_PRESERVE_ORDER)))
            r = wr_sys(e, ENOMEM, "audit event");
    double now = wr_now();
    /* One transaction: one commit for all of them. */
    if (r >= 0) r = wr_store_begin(w->store, e);
    if (r >= 0) {
        size_t total = 1;
        for (size_t i = 0; i < n && r >= 0; i++) {
            double at = ev[i].at > 0 ? ev[i].at : now;
            uint64_t id = 0;
            if ((r = wr_store_add_audit(w->store, at, ev[i].type, ev[i].tenant, canon[i], &id,
                                        e)) < 0)
                break;
            if (!(lines[i] = line_text(id, at, ev[i].type, ev[i].tenant, detail[i])))
                r = wr_sys(e, ENOMEM, "audit line");
            else
                total += strlen(lines[i]);
        }
        if (r >= 0) r = wr_store_commit(w->store, e);
        if (r < 0) wr_store_rollback(w->store);
        _cleanup_free_ char *text = r >= 0 ? malloc(total) : NULL;
        if (r >= 0 && !text) r = wr_sys(e, ENOMEM, "audit line");
        if (r >= 0) {
            text[0] = '\0';
            for (size_t i = 0; i < n; i++)
                strcat(text, lines[i]);
            r = write_lines(w, text, e);
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(detail[i]);
        free(canon[i]);
        free(lines[i]);
    }
    return r < 0 ? r : 0;
}

void wr_audit_note_batch(warren *w, const wr_audit_new *ev, size_t n) {
    wr_err e = WR_ERR_INIT;
    if (wr_audit_record_batch(w, ev, n, &e) < 0) fprintf(stderr, "warren: audit: %s\n", e.msg);
}
