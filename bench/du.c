/* bench-du: `warren user stats` walks a home as `du` does. How long does it
 * take for 100,000 files, next to `du -s` itself?
 *
 *   bench-du [-n FILES] [-r RUNS] [DIR]
 *
 * Builds a tree of FILES small files (100 directories, a hard link in every
 * tenth) under DIR (default /var/tmp), warms the caches, then times RUNS walks
 * each of wr_disk_usage (in process, as the daemon calls it) and of
 * `du -s -B1 -x` (a whole process, as an admin would run it), and prints the
 * medians and their ratio. Then it removes the tree with wr_remove_tree and
 * with `rm -rf` (a copy of it) and prints those times too. */
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"
#include "du.h"
#include "fs.h"

extern char **environ;

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void make_tree(const char *root, int files) {
    if (mkdir(root, 0755) < 0) die(root);
    int dirs = 100, per = (files + dirs - 1) / dirs, made = 0;
    char p[4300];
    for (int d = 0; d < dirs && made < files; d++) {
        snprintf(p, sizeof p, "%s/d%03d", root, d);
        if (mkdir(p, 0755) < 0) die(p);
        int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) die(p);
        for (int i = 0; i < per && made < files; i++, made++) {
            char n[32];
            snprintf(n, sizeof n, "f%05d", i);
            int fd = openat(dfd, n, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0 || write(fd, "x", 1) != 1) die(n);
            close(fd);
            if (i % 10 == 0) {
                char l[40];
                snprintf(l, sizeof l, "%s.link", n);
                if (linkat(dfd, n, dfd, l, 0) < 0) die(l);
            }
        }
        close(dfd);
    }
}

static double run(char *const argv[]) {
    double t = bench_now();
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) die(argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "%s failed\n", argv[0]);
        exit(1);
    }
    return bench_now() - t;
}

int main(int argc, char **argv) {
    int files = 100000, runs = 11, o;
    while ((o = getopt(argc, argv, "n:r:")) != -1) {
        if (o == 'n') files = atoi(optarg);
        else if (o == 'r') runs = atoi(optarg);
        else {
            fprintf(stderr, "usage: bench-du [-n FILES] [-r RUNS] [DIR]\n");
            return 2;
        }
    }
    if (files < 1 || runs < 1 || runs > 1000) return 2;
    const char *base = optind < argc ? argv[optind] : "/var/tmp";
    char top[4000], tree[4100], copy[4100];
    snprintf(top, sizeof top, "%s/warren-bench-du.XXXXXX", base);
    if (!mkdtemp(top)) die(top);
    snprintf(tree, sizeof tree, "%s/tree", top);
    snprintf(copy, sizeof copy, "%s/copy", top);

    printf("== bench-du: %d files under %s\n", files, top);
    double t = bench_now();
    make_tree(tree, files);
    printf("built the tree in %.1f s\n", bench_now() - t);

    int fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die(tree);
    wr_usage u;
    char *du[] = {"du", "-s", "-B1", "-x", tree, NULL};
    if (wr_disk_usage(fd, &u, NULL) < 0) die("wr_disk_usage");
    run(du); /* warm the caches for both */
    double *w = calloc((size_t)runs, sizeof *w), *d = calloc((size_t)runs, sizeof *d);
    for (int i = 0; i < runs; i++) {
        t = bench_now();
        if (wr_disk_usage(fd, &u, NULL) < 0) die("wr_disk_usage");
        w[i] = bench_now() - t;
        d[i] = run(du);
    }
    close(fd);
    bench_sort(w, (size_t)runs);
    bench_sort(d, (size_t)runs);
    double mw = bench_median(w, (size_t)runs), md = bench_median(d, (size_t)runs);
    printf("walk of %llu inodes, %.1f MiB (median of %d)\n", (unsigned long long)u.inodes,
           (double)u.bytes / 1048576.0, runs);
    printf("  warren wr_disk_usage   %8.1f ms\n", mw * 1000);
    printf("  du -s -B1 -x           %8.1f ms\n", md * 1000);
    printf("  ratio warren/du        %8.2f\n", mw / md);
    printf("goal: 100,000 files in < 0.5 s: %s (%.3f s for %d files)\n",
           files >= 100000 && mw < 0.5 ? "PASS" : files < 100000 ? "n/a" : "MISS", mw, files);

    char *cp[] = {"cp", "-a", tree, copy, NULL};
    run(cp);
    int top_fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    t = bench_now();
    if (wr_remove_tree(top_fd, "tree", NULL) < 0) die("wr_remove_tree");
    double rw = bench_now() - t;
    char *rm[] = {"rm", "-rf", copy, NULL};
    double rr = run(rm);
    printf("removal (one run each)\n  warren wr_remove_tree  %8.1f ms\n  rm -rf                 %8.1f ms\n"
           "  ratio warren/rm        %8.2f\n",
           rw * 1000, rr * 1000, rw / rr);
    close(top_fd);
    rmdir(top);
    free(w);
    free(d);
    return 0;
}
