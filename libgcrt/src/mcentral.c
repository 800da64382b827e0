/* mcentral.c - central lists of spans per span class (Go: mcentral.go).
 * See malloc.c, steps 5 and 9, and gc.c for sweeping.
 *
 * Invariants (mcentral lock), for spans on a list of the swept set:
 *   partial: not cached, worth_caching (below)
 *   full:    not cached, not worth caching
 * Spans on the unswept set may be anything until swept. A span being swept
 * (sweepgen == h - 1) is on no list; only its sweeper touches it. A span
 * whose objects are all freed (explicitly or by its sweep) and that is not
 * cached goes on the class's stash, reset as if new, while the stashes
 * stay under a budget, otherwise back to the page heap.
 *
 * The stash (not in Go, whose spans empty only by sweeping) is for explicit
 * frees: a program that frees what it allocated and allocates again would
 * otherwise send every span through the page heap and back (heap lock,
 * span struct, bitmaps, page table), and the scavenger could release the
 * pages in between, costing page faults on reuse. MemStats counts stashed
 * spans as HeapIdle (no object in them). The scavenger returns a class's
 * stash to the page heap once it has gone unused (nothing put on it or
 * taken from it) for 100-200 ms; gcrt_free_os_memory empties every stash.
 * The collector never sees stashed spans: they have no allocated slot. */
#include "mcentral.h"

#include "gc.h"
#include "malloc.h"
#include "os.h"

GCRT_NOSCAN_DATA gcrt_mcentral_t gcrt__mcentral[GCRT_NUM_CACHE_CLASSES];

void gcrt__mcentral_init(void) {
    for (unsigned i = 0; i < GCRT_NUM_CACHE_CLASSES; i++) {
        gcrt__lock_init(&gcrt__mcentral[i].lock, GCRT_RANK_MCENTRAL);
        gcrt__mcentral[i].spanclass = i;
    }
    gcrt__mcentral[GCRT_TINY_SPC].spanclass = (GCRT_TINY_SIZE_CLASS << 1) | 1;
    gcrt__mcentral[GCRT_TINY_SPC].tiny = 1;
}

static inline uint32_t heap_sg(void) {
    return gcrt_load_acquire(&gcrt__mheap.sweepgen);
}

/* List heads are written with atomic stores: gcrt__mcentral_sweep_one and
 * gcrt__sweep_done peek at them without the lock. */
static void push(gcrt_mcentral_t *c, gcrt_span_t *s, uint8_t which, unsigned set) {
    gcrt_span_t **head = which == GCRT_LIST_PARTIAL ? &c->partial[set] : &c->full[set];
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    else
        *(which == GCRT_LIST_PARTIAL ? &c->partial_tail[set] : &c->full_tail[set]) = s;
    gcrt_store_relaxed(head, s);
    s->list = which;
    s->list_set = (uint8_t)set;
}

static void unlink_span(gcrt_mcentral_t *c, gcrt_span_t *s) {
    gcrt_span_t **head =
        s->list == GCRT_LIST_PARTIAL ? &c->partial[s->list_set] : &c->full[s->list_set];
    if (s->prev)
        s->prev->next = s->next;
    else
        gcrt_store_relaxed(head, s->next);
    gcrt_span_t **tail =
        s->list == GCRT_LIST_PARTIAL ? &c->partial_tail[s->list_set] : &c->full_tail[s->list_set];
    if (s->next) {
        s->next->prev = s->prev;
    } else {
        GCRT_ASSERT(*tail == s);
        *tail = s->prev;
    }
    s->next = s->prev = NULL;
    s->list = GCRT_LIST_NONE;
}

static uint64_t stash_bytes; /* all stashes; atomic */
enum { STASH_FLUSH_BATCH = 16 };
static uint32_t flush_most; /* most spans a flush freed in one lock hold; atomic */

#define STASH_MIN       ((uint64_t)4 << 20) /* all classes */
#define STASH_CLASS_MIN ((uint64_t)1 << 20) /* each class */

/* Whether c may stash bytes more. Each class may hold 1 MiB (so that one
 * class's burst of frees does not starve the others), and all together
 * more, up to max(4 MiB, 1/8 of the spans in use); under a memory limit,
 * never more than 1/32 of it. Stashes empty themselves within 200 ms when
 * unused, so the worst case (every class at 1 MiB) is short-lived. */
static int stash_fits(const gcrt_mcentral_t *c, uint64_t bytes) {
    uint64_t all = gcrt_load_relaxed(&stash_bytes);
    uint64_t limit = gcrt_load_relaxed(&gcrt__mheap.memory_limit);
    if (limit && all + bytes > limit / 32) return 0;
    uint64_t mine = (uint64_t)c->nstash * bytes;
    if (mine + bytes <= STASH_CLASS_MIN) return 1;
    uint64_t inuse = gcrt_load_relaxed(&gcrt__mheap.heap_inuse);
    uint64_t b = (inuse > all ? inuse - all : 0) / 8;
    if (b < STASH_MIN) b = STASH_MIN;
    return all + bytes <= b;
}

/* Puts an empty small span (no allocated slot, uncached, on no list) on
 * c's stash if the budget allows, reset like a new span. */
static int stash_push(gcrt_mcentral_t *c, gcrt_span_t *s) {
    uint64_t bytes = (uint64_t)s->npages << GCRT_PAGE_SHIFT;
    if ((s->spanclass >> 1) == 0 || s->specials || !stash_fits(c, bytes)) return 0;
    /* Ordered after the count of the frees that emptied the span: a
     * MemStats read that sees the span stashed (not in use) sees its
     * frees too (memstats.c). */
    gcrt_xadd(&stash_bytes, bytes);
    for (uint32_t w = 0; w < s->nbits_words; w++) {
        gcrt_store_relaxed(&s->alloc_bits[w], (uint64_t)0);
        gcrt_store_relaxed(&s->freed_bits[w], (uint64_t)0);
        gcrt_store_relaxed(&s->gcmark_bits[w], (uint64_t)0);
    }
    s->nfreed = 0;
    gcrt_store_relaxed(&s->alloc_count, (uint16_t)0);
    gcrt_store_relaxed(&s->freeindex, (uint16_t)0);
    s->needzero = 1;
    gcrt__span_refill_cache(s, 0);
    s->prev = NULL;
    s->next = c->stash;
    gcrt_store_relaxed(&c->stash, s);
    gcrt_store_relaxed(&c->stash_used, (uint8_t)1);
    c->nstash++;
    s->list = GCRT_LIST_STASH;
    return 1;
}

/* Unlinks the newest stashed span, or returns NULL. */
static gcrt_span_t *stash_take(gcrt_mcentral_t *c) {
    gcrt_span_t *s = c->stash;
    if (!s) return NULL;
    gcrt_store_relaxed(&c->stash, s->next);
    c->nstash--;
    gcrt_store_relaxed(&c->stash_used, (uint8_t)1);
    s->next = NULL;
    s->list = GCRT_LIST_NONE;
    gcrt_xadd_relaxed(&stash_bytes, -((uint64_t)s->npages << GCRT_PAGE_SHIFT));
    return s;
}

static gcrt_span_t *stash_pop(gcrt_mcentral_t *c, uint32_t sg) {
    gcrt_span_t *s = stash_take(c);
    if (!s) return NULL;
    /* Its mark bits were cleared when stashed; a shade that raced with
     * that may have set one since, on a free slot: clear again (no slot is
     * allocated, so nothing can be marked legitimately). */
    for (uint32_t w = 0; w < s->nbits_words; w++)
        gcrt_store_relaxed(&s->gcmark_bits[w], (uint64_t)0);
    gcrt_store_relaxed(&s->sweepgen, sg);
    return s;
}

/* The span leaves the class for the page heap (mcentral lock held). */
static void free_to_heap(gcrt_mcentral_t *c, gcrt_span_t *s) {
    c->nspans--;
    gcrt__mheap_free(&gcrt__mheap, s);
}

/* An empty, uncached span leaves the class's lists (mcentral lock held):
 * to the stash, or back to the heap. */
static void release_empty(gcrt_mcentral_t *c, gcrt_span_t *s) {
    if (!stash_push(c, s)) free_to_heap(c, s);
}

uint32_t gcrt__mcentral_flush_most(void) {
    return gcrt_load_relaxed(&flush_most);
}

uint64_t gcrt__mcentral_stash_bytes(void) {
    return gcrt_load_acquire(&stash_bytes);
}

void gcrt__mcentral_flush_stash(int all) {
    for (unsigned i = 0; i < GCRT_NUM_CACHE_CLASSES; i++) {
        gcrt_mcentral_t *c = &gcrt__mcentral[i];
        if (!gcrt_load_relaxed(&c->stash) && !gcrt_load_relaxed(&c->stash_used)) continue;
        gcrt__lock(&c->lock);
        if (all || !c->stash_used) {
            /* A few spans per lock hold: the page heap's lock and
             * coalescing cost microseconds a span, and an allocating
             * thread that needs this class's lock must not wait for the
             * whole stash (bigheap: a stash of thousands of spans kept the
             * allocating thread waiting 0.6-2.5 ms). */
            for (;;) {
                gcrt_span_t *batch[STASH_FLUSH_BATCH], *s;
                int n = 0;
                while (n < STASH_FLUSH_BATCH && (s = stash_take(c)) != NULL) {
                    c->nspans--;
                    batch[n++] = s;
                }
                if (n == 0) break;
                if ((uint32_t)n > gcrt_load_relaxed(&flush_most))
                    gcrt_store_relaxed(&flush_most, (uint32_t)n);
                gcrt__unlock(&c->lock);
                for (int k = 0; k < n; k++) gcrt__mheap_free(&gcrt__mheap, batch[k]);
                gcrt__lock(&c->lock);
            }
        }
        gcrt_store_relaxed(&c->stash_used, (uint8_t)0);
        gcrt__unlock(&c->lock);
    }
}

/* Whether an uncached span has enough free slots to hand to an mcache: any
 * free slot, as in Go, except that slots freed by gcrt_free (pending, not
 * yet folded) count only from nelems/8 on. A program that frees objects
 * one at a time would otherwise send spans back to the caches for one or
 * two slots each: a refill (two lock round trips and a fold) every
 * allocation or two. */
static inline int worth_caching(const gcrt_span_t *s) {
    uint32_t nfree = (uint32_t)s->nelems - s->alloc_count + s->nfreed;
    if (s->nfreed == 0) return nfree > 0;
    uint32_t min = s->nelems / 8u;
    return nfree >= (min ? min : 1u);
}

/* Puts a swept span (off the lists) where its counts say, or frees it. */
static void place_swept(gcrt_mcentral_t *c, gcrt_span_t *s, uint32_t sg) {
    if (s->alloc_count == s->nfreed)
        release_empty(c, s);
    else if (worth_caching(s))
        push(c, s, GCRT_LIST_PARTIAL, gcrt__swept_set(sg));
    else
        push(c, s, GCRT_LIST_FULL, gcrt__swept_set(sg));
}

/* Claims, sweeps and places s (taken off an unswept list by the caller,
 * lock held on entry and exit). Returns s if it has a free slot and
 * want_free, in which case it is left off the lists for the caller: a
 * small span the sweep emptied too (Go: sweep with preserve keeps an empty
 * span for cacheSpan), which would otherwise go to the stash or the page
 * heap only for the caller to sweep on for a span with room, and take one
 * from the stash or the heap at last. */
static gcrt_span_t *sweep_locked(gcrt_mcentral_t *c, gcrt_span_t *s, uint32_t sg, int want_free) {
    gcrt_store_relaxed(&s->sweepgen, sg - 1);
    gcrt_store_relaxed(&c->nsweeping, c->nsweeping + 1);
    /* No stop while the span is claimed: whoever finishes the sweep with
     * the world stopped waits for every claimed span. */
    gcrt__nostop_enter();
    gcrt__unlock(&c->lock);
    gcrt__sweep_note_pages(s->npages);
    int live = gcrt__sweep_span(s);
    gcrt__lock(&c->lock);
    gcrt__nostop_exit();
    gcrt_store_release(&s->sweepgen, sg);
    if (!live) { /* a dead large object, or a small span with no objects */
        if ((s->spanclass >> 1) == 0) {
            gcrt__sweep_count_large_free(s);
        } else if (want_free && !s->specials) {
            /* The sweep left it as stash_pop would: no slot allocated,
             * marked or freed, cache refilled, this generation's. */
            s->needzero = 1;
            gcrt_store_release(&c->nsweeping, c->nsweeping - 1);
            return s;
        }
        release_empty(c, s);
        gcrt_store_release(&c->nsweeping, c->nsweeping - 1);
        return NULL;
    }
    gcrt_span_t *ret = NULL;
    if (want_free && s->alloc_count < s->nelems)
        ret = s;
    else
        place_swept(c, s, sg);
    gcrt_store_release(&c->nsweeping, c->nsweeping - 1);
    return ret;
}

uintptr_t gcrt__mcentral_sweep_one(gcrt_mcentral_t *c) {
    uint32_t sg = heap_sg();
    unsigned un = 1 - gcrt__swept_set(sg);
    if (!gcrt_load_relaxed(&c->partial[un]) && !gcrt_load_relaxed(&c->full[un])) return 0;
    gcrt__lock(&c->lock);
    sg = heap_sg();
    un = 1 - gcrt__swept_set(sg);
    gcrt_span_t *s = c->partial[un] ? c->partial[un] : c->full[un];
    if (!s) {
        gcrt__unlock(&c->lock);
        return 0;
    }
    unlink_span(c, s);
    uintptr_t npages = s->npages;
    sweep_locked(c, s, sg, 0);
    gcrt__unlock(&c->lock);
    return npages;
}

/* A new span's pages that are fresh (never used, or given back to the OS):
 * each is written once, now. The program's first access to a new object
 * is often a read (gcrt_store loads the old value first), which maps the
 * kernel's shared zero page, and the write after it takes a second fault
 * to replace it: two faults a page instead of one (binary-trees with 2
 * threads: 53,700 faults on 23,700 pages; 3-5 us each on a virtual
 * machine, the slowest 0.1-3 ms, and a thread in a fault cannot take the
 * stop signal). The pages are zero and stay zero: a plain store of 0 to
 * memory nobody else may use yet. Small-object spans only: their slots
 * are all handed out; a large object's pages are the program's to touch
 * (or not). */
static void prefault(gcrt_span_t *s) {
    gcrt__os_touch_pages((void *)s->base, (size_t)s->npages << GCRT_PAGE_SHIFT);
}

gcrt_span_t *gcrt__mcentral_cache_span(gcrt_mcentral_t *c) {
    gcrt__lock(&c->lock);
    uint32_t sg = heap_sg();
    unsigned sw = gcrt__swept_set(sg), un = 1 - sw;
    gcrt_span_t *s;
    for (;;) {
        /* 1. A swept span with free slots. */
        if ((s = c->partial[sw]) != NULL) {
            unlink_span(c, s);
            gcrt__span_fold_frees(s);
            if (s->alloc_count == 0 && c->partial[sw]) {
                /* Fully free and there are other candidates: the page heap
                 * can put it to better use (or the scavenger release it). */
                release_empty(c, s);
                continue;
            }
            break;
        }
        /* 2. Sweep unswept ones of this class: partial first, then up to
         * 100 full ones (Go's spanBudget), oldest first, as Go's spanSets
         * give them: a span that has been full longest holds the oldest
         * objects, the likeliest to have died (the newest are usually
         * still all live, and sweeping them first finds no room). */
        int budget = 100;
        while (!s && budget-- > 0 && (c->partial[un] || c->full[un])) {
            gcrt_span_t *t = c->partial[un] ? c->partial_tail[un] : c->full_tail[un];
            unlink_span(c, t);
            s = sweep_locked(c, t, sg, 1);
        }
        /* 3. An emptied span kept for reuse. */
        if (!s) s = stash_pop(c, sg);
        break;
    }
    if (!s) {
        gcrt__unlock(&c->lock);
        /* 4. A new span from the page heap. */
        unsigned sc = c->spanclass >> 1;
        s = gcrt__mheap_alloc(&gcrt__mheap, gcrt__class_to_npages[sc], c->spanclass, 0);
        if (!s) return NULL;
        if (!s->needzero) prefault(s);
        s->tiny = c->tiny;
        gcrt__lock(&c->lock);
        c->nspans++;
    }
    s->list = GCRT_LIST_CACHED;
    gcrt_store_relaxed(&s->alloc_count_before_cache, s->alloc_count);
    gcrt__span_refill_cache(s, (s->freeindex & ~(uintptr_t)63) / 8);
    s->alloc_cache >>= s->freeindex & 63;
    gcrt__unlock(&c->lock);
    /* The free slots now count as allocated for pacing (Go: heapLive).
     * Scannable heap counts only what is really allocated, when the span
     * leaves the cache (mcache.c: uncache): a span cached again would
     * count its free slots a second time. */
    uint64_t free_bytes = (uint64_t)(s->nelems - s->alloc_count) * s->elemsize;
    gcrt_xadd_relaxed(&gcrt__heap_live, free_bytes);
    return s;
}

void gcrt__mcentral_uncache_span(gcrt_mcentral_t *c, gcrt_span_t *s) {
    gcrt_xadd_relaxed(&gcrt__heap_live, -(uint64_t)(s->nelems - s->alloc_count) * s->elemsize);
    gcrt__lock(&c->lock);
    GCRT_ASSERT(s->list == GCRT_LIST_CACHED);
    s->list = GCRT_LIST_NONE;
    uint32_t sg = heap_sg();
    if (gcrt_load_relaxed(&s->sweepgen) == sg) {
        place_swept(c, s, sg);
    } else if (gcrt_load_relaxed(&gcrt__gcphase) != GCRT_GC_OFF) {
        /* Cached since before the last mark termination, and a new mark is
         * running: its mark bits are this cycle's, so it cannot be swept
         * now. Its unswept garbage waits for the next sweep. */
        gcrt_store_relaxed(&s->sweepgen, sg);
        place_swept(c, s, sg);
    } else {
        /* Cached across the last mark termination: sweep it with that
         * cycle's marks, like every other span. */
        gcrt_store_relaxed(&s->sweepgen, sg - 2);
        push(c, s, s->alloc_count < s->nelems ? GCRT_LIST_PARTIAL : GCRT_LIST_FULL,
             1 - gcrt__swept_set(sg));
        gcrt__bgsweep_wake();
    }
    gcrt__unlock(&c->lock);
}

/* Waits (lock dropped) while a sweeper holds s. */
static void wait_not_sweeping(gcrt_mcentral_t *c, gcrt_span_t *s) {
    while (gcrt_load_acquire(&s->sweepgen) == heap_sg() - 1) {
        gcrt__unlock(&c->lock);
        gcrt_cpu_relax();
        gcrt__lock(&c->lock);
    }
}

/* The object in slot idx of s is being freed (lock held, the caller in a
 * no-stop region). While marking, its mark bit is this mark's: set by a
 * black allocation or by the marker, it made the object count in
 * bytes_marked, which becomes heap_marked, the basis of the next heap goal.
 * Freed, it is not live at the mark's end: clear the bit (nothing may mark
 * a freed slot) and take it off the count. */
static void unmark_freed(gcrt_gcwork_t *w, gcrt_span_t *s, uintptr_t idx) {
    if (!gcrt_load_relaxed(&gcrt__gc_marking)) return;
    uint64_t bit = (uint64_t)1 << (idx % 64);
    if (__atomic_fetch_and(&s->gcmark_bits[idx / 64], ~bit, __ATOMIC_RELAXED) & bit)
        gcrt_bump(&w->bytes_marked, -(uint64_t)s->elemsize); /* w: the caller's own */
}

void gcrt__mcentral_free_object(gcrt_mcentral_t *c, gcrt_span_t *s, uintptr_t p, gcrt_gcwork_t *w) {
    uintptr_t idx = (uintptr_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
    gcrt__lock(&c->lock);
    wait_not_sweeping(c, s);
    if (gcrt_load_relaxed(&s->state) != GCRT_SPAN_INUSE || s->spanclass != c->spanclass ||
        idx >= s->nelems || !gcrt__span_slot_allocated(s, idx)) {
        gcrt__unlock(&c->lock);
        gcrt__throwf("gcrt_free: %p is not an allocated object (double free?)", (void *)p);
    }
    /* One writer (lock held); lock-free readers load it relaxed. */
    gcrt_bump(&s->freed_bits[idx / 64], (uint64_t)1 << (idx % 64));
    s->nfreed++;
    gcrt_bump(&c->nfree, 1);
    gcrt__fin_remove(s, p - s->base);
    unmark_freed(w, s, idx);
    gcrt_xadd_relaxed(&gcrt__heap_live, -(uint64_t)s->elemsize);
    if (s->list == GCRT_LIST_FULL && worth_caching(s)) {
        unsigned set = s->list_set;
        unlink_span(c, s);
        push(c, s, GCRT_LIST_PARTIAL, set);
    }
    if (s->list == GCRT_LIST_PARTIAL && s->alloc_count == s->nfreed) {
        unlink_span(c, s);
        release_empty(c, s);
    }
    gcrt__unlock(&c->lock);
}

void gcrt__mcentral_check_tiny(gcrt_span_t *s, uintptr_t p) {
    gcrt_mcentral_t *c = &gcrt__mcentral[GCRT_TINY_SPC];
    gcrt__lock(&c->lock);
    /* A sweep rewrites the allocation bits and freeindex: not halfway. */
    wait_not_sweeping(c, s);
    int ok =
        gcrt_load_relaxed(&s->state) == GCRT_SPAN_INUSE && s->tiny && p >= s->base && p < s->limit;
    if (ok) {
        uintptr_t idx = (uintptr_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
        ok = idx < s->nelems && gcrt__span_slot_allocated(s, idx);
    }
    gcrt__unlock(&c->lock);
    if (!ok) gcrt__throwf("gcrt_free: %p is not an allocated object (double free?)", (void *)p);
}

void gcrt__mcentral_add_large(gcrt_span_t *s) {
    gcrt_mcentral_t *c = &gcrt__mcentral[s->spanclass];
    gcrt__lock(&c->lock);
    c->nspans++;
    /* A fresh object: swept in whatever generation it is registered, and
     * allocated only from now on (until here a conservative shade saw a
     * free slot and left it alone). Its colour is the allocator's hook's. */
    gcrt_store_relaxed(&s->sweepgen, heap_sg());
    gcrt_store_relaxed(&s->gcmark_bits[0], (uint64_t)0);
    s->alloc_count = 1;
    gcrt_store_release(&s->freeindex, (uint16_t)1);
    push(c, s, GCRT_LIST_FULL, gcrt__swept_set(heap_sg()));
    gcrt__unlock(&c->lock);
}

void gcrt__mcentral_free_large(gcrt_span_t *s, gcrt_gcwork_t *w) {
    gcrt_mcentral_t *c = &gcrt__mcentral[s->spanclass & 1];
    gcrt__lock(&c->lock);
    wait_not_sweeping(c, s);
    if (gcrt_load_relaxed(&s->state) != GCRT_SPAN_INUSE || s->list != GCRT_LIST_FULL ||
        (s->spanclass >> 1) != 0) {
        gcrt__unlock(&c->lock);
        gcrt__throwf("gcrt_free: %p is not an allocated object (double free?)", (void *)s->base);
    }
    gcrt__fin_remove(s, 0);
    unmark_freed(w, s, 0);
    gcrt_bump(&c->nfree, 1);
    gcrt_bump(&c->large_free, (uint64_t)s->npages << GCRT_PAGE_SHIFT);
    unlink_span(c, s);
    release_empty(c, s);
    gcrt__unlock(&c->lock);
}
