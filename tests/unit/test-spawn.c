/* spawn-child.c: every step of a run's child has a name of its own, the one
 * a failed run's error names (`run setup failed at step '...'`). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "spawn-internal.h"
#include "testlib.h"

static void test_every_step_is_named(void **state) {
    (void)state;
    tl_assert_step_names(wr_spawn_step_name, STEP_MAX, "?");
    assert_string_equal(wr_spawn_step_name(STEP_INIT), "start the init (pid 1)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_step_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
