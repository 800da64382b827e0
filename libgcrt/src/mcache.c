/* mcache.c - per-P span caches (Go: mcache.go). See malloc.c, steps 3-5. */
#include "mcache.h"

#include "malloc.h"
#include "mcentral.h"

gcrt_span_t gcrt__empty_span; /* nelems 0, alloc_cache 0: always "full" */

gcrt_mcache_t *gcrt__allmcache;
gcrt_lock_t gcrt__allmcache_lock = GCRT_LOCK_INIT(GCRT_RANK_LEAF);

gcrt_mcache_t *gcrt__mcache_new(void) {
    gcrt_mcache_t *c = gcrt__meta_alloc(sizeof *c);
    if (!c) gcrt__throw("out of memory allocating an mcache");
    for (unsigned i = 0; i < GCRT_NUM_CACHE_CLASSES; i++) c->alloc[i] = &gcrt__empty_span;
    c->next_sample = INT64_MAX;
    c->hooks = gcrt_load_relaxed(&gcrt__alloc_hooks) |
               (gcrt_load_relaxed(&gcrt__gc_marking) ? GCRT_HOOK_BLACK : 0);
    gcrt_bump(&gcrt__meta.mcache_inuse, sizeof *c);
    gcrt_bump(&gcrt__meta.mcache_sys, sizeof *c);
    gcrt__lock(&gcrt__allmcache_lock);
    c->alllink = gcrt__allmcache;
    gcrt_store_release(&gcrt__allmcache, c);
    gcrt__unlock(&gcrt__allmcache_lock);
    return c;
}

void gcrt__mcache_set_stop_hook(int on) {
    for (gcrt_mcache_t *c = gcrt_load_acquire(&gcrt__allmcache); c; c = c->alllink) {
        if (on)
            __atomic_fetch_or(&c->hooks, (uint32_t)GCRT_HOOK_STOP, __ATOMIC_RELAXED);
        else
            __atomic_fetch_and(&c->hooks, ~(uint32_t)GCRT_HOOK_STOP, __ATOMIC_RELAXED);
    }
}

/* Takes span class spc's span out of the cache, moving its allocation count
 * into the P's statistics. */
static void uncache(gcrt_mcache_t *c, unsigned spc) {
    gcrt_span_t *s = c->alloc[spc];
    if (s == &gcrt__empty_span) return;
    uint64_t nalloc = (uint64_t)(s->alloc_count - s->alloc_count_before_cache);
    /* The scannable allocation made from it (Go: the scanAlloc that
     * refill and releaseAll add to heapScan). */
    if (!(spc & 1) && spc != GCRT_TINY_SPC)
        gcrt_xadd_relaxed(&gcrt__heap_scan_alloc, nalloc * s->elemsize);
    gcrt__stats_begin(&c->stats);
    gcrt_bump(&c->stats.small_alloc_count[gcrt__spc_sizeclass(spc)], nalloc);
    gcrt_store_relaxed(&c->alloc[spc], &gcrt__empty_span);
    gcrt__stats_end(&c->stats);
    gcrt__mcentral_uncache_span(&gcrt__mcentral[spc], s);
}

gcrt_span_t *gcrt__mcache_refill(gcrt_mcache_t *c, unsigned spc) {
    /* The allocation's share of the sweep (Go: cacheSpan's
     * deductSweepCredit), before the no-stop region below. */
    gcrt__sweep_deduct((uint64_t)gcrt__class_to_npages[gcrt__spc_sizeclass(spc)]
                       << GCRT_PAGE_SHIFT);
    /* No stop while a span is in flight between the cache and its
     * mcentral (list CACHED, but not in c->alloc): a stop-the-world walks
     * the caches (prepare_mcaches_for_mark clears the stale mark bits of
     * cached spans) and would miss it. The mcentral's unlock would
     * otherwise take a pending stop right there. */
    gcrt__nostop_enter();
    uncache(c, spc);
    gcrt_span_t *s = gcrt__mcentral_cache_span(&gcrt__mcentral[spc]);
    if (!s) {
        gcrt__nostop_exit();
        return NULL;
    }
    /* Release: a MemStats reader (read_pstats) that loads the slot reads
     * the span's counts, which the span's initialisation (a recycled
     * struct is rewritten) must happen before. */
    gcrt__stats_begin(&c->stats);
    gcrt_store_release(&c->alloc[spc], s);
    gcrt__stats_end(&c->stats);
    gcrt__nostop_exit();
    /* The span's free slots count as allocated now (heap_live): pay for
     * them (Go: mallocgc's shouldhelpgc after a refill). */
    gcrt__malloc_gc_work(c, (int64_t)(s->nelems - s->alloc_count) * (int64_t)s->elemsize);
    return c->alloc[spc]; /* a stop-the-world may have flushed the cache */
}

void gcrt__mcache_release_all(gcrt_mcache_t *c) {
    gcrt__nostop_enter(); /* no span in flight during a stop (see gcrt__mcache_refill) */
    for (unsigned spc = 0; spc < GCRT_NUM_CACHE_CLASSES; spc++) uncache(c, spc);
    gcrt__stats_begin(&c->stats);
    gcrt_bump(&c->stats.tiny_allocs, c->tiny_allocs);
    gcrt_store_relaxed(&c->tiny_allocs, (uint64_t)0);
    gcrt__stats_end(&c->stats);
    c->tiny = 0;
    c->tiny_offset = 0;
    gcrt__nostop_exit();
}

void gcrt__mcache_prepare_for_sweep(gcrt_mcache_t *c) {
    if (!(gcrt_load_relaxed(&c->hooks) & GCRT_HOOK_FLUSH)) return;
    gcrt__mcache_release_all(c);
    uint32_t clear = GCRT_HOOK_FLUSH;
    if (gcrt_load_relaxed(&gcrt__gcphase) == GCRT_GC_OFF) clear |= GCRT_HOOK_BLACK;
    __atomic_fetch_and(&c->hooks, ~clear, __ATOMIC_RELAXED);
}
