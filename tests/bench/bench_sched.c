/* bench_sched.c - scheduler microbenchmarks, side by side with
 * tests/bench/go/sched/main.go (Go 1.19). Not a ctest test: no timing is
 * asserted. Run tests/bench/run-sched.sh; results in RESULTS-sched.md.
 *
 *   create+exit     ns per goroutine: main starts N goroutines that only
 *                   call wg.Done, then waits (Go: go func(){wg.Done()}())
 *   pingpong        ns per round trip over two unbuffered channels
 *   buffered        ns per message through a channel of capacity 128: one
 *                   goroutine sends N values, main receives them
 *   fan-out/fan-in  10,000 goroutines each receive one value from an
 *                   unbuffered channel fed by one goroutine and send its
 *                   double to a second one that main drains: us per round
 *                   (goroutines started and finished within it)
 *   parked memory   RSS bytes per goroutine blocked on a channel receive,
 *                   and the kernel's page tables for it (VmPTE): each stack
 *                   reserves its maximum, so sparse stacks cost page-table
 *                   pages (2 KiB per goroutine at the 1 MiB default)
 *   stop-the-world  time to stop all Ms with 10,000 parked goroutines
 *                   (median, max over 1000 stops); Go's number is the
 *                   STW pause of runtime.GC() (both pauses) for context
 *
 * Every time is the best of 5 repetitions. Usage: bench_sched [N [name]];
 * name runs one of create, pingpong, buffered, fanout, parked (for perf). */
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

static gcrt_chan_t *bufc;
static int bufn;
static void producer(void *arg) {
    for (int i = 0; i < bufn; i++) gcrt_chan_send(bufc, &i);
}

static double bench_buffered(int n) {
    bufc = gcrt_chan_make(sizeof(int), 128);
    bufn = n;
    int64_t best = INT64_MAX;
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = gcrt_nanotime();
        gcrt_go(producer, NULL);
        long sum = 0;
        for (int i = 0; i < n; i++) {
            int v;
            gcrt_chan_recv(bufc, &v, NULL);
            sum += v;
        }
        int64_t dt = gcrt_nanotime() - t0;
        if (sum != (long)n * (n - 1) / 2) abort();
        if (dt < best) best = dt;
    }
    return (double)best / n;
}

enum { FANOUT = 10000 };
static gcrt_chan_t *fan_in, *fan_out;
static void fan_worker(void *arg) {
    int v;
    gcrt_chan_recv(fan_in, &v, NULL);
    v *= 2;
    gcrt_chan_send(fan_out, &v);
}
static void fan_feeder(void *arg) {
    for (int i = 0; i < FANOUT; i++) gcrt_chan_send(fan_in, &i);
}

/* us per round of FANOUT goroutines. */
static double bench_fanout(void) {
    fan_in = gcrt_chan_make(sizeof(int), 0);
    fan_out = gcrt_chan_make(sizeof(int), 0);
    int64_t best = INT64_MAX;
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = gcrt_nanotime();
        for (int i = 0; i < FANOUT; i++) gcrt_go(fan_worker, NULL);
        gcrt_go(fan_feeder, NULL);
        long sum = 0;
        for (int i = 0; i < FANOUT; i++) {
            int v;
            gcrt_chan_recv(fan_out, &v, NULL);
            sum += v;
        }
        int64_t dt = gcrt_nanotime() - t0;
        if (sum != (long)FANOUT * (FANOUT - 1)) abort();
        if (dt < best) best = dt;
    }
    return (double)best / 1e3;
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
    const char *only = argc > 2 ? argv[2] : NULL;
#define RUN(name) (!only || !strcmp(only, name))
    printf("GOMAXPROCS=%d\n", gcrt_gomaxprocs(0));
    /* First, while no stack is cached: parked goroutines on fresh stacks. */
    double per_g, pte_g;
    int64_t med, max;
    if (RUN("parked")) bench_parked(10000, &per_g, &pte_g, &med, &max);
    if (RUN("create")) printf("goroutine create+exit: %.0f ns\n", bench_create_exit(n));
    if (RUN("pingpong"))
        printf("unbuffered ping-pong round trip: %.0f ns\n", bench_pingpong(n / 4));
    if (RUN("buffered"))
        printf("buffered channel (cap 128): %.1f ns per message\n", bench_buffered(n));
    if (RUN("fanout")) {
        double us = bench_fanout();
        printf("fan-out/fan-in, 10000 goroutines: %.0f us (%.0f ns per goroutine)\n", us,
               us * 1e3 / FANOUT);
    }
    if (RUN("parked")) {
        printf("memory per parked goroutine: %.0f bytes RSS + %.0f bytes page tables\n", per_g,
               pte_g);
        printf("stop-the-world, 10000 parked goroutines: median %.1f us, max %.1f us\n", med / 1e3,
               max / 1e3);
    }
    return 0;
}

int main(int argc, char **argv) {
    return gcrt_main(real_main, argc, argv);
}
