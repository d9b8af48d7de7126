/* Small helpers every file of the library uses: cleanup attributes that make
 * ownership visible, and a few string and fd utilities.
 *
 * Ownership convention: a variable declared with _cleanup_free_ or
 * _cleanup_close_ is released when it leaves scope; TAKE_PTR/TAKE_FD hand it on
 * and disarm the cleanup. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(const int *fd) {
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
static inline void fclosep(FILE **f) {
    if (*f) fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -1; _tf; })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* Copies src into dst of size n; returns -ENAMETOOLONG instead of truncating. */
static inline int strscpy(char *dst, size_t n, const char *src) {
    size_t l = strlen(src);
    if (l >= n) return -ENAMETOOLONG;
    memcpy(dst, src, l + 1);
    return 0;
}

/* FNV-1a, 64 bits: a cache key (kept roots, the seccomp filter), not a
 * checksum against tampering. Start with WR_FNV_OFFSET. */
#define WR_FNV_OFFSET 0xcbf29ce484222325ULL
static inline uint64_t wr_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Seconds since the epoch with microseconds, as pactown's time.time(). */
double wr_now(void);
/* Seconds of CLOCK_MONOTONIC, for intervals and deadlines. */
double wr_mono(void);
