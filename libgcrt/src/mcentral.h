/* mcentral.h - the central free lists, one per span class (Go: mcentral).
 * mcaches take spans with free slots from here and give them back when
 * they are full. Large objects live in the mcentrals of span classes 0 and
 * 1 (full lists) so that the sweeper finds them. See malloc.c and gc.c. */
#ifndef GCRT_MCENTRAL_H
#define GCRT_MCENTRAL_H

#include "mcache.h"
#include "mheap.h"

/* Two sets of lists, as in Go: with sg = gcrt__mheap.sweepgen, set
 * (sg/2)%2 holds swept spans and the other set unswept ones. Adding 2 to
 * sg at mark termination turns every swept list into an unswept one. */
typedef struct gcrt_mcentral {
    gcrt_lock_t lock;
    unsigned spanclass;      /* of the spans it holds */
    uint8_t tiny;            /* 1: the tiny-block mcentral (index GCRT_TINY_SPC) */
    gcrt_span_t *partial[2]; /* spans with free slots (or pending frees), not cached */
    gcrt_span_t *full[2];    /* spans with no free slot, not cached */
    gcrt_span_t *stash;      /* emptied spans kept for reuse (mcentral.c) */
    uint32_t nstash;         /* spans on stash */
    uint8_t stash_used;      /* stash touched since the last aging */
    uint64_t nspans;         /* spans of this class (cached or not) */
    uint32_t nsweeping;      /* spans claimed by a sweeper, not placed yet (lock; read relaxed) */
    /* Explicit frees (gcrt_free) counted here, under the lock the free
     * takes anyway (MemStats adds them; gcrt_bump, read relaxed). */
    uint64_t nfree;      /* objects */
    uint64_t large_free; /* bytes (span classes 0 and 1) */
    /* The last spans of partial and full: a span is pushed at the head, so
     * the tail is the one that has been on its list longest (lock). */
    gcrt_span_t *partial_tail[2], *full_tail[2];
    char pad[GCRT_CACHELINE];
} gcrt_mcentral_t;

extern gcrt_mcentral_t gcrt__mcentral[GCRT_NUM_CACHE_CLASSES];

static inline unsigned gcrt__swept_set(uint32_t sg) {
    return (sg / 2) % 2;
}

void gcrt__mcentral_init(void);
/* A swept span with at least one free slot for an mcache, taken off the
 * lists (list = CACHED), with alloc_cache filled. Sweeps unswept spans of
 * its class first (Go's cacheSpan). NULL if the heap cannot grow. */
gcrt_span_t *gcrt__mcentral_cache_span(gcrt_mcentral_t *c);
/* Gives a cached span back. */
void gcrt__mcentral_uncache_span(gcrt_mcentral_t *c, gcrt_span_t *s);
/* Explicit free of the object at p (its base) in small span s. Throws on a
 * pointer that is not an allocated object. While marking, an object this
 * mark already counted as marked is taken off w's count (the caller's P's
 * gcwork). */
void gcrt__mcentral_free_object(gcrt_mcentral_t *c, gcrt_span_t *s, uintptr_t p, gcrt_gcwork_t *w);
/* gcrt_free of p in tiny-block span s: throws unless p is in an allocated
 * block (which it then leaves alone: other objects may share it). */
void gcrt__mcentral_check_tiny(gcrt_span_t *s, uintptr_t p);
/* Registers a new large-object span (mcentral of its span class). */
void gcrt__mcentral_add_large(gcrt_span_t *s);
/* Explicit free of large object span s; throws on a double free. w as for
 * gcrt__mcentral_free_object. */
void gcrt__mcentral_free_large(gcrt_span_t *s, gcrt_gcwork_t *w);
/* Sweeps one unswept span of c, if any. Returns its pages, or 0. */
uintptr_t gcrt__mcentral_sweep_one(gcrt_mcentral_t *c);
/* Gives emptied spans kept for reuse back to the page heap: all of them
 * (all=1), or those of classes whose stash went untouched since the
 * previous call. */
void gcrt__mcentral_flush_stash(int all);
/* Bytes in stashed spans (INUSE to the page heap; MemStats: HeapIdle). */
/* The most stashed spans one flush returned to the page heap in a single
 * hold of a class's lock (tests). */
uint32_t gcrt__mcentral_flush_most(void);
uint64_t gcrt__mcentral_stash_bytes(void);
/* The mcentral a span belongs to. */
static inline gcrt_mcentral_t *gcrt__mcentral_of(const gcrt_span_t *s) {
    extern gcrt_mcentral_t gcrt__mcentral[];
    return &gcrt__mcentral[s->tiny ? GCRT_TINY_SPC : s->spanclass];
}

#endif
