/* /openapi.json: an OpenAPI 3.1 document built from the route table, so the
 * document and the server cannot drift; the test api-openapi.sh checks both
 * directions against the running daemon. */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "util.h"

static json_t *error_schema(void) {
    return json_pack(
        "{s:s,s:[{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s}}}}},{s:s,s:{s:{s:s}}}]}", "description",
        "an error: {\"error\":{\"code\",\"message\"}} (pactown's {\"detail\"} on /runner/)",
        "oneOf", "type", "object", "properties", "error", "type", "object", "properties", "code",
        "type", "string", "message", "type", "string", "type", "object", "properties", "detail",
        "type", "string");
}

static json_t *operation(const route *rt) {
    json_t *op = json_pack("{s:s,s:s}", "summary", rt->summary, "operationId", "");
    char opid[160];
    snprintf(opid, sizeof opid, "%s %s", rt->method, rt->pattern);
    json_object_set_new(op, "operationId", json_string(opid));
    json_t *params = json_array();
    for (const char *p = strchr(rt->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *q = strchr(p, '}');
        if (!q) break;
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(q - p - 1), p + 1);
        json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in",
                                                "path", "required", 1, "schema", "type",
                                                "string"));
    }
    if (json_array_size(params)) json_object_set(op, "parameters", params);
    json_decref(params);
    if (rt->body) {
        json_t *schema = json_loads(rt->body, 0, NULL);
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
                                      "application/json", "schema", schema ? schema : json_object()));
    }
    json_t *resp = json_object();
    json_object_set_new(resp, "200", json_pack("{s:s}", "description", "success"));
    if (rt->access != ACCESS_PUBLIC) {
        json_object_set_new(resp, "401", json_pack("{s:s}", "description", "no or bad token"));
        json_object_set_new(resp, "403", json_pack("{s:s}", "description",
                                                   "the token may not do this"));
        json_object_set_new(op, "security", json_pack("[{s:[]},{s:[]}]", "bearer", "runnerToken"));
    } else {
        json_object_set_new(op, "security", json_array());
    }
    json_object_set_new(resp, "default",
                        json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "an error", "content",
                                  "application/json", "schema", "$ref",
                                  "#/components/schemas/Error"));
    json_object_set_new(op, "responses", resp);
    json_object_set_new(op, "x-access", json_string(rt->access == ACCESS_PUBLIC  ? "public"
                                                    : rt->access == ACCESS_ADMIN ? "admin"
                                                                                 : "tenant"));
    return op;
}

int h_openapi(dreq *r) {
    json_t *paths = json_object();
    for (size_t i = 0; i < nroutes; i++) {
        json_t *item = json_object_get(paths, routes[i].pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, routes[i].pattern, item);
        }
        char m[16];
        size_t k = 0;
        for (; routes[i].method[k] && k < sizeof m - 1; k++)
            m[k] = (char)(routes[i].method[k] | 0x20);
        m[k] = '\0';
        json_object_set_new(item, m, operation(&routes[i]));
    }
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:o,s:{s:{s:o},s:{s:{s:s,s:s},s:{s:s,s:s,s:s}}}}", "openapi",
        "3.1.0", "info", "title", "warren", "version", "1", "description",
        "warren's REST API: tenants, sandboxes, runs, tokens, audit; and pactown's "
        "/runner/isolation/ routes (seed 001).",
        "paths", paths, "components", "schemas", "Error", error_schema(), "securitySchemes",
        "bearer", "type", "http", "scheme", "bearer", "runnerToken", "type", "apiKey", "in",
        "header", "name", "X-Runner-Token");
    return reply_json(r, 200, doc);
}
