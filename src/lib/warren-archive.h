/* Moving a tenant between hosts: export of the whole home to one archive,
 * import of such an archive (or of one pactown made) into a tenant.
 *
 * Layout of a warren archive (docs/ARCHIVES.md): a pax tar, zstd or gzip
 * compressed, whose first member is `warren-header.json` (who the archive
 * belongs to), then `home/` and everything in the home below it, and last
 * `warren-manifest.json` (the header's fields again plus the size and sha256
 * of every regular file). A pactown archive is what `tar -czf` of a home
 * makes: one top directory `pactown_<8 hex>/`.
 *
 * Export reads the home as root through directory fds, never following a
 * link, with the tenant's runs frozen. Import extracts as the tenant, inside
 * a private mount namespace whose root is a staging directory, after a filter
 * that lets through only files, directories, symlinks and hard links inside
 * the archive; the staging directory replaces the home in one rename. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "tenant.h"

typedef enum wr_compression {
    WR_COMPRESS_ZSTD = 0,
    WR_COMPRESS_GZIP = 1,
} wr_compression;

/* The compression a file name asks for: .tar.gz and .tgz are gzip, anything
 * else zstd (the default). */
wr_compression wr_compression_for_name(const char *name);

/* Where an export or import stands; given to the progress callback about
 * ten times a second and once at the end (done). */
typedef struct wr_progress {
    uint64_t files;
    uint64_t bytes;       /* export: file data read; import: archive bytes read */
    uint64_t total_bytes; /* what `bytes` is heading for, 0 if unknown */
    double elapsed;       /* seconds */
    bool done;
} wr_progress;
typedef void (*wr_progress_fn)(const wr_progress *p, void *userdata);

typedef struct wr_export_opts {
    wr_compression compression;
    wr_progress_fn progress; /* may be NULL */
    void *userdata;
    /* If set and it becomes non-zero (a signal handler), the export stops,
     * thaws the tenant and fails (kind busy). */
    volatile sig_atomic_t *cancel;
} wr_export_opts;

typedef struct wr_archive_stats {
    uint64_t files;       /* regular files */
    uint64_t entries;     /* every member: directories, links, files */
    uint64_t bytes;       /* data of the regular files */
    uint64_t skipped;     /* export: sockets, fifos, mount points, and entries the tenant
                             does not own (a planted hard link to a host file) */
    uint64_t neutralised; /* import: set-id or sticky bits dropped */
    bool frozen;          /* export: the tenant's runs were frozen for the copy */
} wr_archive_stats;

/* Writes the tenant's home as an archive to `outfd` (a file or a pipe). */
int wr_tenant_export(warren *w, const char *tenant, int outfd, const wr_export_opts *o,
                     wr_archive_stats *ret, wr_err *e);
/* As wr_tenant_export, to the file `path`: written next to it under a
 * temporary name and renamed into place when complete, so a failure leaves no
 * partial file. An existing `path` is refused (kind exists) unless force. */
int wr_tenant_export_file(warren *w, const char *tenant, const char *path, bool force,
                          const wr_export_opts *o, wr_archive_stats *ret, wr_err *e);

/* Import limits when the tenant has no storage quota. */
#define WR_IMPORT_LIMIT_BYTES_DEFAULT (10ull << 30)
#define WR_IMPORT_LIMIT_FILES_DEFAULT 2000000ull

typedef struct wr_import_opts {
    const char *from;     /* the archive may belong to this tenant id instead */
    bool replace;         /* replace a home that has files */
    uint64_t limit_bytes; /* 0: the default */
    uint64_t limit_files; /* 0: the default */
    wr_progress_fn progress;
    void *userdata;
    uint64_t input_size; /* for the progress bar's ETA; 0 if unknown */
} wr_import_opts;

typedef struct wr_import_result {
    wr_tenant tenant;
    bool created;                      /* the import created the tenant */
    char format[16];                   /* "warren" or "pactown" */
    char source[WR_TENANT_ID_MAX + 1]; /* the tenant the archive names ("" if none) */
    bool verified;                     /* every file matched the manifest's checksums */
    wr_archive_stats stats;
} wr_import_result;

/* Imports the archive read from `infd` into the tenant (created if missing).
 * Nothing changes unless everything succeeded; see docs/ARCHIVES.md for what
 * is refused. */
int wr_tenant_import(warren *w, const char *tenant, int infd, const wr_import_opts *o,
                     wr_import_result *ret, wr_err *e);

/* Removes the staging directories of imports whose process died. Cheap when
 * there are none (one look at <state_dir>/imports). Returns how many. */
int wr_import_clean_staging(warren *w, wr_err *e);
