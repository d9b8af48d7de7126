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

/* One line, one write(2): O_APPEND makes each write land whole at the end, so
 * lines of concurrent warren processes never mix. */
static int append_line(warren *w, uint64_t id, double at, const char *type, const char *tenant,
                       json_t *detail, wr_err *e) {
    json_t *j = json_object();
    json_object_set_new(j, "id", json_integer((json_int_t)id));
    json_object_set_new(j, "at", json_real(at));
    json_object_set_new(j, "type", json_string(type));
    json_object_set_new(j, "tenant", tenant ? json_string(tenant) : json_null());
    json_object_set(j, "detail", detail);
    _cleanup_free_ char *text =
        json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(j);
    if (!text) return wr_sys(e, ENOMEM, "audit line");
    size_t n = strlen(text);
    _cleanup_free_ char *line = malloc(n + 2);
    if (!line) return wr_sys(e, ENOMEM, "audit line");
    memcpy(line, text, n);
    line[n] = '\n';
    char path[WR_BASE_MAX + 16];
    snprintf(path, sizeof path, "%s/audit.log", w->cfg.state_dir);
    _cleanup_close_ int fd =
        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return wr_sys(e, errno, "cannot open %s", path);
    ssize_t k = write(fd, line, n + 1);
    if (k < 0) return wr_sys(e, errno, "cannot write %s", path);
    if ((size_t)k != n + 1) return wr_sys(e, EIO, "short write to %s", path);
    return 0;
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
