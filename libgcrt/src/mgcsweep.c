/* mgcsweep.c - sweeping (Go: mgcsweep.go). See gc.c for the tour.
 *
 * At mark termination the heap's sweepgen goes up by 2: every span becomes
 * unswept at once (mcentral.h). From then on spans are swept one at a time,
 * concurrently with the program, by
 *   - the background sweeper thread (bgsweep below), at low priority;
 *   - an mcache that needs a span of some class (mcentral_cache_span sweeps
 *     that class first: a span is always swept before it is reused);
 *   - allocations that would grow the heap (gcrt__sweep_some);
 *   - the next cycle's start (gcrt__finish_sweep), which must begin with
 *     everything swept.
 * Sweeping a span makes its mark bits its allocation bits: slots that were
 * allocated and are not marked are free again. Spans left empty go back to
 * the page heap, where the scavenger can return them to the OS. */
#include <pthread.h>
#include <string.h>

#include "gc.h"
#include "malloc.h"
#include "mcache.h"
#include "mcentral.h"
#include "godebug.h"
#include "os.h"
#include "scavenge.h"
#include "sched.h"

struct gcrt_sweep_stats gcrt__sweep_stats;
static __thread uint32_t next_central; /* round-robin start of gcrt__sweep_one */

/* Bits for slots [0, n) of word w. */
static inline uint64_t valid_mask(uintptr_t w, uintptr_t n) {
    if ((w + 1) * 64 <= n) return ~(uint64_t)0;
    if (w * 64 >= n) return 0;
    return ((uint64_t)1 << (n - w * 64)) - 1;
}

static int sweep_small(gcrt_span_t *s) {
    uintptr_t fi = s->freeindex, nelems = s->nelems;
    uint64_t nlive = 0, ngc_freed = 0;
    int dirty = 0;
    for (uintptr_t w = 0; w < s->nbits_words; w++) {
        uint64_t valid = valid_mask(w, nelems);
        uint64_t allocated = (s->alloc_bits[w] | valid_mask(w, fi)) & valid;
        uint64_t freed = gcrt_load_relaxed(&s->freed_bits[w]);
        uint64_t live = gcrt_load_relaxed(&s->gcmark_bits[w]) & allocated & ~freed;
        ngc_freed += (uint64_t)__builtin_popcountll(allocated & ~freed & ~live);
        dirty |= (allocated & ~live) != 0;
        nlive += (uint64_t)__builtin_popcountll(live);
        gcrt_store_relaxed(&s->alloc_bits[w], live);
        gcrt_store_relaxed(&s->freed_bits[w], (uint64_t)0);
        gcrt_store_relaxed(&s->gcmark_bits[w], (uint64_t)0);
    }
    if (ngc_freed)
        gcrt_xadd_relaxed(&gcrt__sweep_stats.small_free_count[s->spanclass >> 1], ngc_freed);
    /* Explicit frees (nfreed) were counted by gcrt_free already. */
    s->nfreed = 0;
    gcrt_store_relaxed(&s->alloc_count, (uint16_t)nlive);
    gcrt_store_relaxed(&s->freeindex, (uint16_t)0);
    if (dirty) s->needzero = 1;
    gcrt__span_refill_cache(s, 0);
    return nlive != 0;
}

int gcrt__sweep_span(gcrt_span_t *s) {
    /* Sweeping during a mark would erase the marks being made. */
    GCRT_ASSERT(gcrt_load_relaxed(&gcrt__gcphase) == GCRT_GC_OFF);
    gcrt__fin_sweep_span(s);
    if ((s->spanclass >> 1) != 0) return sweep_small(s);
    if (gcrt_load_relaxed(&s->gcmark_bits[0]) & 1) {
        gcrt_store_relaxed(&s->gcmark_bits[0], (uint64_t)0);
        return 1;
    }
    return 0;
}

void gcrt__sweep_count_large_free(gcrt_span_t *s) {
    gcrt_xadd_relaxed(&gcrt__sweep_stats.large_free, (uint64_t)s->npages << GCRT_PAGE_SHIFT);
    gcrt_xadd_relaxed(&gcrt__sweep_stats.large_free_count, 1);
}

/* Go prints the scavenger's line (scavtrace=1) when a cycle's sweep is
 * done: once per sweep generation, by whoever sees it done first. */
static void scavtrace_after_sweep(void) {
    static uint32_t traced_sg;
    if (gcrt__debug.scavtrace <= 0) return;
    uint32_t sg = gcrt_load_acquire(&gcrt__mheap.sweepgen), old = gcrt_load_relaxed(&traced_sg);
    if (sg <= 2 || sg == old || !gcrt__sweep_done()) return;
    if (gcrt_cas(&traced_sg, &old, sg)) gcrt__scavtrace_print_sweep();
}

uintptr_t gcrt__sweep_one(void) {
    uint32_t start = next_central++;
    for (uint32_t k = 0; k < GCRT_NUM_CACHE_CLASSES; k++) {
        uintptr_t n =
            gcrt__mcentral_sweep_one(&gcrt__mcentral[(start + k) % GCRT_NUM_CACHE_CLASSES]);
        if (n) {
            gcrt__fin_wake_check();
            return n;
        }
    }
    return 0;
}

bool gcrt__sweep_done(void) {
    uint32_t un = 1 - gcrt__swept_set(gcrt_load_acquire(&gcrt__mheap.sweepgen));
    for (unsigned i = 0; i < GCRT_NUM_CACHE_CLASSES; i++)
        if (gcrt_load_relaxed(&gcrt__mcentral[i].partial[un]) ||
            gcrt_load_relaxed(&gcrt__mcentral[i].full[un]) ||
            gcrt_load_acquire(&gcrt__mcentral[i].nsweeping))
            return false;
    return true;
}

void gcrt__sweep_some(uintptr_t npages) {
    uintptr_t done = 0;
    while (done < npages) {
        uintptr_t n = gcrt__sweep_one();
        if (!n) break;
        done += n;
    }
}

/* ---- proportional sweep ------------------------------------------------------ */

/* Go's sweepPagesPerByte, as a fraction over 2^32 (atomic: an allocating
 * thread that finds nothing left to sweep turns it off); the heap_live and
 * pages-swept counts it is measured from, set with it with the world
 * stopped. */
static uint64_t pace_rate_q32;
static uint64_t pace_live_basis;
static uint64_t pace_pages_basis;
static uint64_t pages_swept; /* every sweeper's pages, ever; atomic */

void gcrt__sweep_note_pages(uint64_t npages) {
    gcrt_xadd_relaxed(&pages_swept, npages);
}

uint64_t gcrt__sweep_pages_swept(void) {
    return gcrt_load_relaxed(&pages_swept);
}

uint64_t gcrt__sweep_pace_rate(void) {
    return gcrt_load_relaxed(&pace_rate_q32);
}

/* The flip's pages to sweep and the count of pages swept then (world
 * stopped): what a re-pace counts from. */
static uint64_t flip_pages, flip_swept;

static void set_pace(uint64_t trigger, uint64_t live, uint64_t pages) {
    /* Go leaves 1 MiB of margin, so the sweep is done a little early. With
     * less room than that (a memory limit below the live heap: cycles back
     * to back) Go sweeps everything at the first allocation; here the next
     * cycle's start finishes the sweep instead, as without pacing, and the
     * GC CPU limiter sees the same split of time as before. */
    uint64_t rate = 0;
    if (pages > 0 && trigger != UINT64_MAX && trigger > live && trigger - live >= (2 << 20))
        rate = (uint64_t)(((unsigned __int128)pages << 32) / (trigger - live - (1 << 20)));
    gcrt_store_relaxed(&pace_live_basis, live);
    gcrt_store_relaxed(&pace_pages_basis, gcrt_load_relaxed(&pages_swept));
    gcrt_store_release(&pace_rate_q32, rate);
}

void gcrt__sweep_pace(uint64_t trigger, uint64_t live, uint64_t pages_in_use) {
    gcrt_store_relaxed(&flip_pages, pages_in_use);
    gcrt_store_relaxed(&flip_swept, gcrt_load_relaxed(&pages_swept));
    set_pace(trigger, live, pages_in_use);
}

void gcrt__sweep_repace(uint64_t trigger, uint64_t live) {
    uint64_t swept = gcrt_load_relaxed(&pages_swept) - gcrt_load_relaxed(&flip_swept);
    uint64_t pages = gcrt_load_relaxed(&flip_pages);
    set_pace(trigger, live, gcrt__sweep_done() || swept >= pages ? 0 : pages - swept);
}

void gcrt__sweep_deduct(uint64_t span_bytes) {
    uint64_t rate = gcrt_load_acquire(&pace_rate_q32);
    if (rate == 0) return;
    uint64_t basis = gcrt_load_relaxed(&pace_pages_basis);
    uint64_t live_basis = gcrt_load_relaxed(&pace_live_basis);
    uint64_t live = gcrt_load_relaxed(&gcrt__heap_live);
    uint64_t bytes = span_bytes + (live > live_basis ? live - live_basis : 0);
    uint64_t target = (uint64_t)(((unsigned __int128)rate * bytes) >> 32);
    while (target > gcrt_load_relaxed(&pages_swept) - basis) {
        if (!gcrt__sweep_one()) {
            gcrt_store_relaxed(&pace_rate_q32, (uint64_t)0); /* all swept */
            return;
        }
        /* A new cycle's pace (a flip) while we swept: its own counts. */
        if (gcrt_load_relaxed(&pace_pages_basis) != basis) return;
    }
}

void gcrt__finish_sweep(void) {
    while (gcrt__sweep_one()) {
    }
    /* A sweeper (the background one is not stopped with the world) may
     * have taken the last unswept span of a class just before we looked:
     * it counts itself in the class's nsweeping under the class's lock,
     * before it lets go of the lock. Reading the count under each lock
     * orders us after it; otherwise it could still be sweeping, i.e.
     * erasing mark bits, when the next mark begins. */
    for (unsigned i = 0; i < GCRT_NUM_CACHE_CLASSES; i++) {
        gcrt_mcentral_t *c = &gcrt__mcentral[i];
        gcrt__lock(&c->lock);
        while (c->nsweeping) {
            gcrt__unlock(&c->lock);
            gcrt__os_yield();
            gcrt__lock(&c->lock);
        }
        gcrt__unlock(&c->lock);
    }
    scavtrace_after_sweep();
}

/* ---- the background sweeper ------------------------------------------------ */

static uint32_t bgsweep_word;
static pthread_once_t bgsweep_once = PTHREAD_ONCE_INIT;

static void *bgsweep_main(void *arg) {
    (void)arg;
    gcrt__os_set_thread_name("gcrt-sweep");
    for (;;) {
        uint32_t w = gcrt_load_acquire(&bgsweep_word);
        int n = 0;
        while (gcrt__sweep_one()) {
            /* Low priority: give the CPU away every few spans (Go's bgsweep
             * calls Gosched after each), and to a stop-the-world: it waits
             * for threads that may need this CPU (allocbench with 2 threads:
             * stops of 1-4 ms while this thread swept through them). */
            if (++n % 16 == 0) gcrt__os_yield();
            if (gcrt__stop_pending()) gcrt__wait_world_running();
        }
        gcrt__fin_wake_check();
        scavtrace_after_sweep();
        gcrt__futex_wait(&bgsweep_word, w, -1);
    }
    return NULL;
}

static void bgsweep_init(void) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    if (pthread_create(&t, &attr, bgsweep_main, NULL) != 0)
        gcrt__throw("cannot start the background sweeper");
    pthread_attr_destroy(&attr);
}

void gcrt__bgsweep_start(void) {
    pthread_once(&bgsweep_once, bgsweep_init);
}

void gcrt__bgsweep_wake(void) {
    gcrt_xadd(&bgsweep_word, 1);
    gcrt__futex_wake(&bgsweep_word, 1);
}
