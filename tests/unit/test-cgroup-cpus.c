/* CPU sets and a tenant's placement on CPUs (src/lib/cgroup-cpus.c). The
 * placement reads the other tenants' `cpuset.cpus` below warren's group; here
 * that tree is a scratch directory with the same files, so each case sets up
 * exactly the neighbours it means. What the kernel does with a placement is
 * tests/integration/cpu-placement.sh's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "testlib.h"

static wr_cpumask mask(const char *list) {
    wr_cpumask m;
    assert_int_equal(wr_cpus_parse(list, &m), 0);
    return m;
}

static void assert_list(const wr_cpumask *m, const char *want) {
    char buf[256];
    wr_cpus_format(m, buf, sizeof buf);
    assert_string_equal(buf, want);
}

static void parse_and_format(void **state) {
    (void)state;
    wr_cpumask m = mask("0-3,8,10-11\n");
    assert_int_equal(wr_cpus_count(&m), 7);
    assert_true(wr_cpus_has(&m, 3) && wr_cpus_has(&m, 8) && !wr_cpus_has(&m, 9));
    assert_list(&m, "0-3,8,10-11");
    m = mask("5");
    assert_list(&m, "5");
    m = mask("1,2,3");
    assert_list(&m, "1-3"); /* ranges come back as ranges */
    m = mask("\n");
    assert_int_equal(wr_cpus_count(&m), 0);
    assert_list(&m, "");
    m = mask("1023");
    assert_true(wr_cpus_has(&m, 1023));

    static const char *const bad[] = {"a", "1-", "3-1", "1,,2", "1;2", "1024", "-1", "0-99999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wr_cpumask b;
        if (wr_cpus_parse(bad[i], &b) != -EINVAL) fail_msg("parsed \"%s\"", bad[i]);
    }

    /* A buffer too short for the list gets a cut list, never an overrun. */
    m = mask("0,2,4,6,8,10");
    char small[6];
    wr_cpus_format(&m, small, sizeof small);
    assert_true(strlen(small) < sizeof small);
}

/* The neighbours: a directory per tenant below `warren`, each with its
 * cpuset.cpus. */
static void neighbour(int dirfd, const char *name, const char *cpus) {
    assert_int_equal(mkdirat(dirfd, name, 0755), 0);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    tl_write_at(fd, "cpuset.cpus", cpus, 0644);
    close(fd);
}

static void placed(int dirfd, const char *tenant, const char *all, int64_t milli,
                   bool want_placed, const char *want) {
    wr_cpumask a = mask(all), got;
    assert_int_equal(wr_cg_place(dirfd, "cpuset.cpus", tenant, &a, milli, &got), want_placed);
    assert_list(&got, want);
}

static void place(void **state) {
    (void)state;
    tl_scratch *s = tl_scratch_new("cpus");
    assert_non_null(s);

    /* Unlimited, or a quota of as many cores as there are: every CPU. */
    placed(s->fd, "t", "0-3", WR_QUOTA_MAX, false, "0-3");
    placed(s->fd, "t", "0-3", 4000, false, "0-3");
    placed(s->fd, "t", "0-3", 3500, false, "0-3");
    placed(s->fd, "t", "0", 500, false, "0");

    /* Rounded up: 0.5 -> 1 CPU, 1.001 -> 2, 2 -> 2. */
    wr_cpumask a = mask("0-3"), got;
    assert_true(wr_cg_place(s->fd, "cpuset.cpus", "t", &a, 500, &got));
    assert_int_equal(wr_cpus_count(&got), 1);
    assert_true(wr_cg_place(s->fd, "cpuset.cpus", "t", &a, 1001, &got));
    assert_int_equal(wr_cpus_count(&got), 2);
    assert_true(wr_cg_place(s->fd, "cpuset.cpus", "t", &a, 2000, &got));
    assert_int_equal(wr_cpus_count(&got), 2);

    /* The CPUs fewest others are placed on; a neighbour on all of them, or
     * on none (v2's empty), and the tenant's own old placement do not count. */
    neighbour(s->fd, "n1", "0\n");
    neighbour(s->fd, "n2", "1-2\n");
    neighbour(s->fd, "n2b", "1-2\n");
    neighbour(s->fd, "n3", "0-3\n");
    neighbour(s->fd, "n4", "\n");
    neighbour(s->fd, "t", "3\n");
    placed(s->fd, "t", "0-3", 500, true, "3");
    placed(s->fd, "t", "0-3", 2000, true, "0,3"); /* 3 (none), then 0 (one) */
    neighbour(s->fd, "n5", "3\n");
    neighbour(s->fd, "n6", "3\n");
    placed(s->fd, "t", "0-3", 500, true, "0");
    /* Only CPUs of warren's own set are candidates, however free others are. */
    wr_cpumask some = mask("1-3");
    assert_true(wr_cg_place(s->fd, "cpuset.cpus", "t", &some, 500, &got));
    assert_int_equal(wr_cpus_count(&got), 1);
    assert_false(wr_cpus_has(&got, 0));

    /* Ties go round from a point the name gives: among four free CPUs,
     * tenants spread rather than all taking the first. */
    tl_scratch *e = tl_scratch_new("cpus-empty");
    assert_non_null(e);
    unsigned seen = 0;
    for (int i = 0; i < 32; i++) {
        char name[16];
        snprintf(name, sizeof name, "tenant%d", i);
        wr_cpumask one;
        assert_true(wr_cg_place(e->fd, "cpuset.cpus", name, &a, 500, &one));
        for (unsigned c = 0; c < 4; c++)
            if (wr_cpus_has(&one, c)) seen |= 1u << c;
    }
    assert_int_equal(seen, 0xf);
    tl_scratch_free(e);
    tl_scratch_free(s);
}

static void unplaced(int dirfd, const char *all, const char *from, bool want_some,
                     const char *want) {
    wr_cpumask a = mask(all), f = mask(from), got;
    assert_int_equal(wr_cg_unplaced(dirfd, "cpuset.cpus", &a, &f, &got), want_some);
    assert_list(&got, want);
}

/* The supervisor's CPUs (supervisor.c): those no tenant is placed on. */
static void supervisor_cpus(void **state) {
    (void)state;
    tl_scratch *s = tl_scratch_new("unplaced");
    assert_non_null(s);
    /* No tenant placed: nothing to keep off. */
    unplaced(s->fd, "0-3", "0-3", false, "0-3");
    neighbour(s->fd, "everywhere", "0-3\n"); /* all of warren's: not placed */
    neighbour(s->fd, "inherits", "\n");      /* v2's empty: not placed */
    unplaced(s->fd, "0-3", "0-3", false, "0-3");

    /* One tenant on 1: every other CPU, each tenant counted. */
    neighbour(s->fd, "a", "1\n");
    unplaced(s->fd, "0-3", "0-3", true, "0,2-3");
    neighbour(s->fd, "b", "2-3\n");
    unplaced(s->fd, "0-3", "0-3", true, "0");
    /* Only within the supervisor's own CPUs. */
    unplaced(s->fd, "0-3", "0-2", true, "0");
    unplaced(s->fd, "0-3", "0,3", true, "0");
    /* None of its own is free, or none is held: it stays where it is. */
    unplaced(s->fd, "0-3", "1-3", false, "1-3");
    neighbour(s->fd, "c", "0\n");
    unplaced(s->fd, "0-3", "0-3", false, "0-3");
    tl_scratch_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_and_format),
        cmocka_unit_test(place),
        cmocka_unit_test(supervisor_cpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
