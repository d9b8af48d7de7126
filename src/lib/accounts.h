/* The host's account files: /etc/passwd, /etc/group, /etc/shadow and
 * /etc/gshadow (skipped where absent), edited without spawning useradd.
 *
 * Every edit happens under the shadow-utils lock (the fcntl lock on
 * <etc>/.pwd.lock that lckpwdf() takes), so warren processes, useradd and
 * passwd never write at the same time. Threads of one process are serialised
 * too (fcntl locks alone would let them all in).
 *
 * Adding appends one whole line to each file with a single write(2) on an
 * O_APPEND descriptor: a killed process cannot tear it, and the cost does not
 * grow with the number of accounts. Files are appended group, gshadow, passwd,
 * shadow, so a passwd line never names a group that is not there yet. If the
 * file does not end in a newline (a line torn by a power loss, or an admin's
 * editor), a newline is written first so the new line stands on its own.
 *
 * Removing rewrites each file without the account's line into a temporary file
 * beside it (same owner and mode), fsyncs it and renames it over the original:
 * readers see the old file or the new one, never a mix. */
#pragma once

#include <sys/types.h>

#include "err.h"

typedef struct wr_account {
    const char *name;
    uid_t uid;
    gid_t gid;
    const char *gecos;
    const char *home;
    const char *shell; /* NULL: /usr/sbin/nologin */
} wr_account;

/* Takes the lock, waiting up to 15 s; kind busy if it cannot. */
int wr_accounts_lock(const char *etc_dir, wr_err *e);
/* As wr_accounts_lock with another wait (tests). */
int wr_accounts_lock_timeout(const char *etc_dir, unsigned timeout_ms, wr_err *e);
/* Only after a successful lock, from the thread that took it. */
void wr_accounts_unlock(const char *etc_dir);

/* Must hold the lock. Adds user `name` with group `name` (gid), password
 * locked; all four files or none. Refuses (kind invalid) a field containing
 * ':' or a newline. Does not look for an existing `name`, UID or GID: that
 * would read the whole files on every create. The caller guarantees they are
 * free, by asking wr_uidset (refreshed under this lock) first. */
int wr_accounts_add(const char *etc_dir, const wr_account *a, wr_err *e);
/* Must hold the lock. Removes user and group `name` from every file; a name
 * that is absent from a file is not an error (this also undoes a half-done
 * add). Refuses (kind unsafe) if the passwd line for `name` has a UID other than
 * `uid`: it is not the account warren made. */
int wr_accounts_remove(const char *etc_dir, const char *name, uid_t uid, wr_err *e);

/* Removes the temporary files (.<file>.warren-XXXXXX) that a remove killed
 * between writing and renaming left beside the account files. Reads the
 * directory without the lock and takes it only when there is something to
 * remove. */
int wr_accounts_clean_stale(const char *etc_dir, wr_err *e);
/* Must hold the lock. Removes those temporary files (the lock says none is a
 * rewrite in flight). */
int wr_accounts_remove_stale(const char *etc_dir, wr_err *e);

typedef enum wr_account_file {
    WR_ACCOUNT_PASSWD,
    WR_ACCOUNT_GROUP,
    WR_ACCOUNT_SHADOW,
    WR_ACCOUNT_GSHADOW,
} wr_account_file;

typedef struct wr_account_entry {
    wr_account_file file;
    const char *name;
    long long id;     /* UID (passwd) or GID (group); -1 elsewhere or if unreadable */
    const char *home; /* passwd only, else NULL */
} wr_account_entry;

/* Calls fn for every line of every account file that exists (group, gshadow,
 * passwd, shadow in that order); the entry is valid during the call only.
 * Stops at fn's first non-zero return and returns it. Each file is read whole,
 * so a file replaced by rename meanwhile is seen either old or new. */
int wr_accounts_scan(const char *etc_dir, int (*fn)(const wr_account_entry *en, void *userdata),
                     void *userdata, wr_err *e);
