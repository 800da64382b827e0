/* test_gc_knobs.c - the collector's knobs, end to end (spec section 8),
 * each case a child run of this program with the environment under test:
 *   - GOGC=off never collects unless forced (gcrt_gc still does);
 *   - gcrt_set_gc_percent returns the old value and moves NextGC at once
 *     (the runway above the marked heap scales with GOGC);
 *   - GOGC values: bad ones (abc, 100%, +50, overflow) mean 100, as in
 *     Go, and are named on stderr ("gcrt: ignoring GOGC=abc: ..."), where
 *     Go says nothing; empty means 100 silently; negative means off;
 *     GOMEMLIMIT units B, KiB... and off;
 *   - GODEBUG settings of known names with values Go ignores, and
 *     GOMAXPROCS values Go ignores, are named on stderr too;
 *   - malformed GOMEMLIMIT (10MB, 1.5GiB, 64mib, -1) dies with Go's
 *     "GOMEMLIMIT=<value>" line and "fatal error: malformed GOMEMLIMIT;
 *     see `go doc runtime/debug.SetMemoryLimit`". */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "common/gc_workload.h"
#include "common/run_self.h"
#include "harness.h"

/* ---- child workloads ------------------------------------------------------------ */

static int child_off(void) {
    gcrt_init();
    fill_ring(8);
    churn(256u << 20);
    print_stats("before");
    gcrt_gc();
    print_stats("after");
    return 0;
}

static int child_set_percent(void) {
    gcrt_init();
    fill_ring(16);
    gcrt_gc();
    gcrt_sleep(100 * 1000 * 1000); /* its gctrace line */
    print_stats("p100");
    printf("old=%d\n", gcrt_set_gc_percent(200));
    print_stats("p200");
    printf("old=%d\n", gcrt_set_gc_percent(50));
    print_stats("p50");
    printf("old=%d\n", gcrt_set_gc_percent(-1));
    print_stats("poff");
    printf("old=%d\n", gcrt_set_gc_percent(100));
    fflush(stdout);
    return 0;
}

static int child_read_knobs(void) {
    gcrt_init();
    int gogc = gcrt_set_gc_percent(100);
    long long limit = (long long)gcrt_set_memory_limit(-1);
    printf("gogc=%d limit=%lld procs=%d\n", gogc, limit, gcrt_gomaxprocs(0));
    fflush(stdout);
    return 0;
}

/* ---- parsing helpers -------------------------------------------------------------- */

struct st {
    unsigned numgc, forced;
    unsigned long long nextgc, heapalloc, sys, released;
};

static int get_stats(const char *out, const char *tag, struct st *s) {
    char key[64];
    snprintf(key, sizeof key, "%s numgc=", tag);
    const char *p = strstr(out, key);
    if (!p) return 0;
    return sscanf(p + strlen(tag),
                  " numgc=%u forced=%u nextgc=%llu heapalloc=%llu sys=%llu released=%llu",
                  &s->numgc, &s->forced, &s->nextgc, &s->heapalloc, &s->sys, &s->released) == 6;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_gogc_off(void) {
    const char *env[] = {"GOGC=off", "GOMEMLIMIT=", NULL};
    struct run r;
    run_self("off", env, &r);
    EXPECT_EQ(r.status, 0);
    struct st b, a;
    REQUIRE_TRUE(get_stats(r.out, "before", &b));
    REQUIRE_TRUE(get_stats(r.out, "after", &a));
    EXPECT_EQ(b.numgc, 0); /* 264 MiB allocated, no cycle */
    EXPECT_GE(b.heapalloc, 256u << 20);
    EXPECT_EQ(a.numgc, 1); /* gcrt_gc still collects */
    EXPECT_EQ(a.forced, 1);
    EXPECT_LE(a.heapalloc, 16u << 20); /* 8 MiB live */
    free_run(&r);
}

static void test_set_gc_percent(void) {
    const char *env[] = {"GOGC=", "GOMEMLIMIT=", "GODEBUG=gctrace=1", NULL};
    struct run r;
    run_self("setpercent", env, &r);
    EXPECT_EQ(r.status, 0);
    struct st s100, s200, s50, soff;
    REQUIRE_TRUE(get_stats(r.out, "p100", &s100));
    REQUIRE_TRUE(get_stats(r.out, "p200", &s200));
    REQUIRE_TRUE(get_stats(r.out, "p50", &s50));
    REQUIRE_TRUE(get_stats(r.out, "poff", &soff));
    int olds[4] = {0};
    const char *p = r.out;
    for (int i = 0; i < 4 && (p = strstr(p, "old=")); i++, p++) sscanf(p, "old=%d", &olds[i]);
    EXPECT_EQ(olds[0], 100);
    EXPECT_EQ(olds[1], 200);
    EXPECT_EQ(olds[2], 50);
    EXPECT_EQ(olds[3], -1);
    /* No cycle in between: the goal moved at once. The goal is
     * marked + (marked + stacks + globals) * GOGC / 100 (spec 8.5): the
     * runway above the marked heap scales with GOGC. marked (h2) comes
     * from the forced cycle's gctrace line. */
    EXPECT_EQ(s200.numgc, s100.numgc);
    EXPECT_EQ(soff.numgc, s100.numgc);
    unsigned long h2 = 0, x;
    const char *line = strstr(r.err, "(forced)");
    REQUIRE_TRUE(line != NULL);
    while (line > r.err && line[-1] != '\n') line--;
    const char *q = strstr(line, " MB, ");
    REQUIRE_TRUE(q != NULL);
    while (q > line && q[-1] != ' ') q--;
    REQUIRE_EQ(sscanf(q, "%lu->%lu->%lu MB", &x, &x, &h2), 3);
    double m = (double)h2 * (1 << 20), run100 = s100.nextgc - m;
    fprintf(stderr,
            "NextGC: marked %lu MiB; GOGC=100 %.1f MiB, 200 %.1f MiB, 50 %.1f MiB, off %llu\n", h2,
            s100.nextgc / 1048576.0, s200.nextgc / 1048576.0, s50.nextgc / 1048576.0, soff.nextgc);
    EXPECT_GE(h2, 15);
    EXPECT_LE(h2, 18);
    EXPECT_GE(run100, 15.0 * (1 << 20));
    EXPECT_GE(s200.nextgc - m, 1.8 * run100);
    EXPECT_LE(s200.nextgc - m, 2.2 * run100);
    EXPECT_GE(s50.nextgc - m, 0.4 * run100);
    EXPECT_LE(s50.nextgc - m, 0.6 * run100);
    EXPECT_UGE(soff.nextgc, s200.nextgc);
    free_run(&r);
}

/* Runs the knobs child with GOGC and GOMEMLIMIT set (and extra, if not
 * NULL, a third variable) and checks what it read, and its stderr: empty if
 * want_err is NULL, else holding want_err. */
static void read_knobs_env(const char *gogc, const char *limit, const char *extra, int want_gogc,
                           long long want_limit, int want_procs, const char *want_err) {
    char e1[160], e2[64];
    snprintf(e1, sizeof e1, "GOGC=%s", gogc);
    snprintf(e2, sizeof e2, "GOMEMLIMIT=%s", limit);
    const char *env[] = {e1, e2, extra, NULL};
    struct run r;
    run_self("knobs", env, &r);
    EXPECT_EQ(r.status, 0);
    int g = 0, procs = 0;
    long long l = 0;
    const char *p = strstr(r.out, "gogc=");
    REQUIRE_TRUE(p != NULL);
    sscanf(p, "gogc=%d limit=%lld procs=%d", &g, &l, &procs);
    if (g != want_gogc || l != want_limit)
        FAILF("GOGC=%s GOMEMLIMIT=%s: read %d and %lld, want %d and %lld", gogc, limit, g, l,
              want_gogc, want_limit);
    if (want_procs > 0 && procs != want_procs)
        FAILF("%s: GOMAXPROCS %d, want %d", extra, procs, want_procs);
    if (!want_err && r.err[0])
        FAILF("GOGC=%s GOMEMLIMIT=%s %s: not silent: %s", gogc, limit, extra ? extra : "", r.err);
    if (want_err && !strstr(r.err, want_err))
        FAILF("GOGC=%s GOMEMLIMIT=%s %s: no \"%s\" on stderr:\n%s", gogc, limit, extra ? extra : "",
              want_err, r.err);
    free_run(&r);
}

static void read_knobs(const char *gogc, const char *limit, int want_gogc, long long want_limit) {
    read_knobs_env(gogc, limit, NULL, want_gogc, want_limit, 0, NULL);
}

/* A GOGC value Go ignores: 100, and the value named on stderr. */
static void ignored_gogc(const char *gogc) {
    char want[200];
    snprintf(want, sizeof want,
             "gcrt: ignoring GOGC=%s: not \"off\" or a decimal integer; GOGC is 100 (as in Go)\n",
             gogc);
    read_knobs_env(gogc, "", NULL, 100, INT64_MAX, 0, want);
}

static void test_gogc_values(void) {
    ignored_gogc("abc");
    ignored_gogc("100%");
    read_knobs("", "", 100, INT64_MAX);
    ignored_gogc("+50");
    ignored_gogc("99999999999");
    read_knobs("50", "", 50, INT64_MAX);
    read_knobs("off", "", -1, INT64_MAX);
    read_knobs("-5", "", -1, INT64_MAX);
    read_knobs("100", "64MiB", 100, 64ll << 20);
    read_knobs("100", "1GiB", 100, 1ll << 30);
    read_knobs("100", "12345", 100, 12345);
    read_knobs("100", "12345B", 100, 12345);
    read_knobs("100", "off", 100, INT64_MAX);
    /* A long value is cut to 64 bytes in the message. */
    char big[101], want[120];
    memset(big, '7', 100);
    big[0] = 'x';
    big[100] = 0;
    snprintf(want, sizeof want, "gcrt: ignoring GOGC=%.64s...: not", big);
    read_knobs_env(big, "", NULL, 100, INT64_MAX, 0, want);
}

/* GODEBUG and GOMAXPROCS values Go ignores silently are named on stderr;
 * the settings still take Go's defaults. */
static void test_ignored_settings_named(void) {
    read_knobs_env("100", "", "GODEBUG=gctrace=yes", 100, INT64_MAX, 0,
                   "gcrt: ignoring GODEBUG setting gctrace=yes: its value is not a decimal "
                   "integer (Go ignores it too)\n");
    read_knobs_env("100", "", "GODEBUG=foo=1,scavtrace=1x,gccheckmark", 100, INT64_MAX, 0,
                   "gcrt: ignoring GODEBUG setting scavtrace=1x: its value is not a decimal "
                   "integer (Go ignores it too), and 1 more such setting\n");
    /* Names gcrt does not know are Go's or another program's: silent. */
    read_knobs_env("100", "", "GODEBUG=http2debug=1,foo", 100, INT64_MAX, 0, NULL);
    /* The CPU count as the runtime counts it (its affinity mask): the
     * GOMAXPROCS of a child without the variable (run_self passes on the
     * test's environment, where ctest may have set it). */
    const char *unset[] = {"GOMAXPROCS=", NULL};
    struct run r;
    run_self("knobs", unset, &r);
    int ncpu = 0;
    const char *p = strstr(r.out, "procs=");
    REQUIRE_TRUE(p != NULL && sscanf(p, "procs=%d", &ncpu) == 1 && ncpu > 0);
    free_run(&r);
    char want[160];
    snprintf(want, sizeof want,
             "gcrt: ignoring GOMAXPROCS=abc: not a positive decimal integer; GOMAXPROCS is %d, "
             "the CPU count (as in Go)\n",
             ncpu);
    read_knobs_env("100", "", "GOMAXPROCS=abc", 100, INT64_MAX, ncpu, want);
    read_knobs_env("100", "", "GOMAXPROCS=0", 100, INT64_MAX, ncpu,
                   "gcrt: ignoring GOMAXPROCS=0: not a positive");
    read_knobs_env("100", "", "GOMAXPROCS=+3", 100, INT64_MAX, ncpu,
                   "gcrt: ignoring GOMAXPROCS=+3: not a positive");
    read_knobs_env("100", "", "GOMAXPROCS=3", 100, INT64_MAX, 3, NULL);
    read_knobs_env("100", "", "GOMAXPROCS=1025", 100, INT64_MAX, 1024,
                   "gcrt: ignoring GOMAXPROCS=1025: more than gcrt's 1024 Ps; GOMAXPROCS is "
                   "1024\n");
}

static void malformed_limit(const char *value) {
    char e[64];
    snprintf(e, sizeof e, "GOMEMLIMIT=%s", value);
    const char *env[] = {e, NULL};
    struct run r;
    run_self("knobs", env, &r);
    EXPECT_TRUE(r.signaled == SIGABRT || (r.exited && r.status != 0));
    char want[80];
    snprintf(want, sizeof want, "GOMEMLIMIT=%s\n", value);
    if (!strstr(r.err, want)) FAILF("no \"GOMEMLIMIT=%s\" line:\n%s", value, r.err);
    if (!strstr(r.err, "fatal error: malformed GOMEMLIMIT; see `go doc "
                       "runtime/debug.SetMemoryLimit`"))
        FAILF("GOMEMLIMIT=%s: not Go's message:\n%s", value, r.err);
    EXPECT_TRUE(strstr(r.out, "gogc=") == NULL);
    free_run(&r);
}

static void test_malformed_memlimit(void) {
    malformed_limit("10MB");
    malformed_limit("1.5GiB");
    malformed_limit("64mib");
    malformed_limit("-1");
}

int main(int argc, char **argv) {
    if (argc > 1) {
        if (!strcmp(argv[1], "off")) return child_off();
        if (!strcmp(argv[1], "setpercent")) return child_set_percent();
        if (!strcmp(argv[1], "knobs")) return child_read_knobs();
    }
    RUN(test_gogc_off);
    RUN(test_set_gc_percent);
    RUN(test_gogc_values);
    RUN(test_ignored_settings_named);
    RUN(test_malformed_memlimit);
    return th_summary();
}
