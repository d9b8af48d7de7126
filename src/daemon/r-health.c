/* /healthz and /metrics. */
#include <stdlib.h>

#include "handlers.h"
#include "util.h"

int h_healthz(dreq *r) {
    return reply_json(r, 200,
                      json_pack("{s:s,s:f,s:I}", "status", r->s->stopping ? "stopping" : "ok",
                                "uptime_seconds", wr_now() - srv_started_at(r->s), "runs_active",
                                (json_int_t)runs_active(r->s)));
}

int h_metrics(dreq *r) {
    char *text;
    size_t n;
    if (metrics_render(r->s, &text, &n) < 0)
        return reply_error(r, 500, "system", "cannot render metrics");
    int ret = reply_text(r, 200, "text/plain; version=0.0.4", text, n);
    free(text);
    return ret;
}
