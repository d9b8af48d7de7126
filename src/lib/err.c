#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "util.h"

__attribute__((format(printf, 5, 0))) static int
vfail(wr_err *e, wr_kind kind, int errnum, bool with_strerror, const char *fmt, va_list ap) {
    if (errnum <= 0) errnum = EIO;
    if (!e || e->kind != WR_ERR_NONE) return -errnum;
    e->kind = kind;
    e->errnum = errnum;
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    if (with_strerror && n >= 0 && (size_t)n < sizeof e->msg)
        snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", strerror(errnum));
    return -errnum;
}

int wr_fail(wr_err *e, wr_kind kind, int errnum, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vfail(e, kind, errnum, false, fmt, ap);
    va_end(ap);
    return r;
}

int wr_sys(wr_err *e, int errnum, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vfail(e, WR_ERR_SYSTEM, errnum, true, fmt, ap);
    va_end(ap);
    return r;
}

void wr_err_clear(wr_err *e) {
    if (e) *e = (wr_err)WR_ERR_INIT;
}

const char *wr_kind_name(wr_kind kind) {
    static const char *const names[] = {
        [WR_ERR_NONE] = "ok",       [WR_ERR_INVALID] = "invalid", [WR_ERR_NOT_FOUND] = "not_found",
        [WR_ERR_EXISTS] = "exists", [WR_ERR_DENIED] = "denied",   [WR_ERR_BUSY] = "busy",
        [WR_ERR_LIMIT] = "limit",   [WR_ERR_UNSAFE] = "unsafe",   [WR_ERR_SYSTEM] = "system",
    };
    return (unsigned)kind < ELEMENTSOF(names) ? names[kind] : "system";
}

int wr_err_exit_code(const wr_err *e) {
    if (e && e->exit_code) return e->exit_code;
    switch (e ? e->kind : WR_ERR_SYSTEM) {
    case WR_ERR_NONE:
        return 0;
    case WR_ERR_INVALID:
        return 2;
    case WR_ERR_NOT_FOUND:
        return 3;
    default:
        return 1;
    }
}

int wr_err_http_status(const wr_err *e) {
    switch (e ? e->kind : WR_ERR_SYSTEM) {
    case WR_ERR_NONE:
        return 200;
    case WR_ERR_INVALID:
        return 400;
    case WR_ERR_NOT_FOUND:
        return 404;
    case WR_ERR_EXISTS:
        return 409;
    case WR_ERR_DENIED:
        return 403;
    case WR_ERR_BUSY:
        return 503;
    case WR_ERR_LIMIT:
        return 507;
    case WR_ERR_UNSAFE:
        return 500;
    case WR_ERR_SYSTEM:
        return 500;
    }
    return 500;
}

double wr_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double wr_now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}
