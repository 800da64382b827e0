/* bench_fork.c - what fork() costs the parent of a gcrt program (fork.c's
 * handlers: a mark frozen, one stop-the-world, the runtime's locks taken),
 * beside the kernel's own cost of copying the page tables.
 *
 *   build-bench/tests/bench/bench_fork LIVE_MIB LOAD
 *
 * Builds LIVE_MIB of linked 64-byte objects, then (LOAD 1) starts a thread
 * that churns 64-byte objects through the write barrier, so that cycles run
 * most of the time; then forks 200 times, 1 ms apart, and prints the
 * median, p90 and max of fork()'s duration in the parent. Each child
 * _exits at once. RESULTS.md, section 22. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gcrt.h"

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

struct node {
    struct node *next;
    long pad[7];
};

static volatile int stop;

/* 4096 lists of up to 64 nodes, each replaced from the start over and
 * over: a bounded live set and a steady stream of garbage. */
static void *churn(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    struct node **s = gcrt_alloc(4096 * sizeof *s);
    for (long k = 0; !stop; k++) {
        struct node *n = gcrt_alloc(sizeof *n);
        long j = (k / 64) % 4096;
        gcrt_store(&n->next, (k % 64) ? s[j] : NULL);
        gcrt_store(&s[j], n);
    }
    gcrt_keep_alive(s);
    gcrt_thread_detach();
    return NULL;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    long live_mib = argc > 1 ? atol(argv[1]) : 100;
    int load = argc > 2 ? atoi(argv[2]) : 0;
    enum { N = 200 };
    gcrt_init();
    struct node *keep = NULL;
    for (long i = 0; i < live_mib * 1024 * 1024 / (long)sizeof *keep; i++) {
        struct node *o = gcrt_alloc(sizeof *o);
        gcrt_store(&o->next, keep);
        keep = o;
    }
    pthread_t t;
    if (load) pthread_create(&t, NULL, churn, NULL);
    static int64_t d[N];
    for (int i = 0; i < N; i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
        int64_t t0 = now_ns();
        pid_t p = fork();
        if (p == 0) _exit(0);
        d[i] = now_ns() - t0;
        waitpid(p, NULL, 0);
    }
    stop = 1;
    if (load) pthread_join(t, NULL);
    qsort(d, N, sizeof d[0], cmp);
    printf("live %ld MiB, churn %d: fork() in the parent: median %.1f ms, p90 %.1f ms, max %.1f "
           "ms\n",
           live_mib, load, d[N / 2] / 1e6, d[N * 9 / 10] / 1e6, d[N - 1] / 1e6);
    gcrt_keep_alive(keep);
    return 0;
}
