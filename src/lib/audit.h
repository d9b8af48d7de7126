/* The audit log: what happened to which tenant, and who tried what.
 *
 * Every event goes to two places: a row of the registry's `audit_log` table
 * (queried by `warren audit` and GET /v1/audit) and a line of
 * <state_dir>/audit.log, one JSON object per line, appended with a single
 * write so that concurrent warren processes never interleave within a line.
 * The file is for log shippers; the table is what queries read. Events
 * outlive the tenants they name: deleting a tenant keeps its history.
 *
 * System calls the strong level refused are kept, summed, in their own table
 * (refused_syscalls); queries report each as an event of type
 * `syscall_refused`, at the time it was last refused.
 *
 * Event types in use: tenant_created, tenant_deleted, run_started, run_ended,
 * run_lost, token_created, token_revoked, denied, cross_tenant_access,
 * syscall_refused; other parts of warren add theirs (quota_changed, export,
 * import). A type is [a-z0-9_]{1,48}. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tenant.h"

#define WR_AUDIT_TYPE_MAX 48

/* Records one event. `tenant` may be NULL (a host-wide event); `detail_json`
 * is NULL or the text of a JSON object with whatever the event needs to say
 * (it is checked, and refused if it is not an object). The registry row is
 * written first; the line in audit.log follows. */
int wr_audit_record(warren *w, const char *type, const char *tenant, const char *detail_json,
                    wr_err *e);

/* As wr_audit_record, for callers that must not fail because the audit
 * could not be written (the operation it describes has already happened):
 * a failure is reported on stderr instead. */
void wr_audit_note(warren *w, const char *type, const char *tenant, const char *detail_json);

/* Several events in one registry transaction (one commit) and one write to
 * audit.log, in the order given: what a run records when it ends (its start
 * and its end). `at` is the event's time in seconds since the epoch, 0 for
 * now. At most WR_AUDIT_BATCH_MAX events; all or none are recorded. */
#define WR_AUDIT_BATCH_MAX 8
typedef struct wr_audit_new {
    const char *type;
    const char *tenant;      /* NULL: host-wide */
    const char *detail_json; /* NULL or a JSON object's text */
    double at;
} wr_audit_new;
int wr_audit_record_batch(warren *w, const wr_audit_new *ev, size_t n, wr_err *e);
void wr_audit_note_batch(warren *w, const wr_audit_new *ev, size_t n);

typedef struct wr_audit_filter {
    const char *tenant; /* NULL: every tenant (and host-wide events) */
    const char *type;   /* NULL: every type */
    double since;       /* 0: from the beginning; else events at or after */
    uint64_t after_id;  /* paging: only events with a larger id (0: from the start) */
    uint64_t limit;     /* 0: no limit */
} wr_audit_filter;

/* One event as a query returns it; the strings live until the callback returns. */
typedef struct wr_audit_event {
    uint64_t id; /* increasing; 0 for refused system calls (a summary, not a row) */
    double at;
    const char *type;
    const char *tenant;      /* "" for host-wide events */
    const char *detail_json; /* "{}" when the event has no detail */
} wr_audit_event;

/* Calls fn for each matching event, oldest first; stops at fn's first
 * non-zero return and returns it. */
int wr_audit_query(warren *w, const wr_audit_filter *f,
                   int (*fn)(const wr_audit_event *ev, void *userdata), void *userdata, wr_err *e);

/* Parses a --since value: seconds since the epoch ("1795354801.5"), a UTC
 * date "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS" (a space works as the T), or an
 * age "90s", "15m", "2h", "7d" (that long before now). */
int wr_audit_parse_since(const char *s, double *ret, wr_err *e);

/* The run log: runs the daemon supervises, one row each (daemon_runs), state
 * `running` until their end is recorded, so that a restarted daemon can
 * report runs that died with its predecessor (state `lost`). */
int wr_runlog_begin(warren *w, const char *run_id, const char *tenant, const char *detail_json,
                    double started_at, wr_err *e);
int wr_runlog_end(warren *w, const char *run_id, const char *state, double ended_at,
                  const char *detail_json, wr_err *e);
typedef int (*wr_runlog_fn)(const char *id, const char *tenant, const char *detail,
                            const char *state, double started_at, double ended_at, long daemon_pid,
                            void *userdata);
/* NULL tenant/state: all. Oldest first. */
int wr_runlog_foreach(warren *w, const char *tenant, const char *state, wr_runlog_fn fn,
                      void *userdata, wr_err *e);
