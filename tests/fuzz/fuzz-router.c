/* Fuzz target: what the daemon does with an untrusted request before any
 * handler runs: route matching (path splitting and percent-decoding), the
 * query-string token check, and strict JSON body parsing.
 *
 * Input layout: METHOD '\n' PATH '\n' QUERY '\n' BODY (missing parts empty).
 *
 * Invariants checked on every input:
 * - matching never crashes; a match fills exactly as many parameters as the
 *   route's pattern has, each non-empty and without NUL;
 * - a path parameter re-encoded and matched again gives the same route and
 *   value (decoding is consistent);
 * - a parsed body is always a JSON object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static void check(int cond) {
    if (!cond) abort();
}

static char *part(const uint8_t **p, const uint8_t *end) {
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *stop = nl ? nl : end;
    char *s = malloc((size_t)(stop - *p) + 1);
    if (!s) abort();
    memcpy(s, *p, (size_t)(stop - *p));
    s[stop - *p] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

static size_t count_params(const char *pattern) {
    size_t n = 0;
    for (const char *c = pattern; *c; c++)
        n += *c == '{';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size;
    char *method = part(&p, end), *path = part(&p, end), *query = part(&p, end);
    size_t body_len = (size_t)(end - p);

    const route *rt = NULL;
    char *params[MAX_PARAMS] = {0};
    size_t n = 0;
    if (route_match(method, path, &rt, params, &n) == MATCH_OK) {
        check(n == count_params(rt->pattern));
        for (size_t i = 0; i < n; i++) {
            check(params[i] && params[i][0]);
            check(strlen(params[i]) > 0);
        }
        /* Re-encode every parameter and match again. */
        char rebuilt[8192];
        size_t k = 0, pi = 0;
        bool fits = true;
        for (const char *c = rt->pattern; *c && fits; c++) {
            if (*c == '{') {
                for (const unsigned char *v = (const unsigned char *)params[pi++]; *v; v++) {
                    if (k + 4 >= sizeof rebuilt) {
                        fits = false;
                        break;
                    }
                    k += (size_t)snprintf(rebuilt + k, 4, "%%%02X", *v);
                }
                c = strchr(c, '}');
            } else {
                if (k + 2 >= sizeof rebuilt) fits = false;
                else rebuilt[k++] = *c;
            }
        }
        rebuilt[k] = '\0';
        if (fits) {
            const route *rt2 = NULL;
            char *params2[MAX_PARAMS] = {0};
            size_t n2 = 0;
            check(route_match(method, rebuilt, &rt2, params2, &n2) == MATCH_OK);
            check(n2 == n);
            for (size_t i = 0; i < n2; i++) {
                check(strcmp(params2[i], params[i]) == 0);
                free(params2[i]);
            }
        }
        for (size_t i = 0; i < n; i++)
            free(params[i]);
    }
    (void)query_has_token(query);
    char *dec = percent_decode(query, strlen(query), true);
    if (dec) check(strlen(dec) <= strlen(query));
    free(dec);

    char msg[256];
    json_t *j = parse_body((const char *)p, body_len, msg, sizeof msg);
    if (j) check(json_is_object(j));
    json_decref(j);
    free(method);
    free(path);
    free(query);
    return 0;
}
