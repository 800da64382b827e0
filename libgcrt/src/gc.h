/* gc.h - the collector's internals shared by gc.c (cycle control),
 * mgcmark.c (roots, marking, work lists), mgcsweep.c (sweeping) and
 * mbarrier.c (the write barrier). See gc.c for the tour. */
#ifndef GCRT_GC_H
#define GCRT_GC_H

#include "lock.h"
#include "mheap.h"
#include "runtime.h"

/* Reading memory the collector does not own (stacks, globals, objects that
 * mutators write concurrently) is what a conservative collector does; the
 * sanitizers must not instrument those reads. */
#define GCRT_NO_SANITIZE                                                                           \
    __attribute__((no_sanitize_address, no_sanitize("thread"), no_sanitize("undefined")))

/* GC phase (Go: gcphase). OFF: mutators allocate white and run no barrier.
 * MARK: the write barrier shades, new objects are allocated black. */
enum { GCRT_GC_OFF = 0, GCRT_GC_MARK, GCRT_GC_MARKTERM };
extern uint32_t gcrt__gcphase;
/* Nonzero while the write barrier and black allocation are on. Read by the
 * allocator's fast path and gcrt_store: one load and a branch. */
extern uint32_t gcrt__gc_marking;

/* ---- mark work (mgcmark.c) ------------------------------------------------ */

/* A work list of grey objects: (address, length) ranges to scan. Each
 * marking thread has one; they share through the global list. */
typedef struct gcrt_gcwork {
    uintptr_t *buf;        /* pairs: address, length */
    size_t n, cap;         /* in pairs */
    uint64_t bytes_marked; /* bytes of objects this worker marked */
    uint64_t scan_work;    /* bytes this worker scanned */
} gcrt_gcwork_t;

void gcrt__gcwork_init(gcrt_gcwork_t *w);
void gcrt__gcwork_free(gcrt_gcwork_t *w);

/* Marks the object p points into (if any) and queues it for scanning if
 * it may hold pointers. Safe from several threads at once. */
void gcrt__gc_shade(gcrt_gcwork_t *w, uintptr_t p);
/* Scans [lo, hi) conservatively: every aligned word that points into an
 * allocated heap object shades it. */
void gcrt__gc_scan_range(gcrt_gcwork_t *w, uintptr_t lo, uintptr_t hi);
/* Scans queued objects until the list is empty (or budget bytes of scan
 * work are done, budget < 0 = no limit). Returns scan work done. */
int64_t gcrt__gc_drain(gcrt_gcwork_t *w, int64_t budget);

/* Root ranges of the loaded executable and libraries (data, bss), found
 * with dl_iterate_phdr outside the stop-the-world (the loader's lock could
 * be held by a stopped thread). */
typedef struct gcrt_roots {
    uintptr_t *lo, *hi;
    size_t n, cap;
    uint64_t bytes;
} gcrt_roots_t;
void gcrt__gc_collect_global_roots(gcrt_roots_t *r);
/* Scans every root: the globals in r, registered roots, the stacks and
 * registers of every stopped thread and parked goroutine, and the calling
 * thread's own stack and registers. World stopped. Returns the bytes of
 * stack scanned (gctrace "stacks" reports the allocated size instead). */
uint64_t gcrt__gc_scan_roots(gcrt_gcwork_t *w, const gcrt_roots_t *r);
/* Bytes of registered roots (gcrt_add_roots). */
uint64_t gcrt__gc_registered_root_bytes(void);

/* ---- sweeping (mgcsweep.c) ------------------------------------------------ */

/* Counters of what sweeping freed (Go: the sweeper's part of
 * heapStats); added to MemStats' Frees. Atomic. */
struct gcrt_sweep_stats {
    uint64_t small_free_count[GCRT_NUM_SIZE_CLASSES];
    uint64_t large_free, large_free_count;
};
extern struct gcrt_sweep_stats gcrt__sweep_stats;

/* Sweeps every INUSE span (world stopped, no span cached): unmarked objects
 * are freed by making the mark bits the allocation bits; empty spans go back
 * to the page heap. Returns bytes of live objects found. */
uint64_t gcrt__gc_sweep_all(void);

/* ---- cycle state read by MemStats (gc.c) ---------------------------------- */
void gcrt__gc_fill_memstats(struct gcrt_memstats *ms);
/* Installs the collector's MemStats hook (runtime start-up). */
void gcrt__gc_init(void);

#endif
