/* What export and import share, and what the fuzz target drives directly:
 * the member names of the layout, the manifest's JSON, and the filter every
 * member of an archive passes before it may be extracted. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct archive_entry;
typedef struct warren warren;

/* Staging directories of imports: <users_base>/.import-<account>-<random>. */
#define STAGE_PREFIX ".import-"

/* A marker <state_dir>/imports/<kind><name>, created already flocked (it is
 * linked in from an O_TMPFILE after the lock is taken), so the next warren
 * can tell a dead process's marker (lock free) from a live one. kind
 * "stage" names a staging directory in the users base, "freeze-" a tenant
 * whose runs an export froze. *ret_fd holds the lock. */
int wr_archive_marker(warren *w, const char *kind, const char *name, int *ret_fd, wr_err *e);
/* Removes the marker and releases its lock. */
void wr_archive_marker_drop(warren *w, const char *kind, const char *name, int *fd);
/* Removes staging directory `name` in the users base with everything in it:
 * a btrfs subvolume (the stage of a btrfs home, or the old home it replaced)
 * as one, subvolumes the tenant made inside included; else as a tree. */
int wr_archive_stage_remove(warren *w, const char *name, wr_err *e);

#define WR_ARCHIVE_VERSION 1
#define WR_ARCHIVE_HEADER "warren-header.json"
#define WR_ARCHIVE_MANIFEST "warren-manifest.json"
#define WR_ARCHIVE_TOP "home"
/* Bounds on what import reads into memory. */
#define WR_ARCHIVE_HEADER_MAX (64u << 10)

/* --- the manifest --------------------------------------------------------- */

/* Who an archive belongs to: the header member, repeated in the manifest. */
typedef struct wr_archive_ident {
    int version;
    char saas_user_id[257];
    char linux_username[33];
    long long source_uid, source_gid;
    double created_at;
    char quotas[512]; /* the tenant's own quotas, a JSON object ("" = none) */
} wr_archive_ident;

/* Header JSON for `id` (malloc'ed, NUL-terminated). */
char *wr_archive_header_json(const wr_archive_ident *id);
/* Parses a header (or the identity part of a manifest); kind invalid with a
 * message naming the field on anything malformed. */
int wr_archive_ident_parse(const char *buf, size_t len, wr_archive_ident *ret, wr_err *e);

/* The tenant's own quota values (quota.h) as the header's "quotas" object
 * (fields left unset are left out; unlimited is "max"), and back (returns
 * how many fields it set). */
struct wr_quota;
int wr_archive_quotas_format(const struct wr_quota *q, char *out, size_t n);
int wr_archive_quotas_parse(const char *json, struct wr_quota *ret);

/* A set of paths (relative to the home) with what the archive made there. */
typedef enum wr_path_type {
    WR_PATH_DIR = 1,
    WR_PATH_FILE,
    WR_PATH_SYMLINK,
    WR_PATH_HARDLINK,
} wr_path_type;

typedef struct wr_path_info {
    wr_path_type type;
    bool summed;      /* size and sha256 are known */
    bool in_manifest; /* seen while checking the manifest */
    uint64_t size;
    unsigned char sha256[32];
} wr_path_info;

typedef struct wr_pathset wr_pathset;
wr_pathset *wr_pathset_new(void);
void wr_pathset_free(wr_pathset *s);
/* NULL if absent. The pointer stays valid until the next add. */
wr_path_info *wr_pathset_get(const wr_pathset *s, const char *path);
/* Adds `path` (copied); -EEXIST if present, -ENOMEM. */
int wr_pathset_add(wr_pathset *s, const char *path, const wr_path_info *info);
size_t wr_pathset_count(const wr_pathset *s);

/* A growing manifest text: the header's fields and the files array. */
typedef struct wr_manifest_buf {
    char *s;
    size_t len, cap;
    uint64_t files;
    bool failed; /* out of memory */
} wr_manifest_buf;
void wr_manifest_begin(wr_manifest_buf *m, const wr_archive_ident *id);
void wr_manifest_add(wr_manifest_buf *m, const char *path, uint64_t size,
                     const unsigned char sha256[32]);
/* Closes the JSON; -ENOMEM if any step ran out of memory. */
int wr_manifest_end(wr_manifest_buf *m);

/* Checks a manifest against what was extracted: its identity must equal
 * `head`, every file it lists must have been extracted as a regular file (or
 * a hard link to one) with that size and sha256, and every regular file
 * extracted must be listed. */
int wr_manifest_verify(const char *buf, size_t len, const wr_archive_ident *head,
                       wr_pathset *extracted, wr_err *e);

/* --- the member filter ------------------------------------------------------ */

typedef enum wr_archive_format {
    WR_FORMAT_UNKNOWN = 0,
    WR_FORMAT_WARREN,
    WR_FORMAT_PACTOWN,
} wr_archive_format;

typedef enum wr_member {
    WR_MEMBER_HEADER,   /* warren-header.json: read it, then wr_filter_set_ident */
    WR_MEMBER_MANIFEST, /* warren-manifest.json: read it, verify at the end */
    WR_MEMBER_TOP,      /* the home directory itself: keep its mtime */
    WR_MEMBER_EXTRACT,  /* write it; the entry now holds the path to use */
} wr_member;

typedef struct wr_filter {
    /* set up by the caller */
    const char *tenants[2];   /* the tenant and the --from tenant (or NULL) */
    char pactown_tops[2][32]; /* pactown_<8 hex> of those two */
    uint64_t limit_bytes, limit_files;
    /* state */
    wr_archive_format format;
    char top[64]; /* the one top directory */
    bool owner_known;
    long long uid, gid; /* the archive's one owner */
    bool header_seen, top_seen, manifest_seen;
    wr_archive_ident ident;
    uint64_t members, files, bytes, neutralised;
    wr_pathset *paths;
} wr_filter;

/* tenant must not be NULL; from may be. Limits of 0 mean none. */
int wr_filter_init(wr_filter *f, const char *tenant, const char *from, uint64_t limit_bytes,
                   uint64_t limit_files, wr_err *e);
void wr_filter_free(wr_filter *f);

/* Decides what to do with one member, and makes it safe to hand to
 * libarchive: the path (and a hard link's target) become relative to the
 * home, set-id and sticky bits are dropped, xattrs and ACLs are cleared.
 * Refuses (kind invalid, or limit for the size limits) with a message naming
 * the member. */
int wr_filter_member(wr_filter *f, struct archive_entry *en, wr_member *ret, wr_err *e);
/* The header member's contents: checks the archive is for one of the
 * tenants and records its owner. */
int wr_filter_set_ident(wr_filter *f, const char *buf, size_t len, wr_err *e);
/* After the last member: the layout was complete (a warren archive ends with
 * its manifest; a pactown one had its top directory). */
int wr_filter_finish(wr_filter *f, wr_err *e);

/* Normalises a member name: strips "./" and repeated or trailing slashes;
 * refuses an empty or absolute name and any "..". Writes into out (size n). */
int wr_member_path_normalise(const char *name, char *out, size_t n);
