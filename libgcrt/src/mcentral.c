/* mcentral.c - central lists of spans per span class (Go: mcentral.go).
 * See malloc.c, steps 5 and 9.
 *
 * Invariants (mcentral lock):
 *   partial: not cached, alloc_count - nfreed < nelems
 *   full:    not cached, alloc_count == nelems and nfreed == 0
 * A span whose objects are all freed (alloc_count == nfreed) and that is not
 * cached goes back to the page heap. */
#include "mcentral.h"

#include "malloc.h"

gcrt_mcentral_t gcrt__mcentral[GCRT_NUM_CACHE_CLASSES];

void gcrt__mcentral_init(void) {
    for (unsigned i = 0; i < GCRT_NUM_CACHE_CLASSES; i++) {
        gcrt__lock_init(&gcrt__mcentral[i].lock, GCRT_RANK_MCENTRAL);
        gcrt__mcentral[i].spanclass = i;
    }
    gcrt__mcentral[GCRT_TINY_SPC].spanclass = (GCRT_TINY_SIZE_CLASS << 1) | 1;
    gcrt__mcentral[GCRT_TINY_SPC].tiny = 1;
}

static void push(gcrt_span_t **head, gcrt_span_t *s, uint8_t which) {
    s->prev = NULL;
    s->next = *head;
    if (*head) (*head)->prev = s;
    *head = s;
    s->list = which;
}

static void unlink_span(gcrt_mcentral_t *c, gcrt_span_t *s) {
    gcrt_span_t **head = s->list == GCRT_LIST_PARTIAL ? &c->partial : &c->full;
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->list = GCRT_LIST_NONE;
}

/* Gives an empty, uncached span back to the heap (mcentral lock held). */
static void release_empty(gcrt_mcentral_t *c, gcrt_span_t *s) {
    c->nspans--;
    gcrt__mheap_free(&gcrt__mheap, s);
}

gcrt_span_t *gcrt__mcentral_cache_span(gcrt_mcentral_t *c) {
    gcrt__lock(&c->lock);
    gcrt_span_t *s;
    while ((s = c->partial) != NULL) {
        unlink_span(c, s);
        gcrt__span_fold_frees(s);
        if (s->alloc_count == 0 && c->partial) {
            /* Fully free and there are other candidates: the page heap can
             * put it to better use (or the scavenger can release it). */
            release_empty(c, s);
            continue;
        }
        break;
    }
    if (!s) {
        gcrt__unlock(&c->lock);
        unsigned sc = c->spanclass >> 1;
        s = gcrt__mheap_alloc(&gcrt__mheap, gcrt__class_to_npages[sc], c->spanclass, 0);
        if (!s) return NULL;
        s->tiny = c->tiny;
        gcrt__lock(&c->lock);
        c->nspans++;
    }
    s->list = GCRT_LIST_CACHED;
    gcrt_store_relaxed(&s->alloc_count_before_cache, s->alloc_count);
    gcrt__span_refill_cache(s, (s->freeindex & ~(uintptr_t)63) / 8);
    s->alloc_cache >>= s->freeindex & 63;
    gcrt__unlock(&c->lock);
    /* The free slots now count as allocated for pacing (Go: heapLive). */
    gcrt_xadd_relaxed(&gcrt__heap_live, (uint64_t)(s->nelems - s->alloc_count) * s->elemsize);
    return s;
}

void gcrt__mcentral_uncache_span(gcrt_mcentral_t *c, gcrt_span_t *s) {
    gcrt_xadd_relaxed(&gcrt__heap_live, -(uint64_t)(s->nelems - s->alloc_count) * s->elemsize);
    gcrt__lock(&c->lock);
    GCRT_ASSERT(s->list == GCRT_LIST_CACHED);
    s->list = GCRT_LIST_NONE;
    if (s->alloc_count == s->nfreed)
        release_empty(c, s);
    else if (s->alloc_count - s->nfreed < s->nelems)
        push(&c->partial, s, GCRT_LIST_PARTIAL);
    else
        push(&c->full, s, GCRT_LIST_FULL);
    gcrt__unlock(&c->lock);
}

void gcrt__mcentral_free_object(gcrt_mcentral_t *c, gcrt_span_t *s, uintptr_t p) {
    uintptr_t idx = (uintptr_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
    gcrt__lock(&c->lock);
    if (gcrt_load_relaxed(&s->state) != GCRT_SPAN_INUSE || s->spanclass != c->spanclass ||
        idx >= s->nelems || !gcrt__span_slot_allocated(s, idx)) {
        gcrt__unlock(&c->lock);
        gcrt__throwf("gcrt_free: %p is not an allocated object (double free?)", (void *)p);
    }
    __atomic_fetch_or(&s->freed_bits[idx / 64], (uint64_t)1 << (idx % 64), __ATOMIC_RELAXED);
    s->nfreed++;
    gcrt_xadd_relaxed(&gcrt__heap_live, -(uint64_t)s->elemsize);
    if (s->list == GCRT_LIST_FULL) {
        unlink_span(c, s);
        push(&c->partial, s, GCRT_LIST_PARTIAL);
    }
    if (s->list == GCRT_LIST_PARTIAL && s->alloc_count == s->nfreed) {
        unlink_span(c, s);
        release_empty(c, s);
    }
    gcrt__unlock(&c->lock);
}

void gcrt__mcentral_after_sweep(gcrt_mcentral_t *c, gcrt_span_t *s) {
    gcrt__lock(&c->lock);
    GCRT_ASSERT(s->list == GCRT_LIST_PARTIAL || s->list == GCRT_LIST_FULL);
    if (s->alloc_count == 0) {
        unlink_span(c, s);
        release_empty(c, s);
    } else if (s->list == GCRT_LIST_FULL && s->alloc_count < s->nelems) {
        unlink_span(c, s);
        push(&c->partial, s, GCRT_LIST_PARTIAL);
    }
    gcrt__unlock(&c->lock);
}
