/* mheap.h - the page heap: one big reservation, spans, the page->span
 * table, free page runs and their released (scavenged) state. See malloc.c
 * for the tour. */
#ifndef GCRT_MHEAP_H
#define GCRT_MHEAP_H

#include "lock.h"
#include "runtime.h"
#include "sizeclasses.h"

/* Span states. A span's state changes only under the heap lock.
 *   FREE    a run of free pages owned by the heap (free lists)
 *   INUSE   heap objects: small (nelems slots of elemsize) or one large object
 *   MANUAL  pages handed out for other runtime uses (goroutine stacks)
 *   DEAD    the span struct is not in use (in the span allocator's free list) */
enum gcrt_span_state {
    GCRT_SPAN_DEAD = 0,
    GCRT_SPAN_FREE,
    GCRT_SPAN_INUSE,
    GCRT_SPAN_MANUAL,
};

/* Which list a span sits on (mcentral or heap). */
enum gcrt_span_list {
    GCRT_LIST_NONE = 0,
    GCRT_LIST_PARTIAL, /* mcentral: has free slots */
    GCRT_LIST_FULL,    /* mcentral: no free slots */
    GCRT_LIST_CACHED,  /* owned by one mcache; on no list */
    GCRT_LIST_STASH,   /* mcentral: no objects, kept for reuse (mcentral.c) */
};

typedef struct gcrt_span {
    /* -- fixed while INUSE ------------------------------------------------ */
    uintptr_t base;    /* first byte */
    uintptr_t limit;   /* end of the last object (base + nelems*elemsize) */
    uint32_t npages;   /* 8 KiB pages */
    uint8_t state;     /* enum gcrt_span_state; heap lock */
    uint8_t spanclass; /* sizeclass<<1 | noscan; 0/1 for large */
    uint8_t list;      /* enum gcrt_span_list; mcentral lock */
    uint8_t heapfree;  /* on the heap's free lists; heap lock only */
    uint8_t list_set;  /* which of the mcentral's two sets (see mcentral.h) */
    /* Sweep generation (Go's mspan.sweepgen), h = gcrt__mheap.sweepgen:
     *   h - 2  needs sweeping          h - 1  being swept (claimed by CAS)
     *   h      swept, ready to use     (new spans start at h)
     * The collector adds 2 to h at mark termination, which makes every
     * span unswept at once. Atomic. */
    uint32_t sweepgen;
    uint8_t needzero;   /* free slots may hold old bytes: zero on allocation */
    uint8_t tiny;       /* holds tiny blocks (see mcache.h) */
    uintptr_t elemsize; /* bytes per object (npages*8192 for large) */
    uint32_t divmagic;  /* small: (off * divmagic) >> 32 == off / elemsize; large: 0 */
    uint16_t nelems;    /* objects in the span */

    /* -- allocation state: owner mcache while cached, else mcentral lock --
     * Slot i is allocated iff i < freeindex or alloc_bits[i] is set, and
     * its freed bit is clear. alloc_cache holds ~alloc_bits[freeindex..+64)
     * shifted so that bit 0 is slot freeindex (Go's allocCache). */
    uint16_t freeindex;                /* no free slot below this; written relaxed */
    uint16_t alloc_count;              /* allocated slots; written relaxed by the owner */
    uint16_t alloc_count_before_cache; /* alloc_count when cached (stats) */
    uint64_t alloc_cache;
    uint64_t *alloc_bits; /* nelems bits; changes only when not cached */

    /* -- the collector ---------------------------------------------------- *
     * gcmark_bits: set (atomically) when the object is found reachable, or
     * at allocation while marking is on (black allocation). Sweeping makes
     * them the new alloc_bits (Go's bitmap swap) and clears them. */
    uint64_t *gcmark_bits;
    /* Finalizer records of objects in this span, by offset (mfinal.c). */
    struct gcrt_special *specials;
    /* Allocation sites (return PCs), recorded only with gccheckmark=1. */
    uintptr_t *alloc_pcs;
    uint32_t alloc_pcs_cap;

    /* -- explicit frees (gcrt_free), under the mcentral lock -------------- */
    uint64_t *freed_bits; /* slots freed since the span was last folded */
    uint16_t nfreed;      /* bits set in freed_bits */

    /* -- free runs: heap lock --------------------------------------------- */
    struct gcrt_span *next, *prev; /* list links (mcentral or heap lists) */
    uint32_t nbits_words;          /* words in each bitmap (alloc, freed, mark) */
} gcrt_span_t;

/* The heap. One instance (gcrt__mheap), or private ones in tests. */
typedef struct gcrt_mheap {
    gcrt_lock_t lock;
    uint32_t sweepgen;                /* see gcrt_span_t.sweepgen; +2 per GC */
    uintptr_t arena_start, arena_end; /* the reservation (fixed) */
    uintptr_t arena_used;             /* end of committed memory */
    gcrt_span_t **spans;              /* page index -> span (lazily committed) */
    uint64_t *released;               /* one bit per page: given back to the OS */
    uint64_t *dirty;                  /* one bit per page: ever handed out */
    gcrt_span_t *free_small[128];     /* free runs of exactly n pages, n < 128 */
    uint64_t free_small_nonempty[2];  /* bit n: free_small[n] is not empty */
    gcrt_span_t *free_large;          /* free runs of >= 128 pages */
    uint64_t grow_bytes;              /* commit granularity */

    /* Page counters (bytes), heap lock; read relaxed. */
    uint64_t heap_sys;      /* committed heap pages = inuse + free + released */
    uint64_t heap_inuse;    /* pages in INUSE spans */
    uint64_t heap_free;     /* free pages not released */
    uint64_t heap_released; /* free pages released */
    uint64_t stack_inuse;   /* pages in MANUAL spans */
    uint32_t scav_held;     /* free runs the scavenger holds off the lists (lock) */
    /* GOMEMLIMIT in bytes of memory the runtime maps and has not released
     * (Sys - HeapReleased), 0 = none: allocation releases free pages first
     * when it would go over (Go: allocSpan's scavenge). Atomic. */
    uint64_t memory_limit;
} gcrt_mheap_t;

extern gcrt_mheap_t gcrt__mheap;

/* Creates a heap over a fresh reservation of reserve bytes. 0 or -errno. */
int gcrt__mheap_init(gcrt_mheap_t *h, size_t reserve);
/* Allocates npages as an INUSE span (for spanclass) or a MANUAL span
 * (manual=1). Returns NULL if the heap cannot grow (reservation exhausted or
 * the OS refused). The span's needzero tells whether its memory may hold
 * old bytes. */
gcrt_span_t *gcrt__mheap_alloc(gcrt_mheap_t *h, uintptr_t npages, unsigned spanclass, int manual);
/* Returns a span's pages to the heap. */
void gcrt__mheap_free(gcrt_mheap_t *h, gcrt_span_t *s);
/* Releases up to nbytes (rounded to pages) of free pages to the OS, highest
 * addresses first; returns bytes released. */
uintptr_t gcrt__mheap_scavenge(gcrt_mheap_t *h, uintptr_t nbytes);
/* Releases every free page (debug.FreeOSMemory), including the runs other
 * scavengers hold while this one runs; returns bytes released. */
uintptr_t gcrt__mheap_scavenge_all(gcrt_mheap_t *h);
#if GCRT_ASSERT_LEVEL >= 2
/* Tests: called by a scavenger with its run off the free lists, before madvise. */
extern void (*gcrt__release_test_hook)(void);
#endif
/* What the memory limit counts: MemStats Sys - HeapReleased (Go: mappedReady). */
uint64_t gcrt__mheap_mapped_ready(const gcrt_mheap_t *h);

/* Span lookup: the INUSE span containing p, or NULL. Lock-free. */
static inline gcrt_span_t *gcrt__span_of(const gcrt_mheap_t *h, uintptr_t p) {
    uintptr_t off = p - h->arena_start;
    if (off >= gcrt_load_relaxed(&h->arena_used) - h->arena_start) return NULL;
    gcrt_span_t *s = gcrt_load_relaxed(&h->spans[off >> GCRT_PAGE_SHIFT]);
    if (!s || gcrt_load_relaxed(&s->state) != GCRT_SPAN_INUSE) return NULL;
    if (p < s->base || p >= s->base + ((uintptr_t)s->npages << GCRT_PAGE_SHIFT)) return NULL;
    return s;
}

/* Whether slot idx of s is allocated (see the field comment). */
static inline int gcrt__span_slot_allocated(const gcrt_span_t *s, uintptr_t idx) {
    if (idx >= gcrt_load_relaxed(&s->freeindex) &&
        !((gcrt_load_relaxed(&s->alloc_bits[idx / 64]) >> (idx % 64)) & 1))
        return 0;
    return !((gcrt_load_relaxed(&s->freed_bits[idx / 64]) >> (idx % 64)) & 1);
}

/* Span-struct and bitmap allocation (fixalloc); heap lock held. */
gcrt_span_t *gcrt__span_struct_alloc(gcrt_mheap_t *h);
void gcrt__span_struct_free(gcrt_mheap_t *h, gcrt_span_t *s);

/* Span helpers (mspan.c). */
/* Records the allocation site of slot idx (gccheckmark). */
void gcrt__span_record_pc(gcrt_span_t *s, uintptr_t idx, uintptr_t pc);
/* Prepares an INUSE span for its class: nelems, bitmaps, freeindex 0. */
void gcrt__span_init_objects(gcrt_span_t *s, unsigned spanclass);
/* Refills alloc_cache from alloc_bits starting at the 64-aligned slot
 * containing freeindex (Go: refillAllocCache). */
void gcrt__span_refill_cache(gcrt_span_t *s, uintptr_t whichbyte);
/* The index of the next free slot at or after freeindex, or nelems
 * (Go: nextFreeIndex). Advances freeindex and alloc_cache. */
uintptr_t gcrt__span_next_free_index(gcrt_span_t *s);
/* Folds freed_bits into alloc_bits (the span is not cached): the freed
 * slots become free, freeindex restarts at 0. Returns slots freed. */
uintptr_t gcrt__span_fold_frees(gcrt_span_t *s);

/* Metadata memory counters (bytes), see memstats.c. */
struct gcrt_meta_stats {
    uint64_t mspan_inuse, mspan_sys;
    uint64_t mcache_inuse, mcache_sys;
    uint64_t gc_sys;        /* bitmaps, page tables */
    uint64_t other_sys;     /* everything else the runtime maps */
    uint64_t stack_sys;     /* thread and goroutine stacks mapped directly */
    uint64_t buck_hash_sys; /* profiling buckets */
};
extern struct gcrt_meta_stats gcrt__meta;

#endif
