/* The gate every member of an imported archive passes (archive-internal.h).
 *
 * libarchive's secure extraction flags stop `..`, absolute names and writes
 * through symlinks, but not device nodes, set-id bits, foreign owners, file
 * capabilities, or a hard link to a file the archive never held. So each
 * member is judged here first, on its header alone, before anything of it is
 * written: the decision cannot depend on what is on disk, which the tenant
 * could change underneath. The extraction then runs as the tenant inside a
 * mount namespace whose root is the staging directory, and with libarchive's
 * flags; the three layers each stop the archive attacks on their own.
 *
 * What passes: regular files, directories, symlinks (stored as they are,
 * never followed) and hard links to a regular file earlier in the same
 * archive; all of one owner; under the archive's one top directory; no name
 * twice; nothing below a member that is not a directory. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "archive-internal.h"
#include "naming.h"
#include "util.h"

int wr_member_path_normalise(const char *name, char *out, size_t n) {
    if (!name || !name[0]) return -EINVAL;
    if (name[0] == '/') return -EXDEV;
    size_t o = 0;
    for (const char *p = name; *p;) {
        const char *end = strchrnul(p, '/');
        size_t l = (size_t)(end - p);
        if (l == 2 && p[0] == '.' && p[1] == '.') return -EXDEV;
        if (l && !(l == 1 && p[0] == '.')) {
            if (o + l + 2 > n) return -ENAMETOOLONG;
            if (o) out[o++] = '/';
            memcpy(out + o, p, l);
            o += l;
        }
        p = *end ? end + 1 : end;
    }
    if (o == 0) return -EINVAL;
    out[o] = '\0';
    return 0;
}

int wr_filter_init(wr_filter *f, const char *tenant, const char *from, uint64_t limit_bytes,
                   uint64_t limit_files, wr_err *e) {
    *f = (wr_filter){.limit_bytes = limit_bytes, .limit_files = limit_files};
    f->tenants[0] = tenant;
    f->tenants[1] = from;
    for (int i = 0; i < 2; i++) {
        if (!f->tenants[i]) continue;
        char hex[65];
        wr_tenant_hash_hex(f->tenants[i], hex);
        snprintf(f->pactown_tops[i], sizeof f->pactown_tops[i], "pactown_%.8s", hex);
    }
    if (!(f->paths = wr_pathset_new())) return wr_sys(e, ENOMEM, "import");
    return 0;
}

void wr_filter_free(wr_filter *f) {
    wr_pathset_free(f->paths);
    f->paths = NULL;
}

static bool is_pactown_top(const char *s) {
    return strlen(s) == 16 && !strncmp(s, "pactown_", 8) && strspn(s + 8, "0123456789abcdef") == 8;
}

/* The first member fixes the layout. */
static int detect_format(wr_filter *f, const char *path, wr_err *e) {
    if (streq(path, WR_ARCHIVE_HEADER)) {
        f->format = WR_FORMAT_WARREN;
        strcpy(f->top, WR_ARCHIVE_TOP);
        return 0;
    }
    char first[64];
    size_t l = strcspn(path, "/");
    if (l < sizeof first) {
        memcpy(first, path, l);
        first[l] = '\0';
        if (is_pactown_top(first)) {
            f->format = WR_FORMAT_PACTOWN;
            strcpy(f->top, first);
            for (int i = 0; i < 2; i++)
                if (f->tenants[i] && streq(first, f->pactown_tops[i])) return 0;
            return wr_fail(e, WR_ERR_DENIED, EPERM,
                           "archive is another tenant's: its top directory %s is not %s (the "
                           "pactown account of '%s'); --from ID imports another tenant's archive",
                           first, f->pactown_tops[0], f->tenants[0]);
        }
    }
    return wr_invalid(e,
                      "archive has an unknown layout: its first member '%s' is neither %s (a "
                      "warren archive) nor a pactown_<8 hex>/ directory (a pactown one)",
                      path, WR_ARCHIVE_HEADER);
}

int wr_filter_set_ident(wr_filter *f, const char *buf, size_t len, wr_err *e) {
    int r = wr_archive_ident_parse(buf, len, &f->ident, e);
    if (r < 0) return r;
    for (int i = 0; i < 2; i++)
        if (f->tenants[i] && streq(f->ident.saas_user_id, f->tenants[i])) goto mine;
    return wr_fail(e, WR_ERR_DENIED, EPERM,
                   "archive is tenant '%s''s, not '%s'; --from '%s' imports it anyway",
                   f->ident.saas_user_id, f->tenants[0], f->ident.saas_user_id);
mine:
    f->owner_known = true;
    f->uid = f->ident.source_uid;
    f->gid = f->ident.source_gid;
    return 0;
}

static const char *type_name(mode_t t) {
    switch (t) {
    case AE_IFCHR:
        return "a character device";
    case AE_IFBLK:
        return "a block device";
    case AE_IFIFO:
        return "a fifo";
    case AE_IFSOCK:
        return "a socket";
    default:
        return "of an unknown type";
    }
}

/* Nothing below a member the archive made a symlink, a file or a hard link. */
static int check_parents(wr_filter *f, const char *rel, const char *name, wr_err *e) {
    char buf[4096];
    size_t l = strlen(rel);
    if (l >= sizeof buf) return wr_invalid(e, "archive member %s: name too long", name);
    memcpy(buf, rel, l + 1);
    for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        wr_path_info *x = wr_pathset_get(f->paths, buf);
        if (x && x->type != WR_PATH_DIR)
            return wr_invalid(e,
                              "archive member %s lies below %s, which the archive made a %s; "
                              "refusing to write through it",
                              name, buf, x->type == WR_PATH_SYMLINK ? "symbolic link" : "file");
        *s = '/';
    }
    return 0;
}

static int check_xattrs(struct archive_entry *en, const char *name, wr_err *e) {
    const char *xn;
    const void *v;
    size_t sz;
    archive_entry_xattr_reset(en);
    while (archive_entry_xattr_next(en, &xn, &v, &sz) == ARCHIVE_OK)
        if (xn && strstr(xn, "security.capability"))
            return wr_invalid(e,
                              "archive member %s carries file capabilities (xattr %s); "
                              "refused",
                              name, xn);
    /* Other extended attributes and ACLs are not carried over. */
    archive_entry_xattr_clear(en);
    archive_entry_acl_clear(en);
    return 0;
}

static int add_path(wr_filter *f, const char *rel, wr_path_type type, const char *name, wr_err *e) {
    wr_path_info info = {.type = type};
    int r = wr_pathset_add(f->paths, rel, &info);
    if (r == -EEXIST) return wr_invalid(e, "archive holds %s twice; refused", name);
    if (r < 0) return wr_sys(e, -r, "import");
    return 0;
}

static int check_hardlink(wr_filter *f, struct archive_entry *en, const char *name, wr_err *e) {
    const char *target = archive_entry_hardlink(en);
    char norm[4096];
    if (wr_member_path_normalise(target, norm, sizeof norm) < 0)
        return wr_invalid(e, "archive member %s is a hard link to '%s', outside the archive", name,
                          target);
    size_t tl = strlen(f->top);
    if (strncmp(norm, f->top, tl) || norm[tl] != '/')
        return wr_invalid(e, "archive member %s is a hard link to '%s', outside the home", name,
                          target);
    const char *rel = norm + tl + 1;
    wr_path_info *x = wr_pathset_get(f->paths, rel);
    if (!x || x->type != WR_PATH_FILE)
        return wr_invalid(e,
                          "archive member %s is a hard link to '%s', which is not a file earlier "
                          "in the archive (a link to a host or another tenant's file?)",
                          name, target);
    archive_entry_set_hardlink(en, rel);
    return 0;
}

int wr_filter_member(wr_filter *f, struct archive_entry *en, wr_member *ret, wr_err *e) {
    const char *raw = archive_entry_pathname(en);
    char name[4096];
    snprintf(name, sizeof name, "'%s'", raw ? raw : "");
    char norm[4096];
    int r = wr_member_path_normalise(raw, norm, sizeof norm);
    if (r == -EXDEV)
        return wr_invalid(e, "archive member %s is an absolute path or contains '..'; refused",
                          name);
    if (r < 0) return wr_invalid(e, "archive member %s has an empty or too long name", name);
    if (f->manifest_seen)
        return wr_invalid(e, "archive member %s follows the manifest; refused", name);
    if (++f->members == 1 && (r = detect_format(f, norm, e)) < 0) return r;

    if (f->format == WR_FORMAT_WARREN) {
        bool header = streq(norm, WR_ARCHIVE_HEADER), manifest = streq(norm, WR_ARCHIVE_MANIFEST);
        if (header || manifest) {
            if (archive_entry_filetype(en) != AE_IFREG || archive_entry_hardlink(en))
                return wr_invalid(e, "archive member %s is not a plain file", name);
            if (header && f->header_seen)
                return wr_invalid(e, "archive holds %s twice; refused", name);
            if (manifest && !f->top_seen)
                return wr_invalid(e, "archive has its manifest before the home");
            if (header)
                f->header_seen = true;
            else
                f->manifest_seen = true;
            *ret = header ? WR_MEMBER_HEADER : WR_MEMBER_MANIFEST;
            return 0;
        }
        if (!f->header_seen) return wr_invalid(e, "archive does not start with its header");
    }

    /* Everything else lies in the one top directory. */
    size_t tl = strlen(f->top);
    if (strncmp(norm, f->top, tl) || (norm[tl] && norm[tl] != '/'))
        return wr_invalid(e, "archive member %s is outside the archive's top directory %s/", name,
                          f->top);
    const char *rel = norm[tl] ? norm + tl + 1 : "";

    /* One owner: the account the archive was made from. */
    long long uid = archive_entry_uid(en), gid = archive_entry_gid(en);
    if (!f->owner_known) {
        f->owner_known = true;
        f->uid = uid;
        f->gid = gid;
    }
    if (uid != f->uid || gid != f->gid)
        return wr_invalid(e,
                          "archive member %s belongs to %lld:%lld, not to the archive's account "
                          "%lld:%lld (a foreign owner); refused",
                          name, uid, gid, f->uid, f->gid);
    if ((r = check_xattrs(en, name, e)) < 0) return r;

    mode_t type = archive_entry_filetype(en);
    bool hardlink = archive_entry_hardlink(en) != NULL;
    if (!rel[0]) {
        if (type != AE_IFDIR || hardlink || f->top_seen)
            return wr_invalid(e, "archive member %s: the top of the home is not one directory",
                              name);
        f->top_seen = true;
        *ret = WR_MEMBER_TOP;
        return 0;
    }
    if (!f->top_seen) return wr_invalid(e, "archive member %s comes before the home itself", name);
    if ((r = check_parents(f, rel, name, e)) < 0) return r;

    mode_t perm = archive_entry_perm(en);
    if (perm & 07000) f->neutralised++;
    archive_entry_set_perm(en, perm & 0777);
    archive_entry_set_pathname(en, rel);

    wr_path_type pt;
    if (hardlink) {
        if ((r = check_hardlink(f, en, name, e)) < 0) return r;
        archive_entry_set_size(en, 0);
        pt = WR_PATH_HARDLINK;
    } else if (type == AE_IFREG) {
        pt = WR_PATH_FILE;
        if (archive_entry_size(en) < 0) return wr_invalid(e, "archive member %s has no size", name);
        f->bytes += (uint64_t)archive_entry_size(en);
        if (f->limit_bytes && f->bytes > f->limit_bytes)
            return wr_fail(e, WR_ERR_LIMIT, EDQUOT,
                           "archive holds more than the import limit of %llu bytes (at member "
                           "%s); nothing was imported",
                           (unsigned long long)f->limit_bytes, name);
    } else if (type == AE_IFDIR) {
        pt = WR_PATH_DIR;
    } else if (type == AE_IFLNK) {
        if (!archive_entry_symlink(en))
            return wr_invalid(e, "archive member %s is a symlink without a target", name);
        pt = WR_PATH_SYMLINK;
    } else {
        return wr_invalid(e,
                          "archive member %s is %s; only files, directories and links are "
                          "imported",
                          name, type_name(type));
    }
    if (f->limit_files && ++f->files > f->limit_files)
        return wr_fail(e, WR_ERR_LIMIT, EDQUOT,
                       "archive holds more than the import limit of %llu entries; nothing was "
                       "imported",
                       (unsigned long long)f->limit_files);
    if ((r = add_path(f, rel, pt, name, e)) < 0) return r;
    *ret = WR_MEMBER_EXTRACT;
    return 0;
}

int wr_filter_finish(wr_filter *f, wr_err *e) {
    if (f->members == 0) return wr_invalid(e, "archive is empty");
    if (!f->top_seen) return wr_invalid(e, "archive holds no home directory");
    if (f->format == WR_FORMAT_WARREN && !f->manifest_seen)
        return wr_invalid(e, "archive ends before its manifest (truncated?)");
    return 0;
}
