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
    gcrt_bump(&gcrt__meta.mcache_inuse, sizeof *c);
    gcrt_bump(&gcrt__meta.mcache_sys, sizeof *c);
    gcrt__lock(&gcrt__allmcache_lock);
    c->alllink = gcrt__allmcache;
    gcrt_store_release(&gcrt__allmcache, c);
    gcrt__unlock(&gcrt__allmcache_lock);
    return c;
}

/* Takes span class spc's span out of the cache, moving its allocation count
 * into the P's statistics. */
static void uncache(gcrt_mcache_t *c, unsigned spc) {
    gcrt_span_t *s = c->alloc[spc];
    if (s == &gcrt__empty_span) return;
    gcrt__stats_begin(&c->stats);
    gcrt_bump(&c->stats.small_alloc_count[gcrt__spc_sizeclass(spc)],
              (uint64_t)(s->alloc_count - s->alloc_count_before_cache));
    gcrt_store_relaxed(&c->alloc[spc], &gcrt__empty_span);
    gcrt__stats_end(&c->stats);
    gcrt__mcentral_uncache_span(&gcrt__mcentral[spc], s);
}

gcrt_span_t *gcrt__mcache_refill(gcrt_mcache_t *c, unsigned spc) {
    uncache(c, spc);
    gcrt_span_t *s = gcrt__mcentral_cache_span(&gcrt__mcentral[spc]);
    if (!s) return NULL;
    gcrt__stats_begin(&c->stats);
    gcrt_store_relaxed(&c->alloc[spc], s);
    gcrt__stats_end(&c->stats);
    return s;
}

void gcrt__mcache_release_all(gcrt_mcache_t *c) {
    for (unsigned spc = 0; spc < GCRT_NUM_CACHE_CLASSES; spc++) uncache(c, spc);
    gcrt__stats_begin(&c->stats);
    gcrt_bump(&c->stats.tiny_allocs, c->tiny_allocs);
    gcrt_store_relaxed(&c->tiny_allocs, (uint64_t)0);
    gcrt__stats_end(&c->stats);
    c->tiny = 0;
    c->tiny_offset = 0;
}
