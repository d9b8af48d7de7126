/* Per-client request rates: a token bucket per client address, in a fixed
 * table so memory stays bounded whatever the number of clients. Two clients
 * hashing to one slot share a bucket, which errs towards limiting. */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

typedef struct bucket {
    uint64_t key;
    double tokens, last;
} bucket;

struct ratelimit {
    double rate, burst;
    size_t n;
    bucket *b;
};

ratelimit *ratelimit_new(double rate, double burst, size_t slots) {
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    rl->b = calloc(slots, sizeof *rl->b);
    if (!rl->b) {
        free(rl);
        return NULL;
    }
    rl->rate = rate;
    rl->burst = burst;
    rl->n = slots;
    return rl;
}

void ratelimit_free(ratelimit *rl) {
    if (!rl) return;
    free(rl->b);
    free(rl);
}

static uint64_t fnv1a(const void *p, size_t n) {
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h | 1; /* 0 marks an empty slot */
}

bool ratelimit_take(ratelimit *rl, const void *key, size_t keylen, double now) {
    if (!rl || rl->rate <= 0) return true;
    uint64_t k = fnv1a(key, keylen);
    bucket *b = &rl->b[k % rl->n];
    if (b->key != k) {
        b->key = k;
        b->tokens = rl->burst;
        b->last = now;
    }
    b->tokens += (now - b->last) * rl->rate;
    if (b->tokens > rl->burst) b->tokens = rl->burst;
    b->last = now;
    if (b->tokens < 1) return false;
    b->tokens -= 1;
    return true;
}
