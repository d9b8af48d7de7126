/* Fuzz target: what import reads from an archive before anything is written.
 * The first byte picks the part under test; the rest is its input:
 *   0  a tar stream (plain, gzip or zstd) whose members go through the filter
 *   1  a manifest checked against a small set of extracted files
 *   2  an archive header (and the quotas it carries)
 *   3  a member name to normalise
 *
 * Invariants checked on every input:
 * - nothing crashes; every refusal fills the error with a kind and a message;
 * - a member the filter lets through to extraction has a name relative to the
 *   home without any ".." component, is a file, directory, symlink or a hard
 *   link to a relative name, and has no set-id or sticky bit;
 * - a normalised name is never absolute and never has a ".." component. */
#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive-internal.h"
#include "quota.h"

static void check(int cond) {
    if (!cond) abort();
}

static void check_refusal(int r, const wr_err *e) {
    if (r < 0) check(e->kind != WR_ERR_NONE && e->msg[0] != '\0');
}

static int clean_path(const char *p) {
    if (!p || !p[0] || p[0] == '/') return 0;
    for (const char *s = p; *s;) {
        const char *end = strchrnul(s, '/');
        if (end - s == 2 && s[0] == '.' && s[1] == '.') return 0;
        s = *end ? end + 1 : end;
    }
    return 1;
}

static void fuzz_tar(const uint8_t *data, size_t size) {
    struct archive *a = archive_read_new();
    if (!a) return;
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    wr_filter f;
    wr_err e = WR_ERR_INIT;
    if (wr_filter_init(&f, "alice", "bob", 1 << 20, 100, &e) < 0 ||
        archive_read_open_memory(a, data, size) != ARCHIVE_OK) {
        archive_read_free(a);
        wr_filter_free(&f);
        return;
    }
    struct archive_entry *en;
    int r = 0;
    while (r >= 0 && archive_read_next_header(a, &en) == ARCHIVE_OK) {
        wr_member m;
        wr_err fe = WR_ERR_INIT;
        r = wr_filter_member(&f, en, &m, &fe);
        check_refusal(r, &fe);
        if (r < 0) break;
        if (m == WR_MEMBER_HEADER) {
            char buf[4096];
            la_ssize_t n = archive_read_data(a, buf, sizeof buf);
            if (n >= 0) {
                wr_err he = WR_ERR_INIT;
                r = wr_filter_set_ident(&f, buf, (size_t)n, &he);
                check_refusal(r, &he);
            }
        } else if (m == WR_MEMBER_EXTRACT) {
            check(clean_path(archive_entry_pathname(en)));
            check((archive_entry_perm(en) & 07000) == 0);
            const char *hl = archive_entry_hardlink(en);
            mode_t t = archive_entry_filetype(en);
            check(hl ? clean_path(hl) : (t == AE_IFREG || t == AE_IFDIR || t == AE_IFLNK));
        }
    }
    if (r >= 0) {
        wr_err fe = WR_ERR_INIT;
        check_refusal(wr_filter_finish(&f, &fe), &fe);
    }
    wr_filter_free(&f);
    archive_read_free(a);
}

static void fuzz_manifest(const uint8_t *data, size_t size) {
    wr_pathset *s = wr_pathset_new();
    if (!s) return;
    wr_path_info file = {.type = WR_PATH_FILE, .summed = true, .size = 1};
    memset(file.sha256, 0xab, sizeof file.sha256);
    wr_pathset_add(s, "sandboxes/a", &file);
    wr_pathset_add(s, "b", &file);
    wr_path_info dir = {.type = WR_PATH_DIR};
    wr_pathset_add(s, "sandboxes", &dir);
    wr_archive_ident head = {
        .version = 1, .saas_user_id = "alice", .source_uid = 60001, .source_gid = 60001};
    wr_err e = WR_ERR_INIT;
    check_refusal(wr_manifest_verify((const char *)data, size, &head, s, &e), &e);
    wr_pathset_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0] % 4;
    data++;
    size--;
    if (mode == 0) {
        fuzz_tar(data, size);
    } else if (mode == 1) {
        fuzz_manifest(data, size);
    } else if (mode == 2) {
        wr_archive_ident id;
        wr_err e = WR_ERR_INIT;
        int r = wr_archive_ident_parse((const char *)data, size, &id, &e);
        check_refusal(r, &e);
        if (r == 0) {
            /* The quotas it carries survive a format and parse unchanged. */
            wr_quota q, q2;
            char text[512];
            int n = wr_archive_quotas_parse(id.quotas, &q);
            check(n >= 0);
            if (wr_archive_quotas_format(&q, text, sizeof text) == 0)
                check(wr_archive_quotas_parse(text, &q2) == n && memcmp(&q, &q2, sizeof q) == 0);
        }
    } else {
        char *s = malloc(size + 1), out[256];
        if (!s) return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (wr_member_path_normalise(s, out, sizeof out) == 0) check(clean_path(out));
        free(s);
    }
    return 0;
}
