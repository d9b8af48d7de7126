/* Fuzz target: the validators and derivations that see raw tenant and service
 * ids from the platform (the CLI today, HTTP bodies later).
 *
 * Invariants checked on every input:
 * - the validators never crash and always either accept or fill an error;
 * - an accepted tenant id yields a GECOS copy that is itself a valid tenant id,
 *   holds none of : , = \ and fits in WR_GECOS_MAX bytes;
 * - an accepted tenant id yields account names of the right shape;
 * - an accepted service id is one that can never leave its directory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"

static void check(int cond) {
    if (!cond) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    wr_err e = WR_ERR_INIT;
    if (wr_check_tenant_id(s, &e) == 0) {
        check(e.kind == WR_ERR_NONE);
        check(strlen(s) >= 1 && strlen(s) <= WR_TENANT_ID_MAX);
        char g[WR_GECOS_MAX + 1];
        wr_gecos_from_tenant_id(s, g);
        check(strlen(g) <= WR_GECOS_MAX);
        check(!strpbrk(g, ":,=\\\n"));
        check(g[0] == '\0' || wr_check_tenant_id(g, NULL) == 0);
        char name[WR_USERNAME_MAX + 1];
        check(wr_username_for("warren_", s, WR_NAME_HEX_MIN, name) == 0);
        check(strlen(name) == 7 + WR_NAME_HEX_MIN);
        check(strspn(name + 7, "0123456789abcdef") == WR_NAME_HEX_MIN);
    } else {
        check(e.kind == WR_ERR_INVALID && e.msg[0] != '\0');
    }

    wr_err e2 = WR_ERR_INIT;
    if (wr_check_service_id(s, &e2) == 0) {
        check(!strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
        check(s[0] != '.' && s[0] != '-' && strlen(s) <= WR_SERVICE_ID_MAX);
    } else {
        check(e2.kind == WR_ERR_INVALID && e2.msg[0] != '\0');
    }
    free(s);
    return 0;
}
