/* Host-wide configuration: where state and homes live, how accounts are named,
 * which UIDs warren may hand out. Filled from defaults, then the environment
 * (WARREN_*), then command-line options; validated once by wr_config_check. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "naming.h"

#define WR_BASE_MAX 512

/* Default UID range. 60001 is the seed's first tenant; the range runs past
 * 65535 so that well over 100,000 tenants fit once the holes (65534/65535,
 * systemd's dynamic range, subordinate ranges) are skipped. */
#define WR_UID_MIN_DEFAULT 60001u
#define WR_UID_MAX_DEFAULT 299999u

typedef struct wr_config {
    char users_base[WR_BASE_MAX];
    char state_dir[WR_BASE_MAX];
    char prefix[WR_PREFIX_MAX + 1];
    uid_t uid_min, uid_max;
    /* Root mode: real accounts, homes owned by them. Non-root mode: tenants are
     * tracked without accounts and everything belongs to the caller. */
    bool root_mode;
    /* Where the account files live. Always /etc in production; unit tests point
     * it at a scratch directory. */
    char etc_dir[WR_BASE_MAX];
} wr_config;

/* Defaults for the calling user: root gets /var/lib/warren and
 * /home/warren_users; others get $XDG_STATE_HOME/warren and
 * $XDG_DATA_HOME/warren/users (never a predictable path in /tmp). */
int wr_config_defaults(wr_config *c, wr_err *e);
/* Applies WARREN_STATE_DIR, WARREN_USERS_BASE, WARREN_USER_PREFIX, WARREN_UID_RANGE. */
int wr_config_from_env(wr_config *c, wr_err *e);

int wr_config_set_users_base(wr_config *c, const char *v, wr_err *e);
int wr_config_set_state_dir(wr_config *c, const char *v, wr_err *e);
int wr_config_set_prefix(wr_config *c, const char *v, wr_err *e);
/* "MIN-MAX", both inclusive. */
int wr_config_set_uid_range(wr_config *c, const char *v, wr_err *e);
