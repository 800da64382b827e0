/* fmt_ms.h - gctrace's millisecond figures (Go's fmtNSAsMS: integer above
 * 10 ms, two significant digits below, "0" under a microsecond) parsed
 * back into the range of true values they stand for. */
#ifndef GCRT_TESTS_FMT_MS_H
#define GCRT_TESTS_FMT_MS_H

#include <stddef.h>
#include <stdint.h>

/* fmtNSAsMS text -> [lo, lo + step) in ns. */
struct span_ns {
    uint64_t lo, step;
};

static inline struct span_ns parse_ms(const char *s, size_t n) {
    uint64_t ip = 0, fp = 0;
    int dec = -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            dec = 0;
        } else if (dec < 0) {
            ip = ip * 10 + (uint64_t)(s[i] - '0');
        } else {
            fp = fp * 10 + (uint64_t)(s[i] - '0');
            dec++;
        }
    }
    struct span_ns r;
    if (dec <= 0) {
        r.lo = ip * 1000000;
        r.step = ip == 0 ? 1000 : 1000000; /* "0": under a microsecond */
        return r;
    }
    uint64_t unit = 1000000;
    for (int i = 0; i < dec; i++) unit /= 10;
    r.lo = ip * 1000000 + fp * unit;
    r.step = unit;
    return r;
}

/* true cpu = k * true clock, both truncated: their ranges must meet. */
static inline int consistent_multiple(struct span_ns cpu, struct span_ns clock, uint64_t k) {
    return cpu.lo < k * (clock.lo + clock.step) && k * clock.lo < cpu.lo + cpu.step;
}

#endif
