/* How errors travel in warren (see docs/ERRORS.md).
 *
 * Every fallible library function returns 0 (or a non-negative value) on
 * success and a negative errno on failure, and takes a `wr_err *` as its last
 * argument. On failure it fills the error with a kind and a message that names
 * the input at fault; on success it leaves the error untouched. The first error
 * set wins: a cleanup step that fails after the real failure does not hide it.
 * The error may be NULL when the caller only wants the return code.
 *
 * The kind, not the errno, decides what the user sees: one table in err.c maps
 * kinds to CLI exit codes and HTTP statuses. */
#pragma once

#include <stdarg.h>

typedef enum wr_kind {
    WR_ERR_NONE = 0,
    WR_ERR_INVALID,   /* bad input: a tenant id, a path, a flag, a body */
    WR_ERR_NOT_FOUND, /* the named tenant, sandbox or object does not exist */
    WR_ERR_EXISTS,    /* it exists already */
    WR_ERR_DENIED,    /* the caller may not do this */
    WR_ERR_BUSY,      /* a lock or resource is held; try again later */
    WR_ERR_LIMIT,     /* a range, quota or size limit is exhausted */
    WR_ERR_UNSAFE,    /* the host or a tenant's files are not as warren left them */
    WR_ERR_SYSTEM,    /* the kernel or a library failed */
} wr_kind;

typedef struct wr_err {
    wr_kind kind;
    int errnum;      /* positive errno behind the failure, 0 if none */
    int exit_code;   /* 0, or the exit code this failure must give the CLI when the
                        kind's is not precise enough (a run: 125 setup, 126, 127) */
    char msg[1024];
} wr_err;

#define WR_ERR_INIT {0}

/* Each setter fills `e` (if set and still empty) and returns -errnum, so that
 * call sites read `return wr_invalid(e, "tenant id %s: ...", id);`. */
int wr_fail(wr_err *e, wr_kind kind, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As wr_fail with kind WR_ERR_SYSTEM; appends ": <strerror(errnum)>". */
int wr_sys(wr_err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define wr_invalid(e, ...) wr_fail((e), WR_ERR_INVALID, EINVAL, __VA_ARGS__)
#define wr_not_found(e, ...) wr_fail((e), WR_ERR_NOT_FOUND, ENOENT, __VA_ARGS__)
#define wr_exists(e, ...) wr_fail((e), WR_ERR_EXISTS, EEXIST, __VA_ARGS__)
#define wr_unsafe(e, ...) wr_fail((e), WR_ERR_UNSAFE, EPERM, __VA_ARGS__)

void wr_err_clear(wr_err *e);
const char *wr_kind_name(wr_kind kind);

/* The one place errors become exit codes and HTTP statuses. */
int wr_err_exit_code(const wr_err *e);   /* 0 ok, 1 failure, 2 usage/invalid, 3 not found */
int wr_err_http_status(const wr_err *e);
