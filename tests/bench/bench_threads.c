/* bench_threads.c - many allocating tasks on few CPUs: N attached threads
 * (or N goroutines) each build a list of 16-byte nodes through gcrt_store
 * and drop it every 4096 nodes, TOTAL allocations in all. A live heap of a
 * few hundred KiB, the 4 MB minimum goal: a cycle every few milliseconds,
 * every one started and paced while more tasks than CPUs allocate.
 *
 *   bench_threads threads|goroutines N [TOTAL]     (TOTAL default 64M)
 *
 * Prints wall time, cycles, pause p50/p99/max (MemStats' PauseNs ring:
 * the last 256 cycles) and peak RSS. tests/bench/run-threads.sh runs it
 * beside its Go twin (go/threads). RESULTS.md section 24. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "gcrt_sync.h"

typedef struct node {
    struct node *next;
    long v;
} node;

static long iters;
static gcrt_wg_t wg;

static void work(void) {
    node *keep = NULL;
    for (long i = 0; i < iters; i++) {
        node *n = gcrt_alloc(sizeof *n);
        n->v = i;
        gcrt_store((void **)&n->next, keep);
        keep = n;
        if ((i & 4095) == 0) keep = NULL;
    }
}

static void *thread_main(void *arg) {
    (void)arg;
    if (gcrt_thread_attach() != 0) abort();
    work();
    gcrt_thread_detach();
    return NULL;
}

static void goroutine_main(void *arg) {
    (void)arg;
    work();
    gcrt_wg_done(&wg);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int bench(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "threads") && strcmp(argv[1], "goroutines"))) {
        fprintf(stderr, "usage: bench_threads threads|goroutines N [TOTAL]\n");
        return 2;
    }
    int threads = !strcmp(argv[1], "threads");
    int n = atoi(argv[2]);
    long total = argc > 3 ? atol(argv[3]) : 64L << 20;
    if (n < 1 || n > 4096 || total < n) {
        fprintf(stderr, "bench_threads: N must be 1-4096 and TOTAL at least N\n");
        return 2;
    }
    iters = total / n;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    double t0 = now_s();
    if (threads) {
        for (int i = 0; i < n; i++)
            if (pthread_create(&t[i], NULL, thread_main, NULL) != 0) abort();
        for (int i = 0; i < n; i++) gcrt_pthread_join(t[i], NULL);
    } else {
        gcrt_wg_add(&wg, n);
        for (int i = 0; i < n; i++) gcrt_go(goroutine_main, NULL);
        gcrt_wg_wait(&wg);
    }
    double wall = now_s() - t0;
    free(t);
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint32_t k = ms.num_gc < 256 ? ms.num_gc : 256;
    uint64_t p[256];
    memcpy(p, ms.pause_ns, sizeof p);
    qsort(p, k, sizeof p[0], cmp_u64);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("gcrt %s=%d wall=%.2fs gcs=%u pause_p50_ms=%.3f pause_p99_ms=%.3f pause_max_ms=%.3f "
           "maxrss_mib=%.1f\n",
           argv[1], n, wall, ms.num_gc, k ? p[k / 2] / 1e6 : 0, k ? p[k * 99 / 100] / 1e6 : 0,
           k ? p[k - 1] / 1e6 : 0, ru.ru_maxrss / 1024.0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "goroutines")) return gcrt_main(bench, argc, argv);
    gcrt_init();
    return bench(argc, argv);
}
