/* Fuzz target: a request on the daemon's run socket (src/daemon/handoff.c,
 * protocol in src/lib/handoff.h), parsed into a run spec.
 *
 * Invariants checked on every input:
 * - parsing never crashes, and never leaks what it allocated (the request is
 *   freed whatever parse returned);
 * - an accepted request names a tenant and exactly one of a command and a
 *   shell string, with a known level and every env entry KEY=VALUE;
 * - a refused one says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static void check(int cond) {
    if (!cond) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    handoff_req req;
    wr_err e = WR_ERR_INIT;
    int r = handoff_parse((const char *)data, size, &req, &e);
    if (r >= 0) {
        check(req.spec.tenant && *req.spec.tenant);
        check(!!req.spec.shell != !!req.spec.argv);
        if (req.spec.argv) check(req.spec.argv[0] != NULL);
        check(req.spec.level <= WR_LEVEL_STRONG);
        for (const char *const *kv = req.spec.env; kv && *kv; kv++)
            check(strchr(*kv, '=') != NULL && **kv != '=');
        if (req.spec.cpus) check(req.spec.cpus == &req.cpus && CPU_COUNT(&req.cpus) > 0);
    } else {
        check(e.kind != WR_ERR_NONE && e.msg[0]);
    }
    handoff_req_free(&req);
    return 0;
}
