/* warren serve [--listen ADDR:PORT] [--socket PATH]: the REST API daemon
 * (src/daemon/, docs/API.md), in the foreground until SIGTERM or SIGINT. A
 * command of warren-full: only it loads libmicrohttpd. */
#include "cli.h"
#include "daemon.h"

int cmd_serve(cli *c, char **args) {
    serve_opts o = {.listen = c->listen, .socket = c->socket, .bench_floor = c->bench_floor};
    wr_err e = WR_ERR_INIT;
    if (serve(&c->cfg, &o, &e) < 0) return cli_fail(c, &e);
    return EXIT_OK;
}
