/* test_gctrace.c - the gctrace line formatter and its strict regex
 * (libgcrt/src/gctrace.c; ../shared/spec/go-formats.md 1.2-1.4).
 *
 * Covered: itoaDiv and fmtNSAsMS on the spec's tables and every shape
 * boundary; hand-chosen inputs that reproduce golden lines byte for byte;
 * every "gc " line of the golden gctrace*.txt files rebuilt from inputs
 * derived from its printed fields (a round trip through the formatter);
 * the regex accepts all golden lines and random formatter output and
 * rejects malformed lines; truncation and the newline.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "gctrace.h"

static void golden_path(char *out, size_t cap, const char *name) {
    const char *src = getenv("GCRT_SOURCE_DIR");
    if (src && *src) {
        snprintf(out, cap, "%s/../shared/reference/go1.19/%s", src, name);
        FILE *f = fopen(out, "rb");
        if (f) {
            fclose(f);
            return;
        }
    }
    snprintf(out, cap, "/work/shared/reference/go1.19/%s", name);
}

static const char *ms(uint64_t ns) {
    static char b[8][24];
    static int k;
    char *s = b[k++ % 8];
    gcrt__gctrace_fmt_ns_as_ms(s, ns);
    return s;
}

static const char *idiv(uint64_t v, int dec) {
    static char b[24];
    gcrt__gctrace_itoa_div(b, v, dec);
    return b;
}

static void test_fmt_ns_as_ms(void) {
    /* The spec's table (1.4). */
    EXPECT_STR_EQ(ms(0), "0");
    EXPECT_STR_EQ(ms(5432), "0.005");
    EXPECT_STR_EQ(ms(50000), "0.050");
    EXPECT_STR_EQ(ms(123456), "0.12");
    EXPECT_STR_EQ(ms(9999999), "9.9");
    EXPECT_STR_EQ(ms(250000000), "250");
    EXPECT_STR_EQ(ms(12345678), "12");
    /* Every boundary between shapes. */
    EXPECT_STR_EQ(ms(999), "0");
    EXPECT_STR_EQ(ms(1000), "0.001");
    EXPECT_STR_EQ(ms(9999), "0.009");
    EXPECT_STR_EQ(ms(10000), "0.010");
    EXPECT_STR_EQ(ms(99999), "0.099");
    EXPECT_STR_EQ(ms(100000), "0.10");
    EXPECT_STR_EQ(ms(999999), "0.99");
    EXPECT_STR_EQ(ms(1000000), "1.0");
    EXPECT_STR_EQ(ms(9999999), "9.9");
    EXPECT_STR_EQ(ms(10000000), "10");
    EXPECT_STR_EQ(ms(18446744073709551615ull), "18446744073709");
}

static void test_itoa_div(void) {
    EXPECT_STR_EQ(idiv(0, 3), "0.000");
    EXPECT_STR_EQ(idiv(5, 3), "0.005");
    EXPECT_STR_EQ(idiv(1234, 3), "1.234");
    EXPECT_STR_EQ(idiv(75123, 3), "75.123");
    EXPECT_STR_EQ(idiv(0, 0), "0");
    EXPECT_STR_EQ(idiv(42, 0), "42");
    EXPECT_STR_EQ(idiv(7, 1), "0.7");
    EXPECT_STR_EQ(idiv(12, 2), "0.12");
    EXPECT_STR_EQ(idiv(18446744073709551615ull, 0), "18446744073709551615");
    EXPECT_STR_EQ(idiv(18446744073709551615ull, 3), "18446744073709551.615");
    EXPECT_EQ(gcrt__gctrace_itoa_div((char[24]){0}, 75123, 3), 6);
}

static const char *fmt(const struct gcrt_gctrace_cycle *c) {
    static char b[GCRT_GCTRACE_LINE_MAX];
    gcrt__gctrace_format(b, sizeof b, c);
    return b;
}

static void test_golden_by_hand(void) {
    /* gctrace.txt gc 1. */
    struct gcrt_gctrace_cycle c = {
        .num = 1,
        .start_ns = 3400000,
        .gc_cpu_fraction = 0.0953,
        .sweep_term_ns = 32100,
        .mark_ns = 1950000,
        .mark_term_ns = 2600,
        .stwprocs = 2,
        .assist_cpu_ns = 920000,
        .background_cpu_ns = 21000,
        .idle_cpu_ns = 160000,
        .heap_trigger_bytes = (3 << 20) + 500000,
        .heap_mark_end_bytes = (4 << 20) + 200000,
        .heap_marked_bytes = (4 << 20) + 100000,
        .heap_goal_bytes = (4 << 20) + 4096,
        .stacks_bytes = 32 << 10,
        .globals_bytes = 100 << 10,
        .procs = 2,
    };
    EXPECT_STR_EQ(fmt(&c), "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 "
                           "ms cpu, 3->4->4 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n");

    /* gctrace.txt gc 8: a "0" clock, "(forced)". */
    c = (struct gcrt_gctrace_cycle){
        .num = 8,
        .start_ns = 43999999,
        .gc_cpu_fraction = 0.101,
        .sweep_term_ns = 31000,
        .mark_ns = 170000,
        .mark_term_ns = 700,
        .stwprocs = 2,
        .assist_cpu_ns = 0,
        .background_cpu_ns = 47500,
        .idle_cpu_ns = 61000,
        .heap_trigger_bytes = 13 << 20,
        .heap_mark_end_bytes = (13 << 20) + 1000,
        .heap_marked_bytes = 4240976,
        .heap_goal_bytes = 26 << 20,
        .procs = 2,
        .forced = true,
    };
    EXPECT_STR_EQ(fmt(&c),
                  "gc 8 @0.043s 10%: 0.031+0.17+0 ms clock, 0.062+0/0.047/0.061+0.001 ms "
                  "cpu, 13->13->4 MB, 26 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)\n");

    /* gctrace_memlimit.txt gc 14: a 0.66 ms pause, 1.3 ms of assists. */
    c = (struct gcrt_gctrace_cycle){
        .num = 14,
        .start_ns = 70123456,
        .gc_cpu_fraction = 0.125,
        .sweep_term_ns = 660000,
        .mark_ns = 1300000,
        .mark_term_ns = 1000,
        .stwprocs = 2,
        .assist_cpu_ns = 1300000,
        .background_cpu_ns = 35000,
        .idle_cpu_ns = 0,
        .heap_trigger_bytes = 12 << 20,
        .heap_mark_end_bytes = 13 << 20,
        .heap_marked_bytes = 10 << 20,
        .heap_goal_bytes = 14401640,
        .procs = 2,
    };
    EXPECT_STR_EQ(fmt(&c), "gc 14 @0.070s 12%: 0.66+1.3+0.001 ms clock, 1.3+1.3/0.035/0+0.002 ms "
                           "cpu, 12->13->10 MB, 13 MB goal, 0 MB stacks, 0 MB globals, 2 P\n");

    /* Large values: seconds, whole milliseconds, GiB heaps. */
    c = (struct gcrt_gctrace_cycle){
        .num = 4294967295u,
        .start_ns = 75123000000,
        .gc_cpu_fraction = 0.999,
        .sweep_term_ns = 12345678,
        .mark_ns = 250000000,
        .mark_term_ns = 9999999,
        .stwprocs = 64,
        .assist_cpu_ns = 50000,
        .background_cpu_ns = 123456,
        .idle_cpu_ns = 5432,
        .heap_trigger_bytes = 3ull << 40,
        .heap_mark_end_bytes = 5ull << 40,
        .heap_marked_bytes = 1ull << 40,
        .heap_goal_bytes = 6ull << 40,
        .stacks_bytes = 1ull << 30,
        .globals_bytes = 7ull << 20,
        .procs = 256,
        .forced = true,
    };
    EXPECT_STR_EQ(fmt(&c), "gc 4294967295 @75.123s 99%: 12+250+9.9 ms clock, 790+0.050/0.12/"
                           "0.005+639 ms cpu, 3145728->5242880->1048576 MB, 6291456 MB goal, 1024 "
                           "MB stacks, 7 MB globals, 256 P (forced)\n");
}

/* ---- round trip of every golden line ---------------------------------- */

/* The range [lo, hi) of ns that fmtNSAsMS prints as s. */
static int ms_range(const char *s, uint64_t *lo, uint64_t *hi) {
    const char *dot = strchr(s, '.');
    if (!dot) {
        uint64_t v = strtoull(s, NULL, 10);
        if (v == 0) {
            *lo = 0, *hi = 1000;
        } else {
            *lo = v * 1000000, *hi = (v + 1) * 1000000;
        }
        return 0;
    }
    int dec = (int)strlen(dot + 1);
    uint64_t v = 0;
    for (const char *p = s; *p; p++)
        if (*p != '.') v = v * 10 + (uint64_t)(*p - '0');
    uint64_t unit = 1000; /* us per last digit: dec 3 -> 1 us, 2 -> 10, 1 -> 100 */
    for (int i = dec; i < 3; i++) unit *= 10;
    *lo = v * unit, *hi = (v + 1) * unit;
    return 0;
}

/* A clock c in the printed range of c_s such that procs*c prints cpu_s. */
static int64_t pick_pause(const char *c_s, const char *cpu_s, int procs) {
    uint64_t lo, hi;
    ms_range(c_s, &lo, &hi);
    uint64_t step = (hi - lo) / 1000 ? (hi - lo) / 1000 : 1;
    for (uint64_t c = lo; c < hi; c += step)
        if (strcmp(ms(c * (uint64_t)procs), cpu_s) == 0) return (int64_t)c;
    return -1;
}

static void round_trip_line(const char *line) {
    char f[16][32];
    unsigned num, util, procs;
    unsigned long long h0, h1, h2, g, st, gl;
    char tail[32] = "";
    int n = sscanf(line,
                   "gc %u @%31[0-9.]s %u%%: %31[0-9.]+%31[0-9.]+%31[0-9.] ms clock, "
                   "%31[0-9.]+%31[0-9.]/%31[0-9.]/%31[0-9.]+%31[0-9.] ms cpu, %llu->%llu->%llu MB, "
                   "%llu MB goal, %llu MB stacks, %llu MB globals, %u P%31[^\n]",
                   &num, f[0], &util, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], &h0, &h1, &h2,
                   &g, &st, &gl, &procs, tail);
    if (n < 18) {
        FAILF("cannot parse golden line (%d fields): %s", n, line);
        return;
    }
    uint64_t lo, hi, x;
    struct gcrt_gctrace_cycle c = {.num = num, .procs = (int32_t)procs, .stwprocs = (int32_t)procs};
    c.start_ns = (int64_t)(strtod(f[0], NULL) * 1e9 + 0.5) + 400000;
    c.gc_cpu_fraction = (util + 0.5) / 100;
    c.sweep_term_ns = pick_pause(f[1], f[4], (int)procs);
    ms_range(f[2], &lo, &hi), x = lo;
    c.mark_ns = (int64_t)x;
    c.mark_term_ns = pick_pause(f[3], f[8], (int)procs);
    ms_range(f[5], &lo, &hi), c.assist_cpu_ns = (int64_t)(lo + (hi - lo) / 2);
    ms_range(f[6], &lo, &hi), c.background_cpu_ns = (int64_t)(hi - 1);
    ms_range(f[7], &lo, &hi), c.idle_cpu_ns = (int64_t)lo;
    c.heap_trigger_bytes = (h0 << 20) + 12345;
    c.heap_mark_end_bytes = (h1 << 20) + ((1 << 20) - 1);
    c.heap_marked_bytes = h2 << 20;
    c.heap_goal_bytes = (g << 20) + 777;
    c.stacks_bytes = (st << 20) + (32 << 10);
    c.globals_bytes = (gl << 20) + (90 << 10);
    c.forced = strcmp(tail, " (forced)") == 0;
    if (c.sweep_term_ns < 0 || c.mark_term_ns < 0) {
        FAILF("no pause fits: %s", line);
        return;
    }
    char want[GCRT_GCTRACE_LINE_MAX];
    snprintf(want, sizeof want, "%s\n", line);
    EXPECT_STR_EQ(fmt(&c), want);
}

/* Calls fn on every line of a golden file that starts with "gc ". */
static int for_golden_lines(const char *name, void (*fn)(const char *)) {
    char path[1024], line[1024];
    golden_path(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        FAILF("cannot open %s: %s", path, strerror(errno));
        return 0;
    }
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "gc ", 3) != 0) continue;
        fn(line);
        n++;
    }
    fclose(f);
    return n;
}

static const char *goldens[] = {"gctrace.txt", "gctrace_memlimit.txt", "gctrace_scavtrace.txt"};

static void test_golden_round_trip(void) {
    int n = 0;
    for (size_t i = 0; i < sizeof goldens / sizeof *goldens; i++)
        n += for_golden_lines(goldens[i], round_trip_line);
    EXPECT_EQ(n, 9 + 23 + 7);
}

/* ---- the regex ------------------------------------------------------- */

static regex_t re;

static int matches(const char *line) {
    return regexec(&re, line, 0, NULL, 0) == 0;
}

static void expect_match(const char *line) {
    if (!matches(line)) FAILF("regex rejects: %s", line);
}

static void test_regex_golden(void) {
    int n = 0;
    for (size_t i = 0; i < sizeof goldens / sizeof *goldens; i++)
        n += for_golden_lines(goldens[i], expect_match);
    EXPECT_EQ(n, 39);
}

static void test_regex_rejects(void) {
    static const char *good = "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+"
                              "0.005 ms cpu, 3->4->4 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P";
    EXPECT_TRUE(matches(good));
    static const char *bad[] = {
        "gc 0 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, "
        "4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* cycle 0 */
        "gc 01 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* leading zero */
        "gc 1 @0.03s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 MB, "
        "4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* two decimals in @ */
        "gc 1 @.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 MB, "
        "4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* no digit before the point */
        "gc 1 @0.003s 9%: 0.0320+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* four decimals */
        "gc 1 @0.003s 9%: 0.032+1.90+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* three significant digits */
        "gc 1 @0.003s 9%: 0.032+10.5+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* decimals from 10 ms */
        "gc 1 @0.003s 9%: 0.000+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* zero is "0" */
        "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92+0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* wrong separator */
        "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->-4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* negative size */
        "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 0 P", /* 0 P */
        "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P ", /* trailing space */
        "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P(forced)", /* no space */
        "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced", /* unclosed */
        "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB globals, 2 P", /* no stacks */
        "gc 1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MiB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* MiB */
        "gc 1 @0.003s 9 %: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* space before % */
        "gc  1 @0.003s 9%: 0.032+1.9+0.002 ms clock, 0.064+0.92/0.021/0.16+0.005 ms cpu, 3->4->4 "
        "MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", /* double space */
        "scav 0 KiB work, 3384 KiB total, 98% util",
        "GC forced",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (matches(bad[i])) FAILF("regex accepts malformed line %zu: %s", i, bad[i]);
}

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* A random magnitude: ns from 0 to ~10^(rnd) so every shape appears. */
static int64_t rnd_ns(void) {
    uint64_t mag = 1;
    for (int d = (int)(rnd() % 13); d > 0; d--) mag *= 10;
    return (int64_t)(rnd() % mag);
}

static void test_regex_random(void) {
    for (int i = 0; i < 20000; i++) {
        struct gcrt_gctrace_cycle c = {
            .num = (uint32_t)(rnd() % 100000) + 1,
            .start_ns = rnd_ns() * 100,
            .gc_cpu_fraction = (double)(rnd() % 1000) / 1000,
            .sweep_term_ns = rnd_ns(),
            .mark_ns = rnd_ns(),
            .mark_term_ns = rnd_ns(),
            .stwprocs = (int32_t)(rnd() % 64) + 1,
            .assist_cpu_ns = rnd_ns(),
            .background_cpu_ns = rnd_ns(),
            .idle_cpu_ns = rnd_ns(),
            .heap_trigger_bytes = rnd() >> (rnd() % 64),
            .heap_mark_end_bytes = rnd() >> (rnd() % 64),
            .heap_marked_bytes = rnd() >> (rnd() % 64),
            .heap_goal_bytes = rnd() >> (rnd() % 64),
            .stacks_bytes = rnd() >> (rnd() % 64),
            .globals_bytes = rnd() >> (rnd() % 64),
            .procs = (int32_t)(rnd() % 1024) + 1,
            .forced = rnd() & 1,
        };
        char b[GCRT_GCTRACE_LINE_MAX];
        size_t n = gcrt__gctrace_format(b, sizeof b, &c);
        REQUIRE_TRUE(n < sizeof b);
        EXPECT_EQ(b[n - 1], '\n');
        EXPECT_EQ(strlen(b), n);
        b[n - 1] = 0;
        if (!matches(b)) {
            FAILF("regex rejects formatter output: %s", b);
            return;
        }
    }
}

static void test_truncation(void) {
    struct gcrt_gctrace_cycle c = {.num = 3, .stwprocs = 1, .procs = 1};
    char full[GCRT_GCTRACE_LINE_MAX];
    size_t n = gcrt__gctrace_format(full, sizeof full, &c);
    EXPECT_STR_EQ(full, "gc 3 @0.000s 0%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, 0->0->0 MB, 0 MB goal, "
                        "0 MB stacks, 0 MB globals, 1 P\n");
    char small[11];
    memset(small, 'x', sizeof small);
    EXPECT_EQ(gcrt__gctrace_format(small, 10, &c), n);
    EXPECT_STR_EQ(small, "gc 3 @0.0");
    EXPECT_EQ(small[10], 'x');
    EXPECT_EQ(gcrt__gctrace_format(NULL, 0, &c), n);
}

int main(void) {
    REQUIRE_EQ(regcomp(&re, GCRT_GCTRACE_REGEX, REG_EXTENDED | REG_NOSUB), 0);
    RUN(test_fmt_ns_as_ms);
    RUN(test_itoa_div);
    RUN(test_golden_by_hand);
    RUN(test_golden_round_trip);
    RUN(test_regex_golden);
    RUN(test_regex_rejects);
    RUN(test_regex_random);
    RUN(test_truncation);
    regfree(&re);
    return th_summary();
}
