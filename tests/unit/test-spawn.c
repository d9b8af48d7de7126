/* spawn-child.c: every step of a run's child has a name of its own, the one
 * a failed run's error names (`run setup failed at step '...'`). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "spawn-internal.h"

static void test_every_step_is_named(void **state) {
    (void)state;
    for (int i = 0; i < STEP_MAX; i++) {
        const char *n = wr_spawn_step_name(i);
        assert_non_null(n);
        assert_string_not_equal(n, "?");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, wr_spawn_step_name(j));
    }
    assert_string_equal(wr_spawn_step_name(STEP_INIT), "start the init (pid 1)");
    assert_string_equal(wr_spawn_step_name(-1), "?");
    assert_string_equal(wr_spawn_step_name(STEP_MAX), "?");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_step_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
