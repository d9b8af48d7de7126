/* /v1/tenants/{id}/quotas and /usage: thin routes over quota.h and usage.h,
 * in the shapes `warren quota get --json` and `warren stats --json` use. */
#include <errno.h>
#include <stdio.h>

#include "handlers.h"
#include "quota.h"
#include "usage.h"

static int answer(dreq *r, const char *tenant, unsigned status) {
    wr_err e = WR_ERR_INIT;
    wr_quota own, eff;
    warren *w = srv_warren(r->s);
    if (wr_quota_get(w, tenant, &own, &e) < 0 || wr_quota_effective(w, tenant, &eff, &e) < 0)
        return reply_wr_err(r, &e);
    return reply_json(r, status,
                      json_pack("{s:s,s:o,s:o}", "saas_user_id", tenant, "own", wr_quota_json(&own),
                                "effective", wr_quota_json(&eff)));
}

int h_quotas_get(dreq *r) {
    return answer(r, r->params[0], 200);
}

/* Body keys are the CLI's option names with '_' or '-' ("cpu_weight"); values
 * strings ("512M", "0.5", "10mbit", "max", "default") or plain numbers. */
int quota_change_from_json(json_t *body, wr_quota *change, wr_err *e) {
    wr_quota_init(change);
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        char name[32], val[64];
        snprintf(name, sizeof name, "%s", key);
        for (char *p = name; *p; p++)
            if (*p == '_') *p = '-';
        if (json_is_string(v))
            snprintf(val, sizeof val, "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(val, sizeof val, "%.6g", json_real_value(v));
        else
            return wr_invalid(e, "quotas.%s: expected a string or a number", key);
        int q = wr_quota_parse_option(change, name, val, e);
        if (q < 0) return q;
    }
    return 0;
}

int h_quotas_put(dreq *r) {
    json_t *b = req_json(r, false);
    if (!b) return MHD_YES;
    wr_err e = WR_ERR_INIT;
    wr_quota change;
    int q = quota_change_from_json(b, &change, &e);
    json_decref(b);
    if (q < 0) return reply_wr_err(r, &e);
    if (wr_quota_set(srv_warren(r->s), r->params[0], &change, NULL, &e) < 0)
        return reply_wr_err(r, &e);
    return answer(r, r->params[0], 200);
}

/* The shape of `warren stats --json`. */
int h_usage(dreq *r) {
    wr_err e = WR_ERR_INIT;
    wr_usage u;
    if (wr_tenant_usage(srv_warren(r->s), r->params[0], &u, &e) < 0) return reply_wr_err(r, &e);
    json_t *j = wr_usage_json(&u);
    if (!j) return reply_error(r, 500, "system", "cannot render the usage");
    return reply_json(r, 200, j);
}
