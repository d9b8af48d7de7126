/* Request routing and the parsing of untrusted request parts: path segments,
 * percent-escapes, query strings, JSON bodies. No I/O here, so the fuzz target
 * (tests/fuzz/fuzz-router.c) drives it directly.
 *
 * libmicrohttpd is told not to unescape URLs (server.c): a tenant id may hold
 * '/' (as %2F), so the path is split on '/' first and each segment decoded
 * after. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"
#include "util.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *percent_decode(const char *s, size_t n, bool plus) {
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) goto bad;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == '\0') goto bad;
        *o++ = c;
    }
    *o = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* Compares one pattern segment [p, pe) with one raw path segment [s, se). */
static bool segment_literal(const char *p, size_t pn, const char *s, size_t sn) {
    return pn == sn && memcmp(p, s, pn) == 0;
}

/* Tries one pattern; MATCH_OK with params filled, MATCH_NO_ROUTE, or
 * MATCH_BAD_PATH when it matched in shape but a parameter would not decode. */
static match_result try_pattern(const char *pattern, const char *path, char *params[MAX_PARAMS],
                                size_t *ret_n) {
    const char *p = pattern, *s = path;
    size_t n = 0;
    match_result res = MATCH_OK;
    while (*p && *s) {
        if (*p != '/' || *s != '/') goto no;
        p++, s++;
        const char *pe = p + strcspn(p, "/"), *se = s + strcspn(s, "/");
        if (*p == '{') {
            if (se == s || n == MAX_PARAMS) goto no;
            char *v = percent_decode(s, (size_t)(se - s), false);
            if (!v || !*v) {
                free(v);
                res = MATCH_BAD_PATH;
                v = NULL;
            }
            params[n++] = v;
        } else if (!segment_literal(p, (size_t)(pe - p), s, (size_t)(se - s))) {
            goto no;
        }
        p = pe, s = se;
    }
    if (*p || *s) goto no;
    *ret_n = n;
    if (res != MATCH_OK)
        for (size_t i = 0; i < n; i++) {
            free(params[i]);
            params[i] = NULL;
        }
    return res;
no:
    for (size_t i = 0; i < n; i++) {
        free(params[i]);
        params[i] = NULL;
    }
    return MATCH_NO_ROUTE;
}

match_result route_match(const char *method, const char *path, const route **ret_route,
                         char *ret_params[MAX_PARAMS], size_t *ret_n) {
    if (path[0] != '/') return MATCH_BAD_PATH;
    match_result best = MATCH_NO_ROUTE;
    for (size_t i = 0; i < nroutes; i++) {
        char *params[MAX_PARAMS] = {0};
        size_t n = 0;
        match_result m = try_pattern(routes[i].pattern, path, params, &n);
        if (m == MATCH_NO_ROUTE) continue;
        if (m == MATCH_BAD_PATH) {
            best = MATCH_BAD_PATH;
            continue;
        }
        if (!streq(routes[i].method, method)) {
            for (size_t k = 0; k < n; k++)
                free(params[k]);
            if (best == MATCH_NO_ROUTE) best = MATCH_BAD_METHOD;
            continue;
        }
        *ret_route = &routes[i];
        memcpy(ret_params, params, sizeof params);
        *ret_n = n;
        return MATCH_OK;
    }
    return best;
}

bool query_key_is_token(const char *raw_key) {
    static const char *const names[] = {"token",    "access_token", "api_key", "apikey",
                                        "auth",     "key",          "bearer",  "x-runner-token",
                                        "password", "secret"};
    char *k = percent_decode(raw_key, strlen(raw_key), true);
    if (!k) return true; /* undecodable: refuse rather than guess */
    bool hit = false;
    for (size_t i = 0; i < ELEMENTSOF(names) && !hit; i++)
        hit = !strcasecmp(k, names[i]);
    free(k);
    return hit;
}

bool query_has_token(const char *q) {
    while (q && *q) {
        size_t kn = strcspn(q, "=&");
        char *k = strndup(q, kn);
        if (!k) return true;
        bool hit = query_key_is_token(k);
        free(k);
        if (hit) return true;
        q += strcspn(q, "&");
        if (*q == '&') q++;
    }
    return false;
}

json_t *parse_body(const char *body, size_t len, char *msg, size_t msg_n) {
    json_error_t je;
    /* Strict: duplicate keys are refused, and a body is one value, nothing after. */
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(msg, msg_n, "request body is not valid JSON: %s (at byte %d)", je.text,
                 je.position);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(msg, msg_n, "request body must be a JSON object");
        return NULL;
    }
    return j;
}
