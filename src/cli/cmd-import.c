/* warren import TENANT FILE|- [--replace] [--from ID] */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warren-archive.h"
#include "cli.h"
#include "util.h"

/* WARREN_IMPORT_LIMIT: bytes, with an optional K/M/G/T suffix. */
static int import_limit(uint64_t *ret) {
    const char *v = getenv("WARREN_IMPORT_LIMIT");
    *ret = 0;
    if (!v || !*v) return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : *end == 'T' ? 40 : 0;
    if (shift) end++;
    if (errno || end == v || *end || n == 0 || n > (UINT64_MAX >> shift))
        return cli_usage_error("WARREN_IMPORT_LIMIT '%s': expected bytes (e.g. 500M, 10G)", v);
    *ret = (uint64_t)n << shift;
    return 0;
}

int cmd_import(cli *c, char **args) {
    if (c->force) return cli_usage_error("'import' takes --replace or --from, not --force");
    const char *tenant = args[0], *file = args[1];
    wr_import_opts o = {.from = c->from,
                        .replace = c->replace,
                        .progress = cli_progress_wanted() ? cli_progress : NULL};
    int rc = import_limit(&o.limit_bytes);
    if (rc) return rc;
    int fd = STDIN_FILENO;
    if (!streq(file, "-")) {
        fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            wr_err e = WR_ERR_INIT;
            wr_fail(&e, errno == ENOENT ? WR_ERR_NOT_FOUND : WR_ERR_INVALID, errno,
                    "cannot open archive %s: %m", file);
            return cli_fail(c, &e);
        }
    } else if (isatty(fd)) {
        return cli_usage_error("import: refusing to read an archive from a terminal");
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) o.input_size = (uint64_t)st.st_size;
    if ((rc = cli_open(c))) return rc;
    wr_err e = WR_ERR_INIT;
    wr_import_result res;
    double t0 = wr_now();
    int r = wr_tenant_import(c->w, tenant, fd, &o, &res, &e);
    if (fd != STDIN_FILENO) close(fd);
    if (r < 0) return cli_fail(c, &e);
    double secs = wr_now() - t0;
    if (c->json) {
        json_t *j = json_pack(
            "{s:b,s:s,s:o,s:b,s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:f}", "success", 1, "user_id", tenant,
            "user", wr_tenant_json(&res.tenant), "created", res.created, "format", res.format,
            "source", res.source, "verified", res.verified, "files", (json_int_t)res.stats.files,
            "entries", (json_int_t)res.stats.entries, "bytes", (json_int_t)res.stats.bytes,
            "setid_bits_dropped", (json_int_t)res.stats.neutralised, "seconds", secs);
        print_json(j);
    } else {
        printf("imported %s archive into %s%s: %llu files, %.1f MB in %.2f s%s\n", res.format,
               tenant, res.created ? " (new tenant)" : "", (unsigned long long)res.stats.files,
               wr_size_mb(res.stats.bytes), secs,
               res.verified ? ", checksums verified" : " (no manifest to verify)");
        printf("home     %s (uid %u)\n", res.tenant.home_dir, (unsigned)res.tenant.uid);
        if (res.stats.neutralised)
            printf("dropped  set-id or sticky bits of %llu entries\n",
                   (unsigned long long)res.stats.neutralised);
    }
    return EXIT_OK;
}
