/* Answering requests: JSON bodies, the two error shapes, query values. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "util.h"

/* Every answer goes out here, with the same headers whatever its body. */
static int queue(dreq *r, unsigned status, const char *type, struct MHD_Response *resp) {
    MHD_add_response_header(resp, "Content-Type", type);
    /* Nothing a daemon answers may be framed or sniffed as something else. */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    r->status = status;
    int ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

int reply_text(dreq *r, unsigned status, const char *type, const char *text, size_t len) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    return queue(r, status, type, resp);
}

int reply_json(dreq *r, unsigned status, json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(j);
    if (!text) return MHD_NO;
    size_t n = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    return queue(r, status, "application/json", resp);
}

__attribute__((format(printf, 4, 0))) static int reply_error_v(dreq *r, unsigned status,
                                                                 const char *code,
                                                                 const char *fmt, va_list ap) {
    char msg[1200];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *j;
    /* A message may quote a byte string the client sent; jansson only takes
     * UTF-8, so fall back to a generic message rather than fail to answer. */
    json_t *m = json_string(msg);
    if (!m) m = json_string("the request was refused (its text is not valid UTF-8)");
    if (r->compat)
        j = json_pack("{s:o}", "detail", m);
    else
        j = json_pack("{s:{s:s,s:o}}", "error", "code", code, "message", m);
    return reply_json(r, status, j);
}

int reply_error(dreq *r, unsigned status, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int ret = reply_error_v(r, status, code, fmt, ap);
    va_end(ap);
    return ret;
}

int reply_wr_err(dreq *r, const wr_err *e) {
    return reply_error(r, (unsigned)wr_err_http_status(e), wr_kind_name(e->kind), "%s",
                       e->msg[0] ? e->msg : "failed");
}

const char *req_query(dreq *r, const char *key) {
    /* Values arrive raw (server.c turns libmicrohttpd's unescaping off). */
    const char *raw = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
    if (!raw) return NULL;
    if (r->nscratch == ELEMENTSOF(r->scratch)) return NULL;
    char *v = percent_decode(raw, strlen(raw), true);
    if (!v) return NULL;
    r->scratch[r->nscratch++] = v;
    return v;
}

int parse_bool(const char *v, bool dflt) {
    if (!v) return dflt;
    if (streq(v, "true") || streq(v, "1") || streq(v, "True")) return 1;
    if (streq(v, "false") || streq(v, "0") || streq(v, "False")) return 0;
    return -1;
}

json_t *req_json(dreq *r, bool optional) {
    if (r->body_len == 0 && optional) return json_object();
    char msg[256];
    json_t *j = parse_body(r->body ? r->body : "", r->body_len, msg, sizeof msg);
    if (!j) reply_error(r, 400, "invalid", "%s", msg);
    return j;
}
