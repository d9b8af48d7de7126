/* Validation of the names tenants and platforms hand warren, and the Linux
 * names warren derives from them. Errors say what is wrong and where, since the
 * id itself may be unprintable. */
#include "naming.h"

/* The one-call SHA256() of OpenSSL 3 goes through the provider machinery,
 * and linking that statically costs every start of `warren` the relocation
 * of 340 KB of tables (src/lib/meson.build). The context functions compute
 * the same digest with sha256.o alone; OpenSSL 3 marks them deprecated in
 * favour of EVP, which is the machinery in question. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* Decodes one UTF-8 sequence at s (n bytes left). Returns its length and the
 * code point, or 0 if the sequence is malformed: truncated, overlong, a
 * surrogate, or above U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        c = s[0] & 0x1f;
        min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        c = s[0] & 0x0f;
        min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        c = s[0] & 0x07;
        min = 0x10000;
    } else
        return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

static bool is_control(uint32_t cp) {
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

int wr_check_tenant_id(const char *id, wr_err *e) {
    if (!id || !*id) return wr_invalid(e, "tenant id: must not be empty");
    size_t n = strlen(id);
    if (n > WR_TENANT_ID_MAX)
        return wr_invalid(e, "tenant id: %zu bytes, at most %d allowed", n, WR_TENANT_ID_MAX);
    const unsigned char *s = (const unsigned char *)id;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l) return wr_invalid(e, "tenant id: invalid UTF-8 at byte %zu", i);
        if (is_control(cp))
            return wr_invalid(e, "tenant id: control character U+%04X at byte %zu", cp, i);
        i += l;
    }
    return 0;
}

static bool service_char(char c, bool first) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return !first && (c == '.' || c == '_' || c == '-');
}

int wr_check_service_id(const char *id, wr_err *e) {
    if (!id || !*id) return wr_invalid(e, "service id: must not be empty");
    size_t n = strlen(id);
    if (n > WR_SERVICE_ID_MAX)
        return wr_invalid(e, "service id: %zu bytes, at most %d allowed", n, WR_SERVICE_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        if (service_char(id[i], i == 0)) continue;
        unsigned char c = (unsigned char)id[i];
        if (i == 0 && c >= 0x20 && c < 0x7f)
            return wr_invalid(e, "service id '%.64s': must start with a letter or digit", id);
        if (c >= 0x20 && c < 0x7f)
            return wr_invalid(e,
                              "service id '%.64s': character '%c' not allowed (use A-Z a-z "
                              "0-9 . _ -)",
                              id, c);
        return wr_invalid(e, "service id: byte 0x%02x at %zu not allowed (use A-Z a-z 0-9 . _ -)",
                          c, i);
    }
    return 0;
}

int wr_check_prefix(const char *p, wr_err *e) {
    if (!p || !*p) return wr_invalid(e, "user prefix: must not be empty");
    size_t n = strlen(p);
    if (n > WR_PREFIX_MAX)
        return wr_invalid(e, "user prefix '%.32s': at most %d characters", p, WR_PREFIX_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok =
            (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && ((c >= '0' && c <= '9') || c == '-'));
        if (!ok) return wr_invalid(e, "user prefix '%s': use a-z and _ first, then a-z 0-9 _ -", p);
    }
    return 0;
}

void wr_tenant_hash_hex(const char *id, char out[65]) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, id, strlen(id));
    SHA256_Final(md, &c);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

int wr_username_for(const char *prefix, const char *id, size_t hexlen, char *out) {
    size_t pl = strlen(prefix);
    if (hexlen > 64 || pl + hexlen > WR_USERNAME_MAX) return -ENAMETOOLONG;
    char hex[65];
    wr_tenant_hash_hex(id, hex);
    memcpy(out, prefix, pl);
    memcpy(out + pl, hex, hexlen);
    out[pl + hexlen] = '\0';
    return 0;
}

void wr_gecos_from_tenant_id(const char *id, char out[WR_GECOS_MAX + 1]) {
    const unsigned char *s = (const unsigned char *)id;
    size_t n = strlen(id), o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l) {
            l = 1;
            cp = 0xfffd;
        }
        bool bad = l == 1 && (is_control(cp) || cp == ':' || cp == ',' || cp == '=' || cp == '\\' ||
                              cp == 0xfffd);
        bad = bad || is_control(cp);
        size_t outl = bad ? 1 : l;
        if (o + outl > WR_GECOS_MAX) break; /* never split a character */
        if (bad)
            out[o++] = '_';
        else {
            memcpy(out + o, s + i, l);
            o += l;
        }
        i += l;
    }
    out[o] = '\0';
}
