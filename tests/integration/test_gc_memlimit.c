/* test_gc_memlimit.c - GOMEMLIMIT honoured by a workload that would
 * exceed it: GOMEMLIMIT=64MiB with GOGC=off, 16 MiB live and 1 GiB of
 * garbage churned through it. Sys - HeapReleased (what the limit counts,
 * spec 8.4), sampled after each 16 MiB of garbage, must stay under the
 * limit: its median under 1.1x, its peak under 1.6x (a loaded machine
 * delays the mark; quiet, the peak is 0.96-0.98x). And the limit must drive
 * collections (none forced). Also with GOGC=100 and a limit below the GOGC
 * goal. The child is this program run again with the environment. */
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

static int child_memlimit(void) {
    gcrt_init();
    fill_ring(16);
    uint64_t peak = 0, samples[64];
    struct gcrt_memstats at; /* at the peak: for the report when it is too high */
    memset(&at, 0, sizeof at);
    for (int i = 0; i < 64; i++) {
        churn(16u << 20); /* 1 GiB of garbage in all */
        struct gcrt_memstats ms;
        gcrt_read_memstats(&ms);
        samples[i] = ms.sys - ms.heap_released;
        if (ms.sys - ms.heap_released > peak) {
            peak = ms.sys - ms.heap_released;
            at = ms;
        }
    }
    for (int i = 1; i < 64; i++) /* insertion sort, for the median */
        for (int j = i; j > 0 && samples[j - 1] > samples[j]; j--) {
            uint64_t t = samples[j];
            samples[j] = samples[j - 1];
            samples[j - 1] = t;
        }
    printf("peak=%llu median=%llu\n", (unsigned long long)peak, (unsigned long long)samples[32]);
    printf("at the peak: numgc %u nextgc %llu heapalloc %llu heapinuse %llu heapidle %llu "
           "released %llu stacksys %llu gcsys %llu othersys %llu gccpu %.3f; limiter last on "
           "in cycle %u\n",
           at.num_gc, (unsigned long long)at.next_gc, (unsigned long long)at.heap_alloc,
           (unsigned long long)at.heap_inuse, (unsigned long long)at.heap_idle,
           (unsigned long long)at.heap_released, (unsigned long long)at.stack_sys,
           (unsigned long long)at.gc_sys, (unsigned long long)at.other_sys, at.gc_cpu_fraction,
           gcrt_gc_limiter_last_enabled());
    print_stats("final");
    return 0;
}

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

static void limit_case(const char *gogc) {
    char e[32];
    snprintf(e, sizeof e, "GOGC=%s", gogc);
    const char *env[] = {e, "GOMEMLIMIT=64MiB", NULL};
    struct run r;
    run_self("memlimit", env, &r);
    EXPECT_EQ(r.status, 0);
    unsigned long long peak = 0, median = 0;
    const char *p = strstr(r.out, "peak=");
    REQUIRE_TRUE(p != NULL);
    REQUIRE_EQ(sscanf(p, "peak=%llu median=%llu", &peak, &median), 2);
    struct st f;
    REQUIRE_TRUE(get_stats(r.out, "final", &f));
    fprintf(stderr,
            "GOMEMLIMIT=64MiB GOGC=%s: Sys-HeapReleased peak %.1f MiB, median %.1f MiB, %u "
            "cycles\n",
            gogc, peak / 1048576.0, median / 1048576.0, f.numgc);
    EXPECT_GE(f.numgc, 5);
    EXPECT_EQ(f.forced, 0);
    /* A soft limit: under CPU contention (ctest -j) the mark can lag and the
     * heap overshoots; without the limit it would reach ~1 GiB. When the GC
     * CPU limiter turned on (GC over half the CPU: a TSan build beside other
     * builds, CI 2026-12-01: 297 MiB in 153 cycles), the limit yields to it
     * by design (Go: assists and the allocation's scavenging stop while it
     * is on), and only a bound that still catches an ignored limit holds. */
    unsigned limiter_on = 0;
    const char *l = strstr(r.out, "limiter last on in cycle ");
    if (l) sscanf(l, "limiter last on in cycle %u", &limiter_on);
    unsigned long long bound = (unsigned long long)((limiter_on ? 8 : 1.6) * (64 << 20));
    EXPECT_ULE(peak, bound);
    if (!limiter_on) EXPECT_ULE(median, (unsigned long long)(1.1 * (64 << 20)));
    if (peak > (unsigned long long)(64 * 1.6 * (1 << 20))) fputs(r.out, stderr);
    free_run(&r);
}

static void test_memory_limit_gogc_off(void) {
    limit_case("off");
}

static void test_memory_limit_below_gogc_goal(void) {
    limit_case("400"); /* GOGC goal 80 MiB: the limit must win */
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "memlimit")) return child_memlimit();
    RUN(test_memory_limit_gogc_off);
    RUN(test_memory_limit_below_gogc_goal);
    return th_summary();
}
