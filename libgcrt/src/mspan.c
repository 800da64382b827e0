/* mspan.c - span structs, their bitmaps, and slot search (Go: mbitmap.go
 * nextFreeIndex/refillAllocCache, mheap.go's span allocator). See malloc.c. */
#include <string.h>

#include "malloc.h"
#include "mheap.h"
#include "os.h"

struct gcrt_meta_stats gcrt__meta;

/* ---- span structs: a free list over chunks that are never unmapped, so a
 * stale pointer from the page table always points at a readable struct. -- */

static gcrt_span_t *span_free;

gcrt_span_t *gcrt__span_struct_alloc(gcrt_mheap_t *h) {
    (void)h;
    if (!span_free) {
        size_t chunk = 64 << 10;
        gcrt_span_t *a = gcrt__os_alloc(chunk);
        if (!a) return NULL;
        size_t n = chunk / sizeof *a;
        for (size_t i = 0; i < n; i++) {
            a[i].next = span_free;
            span_free = &a[i];
        }
        gcrt_bump(&gcrt__meta.mspan_sys, chunk);
    }
    gcrt_span_t *s = span_free;
    span_free = s->next;
    /* Reset it in one struct copy that keeps the bitmaps (and the pcs
     * array) it already owns: a marker that still looks at this struct
     * through a stale pointer never sees a NULL bitmap. */
    gcrt_span_t z;
    memset(&z, 0, sizeof z);
    z.alloc_bits = s->alloc_bits;
    z.freed_bits = s->freed_bits;
    z.gcmark_bits = s->gcmark_bits;
    z.alloc_pcs = s->alloc_pcs;
    z.alloc_pcs_cap = s->alloc_pcs_cap;
    z.nbits_words = s->nbits_words;
    *s = z;
    gcrt_bump(&gcrt__meta.mspan_inuse, sizeof *s);
    return s;
}

void gcrt__span_struct_free(gcrt_mheap_t *h, gcrt_span_t *s) {
    (void)h;
    gcrt_store_relaxed(&s->state, (uint8_t)GCRT_SPAN_DEAD);
    s->next = span_free;
    span_free = s;
    gcrt_bump(&gcrt__meta.mspan_inuse, -(uint64_t)sizeof *s);
}

/* ---- bitmaps: alloc, freed and mark bits, one block of 3*cap words (cap =
 * 1, 2, 4, 8 or 16 words a bitmap, per-size free lists), after a header
 * word holding cap. Heap lock held.
 *
 * The header is for the marker (mgcmark.c: gcrt__gc_shade), which reads a
 * span struct with no lock while the span may be freed and its struct
 * reused for another size class: it takes the one alloc_bits pointer it
 * loads, finds the freed and mark bits from that block's own cap, and
 * never writes past it, whatever the struct says by then. The header is
 * written once, when the block is carved, and never changes: a released
 * block keeps its list link in its first bitmap word. --------------------- */

static uint64_t *bits_free[5];
static char *bits_chunk;
static size_t bits_left;

static unsigned bits_bucket(uint32_t nwords) {
    unsigned b = 0;
    while ((1u << b) < nwords) b++;
    return b;
}

static uint64_t *bits_alloc(uint32_t nwords) {
    unsigned b = bits_bucket(nwords);
    size_t bytes = (size_t)3 * 8 << b;
    uint64_t *w = bits_free[b];
    if (w) {
        bits_free[b] = *(uint64_t **)w;
    } else {
        if (bits_left < bytes + 8) {
            size_t chunk = 256 << 10;
            bits_chunk = gcrt__os_alloc(chunk);
            if (!bits_chunk) return NULL;
            bits_left = chunk;
            gcrt_bump(&gcrt__meta.gc_sys, chunk);
        }
        uint64_t *hdr = (uint64_t *)bits_chunk;
        gcrt_store_relaxed(hdr, (uint64_t)1 << b);
        w = hdr + 1;
        bits_chunk += bytes + 8;
        bits_left -= bytes + 8;
    }
    /* Relaxed stores: a marker may read a recycled block (see above). */
    for (size_t i = 0; i < ((size_t)3 << b); i++) gcrt_store_relaxed(&w[i], (uint64_t)0);
    return w;
}

static void bits_release(uint64_t *w, uint32_t nwords) {
    unsigned b = bits_bucket(nwords);
    *(uint64_t **)w = bits_free[b];
    bits_free[b] = w;
}

void gcrt__span_init_objects(gcrt_span_t *s, unsigned spanclass) {
    unsigned sc = spanclass >> 1;
    s->spanclass = (uint8_t)spanclass;
    s->tiny = 0;
    if (sc == 0) {
        s->elemsize = (uintptr_t)s->npages << GCRT_PAGE_SHIFT;
        s->nelems = 1;
        s->divmagic = 0;
    } else {
        s->elemsize = gcrt__class_to_size[sc];
        s->nelems = gcrt__class_to_nobjs[sc];
        s->divmagic = gcrt__class_to_divmagic[sc];
    }
    s->limit = s->base + s->elemsize * s->nelems;
    uint32_t nw = ((uint32_t)s->nelems + 63) / 64;
    if (s->alloc_bits && bits_bucket(s->nbits_words) == bits_bucket(nw)) {
        memset(s->alloc_bits, 0, (size_t)3 * 8 << bits_bucket(nw));
    } else {
        /* The new block is in place before the old one is released: a
         * marker looking at this struct never loads NULL or a block of
         * another size whose cap it did not read (bits_alloc). */
        uint64_t *old = s->alloc_bits, *nb = bits_alloc(nw);
        if (!nb) gcrt__throw("out of memory allocating span bitmaps");
        gcrt_store_release(&s->alloc_bits, nb);
        if (old) bits_release(old, s->nbits_words);
    }
    s->nbits_words = nw;
    s->freed_bits = s->alloc_bits + ((size_t)1 << bits_bucket(nw));
    s->gcmark_bits = s->alloc_bits + ((size_t)2 << bits_bucket(nw));
    s->freeindex = 0;
    /* Relaxed: MemStats reads both of a span still in a cache slot, and a
     * span struct is reused (TSan, test_gc_limiter). */
    gcrt_store_relaxed(&s->alloc_count, (uint16_t)0);
    gcrt_store_relaxed(&s->alloc_count_before_cache, (uint16_t)0);
    s->nfreed = 0;
    s->alloc_cache = 0;
    gcrt__span_refill_cache(s, 0);
}

void gcrt__span_refill_cache(gcrt_span_t *s, uintptr_t whichbyte) {
    /* whichbyte is 8-aligned (a 64-slot boundary): allocCache is the
     * complement of the 64 alloc bits starting there. */
    uintptr_t word = whichbyte / 8;
    uint64_t bits = word < s->nbits_words ? s->alloc_bits[word] : ~(uint64_t)0;
    s->alloc_cache = ~bits;
}

GCRT_NOPREEMPT uintptr_t gcrt__span_next_free_index(gcrt_span_t *s) {
    uintptr_t sfreeindex = s->freeindex, nelems = s->nelems;
    if (sfreeindex == nelems) return nelems;
    uint64_t cache = s->alloc_cache;
    unsigned bit = cache ? (unsigned)__builtin_ctzll(cache) : 64;
    while (bit == 64) {
        /* Move to the next 64-slot word. */
        sfreeindex = (sfreeindex + 64) & ~(uintptr_t)63;
        if (sfreeindex >= nelems) {
            gcrt_store_relaxed(&s->freeindex, (uint16_t)nelems);
            return nelems;
        }
        gcrt__span_refill_cache(s, sfreeindex / 8);
        cache = s->alloc_cache;
        bit = cache ? (unsigned)__builtin_ctzll(cache) : 64;
    }
    uintptr_t result = sfreeindex + bit;
    if (result >= nelems) {
        gcrt_store_relaxed(&s->freeindex, (uint16_t)nelems);
        return nelems;
    }
    s->alloc_cache = (cache >> bit) >> 1;
    sfreeindex = result + 1;
    if ((sfreeindex & 63) == 0 && sfreeindex != nelems) gcrt__span_refill_cache(s, sfreeindex / 8);
    gcrt_store_relaxed(&s->freeindex, (uint16_t)sfreeindex);
    return result;
}

uintptr_t gcrt__span_fold_frees(gcrt_span_t *s) {
    uintptr_t n = s->nfreed;
    if (n == 0) return 0;
    /* Slots below freeindex are allocated even if their bit is clear: make
     * that explicit before freeindex restarts at 0. */
    uintptr_t fi = s->freeindex;
    for (uintptr_t w = 0; w < s->nbits_words; w++) {
        uint64_t below;
        if ((w + 1) * 64 <= fi)
            below = ~(uint64_t)0;
        else if (w * 64 >= fi)
            below = 0;
        else
            below = ((uint64_t)1 << (fi - w * 64)) - 1;
        uint64_t a = (s->alloc_bits[w] | below) & ~s->freed_bits[w];
        gcrt_store_relaxed(&s->alloc_bits[w], a);
        gcrt_store_relaxed(&s->freed_bits[w], (uint64_t)0);
    }
    gcrt_store_relaxed(&s->alloc_count, (uint16_t)(s->alloc_count - n));
    s->nfreed = 0;
    gcrt_store_relaxed(&s->freeindex, (uint16_t)0);
    s->needzero = 1;
    gcrt__span_refill_cache(s, 0);
    return n;
}

void gcrt__span_record_pc(gcrt_span_t *s, uintptr_t idx, uintptr_t pc) {
    if (!s->alloc_pcs || s->alloc_pcs_cap < s->nelems) {
        /* Debug mode only: one array per span struct, kept for reuse. */
        size_t cap = s->nelems < 64 ? 64 : s->nelems;
        uintptr_t *a = gcrt__os_alloc(gcrt_round_up(cap * sizeof(uintptr_t), 4096));
        if (!a) return;
        gcrt_xadd_relaxed(&gcrt__meta.gc_sys, gcrt_round_up(cap * sizeof(uintptr_t), 4096));
        s->alloc_pcs = a; /* the old array, if any, is leaked: debug mode */
        s->alloc_pcs_cap = (uint32_t)cap;
    }
    s->alloc_pcs[idx] = pc;
}
