/* Names: what warren accepts as tenant and service ids, and the account names
 * it derives. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "naming.h"

static void expect_invalid_tenant(const char *id, const char *needle) {
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_check_tenant_id(id, &e), -EINVAL);
    assert_int_equal(e.kind, WR_ERR_INVALID);
    if (!strstr(e.msg, needle)) fail_msg("message '%s' lacks '%s'", e.msg, needle);
}

static void tenant_ids_accepted(void **state) {
    (void)state;
    const char *ok[] = {"alice@example.com", "user_123", "auth0|123456", "a", "Zoë ☃ 雪",
                        "../../etc/passwd", "with space", "emoji 😀", "x:y,z=w\\"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        wr_err e = WR_ERR_INIT;
        assert_int_equal(wr_check_tenant_id(ok[i], &e), 0);
        assert_int_equal(e.kind, WR_ERR_NONE);
    }
    char max[WR_TENANT_ID_MAX + 1];
    memset(max, 'a', WR_TENANT_ID_MAX);
    max[WR_TENANT_ID_MAX] = 0;
    assert_int_equal(wr_check_tenant_id(max, NULL), 0);
}

static void tenant_ids_refused(void **state) {
    (void)state;
    expect_invalid_tenant("", "empty");
    expect_invalid_tenant(NULL, "empty");
    char big[WR_TENANT_ID_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    expect_invalid_tenant(big, "257 bytes");
    expect_invalid_tenant("new\nline", "U+000A at byte 3");
    expect_invalid_tenant("tab\there", "U+0009");
    expect_invalid_tenant("del\x7f", "U+007F");
    expect_invalid_tenant("c1\xc2\x85", "U+0085");          /* NEL, a C1 control */
    expect_invalid_tenant("bad\xff", "invalid UTF-8 at byte 3");
    expect_invalid_tenant("over\xc0\xaf", "invalid UTF-8");    /* overlong '/' */
    expect_invalid_tenant("sur\xed\xa0\x80", "invalid UTF-8"); /* a surrogate */
    expect_invalid_tenant("trunc\xe2\x98", "invalid UTF-8");
    expect_invalid_tenant("big\xf4\x90\x80\x80", "invalid UTF-8"); /* above U+10FFFF */
}

static void service_ids(void **state) {
    (void)state;
    const char *ok[] = {"my-api", "a", "A1._-x", "service_123", "v1.2"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_int_equal(wr_check_service_id(ok[i], NULL), 0);
    char max[WR_SERVICE_ID_MAX + 1];
    memset(max, 'b', WR_SERVICE_ID_MAX);
    max[WR_SERVICE_ID_MAX] = 0;
    assert_int_equal(wr_check_service_id(max, NULL), 0);

    struct { const char *id, *needle; } bad[] = {
        {"", "empty"},        {".", "start with"},  {"..", "start with"},
        {"../x", "start with"}, {"/etc", "start with"}, {"a/b", "'/'"},
        {"a b", "' '"},       {"x\ny", "0x0a"},     {"-rf", "start with"},
        {"é", "0xc3"},        {"a..", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wr_err e = WR_ERR_INIT;
        int r = wr_check_service_id(bad[i].id, &e);
        if (!bad[i].needle) { /* "a.." is a legal name: dots inside are fine */
            assert_int_equal(r, 0);
            continue;
        }
        assert_int_equal(r, -EINVAL);
        if (!strstr(e.msg, bad[i].needle)) fail_msg("'%s': message '%s'", bad[i].id, e.msg);
    }
    char big[WR_SERVICE_ID_MAX + 2];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(wr_check_service_id(big, NULL), -EINVAL);
}

static void prefixes(void **state) {
    (void)state;
    assert_int_equal(wr_check_prefix("warren_", NULL), 0);
    assert_int_equal(wr_check_prefix("pactown_", NULL), 0);
    assert_int_equal(wr_check_prefix("t-1_", NULL), 0);
    assert_int_equal(wr_check_prefix("", NULL), -EINVAL);
    assert_int_equal(wr_check_prefix("1abc", NULL), -EINVAL);
    assert_int_equal(wr_check_prefix("Upper", NULL), -EINVAL);
    assert_int_equal(wr_check_prefix("a:b", NULL), -EINVAL);
    assert_int_equal(wr_check_prefix("abcdefghijklmnopq", NULL), -EINVAL); /* 17 */
}

static void usernames(void **state) {
    (void)state;
    /* sha256("alice@example.com") = ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976 */
    char hex[65], name[WR_USERNAME_MAX + 1];
    wr_tenant_hash_hex("alice@example.com", hex);
    assert_string_equal(hex, "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976");
    assert_int_equal(wr_username_for("warren_", "alice@example.com", 8, name), 0);
    assert_string_equal(name, "warren_ff8d9819");
    assert_int_equal(wr_username_for("pactown_", "alice@example.com", 8, name), 0);
    assert_string_equal(name, "pactown_ff8d9819");
    assert_int_equal(wr_username_for("warren_", "alice@example.com", 9, name), 0);
    assert_string_equal(name, "warren_ff8d9819f");
    assert_int_equal(wr_username_for("warren_", "alice@example.com", 25, name), 0);
    assert_int_equal(strlen(name), 32);
    assert_int_equal(wr_username_for("warren_", "alice@example.com", 26, name), -ENAMETOOLONG);
}

static void gecos(void **state) {
    (void)state;
    char g[WR_GECOS_MAX + 1];
    wr_gecos_from_tenant_id("alice@example.com", g);
    assert_string_equal(g, "alice@example.com");
    wr_gecos_from_tenant_id("a:b,c=d\\e", g);
    assert_string_equal(g, "a_b_c_d_e");
    wr_gecos_from_tenant_id("Zoë ☃", g);
    assert_string_equal(g, "Zoë ☃");
    /* 100 snowmen are 300 bytes: the cut keeps whole characters only. */
    char big[301] = {0};
    for (int i = 0; i < 100; i++) memcpy(big + 3 * i, "\xe2\x98\x83", 3);
    wr_gecos_from_tenant_id(big, g);
    assert_int_equal(strlen(g), 198);
    assert_int_equal(wr_check_tenant_id(g, NULL), 0);
}

static void config_values(void **state) {
    (void)state;
    wr_config c;
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_config_defaults(&c, &e), 0);
    assert_int_equal(c.uid_min, 60001);
    assert_true(c.uid_max - c.uid_min >= 100000 + 4336 + 2);
    assert_int_equal(wr_config_set_uid_range(&c, "70000-80000", NULL), 0);
    assert_int_equal(c.uid_min, 70000);
    assert_int_equal(c.uid_max, 80000);
    assert_int_equal(wr_config_set_uid_range(&c, "80000-70000", NULL), -EINVAL);
    assert_int_equal(wr_config_set_uid_range(&c, "0-10", NULL), -EINVAL);
    assert_int_equal(wr_config_set_uid_range(&c, "abc", NULL), -EINVAL);
    assert_int_equal(wr_config_set_uid_range(&c, "1000-99999999999", NULL), -EINVAL);
    assert_int_equal(wr_config_set_users_base(&c, "relative/path", NULL), -EINVAL);
    assert_int_equal(wr_config_set_users_base(&c, "/a/../b", NULL), -EINVAL);
    assert_int_equal(wr_config_set_users_base(&c, "/srv/tenants///", NULL), 0);
    assert_string_equal(c.users_base, "/srv/tenants");
    wr_err e2 = WR_ERR_INIT;
    assert_int_equal(wr_config_set_state_dir(&c, "x", &e2), -EINVAL);
    assert_non_null(strstr(e2.msg, "state directory 'x'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tenant_ids_accepted), cmocka_unit_test(tenant_ids_refused),
        cmocka_unit_test(service_ids),         cmocka_unit_test(prefixes),
        cmocka_unit_test(usernames),           cmocka_unit_test(gecos),
        cmocka_unit_test(config_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
