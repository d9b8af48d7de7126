/* Every route the daemon serves: method, path pattern, who may call it, the
 * handler, and what /openapi.json says about it (r-openapi.c builds the
 * document from this table; tests/integration/api-openapi.sh checks the
 * document against the live server and against this table). */
#include "daemon.h"
#include "handlers.h"
#include "util.h"

#define TENANT_BODY                                                                     \
    "{\"type\":\"object\",\"required\":[\"saas_user_id\"],\"properties\":{"              \
    "\"saas_user_id\":{\"type\":\"string\"},\"quotas\":{\"type\":\"object\"}}}"
#define RUN_BODY                                                                          \
    "{\"type\":\"object\",\"properties\":{"                                               \
    "\"command\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"                   \
    "\"shell\":{\"type\":\"string\"},"                                                    \
    "\"level\":{\"type\":\"string\",\"enum\":[\"basic\",\"container\",\"strong\"]},"      \
    "\"env\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"       \
    "\"cwd\":{\"type\":\"string\"},\"service\":{\"type\":\"string\"},"                    \
    "\"timeout\":{\"type\":\"number\"}}}"
#define SIGNAL_BODY                                                                        \
    "{\"type\":\"object\",\"required\":[\"signal\"],\"properties\":{\"signal\":{"          \
    "\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}}}"

#define QUOTA_BODY                                                                          \
    "{\"type\":\"object\",\"additionalProperties\":{\"oneOf\":[{\"type\":\"string\"},"       \
    "{\"type\":\"number\"}]},\"propertyNames\":{\"enum\":[\"memory\",\"cpu\",\"cpu_weight\","   \
    "\"pids\",\"nofile\",\"storage\",\"inodes\",\"net_rate\",\"net_egress\",\"net_ingress\"]}}"

const route routes[] = {
    /* Seed 001: pactown's documented routes, with its shapes and errors. */
    {"GET", "/runner/isolation/users", ACCESS_ADMIN, true, h_compat_users,
     "List isolated users (seed 001)", NULL},
    {"GET", "/runner/isolation/user/{id}", ACCESS_ADMIN, true, h_compat_user,
     "Get or create an isolated user (seed 001)", NULL},
    {"GET", "/runner/isolation/user/{id}/stats", ACCESS_TENANT, true, h_compat_stats,
     "Statistics of a user's sandboxes (seed 001)", NULL},
    {"DELETE", "/runner/isolation/user/{id}", ACCESS_ADMIN, true, h_compat_delete,
     "Delete an isolated user; ?delete_home=true|false (seed 001)", NULL},

    {"GET", "/healthz", ACCESS_PUBLIC, false, h_healthz, "Liveness and basic state", NULL},
    {"GET", "/metrics", ACCESS_ADMIN, false, h_metrics, "Prometheus metrics", NULL},
    {"GET", "/openapi.json", ACCESS_PUBLIC, false, h_openapi, "This document", NULL},

    {"GET", "/v1/tenants", ACCESS_ADMIN, false, h_tenants_list,
     "List tenants in UID order; ?limit=N&after=CURSOR", NULL},
    {"POST", "/v1/tenants", ACCESS_ADMIN, false, h_tenants_create, "Create a tenant",
     TENANT_BODY},
    {"GET", "/v1/tenants/{id}", ACCESS_TENANT, false, h_tenant_get, "Get a tenant", NULL},
    {"DELETE", "/v1/tenants/{id}", ACCESS_ADMIN, false, h_tenant_delete,
     "Delete a tenant and everything it owns; ?keep_home=true keeps the home", NULL},
    {"GET", "/v1/tenants/{id}/stats", ACCESS_TENANT, false, h_tenant_stats,
     "Sandbox count and disk usage", NULL},
    {"PUT", "/v1/tenants/{id}/sandboxes/{service}", ACCESS_TENANT, false, h_sandbox_put,
     "Create (if missing) a service's sandbox; returns its path", NULL},
    {"GET", "/v1/tenants/{id}/audit", ACCESS_TENANT, false, h_tenant_audit,
     "The tenant's audit events; ?type=&since=&after=&limit=", NULL},
    {"POST", "/v1/tenants/{id}/tokens", ACCESS_ADMIN, false, h_token_create,
     "Issue a token for the tenant", NULL},
    {"DELETE", "/v1/tenants/{id}/tokens", ACCESS_ADMIN, false, h_tokens_revoke_all,
     "Revoke every token of the tenant", NULL},
    {"DELETE", "/v1/tenants/{id}/tokens/{token_id}", ACCESS_ADMIN, false, h_token_revoke,
     "Revoke one token", NULL},
    {"GET", "/v1/tenants/{id}/runs", ACCESS_TENANT, false, h_runs_list,
     "The tenant's runs, including those lost with an earlier daemon", NULL},
    {"POST", "/v1/tenants/{id}/runs", ACCESS_TENANT, false, h_run_start, "Start a run",
     RUN_BODY},
    {"GET", "/v1/tenants/{id}/runs/{run}", ACCESS_TENANT, false, h_run_get, "A run's status",
     NULL},
    {"GET", "/v1/tenants/{id}/runs/{run}/output", ACCESS_TENANT, false, h_run_output,
     "A run's buffered stdout and stderr", NULL},
    {"GET", "/v1/tenants/{id}/runs/{run}/stream", ACCESS_TENANT, false, h_run_stream,
     "The run's output live over a WebSocket: JSON text frames {stream, data}, then "
     "{event: end, run}", NULL},
    {"POST", "/v1/tenants/{id}/runs/{run}/signal", ACCESS_TENANT, false, h_run_signal,
     "Send a signal to the run's program", SIGNAL_BODY},
    {"POST", "/v1/tenants/{id}/runs/{run}/kill", ACCESS_TENANT, false, h_run_kill,
     "End the run's whole process tree", NULL},
    {"GET", "/v1/tenants/{id}/quotas", ACCESS_TENANT, false, h_quotas_get,
     "The tenant's quotas: its own values and the effective ones", NULL},
    {"PUT", "/v1/tenants/{id}/quotas", ACCESS_ADMIN, false, h_quotas_put,
     "Change quotas: {\"memory\":\"512M\",\"cpu\":\"0.5\",...} (\"max\", \"default\")",
     QUOTA_BODY},
    {"GET", "/v1/tenants/{id}/usage", ACCESS_TENANT, false, h_usage,
     "Resource use from the kernel's counters, with a health word", NULL},
    {"GET", "/v1/tenants/{id}/export", ACCESS_TENANT, false, h_export,
     "The tenant's home as a zstd-compressed warren archive, streamed", NULL},
    {"PUT", "/v1/tenants/{id}/import", ACCESS_TENANT, false, h_import,
     "Make the uploaded archive (warren's or pactown's tar.gz) the tenant's home; "
     "?replace=true replaces a home with files, ?from=ID accepts another tenant's archive",
     NULL},
    {"GET", "/v1/audit", ACCESS_ADMIN, false, h_audit,
     "The audit log; ?tenant=&type=&since=&after=&limit=", NULL},
};
const size_t nroutes = ELEMENTSOF(routes);
