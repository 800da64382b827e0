/* mheap.c - the page heap (Go: mheap.go, mpagealloc.go in spirit): the
 * reservation, free page runs, coalescing, growth and release. See malloc.c.
 *
 * Free runs are spans in state FREE on size-indexed lists (free_small[n] for
 * n < 128 pages, free_large beyond, best fit then lowest address). The page
 * table maps every page of an INUSE or MANUAL span to it, and the first and
 * last page of a FREE run to the run, which is all coalescing needs.
 *
 * Two bitmaps over all pages: "released" (returned to the OS, counted in
 * HeapReleased) and "dirty" (handed out since it was last known zero). Fresh
 * pages from growth count as released, as in Go: they take no memory until
 * touched. A run needs zeroing on allocation iff one of its pages is dirty;
 * releasing with MADV_DONTNEED makes pages clean again. */
#include "mheap.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "gc.h"
#include "godebug.h"
#include "malloc.h"
#include "memstats.h"
#include "os.h"
#include "sched.h"

gcrt_mheap_t gcrt__mheap;

#define GROW_MIN ((uint64_t)4 << 20) /* commit at least 4 MiB at a time */
/* The largest span: its page count (gcrt_span_t.npages) is 32 bits. A
 * multiple of GROW_MIN's pages, so that grow() rounding a request up to
 * GROW_MIN, plus the free run it merges with, stays below 2^32 pages. */
#define MAX_SPAN_PAGES ((uintptr_t)UINT32_MAX & ~(uintptr_t)((GROW_MIN >> GCRT_PAGE_SHIFT) - 1))
/* How long an allocation waits for the scavenger to put back a free run it
 * holds while in madvise, before growing the heap instead (alloc). */
#define SCAV_WAIT_NS ((int64_t)50 * 1000 * 1000)

static inline uintptr_t page_index(const gcrt_mheap_t *h, uintptr_t addr) {
    return (addr - h->arena_start) >> GCRT_PAGE_SHIFT;
}

/* ---- page bitmaps --------------------------------------------------------- */

static void bits_set_range(uint64_t *b, uintptr_t i, uintptr_t n, int v) {
    while (n > 0) {
        uintptr_t w = i / 64, off = i % 64, k = 64 - off < n ? 64 - off : n;
        uint64_t mask = (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << off;
        if (v)
            b[w] |= mask;
        else
            b[w] &= ~mask;
        i += k;
        n -= k;
    }
}

static uintptr_t bits_count_range(const uint64_t *b, uintptr_t i, uintptr_t n) {
    uintptr_t c = 0;
    while (n > 0) {
        uintptr_t w = i / 64, off = i % 64, k = 64 - off < n ? 64 - off : n;
        uint64_t mask = (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << off;
        c += (uintptr_t)__builtin_popcountll(b[w] & mask);
        i += k;
        n -= k;
    }
    return c;
}

/* Below index i (down to lo), the first index whose bit is v, scanning
 * downward a word at a time; lo - 1 if none. (Runs of a released heap are
 * long: a bit-by-bit walk held the heap lock for milliseconds.) */
static uintptr_t bits_prev(const uint64_t *b, uintptr_t lo, uintptr_t i, int v) {
    while (i > lo) {
        uintptr_t j = i - 1, w = j / 64, off = j % 64;
        uint64_t word = v ? b[w] : ~b[w];
        word &= off == 63 ? ~(uint64_t)0 : (((uint64_t)1 << (off + 1)) - 1); /* bits <= off */
        if (word) {
            uintptr_t k = w * 64 + 63 - (uintptr_t)__builtin_clzll(word);
            return k >= lo ? k : lo - 1;
        }
        i = w * 64;
    }
    return lo - 1;
}

/* ---- free lists ---------------------------------------------------------- */

static gcrt_span_t **free_list_for(gcrt_mheap_t *h, uintptr_t npages) {
    return npages < 128 ? &h->free_small[npages] : &h->free_large;
}

static void list_insert(gcrt_span_t **head, gcrt_span_t *s) {
    s->prev = NULL;
    s->next = *head;
    if (*head) (*head)->prev = s;
    *head = s;
}

static void list_remove(gcrt_span_t **head, gcrt_span_t *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* The free list of a run of npages, keeping free_small_nonempty. */
static void free_list_insert(gcrt_mheap_t *h, gcrt_span_t *s) {
    list_insert(free_list_for(h, s->npages), s);
    if (s->npages < 128) h->free_small_nonempty[s->npages / 64] |= (uint64_t)1 << (s->npages % 64);
}

static void free_list_remove(gcrt_mheap_t *h, gcrt_span_t *s) {
    uintptr_t n = s->npages;
    list_remove(free_list_for(h, n), s);
    if (n < 128 && !h->free_small[n]) h->free_small_nonempty[n / 64] &= ~((uint64_t)1 << (n % 64));
}

static void set_free_bounds(gcrt_mheap_t *h, gcrt_span_t *s) {
    uintptr_t i = page_index(h, s->base);
    gcrt_store_relaxed(&h->spans[i], s);
    gcrt_store_relaxed(&h->spans[i + s->npages - 1], s);
}

/* Inserts a FREE run, merging it with free neighbours (unless the merged
 * run would not fit the 32-bit page count: above 32 TiB). */
static void insert_free(gcrt_mheap_t *h, gcrt_span_t *s) {
    uintptr_t i = page_index(h, s->base);
    if (i > 0) {
        gcrt_span_t *prev = h->spans[i - 1];
        if (prev && gcrt_load_relaxed(&prev->state) == GCRT_SPAN_FREE && prev->heapfree &&
            prev->base + ((uintptr_t)prev->npages << GCRT_PAGE_SHIFT) == s->base &&
            (uintptr_t)prev->npages + s->npages <= UINT32_MAX) {
            free_list_remove(h, prev);
            s->base = prev->base;
            s->npages += prev->npages;
            gcrt__span_struct_free(h, prev);
        }
    }
    uintptr_t end = s->base + ((uintptr_t)s->npages << GCRT_PAGE_SHIFT);
    if (end < h->arena_used) {
        gcrt_span_t *next = h->spans[page_index(h, end)];
        if (next && gcrt_load_relaxed(&next->state) == GCRT_SPAN_FREE && next->heapfree &&
            next->base == end && (uintptr_t)next->npages + s->npages <= UINT32_MAX) {
            free_list_remove(h, next);
            s->npages += next->npages;
            gcrt__span_struct_free(h, next);
        }
    }
    gcrt_store_relaxed(&s->state, (uint8_t)GCRT_SPAN_FREE);
    s->heapfree = 1;
    set_free_bounds(h, s);
    free_list_insert(h, s);
}

/* Best fit: the smallest run of at least npages; on ties, the lowest address
 * (among the first 16 runs of a small size). */
static gcrt_span_t *find_free(gcrt_mheap_t *h, uintptr_t npages) {
    for (uintptr_t w = npages / 64; npages < 128 && w < 2; w++) {
        uint64_t m = h->free_small_nonempty[w];
        if (w == npages / 64) m &= ~(uint64_t)0 << (npages % 64);
        if (!m) continue;
        /* The lowest address among the first few: a fragmented heap can
         * have thousands of one-page runs, and a full walk per
         * allocation showed up in profiles. */
        gcrt_span_t *best = NULL;
        int k = 0;
        for (gcrt_span_t *s = h->free_small[w * 64 + (uintptr_t)__builtin_ctzll(m)]; s && k < 16;
             s = s->next, k++)
            if (!best || s->base < best->base) best = s;
        return best;
    }
    gcrt_span_t *best = NULL;
    for (gcrt_span_t *s = h->free_large; s; s = s->next) {
        if (s->npages < npages) continue;
        if (!best || s->npages < best->npages ||
            (s->npages == best->npages && s->base < best->base))
            best = s;
    }
    return best;
}

/* Commits more of the reservation: at least npages. 0 or -errno. */
static int grow(gcrt_mheap_t *h, uintptr_t npages) {
    /* A free run that ends where committed memory ends merges with the new
     * memory: only the difference is needed. */
    if (h->arena_used > h->arena_start + GCRT_PAGE_SIZE) {
        gcrt_span_t *last = h->spans[page_index(h, h->arena_used) - 1];
        if (last && gcrt_load_relaxed(&last->state) == GCRT_SPAN_FREE && last->heapfree &&
            last->base + ((uintptr_t)last->npages << GCRT_PAGE_SHIFT) == h->arena_used &&
            last->npages < npages)
            npages -= last->npages;
    }
    uintptr_t want = npages << GCRT_PAGE_SHIFT;
    uintptr_t size = want < h->grow_bytes ? h->grow_bytes : gcrt_round_up(want, GROW_MIN);
    uintptr_t avail = h->arena_end - h->arena_used;
    if (size > avail) size = want;
    if (size > avail) return -ENOMEM;
    int err = gcrt__os_commit((void *)h->arena_used, size);
    if (err && size > want) {
        size = want;
        err = gcrt__os_commit((void *)h->arena_used, size);
    }
    if (err) return err;
    gcrt_span_t *s = gcrt__span_struct_alloc(h);
    if (!s) return -ENOMEM;
    s->base = h->arena_used;
    s->npages = (uint32_t)(size >> GCRT_PAGE_SHIFT);
    uintptr_t first = page_index(h, s->base);
    bits_set_range(h->released, first, s->npages, 1);
    gcrt_store_relaxed(&h->arena_used, h->arena_used + size);
    gcrt_bump(&h->heap_sys, size);
    gcrt_bump(&h->heap_released, size);
    /* Page-table and bitmap pages now in use count as GC metadata. */
    gcrt_bump(&gcrt__meta.gc_sys, (uint64_t)s->npages * sizeof(void *) + s->npages / 4);
    insert_free(h, s);
    return 0;
}

int gcrt__mheap_init(gcrt_mheap_t *h, size_t reserve) {
    memset(h, 0, sizeof *h);
    gcrt__lock_init(&h->lock, GCRT_RANK_MHEAP);
    reserve = gcrt_round_up(reserve, (uintptr_t)64 << 10);
    void *base = NULL;
    /* Ask for the full reservation, halving down to 256 MiB if the address
     * space is limited (ulimit -v). */
    while (!(base = gcrt__os_reserve(reserve, (uintptr_t)64 << 10)) && reserve > (256u << 20))
        reserve /= 2;
    if (!base) return -ENOMEM;
    uintptr_t npages = reserve >> GCRT_PAGE_SHIFT;
    size_t spans_bytes = gcrt_round_up(npages * sizeof(gcrt_span_t *), 4096);
    size_t bits_bytes = gcrt_round_up((npages + 63) / 64 * 8, 4096);
    /* Lazily committed tables: untouched pages cost nothing. */
    char *meta = mmap(NULL, spans_bytes + 2 * bits_bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (meta == MAP_FAILED) {
        gcrt__os_unmap(base, reserve);
        return -ENOMEM;
    }
    h->spans = (gcrt_span_t **)meta;
    h->released = (uint64_t *)(meta + spans_bytes);
    h->dirty = (uint64_t *)(meta + spans_bytes + bits_bytes);
    h->arena_start = (uintptr_t)base;
    h->arena_end = h->arena_start + reserve;
    /* The first page is never used: the runtime's own globals hold
     * arena_start, and a conservative scan of them must not keep an object
     * that happens to live there alive. */
    h->arena_used = h->arena_start + GCRT_PAGE_SIZE;
    h->grow_bytes = GROW_MIN;
    h->sweepgen = 2;
    return 0;
}

/* Memory the runtime maps and has not released: Sys - HeapReleased, every
 * term of gcrt_read_memstats' Sys but the released heap pages (Go's
 * mappedReady counts goroutine stacks and profiling buckets too). */
uint64_t gcrt__mheap_mapped_ready(const gcrt_mheap_t *h) {
    return gcrt_load_relaxed(&h->heap_inuse) + gcrt_load_relaxed(&h->heap_free) +
           gcrt_load_relaxed(&h->stack_inuse) + gcrt_load_relaxed(&gcrt__meta.mspan_sys) +
           gcrt_load_relaxed(&gcrt__meta.gc_sys) + gcrt_load_relaxed(&gcrt__meta.other_sys) +
           gcrt_load_relaxed(&gcrt__meta.stack_sys) + gcrt_load_relaxed(&gcrt__meta.buck_hash_sys) +
           gcrt_load_relaxed(&gcrt__stack_inuse_extra) + gcrt_load_relaxed(&gcrt__stack_sys_extra);
}

gcrt_span_t *gcrt__mheap_alloc(gcrt_mheap_t *h, uintptr_t npages, unsigned spanclass, int manual) {
    if (npages == 0 || npages > MAX_SPAN_PAGES) return NULL;
    /* More than the whole reservation (its first page is never used) can
     * never be had: fail before the memory limit's scavenging below, which
     * would release every free page for a request that fails anyway. */
    if (npages > ((h->arena_end - h->arena_start) >> GCRT_PAGE_SHIFT) - 1) return NULL;
    /* Under a memory limit, release free pages first when this span would
     * go over it (Go: allocSpan's scavenging assist), unless the GC CPU
     * limiter is on; the time counts as assist time for it. */
    uint64_t limit = gcrt_load_relaxed(&h->memory_limit);
    if (limit && !gcrt_load_relaxed(&gcrt__gc_limiter_on)) {
        uint64_t want = gcrt__mheap_mapped_ready(h) + (npages << GCRT_PAGE_SHIFT);
        if (want > limit) {
            int64_t t0 = gcrt__nanotime();
            gcrt__mheap_scavenge(h, want - limit);
            gcrt__gc_limiter_add_assist(gcrt__nanotime() - t0);
        }
    }
    gcrt__lock(&h->lock);
    gcrt_span_t *t = find_free(h, npages);
    /* The scavenger may hold a free run off the lists while it is in
     * madvise (release_run): wait for it rather than grow the heap. (Not
     * waiting made allocations that came in meanwhile grow the heap:
     * GCBench's RSS grew 4 MiB at a time to twice its heap.) Bounded: a
     * thread scavenging for a memory limit may have been stopped in the
     * middle (by a stop-the-world whose stopper allocates). The bound is
     * time, not a count of yields: a yield returns at once when nothing
     * else wants this CPU, while the scavenger, preempted on a loaded
     * machine, may need a scheduler time slice or two to finish. Not while
     * a stop-the-world is pending: this thread is in the allocator's
     * no-stop region, so the stop would wait for the scavenger too (a
     * preempted scavenger: a scheduler time slice, milliseconds); it grows
     * the heap by the span instead. */
    for (int64_t t0 = 0; !t && h->scav_held && !gcrt__stop_pending();) {
        int64_t now = gcrt__nanotime();
        if (t0 == 0) t0 = now;
        if (now - t0 > SCAV_WAIT_NS) break;
        gcrt__unlock(&h->lock);
        if (now - t0 < 100 * 1000)
            gcrt__os_yield();
        else
            gcrt__os_sleep_ns(20 * 1000);
        gcrt__lock(&h->lock);
        t = find_free(h, npages);
    }
    if (!t) {
        if (grow(h, npages) != 0) {
            gcrt__unlock(&h->lock);
            return NULL;
        }
        t = find_free(h, npages);
        GCRT_ASSERT(t);
    }
    free_list_remove(h, t);
    t->heapfree = 0;
    gcrt_span_t *s;
    if (t->npages == npages) {
        s = t;
    } else {
        /* Cut the front off; the rest stays free. */
        s = gcrt__span_struct_alloc(h);
        if (!s) {
            insert_free(h, t);
            gcrt__unlock(&h->lock);
            return NULL;
        }
        s->base = t->base;
        s->npages = (uint32_t)npages;
        t->base += npages << GCRT_PAGE_SHIFT;
        t->npages -= (uint32_t)npages;
        t->heapfree = 1;
        set_free_bounds(h, t);
        free_list_insert(h, t);
    }
    uintptr_t first = page_index(h, s->base), bytes = npages << GCRT_PAGE_SHIFT;
    uintptr_t nrel = bits_count_range(h->released, first, npages);
    bits_set_range(h->released, first, npages, 0);
    s->needzero = bits_count_range(h->dirty, first, npages) != 0;
    bits_set_range(h->dirty, first, npages, 1);
    gcrt_bump(&h->heap_released, -(uint64_t)(nrel << GCRT_PAGE_SHIFT));
    gcrt_bump(&h->heap_free, -(uint64_t)(bytes - (nrel << GCRT_PAGE_SHIFT)));
    s->next = s->prev = NULL;
    gcrt_store_relaxed(&s->sweepgen, gcrt_load_relaxed(&h->sweepgen));
    s->heapfree = 0;
    s->list = GCRT_LIST_NONE;
    if (manual) {
        gcrt_bump(&h->stack_inuse, bytes);
        s->spanclass = 0;
        s->elemsize = bytes;
        s->nelems = 0;
        s->limit = s->base + bytes;
    } else {
        gcrt_bump(&h->heap_inuse, bytes);
        gcrt__span_init_objects(s, spanclass);
        if ((spanclass >> 1) == 0) /* a large object: its slot is taken at registration */
            s->alloc_cache = 0;    /* (gcrt__mcentral_add_large) */
    }
    for (uintptr_t i = 0; i < npages; i++) gcrt_store_relaxed(&h->spans[first + i], s);
    /* Publish the state last: lock-free lookups check it. */
    gcrt_store_release(&s->state, (uint8_t)(manual ? GCRT_SPAN_MANUAL : GCRT_SPAN_INUSE));
    gcrt__unlock(&h->lock);
    return s;
}

void gcrt__mheap_free(gcrt_mheap_t *h, gcrt_span_t *s) {
    gcrt__lock(&h->lock);
    if (s->state != GCRT_SPAN_INUSE && s->state != GCRT_SPAN_MANUAL)
        gcrt__throwf("gcrt_free: double free of span at %p (%u pages)", (void *)s->base, s->npages);
    uintptr_t bytes = (uintptr_t)s->npages << GCRT_PAGE_SHIFT;
    if (s->state == GCRT_SPAN_MANUAL)
        gcrt_bump(&h->stack_inuse, -(uint64_t)bytes);
    else
        gcrt_bump(&h->heap_inuse, -(uint64_t)bytes);
    gcrt_bump(&h->heap_free, bytes);
    s->spanclass = 0;
    s->elemsize = 0;
    s->limit = s->base;
    insert_free(h, s);
    gcrt__unlock(&h->lock);
}

#if GCRT_ASSERT_LEVEL >= 2
void (*gcrt__release_test_hook)(void);
#endif

/* Releases up to want pages at the high end of free run s, which the
 * caller took off the free lists (so nobody else touches its pages; see
 * scav_held). The stretches are found under the heap lock, released with
 * the lock dropped (madvise is slow), then marked. Returns pages released. */
static uintptr_t release_run(gcrt_mheap_t *h, gcrt_span_t *s, uintptr_t want) {
    enum { MAXSTRETCH = 32 };
    uintptr_t lo[MAXSTRETCH], hi[MAXSTRETCH];
    int n = 0;
    uintptr_t first = page_index(h, s->base), i = first + s->npages, planned = 0;
    while (i > first && planned < want && n < MAXSTRETCH) {
        i = bits_prev(h->released, first, i, 0) + 1; /* skip released pages */
        uintptr_t top = i;
        i = bits_prev(h->released, first, i, 1) + 1; /* the unreleased stretch */
        if (top - i > want - planned) i = top - (want - planned);
        if (top == i) break;
        lo[n] = i;
        hi[n] = top;
        planned += top - i;
        n++;
    }
    gcrt__unlock(&h->lock);
#if GCRT_ASSERT_LEVEL >= 2
    /* Tests: what other threads may do while this one is in madvise with
     * the run off the lists (test_scavenge_held). */
    if (GCRT_UNLIKELY(gcrt__release_test_hook != NULL)) gcrt__release_test_hook();
#endif
    int ok[MAXSTRETCH];
    for (int k = 0; k < n; k++)
        ok[k] = gcrt__os_release((void *)(h->arena_start + (lo[k] << GCRT_PAGE_SHIFT)),
                                 (hi[k] - lo[k]) << GCRT_PAGE_SHIFT) == 0;
    gcrt__lock(&h->lock);
    uintptr_t done = 0;
    for (int k = 0; k < n; k++) {
        if (!ok[k]) continue;
        bits_set_range(h->released, lo[k], hi[k] - lo[k], 1);
        if (gcrt__debug.madvdontneed) bits_set_range(h->dirty, lo[k], hi[k] - lo[k], 0);
        done += hi[k] - lo[k];
    }
    return done;
}

/* wait: whether to wait for runs other scavengers hold (see
 * gcrt__mheap_scavenge_all). */
static uintptr_t scavenge(gcrt_mheap_t *h, uintptr_t nbytes, int wait) {
    uintptr_t want = (nbytes + GCRT_PAGE_MASK) >> GCRT_PAGE_SHIFT, done = 0;
    int64_t t0 = 0;
    gcrt__lock(&h->lock);
    while (done < want) {
        /* Pick the free run with the most unreleased pages, largest first:
         * big runs are the ones least likely to be reused soon. */
        gcrt_span_t *pick = NULL;
        uintptr_t pick_unrel = 0;
        for (int n = 128; n >= 1 && !pick; n--) {
            gcrt_span_t *head = n == 128 ? h->free_large : h->free_small[n];
            for (gcrt_span_t *s = head; s; s = s->next) {
                uintptr_t unrel =
                    s->npages - bits_count_range(h->released, page_index(h, s->base), s->npages);
                if (unrel > pick_unrel) {
                    pick = s;
                    pick_unrel = unrel;
                }
            }
        }
        if (!pick && wait && h->scav_held) {
            /* Another scavenger (the background one, or an allocation
             * under a memory limit) holds a run off the lists while it is
             * in madvise: its pages are not on the lists but may be
             * unreleased. Wait for it to put the run back. Bounded: a
             * holder that a stop-the-world stopped may take a while. */
            int64_t now = gcrt__nanotime();
            if (t0 == 0) t0 = now;
            if (now - t0 <= SCAV_WAIT_NS) {
                gcrt__unlock(&h->lock);
                gcrt__os_sleep_ns(20 * 1000);
                gcrt__lock(&h->lock);
                continue;
            }
        }
        if (!pick) break;
        free_list_remove(h, pick);
        pick->heapfree = 0; /* neighbours will not merge with it */
        h->scav_held++;
        uintptr_t got = release_run(h, pick, want - done);
        h->scav_held--;
        gcrt_bump(&h->heap_free, -(uint64_t)(got << GCRT_PAGE_SHIFT));
        gcrt_bump(&h->heap_released, (uint64_t)(got << GCRT_PAGE_SHIFT));
        insert_free(h, pick);
        if (got == 0) break;
        done += got;
    }
    gcrt__unlock(&h->lock);
    return done << GCRT_PAGE_SHIFT;
}

uintptr_t gcrt__mheap_scavenge(gcrt_mheap_t *h, uintptr_t nbytes) {
    return scavenge(h, nbytes, 0);
}

uintptr_t gcrt__mheap_scavenge_all(gcrt_mheap_t *h) {
    return scavenge(h, h->arena_end - h->arena_start, 1);
}
