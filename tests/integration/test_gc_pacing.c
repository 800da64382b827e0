/* test_gc_pacing.c - the steady state (spec section 8): a live heap L kept
 * in a ring with garbage churned through it, for GOGC=50/100/200 (each a
 * child run of this program with the environment). After two settling
 * cycles, the heap at mark end (gctrace h1) stays near the goal
 * L + (L + stacks + globals) * GOGC/100 (median within [0.8x, 1.6x]; each
 * cycle at most 1.6x and at least 65% of the way from L to the goal, at
 * most a quarter of the cycles outside) and the marked heap (h2) near L.
 * No timing. GCRT_PACING_MB scales L (default 32). The other knobs:
 * test_gc_knobs.c; GOMEMLIMIT: test_gc_memlimit.c. */
#include <poll.h>
#include <pthread.h>
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
#include "gc.h"
#include "malloc.h"
#include "pacer.h"

/* ---- child workloads ------------------------------------------------------------ */

static int child_steady(void) {
    long mb = th_env_long("GCRT_PACING_MB", 32);
    gcrt_init();
    fill_ring(mb);
    /* Two cycles to settle, then the steady state: the marker goes to
     * stderr, between the gctrace lines. */
    churn((uint64_t)mb << 21);
    if (write(2, "steady\n", 7) != 7) return 1;
    churn((uint64_t)mb << 25); /* 32 x L of garbage */
    print_stats("final");
    /* What the pacer learned from the last cycle (Go's heapScanWork etc.):
     * without the scan work the cons/mark estimate overflows and the
     * runway is empty (trigger pinned at 95% of the way to the goal). */
    static struct gcrt_pacer p;
    gcrt__gc_pacer_state(&p);
    printf("pacer last_heap_scan=%llu ring=%llu cons_mark=%g runway=%llu overflow=%d\n",
           (unsigned long long)p.last_heap_scan, (unsigned long long)(nring * sizeof(void *)),
           p.cons_mark, (unsigned long long)p.runway, (int)p.cons_mark_ctl.input_overflow);
    fflush(stdout);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The next gctrace line of a heap-triggered cycle at or after *cur (lines
 * are cut in place): returns its "h0->h1->h2 MB, ..." part, the line in
 * *line; NULL at the end. */
static const char *next_gc_heap(char **cur, const char **line) {
    while (*cur && **cur) {
        char *s = *cur, *e = strchr(s, '\n');
        if (e) *e = 0;
        *cur = e ? e + 1 : NULL;
        const char *mbp = strstr(s, " MB, ");
        if (strncmp(s, "gc ", 3) != 0 || strstr(s, "(forced)") || !mbp) continue;
        const char *q = mbp;
        while (q > s && q[-1] != ' ') q--;
        *line = s;
        return q;
    }
    return NULL;
}

static void steady(const char *gogc, int percent) {
    long mb = th_env_long("GCRT_PACING_MB", 32);
    char env_gogc[32];
    snprintf(env_gogc, sizeof env_gogc, "GOGC=%s", gogc);
    const char *env[] = {env_gogc, "GODEBUG=gctrace=1", "GOMEMLIMIT=", NULL};
    struct run r;
    run_self("steady", env, &r);
    EXPECT_EQ(r.status, 0);
    /* Heap-triggered cycles after the ring is full: the last few of them
     * are the steady state. */
    /* Go's goal counts globals and stacks too (spec 8.5): with
     * sanitizers the globals are megabytes. */
    double want = (double)mb * (1 + percent / 100.0);
    int n = 0, bad = 0;
    unsigned long h0, h1, h2, goal, stk, glob;
    double r1[4096], r2[4096]; /* h1 / want and h2 / L per steady cycle */
    char *steady_mark = strstr(r.err, "steady\n");
    REQUIRE_TRUE(steady_mark != NULL);
    const char *s, *q;
    for (char *cur = steady_mark; (q = next_gc_heap(&cur, &s));) {
        if (sscanf(q, "%lu->%lu->%lu MB, %lu MB goal, %lu MB stacks, %lu MB globals", &h0, &h1, &h2,
                   &goal, &stk, &glob) == 6 &&
            h2 >= (unsigned long)mb * 9 / 10) {
            /* ring full: live is L */
            want = mb + (double)(mb + stk + glob) * percent / 100.0;
            if (n < 4096) {
                r1[n] = h1 / want;
                r2[n] = (double)h2 / mb;
            }
            n++;
            /* Go's trigger lies between 70% and 95% of the way from the
             * live heap to the goal (further when the last cycle's scan
             * work says the mark is slow): a cycle may end a little above
             * 70% of the way. */
            if (h1 < mb + 0.65 * (want - mb) || h1 > want * 1.6) {
                bad++;
                fprintf(stderr, "GOGC=%s: out of bounds: %s\n", gogc, s);
            }
        }
    }
    if (n > 4096) n = 4096;
    qsort(r1, (size_t)n, sizeof r1[0], cmp_double);
    qsort(r2, (size_t)n, sizeof r2[0], cmp_double);
    double m1 = n ? r1[n / 2] : 0, m2 = n ? r2[n / 2] : 0;
    fprintf(stderr,
            "GOGC=%s: %d steady cycles, %d out of bounds; median heap at mark end %.2f x goal "
            "L*(1+GOGC/100), median marked %.2f x L\n",
            gogc, n, bad, m1, m2);
    EXPECT_GE(n, 3);
    /* An overshooting cycle now and then is reported; the steady state
     * (the median) must hold. */
    EXPECT_LE(bad, n / 4 + 1);
    EXPECT_GE(m1, 0.8);
    EXPECT_LE(m1, 1.6);
    EXPECT_GE(m2, 0.9);
    EXPECT_LE(m2, 1.3);
    /* The pacer saw the last cycle's scan work: the ring's pointer array
     * (the only scannable object) is scanned every cycle, so the cons/mark
     * estimate had a real input (its sign and size are the controller's
     * business: Go's can go negative too). */
    const char *ps = strstr(r.out, "pacer ");
    REQUIRE_TRUE(ps != NULL);
    unsigned long long scan = 0, ring_bytes = 0, runway = 0;
    double cons_mark = 0;
    int overflow = 1;
    REQUIRE_EQ(sscanf(ps,
                      "pacer last_heap_scan=%llu ring=%llu cons_mark=%lf runway=%llu overflow=%d",
                      &scan, &ring_bytes, &cons_mark, &runway, &overflow),
               5);
    EXPECT_GE(scan, ring_bytes);
    EXPECT_EQ(overflow, 0);
    free_run(&r);
}

static void test_gogc_50(void) {
    steady("50", 50);
}
static void test_gogc_100(void) {
    steady("100", 100);
}
static void test_gogc_200(void) {
    steady("200", 200);
}

/* ---- heap_scan: the worst-case scan work of a cycle --------------------------- */

/* Go's heapScan at a mark's start is the last mark's heap scan work plus
 * the scannable allocation since; revise extrapolates the assist ratio to
 * it when a mark's scan work outgrows the last one's. Without the
 * allocation in it, a live heap that grew since the last cycle had the
 * mark's work pass the "worst case" at once: remaining work pinned at
 * its floor, an assist ratio of ~0, megabytes of allocation paid for by
 * each assist, and the heap far past its goal (binary-trees, 2 threads:
 * 41 -> 107 MB against a 48 MB goal). A thread outside the runtime reads
 * the pacer while the mark runs. */
struct scan_node {
    struct scan_node *next;
    uint64_t pad[7];
};
static struct scan_node *volatile scan_list;
static int poll_stop; /* atomic */
static uint64_t polled_heap_scan, polled_marks;

static void *poll_pacer(void *arg) {
    (void)arg;
    while (!gcrt_load_acquire(&poll_stop)) {
        if (!gcrt_load_acquire(&gcrt__gc_marking)) continue;
        struct gcrt_pacer p;
        gcrt__gc_pacer_state(&p);
        if (!gcrt_load_acquire(&gcrt__gc_marking)) continue;
        if (p.triggered == GCRT_PACER_NO_TRIGGER) continue; /* not started yet */
        if (p.heap_scan > polled_heap_scan) polled_heap_scan = p.heap_scan;
        polled_marks++;
    }
    return NULL;
}

static __attribute__((noinline)) void build_scan_list(size_t n) {
    struct scan_node *h = NULL;
    for (size_t i = 0; i < n; i++) {
        struct scan_node *x = gcrt_alloc(sizeof *x);
        gcrt_store(&x->next, h);
        h = x;
    }
    scan_list = h;
}

static void test_heap_scan_counts_scannable_allocation(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    int old = gcrt_set_gc_percent(-1); /* only the cycles below */
    const size_t mb = 16, n = (mb << 20) / sizeof(struct scan_node);
    int seen = 0;
    for (int attempt = 0; attempt < 5 && !seen; attempt++) {
        scan_list = NULL;
        gcrt_gc();
        gcrt_gc(); /* the last mark scanned (almost) nothing */
        uint64_t base = gcrt_load_relaxed(&gcrt__heap_scan_alloc);
        EXPECT_ULT(base, 1u << 20);
        build_scan_list(n);
        for (size_t i = 0; i < n; i++) sink = gcrt_alloc_noscan(64); /* not scannable */
        uint64_t grown = gcrt_load_relaxed(&gcrt__heap_scan_alloc) - base;
        /* Counted as spans leave the cache (Go: scanAlloc at refill): all
         * but what the one span still cached holds (64-byte class, 8 KiB). */
        EXPECT_UGE(grown, ((uint64_t)mb << 20) - 8192);
        EXPECT_ULT(grown, (uint64_t)(mb + 2) << 20);
        polled_heap_scan = polled_marks = 0;
        gcrt_store_release(&poll_stop, 0);
        pthread_t t;
        REQUIRE_EQ(pthread_create(&t, NULL, poll_pacer, NULL), 0);
        gcrt_gc(); /* marks the 16 MiB list */
        gcrt_store_release(&poll_stop, 1);
        pthread_join(t, NULL);
        /* Zeroed at mark termination: the new base is the mark's work. */
        EXPECT_ULT(gcrt_load_relaxed(&gcrt__heap_scan_alloc), 1u << 20);
        if (polled_marks == 0) continue; /* the mark ran unseen: again */
        seen = 1;
        EXPECT_UGE(polled_heap_scan, ((uint64_t)mb << 20) - 8192);
    }
    EXPECT_TRUE(seen);
    scan_list = NULL;
    gcrt_set_gc_percent(old);
}

/* ---- more attached threads than CPUs ------------------------------------------- */

/* Each thread keeps a short list of 16-byte nodes (dropped every 4096) and
 * allocates as fast as it can: a live heap of a few hundred KiB, the 4 MB
 * minimum goal, a cycle every few milliseconds. */
static long threads_iters;
static void *threads_worker(void *arg) {
    (void)arg;
    if (gcrt_thread_attach() != 0) return (void *)1;
    struct scan_node *keep = NULL;
    for (long i = 0; i < threads_iters; i++) {
        struct scan_node *n = gcrt_alloc(16);
        gcrt_store(&n->next, keep);
        keep = n;
        if ((i & 4095) == 0) keep = NULL;
    }
    gcrt_thread_detach();
    return NULL;
}

static int child_threads(void) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    int nt = (int)(8 * ncpu);
    if (nt < 16) nt = 16;
    if (nt > 64) nt = 64;
    threads_iters = th_env_long("GCRT_THREADS_ALLOCS", 16L << 20) / nt;
    gcrt_init();
    pthread_t t[64];
    for (int i = 0; i < nt; i++)
        if (pthread_create(&t[i], NULL, threads_worker, NULL) != 0) return 2;
    for (int i = 0; i < nt; i++) gcrt_pthread_join(t[i], NULL);
    printf("threads %d\n", nt);
    return 0;
}

/* With 8 attached threads per CPU, every allocating thread reaches the
 * trigger and the goal long before the one starting the cycle or marking
 * gets a CPU. The heap at mark end stays within 2x the goal but for a
 * cycle in 50 (it stays at the goal, as Go's with as many goroutines
 * does). Before: the threads
 * that found a start under way allocated on (Go's wait on startSema was
 * missing), assists past the goal were forgiven after 1 ms, and the CPU
 * limiter, counting every waiting thread's whole wait as idle time and
 * the assists' wall time as GC time, turned on and waived the assists:
 * heaps of 5-85x the goal, a peak RSS of 146-178 MB for 32 threads whose
 * live heap is 2 MB (16 threads on 2 CPUs: 23-40 cycles of 130-190 over
 * 2x). */
static void test_many_threads_keep_the_goal(void) {
    const char *env[] = {"GOGC=100", "GODEBUG=gctrace=1", "GOMEMLIMIT=", NULL};
    struct run r;
    run_self("threads", env, &r);
    EXPECT_EQ(r.status, 0);
    int n = 0, bad = 0;
    unsigned long h0, h1, h2, goal, worst_h1 = 0, worst_goal = 1;
    const char *s, *q;
    for (char *cur = r.err; (q = next_gc_heap(&cur, &s));) {
        if (sscanf(q, "%lu->%lu->%lu MB, %lu MB goal", &h0, &h1, &h2, &goal) != 4) continue;
        n++;
        /* MB are truncated: a little slack on the 4 MB goal. */
        if (h1 > 2 * goal + 1) {
            bad++;
            if (bad <= 5) fprintf(stderr, "over 2x the goal: %s\n", s);
        }
        if (h1 * worst_goal > worst_h1 * goal) {
            worst_h1 = h1;
            worst_goal = goal;
        }
    }
    fprintf(stderr,
            "%s%d cycles, %d over 2x the goal, worst %lu MB at mark end for a %lu MB goal\n", r.out,
            n, bad, worst_h1, worst_goal);
    /* ~100 cycles here; a handful under TSan, whose globals (counted in
     * the goal) are megabytes. */
    EXPECT_GE(n, 3);
    EXPECT_LE(bad, 1 + n / 50);
    free_run(&r);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "steady")) return child_steady();
    if (argc > 1 && !strcmp(argv[1], "threads")) return child_threads();
    RUN(test_gogc_50);
    RUN(test_gogc_100);
    RUN(test_gogc_200);
    RUN(test_heap_scan_counts_scannable_allocation);
    RUN(test_many_threads_keep_the_goal);
    return th_summary();
}
