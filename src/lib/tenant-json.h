/* A tenant as JSON, one shape for the CLI and the daemon: the field order is
 * part of the contract (pactown's IsolatedUser.to_dict()). */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "quota.h"
#include "tenant.h"
#include "usage.h"

json_t *wr_tenant_json(const wr_tenant *t);
/* A quota's limits, one shape for `warren quota --json` and /v1/.../quotas:
 * unset -> null, unlimited -> "max", cpu in cores, the rest as numbers. */
json_t *wr_quota_json(const wr_quota *q);
/* A tenant's usage, one shape for `warren stats --json`, `warren top --json`
 * and /v1/.../usage. cpu.cpus is the CPUs the tenant is placed on, null when
 * it may use all of them. */
json_t *wr_usage_json(const wr_usage *u);
/* Megabytes as pactown reports them: round(bytes / MiB, 2). */
double wr_size_mb(uint64_t bytes);
