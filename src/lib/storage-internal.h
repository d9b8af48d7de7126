/* The btrfs backend's operations (storage-btrfs.c), for storage.c and for
 * import's staging of a btrfs home (archive-import.c, archive-markers.c).
 * Each takes directory fds, never paths: names are single components. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Whether the directory open at fd is on btrfs. */
bool wr_btrfs_is_btrfs(int fd);
/* Whether `name` in dirfd is a btrfs subvolume (never following a link). */
bool wr_btrfs_is_subvolume(int dirfd, const char *name);
/* Turns on quota accounting for the filesystem (a no-op if it is on). */
int wr_btrfs_quota_enable(int fd, wr_err *e);
/* Creates subvolume `name` in dirfd (-EEXIST if the name is taken). */
int wr_btrfs_subvolume_create(int dirfd, const char *name, wr_err *e);
/* Deletes subvolume `name` in dirfd with everything in it, subvolumes the
 * tenant made inside it included. Missing is success. */
int wr_btrfs_subvolume_delete(int dirfd, const char *name, wr_err *e);
/* A read-only snapshot of the subvolume open at srcfd, as `name` in dirfd. */
int wr_btrfs_snapshot(int srcfd, int dirfd, const char *name, wr_err *e);
/* Sets (or, with UINT64_MAX, clears) the referenced-bytes limit of the
 * subvolume open at fd, through dirfd, a directory outside it on the same
 * filesystem (the users base). */
int wr_btrfs_set_limit(int dirfd, int fd, uint64_t bytes, wr_err *e);
typedef struct wr_btrfs_use {
    uint64_t bytes;        /* referenced by the subvolume itself */
    uint64_t limit;        /* its qgroup limit, UINT64_MAX for none */
    uint64_t nested_bytes; /* referenced by subvolumes made inside it, at any depth:
                              their qgroups are their own, outside the limit */
} wr_btrfs_use;
/* The usage of the subvolume open at fd, from the qgroup counters. */
int wr_btrfs_usage(int fd, wr_btrfs_use *ret, wr_err *e);
