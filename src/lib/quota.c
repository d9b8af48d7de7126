/* Per-tenant quotas (see quota.h): parsing, the registry rows, and applying
 * them to the parts of the host that enforce them.
 *
 * Order of a change: the new values are applied first (cgroup, then storage),
 * and written to the registry only once the kernel took them, so a value the
 * kernel refuses leaves the registry as it was; the cgroup then gets the old
 * values back. The network rate is applied last, by the network part, which
 * keeps its own row (it takes the host lock itself, so it is called after
 * ours is released). */
#include "quota.h"

#include <inttypes.h>
#include <stdio.h>
#include <strings.h>
#include <sys/resource.h>

#include "audit.h"
#include "cgroup.h"
#include "util.h"
#include "warren-internal.h"
/* The network and storage parts apply their quotas themselves. */
#include "net.h"
#include "storage.h"

void wr_quota_init(wr_quota *q) {
    *q = (wr_quota){WR_QUOTA_UNSET, WR_QUOTA_UNSET, WR_QUOTA_UNSET,
                    WR_QUOTA_UNSET, WR_QUOTA_UNSET, WR_QUOTA_UNSET,
                    WR_QUOTA_UNSET, WR_QUOTA_UNSET, WR_QUOTA_UNSET};
}

/* The fields in the registry's order (store.h). */
static int64_t *field(wr_quota *q, int i) {
    int64_t *f[WR_STORE_QUOTA_FIELDS] = {&q->memory,  &q->cpu_milli, &q->cpu_weight,
                                         &q->pids,    &q->nofile,    &q->storage,
                                         &q->inodes,  &q->net_egress, &q->net_ingress};
    return f[i];
}
static const char *const field_names[WR_STORE_QUOTA_FIELDS] = {
    "memory", "cpu", "cpu_weight", "pids", "nofile", "storage", "inodes", "net_egress", "net_ingress"};

/* --- parsing -------------------------------------------------------------------- */

/* "max"/"unlimited" and "default": the words every field takes. */
static bool word(const char *s, int64_t *ret) {
    if (!strcasecmp(s, "max") || !strcasecmp(s, "unlimited") || !strcasecmp(s, "none")) {
        *ret = WR_QUOTA_MAX;
        return true;
    }
    if (!strcasecmp(s, "default")) {
        *ret = WR_QUOTA_CLEAR;
        return true;
    }
    return false;
}

/* A non-negative decimal number with at most `decimals` fractional digits;
 * *end is what follows. Values above ~9.2e18 are refused. */
static bool number(const char *s, long double *ret, const char **end) {
    const char *p = s;
    if (*p < '0' || *p > '9') return false;
    long double v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return false;
        long double scale = 0.1L;
        while (*p >= '0' && *p <= '9') {
            v += (*p++ - '0') * scale;
            scale /= 10;
        }
    }
    *ret = v;
    *end = p;
    return v < 9.2e18L;
}

int wr_quota_parse_size(const char *what, const char *s, int64_t *ret, wr_err *e) {
    if (!s || !*s) return wr_invalid(e, "%s '': empty value (expected a size such as 512M)", what);
    if (word(s, ret)) return 0;
    long double v;
    const char *u;
    if (!number(s, &v, &u))
        return wr_invalid(e, "%s '%s': expected a size such as 512M, 1.5G or 1048576", what, s);
    static const struct {
        const char *suffix;
        long double mult;
    } units[] = {{"", 1},     {"b", 1},          {"k", 1024},    {"kb", 1024},
                 {"kib", 1024}, {"m", 1048576},  {"mb", 1048576}, {"mib", 1048576},
                 {"g", 1073741824.0L}, {"gb", 1073741824.0L}, {"gib", 1073741824.0L},
                 {"t", 1099511627776.0L}, {"tb", 1099511627776.0L}, {"tib", 1099511627776.0L}};
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (!strcasecmp(u, units[i].suffix)) {
            long double b = v * units[i].mult;
            if (b >= 9.2e18L) return wr_invalid(e, "%s '%s': too large", what, s);
            if (b < 1) return wr_invalid(e, "%s '%s': must be at least 1 byte", what, s);
            *ret = (int64_t)b;
            return 0;
        }
    return wr_invalid(e, "%s '%s': unknown unit '%s' (use K, M, G or T)", what, s, u);
}

int wr_quota_parse_rate(const char *what, const char *s, int64_t *ret, wr_err *e) {
    if (!s || !*s) return wr_invalid(e, "%s '': empty value (expected a rate such as 10mbit)", what);
    if (word(s, ret)) return 0;
    long double v;
    const char *u;
    if (!number(s, &v, &u))
        return wr_invalid(e, "%s '%s': expected a rate such as 10mbit, 500kbit or 1gbit", what,
                          s);
    static const struct {
        const char *suffix;
        long double mult;
    } units[] = {{"", 1},         {"bit", 1},          {"kbit", 1e3L},
                 {"mbit", 1e6L}, {"gbit", 1e9L},      {"tbit", 1e12L}};
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (!strcasecmp(u, units[i].suffix)) {
            long double b = v * units[i].mult;
            if (b >= 9.2e18L) return wr_invalid(e, "%s '%s': too large", what, s);
            if (b < 8) return wr_invalid(e, "%s '%s': must be at least 8 bit/s", what, s);
            *ret = (int64_t)b;
            return 0;
        }
    return wr_invalid(e,
                      "%s '%s': unknown unit '%s' (use bit, kbit, mbit or gbit: bits per "
                      "second; byte units are not accepted)",
                      what, s, u);
}

int wr_quota_parse_cpu(const char *what, const char *s, int64_t *ret_milli, wr_err *e) {
    if (!s || !*s) return wr_invalid(e, "%s '': empty value (expected cores, e.g. 0.5)", what);
    if (word(s, ret_milli)) return 0;
    long double v;
    const char *u;
    if (!number(s, &v, &u) || (*u && strcmp(u, "%")))
        return wr_invalid(e, "%s '%s': expected cores such as 0.5 or 2, or a percentage of one "
                          "core such as 50%%",
                          what, s);
    long double milli = *u ? v * 10 : v * 1000;
    /* The range first: casting a value no int64_t holds is undefined. */
    if (milli > 1024 * 1000)
        return wr_invalid(e, "%s '%s': more than 1024 cores", what, s);
    if (!(milli >= 0))
        return wr_invalid(e, "%s '%s': must be at least 0.001 cores", what, s);
    long double rounded = (long double)(int64_t)(milli + 0.5L), diff = milli - rounded;
    if (rounded < 1 || diff > 1e-6L || diff < -1e-6L)
        return wr_invalid(e, "%s '%s': must be a multiple of 0.001 cores, at least 0.001", what,
                          s);
    *ret_milli = (int64_t)rounded;
    return 0;
}

int wr_quota_parse_count(const char *what, const char *s, int64_t min, int64_t max, int64_t *ret,
                         wr_err *e) {
    if (!s || !*s) return wr_invalid(e, "%s '': empty value (expected a number)", what);
    if (word(s, ret)) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno)
        return wr_invalid(e, "%s '%s': expected a whole number", what, s);
    if (v < min || v > max)
        return wr_invalid(e, "%s '%s': must be between %lld and %lld", what, s, (long long)min,
                          (long long)max);
    *ret = v;
    return 0;
}

static int parse_option(wr_quota *q, const char *name, const char *value, wr_err *e);

/* Parses into a copy: a refused value leaves *q as it was. */
int wr_quota_parse_option(wr_quota *q, const char *name, const char *value, wr_err *e) {
    wr_quota copy = *q;
    int r = parse_option(&copy, name, value, e);
    if (r >= 0) *q = copy;
    return r;
}

static int parse_option(wr_quota *q, const char *name, const char *value, wr_err *e) {
    char what[48];
    snprintf(what, sizeof what, "--%s", name);
    int r;
    if (streq(name, "memory")) {
        if ((r = wr_quota_parse_size(what, value, &q->memory, e)) < 0) return r;
        /* Below this a run cannot even start its program. */
        if (wr_quota_limited(q->memory) && q->memory < (4 << 20))
            return wr_invalid(e, "%s '%s': at least 4M", what, value);
        return 0;
    }
    if (streq(name, "cpu")) return wr_quota_parse_cpu(what, value, &q->cpu_milli, e);
    if (streq(name, "cpu-weight"))
        return wr_quota_parse_count(what, value, 1, 10000, &q->cpu_weight, e);
    if (streq(name, "pids")) return wr_quota_parse_count(what, value, 1, 4194304, &q->pids, e);
    if (streq(name, "nofile")) return wr_quota_parse_count(what, value, 16, 1048576, &q->nofile, e);
    if (streq(name, "storage")) return wr_quota_parse_size(what, value, &q->storage, e);
    if (streq(name, "inodes"))
        return wr_quota_parse_count(what, value, 1, INT64_MAX - 1, &q->inodes, e);
    if (streq(name, "net-egress")) return wr_quota_parse_rate(what, value, &q->net_egress, e);
    if (streq(name, "net-ingress")) return wr_quota_parse_rate(what, value, &q->net_ingress, e);
    if (streq(name, "net-rate")) {
        if ((r = wr_quota_parse_rate(what, value, &q->net_egress, e)) < 0) return r;
        q->net_ingress = q->net_egress;
        return 0;
    }
    return wr_invalid(e, "unknown quota '%s' (memory, cpu, cpu-weight, pids, nofile, storage, "
                      "inodes, net-rate, net-egress, net-ingress)",
                      name);
}

/* --- formatting ----------------------------------------------------------------- */

void wr_quota_format_size(int64_t v, char *buf, size_t n) {
    static const char units[] = "KMGT";
    if (v == WR_QUOTA_MAX) {
        snprintf(buf, n, "max");
        return;
    }
    if (v < 0) {
        snprintf(buf, n, "-");
        return;
    }
    int u = -1;
    int64_t x = v;
    while (u < 3 && x >= 1024 && x % 1024 == 0) {
        x /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, n, "%" PRId64, v);
    else
        snprintf(buf, n, "%" PRId64 "%c", x, units[u]);
}

void wr_quota_format_rate(int64_t v, char *buf, size_t n) {
    static const char *const units[] = {"bit", "kbit", "mbit", "gbit"};
    if (v == WR_QUOTA_MAX || v < 0) {
        snprintf(buf, n, v < 0 ? "-" : "max");
        return;
    }
    int u = 0;
    int64_t x = v;
    while (u < 3 && x >= 1000 && x % 1000 == 0) {
        x /= 1000;
        u++;
    }
    snprintf(buf, n, "%" PRId64 "%s", x, units[u]);
}

void wr_quota_format_cpu(int64_t milli, char *buf, size_t n) {
    if (milli == WR_QUOTA_MAX || milli < 0) {
        snprintf(buf, n, milli < 0 ? "-" : "max");
        return;
    }
    snprintf(buf, n, "%" PRId64 ".%03" PRId64, milli / 1000, milli % 1000);
    /* 0.500 -> 0.5, 2.000 -> 2 */
    char *dot = strchr(buf, '.');
    char *end = buf + strlen(buf);
    while (end > dot + 1 && end[-1] == '0')
        *--end = '\0';
    if (end == dot + 1) *dot = '\0';
}

/* --- the registry ----------------------------------------------------------------- */

static int load(warren *w, const char *key, wr_quota *q, wr_err *e) {
    int64_t v[WR_STORE_QUOTA_FIELDS];
    int r = wr_store_get_quota(w->store, key, v, e);
    if (r < 0) return r;
    for (int i = 0; i < WR_STORE_QUOTA_FIELDS; i++)
        *field(q, i) = v[i];
    return 0;
}

static int save(warren *w, const char *key, wr_quota *q, wr_err *e) {
    int64_t v[WR_STORE_QUOTA_FIELDS];
    for (int i = 0; i < WR_STORE_QUOTA_FIELDS; i++)
        v[i] = *field(q, i);
    return wr_store_put_quota(w->store, key, v, e);
}

#define DEFAULTS_KEY ""

int wr_quota_get(warren *w, const char *saas_user_id, wr_quota *ret, wr_err *e) {
    wr_tenant t;
    int r = wr_tenant_get(w, saas_user_id, &t, e);
    if (r < 0) return r;
    return load(w, t.saas_user_id, ret, e);
}

int wr_quota_defaults(warren *w, wr_quota *ret, wr_err *e) {
    return load(w, DEFAULTS_KEY, ret, e);
}

static void merge(wr_quota *own, const wr_quota *defaults) {
    wr_quota d = *defaults;
    for (int i = 0; i < WR_STORE_QUOTA_FIELDS; i++)
        if (*field(own, i) == WR_QUOTA_UNSET) *field(own, i) = *field(&d, i);
}

int wr_quota_effective(warren *w, const char *saas_user_id, wr_quota *ret, wr_err *e) {
    wr_quota own, d;
    int r;
    if ((r = wr_quota_get(w, saas_user_id, &own, e)) < 0 || (r = wr_quota_defaults(w, &d, e)) < 0)
        return r;
    merge(&own, &d);
    *ret = own;
    return 0;
}

/* The change applied to `q`: set fields replace, CLEAR unsets. */
static bool apply_change(wr_quota *q, const wr_quota *change) {
    wr_quota c = *change;
    bool changed = false;
    for (int i = 0; i < WR_STORE_QUOTA_FIELDS; i++) {
        int64_t v = *field(&c, i);
        if (v == WR_QUOTA_UNSET) continue;
        int64_t nv = v == WR_QUOTA_CLEAR ? WR_QUOTA_UNSET : v;
        if (*field(q, i) != nv) changed = true;
        *field(q, i) = nv;
    }
    return changed;
}

/* --- applying ---------------------------------------------------------------------- */

int wr_quota_apply_cgroup(warren *w, const wr_tenant *t, const wr_quota *q, wr_err *e) {
    int r = wr_ensure_cgroups(w, e);
    if (r < 0) return r;
    wr_supervisor_recheck(w); /* the tenant's placement may move */
    return wr_cgroup_tenant_limit(w->cgroups, t->linux_username, q, true, e);
}

int wr_quota_of(warren *w, const wr_tenant *t, wr_quota *ret, wr_err *e) {
    wr_quota own, d;
    int r;
    if ((r = load(w, t->saas_user_id, &own, e)) < 0 || (r = load(w, DEFAULTS_KEY, &d, e)) < 0)
        return r;
    merge(&own, &d);
    *ret = own;
    return 0;
}

int wr_quota_run_prepare(warren *w, const wr_tenant *t, wr_quota *ret, wr_err *e) {
    wr_quota q;
    int r = wr_quota_of(w, t, &q, e);
    if (r < 0) return r;
    /* Limits are written when the tenant's group is made, and by every
     * change after: a run only checks the group is there (cgroup.c keeps
     * it open, so that is one system call). */
    if ((r = wr_cgroup_tenant_limit(w->cgroups, t->linux_username, &q, false, e)) < 0) return r;
    *ret = q;
    return 0;
}

static int apply_storage(warren *w, const wr_tenant *t, const wr_quota *q, wr_err *e) {
    return wr_storage_set_quota(w, t, q->storage, q->inodes, e);
}

static int apply_net(warren *w, const wr_tenant *t, const wr_quota *q, wr_err *e) {
    /* 0 is the network part's "unlimited". */
    return wr_net_set_rate(w, t, wr_quota_limited(q->net_egress) ? (uint64_t)q->net_egress : 0,
                           wr_quota_limited(q->net_ingress) ? (uint64_t)q->net_ingress : 0, e);
}

static bool differs(const wr_quota *a, const wr_quota *b, int from, int to) {
    wr_quota x = *a, y = *b;
    for (int i = from; i <= to; i++)
        if (*field(&x, i) != *field(&y, i)) return true;
    return false;
}

/* The audit detail: the changed fields, old and new effective values. */
static void audit_change(warren *w, const char *tenant, const wr_quota *before,
                         const wr_quota *after) {
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{");
    wr_quota b = *before, a = *after;
    bool first = true;
    for (int i = 0; i < WR_STORE_QUOTA_FIELDS && n < sizeof buf - 100; i++) {
        if (*field(&b, i) == *field(&a, i)) continue;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\":{\"from\":%" PRId64
                              ",\"to\":%" PRId64 "}",
                              first ? "" : ",", field_names[i],
                              *field(&b, i) == WR_QUOTA_MAX ? -1 : *field(&b, i) < 0 ? 0 : *field(&b, i),
                              *field(&a, i) == WR_QUOTA_MAX ? -1 : *field(&a, i) < 0 ? 0 : *field(&a, i));
        first = false;
    }
    snprintf(buf + n, sizeof buf - n, "}");
    wr_audit_note(w, "quota_changed", tenant, buf);
}

/* Applies eff (new) to a tenant, restoring old where a later step fails. */
static int apply_all(warren *w, const wr_tenant *t, const wr_quota *old, const wr_quota *eff,
                     wr_err *e) {
    int r = wr_quota_apply_cgroup(w, t, eff, e);
    if (r < 0) {
        (void)wr_quota_apply_cgroup(w, t, old, NULL);
        return r;
    }
    /* storage, inodes: fields 5 and 6 */
    if (differs(old, eff, 5, 6) && (r = apply_storage(w, t, eff, e)) < 0) {
        (void)wr_quota_apply_cgroup(w, t, old, NULL);
        return r;
    }
    return 0;
}

int wr_quota_set(warren *w, const char *saas_user_id, const wr_quota *change, wr_quota *ret,
                 wr_err *e) {
    wr_tenant t;
    int r = wr_tenant_get(w, saas_user_id, &t, e);
    if (r < 0) return r;
    if ((r = wr_lock_mutations(w, e)) < 0) return r;
    wr_quota own, d, old, eff;
    if ((r = load(w, t.saas_user_id, &own, e)) < 0 || (r = load(w, DEFAULTS_KEY, &d, e)) < 0)
        goto out;
    old = own;
    merge(&old, &d);
    apply_change(&own, change);
    eff = own;
    merge(&eff, &d);
    if ((r = apply_all(w, &t, &old, &eff, e)) < 0) goto out;
    if ((r = save(w, t.saas_user_id, &own, e)) < 0) {
        (void)wr_quota_apply_cgroup(w, &t, &old, NULL);
        goto out;
    }
out:
    wr_unlock_mutations(w);
    if (r < 0) return r;
    /* fields 7, 8: the network part keeps its own row and lock. */
    if (differs(&old, &eff, 7, 8) && (r = apply_net(w, &t, &eff, e)) < 0) return r;
    if (differs(&old, &eff, 0, WR_STORE_QUOTA_FIELDS - 1))
        audit_change(w, t.saas_user_id, &old, &eff);
    if (ret) *ret = eff;
    return 0;
}

int wr_quota_set_defaults(warren *w, const wr_quota *change, wr_quota *ret, wr_err *e) {
    int r = wr_lock_mutations(w, e);
    if (r < 0) return r;
    wr_quota d, old_d;
    wr_tenant *ts = NULL;
    size_t n = 0, done = 0;
    if ((r = load(w, DEFAULTS_KEY, &d, e)) < 0) goto out;
    old_d = d;
    apply_change(&d, change);
    if ((r = wr_tenant_list(w, &ts, &n, e)) < 0) goto out;
    /* Every tenant without a value of its own for a changed field follows
     * the default now; if one refuses, those done so far go back. */
    for (; done < n; done++) {
        wr_quota own, old, eff;
        if ((r = load(w, ts[done].saas_user_id, &own, e)) < 0) break;
        old = eff = own;
        merge(&old, &old_d);
        merge(&eff, &d);
        if (!differs(&old, &eff, 0, 6)) continue;
        if ((r = apply_all(w, &ts[done], &old, &eff, e)) < 0) break;
    }
    if (r >= 0) r = save(w, DEFAULTS_KEY, &d, e);
    if (r < 0) {
        for (size_t i = 0; i < done; i++) {
            wr_quota own;
            if (load(w, ts[i].saas_user_id, &own, NULL) < 0) continue;
            merge(&own, &old_d);
            (void)wr_quota_apply_cgroup(w, &ts[i], &own, NULL);
        }
    }
out:
    wr_unlock_mutations(w);
    if (r >= 0 && differs(&old_d, &d, 7, 8))
        for (size_t i = 0; i < n && r >= 0; i++) {
            wr_quota own;
            if ((r = load(w, ts[i].saas_user_id, &own, e)) < 0) break;
            merge(&own, &d);
            r = apply_net(w, &ts[i], &own, e);
        }
    free(ts);
    if (r < 0) return r;
    if (differs(&old_d, &d, 0, WR_STORE_QUOTA_FIELDS - 1)) audit_change(w, NULL, &old_d, &d);
    if (ret) *ret = d;
    return 0;
}
