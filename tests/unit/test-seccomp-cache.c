/* The strong level's compiled filter kept between processes
 * (seccomp-cache.c): stored on a miss, reused on a hit, identical to a fresh
 * build, and never trusted when it is not exactly what warren wrote. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seccomp.h"
#include "testlib.h"
#include "util.h"

/* The one cache file in dir (its name into out), or how many there are. */
static int cache_files(const char *dir, char *out, size_t size) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "seccomp-", 8)) {
            n++;
            if (out) snprintf(out, size, "%s/%s", dir, de->d_name);
        }
    closedir(d);
    return n;
}

static bool same_program(const wr_seccomp *a, const wr_seccomp *b) {
    size_t la, lb;
    bool na, nb;
    const void *pa = wr_seccomp_program(a, &la, &na), *pb = wr_seccomp_program(b, &lb, &nb);
    return la == lb && na == nb && !memcmp(pa, pb, la * 8);
}

static void stored_then_reused(void **state) {
    (void)state;
    tl_scratch *s = tl_scratch_new("seccomp-cache");
    assert_non_null(s);
    wr_seccomp *built, *first, *second;
    assert_int_equal(wr_seccomp_build(true, &built, NULL), 0);
    assert_int_equal(cache_files(s->dir, NULL, 0), 0);
    assert_int_equal(wr_seccomp_cached(s->dir, true, &first, NULL), 0);
    char path[TL_SCRATCH_MAX + 64];
    assert_int_equal(cache_files(s->dir, path, sizeof path), 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(same_program(built, first));

    /* A hit reads the file: mark it so that a rebuild would show. */
    struct timespec old[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    assert_int_equal(wr_seccomp_cached(s->dir, true, &second, NULL), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mtime, 1000000); /* not rewritten */
    assert_true(same_program(built, second));
    /* Back to now: an entry of another key unchanged for a week is pruned
     * when a new one is stored (below). */
    assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0);

    /* Without notification: another program, another entry. */
    wr_seccomp *plain, *plain_built;
    assert_int_equal(wr_seccomp_cached(s->dir, false, &plain, NULL), 0);
    assert_int_equal(wr_seccomp_build(false, &plain_built, NULL), 0);
    assert_true(same_program(plain, plain_built));
    assert_int_equal(cache_files(s->dir, NULL, 0), 2);

    wr_seccomp_free(built);
    wr_seccomp_free(first);
    wr_seccomp_free(second);
    wr_seccomp_free(plain);
    wr_seccomp_free(plain_built);
    tl_scratch_free(s);
}

/* Each way the file can be wrong: it is ignored, a fresh build is used and
 * stored again. */
static void untrusted_files_are_rebuilt(void **state) {
    (void)state;
    tl_scratch *s = tl_scratch_new("seccomp-cache-bad");
    assert_non_null(s);
    wr_seccomp *built, *f;
    assert_int_equal(wr_seccomp_build(true, &built, NULL), 0);
    assert_int_equal(wr_seccomp_cached(s->dir, true, &f, NULL), 0);
    wr_seccomp_free(f);
    char path[TL_SCRATCH_MAX + 64];
    assert_int_equal(cache_files(s->dir, path, sizeof path), 1);

    for (int how = 0; how < 3; how++) {
        switch (how) {
        case 0: /* cut short */
            assert_int_equal(truncate(path, 100), 0);
            break;
        case 1: /* writable by the group */
            assert_int_equal(chmod(path, 0620), 0);
            break;
        case 2: /* owned by someone else: warren's own file only */
            assert_int_equal(chown(path, 12345, 12345), 0);
            break;
        }
        assert_int_equal(wr_seccomp_cached(s->dir, true, &f, NULL), 0);
        assert_true(same_program(built, f));
        wr_seccomp_free(f);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        /* stored again, as warren writes it */
        assert_int_equal(st.st_uid, geteuid());
        assert_int_equal(st.st_mode & 0777, 0600);
        /* start the next case from a good file */
        unlink(path);
        assert_int_equal(wr_seccomp_cached(s->dir, true, &f, NULL), 0);
        wr_seccomp_free(f);
    }
    wr_seccomp_free(built);
    tl_scratch_free(s);
}

int main(void) {
    if (geteuid() != 0) {
        printf("1..0 # SKIP the cache is checked for root's ownership; run as root\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stored_then_reused),
        cmocka_unit_test(untrusted_files_are_rebuilt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
