/* test_gctrace_procs.c - GOMAXPROCS changed while a cycle runs: gctrace's
 * "<P> P" and the stop-the-world CPU figures (p1, p5: stwprocs x clock)
 * use the values of the cycle's start, as Go's work.maxprocs and
 * work.stwprocs (mgc.go, gcStart: read once, before sweep termination's
 * stop). As in Go (runtime.GOMAXPROCS takes gcsema, which the cycle holds
 * from its start to its mark termination), gcrt_gomaxprocs waits for the
 * cycle's mark to finish before it changes the value: it returns with the
 * cycle counted in NumGC.
 *
 * The child holds its cycle in the mark with the shade hook (assert level
 * 2): the first shade waits until the main thread, detached, has been in
 * gcrt_gomaxprocs for 50 ms (a time-bounded wait), then lets the mark go
 * on. */
#include <pthread.h>
#include <regex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gc.h"
#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "common/child.h"
#include "common/fmt_ms.h"

#if GCRT_ASSERT_LEVEL >= 2
enum { NOBJ = 100000 };
static void **head;
static int entered, calling, to_procs; /* atomic */

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void hold_mark(uintptr_t p) {
    (void)p;
    int zero = 0;
    if (!__atomic_compare_exchange_n(&entered, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    int64_t end = now_ns() + 10 * 1000000000LL;
    while (!__atomic_load_n(&calling, __ATOMIC_ACQUIRE) && now_ns() < end) {
    }
    end = now_ns() + 50 * 1000000LL; /* the call is waiting by then, or it returned */
    while (now_ns() < end) {
    }
    gcrt__shade_test_hook = NULL;
}

static void *collect(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    gcrt_gc();
    gcrt_thread_detach();
    return NULL;
}

static void child_change_procs(void *arg) {
    const char *from = arg;
    setenv("GODEBUG", "gctrace=1", 1);
    setenv("GOGC", "off", 1);
    setenv("GOMAXPROCS", from, 1);
    if (gcrt_init() != 0) _exit(10);
    gcrt_add_roots(&head, &head + 1);
    for (int i = 0; i < NOBJ; i++) {
        void **n = gcrt_alloc(16);
        n[0] = head;
        head = n;
    }
    gcrt_thread_detach(); /* not stopped by the cycle's stops */
    gcrt__shade_test_hook = hold_mark;
    pthread_t t;
    pthread_create(&t, NULL, collect, NULL);
    int64_t end = now_ns() + 10 * 1000000000LL;
    while (!__atomic_load_n(&entered, __ATOMIC_ACQUIRE) && now_ns() < end) {
    }
    if (!__atomic_load_n(&entered, __ATOMIC_ACQUIRE)) _exit(12);
    __atomic_store_n(&calling, 1, __ATOMIC_RELEASE);
    gcrt_gomaxprocs(to_procs);
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    fprintf(stderr, "cycles done when gcrt_gomaxprocs returned: %u\n", (unsigned)ms.num_gc);
    pthread_join(t, NULL);
    fprintf(stderr, "procs now %d\n", gcrt_gomaxprocs(0));
    _exit(0);
}

static void change_during_cycle(const char *from, int to) {
    to_procs = to;
    struct child_result r;
    run_in_child(child_change_procs, (void *)from, &r);
    fprintf(stderr, "%s", r.err);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
    regex_t re;
    REQUIRE_EQ(regcomp(&re,
                       "gc 1 @[0-9.]+s [0-9]+%: ([0-9.]+)\\+[0-9.]+\\+([0-9.]+) ms clock, "
                       "([0-9.]+)\\+[0-9.]+/[0-9.]+/[0-9.]+\\+([0-9.]+) ms cpu, .* MB globals, "
                       "([0-9]+) P( \\(forced\\))?\n",
                       REG_EXTENDED),
               0);
    regmatch_t m[7];
    int ok = regexec(&re, r.err, 7, m, 0) == 0;
    regfree(&re);
    if (!ok) {
        FAILF("no gctrace line in: %s", r.err);
        return;
    }
    EXPECT_EQ(atoi(r.err + m[5].rm_so), atoi(from)); /* the start's GOMAXPROCS */
    /* p1 = stwprocs x c1 and p5 = stwprocs x c3, stwprocs the start's
     * min(GOMAXPROCS, ncpu). */
    cpu_set_t set;
    REQUIRE_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    uint64_t k = (uint64_t)atoi(from) < (uint64_t)CPU_COUNT(&set) ? (uint64_t)atoi(from)
                                                                  : (uint64_t)CPU_COUNT(&set);
    struct span_ns c1 = parse_ms(r.err + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
    struct span_ns c3 = parse_ms(r.err + m[2].rm_so, (size_t)(m[2].rm_eo - m[2].rm_so));
    struct span_ns p1 = parse_ms(r.err + m[3].rm_so, (size_t)(m[3].rm_eo - m[3].rm_so));
    struct span_ns p5 = parse_ms(r.err + m[4].rm_so, (size_t)(m[4].rm_eo - m[4].rm_so));
    EXPECT_TRUE(consistent_multiple(p1, c1, k));
    EXPECT_TRUE(consistent_multiple(p5, c3, k));
    char want[32];
    snprintf(want, sizeof want, "procs now %d", to);
    EXPECT_TRUE(strstr(r.err, want) != NULL); /* it did change */
    /* It waited for the cycle (before: returned at once, 0 cycles). */
    EXPECT_TRUE(strstr(r.err, "cycles done when gcrt_gomaxprocs returned: 1\n") != NULL);
}

static void test_fewer_procs_during_cycle(void) {
    change_during_cycle("2", 1);
}

static void test_more_procs_during_cycle(void) {
    change_during_cycle("1", 3);
}
#endif

int main(void) {
#if GCRT_ASSERT_LEVEL >= 2
    RUN(test_fewer_procs_during_cycle);
    RUN(test_more_procs_during_cycle);
#else
    printf("skipped: the shade's test hook needs GCRT_ASSERT_LEVEL >= 2\n");
#endif
    return th_summary();
}
