/* mgcsweep.c - sweeping (Go: mgcsweep.go): after marking, every span's
 * mark bits become its allocation bits; slots that were allocated and are
 * not marked are free again, and spans left empty go back to the page heap,
 * where the scavenger can return them to the OS. See gc.c for the tour. */
#include <string.h>

#include "gc.h"
#include "malloc.h"
#include "mcache.h"
#include "mcentral.h"

struct gcrt_sweep_stats gcrt__sweep_stats;

/* Bits for slots [0, n) of word w. */
static inline uint64_t valid_mask(uintptr_t w, uintptr_t n) {
    if ((w + 1) * 64 <= n) return ~(uint64_t)0;
    if (w * 64 >= n) return 0;
    return ((uint64_t)1 << (n - w * 64)) - 1;
}

/* Sweeps one small span that is on an mcentral list. Returns live bytes. */
static uint64_t sweep_small(gcrt_span_t *s) {
    uintptr_t fi = s->freeindex, nelems = s->nelems;
    uint64_t nlive = 0, ngc_freed = 0;
    int dirty = 0;
    for (uintptr_t w = 0; w < s->nbits_words; w++) {
        uint64_t valid = valid_mask(w, nelems);
        uint64_t allocated = (s->alloc_bits[w] | valid_mask(w, fi)) & valid;
        uint64_t freed = s->freed_bits[w];
        uint64_t live = gcrt_load_relaxed(&s->gcmark_bits[w]) & allocated & ~freed;
        ngc_freed += (uint64_t)__builtin_popcountll(allocated & ~freed & ~live);
        dirty |= (allocated & ~live) != 0;
        nlive += (uint64_t)__builtin_popcountll(live);
        gcrt_store_relaxed(&s->alloc_bits[w], live);
        gcrt_store_relaxed(&s->freed_bits[w], (uint64_t)0);
        gcrt_store_relaxed(&s->gcmark_bits[w], (uint64_t)0);
    }
    unsigned sc = s->spanclass >> 1;
    if (ngc_freed) gcrt_xadd_relaxed(&gcrt__sweep_stats.small_free_count[sc], ngc_freed);
    /* Explicit frees (nfreed) were counted by gcrt_free already. */
    s->nfreed = 0;
    gcrt_store_relaxed(&s->alloc_count, (uint16_t)nlive);
    gcrt_store_relaxed(&s->freeindex, (uint16_t)0);
    if (dirty) s->needzero = 1;
    gcrt__span_refill_cache(s, 0);
    gcrt__mcentral_after_sweep(&gcrt__mcentral[s->tiny ? GCRT_TINY_SPC : s->spanclass], s);
    return nlive * s->elemsize;
}

/* A large object: freed whole if unmarked. Returns live bytes. */
static uint64_t sweep_large(gcrt_span_t *s) {
    if (gcrt_load_relaxed(&s->gcmark_bits[0]) & 1) {
        gcrt_store_relaxed(&s->gcmark_bits[0], (uint64_t)0);
        return s->elemsize;
    }
    uintptr_t bytes = (uintptr_t)s->npages << GCRT_PAGE_SHIFT;
    gcrt_xadd_relaxed(&gcrt__sweep_stats.large_free, bytes);
    gcrt_xadd_relaxed(&gcrt__sweep_stats.large_free_count, 1);
    gcrt__mheap_free(&gcrt__mheap, s);
    return 0;
}

uint64_t gcrt__gc_sweep_all(void) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uint64_t live = 0;
    uintptr_t npages = (gcrt_load_relaxed(&h->arena_used) - h->arena_start) >> GCRT_PAGE_SHIFT;
    for (uintptr_t i = 0; i < npages;) {
        gcrt_span_t *s = h->spans[i];
        if (!s || s->base != h->arena_start + (i << GCRT_PAGE_SHIFT)) {
            i++;
            continue;
        }
        uintptr_t n = s->npages;
        if (s->state == GCRT_SPAN_INUSE) {
            if ((s->spanclass >> 1) == 0)
                live += sweep_large(s);
            else
                live += sweep_small(s);
        }
        i += n;
    }
    return live;
}
