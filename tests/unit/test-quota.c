/* quota.c: the parsers every quota value goes through (CLI and API), and
 * the formats listings use. Bad input must be refused with a message naming
 * the option and the value; good input must mean exactly what it says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "quota.h"
#include "testlib.h"
#include "util.h"

static int64_t parse(const char *name, const char *value) {
    wr_quota q;
    wr_quota_init(&q);
    wr_err e = WR_ERR_INIT;
    int r = wr_quota_parse_option(&q, name, value, &e);
    assert_int_equal(r, 0);
    if (streq(name, "memory")) return q.memory;
    if (streq(name, "cpu")) return q.cpu_milli;
    if (streq(name, "pids")) return q.pids;
    if (streq(name, "nofile")) return q.nofile;
    if (streq(name, "storage")) return q.storage;
    if (streq(name, "inodes")) return q.inodes;
    if (streq(name, "cpu-weight")) return q.cpu_weight;
    assert_true(streq(name, "net-rate"));
    assert_int_equal(q.net_egress, q.net_ingress);
    return q.net_egress;
}

static void refused(const char *name, const char *value) {
    wr_quota q, before;
    wr_quota_init(&q);
    before = q;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_quota_parse_option(&q, name, value, &e), -EINVAL);
    assert_int_equal(e.kind, WR_ERR_INVALID);
    char want[128];
    snprintf(want, sizeof want, "--%s '%s'", name, value);
    if (!strstr(e.msg, want)) fail_msg("message '%s' does not name %s", e.msg, want);
    assert_memory_equal(&q, &before, sizeof q);
}

static void sizes(void **state) {
    (void)state;
    assert_int_equal(parse("memory", "512M"), 512LL << 20);
    assert_int_equal(parse("memory", "1G"), 1LL << 30);
    assert_int_equal(parse("memory", "1.5G"), 3LL << 29);
    assert_int_equal(parse("memory", "64MiB"), 64LL << 20);
    assert_int_equal(parse("memory", "67108864"), 64LL << 20);
    assert_int_equal(parse("storage", "2t"), 2LL << 40);
    assert_int_equal(parse("storage", "10K"), 10240);
    assert_int_equal(parse("memory", "max"), WR_QUOTA_MAX);
    assert_int_equal(parse("memory", "unlimited"), WR_QUOTA_MAX);
    assert_int_equal(parse("memory", "default"), WR_QUOTA_CLEAR);
    refused("memory", "");
    refused("memory", "12Q");
    refused("memory", "-5");
    refused("memory", "1M");  /* below the 4M floor */
    refused("memory", "0");
    refused("memory", ".5G");
    refused("memory", "5.G");
    refused("memory", "99999999999T");
    refused("memory", "1 G");
    refused("storage", "0");
}

static void cpus(void **state) {
    (void)state;
    assert_int_equal(parse("cpu", "0.5"), 500);
    assert_int_equal(parse("cpu", "2"), 2000);
    assert_int_equal(parse("cpu", "0.001"), 1);
    assert_int_equal(parse("cpu", "50%"), 500);
    assert_int_equal(parse("cpu", "150%"), 1500);
    assert_int_equal(parse("cpu", "max"), WR_QUOTA_MAX);
    refused("cpu", "0");
    refused("cpu", "0.0001");
    refused("cpu", "lots");
    refused("cpu", "-1");
    refused("cpu", "2000");
    refused("cpu", "0.5cores");
    assert_int_equal(parse("cpu-weight", "1"), 1);
    assert_int_equal(parse("cpu-weight", "10000"), 10000);
    refused("cpu-weight", "0");
    refused("cpu-weight", "10001");
}

static void counts(void **state) {
    (void)state;
    assert_int_equal(parse("pids", "256"), 256);
    assert_int_equal(parse("nofile", "1024"), 1024);
    assert_int_equal(parse("inodes", "1000000"), 1000000);
    refused("pids", "0");
    refused("pids", "1e3");
    refused("pids", "+5");
    refused("pids", "99999999999999999999");
    refused("nofile", "15");
    refused("nofile", "2000000");
    refused("inodes", "-1");
}

static void rates(void **state) {
    (void)state;
    assert_int_equal(parse("net-rate", "10mbit"), 10000000);
    assert_int_equal(parse("net-rate", "500kbit"), 500000);
    assert_int_equal(parse("net-rate", "1gbit"), 1000000000);
    assert_int_equal(parse("net-rate", "1.5mbit"), 1500000);
    assert_int_equal(parse("net-rate", "8000"), 8000);
    assert_int_equal(parse("net-rate", "max"), WR_QUOTA_MAX);
    refused("net-rate", "10mbps"); /* bytes: refused, not guessed */
    refused("net-rate", "10MB");
    refused("net-rate", "4");
    refused("net-rate", "fast");
}

static void unknown_option(void **state) {
    (void)state;
    wr_quota q;
    wr_quota_init(&q);
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_quota_parse_option(&q, "disk", "1G", &e), -EINVAL);
    assert_non_null(strstr(e.msg, "'disk'"));
}

static void formats(void **state) {
    (void)state;
    char b[32];
    wr_quota_format_size(512LL << 20, b, sizeof b);
    assert_string_equal(b, "512M");
    wr_quota_format_size(1000, b, sizeof b);
    assert_string_equal(b, "1000");
    wr_quota_format_size(WR_QUOTA_UNSET, b, sizeof b);
    assert_string_equal(b, "-");
    wr_quota_format_size(WR_QUOTA_MAX, b, sizeof b);
    assert_string_equal(b, "max");
    wr_quota_format_cpu(500, b, sizeof b);
    assert_string_equal(b, "0.5");
    wr_quota_format_cpu(2000, b, sizeof b);
    assert_string_equal(b, "2");
    wr_quota_format_cpu(1250, b, sizeof b);
    assert_string_equal(b, "1.25");
    wr_quota_format_rate(10000000, b, sizeof b);
    assert_string_equal(b, "10mbit");
    wr_quota_format_rate(1500000, b, sizeof b);
    assert_string_equal(b, "1500kbit");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes),          cmocka_unit_test(cpus),
        cmocka_unit_test(counts),         cmocka_unit_test(rates),
        cmocka_unit_test(unknown_option), cmocka_unit_test(formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
