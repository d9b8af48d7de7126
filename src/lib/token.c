/* API tokens (token.h): random secrets, stored as SHA-256 hashes. */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "audit.h"
#include "store.h"
#include "util.h"
#include "warren-internal.h"

static void hex(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int random_hex(char *out, size_t bytes, wr_err *e) {
    unsigned char buf[64];
    size_t got = 0;
    while (got < bytes) {
        ssize_t k = getrandom(buf + got, bytes - got, 0);
        if (k < 0) {
            if (errno == EINTR) continue;
            return wr_sys(e, errno, "getrandom");
        }
        got += (size_t)k;
    }
    hex(buf, bytes, out);
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

static int sha256_hex(const char *s, char out[65], wr_err *e) {
    unsigned char md[32];
    unsigned int n = 0;
    if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) || n != 32)
        return wr_fail(e, WR_ERR_SYSTEM, EIO, "SHA-256 failed");
    hex(md, 32, out);
    return 0;
}

bool wr_secret_equal(const char *a, const char *b) {
    /* Hash both first: the comparison then runs over 32 bytes whatever the
     * inputs, and CRYPTO_memcmp does not stop at the first difference. */
    unsigned char ha[32], hb[32];
    unsigned int n;
    if (!EVP_Digest(a, strlen(a), ha, &n, EVP_sha256(), NULL) ||
        !EVP_Digest(b, strlen(b), hb, &n, EVP_sha256(), NULL))
        return false;
    return CRYPTO_memcmp(ha, hb, 32) == 0;
}

static bool token_shape_ok(const char *t) {
    if (strlen(t) != WR_TOKEN_LEN) return false;
    for (const char *p = t; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

int wr_token_create(warren *w, const char *id, char *ret_token, char *ret_id, wr_err *e) {
    wr_tenant t;
    int r = wr_tenant_get(w, id, &t, e);
    if (r < 0) return r;
    char token[WR_TOKEN_LEN + 1], tid[WR_TOKEN_ID_LEN + 1], hash[65];
    if ((r = random_hex(token, WR_TOKEN_LEN / 2, e)) < 0 ||
        (r = random_hex(tid, WR_TOKEN_ID_LEN / 2, e)) < 0 || (r = sha256_hex(token, hash, e)) < 0)
        return r;
    if ((r = wr_store_add_token(w->store, hash, tid, id, wr_now(), e)) < 0) return r;
    char detail[64];
    snprintf(detail, sizeof detail, "{\"token_id\":\"%s\"}", tid);
    wr_audit_note(w, "token_created", id, detail);
    memcpy(ret_token, token, sizeof token);
    memcpy(ret_id, tid, sizeof tid);
    OPENSSL_cleanse(token, sizeof token);
    return 0;
}

int wr_token_revoke(warren *w, const char *id, const char *tid, size_t *ret_n, wr_err *e) {
    int r = wr_check_tenant_id(id, e);
    if (r < 0) return r;
    uint64_t n = 0;
    if ((r = wr_store_drop_tokens(w->store, id, tid, &n, e)) < 0) return r;
    if (n == 0)
        return tid ? wr_not_found(e, "token '%s' of tenant '%s' not found", tid, id)
                   : wr_not_found(e, "tenant '%s' has no tokens", id);
    char detail[96];
    snprintf(detail, sizeof detail, "{\"token_id\":%s%s%s,\"revoked\":%llu}", tid ? "\"" : "",
             tid ? tid : "null", tid ? "\"" : "", (unsigned long long)n);
    /* The id is hex (it matched a row), so it needs no escaping. */
    wr_audit_note(w, "token_revoked", id, detail);
    if (ret_n) *ret_n = (size_t)n;
    return 0;
}

void wr_token_hash(const char *token, unsigned char ret[32]) {
    /* The one-shot SHA256() skips the EVP method fetch, which costs more
     * than the hash of a 64-byte token. */
    SHA256((const unsigned char *)token, strlen(token), ret);
}

int wr_token_lookup_hash(warren *w, const unsigned char md[32], char *ret_tenant, wr_err *e) {
    char hash[65], stored[65];
    hex(md, 32, hash);
    int r = wr_store_find_token(w->store, hash, stored, sizeof stored, ret_tenant,
                                WR_TENANT_ID_MAX + 1, e);
    if (r < 0) return r;
    return CRYPTO_memcmp(hash, stored, 64) == 0 ? 0 : -ENOENT;
}

int wr_token_lookup(warren *w, const char *token, char *ret_tenant, wr_err *e) {
    if (!token_shape_ok(token)) return -ENOENT;
    unsigned char md[32];
    wr_token_hash(token, md);
    return wr_token_lookup_hash(w, md, ret_tenant, e);
}

void wr_admin_token_path(const char *state_dir, char *ret, size_t n) {
    const char *env = getenv("WARREN_ADMIN_TOKEN_FILE");
    if (env && *env)
        snprintf(ret, n, "%s", env);
    else
        snprintf(ret, n, "%s/admin.token", state_dir);
}

int wr_admin_token_load(const char *path, char ret[WR_TOKEN_LEN + 1], wr_err *e) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        char token[WR_TOKEN_LEN + 1];
        int r = random_hex(token, WR_TOKEN_LEN / 2, e);
        if (r < 0) return r;
        /* O_EXCL: two daemons starting at once never overwrite each other's. */
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return wr_sys(e, errno, "cannot create admin token file %s", path);
        char line[WR_TOKEN_LEN + 2];
        snprintf(line, sizeof line, "%s\n", token);
        if (write(fd, line, WR_TOKEN_LEN + 1) != WR_TOKEN_LEN + 1 || fsync(fd) < 0) {
            int err = errno ? errno : EIO;
            unlink(path);
            return wr_sys(e, err, "cannot write admin token file %s", path);
        }
        memcpy(ret, token, sizeof token);
        OPENSSL_cleanse(token, sizeof token);
        return 0;
    }
    if (fd < 0) return wr_sys(e, errno, "cannot open admin token file %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) return wr_sys(e, errno, "cannot stat %s", path);
    if (!S_ISREG(st.st_mode)) return wr_unsafe(e, "admin token file %s is not a regular file", path);
    if (st.st_mode & 077)
        return wr_unsafe(e, "admin token file %s is readable by others (mode %03o); make it 0600",
                         path, (unsigned)(st.st_mode & 0777));
    if (st.st_uid != geteuid())
        return wr_unsafe(e, "admin token file %s belongs to uid %u, not to warren", path,
                         (unsigned)st.st_uid);
    char buf[256];
    ssize_t k = read(fd, buf, sizeof buf - 1);
    if (k < 0) return wr_sys(e, errno, "cannot read %s", path);
    buf[k] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) < 32 || strlen(buf) > 128)
        return wr_invalid(e, "admin token file %s: the token must be 32 to 128 characters", path);
    for (const char *p = buf; *p; p++)
        if (*p <= ' ' || *p > '~')
            return wr_invalid(e, "admin token file %s: the token must be printable ASCII", path);
    if (strlen(buf) > WR_TOKEN_LEN) {
        /* Longer tokens are fine to present; keep their hash's worth. */
        return wr_invalid(e, "admin token file %s: at most %d characters", path, WR_TOKEN_LEN);
    }
    memcpy(ret, buf, strlen(buf) + 1);
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}
