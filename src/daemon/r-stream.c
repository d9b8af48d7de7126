/* GET /v1/tenants/{id}/runs/{run}/stream: a run's output live, over a
 * WebSocket (RFC 6455 framing by wslay; the handshake's SHA-1 and base64 by
 * OpenSSL). libmicrohttpd hands over the upgraded socket; from then on it is
 * one more fd in the daemon's loop, set TCP_NODELAY so small frames leave at
 * once.
 *
 * The client gets text frames, each a JSON object: first what the run has
 * written so far, then each new chunk as it comes, {"stream":"stdout"|"stderr",
 * "data":"..."} (bytes that are not UTF-8 as U+FFFD), and when the run ends
 * {"event":"end","run":{status}}, then a close frame. What the client sends
 * is read and ignored (pings are answered). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <wslay/wslay.h>

#include "handlers.h"
#include "util.h"

struct wsconn {
    loop_tag tag;
    srv *s;
    drun *run; /* NULL once the run is gone */
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    wslay_event_context_ptr ctx;
    uint32_t events; /* what the loop watches now */
    bool close_pending; /* close once the queued frames are out */
    struct wsconn *next; /* the run's other watchers */
    struct wsconn *all_prev, *all_next; /* every connection, for the stop */
};

static wsconn *all;

wsconn **watcher_next(wsconn *c) {
    return &c->next;
}

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user) {
    wsconn *c = user;
    ssize_t n;
    do
        n = recv(c->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return n;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user) {
    wsconn *c = user;
    ssize_t n;
    do
        n = send(c->fd, data, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return n;
}

static void ws_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user) {
    /* Nothing the client says matters; wslay answers pings and closes. */
}

static void ws_free(wsconn *c) {
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        all = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
    srv_unwatch(c->s, c->fd);
    if (c->run) runs_unwatch(c->run, c);
    wslay_event_context_free(c->ctx);
    MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(c);
}

/* Sends what can be sent, and watches for what the connection needs next. */
static void ws_pump(wsconn *c) {
    /* wslay sends control frames ahead of data: the close waits until the
     * output frames before it have left. */
    if (c->close_pending && wslay_event_send(c->ctx) == 0 &&
        wslay_event_get_queued_msg_count(c->ctx) == 0) {
        c->close_pending = false;
        wslay_event_queue_close(c->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
    }
    if (wslay_event_send(c->ctx) != 0 ||
        (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx))) {
        ws_free(c);
        return;
    }
    uint32_t want = EPOLLIN | (wslay_event_want_write(c->ctx) ? EPOLLOUT : 0);
    if (want != c->events) {
        struct epoll_event ev = {.events = want, .data.ptr = &c->tag};
        epoll_ctl(c->s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->events = want;
    }
}

static void ws_event(srv *s, loop_tag *t, uint32_t events) {
    wsconn *c = (wsconn *)t;
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && wslay_event_recv(c->ctx) != 0) {
        ws_free(c);
        return;
    }
    ws_pump(c);
}

static void ws_text(wsconn *c, json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(j);
    if (!text) return;
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, strlen(text)};
    wslay_event_queue_msg(c->ctx, &m);
    free(text);
}

void stream_output(wsconn *c, const char *stream, json_t *data) {
    ws_text(c, json_pack("{s:s,s:o}", "stream", stream, "data", data));
    ws_pump(c);
}

void stream_end(wsconn *c, json_t *status) {
    ws_text(c, json_pack("{s:s,s:o}", "event", "end", "run", status));
    c->run = NULL;
    c->close_pending = true;
    ws_pump(c);
}

typedef struct upgrade_ctx {
    srv *s;
    char tenant[WR_TENANT_ID_MAX + 1];
    char run[WR_TOKEN_ID_LEN + 1];
} upgrade_ctx;

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh) {
    upgrade_ctx *u = cls;
    srv *s = u->s;
    drun *d = runs_find(s, u->tenant, u->run);
    wsconn *c = calloc(1, sizeof *c);
    struct wslay_event_callbacks cb = {ws_recv, ws_send, NULL, NULL, NULL, NULL, ws_msg};
    if (!c || wslay_event_context_server_init(&c->ctx, &cb, c) != 0) {
        free(c);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        free(u);
        return;
    }
    free(u);
    c->all_next = all;
    if (all) all->all_prev = c;
    all = c;
    c->tag.fn = ws_event;
    c->s = s;
    c->fd = sock;
    c->urh = urh;
    int one = 1;
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->events = EPOLLIN;
    srv_watch(s, sock, &c->tag, EPOLLIN);
    /* The client's first frames may have arrived with the handshake; a
     * stream client has nothing to say, so they are dropped. */
    (void)extra_in;
    (void)extra_in_size;
    if (!d) {
        wslay_event_queue_close(c->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
        ws_pump(c);
        return;
    }
    /* What the run wrote before the client came, then live. */
    json_t *o = run_output_json(d);
    ws_text(c, json_pack("{s:s,s:O}", "stream", "stdout", "data", json_object_get(o, "stdout")));
    ws_text(c, json_pack("{s:s,s:O}", "stream", "stderr", "data", json_object_get(o, "stderr")));
    json_decref(o);
    if (runs_running(d)) {
        c->run = d;
        runs_watch(d, c);
        ws_pump(c);
    } else {
        stream_end(c, run_json(d));
    }
}

int h_run_stream(dreq *r) {
    drun *d = runs_find(r->s, r->params[0], r->params[1]);
    if (!d)
        return reply_error(r, 404, "not_found", "run '%s' of tenant '%s' not found", r->params[1],
                           r->params[0]);
    const char *up = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Upgrade");
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    const char *ver =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    if (!up || strcasecmp(up, "websocket") || !key || !ver || strcmp(ver, "13"))
        return reply_error(r, 400, "invalid",
                           "this route is a WebSocket: send Upgrade: websocket, "
                           "Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key");
    /* Sec-WebSocket-Accept: base64(SHA-1(key + the RFC's GUID)). */
    char buf[256];
    if (strlen(key) > 128) return reply_error(r, 400, "invalid", "Sec-WebSocket-Key too long");
    snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, strlen(buf), md);
    unsigned char accept[64];
    EVP_EncodeBlock(accept, md, SHA_DIGEST_LENGTH);
    upgrade_ctx *u = calloc(1, sizeof *u);
    if (!u) return MHD_NO;
    u->s = r->s;
    snprintf(u->tenant, sizeof u->tenant, "%s", r->params[0]);
    snprintf(u->run, sizeof u->run, "%s", r->params[1]);
    struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, u);
    if (!resp) {
        free(u);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", (const char *)accept);
    r->status = 101;
    int ret = MHD_queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    return ret;
}

void stream_close_all(void) {
    while (all)
        ws_free(all);
}
