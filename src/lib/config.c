/* Configuration: defaults for the caller, then WARREN_* from the environment,
 * then the CLI's options; each setter validates its value and names it. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "naming.h"
#include "util.h"

static int set_path(char *dst, const char *what, const char *v, wr_err *e) {
    if (!v || v[0] != '/')
        return wr_invalid(e, "%s '%s': must be an absolute path", what, v ? v : "");
    if (strlen(v) >= WR_BASE_MAX)
        return wr_invalid(e, "%s: longer than %d bytes", what, WR_BASE_MAX - 1);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == ':')
            return wr_invalid(e, "%s '%s': control characters and ':' are not allowed", what, v);
    /* `..` would make the path mean something other than it says in the
     * registry; trailing slashes would make home_dir strings differ. */
    if (strstr(v, "/../") || (strlen(v) >= 3 && streq(v + strlen(v) - 3, "/..")))
        return wr_invalid(e, "%s '%s': must not contain '..'", what, v);
    strcpy(dst, v);
    size_t l = strlen(dst);
    while (l > 1 && dst[l - 1] == '/')
        dst[--l] = '\0';
    return 0;
}

int wr_config_set_users_base(wr_config *c, const char *v, wr_err *e) {
    return set_path(c->users_base, "users base", v, e);
}

int wr_config_set_state_dir(wr_config *c, const char *v, wr_err *e) {
    return set_path(c->state_dir, "state directory", v, e);
}

int wr_config_set_prefix(wr_config *c, const char *v, wr_err *e) {
    int r = wr_check_prefix(v, e);
    if (r < 0) return r;
    strcpy(c->prefix, v);
    return 0;
}

static int parse_id(const char *s, const char *end, uint32_t *ret) {
    if (s == end || end - s > 10) return -EINVAL;
    uint64_t v = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9') return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v == 0 || v >= UINT32_MAX) return -EINVAL;
    *ret = (uint32_t)v;
    return 0;
}

int wr_config_set_uid_range(wr_config *c, const char *v, wr_err *e) {
    const char *dash = v ? strchr(v, '-') : NULL;
    uint32_t lo, hi;
    if (!dash || parse_id(v, dash, &lo) < 0 || parse_id(dash + 1, dash + strlen(dash), &hi) < 0)
        return wr_invalid(e, "UID range '%s': expected MIN-MAX, e.g. 60001-299999", v ? v : "");
    /* Below 1000 are system accounts; a tenant must never get one of those. */
    if (lo < 1000 || hi < lo) return wr_invalid(e, "UID range '%s': need 1000 <= MIN <= MAX", v);
    c->uid_min = lo;
    c->uid_max = hi;
    return 0;
}

int wr_config_defaults(wr_config *c, wr_err *e) {
    memset(c, 0, sizeof *c);
    c->root_mode = geteuid() == 0;
    strcpy(c->prefix, "warren_");
    strcpy(c->etc_dir, "/etc");
    c->uid_min = WR_UID_MIN_DEFAULT;
    c->uid_max = WR_UID_MAX_DEFAULT;
    if (c->root_mode) {
        strcpy(c->state_dir, "/var/lib/warren");
        strcpy(c->users_base, "/home/warren_users");
        return 0;
    }
    /* Without root there are no accounts; state and homes belong to the caller
     * and live in the caller's XDG directories, never a guessable /tmp path
     * another local user could pre-create. */
    const char *home = getenv("HOME");
    if (!home || home[0] != '/')
        return wr_invalid(e, "HOME is not set to an absolute path; set WARREN_STATE_DIR and "
                             "WARREN_USERS_BASE");
    char buf[WR_BASE_MAX * 2];
    const char *xs = getenv("XDG_STATE_HOME"), *xd = getenv("XDG_DATA_HOME");
    if (xs && xs[0] == '/')
        snprintf(buf, sizeof buf, "%s/warren", xs);
    else
        snprintf(buf, sizeof buf, "%s/.local/state/warren", home);
    int r = set_path(c->state_dir, "state directory", buf, e);
    if (r < 0) return r;
    if (xd && xd[0] == '/')
        snprintf(buf, sizeof buf, "%s/warren/users", xd);
    else
        snprintf(buf, sizeof buf, "%s/.local/share/warren/users", home);
    return set_path(c->users_base, "users base", buf, e);
}

int wr_config_from_env(wr_config *c, wr_err *e) {
    const char *v;
    int r = 0;
    if ((v = getenv("WARREN_STATE_DIR")) && *v && (r = wr_config_set_state_dir(c, v, e)) < 0)
        return r;
    if ((v = getenv("WARREN_USERS_BASE")) && *v && (r = wr_config_set_users_base(c, v, e)) < 0)
        return r;
    if ((v = getenv("WARREN_USER_PREFIX")) && *v && (r = wr_config_set_prefix(c, v, e)) < 0)
        return r;
    if ((v = getenv("WARREN_UID_RANGE")) && *v && (r = wr_config_set_uid_range(c, v, e)) < 0)
        return r;
    return 0;
}
