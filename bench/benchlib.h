/* What the benchmarks share: the clock they time with, the statistics they
 * print, and the check that they run inside the sandbox bench/run-all sets up.
 * Only the bench programs link this; the library and the CLI do not. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Seconds on CLOCK_MONOTONIC, for differences between two calls. */
double bench_now(void);

/* Sorts v[0..n) in ascending order, in place. */
void bench_sort(double *v, size_t n);

/* The median of sorted[0..n): the middle value, or the mean of the two middle
 * values when n is even. 0 when n is 0. */
double bench_median(const double *sorted, size_t n);

/* The p-quantile (p in 0..1, e.g. 0.95 for p95) of sorted[0..n) by nearest
 * rank: the value at rank ceil(p * n), counted from 1, and at least rank 1.
 * 0 when n is 0. For the median as the figures print it (the mean of the two
 * middle values when n is even) use bench_median. */
double bench_percentile(const double *sorted, size_t n, double p);

/* True if /etc is an overlay mount in this mount namespace: the benchmarks
 * that add real accounts refuse to run otherwise. */
bool bench_etc_is_overlay(void);
