/* The benchmarks' shared helpers; see benchlib.h. */
#include "benchlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_sort(double *v, size_t n) {
    if (n > 1) qsort(v, n, sizeof *v, cmp_double);
}

double bench_median(const double *sorted, size_t n) {
    if (n == 0) return 0;
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

double bench_percentile(const double *sorted, size_t n, double p) {
    if (n == 0) return 0;
    /* ceil(p * n), kept clear of rounding just above a whole number */
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

bool bench_etc_is_overlay(void) {
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return false;
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    while (getline(&line, &cap, f) > 0) {
        /* id parent major:minor root mountpoint options... - fstype source ... */
        char mnt[4096], fstype[64];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
            sscanf(dash + 3, "%63s", fstype) != 1)
            continue;
        if (strcmp(mnt, "/etc") == 0) found = strcmp(fstype, "overlay") == 0; /* the last wins */
    }
    free(line);
    fclose(f);
    return found;
}
