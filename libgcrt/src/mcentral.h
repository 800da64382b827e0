/* mcentral.h - the central free lists, one per span class (Go: mcentral).
 * mcaches take spans with free slots from here and give them back when
 * they are full. See malloc.c. */
#ifndef GCRT_MCENTRAL_H
#define GCRT_MCENTRAL_H

#include "mheap.h"

typedef struct gcrt_mcentral {
    gcrt_lock_t lock;
    unsigned spanclass;   /* of the spans it holds */
    uint8_t tiny;         /* 1: the tiny-block mcentral (index GCRT_TINY_SPC) */
    gcrt_span_t *partial; /* spans with free slots (or pending frees), not cached */
    gcrt_span_t *full;    /* spans with no free slot, not cached */
    uint64_t nspans;      /* spans of this class (cached or not) */
    char pad[GCRT_CACHELINE];
} gcrt_mcentral_t;

#include "mcache.h"

extern gcrt_mcentral_t gcrt__mcentral[GCRT_NUM_CACHE_CLASSES];

void gcrt__mcentral_init(void);
/* A span with at least one free slot for an mcache, taken out of the lists
 * (list = CACHED), with alloc_cache filled. NULL if the heap cannot grow. */
gcrt_span_t *gcrt__mcentral_cache_span(gcrt_mcentral_t *c);
/* Gives a cached span back. */
void gcrt__mcentral_uncache_span(gcrt_mcentral_t *c, gcrt_span_t *s);
/* Explicit free of the object at p (its base) in small span s. Throws on a
 * pointer that is not an allocated object base. Returns the class size. */
void gcrt__mcentral_free_object(gcrt_mcentral_t *c, gcrt_span_t *s, uintptr_t p);

/* After s (not cached, on this mcentral's partial or full list) was swept:
 * moves it to the list its new alloc_count calls for, or gives it back to
 * the page heap if it is empty. */
void gcrt__mcentral_after_sweep(gcrt_mcentral_t *c, gcrt_span_t *s);

#endif
