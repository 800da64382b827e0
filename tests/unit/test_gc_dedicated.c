/* test_gc_dedicated.c - the mark workers' modes, in a running program (the
 * plan itself is pure code, test_pacer's test_worker_mode). Go 1.19 gives
 * a cycle int(GOMAXPROCS/4 + 0.5) dedicated workers unless that misses the
 * 25% goal by over 30%, and covers the rest with fractional workers
 * (gcControllerState.startCycle):
 *   - GOMAXPROCS=4: one dedicated worker, no fractional share;
 *   - GOMAXPROCS=2: none dedicated (1 would be 50%), fractional ones.
 * The child, with the setting, collects a 16 MiB tree a few times (forced
 * cycles and heap-triggered ones) and prints the workers' CPU by mode. No
 * timing: only which modes ran. */
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
    RUN(test_four_procs_one_dedicated);
    RUN(test_two_procs_fractional);
    return th_summary();
}
