/* accounts.c against a scratch account directory: never the host's /etc. */
#include "accounts.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "testlib.h"
#include "util.h"

static const char *const account_files[] = {"group", "gshadow", "passwd", "shadow"};
enum { SHADOW_GID = 42 };

static const char PASSWD[] = "root:x:0:0:root:/root:/bin/bash\n"
                             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                             "warren_mid:x:60005:60005:mid:/home/w/warren_mid:/usr/sbin/nologin\n"
                             "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n";
static const char GROUP[] = "root:x:0:\n"
                            "shadow:x:42:\n"
                            "warren_mid:x:60005:\n"
                            "alice:x:1000:\n";
static const char SHADOW[] = "root:*:19000:0:99999:7:::\n"
                             "daemon:*:19000:0:99999:7:::\n"
                             "warren_mid:!:19500:0:99999:7:::\n"
                             "alice:$y$j9T$abc:19000:0:99999:7:::\n";
static const char GSHADOW[] = "root:*::\n"
                              "shadow:*::\n"
                              "warren_mid:!::\n"
                              "alice:!::\n";

static char scratch[PATH_MAX - 16];
static char etc[PATH_MAX];

/* --- helpers --------------------------------------------------------------- */

static void path_of(char *buf, size_t n, const char *file) {
    assert_true((size_t)snprintf(buf, n, "%s/%s", etc, file) < n);
}

static void write_file(const char *file, const char *content, mode_t mode) {
    char p[PATH_MAX];
    path_of(p, sizeof p, file);
    tl_write_at(AT_FDCWD, p, content, mode);
}

static char *slurp(const char *file) {
    char p[PATH_MAX];
    path_of(p, sizeof p, file);
    FILE *f = fopen(p, "re");
    assert_non_null(f);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

static struct stat stat_of(const char *file) {
    char p[PATH_MAX];
    struct stat st;
    path_of(p, sizeof p, file);
    assert_int_equal(stat(p, &st), 0);
    return st;
}

static bool exists(const char *file) {
    char p[PATH_MAX];
    path_of(p, sizeof p, file);
    return access(p, F_OK) == 0;
}

typedef struct snapshot {
    char *content[4];
    struct stat st[4];
} snapshot;

static void take(snapshot *s) {
    for (size_t i = 0; i < 4; i++) {
        s->content[i] = exists(account_files[i]) ? slurp(account_files[i]) : NULL;
        if (s->content[i]) s->st[i] = stat_of(account_files[i]);
    }
}

static void drop(snapshot *s) {
    for (size_t i = 0; i < 4; i++)
        free(s->content[i]);
}

/* Same bytes in every file, and the same inode: not even rewritten. */
static void assert_untouched(const snapshot *before) {
    for (size_t i = 0; i < 4; i++) {
        if (!before->content[i]) {
            assert_false(exists(account_files[i]));
            continue;
        }
        char *now = slurp(account_files[i]);
        assert_string_equal(now, before->content[i]);
        free(now);
        assert_int_equal(stat_of(account_files[i]).st_ino, before->st[i].st_ino);
    }
}

static bool has_line_starting(const char *content, const char *prefix) {
    size_t n = strlen(prefix);
    for (const char *l = content; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, prefix, n) == 0) return true;
    return false;
}

static void assert_no_temp_files(void) {
    DIR *d = opendir(etc);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".warren-")) fail_msg("temporary file %s left behind", de->d_name);
    closedir(d);
}

static wr_account account(const char *name, uid_t uid) {
    static char home[PATH_MAX];
    snprintf(home, sizeof home, "/home/warren_users/%s", name);
    return (wr_account){.name = name, .uid = uid, .gid = uid, .gecos = "tenant", .home = home};
}

static int add_locked(const wr_account *a, wr_err *e) {
    int r = wr_accounts_lock(etc, e);
    if (r < 0) return r;
    r = wr_accounts_add(etc, a, e);
    wr_accounts_unlock(etc);
    return r;
}

static int remove_locked(const char *name, uid_t uid, wr_err *e) {
    int r = wr_accounts_lock(etc, e);
    if (r < 0) return r;
    r = wr_accounts_remove(etc, name, uid, e);
    wr_accounts_unlock(etc);
    return r;
}

static int setup(void **state) {
    int fd = tl_scratch_make(scratch, sizeof scratch, "accounts");
    assert_true(fd >= 0);
    close(fd);
    snprintf(etc, sizeof etc, "%s/etc", scratch);
    assert_int_equal(mkdir(etc, 0755), 0);
    write_file("passwd", PASSWD, 0644);
    write_file("group", GROUP, 0644);
    write_file("shadow", SHADOW, 0640);
    write_file("gshadow", GSHADOW, 0640);
    if (geteuid() == 0) {
        char p[PATH_MAX];
        path_of(p, sizeof p, "shadow");
        assert_int_equal(chown(p, 0, SHADOW_GID), 0);
        path_of(p, sizeof p, "gshadow");
        assert_int_equal(chown(p, 0, SHADOW_GID), 0);
    }
    return 0;
}

static int teardown(void **state) {
    tl_scratch_remove(scratch);
    return 0;
}

/* --- add --------------------------------------------------------------------- */

static void add_appends_exact_lines(void **state) {
    snapshot before;
    take(&before);
    long day_before = (long)(time(NULL) / 86400);
    wr_account a = {.name = "warren_1a2b3c4d",
                    .uid = 60001,
                    .gid = 60001,
                    .gecos = "alice@example.com",
                    .home = "/home/warren_users/warren_1a2b3c4d"};
    wr_err e = WR_ERR_INIT;
    assert_int_equal(add_locked(&a, &e), 0);
    assert_int_equal(e.kind, WR_ERR_NONE);
    long day_after = (long)(time(NULL) / 86400);

    char shadow[128];
    snprintf(shadow, sizeof shadow, "warren_1a2b3c4d:!:%ld:0:99999:7:::\n", day_after);
    const char *expected[4] = {
        "warren_1a2b3c4d:x:60001:\n",
        "warren_1a2b3c4d:!::\n",
        "warren_1a2b3c4d:x:60001:60001:alice@example.com:/home/warren_users/warren_1a2b3c4d:"
        "/usr/sbin/nologin\n",
        shadow,
    };
    for (size_t i = 0; i < 4; i++) {
        char *now = slurp(account_files[i]);
        size_t old = strlen(before.content[i]);
        assert_memory_equal(now, before.content[i], old);
        if (i == 3 && day_before != day_after && strcmp(now + old, expected[i]) != 0)
            snprintf(shadow, sizeof shadow, "warren_1a2b3c4d:!:%ld:0:99999:7:::\n", day_before);
        assert_string_equal(now + old, expected[i]);
        free(now);
        /* Appended in place: same inode, same owner and mode. */
        struct stat st = stat_of(account_files[i]);
        assert_int_equal(st.st_ino, before.st[i].st_ino);
        assert_int_equal(st.st_mode, before.st[i].st_mode);
    }
    drop(&before);
}

static void add_uses_given_gid_and_shell(void **state) {
    wr_account a = {.name = "svc",
                    .uid = 60002,
                    .gid = 60003,
                    .gecos = "",
                    .home = "/srv/svc",
                    .shell = "/bin/sh"};
    assert_int_equal(add_locked(&a, NULL), 0);
    char *passwd = slurp("passwd"), *group = slurp("group");
    assert_true(has_line_starting(passwd, "svc:x:60002:60003::/srv/svc:/bin/sh\n"));
    assert_true(has_line_starting(group, "svc:x:60003:\n"));
    free(passwd);
    free(group);
}

static void add_separates_unterminated_last_line(void **state) {
    /* An editor that dropped the final newline: the new line must not join it. */
    write_file("passwd", "root:x:0:0:root:/root:/bin/bash", 0644);
    write_file("group", "root:x:0:", 0644);
    wr_account a = account("warren_nl", 60007);
    assert_int_equal(add_locked(&a, NULL), 0);
    char *passwd = slurp("passwd"), *group = slurp("group");
    assert_string_equal(passwd, "root:x:0:0:root:/root:/bin/bash\n"
                                "warren_nl:x:60007:60007:tenant:/home/warren_users/warren_nl:"
                                "/usr/sbin/nologin\n");
    assert_string_equal(group, "root:x:0:\nwarren_nl:x:60007:\n");
    free(passwd);
    free(group);
}

static void expect_invalid(const wr_account *a, const char *field) {
    snapshot before;
    take(&before);
    wr_err e = WR_ERR_INIT;
    assert_true(add_locked(a, &e) < 0);
    assert_int_equal(e.kind, WR_ERR_INVALID);
    if (!strstr(e.msg, field)) fail_msg("message '%s' does not name %s", e.msg, field);
    assert_untouched(&before);
    drop(&before);
}

static void add_refuses_bad_fields(void **state) {
    wr_account a = account("warren_ok", 60008);
    a.name = "warren:x";
    expect_invalid(&a, "name");
    a.name = "warren\nroot";
    expect_invalid(&a, "name");
    a.name = "";
    expect_invalid(&a, "name");
    a.name = "+nis";
    expect_invalid(&a, "name");
    a.name = "warren_ok";
    a.gecos = "evil\nroot::0:0::/:/bin/sh";
    expect_invalid(&a, "gecos");
    a.gecos = "x";
    a.home = "/home/a:b";
    expect_invalid(&a, "home");
    a.home = "";
    expect_invalid(&a, "home");
    a.home = "/home/ok";
    a.shell = "/bin/sh:";
    expect_invalid(&a, "shell");
}

static void add_needs_passwd_and_changes_nothing_without_it(void **state) {
    char p[PATH_MAX];
    path_of(p, sizeof p, "passwd");
    assert_int_equal(unlink(p), 0);
    snapshot before;
    take(&before);
    wr_account a = account("warren_np", 60009);
    wr_err e = WR_ERR_INIT;
    assert_int_equal(add_locked(&a, &e), -ENOENT);
    assert_int_equal(e.kind, WR_ERR_SYSTEM);
    assert_non_null(strstr(e.msg, "passwd"));
    /* group and gshadow come first in the order; they must not keep a line. */
    assert_untouched(&before);
    drop(&before);
}

static void add_skips_absent_shadow_files(void **state) {
    char p[PATH_MAX];
    path_of(p, sizeof p, "shadow");
    assert_int_equal(unlink(p), 0);
    path_of(p, sizeof p, "gshadow");
    assert_int_equal(unlink(p), 0);
    wr_account a = account("warren_ns", 60010);
    assert_int_equal(add_locked(&a, NULL), 0);
    assert_false(exists("shadow"));
    assert_false(exists("gshadow"));
    char *passwd = slurp("passwd"), *group = slurp("group");
    assert_true(has_line_starting(passwd, "warren_ns:x:60010:60010:"));
    assert_true(has_line_starting(group, "warren_ns:x:60010:\n"));
    free(passwd);
    free(group);
    /* And remove copes with their absence too. */
    assert_int_equal(remove_locked("warren_ns", 60010, NULL), 0);
    passwd = slurp("passwd");
    assert_string_equal(passwd, PASSWD);
    free(passwd);
}

/* In a child: an add with only a few bytes of room past shadow's size (its
 * size in the snapshot arg), so the shadow write is cut short, then refused. */
static int child_add_past_size_limit(void *arg) {
    const snapshot *before = arg;
    signal(SIGXFSZ, SIG_IGN);
    rlim_t lim = (rlim_t)before->st[3].st_size + 5;
    struct rlimit rl = {lim, lim};
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0) return 10;
    wr_account a = account("warren_rb", 60011);
    wr_err e = WR_ERR_INIT;
    int r = add_locked(&a, &e);
    return r == -EFBIG && e.kind == WR_ERR_SYSTEM && strstr(e.msg, "shadow") ? 0 : 1;
}

/* shadow, written last, fails for real (file size limit) after group, gshadow
 * and passwd took their lines: all three must be cut back. */
static void add_is_all_or_nothing_on_write_failure(void **state) {
    char big[16384] = "";
    strcat(big, SHADOW);
    for (int i = 0; i < 200; i++) {
        char l[64];
        snprintf(l, sizeof l, "filler%03d:!:19000:0:99999:7:::\n", i);
        strcat(big, l);
    }
    write_file("shadow", big, 0640);
    snapshot before;
    take(&before);
    assert_true(before.st[3].st_size > before.st[2].st_size + 200);

    tl_in_child(child_add_past_size_limit, &before);
    assert_untouched(&before);
    drop(&before);
}

/* --- remove -------------------------------------------------------------------- */

static void remove_matches_exact_names(void **state) {
    wr_account ab = account("warren_ab", 60020), abc = account("warren_abc", 60021),
               a = account("warren_a", 60022);
    assert_int_equal(add_locked(&ab, NULL), 0);
    assert_int_equal(add_locked(&abc, NULL), 0);
    assert_int_equal(add_locked(&a, NULL), 0);
    assert_int_equal(remove_locked("warren_ab", 60020, NULL), 0);
    for (size_t i = 0; i < 4; i++) {
        char *c = slurp(account_files[i]);
        assert_false(has_line_starting(c, "warren_ab:"));
        assert_true(has_line_starting(c, "warren_abc:"));
        assert_true(has_line_starting(c, "warren_a:"));
        assert_true(has_line_starting(c, "warren_mid:"));
        free(c);
    }
    assert_no_temp_files();
}

/* Removes warren_mid's line from the middle of each file by hand, for
 * comparison. */
static char *without_line(const char *content, const char *prefix) {
    const char *l = strstr(content, prefix);
    assert_non_null(l);
    const char *end = strchr(l, '\n');
    size_t head = (size_t)(l - content);
    char *out = malloc(strlen(content) + 1);
    memcpy(out, content, head);
    strcpy(out + head, end ? end + 1 : "");
    return out;
}

static void remove_keeps_other_bytes_owner_and_mode(void **state) {
    snapshot before;
    take(&before);
    assert_int_equal(remove_locked("warren_mid", 60005, NULL), 0);
    for (size_t i = 0; i < 4; i++) {
        char *expected = without_line(before.content[i], "warren_mid:");
        char *now = slurp(account_files[i]);
        assert_string_equal(now, expected);
        free(now);
        free(expected);
        struct stat st = stat_of(account_files[i]);
        assert_int_equal(st.st_mode, before.st[i].st_mode);
        assert_int_equal(st.st_uid, before.st[i].st_uid);
        assert_int_equal(st.st_gid, before.st[i].st_gid);
    }
    struct stat sh = stat_of("shadow");
    assert_int_equal(sh.st_mode & 07777, 0640);
    if (geteuid() == 0) assert_int_equal(sh.st_gid, SHADOW_GID);
    assert_no_temp_files();
    drop(&before);
}

static void remove_after_add_restores_files(void **state) {
    snapshot before;
    take(&before);
    wr_account a = account("warren_rt", 60030);
    assert_int_equal(add_locked(&a, NULL), 0);
    assert_int_equal(remove_locked("warren_rt", 60030, NULL), 0);
    for (size_t i = 0; i < 4; i++) {
        char *now = slurp(account_files[i]);
        assert_string_equal(now, before.content[i]);
        free(now);
    }
    drop(&before);
}

static void remove_keeps_unterminated_last_line(void **state) {
    write_file("passwd",
               "root:x:0:0:root:/root:/bin/bash\n"
               "warren_x:x:60040:60040::/h:/usr/sbin/nologin\n"
               "last:x:1001:1001::/home/last:/bin/sh",
               0644);
    assert_int_equal(remove_locked("warren_x", 60040, NULL), 0);
    char *passwd = slurp("passwd");
    assert_string_equal(passwd, "root:x:0:0:root:/root:/bin/bash\n"
                                "last:x:1001:1001::/home/last:/bin/sh");
    free(passwd);
    /* The unterminated line itself can go too. */
    assert_int_equal(remove_locked("last", 1001, NULL), 0);
    passwd = slurp("passwd");
    assert_string_equal(passwd, "root:x:0:0:root:/root:/bin/bash\n");
    free(passwd);
}

static void remove_refuses_another_uid(void **state) {
    snapshot before;
    take(&before);
    wr_err e = WR_ERR_INIT;
    assert_true(remove_locked("warren_mid", 60006, &e) < 0);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    assert_non_null(strstr(e.msg, "warren_mid"));
    assert_untouched(&before);
    /* alice is UID 1000: warren's UID for that name would be another. */
    wr_err e2 = WR_ERR_INIT;
    assert_true(remove_locked("alice", 60100, &e2) < 0);
    assert_int_equal(e2.kind, WR_ERR_UNSAFE);
    assert_untouched(&before);
    drop(&before);
}

static void remove_is_idempotent(void **state) {
    snapshot before;
    take(&before);
    assert_int_equal(remove_locked("warren_nobody", 60050, NULL), 0);
    assert_untouched(&before);
    assert_int_equal(remove_locked("warren_mid", 60005, NULL), 0);
    snapshot once;
    take(&once);
    assert_int_equal(remove_locked("warren_mid", 60005, NULL), 0);
    assert_untouched(&once);
    drop(&once);
    drop(&before);
}

static void remove_undoes_half_add(void **state) {
    /* A process killed after group and gshadow: no passwd line yet. */
    snapshot before;
    take(&before);
    char *group = slurp("group"), *gshadow = slurp("gshadow"), *buf = NULL;
    assert_true(asprintf(&buf, "%swarren_half:x:60060:\n", group) > 0);
    write_file("group", buf, 0644);
    free(buf);
    assert_true(asprintf(&buf, "%swarren_half:!::\n", gshadow) > 0);
    write_file("gshadow", buf, 0640);
    free(buf);
    assert_int_equal(remove_locked("warren_half", 60060, NULL), 0);
    char *g = slurp("group"), *gs = slurp("gshadow");
    assert_string_equal(g, group);
    assert_string_equal(gs, gshadow);
    free(g);
    free(gs);
    free(group);
    free(gshadow);
    drop(&before);
}

/* --- concurrency and the lock ------------------------------------------------------- */

enum { WRITERS = 4, PER_WRITER = 250 };

static void check_concurrent_lines(const char *file, const char *old) {
    char *c = slurp(file);
    size_t oldlen = strlen(old);
    assert_memory_equal(c, old, oldlen);
    bool seen[WRITERS * PER_WRITER] = {0};
    size_t count = 0;
    for (char *l = c + oldlen, *nl; *l; l = nl + 1) {
        nl = strchr(l, '\n');
        assert_non_null(nl); /* every line whole, newline-terminated */
        *nl = 0;
        int w, k, n = 0;
        unsigned id, id2;
        long days;
        if (streq(file, "group"))
            assert_int_equal(sscanf(l, "c%d_%d:x:%u:%n", &w, &k, &id, &n), 3);
        else if (streq(file, "gshadow"))
            assert_int_equal(sscanf(l, "c%d_%d:!::%n", &w, &k, &n), 2);
        else if (streq(file, "passwd")) {
            assert_int_equal(sscanf(l,
                                    "c%d_%d:x:%u:%u:tenant:/home/warren_users/c%*d_%*d:"
                                    "/usr/sbin/nologin%n",
                                    &w, &k, &id, &id2, &n),
                             4);
            assert_int_equal(id, id2);
        } else
            assert_int_equal(sscanf(l, "c%d_%d:!:%ld:0:99999:7:::%n", &w, &k, &days, &n), 3);
        assert_int_equal((size_t)n, strlen(l)); /* nothing after the expected fields */
        assert_true(w >= 0 && w < WRITERS && k >= 0 && k < PER_WRITER);
        assert_false(seen[w * PER_WRITER + k]);
        seen[w * PER_WRITER + k] = true;
        count++;
    }
    assert_int_equal(count, WRITERS * PER_WRITER);
    free(c);
}

static void concurrent_adds_stay_whole(void **state) {
    snapshot before;
    take(&before);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            int bad = 0;
            for (int k = 0; k < PER_WRITER; k++) {
                char name[32];
                snprintf(name, sizeof name, "c%d_%03d", w, k);
                wr_account a = account(name, (uid_t)(70000 + w * 1000 + k));
                if (add_locked(&a, NULL) < 0) bad++;
            }
            _exit(bad ? 1 : 0);
        }
    }
    for (int w = 0; w < WRITERS; w++)
        tl_wait_exit0(pids[w]);
    for (size_t i = 0; i < 4; i++)
        check_concurrent_lines(account_files[i], before.content[i]);
    drop(&before);
}

static void lock_times_out_with_kind_busy(void **state) {
    int ready[2], release[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(release, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c = 0;
        if (wr_accounts_lock(etc, NULL) < 0) _exit(1);
        if (write(ready[1], "x", 1) != 1) _exit(2);
        if (read(release[0], &c, 1) != 1) _exit(3);
        wr_accounts_unlock(etc);
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);

    struct stat st = stat_of(".pwd.lock");
    assert_int_equal(st.st_mode & 07777, 0600);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wr_err e = WR_ERR_INIT;
    assert_int_equal(wr_accounts_lock_timeout(etc, 300, &e), -EAGAIN);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(e.kind, WR_ERR_BUSY);
    assert_non_null(strstr(e.msg, etc));
    assert_non_null(strstr(e.msg, ".pwd.lock"));
    assert_true(waited >= 0.29 && waited < 5);

    /* Released by the holder: the next attempt gets it. */
    assert_int_equal(write(release[1], "x", 1), 1);
    assert_int_equal(wr_accounts_lock_timeout(etc, 5000, NULL), 0);
    wr_accounts_unlock(etc);
    tl_wait_exit0(pid);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(release[i]);
    }
}

static void *try_lock(void *arg) {
    wr_err *e = arg;
    intptr_t r = wr_accounts_lock_timeout(etc, 200, e);
    if (r == 0) wr_accounts_unlock(etc);
    return (void *)r;
}

/* fcntl locks belong to the process: without the mutex a second thread would
 * be let in while the first edits. */
static void lock_excludes_other_threads(void **state) {
    assert_int_equal(wr_accounts_lock(etc, NULL), 0);
    pthread_t t;
    wr_err e = WR_ERR_INIT;
    void *r;
    assert_int_equal(pthread_create(&t, NULL, try_lock, &e), 0);
    assert_int_equal(pthread_join(t, &r), 0);
    assert_int_equal((intptr_t)r, -EAGAIN);
    assert_int_equal(e.kind, WR_ERR_BUSY);
    wr_accounts_unlock(etc);

    wr_err e2 = WR_ERR_INIT;
    assert_int_equal(pthread_create(&t, NULL, try_lock, &e2), 0);
    assert_int_equal(pthread_join(t, &r), 0);
    assert_int_equal((intptr_t)r, 0);
}

/* A daemon creates and deletes accounts all day: no path may keep an fd. */
static void no_fd_left_open(void **state) {
    int before = tl_count_fds();
    wr_account a = account("warren_fd", 60070);
    assert_int_equal(add_locked(&a, NULL), 0);
    assert_int_equal(remove_locked("warren_fd", 60070, NULL), 0);
    assert_true(remove_locked("warren_mid", 1, NULL) < 0);
    a.home = "a:b";
    assert_true(add_locked(&a, NULL) < 0);
    char p[PATH_MAX];
    path_of(p, sizeof p, "shadow");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkfifo(p, 0600), 0); /* not a regular file: refused */
    wr_err e = WR_ERR_INIT;
    a.home = "/h";
    assert_true(add_locked(&a, &e) < 0);
    assert_int_equal(e.kind, WR_ERR_UNSAFE);
    assert_non_null(strstr(e.msg, "shadow"));
    assert_int_equal(unlink(p), 0);
    assert_int_equal(tl_count_fds(), before);
}

/* A remove killed between writing its temporary file and renaming it leaves
 * the file behind; the next clean takes out exactly those and nothing else. */
static void stale_temporaries_are_cleaned(void **state) {
    (void)state;
    const char *ours[] = {".shadow.warren-a1B2c3", ".passwd.warren-zzzzzz"};
    const char *theirs[] = {".shadow.warren-toolong", ".passwd.other-abcdef", "passwd-",
                            ".group.warren-"};
    for (size_t i = 0; i < 2; i++) write_file(ours[i], "x:!::\n", 0600);
    for (size_t i = 0; i < 4; i++) write_file(theirs[i], "keep\n", 0600);
    snapshot before;
    take(&before);
    assert_int_equal(wr_accounts_clean_stale(etc, NULL), 0);
    char p[PATH_MAX];
    for (size_t i = 0; i < 2; i++) {
        path_of(p, sizeof p, ours[i]);
        assert_int_equal(access(p, F_OK), -1);
    }
    for (size_t i = 0; i < 4; i++) {
        path_of(p, sizeof p, theirs[i]);
        assert_int_equal(access(p, F_OK), 0);
    }
    assert_untouched(&before);
    drop(&before);
    /* Nothing to clean: nothing happens, and no lock is needed. */
    assert_int_equal(wr_accounts_clean_stale(etc, NULL), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(add_appends_exact_lines),
        T(add_uses_given_gid_and_shell),
        T(add_separates_unterminated_last_line),
        T(add_refuses_bad_fields),
        T(add_needs_passwd_and_changes_nothing_without_it),
        T(add_skips_absent_shadow_files),
        T(add_is_all_or_nothing_on_write_failure),
        T(remove_matches_exact_names),
        T(remove_keeps_other_bytes_owner_and_mode),
        T(remove_after_add_restores_files),
        T(remove_keeps_unterminated_last_line),
        T(remove_refuses_another_uid),
        T(remove_is_idempotent),
        T(remove_undoes_half_add),
        T(concurrent_adds_stay_whole),
        T(lock_times_out_with_kind_busy),
        T(lock_excludes_other_threads),
        T(no_fd_left_open),
        T(stale_temporaries_are_cleaned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
