/* The route handlers, one file per resource (r-*.c). */
#pragma once

#include "daemon.h"

int h_compat_users(dreq *r);
int h_compat_user(dreq *r);
int h_compat_stats(dreq *r);
int h_compat_delete(dreq *r);
int h_healthz(dreq *r);
int h_metrics(dreq *r);
int h_openapi(dreq *r);
int h_tenants_list(dreq *r);
int h_tenants_create(dreq *r);
int h_tenant_get(dreq *r);
int h_tenant_delete(dreq *r);
int h_tenant_stats(dreq *r);
int h_sandbox_put(dreq *r);
int h_tenant_audit(dreq *r);
int h_token_create(dreq *r);
int h_tokens_revoke_all(dreq *r);
int h_token_revoke(dreq *r);
int h_runs_list(dreq *r);
int h_run_start(dreq *r);
int h_run_get(dreq *r);
int h_run_output(dreq *r);
int h_run_signal(dreq *r);
int h_run_kill(dreq *r);
int h_audit(dreq *r);
int h_quotas_get(dreq *r);
int h_quotas_put(dreq *r);
int h_usage(dreq *r);
int h_export(dreq *r);
int h_run_stream(dreq *r);
int h_import(dreq *r);

/* Shapes shared by several resources (a tenant's, a quota's: tenant-json.h). */
#include "tenant-json.h"
struct wr_quota;
/* Fills a quota change from a JSON object of option names and values. */
int quota_change_from_json(json_t *body, struct wr_quota *change, wr_err *e);
