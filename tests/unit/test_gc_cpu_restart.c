/* test_gc_cpu_restart.c - a mark termination that restarts the mark adds
 * its stop to the cycle's pause (PauseNs) and to the mark's clock, not to
 * GCCPUFraction: Go's gcMarkDone adds a restarted stop to work.pauseNS
 * only, and gcMarkTermination's work.totaltime counts the stop-the-world
 * CPU as stwprocs x (tMark - tSweepTerm) + stwprocs x (tEnd - tMarkTerm),
 * tMarkTerm being the last try's (mgc.go). So GCCPUFraction after one
 * cycle is (p1 + p2 + p3 + p5) of its gctrace line over the CPU time
 * since start-up ((T + c1 + c2 + c3) x P).
 *
 * The child hides three lists from the collector; a hook (assert level 2)
 * in mark termination, world stopped, shades one per try and sleeps 100
 * ms: each try finds more work than it drains in its bound and restarts
 * the mark, three times; the fourth finishes. GOGC=off, GOMAXPROCS=2. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc.h"
#include "gcrt.h"
#include "harness.h"
#include "os.h"
#include "common/child.h"

#if GCRT_ASSERT_LEVEL >= 2
enum { NL = 3, NNODE = 200000 };
#define MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aULL)
static uintptr_t hidden[NL]; /* list heads, XORed with MASK: no root sees them */
static int tries_seen;       /* atomic */

static __attribute__((noinline)) void build_list(int k) {
    uintptr_t head = 0;
    for (int i = 0; i < NNODE; i++) {
        uintptr_t *n = gcrt_alloc(16);
        n[0] = head ? head ^ MASK : 0; /* hidden until the hook shades the head */
        head = (uintptr_t)n;
    }
    hidden[k] = head ^ MASK;
}

static void markterm(gcrt_gcwork_t *w, int restarts) {
    __atomic_store_n(&tries_seen, restarts + 1, __ATOMIC_RELAXED);
    if (restarts >= NL) return;
    /* A list of NNODE unmarked objects: more than the stop drains. */
    uintptr_t *n = (uintptr_t *)(hidden[restarts] ^ MASK);
    for (int i = 0; n && i < NNODE; i++) {
        uintptr_t next = n[0];
        gcrt__gc_shade(w, (uintptr_t)n);
        n = next ? (uintptr_t *)(next ^ MASK) : NULL;
    }
    gcrt__os_sleep_ns(100 * 1000000LL); /* a long stop, no CPU */
}

static void child_collect(void *arg) {
    (void)arg;
    setenv("GODEBUG", "gctrace=1", 1);
    setenv("GOGC", "off", 1);
    setenv("GOMAXPROCS", "2", 1);
    if (gcrt_init() != 0) _exit(10);
    for (int k = 0; k < NL; k++) build_list(k);
    gcrt__markterm_test_hook = markterm;
    gcrt_gc();
    gcrt__markterm_test_hook = NULL;
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    fprintf(stderr, "frac %.6f tries %d pause %llu\n", ms.gc_cpu_fraction,
            __atomic_load_n(&tries_seen, __ATOMIC_RELAXED),
            (unsigned long long)ms.pause_ns[(ms.num_gc + 255) % 256]);
    _exit(0);
}

static double ms_of(const char *s, regmatch_t m) {
    char b[32];
    size_t n = (size_t)(m.rm_eo - m.rm_so);
    if (n >= sizeof b) n = sizeof b - 1;
    memcpy(b, s + m.rm_so, n);
    b[n] = 0;
    return atof(b);
}

static void test_restarted_stops_not_in_cpu_fraction(void) {
    struct child_result r;
    run_in_child(child_collect, NULL, &r);
    fprintf(stderr, "%s", r.err);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
    regex_t re;
    REQUIRE_EQ(
        regcomp(&re,
                "gc 1 @([0-9.]+)s [0-9]+%: ([0-9.]+)\\+([0-9.]+)\\+([0-9.]+) ms clock, "
                "([0-9.]+)\\+([0-9.]+)/([0-9.]+)/([0-9.]+)\\+([0-9.]+) ms cpu, .* ([0-9]+) P",
                REG_EXTENDED),
        0);
    regmatch_t m[11];
    int ok = regexec(&re, r.err, 11, m, 0) == 0;
    regfree(&re);
    double frac = -1;
    int tries = 0;
    unsigned long long pause = 0;
    const char *f = strstr(r.err, "frac ");
    if (!ok || !f || sscanf(f, "frac %lf tries %d pause %llu", &frac, &tries, &pause) != 3) {
        FAILF("no gctrace or result line in: %s", r.err);
        return;
    }
    REQUIRE_EQ(tries, NL + 1); /* three restarts, then the end */
    double t = ms_of(r.err, m[1]) * 1000, c1 = ms_of(r.err, m[2]), c2 = ms_of(r.err, m[3]),
           c3 = ms_of(r.err, m[4]);
    double p1 = ms_of(r.err, m[5]), p2 = ms_of(r.err, m[6]), p3 = ms_of(r.err, m[7]),
           p5 = ms_of(r.err, m[9]);
    int procs = atoi(r.err + m[10].rm_so);
    /* The restarted stops are in the mark's clock and in the pause. */
    EXPECT_GE(c2, 300.0 * NL / 3);
    EXPECT_GE(pause, 300ull * 1000000);
    double want = (p1 + p2 + p3 + p5) / ((t + c1 + c2 + c3) * procs);
    fprintf(stderr, "GCCPUFraction %.4f, from the line's fields %.4f\n", frac, want);
    /* The fields are truncated to two digits, T to the millisecond. */
    EXPECT_TRUE(frac <= want * 1.25 + 0.02);
    EXPECT_TRUE(frac >= want * 0.75 - 0.02);
}
#endif

int main(void) {
#if GCRT_ASSERT_LEVEL >= 2
    RUN(test_restarted_stops_not_in_cpu_fraction);
#else
    printf("skipped: the mark termination hook needs GCRT_ASSERT_LEVEL >= 2\n");
#endif
    return th_summary();
}
