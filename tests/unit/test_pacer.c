/* test_pacer.c - the pacer's formulas on exact numbers (libgcrt/src/pacer.c;
 * ../shared/spec/go-formats.md section 8), GOGC and GOMEMLIMIT parsing
 * tables with Go's rules, the malformed-GOMEMLIMIT death in a forked child,
 * the GC CPU limiter's bucket, and the scavenger's memory-limit goal.
 * Multi-cycle simulations are in test_pacer_sim.c.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>

#include "common/child.h"
#include "harness.h"

#include "pacer.h"

#define MiB (1ull << 20)

#define EXPECT_NEAR(a, b, eps)                                                                     \
    do {                                                                                           \
        double th_x_ = (a), th_y_ = (b);                                                           \
        if (!(fabs(th_x_ - th_y_) <= (eps)))                                                       \
            FAILF("%s = %.17g, want %s = %.17g (eps %g)", #a, th_x_, #b, th_y_, (double)(eps));    \
    } while (0)

static const struct gcrt_pacer_mem no_mem = {0, 0, 0};

/* ---- environment ------------------------------------------------------ */

static void test_parse_gogc(void) {
    static const struct {
        const char *s;
        int32_t want;
    } t[] = {
        {"off", -1},
        {"100", 100},
        {"0", 0},
        {"-1", -1},
        {"-0", 0},
        {"50", 50},
        {"007", 7},
        {"2147483647", INT32_MAX},
        {"2147483648", 100}, /* int32 overflow */
        {"-2147483648", INT32_MIN},
        {"-2147483649", 100},
        {"99999999999999999999", 100},
        {"", 100},
        {"abc", 100},
        {"100%", 100},
        {"+5", 100},
        {" 5", 100},
        {"5 ", 100},
        {"OFF", 100},
        {"off ", 100},
        {"0x10", 100},
        {"1e3", 100},
        {"--1", 100},
        {"-", 0}, /* Go's atoi64 accepts a lone sign as 0 */
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        bool ignored = true;
        int32_t got = gcrt__pacer_parse_gogc(t[i].s, &ignored);
        if (got != t[i].want) FAILF("GOGC=\"%s\": got %d, want %d", t[i].s, got, t[i].want);
        /* Set and not used: every 100 here but "100" itself and "". */
        bool want_ignored = t[i].want == 100 && strcmp(t[i].s, "100") != 0 && t[i].s[0] != 0;
        if (ignored != want_ignored)
            FAILF("GOGC=\"%s\": ignored %d, want %d", t[i].s, ignored, want_ignored);
    }
    bool ignored = true;
    EXPECT_EQ(gcrt__pacer_parse_gogc(NULL, &ignored), 100);
    EXPECT_FALSE(ignored);
    EXPECT_EQ(gcrt__pacer_parse_gogc("abc", NULL), 100);
}

static void test_parse_gomemlimit(void) {
    static const struct {
        const char *s;
        int rc;
        int64_t want;
    } t[] = {
        {"", 0, INT64_MAX},
        {"off", 0, INT64_MAX},
        {"0", 0, 0},
        {"123", 0, 123},
        {"123B", 0, 123},
        {"1KiB", 0, 1024},
        {"24MiB", 0, 25165824},
        {"2GiB", 0, 2147483648},
        {"1TiB", 0, 1099511627776},
        {"0TiB", 0, 0},
        {"9223372036854775807", 0, INT64_MAX},
        {"9223372036854775807B", 0, INT64_MAX},
        {"8388607TiB", 0, INT64_MAX - ((1ll << 40) - 1)},
        {"8589934591GiB", 0, INT64_MAX - ((1ll << 30) - 1)},
        {"-0", 0, 0},
        {"-0B", 0, 0},
        {"-0MiB", 0, 0},
        {"8388608TiB", -EINVAL, 0}, /* 2^63: overflow */
        {"9223372036854775808", -EINVAL, 0},
        {"18446744073709551616", -EINVAL, 0},
        {"99999999999999999999999KiB", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"-1KiB", -EINVAL, 0},
        {"1kib", -EINVAL, 0},
        {"1KB", -EINVAL, 0},
        {"1MB", -EINVAL, 0},
        {"1k", -EINVAL, 0},
        {"1 MiB", -EINVAL, 0},
        {" 1", -EINVAL, 0},
        {"1.5MiB", -EINVAL, 0},
        {"+1", -EINVAL, 0},
        {"B", -EINVAL, 0},
        {"KiB", -EINVAL, 0},
        {"iB", -EINVAL, 0},
        {"1iB", -EINVAL, 0},
        {"1XiB", -EINVAL, 0},
        {"1PiB", -EINVAL, 0},
        {"OFF", -EINVAL, 0},
        {"off ", -EINVAL, 0},
        {"-", -EINVAL, 0},
        {"-B", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        int64_t got = -12345;
        int rc = gcrt__pacer_parse_gomemlimit(t[i].s, &got);
        if (rc != t[i].rc) FAILF("GOMEMLIMIT=\"%s\": rc %d, want %d", t[i].s, rc, t[i].rc);
        if (rc == 0 && got != t[i].want)
            FAILF("GOMEMLIMIT=\"%s\": got %lld, want %lld", t[i].s, (long long)got,
                  (long long)t[i].want);
        if (rc != 0 && got != -12345) FAILF("GOMEMLIMIT=\"%s\": output changed on error", t[i].s);
    }
    int64_t v = 0;
    EXPECT_EQ(gcrt__pacer_parse_gomemlimit(NULL, &v), 0);
    EXPECT_EQ(v, INT64_MAX);
    EXPECT_EQ(gcrt__pacer_read_gomemlimit("24MiB"), 25165824);
    EXPECT_EQ(gcrt__pacer_read_gomemlimit(NULL), INT64_MAX);
}

static void die_gomemlimit(void *arg) {
    gcrt__pacer_read_gomemlimit((const char *)arg);
}

static void test_malformed_gomemlimit_dies(void) {
    struct child_result r;
    run_in_child(die_gomemlimit, "100MB", &r);
    EXPECT_EQ(r.signaled, SIGABRT);
    EXPECT_STR_EQ(r.err, "GOMEMLIMIT=100MB\nfatal error: malformed GOMEMLIMIT; see `go doc "
                         "runtime/debug.SetMemoryLimit`\n");
    run_in_child(die_gomemlimit, "-1", &r);
    EXPECT_EQ(r.signaled, SIGABRT);
    static const char want[] = "GOMEMLIMIT=-1\nfatal error: malformed GOMEMLIMIT";
    EXPECT_TRUE(strncmp(r.err, want, sizeof want - 1) == 0);
    /* A value longer than the runtime's 1 KiB print buffer, whole. */
    static char lng[3001];
    memset(lng, '7', 3000);
    lng[2999] = 'X';
    run_in_child(die_gomemlimit, lng, &r);
    EXPECT_EQ(r.signaled, SIGABRT);
    EXPECT_TRUE(strncmp(r.err, "GOMEMLIMIT=777", 14) == 0);
    EXPECT_TRUE(strncmp(r.err + 11 + 2999, "X\nfatal error: malformed GOMEMLIMIT", 35) == 0);
}

/* ---- knobs and goals -------------------------------------------------- */

static void test_init_and_setters(void) {
    struct gcrt_pacer p;
    gcrt__pacer_init(&p, 100, GCRT_PACER_NO_LIMIT);
    EXPECT_EQ(p.gc_percent, 100);
    EXPECT_EQ(p.memory_limit, INT64_MAX);
    EXPECT_UEQ(p.heap_minimum, 4 * MiB);
    EXPECT_UEQ(p.gc_percent_heap_goal, 4 * MiB);
    EXPECT_UEQ(p.sweep_dist_min_trigger, 0);
    EXPECT_UEQ(p.triggered, GCRT_PACER_NO_TRIGGER);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 4 * MiB);
    /* First trigger: 61/64 of the way to the 4 MiB minimum goal. */
    EXPECT_UEQ(gcrt__pacer_trigger(&p, &no_mem).trigger, 3997696);

    EXPECT_EQ(gcrt__pacer_set_gc_percent(&p, 200), 100);
    EXPECT_UEQ(p.heap_minimum, 8 * MiB);
    EXPECT_EQ(gcrt__pacer_set_gc_percent(&p, 50), 200);
    EXPECT_UEQ(p.heap_minimum, 2 * MiB);
    EXPECT_EQ(gcrt__pacer_set_gc_percent(&p, 0), 50);
    EXPECT_UEQ(p.heap_minimum, 0);
    EXPECT_EQ(gcrt__pacer_set_gc_percent(&p, -5), 0);
    EXPECT_EQ(p.gc_percent, -1);
    gcrt__pacer_commit(&p, true);
    EXPECT_UEQ(p.gc_percent_heap_goal, UINT64_MAX);
    EXPECT_EQ(gcrt__pacer_set_gc_percent(&p, 100), -1);

    EXPECT_EQ(gcrt__pacer_set_memory_limit(&p, -1), INT64_MAX); /* query */
    EXPECT_EQ(p.memory_limit, INT64_MAX);
    EXPECT_EQ(gcrt__pacer_set_memory_limit(&p, 24 * MiB), INT64_MAX);
    EXPECT_EQ(gcrt__pacer_set_memory_limit(&p, INT64_MIN), 24 * MiB);
    EXPECT_EQ(gcrt__pacer_set_memory_limit(&p, 0), 24 * MiB);
    EXPECT_EQ(p.memory_limit, 0);

    gcrt__pacer_init(&p, -1, 24 * MiB);
    EXPECT_EQ(p.gc_percent, -1);
    EXPECT_EQ(p.memory_limit, 24 * MiB);
}

/* A pacer after a cycle that marked `marked` bytes. */
static void after_cycle(struct gcrt_pacer *p, int32_t gogc, int64_t limit, uint64_t marked,
                        uint64_t stack, uint64_t globals) {
    gcrt__pacer_init(p, gogc, limit);
    p->heap_marked = p->heap_live = marked;
    p->last_stack_scan = stack;
    p->globals_scan = globals;
    gcrt__pacer_commit(p, true);
}

static void test_gogc_goal(void) {
    struct gcrt_pacer p;
    after_cycle(&p, 100, GCRT_PACER_NO_LIMIT, 100 * MiB, MiB, MiB);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 202 * MiB);
    after_cycle(&p, 50, GCRT_PACER_NO_LIMIT, 100 * MiB, MiB, MiB);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 151 * MiB);
    after_cycle(&p, 200, GCRT_PACER_NO_LIMIT, 100 * MiB, MiB, MiB);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 304 * MiB);
    after_cycle(&p, 0, GCRT_PACER_NO_LIMIT, 100 * MiB, MiB, MiB);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 100 * MiB);
    /* Integer arithmetic, then the heap minimum (4 MiB * 33 / 100). */
    after_cycle(&p, 33, GCRT_PACER_NO_LIMIT, 1000, 1, 2);
    EXPECT_UEQ(p.gc_percent_heap_goal, 1384120);
    after_cycle(&p, 33, GCRT_PACER_NO_LIMIT, 100000000, 1, 2);
    EXPECT_UEQ(p.gc_percent_heap_goal, 100000000 + 100000003ull * 33 / 100);
    /* Golden gctrace.txt: NextGC=8714968 after a forced GC that marked
     * HeapAlloc=4240976; the remaining 233016 are stacks + globals. */
    after_cycle(&p, 100, GCRT_PACER_NO_LIMIT, 4240976, 200000, 33016);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 8714968);
    /* GOGC=off and no limit: never. */
    after_cycle(&p, -1, GCRT_PACER_NO_LIMIT, 100 * MiB, 0, 0);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), INT64_MAX - MiB);
}

static void test_memory_limit_goal(void) {
    struct gcrt_pacer p;
    /* Golden gctrace_memlimit.txt, MemStats after the last GC: Sys=30129168
     * HeapReleased=16138240 HeapIdle=16171008 HeapAlloc=4242552 -> mapped
     * 13990928, free 32768, non-heap 9715608; goal = 24 MiB - 9715608 -
     * 1 MiB = 14401640 = its NextGC, printed as "13 MB goal". */
    after_cycle(&p, -1, 24 * MiB, 4242552, 0, 0);
    struct gcrt_pacer_mem golden = {13990928, 32768, 4242552};
    EXPECT_UEQ(gcrt__pacer_memory_limit_goal(&p, &golden), 14401640);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &golden), 14401640);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &golden) >> 20, 13);

    /* Over the limit: the overage comes off too; never below heap_marked. */
    after_cycle(&p, 100, 100 * MiB, 60 * MiB, 0, 0);
    struct gcrt_pacer_mem over = {110 * MiB, 0, 90 * MiB};
    EXPECT_UEQ(gcrt__pacer_memory_limit_goal(&p, &over), 100 * MiB - 20 * MiB - 10 * MiB - MiB);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &over), 69 * MiB); /* below GOGC's 120 MiB */
    p.heap_marked = 80 * MiB;
    EXPECT_UEQ(gcrt__pacer_memory_limit_goal(&p, &over), 80 * MiB);
    /* Non-heap memory alone over the limit: heap_marked. */
    struct gcrt_pacer_mem full = {120 * MiB, 0, 10 * MiB};
    EXPECT_UEQ(gcrt__pacer_memory_limit_goal(&p, &full), 80 * MiB);
    /* Small limits: at least 1 MiB of goal. */
    after_cycle(&p, -1, 5 * MiB, 0, 0, 0);
    struct gcrt_pacer_mem small = {3 * MiB + MiB / 2, 0, 0};
    EXPECT_UEQ(gcrt__pacer_memory_limit_goal(&p, &small), MiB);
    struct gcrt_pacer_mem tiny = {2 * MiB, 0, 0};
    EXPECT_UEQ(gcrt__pacer_memory_limit_goal(&p, &tiny), 2 * MiB); /* 3 - 1 */
    /* Limit 0: continuous collection at the live heap. */
    after_cycle(&p, 100, 0, 7 * MiB, 0, 0);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 7 * MiB);
    EXPECT_UEQ(gcrt__pacer_trigger(&p, &no_mem).trigger, 7 * MiB);
}

static void test_goal_raises(void) {
    struct gcrt_pacer p;
    after_cycle(&p, 100, GCRT_PACER_NO_LIMIT, 10 * MiB, 0, 0);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 20 * MiB);
    /* Sweeping unfinished with heap_live at 25 MiB: goal and trigger at
     * least 26 MiB. */
    p.heap_live = 25 * MiB;
    gcrt__pacer_commit(&p, false);
    EXPECT_UEQ(p.sweep_dist_min_trigger, 26 * MiB);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 26 * MiB);
    EXPECT_UEQ(gcrt__pacer_trigger(&p, &no_mem).trigger, 26 * MiB);
    /* During a cycle: goal at least triggered + 64 KiB. */
    p.heap_live = 10 * MiB;
    gcrt__pacer_commit(&p, true);
    p.triggered = 20 * MiB - 1000;
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 20 * MiB - 1000 + 65536);
    /* Neither raise applies when the memory limit sets the goal. */
    p.memory_limit = 16 * MiB;
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 15 * MiB);
    p.heap_live = 25 * MiB;
    gcrt__pacer_commit(&p, false);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&p, &no_mem), 15 * MiB);
}

static void test_trigger_bounds(void) {
    struct gcrt_pacer p;
    after_cycle(&p, 100, GCRT_PACER_NO_LIMIT, 100 * MiB, 0, 0);
    const uint64_t lower = 100 * MiB / 64 * 45 + 100 * MiB; /* 178585600 */
    const uint64_t upper = 200 * MiB - 4 * MiB;             /* above 61/64: goal - 4 MiB */
    EXPECT_UEQ(lower, 178585600);
    EXPECT_UGE(upper, 100 * MiB / 64 * 61 + 100 * MiB);
    struct {
        uint64_t runway, want;
    } t[] = {
        {0, upper},          {10 * MiB, 190 * MiB},
        {50 * MiB, lower},   {300 * MiB, lower}, /* runway beyond the goal */
        {UINT64_MAX, lower},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        p.runway = t[i].runway;
        struct gcrt_pacer_trigger tr = gcrt__pacer_trigger(&p, &no_mem);
        EXPECT_UEQ(tr.trigger, t[i].want);
        EXPECT_UEQ(tr.goal, 200 * MiB);
    }
    /* Small heap: the 95% bound (goal - 4 MiB would be lower). */
    after_cycle(&p, 100, GCRT_PACER_NO_LIMIT, 3 * MiB, 0, 0);
    EXPECT_UEQ(gcrt__pacer_trigger(&p, &no_mem).trigger, 3 * MiB / 64 * 61 + 3 * MiB);

    /* Runway = cons/mark x (0.75 / 0.25) x last scan work. */
    after_cycle(&p, 100, GCRT_PACER_NO_LIMIT, 100 * MiB, MiB, MiB);
    p.last_heap_scan = 10 * MiB;
    p.cons_mark = 0.5;
    gcrt__pacer_commit(&p, true);
    EXPECT_UEQ(p.runway, 18 * MiB);
    p.cons_mark = -0.1; /* amd64 Go: a huge runway, trigger at the lower bound */
    gcrt__pacer_commit(&p, true);
    EXPECT_UEQ(p.runway, UINT64_MAX);
    EXPECT_UEQ(gcrt__pacer_trigger(&p, &no_mem).trigger,
               (202 * MiB - 100 * MiB) / 64 * 45 + 100 * MiB);
}

/* ---- one cycle -------------------------------------------------------- */

static void test_workers(void) {
    static const struct {
        int32_t procs, dedicated;
        double fractional;
    } t[] = {
        {1, 0, 0.25}, {2, 0, 0.25}, {3, 0, 0.25}, {4, 1, 0},  {5, 1, 0},  {6, 1, 0.5 / 6},
        {7, 2, 0},    {8, 2, 0},    {9, 2, 0},    {10, 3, 0}, {16, 4, 0}, {64, 16, 0},
    };
    struct gcrt_pacer p;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        gcrt__pacer_init(&p, 100, GCRT_PACER_NO_LIMIT);
        gcrt__pacer_start_cycle(&p, 0, t[i].procs, false, false, &no_mem);
        EXPECT_EQ(p.dedicated_workers, t[i].dedicated);
        EXPECT_NEAR(p.fractional_utilization_goal, t[i].fractional, 1e-12);
        EXPECT_EQ(p.max_idle_workers, t[i].procs - t[i].dedicated);
        gcrt__pacer_start_cycle(&p, 0, t[i].procs, true, false, &no_mem);
        EXPECT_EQ(p.max_idle_workers, t[i].dedicated > 0 ? 0 : 1);
        gcrt__pacer_start_cycle(&p, 0, t[i].procs, false, true, &no_mem);
        EXPECT_EQ(p.dedicated_workers, t[i].procs);
        EXPECT_NEAR(p.fractional_utilization_goal, 0, 0);
    }
    /* A P runs the fractional worker while it is under the per-P goal
     * (Go's findRunnableGCWorker), and a program thread standing for a P
     * too, within the goal x procs of all fractional marking together. */
    gcrt__pacer_init(&p, 100, GCRT_PACER_NO_LIMIT);
    gcrt__pacer_start_cycle(&p, 1000000, 2, false, false, &no_mem);
    struct gcrt_mark_plan pl = gcrt__pacer_mark_plan(&p, 2);
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 1000000, 0, 0, 1));
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 999999, 0, 0, 1));
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 2000000, 0, 250000, 1));
    EXPECT_FALSE(gcrt__pacer_mutator_fractional(&pl, 2000000, 0, 250001, 1));
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 2000000, 500000, 0, 1));
    EXPECT_FALSE(gcrt__pacer_mutator_fractional(&pl, 2000000, 500001, 0, 1));
    gcrt__pacer_start_cycle(&p, 0, 4, false, false, &no_mem);
    pl = gcrt__pacer_mark_plan(&p, 4);
    EXPECT_FALSE(gcrt__pacer_mutator_fractional(&pl, 1000, 0, 0, 1)); /* no fractional goal */
}

/* The worker scheduling policy (gc.c's mark workers), without clocks. */
static int32_t mode_own(const struct gcrt_mark_plan *pl, int32_t worker, int32_t prev, int64_t now,
                        int64_t frac_ns, int64_t own_ns, int32_t busy, int32_t frac_on,
                        int32_t idle, int64_t *sleep_ns) {
    struct gcrt_worker_view v = {worker, prev, now, frac_ns, busy, frac_on, idle, own_ns};
    return gcrt__pacer_worker_mode(pl, &v, sleep_ns);
}

/* The same, with all fractional marking done by the worker itself. */
static int32_t mode_of(const struct gcrt_mark_plan *pl, int32_t worker, int32_t prev, int64_t now,
                       int64_t frac_ns, int32_t busy, int32_t frac_on, int32_t idle,
                       int64_t *sleep_ns) {
    return mode_own(pl, worker, prev, now, frac_ns, frac_ns, busy, frac_on, idle, sleep_ns);
}

static void test_worker_mode(void) {
    enum { D = GCRT_WORKER_DEDICATED, F = GCRT_WORKER_FRACTIONAL, I = GCRT_WORKER_IDLE };
    const int32_t S = GCRT_WORKER_SLEEP;
    const int64_t ms = 1000000;
    struct gcrt_pacer p;
    int64_t sl;

    /* GOMAXPROCS=2: no dedicated worker; worker 0 is fractional with 0.5
     * CPU in all (0.25 per P); worker 1 is an idle worker. */
    gcrt__pacer_init(&p, 100, GCRT_PACER_NO_LIMIT);
    gcrt__pacer_start_cycle(&p, 1000 * ms, 2, false, false, &no_mem);
    struct gcrt_mark_plan pl = gcrt__pacer_mark_plan(&p, 2);
    EXPECT_EQ(pl.procs, 2);
    EXPECT_EQ(pl.dedicated, 0);
    EXPECT_EQ(pl.max_idle, 2);
    EXPECT_EQ(pl.mark_start_ns, 1000 * ms);
    /* One P busy, one free: the program's thread marks its P's share (0.25)
     * and the worker the free P's: behind its own 0.25 x 10 ms and the
     * 0.5 x 10 ms of all fractional marking, it marks as fractional. */
    EXPECT_EQ(mode_own(&pl, 0, S, 1010 * ms, 4 * ms, 2 * ms, 1, 0, 0, &sl), F);
    EXPECT_EQ(mode_own(&pl, 0, S, 1010 * ms, 5 * ms, 2500 * 1000, 1, 0, 0, &sl), F);
    /* Ahead of either line: with a P nobody uses it marks as idle... */
    EXPECT_EQ(mode_own(&pl, 0, S, 1010 * ms, 4 * ms, 2500 * 1000 + 1, 1, 0, 0, &sl), I);
    EXPECT_EQ(mode_own(&pl, 0, S, 1010 * ms, 5 * ms + 1, 0, 1, 0, 0, &sl), I);
    /* ... unless another worker holds the one idle slot: then it sleeps
     * until it is behind both again (3 ms / 0.25 - 10 ms; 6 ms / 0.5 - 10). */
    EXPECT_EQ(mode_own(&pl, 0, S, 1010 * ms, 3 * ms, 3 * ms, 1, 0, 1, &sl), S);
    EXPECT_EQ(sl, 2 * ms + 1);
    EXPECT_EQ(mode_own(&pl, 0, S, 1010 * ms, 6 * ms, 0, 1, 0, 1, &sl), S);
    EXPECT_EQ(sl, 2 * ms + 1);
    /* Every P busy: the program's threads mark its share at their
     * allocations; the worker marks only below 0.75 of the goal (3.75 ms
     * of 0.5 x 10 ms) and otherwise sleeps until it falls below that line
     * (3 ms / 0.375 - 10 ms). */
    EXPECT_EQ(mode_of(&pl, 0, S, 1010 * ms, 3 * ms, 2, 0, 0, &sl), F);
    EXPECT_EQ(mode_of(&pl, 0, S, 1010 * ms, 3 * ms + 750 * 1000, 2, 0, 0, &sl), F);
    EXPECT_EQ(mode_of(&pl, 0, S, 1010 * ms, 3 * ms + 750 * 1000 + 1, 2, 0, 0, &sl), S);
    EXPECT_EQ(mode_of(&pl, 0, S, 1016 * ms, 6 * ms, 2, 0, 0, &sl), F);
    EXPECT_EQ(mode_of(&pl, 0, S, 1016 * ms, 6 * ms + 1, 2, 0, 0, &sl), S);
    EXPECT_EQ(sl, GCRT_WORKER_MIN_SLEEP_NS);
    EXPECT_EQ(mode_of(&pl, 0, S, 1010 * ms, 4500 * 1000, 2, 0, 0, &sl), S);
    EXPECT_EQ(sl, 2 * ms + 1);
    /* The nap is bounded: never longer than MAX, never shorter than MIN. */
    EXPECT_EQ(mode_of(&pl, 0, S, 1100 * ms, 100 * ms, 2, 0, 0, &sl), S);
    EXPECT_EQ(sl, GCRT_WORKER_MAX_SLEEP_NS);
    EXPECT_EQ(mode_of(&pl, 0, S, 1010 * ms, 2500 * 1000 + 2, 1, 0, 1, &sl), S);
    EXPECT_EQ(sl, GCRT_WORKER_MIN_SLEEP_NS);
    /* Go's hysteresis: once running it stops only above 1.2 x the goal;
     * its nap is still to the goal itself (3.5 ms / 0.25 - 10 ms). */
    EXPECT_EQ(mode_of(&pl, 0, F, 1010 * ms, 3 * ms, 1, 0, 1, &sl), F);
    EXPECT_EQ(mode_of(&pl, 0, F, 1010 * ms, 3 * ms + 1, 1, 0, 1, &sl), S);
    EXPECT_EQ(mode_of(&pl, 0, F, 1010 * ms, 3500 * 1000, 1, 0, 1, &sl), S);
    EXPECT_EQ(sl, 4 * ms + 1);
    EXPECT_EQ(mode_of(&pl, 0, F, 1010 * ms, 4500 * 1000, 2, 0, 0, &sl), F); /* no P free: x 0.75 */
    EXPECT_EQ(mode_of(&pl, 0, F, 1010 * ms, 4500 * 1000 + 1, 2, 0, 0, &sl), S);
    /* What the program's threads see (gcrt__pacer_mutator_fractional): a
     * slice while their own P and all fractional marking are behind. */
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 1010 * ms, 5 * ms - 1, 0, 1));
    EXPECT_FALSE(gcrt__pacer_mutator_fractional(&pl, 1010 * ms, 5 * ms + 1, 0, 1));
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 1010 * ms, 2500 * 1000, 2500 * 1000, 1));
    EXPECT_FALSE(gcrt__pacer_mutator_fractional(&pl, 1010 * ms, 2500 * 1000, 2500 * 1000 + 1, 1));
    /* Every P busy: the threads share the whole (one may be in a loop that
     * does not allocate), within goal x procs. */
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 1010 * ms, 4 * ms, 4 * ms, 2));
    EXPECT_FALSE(gcrt__pacer_mutator_fractional(&pl, 1010 * ms, 5 * ms + 1, 5 * ms + 1, 2));
    /* At mark start (no time elapsed) it starts marking at once. */
    EXPECT_EQ(mode_of(&pl, 0, S, 1000 * ms, 0, 2, 0, 0, &sl), F);
    EXPECT_EQ(mode_of(&pl, 0, S, 999 * ms, 0, 2, 0, 0, &sl), F);
    /* The idle worker: marks while a P is free, counting a marking
     * fractional worker as a busy P. */
    EXPECT_EQ(mode_of(&pl, 1, S, 1010 * ms, 0, 1, 0, 0, &sl), I);
    EXPECT_EQ(mode_of(&pl, 1, I, 1010 * ms, 0, 1, 0, 0, &sl), I);
    EXPECT_EQ(mode_of(&pl, 1, I, 1010 * ms, 0, 1, 1, 0, &sl), S);
    EXPECT_EQ(sl, GCRT_WORKER_IDLE_POLL_NS);
    EXPECT_EQ(mode_of(&pl, 1, S, 1010 * ms, 0, 2, 0, 0, &sl), S);
    EXPECT_EQ(mode_of(&pl, 1, S, 1010 * ms, 0, 0, 0, 1, &sl), I); /* 2 free Ps */
    EXPECT_EQ(mode_of(&pl, 1, S, 1010 * ms, 0, 0, 0, 2, &sl), S); /* max_idle reached */
    /* A busy count above procs (attached threads) is no free P. */
    EXPECT_EQ(mode_of(&pl, 1, S, 1010 * ms, 0, 5, 0, 0, &sl), S);
    EXPECT_EQ(gcrt__pacer_free_ps(&pl, 5, 1), 0);
    EXPECT_EQ(gcrt__pacer_free_ps(&pl, 0, 1), 1);

    /* GOMAXPROCS=1: 0.25 of the one P, and an idle P only when the program
     * blocks (a thread in gcrt_gc, say). */
    gcrt__pacer_start_cycle(&p, 0, 1, false, false, &no_mem);
    pl = gcrt__pacer_mark_plan(&p, 1);
    /* The program's one thread runs on the one P: it marks the share at
     * its allocations, the worker below 0.75 x 0.25 x 100 ms. */
    EXPECT_EQ(mode_of(&pl, 0, S, 100 * ms, 18 * ms, 1, 0, 0, &sl), F);
    EXPECT_EQ(mode_of(&pl, 0, S, 100 * ms, 19500 * 1000, 1, 0, 0, &sl), S);
    EXPECT_EQ(sl, 4 * ms + 1);
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 100 * ms, 24 * ms, 24 * ms, 1));
    EXPECT_FALSE(gcrt__pacer_mutator_fractional(&pl, 100 * ms, 25 * ms + 1, 25 * ms + 1, 1));
    /* The program blocked: the one P is free, and the share is done
     * (by the program's thread): the worker marks as idle. */
    EXPECT_EQ(mode_own(&pl, 0, S, 100 * ms, 26 * ms, 0, 0, 0, 0, &sl), I);
    EXPECT_EQ(mode_own(&pl, 0, S, 100 * ms, 24 * ms, 0, 0, 0, 0, &sl), F);

    /* GOMAXPROCS=4: worker 0 dedicated whatever it sees; no fractional
     * worker; workers 1-3 idle, with 4 - busy - 1 free Ps. */
    gcrt__pacer_start_cycle(&p, 0, 4, false, false, &no_mem);
    pl = gcrt__pacer_mark_plan(&p, 4);
    EXPECT_EQ(mode_of(&pl, 0, S, 100 * ms, 0, 4, 0, 0, &sl), D);
    EXPECT_EQ(mode_of(&pl, 0, D, 100 * ms, 0, 4, 0, 3, &sl), D);
    EXPECT_EQ(mode_of(&pl, 1, S, 100 * ms, 0, 1, 0, 1, &sl), I);
    EXPECT_EQ(mode_of(&pl, 3, S, 100 * ms, 0, 1, 0, 2, &sl), S);
    EXPECT_EQ(sl, 3 * GCRT_WORKER_IDLE_POLL_NS); /* later ones poll less */
    EXPECT_EQ(mode_of(&pl, 3, S, 100 * ms, 0, 3, 0, 0, &sl), S);

    /* GOMAXPROCS=6: 1 dedicated + a fractional worker (0.5 CPU). */
    gcrt__pacer_start_cycle(&p, 0, 6, false, false, &no_mem);
    pl = gcrt__pacer_mark_plan(&p, 6);
    EXPECT_EQ(mode_of(&pl, 0, S, 10 * ms, 0, 6, 0, 0, &sl), D);
    /* 2 Ps free: the worker's share is 2 x 0.083. */
    EXPECT_EQ(mode_own(&pl, 1, S, 12 * ms, 2 * ms, 2 * ms, 3, 0, 0, &sl), F);
    EXPECT_EQ(mode_own(&pl, 1, S, 12 * ms, 2 * ms, 2 * ms + 1, 3, 0, 0, &sl), I);
    EXPECT_EQ(mode_of(&pl, 1, S, 10 * ms, 6 * ms, 4, 0, 1, &sl), S);
    /* 5 busy + 1 dedicated fill the 6 Ps: the threads' share. */
    EXPECT_EQ(mode_of(&pl, 1, S, 10 * ms, 3 * ms, 5, 0, 0, &sl), F);
    EXPECT_EQ(mode_of(&pl, 1, S, 10 * ms, 4 * ms, 5, 0, 0, &sl), S);
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 10 * ms, 4 * ms, 0, 4));
    EXPECT_FALSE(
        gcrt__pacer_mutator_fractional(&pl, 10 * ms, 4 * ms, 1 * ms, 4)); /* 0.083 x 10 ms */
    EXPECT_TRUE(gcrt__pacer_mutator_fractional(&pl, 10 * ms, 4 * ms, 1 * ms, 5)); /* none free */
    /* 4 busy + 1 dedicated leave one P: the worker's share is its 0.083. */
    EXPECT_EQ(mode_own(&pl, 1, S, 12 * ms, 3 * ms, 1 * ms, 4, 0, 0, &sl), F);
    EXPECT_EQ(mode_own(&pl, 1, S, 12 * ms, 3 * ms, 1 * ms + 1, 4, 0, 0, &sl), I);
    EXPECT_EQ(mode_of(&pl, 2, S, 10 * ms, 0, 3, 1, 0, &sl), I); /* 6-3-1-1 = 1 free */
    EXPECT_EQ(mode_of(&pl, 2, S, 10 * ms, 0, 4, 1, 0, &sl), S);

    /* Periodic cycle with a dedicated worker: no idle workers at all; the
     * idle ones sleep until woken (-1). */
    gcrt__pacer_start_cycle(&p, 0, 4, true, false, &no_mem);
    pl = gcrt__pacer_mark_plan(&p, 4);
    EXPECT_EQ(mode_of(&pl, 1, S, 10 * ms, 0, 0, 0, 0, &sl), S);
    EXPECT_EQ(sl, -1);

    /* A plan with neither dedicated nor fractional workers (not Go's
     * sizing, but the mark must not stall): worker 0 is dedicated. */
    struct gcrt_mark_plan none = {.procs = 1, .dedicated = 0, .max_idle = 0};
    EXPECT_EQ(mode_of(&none, 0, S, 10 * ms, 0, 1, 0, 0, &sl), D);
    EXPECT_EQ(mode_of(&none, 1, S, 10 * ms, 0, 0, 0, 0, &sl), S);
}

/* GOGC=100 after a cycle that marked 100 MiB of which 50 MiB scannable;
 * this cycle triggered at 150 MiB. */
static void marking(struct gcrt_pacer *p) {
    after_cycle(p, 100, GCRT_PACER_NO_LIMIT, 100 * MiB, 0, 0);
    p->last_heap_scan = 50 * MiB;
    gcrt__pacer_commit(p, true);
    p->heap_live = 150 * MiB;
    p->heap_scan = 80 * MiB;
    p->triggered = 150 * MiB;
}

/* A forced cycle with GOGC=off (goal "infinite") revised mid-mark with
 * more work than expected: Go's int64 arithmetic wraps there (the hard
 * goal 1001 x goal is out of range); ours must too, without undefined
 * behaviour (the UBSan build checks), and give a usable ratio. */
static void test_revise_gogc_off(void) {
    struct gcrt_pacer p;
    after_cycle(&p, -1, GCRT_PACER_NO_LIMIT, 100 * MiB, 0, 0);
    p.last_heap_scan = 10 * MiB;
    p.heap_scan = 100 * MiB;
    p.triggered = 100 * MiB;
    p.heap_live = 120 * MiB;
    p.heap_scan_work = 50 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    EXPECT_TRUE(p.assist_work_per_byte >= 0 && p.assist_work_per_byte < 1e30);
    EXPECT_TRUE(p.assist_bytes_per_work >= 0);
    /* An assist then earns a large positive credit, not a wrapped one. */
    int64_t credit = 0;
    int64_t work = gcrt__pacer_assist_work(&p, 4096, &credit);
    EXPECT_GT(work, 0);
    EXPECT_GE(credit, 4096);
}

/* The first cycle: no scan work from a last cycle, no stacks and no
 * globals known (Go always knows its globals). The extrapolation divided
 * by the expected work, 0: +Inf, a goal wrapped to INT64_MIN, an assist
 * ratio of ~0, and each 64 KiB assist paid for ~150 GB of allocation (the
 * first cycle of GCBench depth 21 grew the heap from 3 to 169 MB against
 * a 4 MB goal). The worst case is assumed instead. */
static void test_revise_first_cycle(void) {
    struct gcrt_pacer p;
    after_cycle(&p, 100, GCRT_PACER_NO_LIMIT, 0, 0, 0);
    p.last_heap_scan = p.last_stack_scan = p.globals_scan = p.max_stack_scan = 0;
    p.heap_scan = 4 * MiB;
    p.triggered = 3 * MiB + 800 * 1024;
    p.heap_live = 3 * MiB + 900 * 1024;
    p.heap_scan_work = 1 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    /* 3 MiB of the worst case left, ~0.3 MiB of heap to the 4 MiB goal. */
    EXPECT_GT(p.assist_work_per_byte, 1.0);
    EXPECT_LT(p.assist_work_per_byte, 100.0);
    /* An assist's credit is what it owes, or a 64 KiB work's worth. */
    int64_t credit = 0;
    EXPECT_GE(gcrt__pacer_assist_work(&p, 4096, &credit), GCRT_PACER_OVER_ASSIST);
    EXPECT_GE(credit, 4096);
    EXPECT_LT(credit, 64 << 10);
}

static void test_revise(void) {
    struct gcrt_pacer p;
    marking(&p);
    p.heap_scan_work = 10 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    /* 40 MiB of work left, 50 MiB of heap left. */
    EXPECT_NEAR(p.assist_work_per_byte, 0.8, 1e-15);
    EXPECT_NEAR(p.assist_bytes_per_work, 1.25, 1e-15);

    /* More work than expected: the goal extends to (200-150)/50*80 + 150
     * = 230 MiB and the work to the worst case, 80 MiB. */
    p.heap_scan_work = 60 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    EXPECT_NEAR(p.assist_work_per_byte, 20.0 / 80.0, 1e-15);
    /* ... at most goal x (1 + GOGC/100). */
    p.heap_scan = 800 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    EXPECT_NEAR(p.assist_work_per_byte, (800.0 - 60.0) / (400.0 - 150.0), 1e-12);

    /* Past the goal: 10% overshoot allowed; here already past it too. */
    marking(&p);
    p.heap_live = 250 * MiB;
    p.heap_scan_work = 10 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    EXPECT_NEAR(p.assist_work_per_byte, 70.0 * MiB, 1e-6);
    p.heap_live = 215 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    EXPECT_NEAR(p.assist_work_per_byte, 70.0 / 5.0, 1e-6);

    /* Nearly done: at least 1000 bytes of work are assumed left. */
    marking(&p);
    p.heap_scan_work = 50 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    EXPECT_NEAR(p.assist_work_per_byte, 1000.0 / (50.0 * MiB), 1e-18);

    /* update(): heap_live moves; heap_scan only outside marking. */
    marking(&p);
    gcrt__pacer_update(&p, (int64_t)(10 * MiB), 5, true, &no_mem);
    EXPECT_UEQ(p.heap_live, 160 * MiB);
    EXPECT_UEQ(p.heap_scan, 80 * MiB);
    EXPECT_NEAR(p.assist_work_per_byte, 50.0 / 40.0, 1e-15);
    gcrt__pacer_update(&p, -(int64_t)MiB, 5, false, &no_mem);
    EXPECT_UEQ(p.heap_live, 159 * MiB);
    EXPECT_UEQ(p.heap_scan, 80 * MiB + 5);

    /* Assist charge: proportional, or 64 KiB of work pre-paying more. */
    marking(&p);
    p.heap_scan_work = 10 * MiB;
    gcrt__pacer_revise(&p, &no_mem);
    int64_t credit;
    EXPECT_EQ(gcrt__pacer_assist_work(&p, (int64_t)MiB, &credit), 838860);
    EXPECT_EQ(credit, (int64_t)MiB);
    EXPECT_EQ(gcrt__pacer_assist_work(&p, 1000, &credit), 65536);
    EXPECT_EQ(credit, 81920);
}

static void test_end_cycle(void) {
    struct gcrt_pacer p;
    marking(&p);
    gcrt__pacer_start_cycle(&p, 0, 4, false, false, &no_mem);
    uint64_t trig = p.triggered;
    EXPECT_UEQ(trig, 196 * MiB); /* runway 0: goal - 4 MiB */
    /* 1 s of mark on 4 Ps: 0.2 s of assists (30% utilisation), 0.4 s idle
     * (10%), 20 MiB allocated, 40 MiB scanned: cons/mark = 20 x 0.4 /
     * (40 x 0.7); the smoother's first step is kp = 0.9 of that. */
    p.assist_time_ns = 200000000;
    p.idle_mark_time_ns = 400000000;
    p.heap_live = trig + 20 * MiB;
    p.heap_scan_work = 30 * MiB;
    p.stack_scan_work = 6 * MiB;
    p.globals_scan_work = 4 * MiB;
    EXPECT_TRUE(gcrt__pacer_finish_cycle(&p, 1000000000, 4, 120 * MiB, false, &no_mem));
    EXPECT_NEAR(p.cons_mark, 0.9 * (20.0 * 0.4) / (40.0 * 0.7), 1e-12);
    EXPECT_UEQ(p.last_heap_goal, 200 * MiB);
    EXPECT_UEQ(p.heap_marked, 120 * MiB);
    EXPECT_UEQ(p.heap_live, 120 * MiB);
    EXPECT_UEQ(p.last_heap_scan, 30 * MiB);
    EXPECT_UEQ(p.heap_scan, 30 * MiB);
    EXPECT_UEQ(p.last_stack_scan, 6 * MiB);
    EXPECT_UEQ(p.triggered, GCRT_PACER_NO_TRIGGER);
    EXPECT_UEQ(p.sweep_dist_min_trigger, 121 * MiB);
    EXPECT_UEQ(p.gc_percent_heap_goal, 120 * MiB + 126 * MiB);
    EXPECT_UEQ(p.runway, (uint64_t)(p.cons_mark * 3 * (36.0 * MiB)));

    /* No allocation past the trigger: nothing learnt. */
    double cm = p.cons_mark;
    gcrt__pacer_start_cycle(&p, 0, 4, false, false, &no_mem);
    p.heap_live = p.triggered;
    EXPECT_TRUE(gcrt__pacer_end_cycle(&p, 1000, 4, &no_mem));
    EXPECT_NEAR(p.cons_mark, cm, 0);
    /* No scan work at all: Inf, the smoother resets, cons/mark 0. */
    p.heap_live = p.triggered + 1;
    EXPECT_FALSE(gcrt__pacer_end_cycle(&p, 1000, 4, &no_mem));
    EXPECT_NEAR(p.cons_mark, 0, 0);
    EXPECT_TRUE(p.cons_mark_ctl.input_overflow);
}

static void test_pi_controller(void) {
    struct gcrt_pi_controller c = {.kp = 0.9, .ti = 4, .tt = 1000, .min = -1000, .max = 1000};
    double out;
    EXPECT_TRUE(gcrt__pi_next(&c, 0, 1, 1, &out));
    EXPECT_NEAR(out, 0.9, 1e-15);
    EXPECT_NEAR(c.err_integral, 0.225, 1e-15);
    EXPECT_TRUE(gcrt__pi_next(&c, out, 1, 1, &out));
    EXPECT_NEAR(out, 0.09 + 0.225, 1e-15);
    /* Converges on a constant setpoint. */
    for (int i = 0; i < 200; i++) EXPECT_TRUE(gcrt__pi_next(&c, out, 1, 1, &out));
    EXPECT_NEAR(out, 1, 1e-6);
    /* Clamped output, anti-windup integral. */
    struct gcrt_pi_controller d = {.kp = 1, .ti = 1, .tt = 1, .min = 0, .max = 2};
    EXPECT_TRUE(gcrt__pi_next(&d, 0, 10, 1, &out));
    EXPECT_NEAR(out, 2, 0);
    EXPECT_NEAR(d.err_integral, 10 + (2 - 10), 1e-15);
    EXPECT_FALSE(gcrt__pi_next(&d, 0, INFINITY, 1, &out));
    EXPECT_NEAR(out, 0, 0);
    EXPECT_TRUE(d.input_overflow);
}

/* ---- scavenger and CPU limiter ---------------------------------------- */

static void test_scavenge_limit_goal(void) {
    EXPECT_UEQ(gcrt__pacer_scavenge_limit_goal(100, 96), 95);
    EXPECT_UEQ(gcrt__pacer_scavenge_limit_goal(100, 95), UINT64_MAX);
    EXPECT_UEQ(gcrt__pacer_scavenge_limit_goal(24 * MiB, 24 * MiB), 23907532);
    EXPECT_UEQ(gcrt__pacer_scavenge_limit_goal(INT64_MAX, UINT64_MAX), 8762203435012037016ull);
    EXPECT_UEQ(gcrt__pacer_scavenge_limit_goal(INT64_MAX, 1ull << 62), UINT64_MAX);
    EXPECT_UEQ(gcrt__pacer_scavenge_limit_goal(0, 1), 0);
}

static void test_limiter_bucket(void) {
    struct gcrt_cpu_limiter l;
    gcrt__cpu_limiter_init(&l, 0, 4);
    EXPECT_UEQ(l.capacity, 4000000000ull);
    l.numgc = 7;
    gcrt__cpu_limiter_accumulate(&l, 0, 1000000000);
    EXPECT_UEQ(l.fill, 1000000000);
    EXPECT_FALSE(l.enabled);
    gcrt__cpu_limiter_accumulate(&l, 0, 3000000000);
    EXPECT_UEQ(l.fill, l.capacity);
    EXPECT_TRUE(l.enabled);
    EXPECT_EQ(l.last_enabled_cycle, 8);
    EXPECT_UEQ(l.overflow, 0);
    gcrt__cpu_limiter_accumulate(&l, 0, 1000);
    EXPECT_UEQ(l.overflow, 1000);
    gcrt__cpu_limiter_accumulate(&l, 5, 5); /* no change: stays on */
    EXPECT_TRUE(l.enabled);
    gcrt__cpu_limiter_accumulate(&l, 1, 0);
    EXPECT_FALSE(l.enabled);
    EXPECT_UEQ(l.fill, l.capacity - 1);
    gcrt__cpu_limiter_accumulate(&l, 10000000000, 0);
    EXPECT_UEQ(l.fill, 0); /* never below empty */
}

static void test_limiter_update(void) {
    struct gcrt_cpu_limiter l;
    gcrt__cpu_limiter_init(&l, 0, 4);
    EXPECT_FALSE(gcrt__cpu_limiter_need_update(&l, 10000000));
    EXPECT_TRUE(gcrt__cpu_limiter_need_update(&l, 10000001));
    /* Mark start: a 1 ms pause counts 4 ms of GC time. */
    gcrt__cpu_limiter_start_gc_transition(&l, true, 0);
    gcrt__cpu_limiter_finish_gc_transition(&l, 1000000);
    EXPECT_UEQ(l.fill, 4000000);
    /* 10 ms x 4 Ps: 20 ms assists + 25% of 40 ms background = 30 ms GC,
     * 10 ms mutator. */
    gcrt__cpu_limiter_add_assist_time(&l, 15000000);
    gcrt__cpu_limiter_update(&l, 11000000, 5000000, 0);
    EXPECT_UEQ(l.fill, 4000000 + 20000000);
    EXPECT_EQ(l.assist_time_pool, 0);
    /* Idle time is taken out of the window, after the 25%. */
    gcrt__cpu_limiter_add_idle_time(&l, 40000000);
    gcrt__cpu_limiter_update(&l, 21000000, 0, 0);
    EXPECT_UEQ(l.fill, 24000000 + 20000000);
    /* A stale time changes nothing. */
    gcrt__cpu_limiter_update(&l, 5, 0, 0);
    EXPECT_UEQ(l.fill, 44000000);
    EXPECT_EQ(l.last_update_ns, 21000000);

    /* Sustained 75% assists + 25% background: full in about 1 s (4 s of
     * capacity over 4 Ps filling at 4x the clock). */
    int64_t now = 21000000;
    int updates = 0;
    while (!l.enabled && updates < 1000) {
        now += 10000000;
        gcrt__cpu_limiter_update(&l, now, 30000000, 0);
        updates++;
    }
    EXPECT_TRUE(l.enabled);
    EXPECT_EQ(updates, 99); /* (4 s - 44 ms) / 40 ms per update, rounded up */
    /* Mark termination: GC off, then the mutator drains it. */
    gcrt__cpu_limiter_start_gc_transition(&l, false, now);
    gcrt__cpu_limiter_finish_gc_transition(&l, now + 100000);
    EXPECT_TRUE(l.enabled);
    gcrt__cpu_limiter_update(&l, now + 10100000, 0, 0);
    EXPECT_FALSE(l.enabled);
    EXPECT_UEQ(l.fill, l.capacity - 40000000);

    /* GOMAXPROCS changes. */
    gcrt__cpu_limiter_reset_capacity(&l, now + 10100000, 2);
    EXPECT_UEQ(l.capacity, 2000000000ull);
    EXPECT_UEQ(l.fill, l.capacity);
    EXPECT_TRUE(l.enabled);
    gcrt__cpu_limiter_reset_capacity(&l, now + 10100000, 8);
    EXPECT_FALSE(l.enabled);
}

static void same_transition(void *arg) {
    (void)arg;
    struct gcrt_cpu_limiter l;
    gcrt__cpu_limiter_init(&l, 0, 1);
    gcrt__cpu_limiter_start_gc_transition(&l, false, 0);
}

static void test_limiter_misuse_dies(void) {
    struct child_result r;
    run_in_child(same_transition, NULL, &r);
    EXPECT_EQ(r.signaled, SIGABRT);
    EXPECT_STR_EQ(r.err, "fatal error: transitioning GC to the same state as before?\n");
}

int main(void) {
    RUN(test_parse_gogc);
    RUN(test_parse_gomemlimit);
    RUN(test_malformed_gomemlimit_dies);
    RUN(test_init_and_setters);
    RUN(test_gogc_goal);
    RUN(test_memory_limit_goal);
    RUN(test_goal_raises);
    RUN(test_trigger_bounds);
    RUN(test_workers);
    RUN(test_worker_mode);
    RUN(test_revise);
    RUN(test_revise_gogc_off);
    RUN(test_revise_first_cycle);
    RUN(test_end_cycle);
    RUN(test_pi_controller);
    RUN(test_scavenge_limit_goal);
    RUN(test_limiter_bucket);
    RUN(test_limiter_update);
    RUN(test_limiter_misuse_dies);
    return th_summary();
}
