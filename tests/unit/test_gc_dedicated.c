/* test_gc_dedicated.c - the mark workers' modes, in a running program (the
 * plan itself is pure code, test_pacer's test_worker_mode). Go 1.19 gives
 * a cycle int(GOMAXPROCS/4 + 0.5) dedicated workers unless that misses the
 * 25% goal by over 30%, and covers the rest with fractional workers
 * (gcControllerState.startCycle):
 *   - GOMAXPROCS=4: one dedicated worker, no fractional share;
 *   - GOMAXPROCS=2: none dedicated (1 would be 50%), fractional ones.
 * The child, with the setting, collects a 16 MiB tree a few times (forced
 * cycles and heap-triggered ones) and prints the workers' CPU by mode. No
 * timing: only which modes ran.
 * And the periodic cycle (Go's forcegc, gcTriggerTime) of an idle program
 * runs no idle workers when a dedicated one runs (Go 1.19's startCycle:
 * setMaxIdleMarkWorkers(0), or 1 without a dedicated worker), so an idle
 * program is not woken on every P every 2 minutes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "gc.h"
#include "common/run_self.h"

struct tnode {
    struct tnode *l, *r;
};

static struct tnode *tree(int d) {
    struct tnode *n = gcrt_alloc(sizeof *n);
    if (d > 0) {
        gcrt_store((void **)&n->l, tree(d - 1));
        gcrt_store((void **)&n->r, tree(d - 1));
    }
    return n;
}

static struct tnode *volatile keep;

static int child(void) {
    if (gcrt_init() != 0) return 3;
    keep = tree(19); /* 1 M nodes, 16 MiB */
    for (int i = 0; i < 6; i++) {
        gcrt_gc();
        for (int k = 0; k < 4; k++) tree(16); /* garbage: heap-triggered cycles */
    }
    int64_t ded, frac, idle;
    gcrt__gc_worker_cpu_totals(&ded, &frac, &idle);
    printf("workers dedicated=%lld fractional=%lld idle=%lld gomaxprocs=%d\n", (long long)ded,
           (long long)frac, (long long)idle, gcrt_gomaxprocs(0));
    return 0;
}

/* GOMAXPROCS=4: periodic cycles while the program sleeps; the workers' CPU
 * by mode over those cycles only. */
static int child_periodic(void) {
    if (gcrt_init() != 0) return 3;
    keep = tree(19);
    gcrt_gc(); /* the first cycle: periodic ones come only after one */
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint32_t n0 = ms.num_gc;
    int64_t d0, f0, i0, d1, f1, i1;
    gcrt__gc_worker_cpu_totals(&d0, &f0, &i0);
    /* (Atomic: the scavenger thread reads it.) */
    __atomic_store_n(&gcrt__forcegc_period_ns, (int64_t)100 * 1000 * 1000, __ATOMIC_RELAXED);
    gcrt_sleep(1500 * 1000 * 1000); /* idle: only periodic cycles */
    __atomic_store_n(&gcrt__forcegc_period_ns, (int64_t)120 * 1000 * 1000 * 1000, __ATOMIC_RELAXED);
    gcrt_read_memstats(&ms);
    gcrt__gc_worker_cpu_totals(&d1, &f1, &i1);
    printf("periodic cycles=%u dedicated=%lld fractional=%lld idle=%lld\n", ms.num_gc - n0,
           (long long)(d1 - d0), (long long)(f1 - f0), (long long)(i1 - i0));
    return 0;
}

static void test_periodic_cycle_no_idle_workers(void) {
    const char *env[] = {"GOMAXPROCS=4", "GOGC=100", NULL};
    struct run r;
    run_self("periodic", env, &r);
    EXPECT_EQ(r.status, 0);
    const char *p = strstr(r.out, "periodic ");
    unsigned n = 0;
    long long ded = -1, frac = -1, idle = -1;
    if (p)
        sscanf(p, "periodic cycles=%u dedicated=%lld fractional=%lld idle=%lld", &n, &ded, &frac,
               &idle);
    fprintf(stderr, "GOMAXPROCS=4, idle program: %s", p ? p : "(no line)\n");
    EXPECT_GE(n, 2);
    EXPECT_TRUE(ded > 0);
    EXPECT_EQ(idle, 0);
    free_run(&r);
}

static void run_with(const char *procs, long long *ded, long long *frac, long long *idle) {
    const char *env[] = {procs, "GOGC=100", NULL};
    struct run r;
    run_self("child", env, &r);
    EXPECT_EQ(r.status, 0);
    const char *p = strstr(r.out, "workers ");
    *ded = *frac = *idle = -1;
    if (p) sscanf(p, "workers dedicated=%lld fractional=%lld idle=%lld", ded, frac, idle);
    fprintf(stderr, "%s: %s", procs, p ? p : "(no line)\n");
    free_run(&r);
}

static void test_four_procs_one_dedicated(void) {
    long long ded, frac, idle;
    run_with("GOMAXPROCS=4", &ded, &frac, &idle);
    EXPECT_TRUE(ded > 0);
    EXPECT_EQ(frac, 0);
}

static void test_two_procs_fractional(void) {
    long long ded, frac, idle;
    run_with("GOMAXPROCS=2", &ded, &frac, &idle);
    EXPECT_EQ(ded, 0);
    EXPECT_TRUE(frac > 0);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "child")) return child();
    if (argc > 1 && !strcmp(argv[1], "periodic")) return child_periodic();
    RUN(test_four_procs_one_dedicated);
    RUN(test_two_procs_fractional);
    RUN(test_periodic_cycle_no_idle_workers);
    return th_summary();
}
