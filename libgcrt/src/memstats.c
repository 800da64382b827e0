/* memstats.c - runtime.MemStats (Go: mstats.go). See malloc.c, step 8.
 *
 * Counts come from each P's statistics plus what the P's cached spans
 * allocated since they were cached, frees from the mcentrals (gcrt_free)
 * and the sweepers, and page counters from the heap. The derived fields
 * follow Go's identities (gcrt.h).
 *
 * A read stops the world, as Go's ReadMemStats does (readmemstats_m), so
 * that every field comes from one instant: no P allocates, frees or
 * refills meanwhile, and no GC cycle ends (the collector's own stops
 * take turns with ours on the stop lock), so NumGC, NextGC, LastGC and
 * the pause rings belong to the same cycle. Read without a stop, the
 * counters came from different moments: HeapAlloc above HeapInuse (1 read
 * in 2,000-30,000 with cycles back to back), NextGC already the next
 * cycle's goal while NumGC had not counted the cycle
 * (test_memstats_snapshot). Two kinds of thread still run during the
 * stop, and the order of the reads below makes them harmless:
 *   - the background sweeper (not stopped with the world; it waits at its
 *     next span) may finish sweeping a span: it counts the span's frees,
 *     then stashes it or frees its pages; and the scavenger moves free
 *     pages to released and stashed spans back to the heap (taken off the
 *     stash before their pages are freed). So the heap's pages are read
 *     first, then the stash, then the frees: frees read later than the
 *     pages can only be more (HeapAlloc lower), a span that left HeapInuse
 *     before the page read had its frees counted before that read, and a
 *     span between the stash and the page heap counts as in use. The
 *     allocation counts do not move while the world is stopped: only
 *     attached threads (all stopped) allocate.
 *   - threads that are not attached: they cannot allocate or free.
 * A stopped thread is never in the middle of an update of what is read
 * here: P statistics and cached spans change only in no-stop regions or
 * in the allocator's unpreemptible code (GCRT_NOPREEMPT), where neither a
 * safepoint nor the stop signal stops it. */
#include <string.h>

#include "gc.h"
#include "malloc.h"
#include "mcache.h"
#include "mcentral.h"
#include "mheap.h"
#include "memstats.h"
#include "sched_internal.h"

uint64_t gcrt__stack_inuse_extra; /* goroutine stacks mapped outside the heap */
uint64_t gcrt__stack_sys_extra;
void (*gcrt__gc_stats_hook)(struct gcrt_memstats *ms);

/* (World stopped.) */
static void read_pstats(gcrt_mcache_t *c, gcrt_pstats_t *out, uint64_t *tiny) {
    /* Odd: the owner was stopped inside an update (a safepoint or the
     * signal inside stats_begin/end), which every writer rules out (no-stop
     * regions): waiting would never end with the world stopped. */
    uint32_t seq = gcrt_load_acquire(&c->stats.seq);
    if (seq & 1) gcrt__throw("read mem stats: a P was stopped inside a statistics update");
    for (unsigned i = 0; i < GCRT_NUM_SIZE_CLASSES; i++)
        out->small_alloc_count[i] = gcrt_load_acquire(&c->stats.small_alloc_count[i]);
    out->large_alloc = gcrt_load_acquire(&c->stats.large_alloc);
    out->large_alloc_count = gcrt_load_acquire(&c->stats.large_alloc_count);
    out->tiny_allocs = gcrt_load_acquire(&c->stats.tiny_allocs);
    /* Allocations in spans the P still caches. */
    for (unsigned spc = 0; spc < GCRT_NUM_CACHE_CLASSES; spc++) {
        gcrt_span_t *s = gcrt_load_acquire(&c->alloc[spc]);
        if (s == &gcrt__empty_span) continue;
        out->small_alloc_count[gcrt__spc_sizeclass(spc)] +=
            (uint16_t)(gcrt_load_acquire(&s->alloc_count) -
                       gcrt_load_acquire(&s->alloc_count_before_cache));
    }
    *tiny = gcrt_load_acquire(&c->tiny_allocs);
}

void gcrt__read_heap_counts(struct gcrt_heap_counts *hc) {
    memset(hc, 0, sizeof *hc);
    /* (World stopped.) The frees first, then the allocations: every free
     * counted here was of an object whose allocation was counted before
     * it, so the allocations read afterwards include it (the sweeper, still
     * running, frees only objects whose allocation is counted). Read the
     * other way round without a stop, an object allocated and freed
     * between the two reads counted as freed only: Frees > Mallocs, and
     * HeapObjects and HeapAlloc wrapped to ~2^64 (test_memstats_consistent).
     * What gcrt_free freed (mcentral.h). */
    for (unsigned spc = 0; spc < GCRT_NUM_CACHE_CLASSES; spc++) {
        const gcrt_mcentral_t *mc = &gcrt__mcentral[spc];
        uint64_t n = gcrt_load_acquire(&mc->nfree);
        if ((spc >> 1) == 0) {
            hc->large_free += gcrt_load_acquire(&mc->large_free);
            hc->large_free_count += n;
        } else {
            hc->small_free_count[gcrt__spc_sizeclass(spc)] += n;
        }
    }
    /* What the collector's sweeping freed. */
    for (unsigned i = 0; i < GCRT_NUM_SIZE_CLASSES; i++)
        hc->small_free_count[i] += gcrt_load_acquire(&gcrt__sweep_stats.small_free_count[i]);
    hc->large_free += gcrt_load_acquire(&gcrt__sweep_stats.large_free);
    hc->large_free_count += gcrt_load_acquire(&gcrt__sweep_stats.large_free_count);
    gcrt__lock(&gcrt__allmcache_lock);
    for (gcrt_mcache_t *c = gcrt__allmcache; c; c = c->alllink) {
        gcrt_pstats_t st;
        uint64_t tiny;
        read_pstats(c, &st, &tiny);
        for (unsigned i = 0; i < GCRT_NUM_SIZE_CLASSES; i++)
            hc->small_alloc_count[i] += st.small_alloc_count[i];
        hc->large_alloc += st.large_alloc;
        hc->large_alloc_count += st.large_alloc_count;
        hc->tiny_allocs += st.tiny_allocs + tiny;
    }
    gcrt__unlock(&gcrt__allmcache_lock);
}

/* (World stopped.) Everything but what the derived fields are computed
 * from afterwards. */
static void read_stopped(struct gcrt_memstats *ms, struct gcrt_heap_counts *hc) {
    /* The GC's fields: no cycle ends while the world is stopped. */
    ms->next_gc = (uint64_t)4 << 20; /* Go's first heap goal (heapMinimum) */
    if (gcrt__gc_stats_hook) gcrt__gc_stats_hook(ms);
    /* The pages first, then the stash, then the counts (see the top). */
    gcrt_mheap_t *h = &gcrt__mheap;
    gcrt__lock(&h->lock);
    uint64_t inuse = h->heap_inuse, hfree = h->heap_free, released = h->heap_released;
    uint64_t stack_inuse = h->stack_inuse;
    gcrt__unlock(&h->lock);
    /* Stashed spans (mcentral.c) hold no object: idle, as Go defines it. */
    uint64_t stashed = gcrt__mcentral_stash_bytes();
    if (stashed > inuse) stashed = inuse;
    ms->heap_inuse = inuse - stashed;
    ms->heap_released = released;
    ms->heap_idle = hfree + stashed + released;
    ms->stack_inuse = stack_inuse + gcrt_load_relaxed(&gcrt__stack_inuse_extra);
    ms->stack_sys = ms->stack_inuse + gcrt_load_relaxed(&gcrt__stack_sys_extra) +
                    gcrt_load_relaxed(&gcrt__meta.stack_sys);
    ms->mspan_inuse = gcrt_load_relaxed(&gcrt__meta.mspan_inuse);
    ms->mspan_sys = gcrt_load_relaxed(&gcrt__meta.mspan_sys);
    ms->mcache_inuse = gcrt_load_relaxed(&gcrt__meta.mcache_inuse);
    ms->mcache_sys = gcrt_load_relaxed(&gcrt__meta.mcache_sys);
    ms->buck_hash_sys = gcrt_load_relaxed(&gcrt__meta.buck_hash_sys);
    ms->gc_sys = gcrt_load_relaxed(&gcrt__meta.gc_sys);
    ms->other_sys = gcrt_load_relaxed(&gcrt__meta.other_sys);
    gcrt__read_heap_counts(hc);
}

void gcrt_read_memstats(struct gcrt_memstats *ms) {
    memset(ms, 0, sizeof *ms);
    struct gcrt_heap_counts hc;
    /* Before the runtime's initialisation there is nothing to stop (and
     * nothing counted). Otherwise the stop needs the stop signal, which
     * the scheduler's start installs (once: the first cycle or goroutine
     * does it too). From any thread: attached, a goroutine, or one that
     * never attached (gcrt__stop_the_world); not a GC pause (no PauseNs,
     * no gctrace), as in Go. */
    int stop = gcrt_load_acquire(&gcrt__mheap.arena_start) != 0;
    if (stop) {
        gcrt__sched_start();
        gcrt__stop_the_world("read mem stats");
    }
    read_stopped(ms, &hc);
    if (stop) gcrt__start_the_world();

    uint64_t total_alloc = hc.large_alloc, freed = hc.large_free;
    uint64_t mallocs = hc.large_alloc_count + hc.tiny_allocs;
    uint64_t frees = hc.large_free_count + hc.tiny_allocs;
    for (unsigned i = 1; i < GCRT_NUM_SIZE_CLASSES; i++) {
        total_alloc += hc.small_alloc_count[i] * gcrt__class_to_size[i];
        freed += hc.small_free_count[i] * gcrt__class_to_size[i];
        mallocs += hc.small_alloc_count[i];
        frees += hc.small_free_count[i];
    }
    ms->alloc = ms->heap_alloc = total_alloc - freed;
    ms->total_alloc = total_alloc;
    ms->mallocs = mallocs;
    ms->frees = frees;
    ms->heap_objects = mallocs - frees;
    ms->heap_sys = ms->heap_inuse + ms->heap_idle;
    /* mcaches come out of the persistent allocator: don't count them twice. */
    uint64_t other = ms->other_sys;
    ms->other_sys = other > ms->mcache_sys ? other - ms->mcache_sys : 0;
    ms->sys = ms->heap_sys + ms->stack_sys + ms->mspan_sys + ms->mcache_sys + ms->buck_hash_sys +
              ms->gc_sys + ms->other_sys;
    ms->enable_gc = true;
    ms->debug_gc = false;
    for (unsigned i = 0; i < GCRT_NUM_BYSIZE; i++) {
        ms->by_size[i].size = gcrt__class_to_size[i];
        ms->by_size[i].mallocs = hc.small_alloc_count[i];
        ms->by_size[i].frees = hc.small_free_count[i];
    }
}
