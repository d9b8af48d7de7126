/* The manifest of a warren archive, and the path set import checks it with.
 *
 * The manifest is written as text while the export streams (it can hold
 * millions of files; building a JSON tree first would double the memory) and
 * parsed with jansson on import, strictly (duplicate keys refused). File
 * names are bytes, JSON strings are UTF-8: a path that is valid UTF-8 without
 * control characters is stored as "path", any other as "path_hex". */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive-internal.h"
#include "quota.h"
#include "util.h"

/* --- identity ------------------------------------------------------------------ */

static const char *const quota_keys[] = {"memory", "cpu_milli",  "cpu_weight",
                                         "pids",   "nofile",     "storage",
                                         "inodes", "net_egress", "net_ingress"};

static int64_t *quota_field(wr_quota *q, size_t i) {
    int64_t *f[] = {&q->memory,  &q->cpu_milli, &q->cpu_weight, &q->pids,       &q->nofile,
                    &q->storage, &q->inodes,    &q->net_egress, &q->net_ingress};
    return f[i];
}

int wr_archive_quotas_format(const wr_quota *q, char *out, size_t n) {
    json_t *j = json_object();
    if (!j) return -ENOMEM;
    wr_quota c = *q;
    for (size_t i = 0; i < ELEMENTSOF(quota_keys); i++) {
        int64_t v = *quota_field(&c, i);
        if (v == WR_QUOTA_MAX)
            json_object_set_new(j, quota_keys[i], json_string("max"));
        else if (v >= 0)
            json_object_set_new(j, quota_keys[i], json_integer(v));
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int r = s && strscpy(out, n, s) == 0 ? 0 : -ENOMEM;
    free(s);
    return r;
}

int wr_archive_quotas_parse(const char *text, wr_quota *ret) {
    wr_quota_init(ret);
    json_t *j = text && text[0] ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!j) return 0;
    int n = 0;
    for (size_t i = 0; i < ELEMENTSOF(quota_keys); i++) {
        json_t *v = json_object_get(j, quota_keys[i]);
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            *quota_field(ret, i) = json_integer_value(v), n++;
        else if (json_is_string(v) && streq(json_string_value(v), "max"))
            *quota_field(ret, i) = WR_QUOTA_MAX, n++;
    }
    json_decref(j);
    return n;
}

char *wr_archive_header_json(const wr_archive_ident *id) {
    json_t *q = id->quotas[0] ? json_loads(id->quotas, 0, NULL) : json_object();
    if (!json_is_object(q)) {
        json_decref(q);
        q = json_object();
    }
    json_t *j =
        json_pack("{s:s,s:i,s:s,s:s,s:I,s:I,s:f,s:o}", "format", "warren-archive", "version",
                  id->version, "saas_user_id", id->saas_user_id, "linux_username",
                  id->linux_username, "source_uid", (json_int_t)id->source_uid, "source_gid",
                  (json_int_t)id->source_gid, "created_at", id->created_at, "quotas", q);
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static int ident_from(json_t *j, wr_archive_ident *ret, wr_err *e) {
    const char *fmt = json_string_value(json_object_get(j, "format"));
    if (!json_is_object(j) || !fmt || !streq(fmt, "warren-archive"))
        return wr_invalid(e, "archive header: not a warren archive header (\"format\")");
    json_t *v = json_object_get(j, "version");
    if (!json_is_integer(v) || json_integer_value(v) != WR_ARCHIVE_VERSION)
        return wr_invalid(e, "archive header: format version %s is not %d (this warren reads %d)",
                          json_is_integer(v) ? "given" : "missing", WR_ARCHIVE_VERSION,
                          WR_ARCHIVE_VERSION);
    const char *id = json_string_value(json_object_get(j, "saas_user_id"));
    const char *user = json_string_value(json_object_get(j, "linux_username"));
    json_t *uid = json_object_get(j, "source_uid"), *gid = json_object_get(j, "source_gid");
    json_t *at = json_object_get(j, "created_at");
    if (!id || !user || !json_is_integer(uid) || !json_is_integer(gid) || !json_is_number(at))
        return wr_invalid(e, "archive header: saas_user_id, linux_username, source_uid, "
                             "source_gid or created_at missing or of the wrong type");
    if (strscpy(ret->saas_user_id, sizeof ret->saas_user_id, id) < 0 || !id[0] ||
        strscpy(ret->linux_username, sizeof ret->linux_username, user) < 0)
        return wr_invalid(e, "archive header: saas_user_id or linux_username too long or empty");
    if (json_integer_value(uid) < 0 || json_integer_value(uid) > 0xfffffffe ||
        json_integer_value(gid) < 0 || json_integer_value(gid) > 0xfffffffe)
        return wr_invalid(e, "archive header: source_uid or source_gid out of range");
    json_t *q = json_object_get(j, "quotas");
    if (q && !json_is_object(q)) return wr_invalid(e, "archive header: quotas is not an object");
    if (q) {
        char *qs = json_dumps(q, JSON_COMPACT);
        int bad = !qs || strscpy(ret->quotas, sizeof ret->quotas, qs) < 0;
        free(qs);
        if (bad) return wr_invalid(e, "archive header: quotas too large");
    }
    ret->version = WR_ARCHIVE_VERSION;
    ret->source_uid = json_integer_value(uid);
    ret->source_gid = json_integer_value(gid);
    ret->created_at = json_number_value(at);
    return 0;
}

int wr_archive_ident_parse(const char *buf, size_t len, wr_archive_ident *ret, wr_err *e) {
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) return wr_invalid(e, "archive header: not valid JSON (%s)", je.text);
    wr_archive_ident id = {0};
    int r = ident_from(j, &id, e);
    json_decref(j);
    if (r >= 0) *ret = id;
    return r;
}

/* --- the path set ------------------------------------------------------------ */

typedef struct slot {
    char *path;
    wr_path_info info;
} slot;

struct wr_pathset {
    slot *v;
    size_t cap, n; /* cap is a power of two */
};

static uint64_t hash(const char *s) { /* FNV-1a */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

wr_pathset *wr_pathset_new(void) {
    wr_pathset *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cap = 1024;
    s->v = calloc(s->cap, sizeof *s->v);
    if (!s->v) {
        free(s);
        return NULL;
    }
    return s;
}

void wr_pathset_free(wr_pathset *s) {
    if (!s) return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i].path);
    free(s->v);
    free(s);
}

static slot *find_slot(slot *v, size_t cap, const char *path) {
    for (size_t i = hash(path) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!v[i].path || streq(v[i].path, path)) return &v[i];
}

wr_path_info *wr_pathset_get(const wr_pathset *s, const char *path) {
    slot *x = find_slot(s->v, s->cap, path);
    return x->path ? &x->info : NULL;
}

static int grow(wr_pathset *s) {
    size_t cap = s->cap * 2;
    slot *v = calloc(cap, sizeof *v);
    if (!v) return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->v[i].path) *find_slot(v, cap, s->v[i].path) = s->v[i];
    free(s->v);
    s->v = v;
    s->cap = cap;
    return 0;
}

int wr_pathset_add(wr_pathset *s, const char *path, const wr_path_info *info) {
    if ((s->n + 1) * 4 > s->cap * 3 && grow(s) < 0) return -ENOMEM;
    slot *x = find_slot(s->v, s->cap, path);
    if (x->path) return -EEXIST;
    if (!(x->path = strdup(path))) return -ENOMEM;
    x->info = *info;
    s->n++;
    return 0;
}

size_t wr_pathset_count(const wr_pathset *s) {
    return s->n;
}

/* --- writing the manifest ---------------------------------------------------- */

static void put(wr_manifest_buf *m, const char *s, size_t n) {
    if (m->failed) return;
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (m->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(m->s, cap);
        if (!p) {
            m->failed = true;
            return;
        }
        m->s = p;
        m->cap = cap;
    }
    memcpy(m->s + m->len, s, n);
    m->len += n;
    m->s[m->len] = '\0';
}

static void puts_(wr_manifest_buf *m, const char *s) {
    put(m, s, strlen(s));
}

/* Valid UTF-8 (no overlongs, no surrogates) without control characters. */
static bool plain_utf8(const unsigned char *s) {
    while (*s) {
        unsigned c = *s, n;
        if (c < 0x20 || c == 0x7f) return false;
        if (c < 0x80) {
            s++;
            continue;
        }
        uint32_t cp;
        if ((c & 0xe0) == 0xc0)
            n = 1, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            n = 2, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            n = 3, cp = c & 0x07;
        else
            return false;
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        s += n + 1;
    }
    return true;
}

static const char hexd[] = "0123456789abcdef";

void wr_manifest_begin(wr_manifest_buf *m, const wr_archive_ident *id) {
    *m = (wr_manifest_buf){0};
    _cleanup_free_ char *h = wr_archive_header_json(id);
    if (!h) {
        m->failed = true;
        return;
    }
    /* The header's object, reopened to append the files. */
    put(m, h, strlen(h) - 1);
    puts_(m, ",\"files\":[");
}

void wr_manifest_add(wr_manifest_buf *m, const char *path, uint64_t size,
                     const unsigned char sha256[32]) {
    puts_(m, m->files++ ? ",\n{" : "\n{");
    if (plain_utf8((const unsigned char *)path)) {
        puts_(m, "\"path\":\"");
        for (const char *p = path; *p; p++) {
            if (*p == '"' || *p == '\\') put(m, "\\", 1);
            put(m, p, 1);
        }
    } else {
        puts_(m, "\"path_hex\":\"");
        for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
            char x[2] = {hexd[*p >> 4], hexd[*p & 15]};
            put(m, x, 2);
        }
    }
    char tail[128];
    int n = snprintf(tail, sizeof tail, "\",\"size\":%llu,\"sha256\":\"", (unsigned long long)size);
    put(m, tail, (size_t)n);
    for (int i = 0; i < 32; i++) {
        char x[2] = {hexd[sha256[i] >> 4], hexd[sha256[i] & 15]};
        put(m, x, 2);
    }
    puts_(m, "\"}");
}

int wr_manifest_end(wr_manifest_buf *m) {
    char tail[64];
    int n = snprintf(tail, sizeof tail, "\n],\"file_count\":%llu}\n", (unsigned long long)m->files);
    put(m, tail, (size_t)n);
    return m->failed ? -ENOMEM : 0;
}

/* --- checking it ---------------------------------------------------------------- */

static int unhex(const char *s, unsigned char *out, size_t n) {
    if (strlen(s) != 2 * n) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const char *a = strchr(hexd, s[2 * i]), *b = strchr(hexd, s[2 * i + 1]);
        if (!s[2 * i] || !s[2 * i + 1] || !a || !b) return -EINVAL;
        out[i] = (unsigned char)((a - hexd) << 4 | (b - hexd));
    }
    return 0;
}

static int check_file(json_t *f, size_t i, wr_pathset *extracted, wr_err *e) {
    const char *path = json_string_value(json_object_get(f, "path"));
    const char *phex = json_string_value(json_object_get(f, "path_hex"));
    const char *sum = json_string_value(json_object_get(f, "sha256"));
    json_t *size = json_object_get(f, "size");
    if (!json_is_object(f) || !(path || phex) || !sum || !json_is_integer(size) ||
        json_integer_value(size) < 0)
        return wr_invalid(e, "archive manifest: file %zu is malformed", i);
    char buf[4096];
    if (!path) {
        size_t n = strlen(phex) / 2;
        if (n == 0 || n >= sizeof buf || unhex(phex, (unsigned char *)buf, n) < 0 ||
            memchr(buf, '\0', n))
            return wr_invalid(e, "archive manifest: file %zu has a malformed path_hex", i);
        buf[n] = '\0';
        path = buf;
    }
    unsigned char md[32];
    if (unhex(sum, md, 32) < 0)
        return wr_invalid(e, "archive manifest: %s: malformed sha256", path);
    wr_path_info *x = wr_pathset_get(extracted, path);
    if (!x || !x->summed)
        return wr_invalid(e,
                          "archive manifest lists %s, which the archive does not hold as a "
                          "file",
                          path);
    if (x->in_manifest) return wr_invalid(e, "archive manifest lists %s twice", path);
    x->in_manifest = true;
    if (x->size != (uint64_t)json_integer_value(size) || memcmp(x->sha256, md, 32) != 0)
        return wr_invalid(e,
                          "checksum mismatch: %s in the archive is not the file the manifest "
                          "describes (size or sha256 differ); the archive was altered or is "
                          "corrupt",
                          path);
    return 0;
}

int wr_manifest_verify(const char *buf, size_t len, const wr_archive_ident *head,
                       wr_pathset *extracted, wr_err *e) {
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) return wr_invalid(e, "archive manifest: not valid JSON (%s)", je.text);
    wr_archive_ident id = {0};
    int r = ident_from(j, &id, e);
    if (r < 0) goto out;
    if (!streq(id.saas_user_id, head->saas_user_id) || id.source_uid != head->source_uid ||
        id.source_gid != head->source_gid) {
        r = wr_invalid(e,
                       "archive manifest names tenant '%s' (uid %lld) but its header '%s' "
                       "(uid %lld)",
                       id.saas_user_id, id.source_uid, head->saas_user_id, head->source_uid);
        goto out;
    }
    json_t *files = json_object_get(j, "files");
    if (!json_is_array(files)) {
        r = wr_invalid(e, "archive manifest: no files array");
        goto out;
    }
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        if ((r = check_file(f, i, extracted, e)) < 0) goto out;
    }
    /* Every regular file extracted must have been listed. */
    size_t listed = json_array_size(files), summed = 0;
    for (size_t k = 0; k < extracted->cap; k++)
        if (extracted->v[k].path && extracted->v[k].info.summed) summed++;
    if (summed != listed) {
        for (size_t k = 0; k < extracted->cap; k++)
            if (extracted->v[k].path && extracted->v[k].info.summed &&
                !extracted->v[k].info.in_manifest) {
                r = wr_invalid(e, "%s is in the archive but not in its manifest (added later?)",
                               extracted->v[k].path);
                goto out;
            }
    }
out:
    json_decref(j);
    return r;
}
