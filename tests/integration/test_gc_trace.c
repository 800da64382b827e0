/* test_gc_trace.c - GODEBUG=gctrace=1 prints Go 1.19's line per cycle
 * (spec section 1) and its numbers agree with MemStats; scavtrace=1 prints
 * the forced scavenger line of debug.FreeOSMemory.
 *
 * The test runs itself again as a child with the environment under test
 * (GODEBUG is read once, at gcrt_init) and captures the child's stdout and
 * stderr. The child makes heap-triggered cycles (a live ring plus garbage)
 * and forced ones (gcrt_gc), samples (NumGC, NextGC) as it goes, and at the
 * end prints its MemStats on stdout. The parent parses every "gc " line
 * with GCRT_GCTRACE_REGEX and cross-checks:
 *   N runs 1..NumGC without gaps; "(forced)" lines == NumForcedGC;
 *   P == GOMAXPROCS; @T never decreases; h2 <= h1; the goal G is the
 *   NextGC in force before the cycle (sampled by the child) in MB;
 *   U% is at most 100. */
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "gctrace.h"
#include "common/run_self.h"
#include "harness.h"

/* ---- the child's workload ----------------------------------------------------- */

#define RING 4096
static void **ring;
static void *volatile sink;

static void sample(void) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    printf("sample numgc=%u nextgc=%llu\n", ms.num_gc, (unsigned long long)ms.next_gc);
}

static int child_trace(void) {
    gcrt_init();
    ring = gcrt_alloc(RING * sizeof(void *));
    unsigned r = 7;
    int forced = 0;
    for (long i = 0; i < 600000; i++) {
        r = r * 1103515245u + 12345u;
        /* ~4 MiB live in the ring, the rest garbage: heap-triggered cycles. */
        gcrt_store(&ring[(r >> 8) % RING], gcrt_alloc(512 + (r >> 20) % 1024));
        sink = gcrt_alloc_noscan(64 + (r >> 16) % 512);
        if (i % 2000 == 0) sample();
        if (i % 150000 == 0) {
            gcrt_gc();
            forced++;
            sample();
        }
    }
    gcrt_gc();
    forced++;
    /* gcrt_gc returns after its cycle's line (test_gc_trace_order); the
     * wait lets a heap-triggered cycle still running end too. */
    gcrt_sleep(200 * 1000 * 1000);
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    printf("final numgc=%u forced=%u gomaxprocs=%d calls=%d heapalloc=%llu gccpu=%.9f\n", ms.num_gc,
           ms.num_forced_gc, gcrt_gomaxprocs(0), forced, (unsigned long long)ms.heap_alloc,
           ms.gc_cpu_fraction);
    fflush(stdout);
    return 0;
}

/* 64 MiB live, then dropped. In a frame of its own, wiped before the
 * collection: a stale slot holding the ring would keep all of it. */
static __attribute__((noinline)) void scav_fill_and_drop(void) {
    ring = gcrt_alloc(64 * sizeof(void *));
    for (int i = 0; i < 64; i++) gcrt_store(&ring[i], gcrt_alloc_noscan(1 << 20));
    ring = NULL;
}

static __attribute__((noinline)) void wipe_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory"); /* or the memset is dropped */
}

static int child_scav(void) {
    gcrt_init();
    /* 64 MiB live, then dropped, collected and returned to the OS. */
    scav_fill_and_drop();
    wipe_stack();
    gcrt_gc();
    gcrt_free_os_memory();
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    printf("final released=%llu heapsys=%llu\n", (unsigned long long)ms.heap_released,
           (unsigned long long)ms.heap_sys);
    fflush(stdout);
    return 0;
}

/* ---- parsing -------------------------------------------------------------------- */

struct line {
    unsigned n;
    double t;
    unsigned u;
    double clk[3], cpu[5];
    unsigned long h0, h1, h2, goal, stacks, globals;
    int p, forced;
};

static int parse_line(const char *s, struct line *l) {
    char forced[16] = "";
    int k = sscanf(s,
                   "gc %u @%lfs %u%%: %lf+%lf+%lf ms clock, %lf+%lf/%lf/%lf+%lf ms cpu, "
                   "%lu->%lu->%lu MB, %lu MB goal, %lu MB stacks, %lu MB globals, %d P %15s",
                   &l->n, &l->t, &l->u, &l->clk[0], &l->clk[1], &l->clk[2], &l->cpu[0], &l->cpu[1],
                   &l->cpu[2], &l->cpu[3], &l->cpu[4], &l->h0, &l->h1, &l->h2, &l->goal, &l->stacks,
                   &l->globals, &l->p, forced);
    l->forced = strcmp(forced, "(forced)") == 0;
    return k >= 18;
}

struct samples {
    unsigned numgc[100000];
    unsigned long long nextgc[100000];
    int n;
};

/* Worker CPU of the last check_trace, ms: background (dedicated +
 * fractional) and idle marking, in forced (gcrt_gc) and other cycles. */
static double bg_forced, bg_heap, idle_forced, idle_heap;

/* Checks every gctrace line of r against the regex and the child's numbers. */
static void check_trace(struct run *r, const char *what) {
    bg_forced = bg_heap = idle_forced = idle_heap = 0;
    regex_t re;
    REQUIRE_EQ(regcomp(&re, GCRT_GCTRACE_REGEX, REG_EXTENDED | REG_NOSUB), 0);
    static struct samples sm;
    sm.n = 0;
    unsigned final_numgc = 0, final_forced = 0, calls = 0;
    unsigned long long heapalloc = 0;
    double gccpu = -1;
    int procs = 0, have_final = 0;
    for (char *s = r->out; s && *s;) {
        char *e = strchr(s, '\n');
        if (e) *e = 0;
        if (sm.n < 100000 &&
            sscanf(s, "sample numgc=%u nextgc=%llu", &sm.numgc[sm.n], &sm.nextgc[sm.n]) == 2)
            sm.n++;
        if (sscanf(s, "final numgc=%u forced=%u gomaxprocs=%d calls=%u heapalloc=%llu gccpu=%lf",
                   &final_numgc, &final_forced, &procs, &calls, &heapalloc, &gccpu) == 6)
            have_final = 1;
        s = e ? e + 1 : NULL;
    }
    REQUIRE_TRUE(have_final);
    unsigned expect_n = 1, nforced = 0, nlines = 0, goal_checked = 0, last_u = 0;
    double last_t = 0;
    for (char *s = r->err; s && *s;) {
        char *e = strchr(s, '\n');
        if (e) *e = 0;
        if (strncmp(s, "gc ", 3) == 0) {
            nlines++;
            if (regexec(&re, s, 0, NULL, 0) != 0) FAILF("%s: line does not match: %s", what, s);
            struct line l;
            if (!parse_line(s, &l)) {
                FAILF("%s: cannot parse: %s", what, s);
            } else {
                if (l.n != expect_n) FAILF("%s: expected gc %u: %s", what, expect_n, s);
                expect_n = l.n + 1;
                if (l.t < last_t) FAILF("%s: time went back: %s", what, s);
                last_t = l.t;
                if (l.h2 > l.h1) FAILF("%s: h2 > h1: %s", what, s);
                if (l.p != procs) FAILF("%s: P %d, GOMAXPROCS %d: %s", what, l.p, procs, s);
                if (l.u > 100) FAILF("%s: U over 100%%: %s", what, s);
                last_u = l.u;
                nforced += l.forced;
                *(l.forced ? &bg_forced : &bg_heap) += l.cpu[2];
                *(l.forced ? &idle_forced : &idle_heap) += l.cpu[3];
                /* The goal in force: NextGC sampled while NumGC was n-1,
                 * the first such sample. (Before MemStats reads stopped
                 * the world the last could fall in cycle n's mark
                 * termination, after the pacer set cycle n+1's goal and
                 * before NumGC counted n; test_memstats_snapshot checks
                 * that the two now come from the same cycle.) */
                int k = -1;
                for (int i = 0; i < sm.n && k < 0; i++)
                    if (sm.numgc[i] == l.n - 1) k = i;
                if (k >= 0) {
                    unsigned long want = (unsigned long)(sm.nextgc[k] >> 20);
                    unsigned long slack = want / 10 + 1;
                    goal_checked++;
                    if (l.goal + slack < want || l.goal > want + slack)
                        FAILF("%s: goal %lu MB, NextGC before the cycle %lu MB: %s", what, l.goal,
                              want, s);
                }
            }
        }
        s = e ? e + 1 : NULL;
    }
    fprintf(stderr, "%s: %u lines, %u forced, %u goals checked, NumGC %u, NumForcedGC %u\n", what,
            nlines, nforced, goal_checked, final_numgc, final_forced);
    fprintf(stderr, "%s: worker CPU ms: background %.2f (forced cycles %.2f), idle %.2f (%.2f)\n",
            what, bg_heap + bg_forced, bg_forced, idle_heap + idle_forced, idle_forced);
    EXPECT_EQ(nlines, final_numgc);
    EXPECT_EQ(expect_n - 1, final_numgc);
    /* U is GCCPUFraction in percent, as of its cycle (Go: int(fraction *
     * 100)): the last line's is what MemStats reports until the next. */
    double pct = gccpu * 100; /* (printed with 9 digits: a hair of slack) */
    if (!(last_u <= pct + 1e-6 && pct < last_u + 1 + 1e-6))
        FAILF("%s: last line's U %u%%, GCCPUFraction %.6f", what, last_u, gccpu);
    EXPECT_EQ(nforced, final_forced);
    /* Each gcrt_gc call forces a cycle unless a heap-triggered one started
     * first, which it then waits for (Go's runtime.GC: gcTriggerCycle
     * starts nothing if work.cycles moved on; only a cycle it starts sets
     * userForced). */
    EXPECT_LE(final_forced, calls);
    EXPECT_GE(final_forced, 1);
    EXPECT_GT(final_numgc, final_forced); /* heap-triggered cycles too */
    EXPECT_GE(goal_checked, nlines / 2);
    regfree(&re);
}

static void test_gctrace(void) {
    const char *env[] = {"GODEBUG=gctrace=1", NULL};
    struct run r;
    run_self("trace", env, &r);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
    check_trace(&r, "gctrace=1");
    free_run(&r);
}

static void test_gctrace_stoptheworld(void) {
    const char *env[] = {"GODEBUG=gctrace=1,gcstoptheworld=1", NULL};
    struct run r;
    run_self("trace", env, &r);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
    check_trace(&r, "gctrace=1,gcstoptheworld=1");
    /* The mark's CPU shows where Go's does in this mode, as the workers'
     * (the stopping thread marks alone, with the world stopped). */
    EXPECT_TRUE(bg_heap + bg_forced > 0);
    free_run(&r);
}

static void test_gctrace_gomaxprocs(void) {
    const char *env[] = {"GODEBUG=gctrace=1", "GOMAXPROCS=3", NULL};
    struct run r;
    run_self("trace", env, &r);
    EXPECT_EQ(r.status, 0);
    check_trace(&r, "gctrace=1 GOMAXPROCS=3");
    free_run(&r);
}

/* Idle-time marking (Go: findrunnable's idle mark workers): the child is
 * one thread, so with GOMAXPROCS=2 a P is free while it allocates, and
 * both while it waits in gcrt_gc: the gctrace idle figure (the third CPU
 * one) is not 0. Only sums over the run are checked, and only where robust
 * on a loaded machine: in the forced cycles (the program blocked) the
 * second worker marks as an idle one beside the fractional one. The
 * heap-triggered cycles mostly show idle marking too, and so does
 * GOMAXPROCS=1 while the program waits, but a fractional worker starved of
 * CPU by other processes never gets ahead of its share (0.5 or 0.25 CPU)
 * and marks all its time as fractional: those are only printed. */
static void test_gctrace_idle_marking(void) {
    static const char *const procs[] = {"GOMAXPROCS=2", "GOMAXPROCS=1"};
    for (int i = 0; i < 2; i++) {
        const char *env[] = {"GODEBUG=gctrace=1", procs[i], NULL};
        struct run r;
        run_self("trace", env, &r);
        EXPECT_EQ(r.status, 0);
        check_trace(&r, procs[i]);
        /* (Milliseconds as doubles: EXPECT_GT compares integers, and an
         * idle figure under 1 ms is not 0.) */
        if (i == 0) EXPECT_TRUE(idle_forced > 0);
        EXPECT_TRUE(bg_heap + bg_forced > 0); /* the fractional worker */
        free_run(&r);
    }
}

static void test_no_trace_without_godebug(void) {
    const char *env[] = {"GODEBUG=", NULL};
    struct run r;
    run_self("trace", env, &r);
    EXPECT_EQ(r.status, 0);
    if (r.status != 0)
        fprintf(stderr, "child: signal %d, stderr:\n%.4000s\n", r.signaled, r.err ? r.err : "");
    EXPECT_TRUE(strstr(r.err, "gc 1 @") == NULL);
    free_run(&r);
}

static void test_scavtrace_forced(void) {
    const char *env[] = {"GODEBUG=scavtrace=1", NULL};
    struct run r;
    /* A stale copy of the ring's address (a register or stack slot the
     * wipe missed: the roots are conservative) keeps the 64 MiB, and then
     * there is nothing to release; seen once under ASan with a loaded
     * machine. Up to three children; the checks below are on the last. */
    for (int attempt = 0;; attempt++) {
        run_self("scav", env, &r);
        unsigned long long rel = 0, hs = 0;
        sscanf(r.out, "final released=%llu heapsys=%llu", &rel, &hs);
        if (rel >= (60ull << 20) || attempt == 2) break;
        fprintf(stderr, "scav child %d released only %llu KiB: again\n", attempt, rel >> 10);
        free_run(&r);
    }
    EXPECT_EQ(r.status, 0);
    regex_t re;
    REQUIRE_EQ(regcomp(&re, "^scav [0-9]+ KiB work, [0-9]+ KiB total, [0-9]+% util \\(forced\\)$",
                       REG_EXTENDED | REG_NOSUB),
               0);
    unsigned long long released = 0, heapsys = 0;
    sscanf(r.out, "final released=%llu heapsys=%llu", &released, &heapsys);
    int found = 0, plain_lines = 0;
    unsigned long work = 0, total = 0, util = 0;
    for (char *s = r.err; s && *s;) {
        char *e = strchr(s, '\n');
        if (e) *e = 0;
        if (regexec(&re, s, 0, NULL, 0) == 0) {
            found++;
            sscanf(s, "scav %lu KiB work, %lu KiB total, %lu%% util", &work, &total, &util);
        } else if (strncmp(s, "scav ", 5) == 0 && strstr(s, "% util") && s[strlen(s) - 1] == 'l') {
            plain_lines++; /* the per-cycle line, no suffix */
        } else if (strncmp(s, "scav ", 5) == 0 &&
                   !strstr(s, "% util") /* background lines have no suffix */) {
            FAILF("malformed scav line: %s", s);
        }
        s = e ? e + 1 : NULL;
    }
    if (found != 1) FAILF("%d forced scav lines; stderr:\n%s", found, r.err);
    EXPECT_GE(plain_lines, 1); /* gcrt_gc's sweep printed the per-cycle line */
    fprintf(stderr, "scav: %lu KiB work, %lu KiB total, %lu%% util; HeapReleased %llu KiB\n", work,
            total, util, released >> 10);
    EXPECT_GE(total, 60u << 10); /* the 64 MiB came back */
    EXPECT_LE(util, 100);
    EXPECT_LE(total, (released >> 10) + 1024); /* total is HeapReleased then */
    regfree(&re);
    free_run(&r);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "trace") == 0) return child_trace();
    if (argc > 1 && strcmp(argv[1], "scav") == 0) return child_scav();
    RUN(test_gctrace);
    RUN(test_gctrace_stoptheworld);
    RUN(test_gctrace_gomaxprocs);
    RUN(test_gctrace_idle_marking);
    RUN(test_no_trace_without_godebug);
    RUN(test_scavtrace_forced);
    return th_summary();
}
