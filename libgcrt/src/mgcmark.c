/* mgcmark.c - marking: work lists, shading, conservative scanning of
 * objects, stacks, registers, globals and registered roots (Go:
 * mgcmark.go, mgcwork.go). See gc.c for the tour. */
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gc.h"
#include "malloc.h"
#include "os.h"
#include "proc.h"
#include "mcache.h"
#include "pool.h"
#include "sched.h"

/* ---- work lists ----------------------------------------------------------- */

static gcrt_lock_t work_lock = GCRT_LOCK_INIT(GCRT_RANK_GCWORK);
static gcrt_wbuf_t *full_list;  /* buffers with grey objects */
static gcrt_wbuf_t *empty_list; /* spare buffers */
static int64_t nfull;           /* buffers on full_list; atomic */

void gcrt__gcwork_init(gcrt_gcwork_t *w) {
    memset(w, 0, sizeof *w);
}

static size_t nempty; /* buffers on empty_list; work_lock */

/* A new chunk of buffers, all but the first put on empty_list; returns the
 * first. Its pages are faulted in here (writing the links). */
static gcrt_wbuf_t *new_chunk(void) {
    enum { CHUNK = 64 << 10 };
    char *c = gcrt__os_alloc(CHUNK);
    if (!c) gcrt__throw("out of memory allocating GC work buffers");
    gcrt_xadd_relaxed(&gcrt__meta.gc_sys, (uint64_t)CHUNK);
    size_t n = CHUNK / sizeof(gcrt_wbuf_t);
    gcrt__lock(&work_lock);
    for (size_t i = 1; i < n; i++) {
        gcrt_wbuf_t *x = (gcrt_wbuf_t *)(c + i * sizeof(gcrt_wbuf_t));
        x->next = empty_list;
        empty_list = x;
    }
    nempty += n - 1;
    gcrt__unlock(&work_lock);
    return (gcrt_wbuf_t *)c;
}

static GCRT_NOINLINE gcrt_wbuf_t *get_empty(void) {
    gcrt__lock(&work_lock);
    gcrt_wbuf_t *b = empty_list;
    if (b) {
        empty_list = b->next;
        nempty--;
    }
    gcrt__unlock(&work_lock);
    if (!b) b = new_chunk();
    b->n = 0;
    b->next = NULL;
    return b;
}

static void put_full(gcrt_wbuf_t *b) {
    gcrt__lock(&work_lock);
    b->next = full_list;
    full_list = b;
    gcrt_xadd(&nfull, 1);
    gcrt__unlock(&work_lock);
}

static gcrt_wbuf_t *get_full(void) {
    if (gcrt_load_acquire(&nfull) == 0) return NULL;
    gcrt__lock(&work_lock);
    gcrt_wbuf_t *b = full_list;
    if (b) {
        full_list = b->next;
        gcrt_xadd(&nfull, -1);
    }
    gcrt__unlock(&work_lock);
    return b;
}

static void put_empty(gcrt_wbuf_t *b) {
    gcrt__lock(&work_lock);
    b->next = empty_list;
    empty_list = b;
    nempty++;
    gcrt__unlock(&work_lock);
}

void gcrt__gcwork_reserve(size_t n) {
    for (;;) {
        gcrt__lock(&work_lock);
        size_t have = nempty;
        gcrt__unlock(&work_lock);
        if (have >= n) return;
        put_empty(new_chunk());
    }
}

bool gcrt__gc_global_work(void) {
    return gcrt_load_acquire(&nfull) != 0;
}

void gcrt__gcwork_flush(gcrt_gcwork_t *w) {
    if (w->cur && w->cur->n > 0) {
        put_full(w->cur);
        w->cur = NULL;
    }
}

void gcrt__gcwork_dispose(gcrt_gcwork_t *w) {
    if (w->cur) {
        GCRT_ASSERT(w->cur->n == 0);
        put_empty(w->cur);
        w->cur = NULL;
    }
}

static inline void push(gcrt_gcwork_t *w, uintptr_t addr, uintptr_t len) {
    gcrt_wbuf_t *b = w->cur;
    if (GCRT_UNLIKELY(!b || b->n == GCRT_WBUF_PAIRS)) {
        if (b) put_full(b);
        b = w->cur = get_empty();
    }
    b->e[2 * b->n] = addr;
    b->e[2 * b->n + 1] = len;
    b->n++;
}

static inline int pop(gcrt_gcwork_t *w, uintptr_t *addr, uintptr_t *len) {
    gcrt_wbuf_t *b = w->cur;
    if (GCRT_UNLIKELY(!b || b->n == 0)) {
        gcrt_wbuf_t *f = get_full();
        if (!f) return 0;
        if (b) put_empty(b);
        b = w->cur = f;
    }
    b->n--;
    *addr = b->e[2 * b->n];
    *len = b->e[2 * b->n + 1];
    return 1;
}

/* Large objects are scanned in pieces so one worker does not hold a huge
 * object alone (Go's oblets). */
enum { OBLET = 128 << 10 };

/* ---- shading ---------------------------------------------------------------- */

/* gcrt__span_slot_allocated for the marker, which may read a span struct
 * while another thread reuses it (see gcrt__gc_shade): plain volatile
 * reads, which the thread sanitizer does not instrument in a
 * GCRT_NO_SANITIZE function (atomic loads it would, and report the
 * allocator's plain initialising stores). Root words are scanned by the
 * concurrent mark now, stale ones included, so such reads are common. */
static inline GCRT_NO_SANITIZE int slot_allocated_racy(const gcrt_span_t *s,
                                                       const volatile uint64_t *ab,
                                                       const volatile uint64_t *fb, uintptr_t idx) {
    if (idx >= *(const volatile uint16_t *)&s->freeindex && !((ab[idx / 64] >> (idx % 64)) & 1))
        return 0;
    return !((fb[idx / 64] >> (idx % 64)) & 1);
}

#if GCRT_ASSERT_LEVEL >= 2
void (*gcrt__shade_test_hook)(uintptr_t p);
#endif

GCRT_NO_SANITIZE void gcrt__gc_shade(gcrt_gcwork_t *w, uintptr_t p) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uintptr_t off = p - h->arena_start;
    if (off >= gcrt_load_relaxed(&h->arena_used) - h->arena_start) return;
    gcrt_span_t *s = gcrt_load_relaxed(&h->spans[off >> GCRT_PAGE_SHIFT]);
    if (!s || gcrt_load_acquire(&s->state) != GCRT_SPAN_INUSE) return;
    if (p < s->base || p >= s->limit) return;
    uintptr_t idx = s->divmagic ? (uintptr_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32) : 0;
    /* The struct may be freed and reused for another size class from here
     * on (an explicit free, a stash flush), its bitmaps replaced by a
     * smaller block: idx, from the old layout, would then fall outside the
     * new block, in another span's bits. One block, loaded once, and its
     * own cap (mspan.c) bound every bitmap access below. */
    uint64_t *ab = *(uint64_t *const volatile *)&s->alloc_bits;
    if (!ab) return;
    uint64_t cap = *(const volatile uint64_t *)(ab - 1);
    if (idx / 64 >= cap) return;
    if (!slot_allocated_racy(s, ab, ab + cap, idx)) return; /* a free slot: garbage */
#if GCRT_ASSERT_LEVEL >= 2
    /* Tests: what another thread may do while this one is descheduled
     * here (test_gc_shade_reuse). */
    if (GCRT_UNLIKELY(gcrt__shade_test_hook != NULL)) gcrt__shade_test_hook(p);
#endif
    uint64_t bit = (uint64_t)1 << (idx % 64), *word = &ab[2 * cap + idx / 64];
    if (gcrt_load_relaxed(word) & bit) return;
    if (__atomic_fetch_or(word, bit, __ATOMIC_RELAXED) & bit) return;
    gcrt_bump(&w->bytes_marked, (uint64_t)s->elemsize); /* w has one user at a time */
    if (s->spanclass & 1) return;                       /* noscan: black at once */
    uintptr_t base = s->base + idx * s->elemsize, len = s->elemsize;
    /* The span may have been freed (and its struct reused) since we read
     * its state: queue only ranges inside the committed heap, which is
     * always readable. */
    if (base - h->arena_start >= gcrt_load_relaxed(&h->arena_used) - h->arena_start ||
        len > gcrt_load_relaxed(&h->arena_used) - base || len == 0)
        return;
    if (s->elemsize <= OBLET) {
        push(w, base, s->elemsize);
    } else {
        for (uintptr_t o = 0; o < s->elemsize; o += OBLET)
            push(w, base + o, s->elemsize - o < OBLET ? s->elemsize - o : OBLET);
    }
}

GCRT_NO_SANITIZE void gcrt__gc_scan_range(gcrt_gcwork_t *w, uintptr_t lo, uintptr_t hi) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uintptr_t start = h->arena_start, span = gcrt_load_relaxed(&h->arena_used) - start;
    lo = gcrt_round_up(lo, sizeof(uintptr_t));
    for (uintptr_t q = lo; q + sizeof(uintptr_t) <= hi; q += sizeof(uintptr_t)) {
        uintptr_t v = *(volatile uintptr_t *)q;
        if (v - start < span) gcrt__gc_shade(w, v); /* cheap filter first */
    }
    w->scan_work += hi > lo ? hi - lo : 0;
}

/* Hands half of the current buffer to the global list when nobody else
 * has work to take (Go: gcWork.balance), so idle workers and assists are
 * never starved by one worker's private buffer. */
static void balance(gcrt_gcwork_t *w) {
    gcrt_wbuf_t *b = w->cur;
    if (!b || b->n < 8) return;
    gcrt_wbuf_t *h = get_empty();
    uintptr_t half = b->n / 2;
    memcpy(h->e, b->e, half * 2 * sizeof(uintptr_t)); /* the oldest half */
    memmove(b->e, b->e + 2 * half, (b->n - half) * 2 * sizeof(uintptr_t));
    h->n = half;
    b->n -= half;
    put_full(h);
}

/* ---- the drain loop, with prefetching ---------------------------------------
 *
 * Marking a large heap is a chain of cache misses: for every pointer found,
 * the page's entry in the span table, the span struct, its bitmaps, and
 * then (once the object is grey) the object itself. One miss at a time is
 * ~10x slower than the memory system can go (bigheap: ~600 ns per 64-byte
 * list node). The drain overlaps them:
 *   - pointers found by scanning go through a ring of PF_N before they are
 *     shaded: on entry the span table entry and the object itself are
 *     prefetched, half way the span struct, three quarters of the way the
 *     bitmap words, and only then gcrt__gc_shade reads them. (The object
 *     at entry: in a chain, where each object holds the only pointer to
 *     the next, the ring never fills, and its miss then overlaps its
 *     metadata's instead of following them: a list in random order marks
 *     2x as fast, tests/bench/run-mark.sh.)
 *   - grey objects popped from the work buffer wait in a FIFO of PF_Q,
 *     prefetched, before they are scanned.
 * Only the order of marking changes. Both queues belong to one drain call
 * and are emptied before it returns (the FIFO back into the work buffer,
 * the ring shaded), so nothing grey is ever hidden from mark termination:
 * the drainer counts as busy meanwhile. */
enum { PF_N = 16, PF_Q = 8 };

typedef struct {
    uintptr_t v[PF_N];
    gcrt_span_t *s[PF_N];
    uint32_t n, done; /* pointers entered, pointers shaded */
} pf_ring_t;

static inline GCRT_NO_SANITIZE void pf_prefetch_span(gcrt_span_t *s) {
    __builtin_prefetch(s);
    __builtin_prefetch((const char *)s + 64);
}

/* Stage 2/3 of entry j: prefetch what gcrt__gc_shade will read. The loads
 * here are racy by design (a span may be freed and reused meanwhile):
 * they only choose addresses to prefetch, which never faults. */
static inline GCRT_NO_SANITIZE void pf_stage_span(pf_ring_t *r, uint32_t j) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uintptr_t v = r->v[j % PF_N];
    gcrt_span_t *s = gcrt_load_relaxed(&h->spans[(v - h->arena_start) >> GCRT_PAGE_SHIFT]);
    r->s[j % PF_N] = s;
    if (s) pf_prefetch_span(s);
}

static inline GCRT_NO_SANITIZE void pf_stage_bits(pf_ring_t *r, uint32_t j) {
    gcrt_span_t *s = r->s[j % PF_N];
    if (!s) return;
    const volatile gcrt_span_t *vs = s;
    uintptr_t v = r->v[j % PF_N], base = vs->base;
    uint64_t *ab = vs->alloc_bits, *mb = vs->gcmark_bits;
    uint32_t magic = vs->divmagic;
    if (v < base || !ab || !mb) return;
    uintptr_t word = magic ? (uintptr_t)((((uint64_t)(v - base) * magic) >> 32) / 64) : 0;
    __builtin_prefetch(ab + word);
    __builtin_prefetch(mb + word);
}

static inline GCRT_NO_SANITIZE void pf_enter(gcrt_gcwork_t *w, pf_ring_t *r, uintptr_t v) {
    gcrt_mheap_t *h = &gcrt__mheap;
    if (r->n - r->done == PF_N) gcrt__gc_shade(w, r->v[r->done++ % PF_N]);
    uint32_t i = r->n++;
    r->v[i % PF_N] = v;
    r->s[i % PF_N] = NULL;
    __builtin_prefetch(&h->spans[(v - h->arena_start) >> GCRT_PAGE_SHIFT]);
    __builtin_prefetch((const void *)v);
    if (i - r->done >= PF_N / 2) pf_stage_span(r, i - PF_N / 2);
    if (i - r->done >= 3 * PF_N / 4) pf_stage_bits(r, i - 3 * PF_N / 4);
}

static void pf_flush(gcrt_gcwork_t *w, pf_ring_t *r) {
    while (r->done != r->n) gcrt__gc_shade(w, r->v[r->done++ % PF_N]);
}

/* gcrt__gc_scan_range through the ring. */
static GCRT_NO_SANITIZE void scan_range_pf(gcrt_gcwork_t *w, pf_ring_t *r, uintptr_t lo,
                                           uintptr_t hi) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uintptr_t start = h->arena_start, span = gcrt_load_relaxed(&h->arena_used) - start;
    lo = gcrt_round_up(lo, sizeof(uintptr_t));
    for (uintptr_t q = lo; q + sizeof(uintptr_t) <= hi; q += sizeof(uintptr_t)) {
        uintptr_t v = *(volatile uintptr_t *)q;
        if (v - start < span) pf_enter(w, r, v);
    }
    w->scan_work += hi > lo ? hi - lo : 0;
}

uint64_t gcrt__gc_heap_scan_work;

static int64_t drain(gcrt_gcwork_t *w, int64_t budget, int stopped) {
    uint64_t start = w->scan_work;
    pf_ring_t ring;
    ring.n = ring.done = 0;
    uintptr_t qa[PF_Q], ql[PF_Q];
    unsigned qh = 0, qn = 0; /* FIFO of grey objects: oldest at qh */
    for (;;) {
        uintptr_t addr, len;
        while (qn < PF_Q && pop(w, &addr, &len)) {
            __builtin_prefetch((const void *)addr);
            qa[(qh + qn) % PF_Q] = addr;
            ql[(qh + qn) % PF_Q] = len;
            qn++;
        }
        if (qn == 0) {
            if (ring.done == ring.n) break; /* no grey object anywhere we can see */
            pf_flush(w, &ring);             /* may make some */
            continue;
        }
        addr = qa[qh];
        len = ql[qh];
        qh = (qh + 1) % PF_Q;
        qn--;
        if (gcrt_load_relaxed(&nfull) == 0) balance(w);
        scan_range_pf(w, &ring, addr, addr + len);
        if (budget >= 0 && (int64_t)(w->scan_work - start) >= budget) break;
        /* A bounded drain (an assist, in a no-stop region) gives way to a
         * stop-the-world between objects (at most one oblet late), like
         * Go's gcDrainN on preemption: the stop must not wait for it. */
        if (budget >= 0 && !stopped && gcrt__stop_pending()) break;
    }
    /* Nothing stays in the queues: objects not scanned go back to the work
     * buffer, pointers found are shaded. */
    for (; qn; qn--, qh = (qh + 1) % PF_Q) push(w, qa[qh], ql[qh]);
    pf_flush(w, &ring);
    int64_t done = (int64_t)(w->scan_work - start);
    gcrt_xadd_relaxed(&gcrt__gc_heap_scan_work, (uint64_t)done);
    return done;
}

int64_t gcrt__gc_drain(gcrt_gcwork_t *w, int64_t budget) {
    return drain(w, budget, 0);
}

int64_t gcrt__gc_drain_stopped(gcrt_gcwork_t *w, int64_t budget) {
    return drain(w, budget, 1);
}

/* ---- registered roots (gcrt_add_roots) ------------------------------------ */

static gcrt_lock_t roots_lock = GCRT_LOCK_INIT(GCRT_RANK_ROOTS);
static struct root_range { uintptr_t lo, hi; } * user_roots;
static size_t nuser_roots, cap_user_roots;

int gcrt_add_roots(void *lo, void *hi) {
    if (!lo || (uintptr_t)hi <= (uintptr_t)lo) return -EINVAL;
    gcrt__lock(&roots_lock);
    if (nuser_roots == cap_user_roots) {
        size_t ncap = cap_user_roots ? cap_user_roots * 2 : 64;
        struct root_range *nr = gcrt__meta_alloc(ncap * sizeof *nr);
        if (!nr) {
            gcrt__unlock(&roots_lock);
            return -ENOMEM;
        }
        if (user_roots) memcpy(nr, user_roots, nuser_roots * sizeof *nr);
        user_roots = nr; /* the old array is persistent metadata: small, kept */
        cap_user_roots = ncap;
    }
    user_roots[nuser_roots].lo = (uintptr_t)lo;
    user_roots[nuser_roots].hi = (uintptr_t)hi;
    nuser_roots++;
    gcrt__unlock(&roots_lock);
    return 0;
}

int gcrt_remove_roots(void *lo) {
    int found = -ENOENT;
    gcrt__lock(&roots_lock);
    for (size_t i = 0; i < nuser_roots; i++) {
        if (user_roots[i].lo == (uintptr_t)lo) {
            user_roots[i] = user_roots[--nuser_roots];
            found = 0;
            break;
        }
    }
    gcrt__unlock(&roots_lock);
    return found;
}

uint64_t gcrt__gc_registered_root_bytes(void) {
    uint64_t n = 0;
    gcrt__lock(&roots_lock);
    for (size_t i = 0; i < nuser_roots; i++) n += user_roots[i].hi - user_roots[i].lo;
    gcrt__unlock(&roots_lock);
    return n;
}

/* ---- globals: writable PT_LOAD segments of every loaded object ------------ */

static void roots_add(gcrt_roots_t *r, uintptr_t lo, uintptr_t hi) {
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        uintptr_t *nlo = gcrt__os_alloc(ncap * 2 * sizeof(uintptr_t));
        if (!nlo) gcrt__throw("out of memory listing GC roots");
        if (r->lo) {
            memcpy(nlo, r->lo, r->n * sizeof(uintptr_t));
            memcpy(nlo + ncap, r->hi, r->n * sizeof(uintptr_t));
            gcrt__os_unmap(r->lo, r->cap * 2 * sizeof(uintptr_t));
        }
        r->lo = nlo;
        r->hi = nlo + ncap;
        r->cap = ncap;
    }
    r->lo[r->n] = lo;
    r->hi[r->n] = hi;
    r->n++;
    r->bytes += hi - lo;
}

extern char __start_gcrt_noscan_data[] __attribute__((visibility("hidden")));
extern char __stop_gcrt_noscan_data[] __attribute__((visibility("hidden")));

/* [lo, hi) less [xlo, xhi), in up to two pieces. */
static void roots_add_except(gcrt_roots_t *r, uintptr_t lo, uintptr_t hi, uintptr_t xlo,
                             uintptr_t xhi) {
    if (xlo >= xhi || xhi <= lo || xlo >= hi) {
        if (lo < hi) roots_add(r, lo, hi);
        return;
    }
    if (xlo > lo) roots_add(r, lo, xlo);
    if (hi > xhi) roots_add(r, xhi, hi);
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    gcrt_roots_t *r = arg;
    (void)size;
    uintptr_t ns_lo = (uintptr_t)__start_gcrt_noscan_data,
              ns_hi = (uintptr_t)__stop_gcrt_noscan_data;
    /* The part of a writable segment that the loader made read-only once
     * it had relocated it (PT_GNU_RELRO: .data.rel.ro, .got, .dynamic...):
     * it holds the addresses of symbols, and a program cannot store heap
     * pointers there. The loader protects whole pages, from the start's
     * page to the last page that ends inside it (glibc's
     * _dl_protect_relro); the rest of that last page stays writable. */
    uintptr_t ro_lo = 0, ro_hi = 0, page = (uintptr_t)getauxval(AT_PAGESZ);
    for (int i = 0; page != 0 && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_GNU_RELRO) continue;
        ro_lo = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
        ro_hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        /* Read-only after relocation: not scanned. RELRO is the start of
         * the writable segment, or (lld) a segment of its own. */
        if (ro_lo < ro_hi && ro_lo <= lo && ro_hi > lo) lo = ro_hi < hi ? ro_hi : hi;
        if (ns_lo < ns_hi && ns_lo >= lo && ns_hi <= hi) {
            /* The runtime's own segment: without its GCRT_NOSCAN_DATA
             * tables (runtime.h). */
            roots_add_except(r, lo, hi, ns_lo, ns_hi);
            continue;
        }
        if (lo < hi) roots_add(r, lo, hi);
    }
    return 0;
}

void gcrt__gc_collect_global_roots(gcrt_roots_t *r) {
    r->n = 0;
    r->bytes = 0;
    dl_iterate_phdr(phdr_cb, r);
}

/* dl_iterate_phdr holds the loader's lock on the module list (glibc's
 * dl_load_write_lock, recursive) while it calls back: dlopen cannot add a
 * module and dlclose cannot remove (and then unmap) one meanwhile. fn runs
 * inside the first call back. Threads that dlopen or dlclose meanwhile
 * block in the loader, where a stop-the-world stops them like any C code. */
struct modules_locked {
    void (*fn)(void *);
    void *arg;
    int ran;
};

static int modules_locked_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    struct modules_locked *c = arg;
    (void)info, (void)size;
    if (!c->ran) {
        c->ran = 1;
        c->fn(c->arg);
    }
    return 1; /* done */
}

void gcrt__gc_with_modules_locked(void (*fn)(void *), void *arg) {
    struct modules_locked c = {fn, arg, 0};
    dl_iterate_phdr(modules_locked_cb, &c);
    if (!c.ran) fn(arg); /* no module listed at all */
}

/* ---- root snapshots ------------------------------------------------------------
 *
 * The roots must be read while the world is stopped (gc.c, step 4: plain C
 * stores into globals and stacks have no barrier, so a root read later
 * could have lost a pointer it held at the stop to a root already read).
 * Reading is all the stop needs; scanning can wait. So each root range is
 * copied into the snapshot buffer (a memory copy is several times faster
 * than the scan's test of every word) and the copy is queued as ordinary
 * mark work, scanned by the concurrent mark like a grey object. Go scans
 * globals and stacks concurrently because every pointer store, to a global
 * or (for a goroutine being scanned) a stack, has a barrier; C's have none,
 * and the copy stands in. The scan of a copy finds exactly what the scan
 * in place would have found at the stop: the words are the same, and no
 * object is freed before the mark ends. A range that does not fit in the
 * buffer (sized before the stop: no allocation with the world stopped) is
 * scanned in place. The buffer is reused by the next cycle, when no scan
 * of this cycle's copies is left. */
/* How much is copied. Stacks, up to 64 MiB: with the world stopped, a
 * scan in place reads every parked goroutine's stack on its own page and
 * shades the many heap pointers stacks hold, while a copy defers that to
 * the concurrent mark (RESULTS section 35: 20,000 parked goroutines
 * stopped the world 10-14 ms, copied 2.6-4.7 ms). Globals, registered
 * roots and TLS, up to 1 MiB of the buffer: mostly data, a scan in place
 * runs about as fast as a copy (32 MiB of bss: 1.6-7 ms either way), and
 * a copy would cost as much memory as they are; C programs' data and bss
 * are usually some hundred KB. The buffer's memory counts in Sys (GCSys)
 * and in a memory limit; it shrinks again when the stacks do
 * (gcrt__gc_snapshot_reserve). */
enum {
    SNAP_MAX_BYTES = 64 << 20,
    SNAP_GLOBALS_MAX_BYTES = 1 << 20,
    SNAP_SHRINK_MIN = 1 << 20,
};
static struct {
    uintptr_t *buf;
    size_t cap, used; /* words */
} snap;

void gcrt__gc_snapshot_reserve(size_t global_bytes, size_t stack_bytes) {
    if (global_bytes > SNAP_GLOBALS_MAX_BYTES) global_bytes = SNAP_GLOBALS_MAX_BYTES;
    size_t bytes = global_bytes + stack_bytes;
    size_t words = (bytes + sizeof(uintptr_t) - 1) / sizeof(uintptr_t);
    snap.used = 0;
    /* A quarter more than asked: the first cycle's estimate has no stacks
     * yet (their size is the last cycle's), and a buffer that grew again
     * at the second cycle cost its allocating thread the mapping and page
     * faults of both. */
    size_t want = words + words / 4;
    /* A buffer over 4x what is asked (the goroutines that made it big have
     * exited, say) is given back, for one just big enough. */
    bool shrink = snap.cap * sizeof(uintptr_t) > SNAP_SHRINK_MIN && want < snap.cap / 4;
    if (words <= snap.cap && !shrink) return;
    size_t ncap = shrink ? want : snap.cap * 2 > want ? snap.cap * 2 : want;
    ncap = gcrt_round_up(ncap * sizeof(uintptr_t), (size_t)GCRT_PAGE_SIZE) / sizeof(uintptr_t);
    if (ncap * sizeof(uintptr_t) > SNAP_MAX_BYTES) ncap = SNAP_MAX_BYTES / sizeof(uintptr_t);
    if (shrink ? ncap >= snap.cap : ncap <= snap.cap) return;
    /* Faulted in now (by the kernel, at once), not with the world stopped;
     * the touches only matter if the kernel left some pages out. */
    uintptr_t *nb = gcrt__os_alloc_populated(ncap * sizeof(uintptr_t));
    if (!nb) return; /* scan in place */
    gcrt__os_touch_pages(nb, ncap * sizeof(uintptr_t));
    if (snap.buf) {
        gcrt__os_unmap(snap.buf, snap.cap * sizeof(uintptr_t));
        gcrt_xadd_relaxed(&gcrt__meta.gc_sys, -(uint64_t)(snap.cap * sizeof(uintptr_t)));
    }
    gcrt_xadd_relaxed(&gcrt__meta.gc_sys, (uint64_t)(ncap * sizeof(uintptr_t)));
    snap.buf = nb;
    snap.cap = ncap;
}

/* Copies n words from src (memory the program owns, maybe written by other
 * threads outside the stop, or a stack with sanitizer redzones: not for
 * the sanitizers' eyes; their memcpy interceptors would look). */
static GCRT_NO_SANITIZE void copy_words(uintptr_t *dst, const uintptr_t *src, size_t n) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    for (size_t i = 0; i < n; i++) dst[i] = ((const volatile uintptr_t *)src)[i];
#else
    memcpy(dst, src, n * sizeof(uintptr_t));
#endif
}

/* A root range, world stopped: copied and queued if the buffer's first
 * limit words have room for it, else scanned in place. Returns its size
 * in bytes. */
static uint64_t snap_range(gcrt_gcwork_t *w, uintptr_t lo, uintptr_t hi, size_t limit) {
    lo = gcrt_round_up(lo, sizeof(uintptr_t));
    hi &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (hi <= lo) return 0;
    size_t n = (hi - lo) / sizeof(uintptr_t);
    if (limit > snap.cap) limit = snap.cap;
    if (snap.used > limit || n > limit - snap.used) {
        gcrt__gc_scan_range(w, lo, hi);
        return hi - lo;
    }
    uintptr_t *dst = snap.buf + snap.used;
    snap.used += n;
    copy_words(dst, (const uintptr_t *)lo, n);
    uintptr_t a = (uintptr_t)dst, end = a + n * sizeof(uintptr_t);
    for (; a < end; a += OBLET) push(w, a, end - a < OBLET ? end - a : OBLET);
    return hi - lo;
}

/* Reads one word of every cache line of [lo, hi): brings it into this CPU's
 * cache (the mark has just evicted it), so the copy with the world stopped
 * runs at cache speed. */
static GCRT_NO_SANITIZE uintptr_t touch_lines(uintptr_t lo, uintptr_t hi) {
    uintptr_t x = 0;
    for (uintptr_t q = gcrt_round_up(lo, 64); q + sizeof(uintptr_t) <= hi; q += 64)
        x ^= *(volatile uintptr_t *)q;
    return x;
}

void gcrt__gc_snapshot_prefetch(const gcrt_roots_t *r) {
    uintptr_t x = 0;
    size_t words = 0;
    for (size_t i = 0; i < r->n; i++) {
        x ^= touch_lines(r->lo[i], r->hi[i]);
        words += (r->hi[i] - r->lo[i]) / sizeof(uintptr_t);
    }
    if (words > snap.cap) words = snap.cap;
    x ^= touch_lines((uintptr_t)snap.buf, (uintptr_t)(snap.buf + words));
    gcrt_keep_alive((void *)x);
}

uint64_t gcrt__gc_snapshot_bytes(void) {
    return snap.used * sizeof(uintptr_t);
}

/* ---- stacks ------------------------------------------------------------------ */

static void scan_stack_cb(uintptr_t lo, uintptr_t hi, const void *regs, size_t regs_len,
                          void *arg) {
    gcrt_gcwork_t *w = arg;
    if (regs) snap_range(w, (uintptr_t)regs, (uintptr_t)regs + regs_len, SIZE_MAX);
    w->root_bytes += snap_range(w, lo, hi, SIZE_MAX);
}

/* The calling thread's own stack: spill the callee-saved registers into
 * this frame, then take it from here to the top of the stack we run on. */
static GCRT_NOINLINE GCRT_NO_SANITIZE uint64_t scan_own_stack(gcrt_gcwork_t *w) {
    __builtin_unwind_init();
    volatile uintptr_t here = 0;
    uintptr_t sp = (uintptr_t)&here, hi = 0;
    gcrt_m_t *m = gcrt__tls_m;
    if (!m) return 0; /* a mark worker: it keeps no heap pointers of its own */
    gcrt_g_t *g = gcrt__getg();
    if (g && sp >= g->stack_lo && sp < g->stack_hi) hi = g->stack_hi;
    if (!hi && sp >= m->stack_lo && sp < m->stack_hi) hi = m->stack_hi;
    if (!hi) gcrt__throw("GC: cannot find the bounds of the collecting thread's stack");
    /* The copy's own frames lie below sp: not taken, as in a scan. */
    return snap_range(w, sp, hi, SIZE_MAX);
}

uint64_t gcrt__gc_scan_roots(gcrt_gcwork_t *w, const gcrt_roots_t *r) {
    const size_t gmax = SNAP_GLOBALS_MAX_BYTES / sizeof(uintptr_t);
    for (size_t i = 0; i < r->n; i++) snap_range(w, r->lo[i], r->hi[i], gmax);
    gcrt__lock(&roots_lock);
    for (size_t i = 0; i < nuser_roots; i++)
        snap_range(w, user_roots[i].lo, user_roots[i].hi, gmax);
    gcrt__unlock(&roots_lock);
    gcrt__fin_scan_roots(w);
    gcrt__pool_scan_roots(w);
    /* Every attached thread's TLS blocks. */
    for (gcrt_m_t *m = gcrt_load_acquire(&gcrt__allm); m; m = m->alllink)
        if (gcrt_load_acquire(&m->tid) != 0)
            for (int i = 0; i < m->ntls; i++) snap_range(w, m->tls_lo[i], m->tls_hi[i], gmax);
    w->root_bytes = 0;
    uint64_t stacks = scan_own_stack(w);
    gcrt__stw_for_each_stack(scan_stack_cb, w);
    return stacks + w->root_bytes;
}

struct rescan_arg {
    gcrt_gcwork_t *w;
    pf_ring_t ring;
};

static void rescan_cb(uintptr_t lo, uintptr_t hi, const void *regs, size_t regs_len, void *arg) {
    struct rescan_arg *a = arg;
    if (regs) scan_range_pf(a->w, &a->ring, (uintptr_t)regs, (uintptr_t)regs + regs_len);
    scan_range_pf(a->w, &a->ring, lo, hi);
}

/* Through the prefetch ring: every word that looks like a heap pointer is
 * a chain of misses (span table, span, bitmaps), and this runs with the
 * world stopped (a recursing thread's stack: 17-38 us one at a time). */
void gcrt__gc_rescan_signal_stopped(gcrt_gcwork_t *w) {
    struct rescan_arg a;
    a.w = w;
    a.ring.n = a.ring.done = 0;
    gcrt__stw_for_each_signal_stopped(rescan_cb, &a);
    pf_flush(w, &a.ring);
}

/* ---- gccheckmark ------------------------------------------------------------ */

/* Calls f for every INUSE span, in address order (world stopped). The
 * heap lock is held throughout: the stopped world does not stop the
 * threads that are not Ps (the scavenger returns stashed spans to the page
 * heap, which rewrites the page table and frees span structs). */
static void for_each_inuse_span(void (*f)(gcrt_span_t *s, void *arg), void *arg) {
    gcrt_mheap_t *h = &gcrt__mheap;
    gcrt__lock(&h->lock);
    uintptr_t npages = (gcrt_load_relaxed(&h->arena_used) - h->arena_start) >> GCRT_PAGE_SHIFT;
    for (uintptr_t i = 0; i < npages;) {
        gcrt_span_t *s = h->spans[i];
        if (!s || s->base != h->arena_start + (i << GCRT_PAGE_SHIFT)) {
            i++;
            continue;
        }
        uintptr_t n = s->npages;
        if (s->state == GCRT_SPAN_INUSE) f(s, arg);
        i += n;
    }
    gcrt__unlock(&h->lock);
}

/* Whether p points into an allocated object that is not marked. */
static int points_to_white(uintptr_t p, gcrt_span_t **ps, uintptr_t *pidx) {
    gcrt_mheap_t *h = &gcrt__mheap;
    if (p - h->arena_start >= h->arena_used - h->arena_start) return 0;
    gcrt_span_t *s = h->spans[(p - h->arena_start) >> GCRT_PAGE_SHIFT];
    if (!s || s->state != GCRT_SPAN_INUSE || p < s->base || p >= s->limit) return 0;
    uintptr_t idx = s->divmagic ? (uintptr_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32) : 0;
    if (!gcrt__span_slot_allocated(s, idx)) return 0;
    if ((s->gcmark_bits[idx / 64] >> (idx % 64)) & 1) return 0;
    *ps = s;
    *pidx = idx;
    return 1;
}

/* Where slot idx of s was allocated, symbolized into buf (gccheckmark's
 * reports; the sites are recorded while it is on: GCRT_HOOK_PCS). */
static void alloc_site(const gcrt_span_t *s, uintptr_t idx, char *buf, size_t n) {
    gcrt__symbolize(s->alloc_pcs && idx < s->alloc_pcs_cap ? s->alloc_pcs[idx] : 0, buf, n);
}

/* Checks one marked scan object: none of its words may point to a white
 * object (the tri-color invariant at the end of marking; Go checks it by
 * re-marking, which a conservative collector cannot do reliably: a dead
 * stack slot may show a long-gone pointer). */
static void ck_span(gcrt_span_t *s, void *arg) {
    (void)arg;
    if (s->spanclass & 1) return; /* noscan: no pointers */
    for (uintptr_t i = 0; i < s->nelems; i++) {
        if (!((s->gcmark_bits[i / 64] >> (i % 64)) & 1) || !gcrt__span_slot_allocated(s, i))
            continue;
        uintptr_t obj = s->base + i * s->elemsize;
        for (uintptr_t q = obj; q < obj + s->elemsize; q += sizeof(uintptr_t)) {
            gcrt_span_t *ws;
            uintptr_t widx;
            if (!points_to_white(*(uintptr_t *)q, &ws, &widx)) continue;
            uintptr_t white = ws->base + widx * ws->elemsize;
            char site[256], psite[256];
            alloc_site(ws, widx, site, sizeof site);
            alloc_site(s, i, psite, sizeof psite);
            gcrt__throwf("gccheckmark: the concurrent mark missed a reachable object: %p, %zu "
                         "bytes (span class %u), allocated at %s; it is referenced from offset "
                         "%zu of the marked object %p (%zu bytes, allocated at %s). A pointer to "
                         "it was stored into a heap object without gcrt_store (the write "
                         "barrier).",
                         (void *)white, (size_t)ws->elemsize, (unsigned)ws->spanclass, site,
                         (size_t)(q - obj), (void *)obj, (size_t)s->elemsize, psite);
        }
    }
}

/* The roots at the end of the mark: a root word that points to an
 * allocated, unmarked object is a miss too. Roots need no barrier, so the
 * pointer came out of a heap object whose old value was overwritten
 * without being shaded (no gcrt_store): the mark never saw it, and the
 * sweep would free an object the program still references. Checked: the
 * globals, registered roots and TLS. The stacks are looked at too, but not
 * as fatal (ck_stack_words): a conservative look at a stack sees dead
 * slots, which may show long-gone pointers. */
static GCRT_NO_SANITIZE void ck_root_words(const uintptr_t *words, size_t n, uintptr_t at,
                                           const char *what) {
    for (size_t i = 0; i < n; i++) {
        gcrt_span_t *ws;
        uintptr_t widx;
        if (!points_to_white(words[i], &ws, &widx)) continue;
        uintptr_t white = ws->base + widx * ws->elemsize;
        char site[256];
        alloc_site(ws, widx, site, sizeof site);
        gcrt__throwf("gccheckmark: the concurrent mark missed a reachable object: %p, %zu bytes "
                     "(span class %u), allocated at %s; it is referenced from %s at %p. A "
                     "pointer to it was moved out of a heap object without gcrt_store (the "
                     "write barrier).",
                     (void *)white, (size_t)ws->elemsize, (unsigned)ws->spanclass, site, what,
                     (void *)(at + i * sizeof(uintptr_t)));
    }
}

/* A module listed at the cycle's start may have been unloaded since (the
 * modules are locked only for the snapshot): its range is read with
 * process_vm_readv, which fails where nothing is mapped any more, instead
 * of faulting; a range it cannot read is skipped. */
static void ck_global_range(uintptr_t lo, uintptr_t hi) {
    uintptr_t buf[512];
    lo = gcrt_round_up(lo, sizeof(uintptr_t));
    while (lo + sizeof(uintptr_t) <= hi) {
        size_t n = (hi - lo) / sizeof(uintptr_t);
        if (n > sizeof buf / sizeof buf[0]) n = sizeof buf / sizeof buf[0];
        struct iovec l = {buf, n * sizeof(uintptr_t)}, rm = {(void *)lo, n * sizeof(uintptr_t)};
        ssize_t got = process_vm_readv(getpid(), &l, 1, &rm, 1, 0);
        if (got < (ssize_t)sizeof(uintptr_t)) {
            if (got < 0 && errno != EFAULT) return; /* not allowed here: globals unchecked */
            lo = (lo & ~(uintptr_t)4095) + 4096;    /* unmapped: the next page */
            continue;
        }
        n = (size_t)got / sizeof(uintptr_t);
        ck_root_words(buf, n, lo, "a global");
        lo += n * sizeof(uintptr_t);
    }
}

/* The stacks at the end of the mark (other threads' and parked
 * goroutines', with their saved registers): a word that points to an
 * allocated, unmarked object is reported too, but not as fatal. A stack is
 * scanned conservatively, dead slots included, so the word may be no
 * pointer at all: a pointer one past the end of an array is the next
 * object's address, an integer may look like one. The object is kept
 * instead (marked, and what it points to with it) and the line names it,
 * its allocation site and where it was seen: if the program does use it,
 * a pointer to it was moved out of a heap object without gcrt_store. */
struct ck_stack_arg {
    gcrt_gcwork_t w;
    unsigned reported;
};

static GCRT_NO_SANITIZE void ck_stack_words(struct ck_stack_arg *a, uintptr_t lo, uintptr_t hi,
                                            const char *what) {
    for (lo = gcrt_round_up(lo, sizeof(uintptr_t)); lo + sizeof(uintptr_t) <= hi;
         lo += sizeof(uintptr_t)) {
        uintptr_t v = *(const volatile uintptr_t *)lo;
        gcrt_span_t *ws;
        uintptr_t widx;
        if (!points_to_white(v, &ws, &widx)) continue;
        uintptr_t white = ws->base + widx * ws->elemsize;
        if (a->reported++ < 16) {
            char site[256];
            alloc_site(ws, widx, site, sizeof site);
            gcrt__printf("gccheckmark: the concurrent mark left unmarked an object a stack word "
                         "points to: %p, %zu bytes (span class %u), allocated at %s; the word is "
                         "in %s at %p. Kept. If the program uses this object, a pointer to it was "
                         "moved out of a heap object without gcrt_store (the write barrier); a "
                         "stack is scanned conservatively, so the word may also be no pointer.\n",
                         (void *)white, (size_t)ws->elemsize, (unsigned)ws->spanclass, site, what,
                         (void *)lo);
        }
        gcrt__gc_shade(&a->w, v);
    }
}

static void ck_stack_cb(uintptr_t lo, uintptr_t hi, const void *regs, size_t regs_len, void *arg) {
    struct ck_stack_arg *a = arg;
    if (regs) ck_stack_words(a, (uintptr_t)regs, (uintptr_t)regs + regs_len, "saved registers");
    ck_stack_words(a, lo, hi, "a stack");
}

uint64_t gcrt__gc_checkmark(const gcrt_roots_t *r) {
    for_each_inuse_span(ck_span, NULL);
    for (size_t i = 0; i < r->n; i++) ck_global_range(r->lo[i], r->hi[i]);
    gcrt__lock(&roots_lock);
    for (size_t i = 0; i < nuser_roots; i++)
        ck_root_words((const uintptr_t *)gcrt_round_up(user_roots[i].lo, sizeof(uintptr_t)),
                      (user_roots[i].hi - gcrt_round_up(user_roots[i].lo, sizeof(uintptr_t))) /
                          sizeof(uintptr_t),
                      gcrt_round_up(user_roots[i].lo, sizeof(uintptr_t)), "a registered root");
    gcrt__unlock(&roots_lock);
    for (gcrt_m_t *m = gcrt_load_acquire(&gcrt__allm); m; m = m->alllink)
        if (gcrt_load_acquire(&m->tid) != 0)
            for (int i = 0; i < m->ntls; i++) {
                uintptr_t lo = gcrt_round_up(m->tls_lo[i], sizeof(uintptr_t));
                if (m->tls_hi[i] > lo)
                    ck_root_words((const uintptr_t *)lo, (m->tls_hi[i] - lo) / sizeof(uintptr_t),
                                  lo, "thread-local storage");
            }
    /* Not this thread's own stack: the runtime's frames of the mark's end. */
    struct ck_stack_arg a;
    gcrt__gcwork_init(&a.w);
    a.reported = 0;
    gcrt__stw_for_each_stack(ck_stack_cb, &a);
    gcrt__gc_drain_stopped(&a.w, -1);
    gcrt__gcwork_dispose(&a.w);
    if (a.reported > 16) gcrt__printf("gccheckmark: %u more such stack words\n", a.reported - 16);
    return a.w.bytes_marked;
}

/* fork.c: this file's global locks. */
void gcrt__mgcmark_fork_locks(void) {
    gcrt__fork_add_lock(&work_lock);
    gcrt__fork_add_lock(&roots_lock);
}
