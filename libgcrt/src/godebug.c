/* godebug.c - GODEBUG parsing (see godebug.h). */
#include "godebug.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

struct gcrt_debug_vars gcrt__debug = {
    .madvdontneed = 1,
    .memprofilerate = -1,
    .invalidptr = 1,
};

static const struct {
    const char *name;
    size_t off;
} vars[] = {
    {"gctrace", offsetof(struct gcrt_debug_vars, gctrace)},
    {"gcstoptheworld", offsetof(struct gcrt_debug_vars, gcstoptheworld)},
    {"gccheckmark", offsetof(struct gcrt_debug_vars, gccheckmark)},
    {"madvdontneed", offsetof(struct gcrt_debug_vars, madvdontneed)},
    {"scavtrace", offsetof(struct gcrt_debug_vars, scavtrace)},
    {"memprofilerate", offsetof(struct gcrt_debug_vars, memprofilerate)},
    {"invalidptr", offsetof(struct gcrt_debug_vars, invalidptr)},
    {"asyncpreemptoff", offsetof(struct gcrt_debug_vars, asyncpreemptoff)},
    {"gcpausetrace", offsetof(struct gcrt_debug_vars, gcpausetrace)},
};

int gcrt__go_atoi32(const char *s, size_t n, int32_t *out) {
    if (n == 0) return 0;
    int neg = 0;
    if (s[0] == '-') { /* a lone "-" is 0, as Go's atoi64 reads it */
        neg = 1;
        s++;
        n--;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)INT32_MAX + neg) return 0;
    }
    *out = (int32_t)(neg ? -v : v);
    return 1;
}

int gcrt__godebug_parse(struct gcrt_debug_vars *d, const char *s, struct gcrt_godebug_bad *bad) {
    if (bad) *bad = (struct gcrt_godebug_bad){0, NULL, 0};
    d->gctrace = 0;
    d->gcstoptheworld = 0;
    d->gccheckmark = 0;
    d->madvdontneed = 1;
    d->scavtrace = 0;
    d->memprofilerate = -1;
    d->invalidptr = 1;
    d->asyncpreemptoff = 0;
    d->gcpausetrace = 0;
    if (!s) return 0;
    int unknown = 0;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        size_t nlen = eq ? (size_t)(eq - s) : len;
        int known = 0, ok = 0;
        for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
            if (strlen(vars[i].name) == nlen && memcmp(vars[i].name, s, nlen) == 0) {
                int32_t v;
                if (eq && gcrt__go_atoi32(eq + 1, len - nlen - 1, &v)) {
                    *(int32_t *)((char *)d + vars[i].off) = v;
                    ok = 1;
                }
                known = 1;
            }
        }
        if (known && !ok && bad && bad->count++ == 0) {
            bad->first = s;
            bad->first_len = len;
        }
        unknown += !known && len > 0;
        if (!end) break;
        s = end + 1;
    }
    return unknown;
}

void gcrt__warn_env(const char *name, const char *value, size_t len, const char *why) {
    char v[68];
    size_t k = len < 64 ? len : 64;
    memcpy(v, value, k);
    if (len > 64) memcpy(v + k, "...", 3), k += 3;
    v[k] = 0;
    gcrt__printf("gcrt: ignoring %s%s: %s\n", name, v, why);
}

void gcrt__godebug_init(void) {
    struct gcrt_godebug_bad bad;
    gcrt__godebug_parse(&gcrt__debug, getenv("GODEBUG"), &bad);
    if (bad.count == 0) return;
    char why[128];
    if (bad.count == 1)
        gcrt__fmt(why, sizeof why, "its value is not a decimal integer (Go ignores it too)");
    else
        gcrt__fmt(
            why, sizeof why,
            "its value is not a decimal integer (Go ignores it too), and %d more such setting%s",
            bad.count - 1, bad.count > 2 ? "s" : "");
    gcrt__warn_env("GODEBUG setting ", bad.first, bad.first_len, why);
}

/* Go's parseByteCount (runtime/string.go), the GOMEMLIMIT syntax. */
int gcrt__parse_byte_count(const char *s, int64_t *out) {
    if (!s || !*s) return -EINVAL;
    size_t n = strlen(s);
    uint64_t unit = 1;
    if (s[n - 1] == 'B') {
        n--;
        if (n >= 2 && s[n - 1] == 'i') {
            switch (s[n - 2]) {
            case 'K':
                unit = 1ull << 10;
                break;
            case 'M':
                unit = 1ull << 20;
                break;
            case 'G':
                unit = 1ull << 30;
                break;
            case 'T':
                unit = 1ull << 40;
                break;
            default:
                return -EINVAL;
            }
            n -= 2;
        }
    }
    if (n == 0) return -EINVAL;
    size_t i = 0;
    int neg = 0;
    if (unit == 1 && !(s[n - 1] >= '0' && s[n - 1] <= '9'))
        return -EINVAL; /* no unit prefix: Go wants a digit last */
    if (s[0] == '-') {  /* Go's atoi64 takes a sign (and a lone "-" as 0); */
        neg = 1;        /* only -0 survives the non-negative check */
        i = 1;
    }
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -EINVAL;
        if (v > (uint64_t)INT64_MAX / 10) return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > (uint64_t)INT64_MAX) return -EINVAL;
    }
    if (neg && v != 0) return -EINVAL;
    if (v != 0 && unit > (uint64_t)INT64_MAX / v) return -EINVAL;
    *out = (int64_t)(v * unit);
    return 0;
}
