/* Addresses, ranges, modes and rates as users write them (net-internal.h, net.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net-internal.h"
#include "util.h"

int wr_cidr_parse(const char *s, const char *what, wr_cidr *ret, wr_err *e) {
    char buf[32];
    if (!s || strscpy(buf, sizeof buf, s) < 0 || !*buf)
        return wr_invalid(e, "%s '%.64s': expected an IPv4 network like 10.210.0.0/16", what,
                          s ? s : "");
    unsigned len = 32;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        char *end;
        errno = 0;
        unsigned long l = strtoul(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || !isdigit((unsigned char)slash[1]) || l > 32)
            return wr_invalid(e, "%s '%s': the prefix length must be 0 to 32", what, s);
        len = (unsigned)l;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1)
        return wr_invalid(e, "%s '%s': not an IPv4 address", what, s);
    uint32_t addr = ntohl(a.s_addr);
    uint32_t mask = len ? ~0u << (32 - len) : 0;
    if (addr & ~mask)
        return wr_invalid(e, "%s '%s': host bits set (a /%u starts at a multiple of its size)",
                          what, s, len);
    ret->addr = addr;
    ret->len = len;
    return 0;
}

void wr_ipv4_format(uint32_t addr, char buf[16]) {
    snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
             addr & 0xff);
}

bool wr_cidr_contains(const wr_cidr *c, uint32_t addr) {
    uint32_t mask = c->len ? ~0u << (32 - c->len) : 0;
    return (addr & mask) == c->addr;
}

static bool private_block(const wr_cidr *c) {
    static const wr_cidr priv[] = {
        {0x0a000000u, 8},  /* 10.0.0.0/8 */
        {0xac100000u, 12}, /* 172.16.0.0/12 */
        {0xc0a80000u, 16}, /* 192.168.0.0/16 */
        {0x64400000u, 10}, /* 100.64.0.0/10, shared address space */
    };
    for (size_t i = 0; i < ELEMENTSOF(priv); i++)
        if (c->len >= priv[i].len && wr_cidr_contains(&priv[i], c->addr)) return true;
    return false;
}

int wr_net_range(wr_cidr *ret, wr_err *e) {
    const char *v = getenv("WARREN_NET_RANGE");
    if (!v || !*v) v = WR_NET_RANGE_DEFAULT;
    wr_cidr c;
    int r = wr_cidr_parse(v, "WARREN_NET_RANGE", &c, e);
    if (r < 0) return r;
    if (c.len < 8 || c.len > 28)
        return wr_invalid(e, "WARREN_NET_RANGE '%s': must be a /8 to a /28", v);
    /* Tenants' addresses are masqueraded and must never be mistaken for
     * hosts out there. */
    if (!private_block(&c))
        return wr_invalid(e,
                          "WARREN_NET_RANGE '%s': must lie in 10.0.0.0/8, 172.16.0.0/12, "
                          "192.168.0.0/16 or 100.64.0.0/10",
                          v);
    *ret = c;
    return 0;
}

int wr_net_extra_deny(wr_cidr **ret, size_t *ret_n, wr_err *e) {
    *ret = NULL;
    *ret_n = 0;
    const char *v = getenv("WARREN_NET_DENY");
    if (!v || !*v) return 0;
    _cleanup_free_ char *copy = strdup(v);
    if (!copy) return wr_sys(e, ENOMEM, "WARREN_NET_DENY");
    size_t cap = 1;
    for (const char *p = v; *p; p++)
        cap += *p == ',';
    _cleanup_free_ wr_cidr *list = calloc(cap, sizeof *list);
    if (!list) return wr_sys(e, ENOMEM, "WARREN_NET_DENY");
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok) continue;
        int r = wr_cidr_parse(tok, "WARREN_NET_DENY entry", &list[n], e);
        if (r < 0) return r;
        n++;
    }
    *ret = n ? TAKE_PTR(list) : NULL;
    *ret_n = n;
    return 0;
}

int wr_net_max_conns(unsigned *ret, wr_err *e) {
    const char *v = getenv("WARREN_NET_MAX_CONNS");
    if (!v || !*v) {
        *ret = WR_NET_MAX_CONNS_DEFAULT;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || !isdigit((unsigned char)v[0]) || n > 1000000)
        return wr_invalid(e, "WARREN_NET_MAX_CONNS '%.64s': expected 0 (no cap) to 1000000", v);
    *ret = (unsigned)n;
    return 0;
}

const char *wr_net_mode_name(wr_net_mode m) {
    return m == WR_NET_NAT ? "nat" : "none";
}

int wr_net_mode_parse(const char *s, wr_net_mode *ret, wr_err *e) {
    if (s && streq(s, "none"))
        *ret = WR_NET_NONE;
    else if (s && streq(s, "nat"))
        *ret = WR_NET_NAT;
    else
        return wr_invalid(e, "network mode '%.64s': expected 'none' or 'nat'", s ? s : "");
    return 0;
}

int wr_net_parse_rate(const char *s, uint64_t *ret_bps, wr_err *e) {
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {
        {"", 1}, {"bit", 1}, {"kbit", 1000}, {"mbit", 1000000}, {"gbit", 1000000000},
    };
    if (!s || !*s) return wr_invalid(e, "rate '': expected e.g. 10mbit, 500kbit or unlimited");
    if (streq(s, "unlimited")) {
        *ret_bps = 0;
        return 0;
    }
    if (!isdigit((unsigned char)s[0]))
        return wr_invalid(e, "rate '%.64s': expected e.g. 10mbit, 500kbit or unlimited", s);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !(v >= 0)) return wr_invalid(e, "rate '%.64s': not a number", s);
    for (size_t i = 0; i < ELEMENTSOF(units); i++) {
        if (strcasecmp(end, units[i].unit) != 0) continue;
        double bps = v * (double)units[i].mul;
        /* The token bucket takes bytes/s in 32 bits: 17 gbit and a bit. */
        if (bps > 16e9) return wr_invalid(e, "rate '%.64s': at most 16gbit", s);
        if (bps != 0 && bps < 8) return wr_invalid(e, "rate '%.64s': at least 8bit", s);
        *ret_bps = (uint64_t)(bps + 0.5);
        return 0;
    }
    return wr_invalid(e,
                      "rate '%.64s': unknown unit '%s' (use bit, kbit, mbit or gbit: bits per "
                      "second)",
                      s, end);
}

void wr_net_format_rate(uint64_t bps, char *buf, size_t n) {
    if (bps == 0)
        snprintf(buf, n, "unlimited");
    else if (bps % 1000000000 == 0)
        snprintf(buf, n, "%" PRIu64 "gbit", bps / 1000000000);
    else if (bps % 1000000 == 0)
        snprintf(buf, n, "%" PRIu64 "mbit", bps / 1000000);
    else if (bps % 1000 == 0)
        snprintf(buf, n, "%" PRIu64 "kbit", bps / 1000);
    else
        snprintf(buf, n, "%" PRIu64 "bit", bps);
}
