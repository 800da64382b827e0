/* gcrt-demo - the quick-start program: allocates like a small service on
 * two threads, drops most of it for the collector, returns memory to the OS, and prints
 * runtime.MemStats the way Go's heap profile (debug=1) prints them.
 *
 *   gcrt-demo [rounds]      (default 20)
 *
 * GODEBUG=madvdontneed=0 switches releases to MADV_FREE;
 * GCRT_HEAP_RESERVE sets the heap reservation (Go byte units). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcrt.h"

struct node {
    struct node *next;
    char *payload;
    size_t len;
};

static int rounds = 20;

static void *worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    gcrt_thread_attach();
    struct node *keep = NULL;
    for (int r = 0; r < rounds; r++) {
        struct node *batch = NULL;
        for (int i = 0; i < 20000; i++) {
            struct node *n = gcrt_alloc(sizeof *n);
            n->len = 8 + rand_r(&seed) % 500;
            /* Pointer stores into heap objects go through gcrt_store (the
             * collector runs concurrently: GOGC=100 by default). */
            gcrt_store(&n->payload, gcrt_alloc_noscan(n->len));
            memset(n->payload, 'x', n->len);
            gcrt_store(&n->next, batch);
            batch = n;
        }
        if (r % 8 == 0) { /* a large buffer now and then */
            char *big = gcrt_alloc_noscan(1 << 20);
            memset(big, 1, 1 << 20); /* then dropped: garbage */
        }
        /* keep one object in 16 and drop the rest: the collector frees
         * them (GOGC=100 by default; GODEBUG=gctrace=1 shows its cycles) */
        int k = 0;
        while (batch) {
            struct node *n = batch;
            batch = n->next;
            if (k++ % 16 == 0) {
                gcrt_store(&n->next, keep);
                keep = n;
            }
        }
    }
    size_t kept = 0;
    for (struct node *n = keep; n; n = n->next) kept++;
    gcrt_thread_detach();
    return (void *)kept;
}

static void print_memstats(const struct gcrt_memstats *m) {
    printf("# runtime.MemStats\n");
    printf("# Alloc = %llu\n", (unsigned long long)m->alloc);
    printf("# TotalAlloc = %llu\n", (unsigned long long)m->total_alloc);
    printf("# Sys = %llu\n", (unsigned long long)m->sys);
    printf("# Lookups = %llu\n", (unsigned long long)m->lookups);
    printf("# Mallocs = %llu\n", (unsigned long long)m->mallocs);
    printf("# Frees = %llu\n", (unsigned long long)m->frees);
    printf("# HeapAlloc = %llu\n", (unsigned long long)m->heap_alloc);
    printf("# HeapSys = %llu\n", (unsigned long long)m->heap_sys);
    printf("# HeapIdle = %llu\n", (unsigned long long)m->heap_idle);
    printf("# HeapInuse = %llu\n", (unsigned long long)m->heap_inuse);
    printf("# HeapReleased = %llu\n", (unsigned long long)m->heap_released);
    printf("# HeapObjects = %llu\n", (unsigned long long)m->heap_objects);
    printf("# Stack = %llu / %llu\n", (unsigned long long)m->stack_inuse,
           (unsigned long long)m->stack_sys);
    printf("# MSpan = %llu / %llu\n", (unsigned long long)m->mspan_inuse,
           (unsigned long long)m->mspan_sys);
    printf("# MCache = %llu / %llu\n", (unsigned long long)m->mcache_inuse,
           (unsigned long long)m->mcache_sys);
    printf("# BuckHashSys = %llu\n", (unsigned long long)m->buck_hash_sys);
    printf("# GCSys = %llu\n", (unsigned long long)m->gc_sys);
    printf("# OtherSys = %llu\n", (unsigned long long)m->other_sys);
    printf("# NextGC = %llu\n", (unsigned long long)m->next_gc);
    printf("# NumGC = %u\n", m->num_gc);
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atoi(argv[1]);
    if (rounds < 1) rounds = 1;
    if (gcrt_init() != 0) {
        fprintf(stderr, "gcrt_init failed\n");
        return 1;
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    size_t kept = 0;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        kept += (size_t)r;
    }
    struct gcrt_memstats m;
    gcrt_read_memstats(&m);
    printf("gcrt-demo: 2 threads, %d rounds, %zu objects kept, %llu allocations\n", rounds, kept,
           (unsigned long long)m.mallocs);
    print_memstats(&m);
    unsigned long long before = m.heap_released;
    gcrt_free_os_memory();
    gcrt_read_memstats(&m);
    printf("\ngcrt_free_os_memory (debug.FreeOSMemory): HeapReleased %llu -> %llu bytes\n", before,
           (unsigned long long)m.heap_released);
    return 0;
}
