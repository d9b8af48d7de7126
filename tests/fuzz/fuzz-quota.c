/* Fuzz target: the quota parsers, which see option values from the CLI and
 * bodies of the API. The input's first byte picks the option, the rest is
 * the value.
 *
 * Invariants checked on every input:
 * - a refused value leaves the quota exactly as it was and fills the error
 *   with a message naming the option;
 * - an accepted value is "max", "default" or a number in the option's range,
 *   and only the option's own field (both rates for net-rate) changed;
 * - the formatters never overflow their buffer, whatever the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"

static void check(int cond) {
    if (!cond) abort();
}

static const char *const names[] = {"memory",  "cpu",    "cpu-weight", "pids",
                                    "nofile",  "storage", "inodes",    "net-rate",
                                    "net-egress", "net-ingress", "bogus"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *name = names[data[0] % (sizeof names / sizeof *names)];
    char *v = malloc(size);
    if (!v) return 0;
    memcpy(v, data + 1, size - 1);
    v[size - 1] = '\0';

    wr_quota q, before;
    wr_quota_init(&q);
    before = q;
    wr_err e = WR_ERR_INIT;
    if (wr_quota_parse_option(&q, name, v, &e) < 0) {
        check(memcmp(&q, &before, sizeof q) == 0);
        check(e.kind == WR_ERR_INVALID && e.msg[0]);
    } else {
        check(e.kind == WR_ERR_NONE);
        int64_t *f[] = {&q.memory, &q.cpu_milli, &q.cpu_weight, &q.pids, &q.nofile,
                        &q.storage, &q.inodes, &q.net_egress, &q.net_ingress};
        int changed = 0;
        for (size_t i = 0; i < sizeof f / sizeof *f; i++)
            if (*f[i] != WR_QUOTA_UNSET) {
                changed++;
                check(*f[i] == WR_QUOTA_MAX || *f[i] == WR_QUOTA_CLEAR || *f[i] >= 1);
            }
        check(changed == (strcmp(name, "net-rate") == 0 ? 2 : 1));
        if (q.cpu_weight >= 0 && q.cpu_weight != WR_QUOTA_MAX) check(q.cpu_weight <= 10000);
        if (q.memory >= 0 && q.memory != WR_QUOTA_MAX) check(q.memory >= 4 << 20);
    }
    char buf[32];
    int64_t any;
    memcpy(&any, data, size >= 8 ? 8 : 0);
    if (size < 8) any = (int64_t)size;
    wr_quota_format_size(any, buf, sizeof buf);
    check(strlen(buf) < sizeof buf);
    wr_quota_format_rate(any, buf, sizeof buf);
    check(strlen(buf) < sizeof buf);
    wr_quota_format_cpu(any, buf, sizeof buf);
    check(strlen(buf) < sizeof buf);
    free(v);
    return 0;
}
