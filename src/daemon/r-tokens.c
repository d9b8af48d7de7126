/* /v1/tenants/{id}/tokens: the admin issues and revokes tenant tokens. The
 * token itself is shown once, in the answer to POST; warren keeps its hash. */
#include <string.h>

#include "handlers.h"
#include "token.h"

int h_token_create(dreq *r) {
    wr_err e = WR_ERR_INIT;
    char token[WR_TOKEN_LEN + 1], id[WR_TOKEN_ID_LEN + 1];
    if (wr_token_create(srv_warren(r->s), r->params[0], token, id, &e) < 0)
        return reply_wr_err(r, &e);
    int ret = reply_json(r, 201, json_pack("{s:s,s:s,s:s}", "token", token, "id", id,
                                           "saas_user_id", r->params[0]));
    explicit_bzero(token, sizeof token);
    return ret;
}

static int revoke_tokens(dreq *r, const char *id) {
    wr_err e = WR_ERR_INIT;
    size_t n = 0;
    if (wr_token_revoke(srv_warren(r->s), r->params[0], id, &n, &e) < 0)
        return reply_wr_err(r, &e);
    return reply_json(r, 200, json_pack("{s:s,s:I}", "saas_user_id", r->params[0], "revoked",
                                        (json_int_t)n));
}

int h_tokens_revoke_all(dreq *r) {
    return revoke_tokens(r, NULL);
}

int h_token_revoke(dreq *r) {
    return revoke_tokens(r, r->params[1]);
}
