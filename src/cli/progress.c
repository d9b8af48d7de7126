/* The progress bar of export and import: one line on stderr, redrawn in
 * place, only when stderr is a terminal. */
#include <stdio.h>
#include <unistd.h>

#include "warren-archive.h"
#include "cli.h"

static void human(double b, char *buf, size_t n) {
    const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

void cli_progress(const wr_progress *p, void *userdata) {
    (void)userdata;
    char done[32], rate[32], eta[32] = "";
    human((double)p->bytes, done, sizeof done);
    double r = p->elapsed > 0 ? (double)p->bytes / p->elapsed : 0;
    human(r, rate, sizeof rate);
    int pct = -1;
    if (p->total_bytes) {
        pct = (int)(100.0 * (double)p->bytes / (double)p->total_bytes);
        if (pct > 100) pct = 100;
        if (!p->done && r > 0 && p->bytes < p->total_bytes) {
            long s = (long)((double)(p->total_bytes - p->bytes) / r);
            snprintf(eta, sizeof eta, "  ETA %ld:%02ld", s / 60, s % 60);
        }
    }
    char bar[24] = "";
    if (pct >= 0) {
        int fill = pct / 5;
        for (int i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
    }
    fprintf(stderr, "\r\033[K%8llu files  %10s  %10s/s%s%s%s%s%.0d%s", (unsigned long long)p->files,
            done, rate, eta, pct >= 0 ? "  [" : "", bar, pct >= 0 ? "] " : "", pct >= 0 ? pct : 0,
            pct >= 0 ? "%" : "");
    if (p->done) fputc('\n', stderr);
    fflush(stderr);
}

bool cli_progress_wanted(void) {
    return isatty(STDERR_FILENO);
}
