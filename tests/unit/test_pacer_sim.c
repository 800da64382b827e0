/* test_pacer_sim.c - the pacer (libgcrt/src/pacer.c) driven through
 * hundreds of simulated GC cycles, as Go tests mgcpacer.go.
 *
 * The model (idealised, like Go's TestGcPacer): a mutator with a constant
 * live heap L allocates at alloc_rate bytes per CPU-ns on `procs` CPUs; the
 * GC scans scan_rate bytes per CPU-ns. Between cycles the mutator has all
 * CPUs and allocates 8 KiB spans until heap_live reaches the trigger (the
 * allocation path's trigger test; coarser steps, say 256 KiB, make the
 * cons/mark measurement of a 13 MB heap noisy enough to oscillate). During marking, in steps of 25
 * us, assists hold scanned/allocated at the pacer's assist ratio a, so the GC's share of the CPU is
 * u = max(0.25, a*alloc / (a*alloc + scan)); the GC scans globals, then stacks, then the live heap
 * (L x scannable), and what the mutator allocates meanwhile is allocated black: marked this cycle,
 * garbage the next. Sweeping is instantaneous (heap_alloc == heap_live),
 * and non-heap memory (stacks, metadata) is a constant of the model.
 * Every cycle's gctrace line is formatted and checked against the regex.
 *
 * Scenarios: steady state for GOGC 50/100/200; GOGC=0; GOGC=off with
 * GOMEMLIMIT=24MiB against golden gctrace_memlimit.txt; knobs changed
 * mid-run; GOGC=off without a limit.
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#include "gctrace.h"
#include "pacer.h"

#define MiB (1ull << 20)
#define KiB (1ull << 10)

struct model {
    uint64_t live;     /* L: reachable heap bytes in the steady state */
    uint64_t stack;    /* stack bytes (all scanned) */
    uint64_t globals;  /* scannable globals */
    double scannable;  /* fraction of heap bytes that hold pointers */
    double alloc_rate; /* bytes per mutator CPU-ns */
    double scan_rate;  /* bytes per GC CPU-ns */
    int32_t procs;     /* GOMAXPROCS */
    uint64_t non_heap; /* mapped bytes outside the heap */
};

struct cycle {
    uint64_t trigger;   /* heap_live when it started (gctrace h0) */
    uint64_t mark_end;  /* heap_live when marking ended (h1) */
    uint64_t marked;    /* bytes marked (h2) */
    uint64_t goal;      /* the goal in force (G) */
    double util;        /* GC share of CPU during the mark */
    int64_t mark_ns;    /* mark duration */
    uint64_t alloc_off; /* bytes allocated between the previous cycle and this one */
};

struct sim {
    struct gcrt_pacer p;
    struct model m;
    int64_t now_ns;
    int64_t gc_cpu_ns; /* for the gctrace CPU fraction */
    uint32_t n;        /* cycles completed */
    regex_t re;
};

static struct gcrt_pacer_mem mem_of(const struct sim *s) {
    return (struct gcrt_pacer_mem){s->m.non_heap + s->p.heap_live, 0, s->p.heap_live};
}

static void sim_init(struct sim *s, int32_t gogc, int64_t limit, struct model m) {
    memset(s, 0, sizeof *s);
    s->m = m;
    gcrt__pacer_init(&s->p, gogc, limit);
    s->p.globals_scan = m.globals;
    s->p.max_stack_scan = m.stack;
    gcrt__pacer_commit(&s->p, true);
    if (regcomp(&s->re, GCRT_GCTRACE_REGEX, REG_EXTENDED | REG_NOSUB) != 0) exit(2);
}

static void sim_free(struct sim *s) {
    regfree(&s->re);
}

/* Scan work done by the GC this step, in Go's order: globals, stacks, heap. */
static int64_t take(int64_t *left, int64_t *work) {
    int64_t d = *left < *work ? *left : *work;
    *left -= d;
    *work -= d;
    return d;
}

/* Runs one cycle. Returns false if the heap never reached a trigger. */
static bool sim_cycle(struct sim *s, struct cycle *out) {
    struct gcrt_pacer *p = &s->p;
    const struct model *m = &s->m;
    const double cpu_ns_per_step = 25000.0 * m->procs;

    /* Off phase: allocate span by span until the trigger test fires. */
    uint64_t start = p->heap_live, limit_bytes = p->heap_live + 1000 * m->live + 1000 * MiB;
    for (;;) {
        struct gcrt_pacer_mem mem = mem_of(s);
        if (p->heap_live >= gcrt__pacer_trigger(p, &mem).trigger) break;
        if (p->heap_live > limit_bytes) return false;
        int64_t span = (int64_t)(8 * KiB);
        gcrt__pacer_update(p, span, (int64_t)(span * m->scannable), false, &mem);
        s->now_ns += (int64_t)((double)span / (m->alloc_rate * m->procs));
    }
    out->alloc_off = p->heap_live - start;
    out->trigger = p->heap_live;

    /* Mark phase. */
    struct gcrt_pacer_mem mem = mem_of(s);
    int64_t t0 = s->now_ns;
    gcrt__pacer_start_cycle(p, t0, m->procs, false, false, &mem);
    uint64_t live = m->live < p->heap_live ? m->live : p->heap_live; /* ramp-up */
    int64_t globals_left = (int64_t)m->globals, stack_left = (int64_t)m->stack;
    int64_t heap_left = (int64_t)((double)live * m->scannable);
    uint64_t black = 0;
    double gc_cpu = 0;
    while (globals_left + stack_left + heap_left > 0) {
        double a = p->assist_work_per_byte;
        double u = a * m->alloc_rate / (a * m->alloc_rate + m->scan_rate);
        if (!(u >= GCRT_PACER_BG_UTILIZATION)) u = GCRT_PACER_BG_UTILIZATION;
        double frac = 1.0; /* of the step actually used */
        int64_t work = (int64_t)(m->scan_rate * cpu_ns_per_step * u);
        int64_t want = work;
        p->globals_scan_work += take(&globals_left, &work);
        p->stack_scan_work += take(&stack_left, &work);
        p->heap_scan_work += take(&heap_left, &work);
        if (work > 0) frac = (double)(want - work) / (double)want;
        double step_cpu = cpu_ns_per_step * frac;
        p->assist_time_ns += (int64_t)(step_cpu * (u - GCRT_PACER_BG_UTILIZATION));
        p->dedicated_mark_time_ns += (int64_t)(step_cpu * GCRT_PACER_BG_UTILIZATION);
        gc_cpu += step_cpu * u;
        s->now_ns += (int64_t)(25000.0 * frac);
        uint64_t alloc = (uint64_t)(m->alloc_rate * step_cpu * (1 - u));
        black += alloc;
        mem = mem_of(s);
        gcrt__pacer_update(p, (int64_t)alloc, 0, true, &mem);
    }
    out->mark_ns = s->now_ns - t0;
    out->mark_end = p->heap_live;
    out->util = gc_cpu / ((double)out->mark_ns * m->procs);
    out->marked = live + black;
    int64_t assist = p->assist_time_ns, bg = p->dedicated_mark_time_ns;

    mem = mem_of(s);
    gcrt__pacer_finish_cycle(p, s->now_ns, m->procs, out->marked, false, &mem);
    out->goal = p->last_heap_goal;
    s->n++;

    /* The gctrace line of this cycle must be well formed. */
    s->gc_cpu_ns += assist + bg + 50000 * m->procs;
    struct gcrt_gctrace_cycle tc = {
        .num = s->n,
        .start_ns = t0,
        .gc_cpu_fraction = (double)s->gc_cpu_ns / ((double)s->now_ns * m->procs),
        .sweep_term_ns = 20000,
        .mark_ns = out->mark_ns,
        .mark_term_ns = 30000,
        .stwprocs = m->procs,
        .assist_cpu_ns = assist,
        .background_cpu_ns = bg,
        .heap_trigger_bytes = out->trigger,
        .heap_mark_end_bytes = out->mark_end,
        .heap_marked_bytes = out->marked,
        .heap_goal_bytes = out->goal,
        .stacks_bytes = m->stack,
        .globals_bytes = m->globals,
        .procs = m->procs,
    };
    char line[GCRT_GCTRACE_LINE_MAX];
    size_t len = gcrt__gctrace_format(line, sizeof line, &tc);
    line[len - 1] = 0;
    if (regexec(&s->re, line, 0, NULL, 0) != 0) FAILF("bad gctrace line: %s", line);
    if (getenv("GCRT_PACER_SIM_TRACE")) /* for tuning: the line and the estimate */
        fprintf(stderr, "%s  cons/mark %.5f runway %llu\n", line, p->cons_mark,
                (unsigned long long)p->runway);
    return true;
}

/* Runs n cycles into c[0..n). */
static int sim_run(struct sim *s, struct cycle *c, int n) {
    for (int i = 0; i < n; i++)
        if (!sim_cycle(s, &c[i])) return i;
    return n;
}

static double ratio(uint64_t a, uint64_t b) {
    return (double)a / (double)b;
}

/* Over c[from..to): mark-end heap within [lo, hi] x goal, triggers within
 * 1% of their mean. */
static void expect_settled(const struct cycle *c, int from, int to, double lo, double hi) {
    double sum = 0, tmin = 1e300, tmax = 0;
    for (int i = from; i < to; i++) {
        double r = ratio(c[i].mark_end, c[i].goal);
        if (r < lo || r > hi)
            FAILF("cycle %d: heap at mark end %llu is %.3f x goal %llu", i + 1,
                  (unsigned long long)c[i].mark_end, r, (unsigned long long)c[i].goal);
        sum += (double)c[i].trigger;
        if (c[i].trigger < tmin) tmin = (double)c[i].trigger;
        if (c[i].trigger > tmax) tmax = (double)c[i].trigger;
    }
    double mean = sum / (to - from);
    if ((tmax - tmin) / mean > 0.01)
        FAILF("cycles %d..%d: triggers spread %.0f..%.0f (mean %.0f)", from + 1, to, tmin, tmax,
              mean);
}

static const struct model steady = {
    .live = 64 * MiB,
    .stack = 256 * KiB,
    .globals = 128 * KiB,
    .scannable = 0.75,
    .alloc_rate = 1.0 / 32,
    .scan_rate = 1.0,
    .procs = 4,
};

enum { N = 300 };
static struct cycle c[N];

static void steady_gogc(int32_t gogc) {
    struct sim s;
    sim_init(&s, gogc, GCRT_PACER_NO_LIMIT, steady);
    REQUIRE_EQ(sim_run(&s, c, N), N);
    expect_settled(c, 100, N, 0.95, 1.05);
    const struct model *m = &steady;
    /* Against L x (1 + GOGC/100) (+ the stacks and globals term): above
     * by what was allocated black during the previous mark, which stays
     * marked one more cycle; at this alloc/scan ratio that is ~6% of L. */
    double target = (double)m->live + (double)(m->live + m->stack + m->globals) * gogc / 100;
    double black = (double)(c[N - 1].marked - m->live);
    EXPECT_TRUE(black > 0 && black < 0.08 * (double)m->live);
    for (int i = 100; i < N; i++) {
        double r = (double)c[i].mark_end / target;
        if (r < 1.0 || r > 1.10) {
            FAILF("GOGC=%d cycle %d: heap at mark end %llu is %.3f x L(1+GOGC/100)", gogc, i + 1,
                  (unsigned long long)c[i].mark_end, r);
            break;
        }
    }
    /* The goal is GOGC's formula on what was marked. */
    const struct cycle *a = &c[N - 2], *b = &c[N - 1];
    EXPECT_UEQ(b->goal, a->marked + (a->marked + m->stack + m->globals) * (uint64_t)gogc / 100);
    /* Pacing converged: cons/mark near alloc/scan, assists small, the GC
     * near its 25% CPU. */
    double cm = s.p.cons_mark / (m->alloc_rate / m->scan_rate);
    if (cm < 0.95 || cm > 1.05) FAILF("GOGC=%d: cons/mark %.4f x alloc/scan", gogc, cm);
    if (b->util < 0.25 || b->util > 0.26) FAILF("GOGC=%d: GC utilisation %.4f", gogc, b->util);
    fprintf(stderr, "GOGC=%d: trigger %llu, mark end %llu, goal %llu, marked %llu, util %.4f\n",
            gogc, (unsigned long long)b->trigger, (unsigned long long)b->mark_end,
            (unsigned long long)b->goal, (unsigned long long)b->marked, b->util);
    sim_free(&s);
}

static void test_steady_gogc50(void) {
    steady_gogc(50);
}
static void test_steady_gogc100(void) {
    steady_gogc(100);
}
static void test_steady_gogc200(void) {
    steady_gogc(200);
}

static void test_gogc0_continuous(void) {
    struct sim s;
    struct model m = steady;
    m.live = 16 * MiB;
    sim_init(&s, 0, GCRT_PACER_NO_LIMIT, m);
    REQUIRE_EQ(sim_run(&s, c, N), N);
    /* heap_minimum 0 and goal = heap_marked: the next cycle starts as soon
     * as the sweeper's 1 MiB distance is allocated (checked once the heap
     * has grown to L, 1 MiB a cycle). */
    for (int i = 30; i < N; i++) {
        EXPECT_UEQ(c[i].trigger, c[i - 1].marked + MiB);
        EXPECT_UEQ(c[i].alloc_off, MiB);
        EXPECT_UEQ(c[i].goal, c[i].trigger + 64 * KiB);
        /* Assists hold the heap near the goal; the GC takes most CPU. */
        EXPECT_ULE(c[i].mark_end, c[i].goal + c[i].goal / 10);
        EXPECT_TRUE(c[i].util > 0.75);
        EXPECT_ULE(c[i].marked, m.live + 2 * MiB);
    }
    sim_free(&s);
}

/* Golden gctrace_memlimit.txt: GOGC=off GOMEMLIMIT=24MiB, goal "13 MB".
 * Model inputs: non-heap memory 9715608 bytes (that program's MemStats:
 * Sys - HeapSys + HeapInuse - HeapAlloc), a live heap of 8 MiB (its h2
 * runs 6-12 MB), 2 Ps as in the golden run. */
static void test_memory_limit_gogc_off(void) {
    struct sim s;
    struct model m = steady;
    m.live = 8 * MiB;
    m.procs = 2;
    m.non_heap = 9715608;
    const int64_t limit = 24 * MiB;
    sim_init(&s, -1, limit, m);
    REQUIRE_EQ(sim_run(&s, c, N / 2), N / 2);
    for (int i = 20; i < N / 2; i++) {
        /* 24 MiB - 9715608 - 1 MiB; lower only if the heap overshot. */
        EXPECT_ULE(c[i].goal, 14401640);
        EXPECT_UGE(c[i].goal, 14401640 - MiB / 2);
        EXPECT_UEQ(c[i].goal >> 20, 13);
        /* Mapped memory stays under the limit (2% slack for overshoot). */
        EXPECT_ULE(m.non_heap + c[i].mark_end, (uint64_t)limit + (uint64_t)limit / 50);
    }
    expect_settled(c, 50, N / 2, 0.95, 1.05);

    /* Non-heap memory grows by 4 MiB (say, goroutine stacks): the goal
     * follows the limit minus non-heap memory down by as much. */
    s.m.non_heap += 4 * MiB;
    REQUIRE_EQ(sim_run(&s, c, N / 2), N / 2);
    for (int i = 20; i < N / 2; i++) {
        EXPECT_ULE(c[i].goal, 14401640 - 4 * MiB);
        EXPECT_UGE(c[i].goal, 14401640 - 4 * MiB - MiB / 2);
        EXPECT_ULE(s.m.non_heap + c[i].mark_end, (uint64_t)limit + (uint64_t)limit / 50);
    }
    sim_free(&s);
}

static void test_gogc_off_no_limit(void) {
    struct sim s;
    sim_init(&s, -1, GCRT_PACER_NO_LIMIT, steady);
    struct cycle one;
    EXPECT_FALSE(sim_cycle(&s, &one)); /* no trigger, ever */
    sim_free(&s);
}

/* SetGCPercent / SetMemoryLimit between cycles (Go: under the heap lock,
 * then commit; sweeping has finished by then in this model). */
static void test_knobs_mid_run(void) {
    struct sim s;
    struct model m = steady;
    m.live = 32 * MiB;
    m.non_heap = 4 * MiB;
    sim_init(&s, 100, GCRT_PACER_NO_LIMIT, m);
    const double sg = (double)(m.stack + m.globals);

    REQUIRE_EQ(sim_run(&s, c, 100), 100);
    expect_settled(c, 50, 100, 0.95, 1.05);
    double r = ratio(c[99].goal, c[99].marked);
    EXPECT_TRUE(r > 1.99 && r < 2.02);

    EXPECT_EQ(gcrt__pacer_set_gc_percent(&s.p, 50), 100);
    gcrt__pacer_commit(&s.p, true);
    EXPECT_UEQ(gcrt__pacer_heap_goal(&s.p, &(struct gcrt_pacer_mem){0, 0, 0}),
               c[99].marked + (c[99].marked + m.stack + m.globals) / 2);
    REQUIRE_EQ(sim_run(&s, c, 100), 100);
    expect_settled(c, 50, 100, 0.95, 1.05);
    r = ((double)c[99].goal - (double)c[98].marked) / ((double)c[98].marked + sg);
    EXPECT_TRUE(fabs(r - 0.5) < 0.001);

    /* GC off, a limit of non-heap + 48 MiB + 1 MiB headroom: goal 48 MiB. */
    EXPECT_EQ(gcrt__pacer_set_gc_percent(&s.p, -1), 50);
    EXPECT_EQ(gcrt__pacer_set_memory_limit(&s.p, (int64_t)(m.non_heap + 49 * MiB)), INT64_MAX);
    gcrt__pacer_commit(&s.p, true);
    REQUIRE_EQ(sim_run(&s, c, 100), 100);
    for (int i = 20; i < 100; i++) {
        EXPECT_ULE(c[i].goal, 48 * MiB);
        EXPECT_UGE(c[i].goal, 47 * MiB);
    }
    expect_settled(c, 50, 100, 0.95, 1.05);

    /* Limit off again, GOGC=200: goal 3x. */
    EXPECT_EQ(gcrt__pacer_set_memory_limit(&s.p, -1), (int64_t)(m.non_heap + 49 * MiB));
    EXPECT_EQ(gcrt__pacer_set_memory_limit(&s.p, GCRT_PACER_NO_LIMIT),
              (int64_t)(m.non_heap + 49 * MiB));
    EXPECT_EQ(gcrt__pacer_set_gc_percent(&s.p, 200), -1);
    gcrt__pacer_commit(&s.p, true);
    REQUIRE_EQ(sim_run(&s, c, 100), 100);
    expect_settled(c, 50, 100, 0.95, 1.05);
    r = ((double)c[99].goal - (double)c[98].marked) / ((double)c[98].marked + sg);
    EXPECT_TRUE(fabs(r - 2.0) < 0.001);
    sim_free(&s);
}

/* A heap that keeps growing: revise extends the goal, assists stay
 * bounded, the pacer never throws (trigger <= goal). */
static void test_growing_heap(void) {
    struct sim s;
    struct model m = steady;
    m.live = 4 * MiB;
    sim_init(&s, 100, GCRT_PACER_NO_LIMIT, m);
    for (int i = 0; i < 100; i++) {
        s.m.live = 4 * MiB + (uint64_t)i * MiB; /* +1 MiB live per cycle */
        REQUIRE_TRUE(sim_cycle(&s, &c[i]));
        EXPECT_ULE(c[i].trigger, c[i].goal);
        /* At most goal x 2 (revise's hard goal) x 1.1 overshoot. */
        EXPECT_ULE(c[i].mark_end, c[i].goal * 22 / 10);
    }
    sim_free(&s);
}

int main(void) {
    RUN(test_steady_gogc50);
    RUN(test_steady_gogc100);
    RUN(test_steady_gogc200);
    RUN(test_gogc0_continuous);
    RUN(test_memory_limit_gogc_off);
    RUN(test_gogc_off_no_limit);
    RUN(test_knobs_mid_run);
    RUN(test_growing_heap);
    return th_summary();
}
