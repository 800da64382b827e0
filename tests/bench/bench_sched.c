/* bench_sched.c - scheduler microbenchmarks, side by side with
 * tests/bench/go/sched/main.go (Go 1.19). Not a ctest test: no timing is
 * asserted. Run tests/bench/run-sched.sh; results in RESULTS.md.
 *
 *   create+exit     ns per goroutine: main starts N goroutines that only
 *                   call wg.Done, then waits (Go: go func(){wg.Done()}())
 *   pingpong        ns per round trip over two unbuffered channels
 *   parked memory   RSS bytes per goroutine blocked on a channel receive,
 *                   and the kernel's page tables for it (VmPTE): each stack
 *                   reserves its maximum, so sparse stacks cost page-table
 *                   pages (2 KiB per goroutine at the 1 MiB default)
 *   stop-the-world  time to stop all Ms with 10,000 parked goroutines
 *                   (median, max over 1000 stops); Go's number is the
 *                   STW pause of runtime.GC() (both pauses) for context */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcrt_chan.h"
#include "gcrt_sched.h"
#include "gcrt_sync.h"
#include "sched.h"

static gcrt_wg_t wg;

static void nop(void *arg) {
    gcrt_wg_done(&wg);
}

static double bench_create_exit(int n) {
    int64_t best = INT64_MAX;
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = gcrt_nanotime();
        gcrt_wg_add(&wg, n);
        for (int i = 0; i < n; i++) gcrt_go(nop, NULL);
        gcrt_wg_wait(&wg);
        int64_t dt = gcrt_nanotime() - t0;
        if (dt < best) best = dt;
    }
    return (double)best / n;
}

static gcrt_chan_t *ping, *pong;
static void ponger(void *arg) {
    int v;
    while (gcrt_chan_recv(ping, &v, NULL)) gcrt_chan_send(pong, &v);
}

static double bench_pingpong(int n) {
    ping = gcrt_chan_make(sizeof(int), 0);
    pong = gcrt_chan_make(sizeof(int), 0);
    gcrt_go(ponger, NULL);
    int64_t best = INT64_MAX;
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = gcrt_nanotime();
        for (int i = 0; i < n; i++) {
            gcrt_chan_send(ping, &i);
            int v;
            gcrt_chan_recv(pong, &v, NULL);
        }
        int64_t dt = gcrt_nanotime() - t0;
        if (dt < best) best = dt;
    }
    gcrt_chan_close(ping);
    return (double)best / n;
}

static gcrt_chan_t *never;
static void blocked(void *arg) {
    int v;
    gcrt_wg_done(&wg);
    gcrt_chan_recv(never, &v, NULL);
}

/* A field of /proc/self/status in KiB (VmRSS, VmPTE). */
static long status_kib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    long v = 0;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k)) sscanf(line + k, "%ld", &v);
    fclose(f);
    return v;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_parked(int n, double *bytes_per_g, double *pte_per_g, int64_t *stw_median,
                         int64_t *stw_max) {
    never = gcrt_chan_make(sizeof(int), 0);
    long rss0 = status_kib("VmRSS:"), pte0 = status_kib("VmPTE:");
    gcrt_wg_add(&wg, n);
    for (int i = 0; i < n; i++) gcrt_go(blocked, NULL);
    gcrt_wg_wait(&wg);
    gcrt_sleep(10 * 1000000); /* let the last ones park */
    long rss1 = status_kib("VmRSS:"), pte1 = status_kib("VmPTE:");
    *bytes_per_g = (double)(rss1 - rss0) * 1024 / n;
    *pte_per_g = (double)(pte1 - pte0) * 1024 / n;
    enum { STOPS = 1000 };
    static int64_t t[STOPS];
    for (int i = 0; i < STOPS; i++) {
        t[i] = gcrt__stop_the_world("bench");
        gcrt__start_the_world();
    }
    qsort(t, STOPS, sizeof t[0], cmp64);
    *stw_median = t[STOPS / 2];
    *stw_max = t[STOPS - 1];
    gcrt_chan_close(never); /* release them */
}

static int real_main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    printf("GOMAXPROCS=%d\n", gcrt_gomaxprocs(0));
    /* First, while no stack is cached: parked goroutines on fresh stacks. */
    double per_g, pte_g;
    int64_t med, max;
    bench_parked(10000, &per_g, &pte_g, &med, &max);
    printf("goroutine create+exit: %.0f ns\n", bench_create_exit(n));
    printf("unbuffered ping-pong round trip: %.0f ns\n", bench_pingpong(n / 4));
    printf("memory per parked goroutine: %.0f bytes RSS + %.0f bytes page tables\n", per_g, pte_g);
    printf("stop-the-world, 10000 parked goroutines: median %.1f us, max %.1f us\n", med / 1e3,
           max / 1e3);
    return 0;
}

int main(int argc, char **argv) {
    return gcrt_main(real_main, argc, argv);
}
