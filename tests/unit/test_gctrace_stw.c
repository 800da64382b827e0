/* test_gctrace_stw.c - the numbers of a cycle's stop-the-world phases, as
 * gctrace prints them and MemStats records them, checked against each
 * other (Go: mgc.go, gcStart and gcMarkTermination).
 *
 * Each case runs in a child with its GODEBUG; the child builds a heap of
 * a million live objects (so the mark and the sweep take milliseconds),
 * collects once with gcrt_gc and prints its gctrace line and a line of
 * MemStats, which the parent parses. No check bounds a duration: each
 * compares two measurements of the same interval, allowing for the
 * truncation of fmtNSAsMS.
 */
#include <regex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcrt.h"
#include "harness.h"
#include "common/child.h"
#include "common/fmt_ms.h"

enum { NOBJ = 1000000 };
static void **head;

struct cycle_out {
    struct span_ns clock[3]; /* c1 c2 c3 */
    struct span_ns cpu[5];   /* p1 p2 p3 p4 p5 */
    unsigned long long pause_last, pause_total;
    unsigned num_gc;
    int ok;
};

static void child_collect(void *arg) {
    const char *godebug = arg;
    setenv("GODEBUG", godebug, 1);
    setenv("GOGC", "off", 1);
    setenv("GOMAXPROCS", "2", 1);
    if (gcrt_init() != 0) _exit(10);
    /* Go's ncpu is the process's CPU count at start-up (osinit): this
     * thread narrowing its own CPUs afterwards (as a mark worker does when
     * it steps aside) does not change it. */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) _exit(11);
    gcrt_add_roots(&head, &head + 1);
    for (int i = 0; i < NOBJ; i++) {
        void **n = gcrt_alloc(16);
        n[0] = head;
        head = n;
    }
    gcrt_gc();
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    fprintf(stderr, "stats pause=%llu total=%llu numgc=%u\n",
            (unsigned long long)ms.pause_ns[(ms.num_gc + 255) % 256],
            (unsigned long long)ms.pause_total_ns, ms.num_gc);
    _exit(0);
}

static void run_cycle(const char *godebug, struct cycle_out *o) {
    memset(o, 0, sizeof *o);
    struct child_result r;
    run_in_child(child_collect, (void *)godebug, &r);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
    regex_t re;
    REQUIRE_EQ(regcomp(&re,
                       "gc 1 @[0-9.]+s [0-9]+%: ([0-9.]+)\\+([0-9.]+)\\+([0-9.]+) ms clock, "
                       "([0-9.]+)\\+([0-9.]+)/([0-9.]+)/([0-9.]+)\\+([0-9.]+) ms cpu",
                       REG_EXTENDED),
               0);
    regmatch_t m[9];
    if (regexec(&re, r.err, 9, m, 0) != 0) {
        FAILF("no gctrace line for %s in: %s", godebug, r.err);
        regfree(&re);
        return;
    }
    regfree(&re);
    for (int i = 0; i < 3; i++)
        o->clock[i] = parse_ms(r.err + m[1 + i].rm_so, (size_t)(m[1 + i].rm_eo - m[1 + i].rm_so));
    for (int i = 0; i < 5; i++)
        o->cpu[i] = parse_ms(r.err + m[4 + i].rm_so, (size_t)(m[4 + i].rm_eo - m[4 + i].rm_so));
    const char *st = strstr(r.err, "stats ");
    if (!st || sscanf(st, "stats pause=%llu total=%llu numgc=%u", &o->pause_last, &o->pause_total,
                      &o->num_gc) != 3) {
        FAILF("no stats line for %s in: %s", godebug, r.err);
        return;
    }
    fprintf(stderr, "%s: %s", godebug, r.err);
    o->ok = 1;
}

/* The STW CPU figures are stwprocs x the phase's clock, stwprocs being
 * min(GOMAXPROCS, ncpu) with Go's ncpu, the process's CPUs (mgc.go:649).
 * The thread that ends the cycle may have fewer CPUs of its own: a mark
 * worker narrows its set while it steps aside. */
static void test_stwprocs_is_process_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) {
        fprintf(stderr, "skipped: fewer than 2 CPUs\n");
        return;
    }
    /* gcstoptheworld=2: mark termination sweeps the million objects' spans
     * on the calling thread, so its clock reads 10 us or more. */
    struct cycle_out o;
    run_cycle("gctrace=1,gcstoptheworld=2", &o);
    if (!o.ok) return;
    if (!consistent_multiple(o.cpu[4], o.clock[2], 2))
        FAILF("mark termination cpu [%llu,+%llu) ns is not 2 x its clock [%llu,+%llu) ns",
              (unsigned long long)o.cpu[4].lo, (unsigned long long)o.cpu[4].step,
              (unsigned long long)o.clock[2].lo, (unsigned long long)o.clock[2].step);
    if (!consistent_multiple(o.cpu[0], o.clock[0], 2))
        FAILF("sweep termination cpu [%llu,+%llu) ns is not 2 x its clock [%llu,+%llu) ns",
              (unsigned long long)o.cpu[0].lo, (unsigned long long)o.cpu[0].step,
              (unsigned long long)o.clock[0].lo, (unsigned long long)o.clock[0].step);
}

/* Go's PauseNs entry is work.pauseNS, the sum of the cycle's stops, each
 * from its start to the world's restart (mgc.go:731, 883, 1000): sweep
 * termination (c1 = tMark - tSweepTerm) and mark termination (c3), plus
 * the stops that restarted the mark. With gcstoptheworld=1 or 2 the world
 * stays stopped from the cycle's start to its end (the mark runs inside
 * the stop), so the entry is c1 + c2 + c3; and c1, the stop, the last
 * sweep and the roots before the mark, is not 0. */
static void test_stw_mode_pause(void) {
    static const char *const modes[] = {"gctrace=1,gcstoptheworld=1", "gctrace=1,gcstoptheworld=2"};
    for (int k = 0; k < 2; k++) {
        struct cycle_out o;
        run_cycle(modes[k], &o);
        if (!o.ok) continue;
        uint64_t lo = 0, hi = 0;
        for (int i = 0; i < 3; i++) {
            lo += o.clock[i].lo;
            hi += o.clock[i].lo + o.clock[i].step;
        }
        EXPECT_EQ(o.num_gc, 1);
        EXPECT_UEQ(o.pause_total, o.pause_last);
        if (o.pause_last < lo || o.pause_last >= hi)
            FAILF("%s: PauseNs %llu ns is not the whole stop c1+c2+c3 in [%llu, %llu) ns", modes[k],
                  o.pause_last, (unsigned long long)lo, (unsigned long long)hi);
    }
}

/* Concurrent mode: the entry is c1 + c3 and what restarts of the mark
 * stopped (inside c2). */
static void test_concurrent_pause(void) {
    struct cycle_out o;
    run_cycle("gctrace=1", &o);
    if (!o.ok) return;
    uint64_t lo = o.clock[0].lo + o.clock[2].lo;
    uint64_t hi = 0;
    for (int i = 0; i < 3; i++) hi += o.clock[i].lo + o.clock[i].step;
    EXPECT_UEQ(o.pause_total, o.pause_last);
    if (o.pause_last < lo || o.pause_last >= hi)
        FAILF("PauseNs %llu ns not in [c1+c3, c1+c2+c3) = [%llu, %llu) ns", o.pause_last,
              (unsigned long long)lo, (unsigned long long)hi);
}

int main(void) {
    RUN(test_stwprocs_is_process_cpus);
    RUN(test_stw_mode_pause);
    RUN(test_concurrent_pause);
    return th_summary();
}
