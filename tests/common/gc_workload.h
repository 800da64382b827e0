/* gc_workload.h - the workload of the GC knob tests' children: a ring of
 * live pointer-free objects, churn that replaces them (garbage at a
 * constant live size), and MemStats printed for the parent to parse. */
#ifndef GCRT_TESTS_GC_WORKLOAD_H
#define GCRT_TESTS_GC_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>

#include "gcrt.h"

#define OBJ 1024
static void **ring;
static size_t nring;
static void *volatile sink;

/* Fills the ring with live_mb MiB of OBJ-byte pointer-free objects. */
static void fill_ring(long live_mb) {
    nring = (size_t)live_mb * (1 << 20) / OBJ;
    ring = gcrt_alloc(nring * sizeof(void *));
    for (size_t i = 0; i < nring; i++) gcrt_store(&ring[i], gcrt_alloc_noscan(OBJ));
}

/* Replaces ring slots with fresh objects: garbage at constant live size. */
static void churn(uint64_t bytes) {
    static unsigned r = 99;
    for (uint64_t done = 0; done < bytes; done += OBJ) {
        r = r * 1103515245u + 12345u;
        gcrt_store(&ring[(r >> 4) % nring], gcrt_alloc_noscan(OBJ));
    }
}

static void print_stats(const char *tag) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    printf("%s numgc=%u forced=%u nextgc=%llu heapalloc=%llu sys=%llu released=%llu\n", tag,
           ms.num_gc, ms.num_forced_gc, (unsigned long long)ms.next_gc,
           (unsigned long long)ms.heap_alloc, (unsigned long long)ms.sys,
           (unsigned long long)ms.heap_released);
    fflush(stdout);
}

#endif
