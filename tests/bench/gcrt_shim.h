/* gcrt_shim.h - libgcrt in the runtime-under-test slot of the peers kit
 * (../shared/bench/peers/shims/README.md; included by its c/backend.h after
 * <pthread.h>, <stdio.h>, <stdlib.h>, <string.h>, <stdint.h>).
 *
 * Run it with tests/bench/run-peers.sh, which builds libgcrt and passes
 * PEERS_SHIM_HEADER/NAME/CFLAGS/LIBS/ENV to the kit's run.sh.
 *
 * Two modes:
 *
 *  - default (row "gcrt"): gcrt as an explicit-free allocator. BK_IS_GC is
 *    0 and bk_free is gcrt_free, so GCBench, binary-trees, service and
 *    allocbench free every object, like the malloc rows. The collector is
 *    switched off (GOGC=off): these workloads do not route pointer stores
 *    through the write barrier, which a concurrent mark would need.
 *
 *  - -DGCRT_SHIM_GC=1 (row "gcrt-gc", added by run-peers.sh with
 *    GCRT_GC_ROWS=1): gcrt as a collector, like the go and bdwgc rows.
 *    BK_IS_GC 1 (workloads drop garbage, bk_free is never called),
 *    BK_HAS_STORE (every pointer store into a heap object goes through
 *    gcrt_store, Go's hybrid barrier), BK_HAS_GC (gcrt_gc), GOGC=100.
 *
 * This file was written for "no collector yet" (BK_IS_GC 0 only); the
 * collector landed while it was written, hence the second mode.
 *
 * bk_stats prints gcs= and pause_*_ms= from MemStats (NumGC, PauseNs), so
 * the kit fills the GC columns, plus a few heap figures. PauseNs keeps the
 * last 256 cycles: past 256, the max and p99 are printed as last256_*
 * (the kit's name for the same figures of a Go program run without
 * gctrace), since they no longer cover every cycle.
 */
#ifndef GCRT_SHIM_H
#define GCRT_SHIM_H

#include <gcrt.h>
/* The workloads' pthread_join (binary-trees' main thread waiting for its
 * workers) as a blocking call, as bdwgc's row gets GC_THREADS: a
 * stop-the-world need not signal the waiting thread. */
#define GCRT_WRAP_PTHREAD_JOIN 1
#include <gcrt_sched.h>

#define BK_NAME "gcrt"

#if defined(GCRT_SHIM_GC) && GCRT_SHIM_GC
#define BK_IS_GC     1
#define BK_HAS_STORE 1
#define BK_HAS_GC    1
static inline void bk_store_ptr(void **slot, void *val) {
    gcrt_store(slot, val);
}
static inline void bk_gc(void) {
    gcrt_gc();
}
static inline void bk_free(void *p) {
    (void)p;
}
#else
#define BK_IS_GC 0
static inline void bk_free(void *p) {
    gcrt_free(p);
}
#endif

static inline void bk_init(void) {
    int err = gcrt_init();
    if (err != 0) {
        fprintf(stderr, "gcrt_init: %s\n", strerror(-err));
        exit(1);
    }
    if (!BK_IS_GC) gcrt_set_gc_percent(-1); /* explicit free only: GOGC=off */
}
static inline void *bk_alloc(size_t n) {
    return gcrt_alloc(n);
}
static inline void *bk_alloc_noscan(size_t n) {
    return gcrt_alloc_noscan(n);
}
static inline void bk_thread_enter(void) {
    if (gcrt_thread_attach() != 0) {
        fprintf(stderr, "gcrt_thread_attach failed\n");
        exit(1);
    }
}
static inline void bk_thread_exit(void) {
    gcrt_thread_detach();
}

static int bk_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static inline void bk_stats(FILE *f) {
    static struct gcrt_memstats ms; /* ~4 KiB: not on the stack */
    static uint64_t pause[256];
    const double mb = 1048576.0;
    gcrt_read_memstats(&ms);
    /* PauseNs is a ring of the last 256 cycles (all of them if fewer). */
    unsigned n = ms.num_gc < 256 ? ms.num_gc : 256;
    uint64_t mx = 0;
    for (unsigned i = 0; i < n; i++) {
        pause[i] = ms.pause_ns[(ms.num_gc - 1 - i) % 256];
        if (pause[i] > mx) mx = pause[i];
    }
    qsort(pause, n, sizeof pause[0], bk_cmp_u64);
    uint64_t p99 = n ? pause[(size_t)(0.99 * n) < n ? (size_t)(0.99 * n) : n - 1] : 0;
    const char *pre = ms.num_gc > 256 ? "last256_" : "";
    fprintf(f, " gcs=%u %spause_max_ms=%.3f %spause_p99_ms=%.3f pause_total_ms=%.3f", ms.num_gc,
            pre, mx / 1e6, pre, p99 / 1e6, ms.pause_total_ns / 1e6);
    fprintf(f,
            " gc_cpu_fraction=%.3f heap_sys_mb=%.1f heap_inuse_mb=%.1f heap_alloc_mb=%.1f"
            " heap_released_mb=%.1f sys_mb=%.1f heap_objects=%llu mallocs=%llu frees=%llu",
            ms.gc_cpu_fraction, ms.heap_sys / mb, ms.heap_inuse / mb, ms.heap_alloc / mb,
            ms.heap_released / mb, ms.sys / mb, (unsigned long long)ms.heap_objects,
            (unsigned long long)ms.mallocs, (unsigned long long)ms.frees);
}

#endif
