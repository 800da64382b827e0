/* mcache.h - the per-P allocation cache (Go: mcache): one span per span
 * class, the tiny block, the profiling countdown, and the P's statistics.
 * Only the P's owner touches it (no lock), except that MemStats reads it
 * with the world stopped (memstats.c). See malloc.c. */
#ifndef GCRT_MCACHE_H
#define GCRT_MCACHE_H

#include "gc.h"
#include "mheap.h"

/* Per-P allocation statistics, written only by the owner inside
 * stats_begin/end (Go: heapStatsDelta with a sequence number; odd while an
 * update is in progress), always in a no-stop region: MemStats reads them
 * with the world stopped and throws if it finds one odd (a stop inside an
 * update). Frees are counted by the mcentrals (gcrt_free) and the
 * sweeper. */
typedef struct gcrt_pstats {
    uint32_t seq;
    uint64_t small_alloc_count[GCRT_NUM_SIZE_CLASSES]; /* objects, at uncache */
    uint64_t large_alloc, large_alloc_count;           /* bytes, objects */
    uint64_t tiny_allocs;                              /* tiny sub-allocations folded in at flush */
} gcrt_pstats_t;

/* Tiny blocks (16 bytes, noscan, class 2) come from spans of their own,
 * cached in one extra slot and served by one extra mcentral, so that an
 * explicit free can tell a tiny block (shared: never freed explicitly) from
 * a 16-byte noscan object. They count as class 2 everywhere. */
#define GCRT_TINY_SPC          GCRT_NUM_SPAN_CLASSES
#define GCRT_NUM_CACHE_CLASSES (GCRT_NUM_SPAN_CLASSES + 1)

/* The size class a cache slot / mcentral index stands for. */
static inline unsigned gcrt__spc_sizeclass(unsigned spc) {
    return spc == GCRT_TINY_SPC ? GCRT_TINY_SIZE_CLASS : spc >> 1;
}

/* mcache.hooks bits: work the allocation fast path hands to alloc_hook.
 *   BLACK  allocate black: while marking, and, until FLUSH is done, in
 *          spans cached since before the last mark termination
 *   PCS    record allocation sites (GODEBUG=gccheckmark=1)
 *   FLUSH  the collector finished a cycle: give every cached span back
 *          before allocating more from them (Go: mcache.prepareForSweep)
 *   STOP   a stop-the-world is pending: every allocation is a safepoint
 *          (stw.c), so an allocating thread stops within one allocation
 *          instead of at its next span refill or the stop signal
 * BLACK and FLUSH are set by the collector with the world stopped (atomic
 * or) and cleared by the owner inside a no-stop region (lock.h); STOP is
 * set and cleared by the stopper (gcrt__mcache_set_stop_hook). */
enum { GCRT_HOOK_BLACK = 1, GCRT_HOOK_PCS = 2, GCRT_HOOK_FLUSH = 4, GCRT_HOOK_STOP = 8 };

typedef struct gcrt_mcache {
    /* -- hot: the fast path reads these ----------------------------------- */
    uint32_t hooks; /* GCRT_HOOK_*; nonzero sends allocations to alloc_hook */
    gcrt_span_t *alloc[GCRT_NUM_CACHE_CLASSES]; /* never NULL: gcrt__empty_span */
    uintptr_t tiny;                             /* current 16-byte tiny block, or 0 */
    uintptr_t tiny_offset;                      /* next free byte in it */
    uint64_t tiny_allocs;                       /* tiny sub-allocations not yet in stats; relaxed */
    int64_t next_sample;                        /* bytes until the next heap-profile sample */
    /* -- cold ------------------------------------------------------------- */
    gcrt_gcwork_t gcw;     /* grey objects from this P's barrier and assists */
    int64_t assist_credit; /* bytes this P may allocate before it must assist */
    uint32_t refills;      /* span refills (trigger refresh pacing) */
    int32_t cpu;           /* 1 + owner's CPU at its last refill; 0 unknown/blocked (gc.c) */
    int64_t frac_ns;       /* CPU this P marked as fractional since frac_mark (gc.c) */
    int64_t frac_mark;     /* the mark start frac_ns counts from (gc.c) */
    gcrt_pstats_t stats;
    struct gcrt_mcache *alllink; /* all mcaches (memstats) */
} gcrt_mcache_t;

/* The span every mcache slot starts with: no free slots, so the fast path
 * falls into refill without a NULL check. */
extern gcrt_span_t gcrt__empty_span;

gcrt_mcache_t *gcrt__mcache_new(void);
/* Replaces the cached span of spanclass with one that has a free slot.
 * Returns it, or NULL if the heap cannot grow. */
gcrt_span_t *gcrt__mcache_refill(gcrt_mcache_t *c, unsigned spanclass);
/* Gives every cached span back to the mcentrals (P destroyed or idle). */
void gcrt__mcache_release_all(gcrt_mcache_t *c);
/* The owner's half of a cycle's end: if FLUSH is set, releases every span
 * and clears FLUSH (and BLACK unless marking). No-stop region held. */
void gcrt__mcache_prepare_for_sweep(gcrt_mcache_t *c);

/* A sequence lock without fences (TSan understands it): the writer's
 * acquire-release increment keeps its data stores after the odd value, the
 * release increment keeps them before the even one; readers load the data
 * with acquire loads so the closing sequence load cannot move up. Writers
 * update the data with gcrt_bump (relaxed atomic stores). */
static inline void gcrt__stats_begin(gcrt_pstats_t *st) {
    __atomic_fetch_add(&st->seq, 1, __ATOMIC_ACQ_REL);
}
static inline void gcrt__stats_end(gcrt_pstats_t *st) {
    __atomic_fetch_add(&st->seq, 1, __ATOMIC_RELEASE);
}

/* The list of all mcaches, for readers (memstats, the GC). */
extern gcrt_mcache_t *gcrt__allmcache;
extern gcrt_lock_t gcrt__allmcache_lock;

/* Sets (on) or clears GCRT_HOOK_STOP in every mcache: the stopper's calls
 * around a stop-the-world (stw.c). */
void gcrt__mcache_set_stop_hook(int on);

#endif
