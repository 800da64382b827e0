/* gctrace.c - formats Go 1.19's GODEBUG=gctrace=1 line from one cycle's
 * record (see gctrace.h for the layout, the record and the strict regular
 * expression; ../shared/spec/go-formats.md 1.2-1.4 for the rules).
 *
 * Go builds the line with several print calls under the print lock; we
 * build it in a stack buffer so the collector can write it to fd 2 in one
 * write(2), which keeps it whole among other threads' output. No malloc,
 * no locale, no printf: every number goes through the helpers below.
 */
#include "gctrace.h"

#include <string.h>

/* A bounded appender over a stack buffer; the line never exceeds
 * GCRT_GCTRACE_LINE_MAX, checked in gcrt__gctrace_format. */
struct line {
    char b[GCRT_GCTRACE_LINE_MAX];
    size_t n;
};

static void put_str(struct line *l, const char *s) {
    size_t k = strlen(s);
    if (l->n + k > sizeof l->b) k = sizeof l->b - l->n;
    memcpy(l->b + l->n, s, k);
    l->n += k;
}

static void put_u64(struct line *l, uint64_t v) {
    char tmp[24];
    gcrt__gctrace_itoa_div(tmp, v, 0);
    put_str(l, tmp);
}

static void put_i64(struct line *l, int64_t v) {
    if (v < 0) {
        put_str(l, "-");
        put_u64(l, 0 - (uint64_t)v);
        return;
    }
    put_u64(l, (uint64_t)v);
}

static void put_ms(struct line *l, int64_t ns) {
    char tmp[24];
    /* Go passes uint64(ns): a negative duration would print as huge. */
    gcrt__gctrace_fmt_ns_as_ms(tmp, (uint64_t)ns);
    put_str(l, tmp);
}

size_t gcrt__gctrace_itoa_div(char *buf, uint64_t val, int dec) {
    /* Digits from the right; the point after dec of them; keep going with
     * zeros until there is a digit left of the point. */
    char tmp[24];
    size_t i = sizeof tmp;
    int digits = 0;
    do {
        if (dec > 0 && digits == dec) tmp[--i] = '.';
        tmp[--i] = (char)('0' + val % 10);
        val /= 10;
        digits++;
    } while (val != 0 || digits <= dec);
    size_t n = sizeof tmp - i;
    memcpy(buf, tmp + i, n);
    buf[n] = 0;
    return n;
}

size_t gcrt__gctrace_fmt_ns_as_ms(char *buf, uint64_t ns) {
    if (ns >= 10000000) return gcrt__gctrace_itoa_div(buf, ns / 1000000, 0); /* whole ms */
    uint64_t us = ns / 1000;
    if (us == 0) {
        buf[0] = '0';
        buf[1] = 0;
        return 1;
    }
    /* Two significant digits, at most three decimals. */
    int dec = 3;
    while (us >= 100) {
        us /= 10;
        dec--;
    }
    return gcrt__gctrace_itoa_div(buf, us, dec);
}

/* int(f) as Go on amd64; only NaN or absurd fractions reach the edges. */
static int64_t go_int(double f) {
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) return INT64_MIN;
    return (int64_t)f;
}

size_t gcrt__gctrace_format(char *buf, size_t cap, const struct gcrt_gctrace_cycle *c) {
    struct line l = {.n = 0};
    char tmp[24];

    put_str(&l, "gc ");
    put_u64(&l, c->num);
    put_str(&l, " @");
    gcrt__gctrace_itoa_div(tmp, (uint64_t)c->start_ns / 1000000, 3);
    put_str(&l, tmp);
    put_str(&l, "s ");
    put_i64(&l, go_int(c->gc_cpu_fraction * 100));
    put_str(&l, "%: ");

    put_ms(&l, c->sweep_term_ns);
    put_str(&l, "+");
    put_ms(&l, c->mark_ns);
    put_str(&l, "+");
    put_ms(&l, c->mark_term_ns);
    put_str(&l, " ms clock, ");

    put_ms(&l, (int64_t)c->stwprocs * c->sweep_term_ns);
    put_str(&l, "+");
    put_ms(&l, c->assist_cpu_ns);
    put_str(&l, "/");
    put_ms(&l, c->background_cpu_ns);
    put_str(&l, "/");
    put_ms(&l, c->idle_cpu_ns);
    put_str(&l, "+");
    put_ms(&l, (int64_t)c->stwprocs * c->mark_term_ns);
    put_str(&l, " ms cpu, ");

    put_u64(&l, c->heap_trigger_bytes >> 20);
    put_str(&l, "->");
    put_u64(&l, c->heap_mark_end_bytes >> 20);
    put_str(&l, "->");
    put_u64(&l, c->heap_marked_bytes >> 20);
    put_str(&l, " MB, ");
    put_u64(&l, c->heap_goal_bytes >> 20);
    put_str(&l, " MB goal, ");
    put_u64(&l, c->stacks_bytes >> 20);
    put_str(&l, " MB stacks, ");
    put_u64(&l, c->globals_bytes >> 20);
    put_str(&l, " MB globals, ");
    put_i64(&l, c->procs);
    put_str(&l, " P");
    if (c->forced) put_str(&l, " (forced)");
    put_str(&l, "\n");

    if (cap > 0) {
        size_t k = l.n < cap - 1 ? l.n : cap - 1;
        memcpy(buf, l.b, k);
        buf[k] = 0;
    }
    return l.n;
}
