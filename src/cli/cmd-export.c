/* warren export TENANT FILE|- [--force] [--format zst|gz] */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "warren-archive.h"
#include "cli.h"
#include "util.h"

static volatile sig_atomic_t cancelled;

static void on_signal(int sig) {
    (void)sig;
    cancelled = 1;
}

int cmd_export(cli *c, char **args) {
    if (c->replace || c->from)
        return cli_usage_error("'export' takes --force and --format, not --replace or --from");
    if (c->format && !streq(c->format, "zst") && !streq(c->format, "gz"))
        return cli_usage_error("export: --format %s: expected zst or gz", c->format);
    int rc = cli_open(c);
    if (rc) return rc;
    const char *tenant = args[0], *file = args[1];
    bool to_stdout = streq(file, "-");
    if (to_stdout && isatty(STDOUT_FILENO))
        return cli_usage_error("export: refusing to write an archive to a terminal");
    /* --format wins; else the name says (.tar.gz, .tgz: gzip); stdout: zstd. */
    wr_compression comp = c->format       ? (streq(c->format, "gz") ? WR_COMPRESS_GZIP : WR_COMPRESS_ZSTD)
                          : to_stdout ? WR_COMPRESS_ZSTD
                                      : wr_compression_for_name(file);
    wr_export_opts o = {.compression = comp,
                        .progress = cli_progress_wanted() ? cli_progress : NULL};
    /* The tenant is frozen while the export runs: Ctrl-C, a TERM or a reader
     * that went away must end it through the thaw, not kill it midway. */
    o.cancel = &cancelled;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    wr_archive_stats st;
    wr_err e = WR_ERR_INIT;
    double t0 = wr_now();
    int r = to_stdout ? wr_tenant_export(c->w, tenant, STDOUT_FILENO, &o, &st, &e)
                      : wr_tenant_export_file(c->w, tenant, file, c->force, &o, &st, &e);
    if (r < 0) {
        /* The archive may be half on stdout: --json output would corrupt it. */
        if (to_stdout) c->json = false;
        return cli_fail(c, &e);
    }
    double secs = wr_now() - t0;
    if (c->json && !to_stdout) {
        json_t *j = json_pack(
            "{s:b,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:b,s:f}", "success", 1, "user_id", tenant, "file",
            file, "compression", o.compression == WR_COMPRESS_GZIP ? "gzip" : "zstd", "files",
            (json_int_t)st.files, "entries", (json_int_t)st.entries, "bytes", (json_int_t)st.bytes,
            "skipped", (json_int_t)st.skipped, "frozen", st.frozen, "seconds", secs);
        print_json(j);
    } else {
        fprintf(to_stdout ? stderr : stdout, "exported %s: %llu files, %.1f MB in %.2f s%s%s%s\n",
                tenant, (unsigned long long)st.files, wr_size_mb(st.bytes), secs,
                st.frozen ? " (runs frozen during the copy)" : " (not frozen: no cgroup2)",
                to_stdout ? "" : " -> ", to_stdout ? "" : file);
        if (st.skipped)
            fprintf(stderr,
                    "warren: %llu entries were not archived (sockets, fifos, mount points, or "
                    "not owned by the tenant)\n",
                    (unsigned long long)st.skipped);
    }
    return EXIT_OK;
}
