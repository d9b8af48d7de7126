/* The network's pure parts: rates, modes, networks and ranges as users write
 * them, and the nftables ruleset warren generates (net-addr.c, net-rules.c).
 * What the ruleset does to packets is tests/integration/net-nat.sh's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net-internal.h"

static void expect_invalid(int r, const wr_err *e, const char *needle) {
    assert_int_equal(r, -EINVAL);
    assert_int_equal(e->kind, WR_ERR_INVALID);
    if (!strstr(e->msg, needle)) fail_msg("message '%s' lacks '%s'", e->msg, needle);
}

static void rates(void **state) {
    (void)state;
    static const struct {
        const char *in;
        uint64_t bps;
    } ok[] = {{"10mbit", 10000000}, {"500kbit", 500000},        {"1gbit", 1000000000},
              {"2500000", 2500000}, {"1.5mbit", 1500000},       {"0", 0},
              {"unlimited", 0},     {"16gbit", 16000000000ull}, {"10Mbit", 10000000}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        uint64_t v = 1;
        wr_err e = WR_ERR_INIT;
        assert_int_equal(wr_net_parse_rate(ok[i].in, &v, &e), 0);
        assert_true(v == ok[i].bps);
    }
    static const struct {
        const char *in, *needle;
    } bad[] = {{"", "expected"},           {"fast", "expected"},     {"-1mbit", "expected"},
               {"10mbps", "unknown unit"}, {"10MB", "unknown unit"}, {"17gbit", "at most 16gbit"},
               {"0.1bit", "at least"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint64_t v = 7;
        wr_err e = WR_ERR_INIT;
        expect_invalid(wr_net_parse_rate(bad[i].in, &v, &e), &e, bad[i].needle);
        assert_true(v == 7); /* untouched on failure */
    }
    char buf[32];
    wr_net_format_rate(0, buf, sizeof buf);
    assert_string_equal(buf, "unlimited");
    wr_net_format_rate(10000000, buf, sizeof buf);
    assert_string_equal(buf, "10mbit");
    wr_net_format_rate(1500000, buf, sizeof buf);
    assert_string_equal(buf, "1500kbit");
    wr_net_format_rate(2000000000, buf, sizeof buf);
    assert_string_equal(buf, "2gbit");
    wr_net_format_rate(1234567, buf, sizeof buf);
    assert_string_equal(buf, "1234567bit");
}

static void modes(void **state) {
    (void)state;
    wr_net_mode m = WR_NET_NAT;
    assert_int_equal(wr_net_mode_parse("none", &m, NULL), 0);
    assert_int_equal(m, WR_NET_NONE);
    assert_int_equal(wr_net_mode_parse("nat", &m, NULL), 0);
    assert_int_equal(m, WR_NET_NAT);
    wr_err e = WR_ERR_INIT;
    expect_invalid(wr_net_mode_parse("bridge", &m, &e), &e, "'bridge'");
    assert_string_equal(wr_net_mode_name(WR_NET_NAT), "nat");
    assert_string_equal(wr_net_mode_name(WR_NET_NONE), "none");
}

static void networks(void **state) {
    (void)state;
    wr_cidr c;
    assert_int_equal(wr_cidr_parse("10.210.0.0/16", "x", &c, NULL), 0);
    assert_true(c.addr == 0x0ad20000u && c.len == 16);
    assert_int_equal(wr_cidr_parse("192.0.2.7", "x", &c, NULL), 0);
    assert_true(c.addr == 0xc0000207u && c.len == 32);
    assert_int_equal(wr_cidr_parse("0.0.0.0/0", "x", &c, NULL), 0);
    assert_true(wr_cidr_contains(&c, 0xdeadbeefu));
    wr_err e = WR_ERR_INIT;
    expect_invalid(wr_cidr_parse("10.210.0.1/16", "WARREN_NET_DENY entry", &c, &e), &e,
                   "WARREN_NET_DENY entry '10.210.0.1/16': host bits set");
    wr_err_clear(&e);
    expect_invalid(wr_cidr_parse("10.0.0.0/33", "x", &c, &e), &e, "prefix length");
    wr_err_clear(&e);
    expect_invalid(wr_cidr_parse("10.0.0.0/", "x", &c, &e), &e, "prefix length");
    wr_err_clear(&e);
    expect_invalid(wr_cidr_parse("fe80::/10", "x", &c, &e), &e, "not an IPv4 address");
    char buf[16];
    wr_ipv4_format(0x0ad20006u, buf);
    assert_string_equal(buf, "10.210.0.6");
}

static void ranges(void **state) {
    (void)state;
    wr_cidr c;
    unsetenv("WARREN_NET_RANGE");
    assert_int_equal(wr_net_range(&c, NULL), 0);
    assert_true(c.addr == 0x0ad20000u && c.len == 16);
    setenv("WARREN_NET_RANGE", "100.64.8.0/22", 1);
    assert_int_equal(wr_net_range(&c, NULL), 0);
    assert_true(c.addr == 0x64400800u && c.len == 22);
    static const struct {
        const char *in, *needle;
    } bad[] = {{"198.51.100.0/24", "must lie in"},
               {"10.0.0.0/30", "/8 to a /28"},
               {"0.0.0.0/0", "/8 to a /28"},
               {"10.0.0.1/24", "host bits"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("WARREN_NET_RANGE", bad[i].in, 1);
        wr_err e = WR_ERR_INIT;
        expect_invalid(wr_net_range(&c, &e), &e, bad[i].needle);
        if (!strstr(e.msg, "WARREN_NET_RANGE")) fail_msg("'%s' does not name the variable", e.msg);
    }
    unsetenv("WARREN_NET_RANGE");

    unsigned conns = 0;
    unsetenv("WARREN_NET_MAX_CONNS");
    assert_int_equal(wr_net_max_conns(&conns, NULL), 0);
    assert_int_equal(conns, WR_NET_MAX_CONNS_DEFAULT);
    setenv("WARREN_NET_MAX_CONNS", "0", 1);
    assert_int_equal(wr_net_max_conns(&conns, NULL), 0);
    assert_int_equal(conns, 0);
    setenv("WARREN_NET_MAX_CONNS", "many", 1);
    wr_err ce = WR_ERR_INIT;
    expect_invalid(wr_net_max_conns(&conns, &ce), &ce, "WARREN_NET_MAX_CONNS 'many'");
    unsetenv("WARREN_NET_MAX_CONNS");

    wr_cidr *v = NULL;
    size_t n = 9;
    unsetenv("WARREN_NET_DENY");
    assert_int_equal(wr_net_extra_deny(&v, &n, NULL), 0);
    assert_null(v);
    assert_int_equal(n, 0);
    setenv("WARREN_NET_DENY", "192.168.0.0/16, 10.0.0.0/8,", 1);
    assert_int_equal(wr_net_extra_deny(&v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_true(v[0].addr == 0xc0a80000u && v[0].len == 16 && v[1].len == 8);
    free(v);
    setenv("WARREN_NET_DENY", "192.168.0.0/16,lan", 1);
    wr_err e = WR_ERR_INIT;
    expect_invalid(wr_net_extra_deny(&v, &n, &e), &e, "'lan'");
    unsetenv("WARREN_NET_DENY");
}

static void has(const char *text, const char *needle) {
    if (!strstr(text, needle)) fail_msg("ruleset lacks '%s':\n%s", needle, text);
}

static void ruleset_text(void **state) {
    (void)state;
    wr_net_ruleset rs = {.range = {0x0ad20000u, 16}};
    char *t = wr_net_rules_text(&rs);
    assert_non_null(t);
    /* No tenant: the table goes, and nothing else is said. */
    assert_string_equal(t, "table inet warren\ndelete table inet warren\n");
    free(t);

    wr_net_rule_tenant tenants[] = {
        {"wrn60001", 0x0ad20002u, {0x0ad20000u, 30}},
        {"wrn60002", 0x0ad20006u, {0x0ad20004u, 30}},
        {"wrn60003", 0xac100002u, {0xac100000u, 30}}, /* from an earlier range */
    };
    wr_cidr deny[] = {{0xc0a80000u, 16}};
    rs.tenants = tenants;
    rs.ntenants = 3;
    rs.deny = deny;
    rs.ndeny = 1;
    t = wr_net_rules_text(&rs);
    assert_non_null(t);
    /* Atomic replacement: create-if-missing, delete, make, in one buffer. */
    assert_true(
        strncmp(t, "table inet warren\ndelete table inet warren\ntable inet warren {", 60) == 0);
    has(t, "\"wrn60001\" . 10.210.0.2, \"wrn60002\" . 10.210.0.6, \"wrn60003\" . 172.16.0.2");
    has(t, "elements = { 10.210.0.2, 10.210.0.6, 172.16.0.2 }");
    has(t, "0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/3, 10.210.0.0/16, 172.16.0.0/30, "
           "192.168.0.0/16 }");
    has(t, "type filter hook input priority filter - 5; policy accept;\n\t\tiifname \"wrn*\" drop");
    has(t, "iifname . ip saddr != @tenant_src drop");
    has(t, "meta nfproto != ipv4 drop");
    has(t, "oifname \"wrn*\" ct state established,related accept\n\t\toifname \"wrn*\" drop\n\t}");
    has(t, "ip saddr @tenant_v4 oifname != \"wrn*\" masquerade");
    if (strstr(t, "tenant_conns")) fail_msg("no connection cap asked for, yet:\n%s", t);
    free(t);

    rs.max_conns = 100;
    t = wr_net_rules_text(&rs);
    has(t, "set tenant_conns {\n\t\ttype ifname\n\t\tsize 65535\n\t\tflags dynamic\n\t}");
    has(t, "ct state new add @tenant_conns { iifname ct count over 100 } drop\n\t\taccept");
    free(t);
    rs.max_conns = 0;

    rs.forward_guard = true;
    t = wr_net_rules_text(&rs);
    has(t, "oifname \"wrn*\" drop\n\t\tdrop\n\t}");
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rates),  cmocka_unit_test(modes),        cmocka_unit_test(networks),
        cmocka_unit_test(ranges), cmocka_unit_test(ruleset_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
