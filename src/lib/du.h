/* Disk usage of a tree, as `du` counts it: allocated blocks, each inode once
 * (hard links counted once), symlinks counted but never followed, other
 * filesystems not entered. Files that vanish during the walk are skipped, not
 * errors: a tenant's running program may be deleting them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

typedef struct wr_usage {
    uint64_t bytes;  /* st_blocks * 512 summed */
    uint64_t inodes; /* distinct inodes, the top directory included */
    bool truncated;  /* some directory was deeper than WR_DU_MAX_DEPTH */
} wr_usage;

#define WR_DU_MAX_DEPTH 4096

/* Walks the directory open at `dirfd` (not consumed). */
int wr_disk_usage(int dirfd, wr_usage *ret, wr_err *e);
