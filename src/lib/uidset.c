/* The IDs and names the host already uses.
 *
 * IDs live in bitmaps over [min, max]: user IDs, group IDs, users' primary
 * GIDs (a user whose primary group has no group line would otherwise share
 * files with the tenant who gets that GID), IDs seen more than once in one of
 * those, and subordinate ranges. Keeping the kinds apart lets a removal free an
 * ID only when warren's own user and group were its sole holders: if an
 * administrator gave a group the same GID meanwhile, the ID stays taken. Names
 * of any ID go into an open-addressing hash set.
 *
 * /etc is read through NSS so that every enumerating source counts; any other
 * directory (unit tests) is parsed as plain files. Either way a load is one
 * pass over the entries, and a refresh that finds the four files' fingerprints
 * unchanged costs four stat calls. */
#include "uidset.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

/* 2^24 IDs make 10 MiB of bitmaps; a wider range is a configuration mistake. */
#define MAX_RANGE_IDS (UINT64_C(1) << 24)

/* One passwd or group entry larger than this is an error, not a reason to
 * keep doubling the buffer. */
#define MAX_ENTRY_BUF (16u << 20)

enum { P_USER, P_GROUP, P_PRIMARY, P_SHARED, P_SUB, N_PLANES };
enum { FP_PASSWD, FP_GROUP, FP_SUBUID, FP_SUBGID, N_FP };
static const char *const fp_files[N_FP] = {"passwd", "group", "subuid", "subgid"};

typedef struct fingerprint {
    bool present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
} fingerprint;

typedef struct nameset {
    char **slot;
    size_t cap;  /* a power of two, or 0 */
    size_t live; /* names */
    size_t used; /* names and tombstones: probing stops only at an empty slot */
    uint64_t seed;
} nameset;

struct wr_uidset {
    char *etc_dir;
    uid_t min, max;
    size_t words; /* per plane */
    uint64_t *bits;
    nameset names;
    bool nss;     /* etc_dir is /etc: enumerate NSS */
    bool ask_nss; /* a source may not enumerate: also look the candidate up */
    bool stale;   /* a note could not be recorded: reload on the next refresh */
    fingerprint fp[N_FP];
};

bool wr_uid_is_reserved(uid_t id) {
    return id == 0 || id == (uid_t)-1 || id == 65534 || id == 65535 || (id >= 61184 && id <= 65519);
}

/* --- the name set ------------------------------------------------------------ */

static char tombstone;
#define TOMB (&tombstone)

/* FNV-1a with a per-set random seed, so names chosen to collide on one host do
 * not collide on another. */
static uint64_t name_hash(uint64_t seed, const char *s) {
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ seed;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h ^ (h >> 32);
}

/* The slot holding `name`, or the one where it would go. */
static size_t ns_probe(const nameset *n, const char *name, bool *ret_found) {
    size_t mask = n->cap - 1, i = name_hash(n->seed, name) & mask, free_slot = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
        char *p = n->slot[i];
        if (!p) {
            *ret_found = false;
            return free_slot != SIZE_MAX ? free_slot : i;
        }
        if (p == TOMB) {
            if (free_slot == SIZE_MAX) free_slot = i;
        } else if (streq(p, name)) {
            *ret_found = true;
            return i;
        }
    }
}

static int ns_resize(nameset *n, size_t cap) {
    char **slot = calloc(cap, sizeof *slot);
    if (!slot) return -ENOMEM;
    nameset grown = {.slot = slot, .cap = cap, .live = n->live, .used = n->live, .seed = n->seed};
    for (size_t i = 0; i < n->cap; i++) {
        if (!n->slot[i] || n->slot[i] == TOMB) continue;
        bool found;
        slot[ns_probe(&grown, n->slot[i], &found)] = n->slot[i];
    }
    free(n->slot);
    *n = grown;
    return 0;
}

static bool ns_has(const nameset *n, const char *name) {
    bool found = false;
    if (n->cap) ns_probe(n, name, &found);
    return found;
}

static int ns_add(nameset *n, const char *name) {
    /* At most half full, tombstones included, so probes stay short and end. */
    if ((n->used + 1) * 2 > n->cap) {
        size_t cap = 16;
        while (cap < (n->live + 1) * 4)
            cap *= 2;
        if (ns_resize(n, cap) < 0) return -ENOMEM;
    }
    bool found;
    size_t i = ns_probe(n, name, &found);
    if (found) return 0;
    char *copy = strdup(name);
    if (!copy) return -ENOMEM;
    if (!n->slot[i]) n->used++;
    n->slot[i] = copy;
    n->live++;
    return 0;
}

static void ns_del(nameset *n, const char *name) {
    bool found = false;
    size_t i = n->cap ? ns_probe(n, name, &found) : 0;
    if (!found) return;
    free(n->slot[i]);
    n->slot[i] = TOMB;
    n->live--;
}

static void ns_free(nameset *n) {
    for (size_t i = 0; i < n->cap; i++)
        if (n->slot[i] != TOMB) free(n->slot[i]);
    free(n->slot);
}

/* --- the ID bitmaps ------------------------------------------------------------ */

static uint64_t *plane(const wr_uidset *s, int p) {
    return s->bits + (size_t)p * s->words;
}
static bool bit(const uint64_t *b, uint64_t i) {
    return b[i / 64] >> (i % 64) & 1;
}
static void set_bit(uint64_t *b, uint64_t i) {
    b[i / 64] |= UINT64_C(1) << (i % 64);
}
static void clear_bit(uint64_t *b, uint64_t i) {
    b[i / 64] &= ~(UINT64_C(1) << (i % 64));
}
static bool in_range(const wr_uidset *s, uint64_t id) {
    return id >= s->min && id <= s->max;
}

/* Records a user's UID (P_USER), a group's GID (P_GROUP) or a user's primary
 * GID (P_PRIMARY). */
static void mark_id(wr_uidset *s, int p, uint64_t id) {
    if (!in_range(s, id)) return;
    uint64_t i = id - s->min;
    if (bit(plane(s, p), i)) set_bit(plane(s, P_SHARED), i);
    set_bit(plane(s, p), i);
}

/* Marks the subordinate range [start, start + count) where it meets [min, max]. */
static void mark_subrange(wr_uidset *s, uint64_t start, uint64_t count) {
    uint64_t lo = start > s->min ? start : s->min;
    uint64_t end = start + count; /* both below 2^33: no overflow */
    uint64_t hi = end < (uint64_t)s->max + 1 ? end : (uint64_t)s->max + 1;
    if (lo >= hi) return;
    uint64_t *b = plane(s, P_SUB);
    for (uint64_t i = lo - s->min, n = hi - s->min; i < n;) {
        if (i % 64 == 0 && n - i >= 64) {
            b[i / 64] = UINT64_MAX;
            i += 64;
        } else
            set_bit(b, i++);
    }
}

/* --- reading the sources -------------------------------------------------------- */

/* A decimal ID ending at `end` or the string's end; false if it is not one. */
static bool parse_id(const char *p, char end, uint64_t *ret) {
    uint64_t v = 0;
    const char *start = p;
    for (; *p && *p != end; p++) {
        if (*p < '0' || *p > '9' || v > UINT32_MAX) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p == start || v > UINT32_MAX) return false;
    *ret = v;
    return true;
}

static FILE *open_in(const wr_uidset *s, const char *file) {
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/%s", s->etc_dir, file) < 0) {
        errno = ENOMEM;
        return NULL;
    }
    return fopen(path, "re");
}

/* passwd or group as a plain file: name:password:ID:... and, in passwd, the
 * primary GID next. */
static int parse_db(wr_uidset *s, const char *file, int p, wr_err *e) {
    _cleanup_fclose_ FILE *f = open_in(s, file);
    if (!f) return wr_sys(e, errno, "cannot open %s/%s", s->etc_dir, file);
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
        char *c1 = strchr(line, ':');
        if (!c1 || line[0] == '#') continue;
        *c1 = 0;
        char *c2 = strchr(c1 + 1, ':'), *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
        uint64_t id;
        if (ns_add(&s->names, line) < 0) return wr_sys(e, ENOMEM, "loading %s", file);
        if (c2 && parse_id(c2 + 1, ':', &id)) mark_id(s, p, id);
        if (p == P_USER && c3 && parse_id(c3 + 1, ':', &id)) mark_id(s, P_PRIMARY, id);
    }
    if (ferror(f)) return wr_sys(e, EIO, "cannot read %s/%s", s->etc_dir, file);
    return 0;
}

/* subuid or subgid: owner:start:count. Absent is fine: no ranges. */
static int parse_subids(wr_uidset *s, const char *file, wr_err *e) {
    _cleanup_fclose_ FILE *f = open_in(s, file);
    if (!f && errno == ENOENT) return 0;
    if (!f) return wr_sys(e, errno, "cannot open %s/%s", s->etc_dir, file);
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        uint64_t start, count;
        if (line[0] == '#' || !c2 || !parse_id(c1 + 1, ':', &start) || !parse_id(c2 + 1, 0, &count))
            continue;
        mark_subrange(s, start, count);
    }
    if (ferror(f)) return wr_sys(e, EIO, "cannot read %s/%s", s->etc_dir, file);
    return 0;
}

/* Every user (groups = false) or group NSS lists: its name, and the ids it
 * takes. getpwent_r/getgrent_r rather than getpwent: they say ERANGE instead
 * of skipping an entry too big for glibc's buffer, and tell the end of the
 * list from an error. */
static int enum_entries(wr_uidset *s, bool groups, wr_err *e) {
    const char *what = groups ? "groups" : "users";
    size_t cap = 4096;
    _cleanup_free_ char *buf = malloc(cap);
    if (!buf) return wr_sys(e, ENOMEM, "enumerating %s", what);
    int r = 0;
    if (groups)
        setgrent();
    else
        setpwent();
    for (;;) {
        struct passwd pw, *pwres = NULL;
        struct group gr, *grres = NULL;
        int q = groups ? getgrent_r(&gr, buf, cap, &grres) : getpwent_r(&pw, buf, cap, &pwres);
        if (q == ERANGE && cap < MAX_ENTRY_BUF) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                q = ENOMEM;
            else {
                buf = nb;
                continue;
            }
        }
        if (q == ENOENT || (q == 0 && !pwres && !grres)) break;
        if (q != 0) {
            r = wr_sys(e, q, "cannot enumerate %s", what);
            break;
        }
        if (ns_add(&s->names, groups ? gr.gr_name : pw.pw_name) < 0) {
            r = wr_sys(e, ENOMEM, "enumerating %s", what);
            break;
        }
        if (groups)
            mark_id(s, P_GROUP, gr.gr_gid);
        else {
            mark_id(s, P_USER, pw.pw_uid);
            mark_id(s, P_PRIMARY, pw.pw_gid);
        }
    }
    if (groups)
        endgrent();
    else
        endpwent();
    return r;
}

static bool is_listed_source(const char *src) {
    return streq(src, "files") || streq(src, "compat") || streq(src, "systemd");
}

/* Whether /etc/nsswitch.conf lets a source answer user or group lookups that
 * enumeration may not show (ldap, sss and winbind often do not enumerate). */
static bool nss_may_hide(void) {
    _cleanup_fclose_ FILE *f = fopen("/etc/nsswitch.conf", "re");
    if (!f) return false; /* glibc's default then is files */
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        line[strcspn(line, "#\n")] = 0;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        char *save = NULL, *db = strtok_r(line, " \t", &save);
        if (!db || !(streq(db, "passwd") || streq(db, "group") || streq(db, "passwd_compat") ||
                     streq(db, "group_compat")))
            continue;
        bool in_action = false;
        for (char *w = strtok_r(colon + 1, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
            if (w[0] == '[') in_action = true;
            if (!in_action && !is_listed_source(w)) return true;
            if (strchr(w, ']')) in_action = false;
        }
    }
    return false;
}

/* Whether NSS knows a user or a group by this name (name set) or this ID.
 * A lookup error counts as taken: an unreachable directory must not make an
 * ID look free. ERANGE means an entry exists, too big for the buffer. */
static bool nss_has(const char *name, uid_t id) {
    char buf[4096];
    struct passwd pw, *pres = NULL;
    struct group gr, *gres = NULL;
    int r = name ? getpwnam_r(name, &pw, buf, sizeof buf, &pres)
                 : getpwuid_r(id, &pw, buf, sizeof buf, &pres);
    if (pres || (r != 0 && r != ENOENT && r != ESRCH)) return true;
    r = name ? getgrnam_r(name, &gr, buf, sizeof buf, &gres)
             : getgrgid_r(id, &gr, buf, sizeof buf, &gres);
    return gres || (r != 0 && r != ENOENT && r != ESRCH);
}

/* --- fingerprints ------------------------------------------------------------------ */

static void take_fingerprints(const char *etc_dir, fingerprint fp[N_FP]) {
    _cleanup_close_ int dfd = open(etc_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int i = 0; i < N_FP; i++) {
        struct stat st;
        fp[i] = (fingerprint){0};
        if (dfd >= 0 && fstatat(dfd, fp_files[i], &st, 0) == 0)
            fp[i] = (fingerprint){.present = true,
                                  .dev = st.st_dev,
                                  .ino = st.st_ino,
                                  .size = st.st_size,
                                  .mtim = st.st_mtim};
    }
}

static bool same_fingerprints(const fingerprint a[N_FP], const fingerprint b[N_FP]) {
    for (int i = 0; i < N_FP; i++)
        if (a[i].present != b[i].present || a[i].dev != b[i].dev || a[i].ino != b[i].ino ||
            a[i].size != b[i].size || a[i].mtim.tv_sec != b[i].mtim.tv_sec ||
            a[i].mtim.tv_nsec != b[i].mtim.tv_nsec)
            return false;
    return true;
}

/* --- the set ------------------------------------------------------------------------ */

void wr_uidset_free(wr_uidset *s) {
    if (!s) return;
    ns_free(&s->names);
    free(s->bits);
    free(s->etc_dir);
    free(s);
}

static void uidset_freep(wr_uidset **s) {
    wr_uidset_free(*s);
}

static int read_sources(wr_uidset *s, wr_err *e) {
    int r;
    if (s->nss) {
        s->ask_nss = nss_may_hide();
        if ((r = enum_entries(s, false, e)) < 0 || (r = enum_entries(s, true, e)) < 0) return r;
    } else if ((r = parse_db(s, "passwd", P_USER, e)) < 0 ||
               (r = parse_db(s, "group", P_GROUP, e)) < 0)
        return r;
    if ((r = parse_subids(s, "subuid", e)) < 0 || (r = parse_subids(s, "subgid", e)) < 0) return r;
    return 0;
}

int wr_uidset_load(const char *etc_dir, uid_t min, uid_t max, wr_uidset **ret, wr_err *e) {
    if (min > max) return wr_invalid(e, "UID range %u-%u is empty", (unsigned)min, (unsigned)max);
    uint64_t ids = (uint64_t)max - min + 1;
    if (ids > MAX_RANGE_IDS)
        return wr_invalid(e, "UID range %u-%u is wider than %llu IDs", (unsigned)min, (unsigned)max,
                          (unsigned long long)MAX_RANGE_IDS);

    _cleanup_(uidset_freep) wr_uidset *s = calloc(1, sizeof *s);
    if (!s || !(s->etc_dir = strdup(etc_dir))) return wr_sys(e, ENOMEM, "UID set");
    s->min = min;
    s->max = max;
    s->words = (size_t)((ids + 63) / 64);
    s->bits = calloc(s->words * N_PLANES, sizeof *s->bits);
    if (!s->bits) return wr_sys(e, ENOMEM, "UID set for %u-%u", (unsigned)min, (unsigned)max);
    if (getrandom(&s->names.seed, sizeof s->names.seed, GRND_NONBLOCK) != sizeof s->names.seed)
        s->names.seed = (uint64_t)(uintptr_t)s ^ (uint64_t)time(NULL);
    s->nss = streq(etc_dir, "/etc");

    /* Before reading: a change made while we read shows at the next refresh. */
    take_fingerprints(etc_dir, s->fp);
    int r = read_sources(s, e);
    if (r < 0) return r;
    *ret = TAKE_PTR(s);
    return 0;
}

int wr_uidset_refresh(wr_uidset *s, wr_err *e) {
    fingerprint now[N_FP];
    take_fingerprints(s->etc_dir, now);
    if (!s->stale && same_fingerprints(now, s->fp)) return 0;
    wr_uidset *fresh;
    int r = wr_uidset_load(s->etc_dir, s->min, s->max, &fresh, e);
    if (r < 0) return r;
    wr_uidset old = *s;
    *s = *fresh;
    *fresh = old;
    wr_uidset_free(fresh);
    return 0;
}

bool wr_uidset_id_taken(wr_uidset *s, uid_t id) {
    if (wr_uid_is_reserved(id) || !in_range(s, id)) return true;
    uint64_t i = id - s->min;
    if (bit(plane(s, P_USER), i) || bit(plane(s, P_GROUP), i) || bit(plane(s, P_PRIMARY), i) ||
        bit(plane(s, P_SUB), i))
        return true;
    return s->ask_nss && nss_has(NULL, id);
}

bool wr_uidset_name_taken(wr_uidset *s, const char *name) {
    return ns_has(&s->names, name) || (s->ask_nss && nss_has(name, 0));
}

void wr_uidset_note_added(wr_uidset *s, uid_t id, const char *name) {
    if (!s) return;
    mark_id(s, P_USER, id);
    mark_id(s, P_GROUP, id);
    mark_id(s, P_PRIMARY, id);
    if (ns_add(&s->names, name) < 0) s->stale = true;
    take_fingerprints(s->etc_dir, s->fp);
}

void wr_uidset_note_removed(wr_uidset *s, uid_t id, const char *name) {
    if (!s) return;
    if (in_range(s, id) && !bit(plane(s, P_SHARED), id - s->min)) {
        clear_bit(plane(s, P_USER), id - s->min);
        clear_bit(plane(s, P_GROUP), id - s->min);
        clear_bit(plane(s, P_PRIMARY), id - s->min);
    }
    ns_del(&s->names, name);
    take_fingerprints(s->etc_dir, s->fp);
}
