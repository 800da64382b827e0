/* mfinal.c - finalizers (Go: mfinal.go and the finalizer specials of
 * mheap.go). See gc.c for the tour.
 *
 * gcrt_set_finalizer attaches a record to the object's span (a "special",
 * sorted by offset) and to a global list. Go's semantics follow from three
 * rules:
 *   - at the start of each mark, every object with a finalizer has its
 *     contents scanned (and its argument shaded) but is not marked itself:
 *     what it points to stays alive, the object can still die;
 *   - sweeping an unmarked object that has a finalizer removes the record,
 *     queues (object, function, argument) and marks the object so this sweep
 *     does not free it: it lives until the finalizer has run and nothing
 *     references it any more (resurrection is allowed);
 *   - the queue is a root, and one goroutine (Go's finalizer goroutine, wait
 *     reason "finalizer wait") runs the queued finalizers one at a time.
 * Consequences, as in Go: if A points to B and both have finalizers, only
 * A's runs in the first cycle; a cycle of objects with finalizers is never
 * collected; a finalizer runs at most once. */
#include <errno.h>
#include <string.h>

#include "gc.h"
#include "gcrt_sched.h"
#include "malloc.h"
#include "mcache.h"
#include "proc.h"
#include "sched.h"

typedef struct gcrt_special {
    struct gcrt_special *next;          /* in the span, by offset */
    struct gcrt_special *gnext, *gprev; /* the global list (mark roots) */
    gcrt_span_t *span;
    uintptr_t offset; /* of the object in its span */
    void (*fn)(void *obj, void *arg);
    void *arg;
} gcrt_special_t;

struct finrec {
    void *obj;
    void (*fn)(void *obj, void *arg);
    void *arg;
};

static gcrt_lock_t specials_lock = GCRT_LOCK_INIT(GCRT_RANK_SPAN);
static gcrt_special_t *all_specials, *free_specials;
static uint64_t nspecials;

/* The finalizer queue: a ring of records in runtime memory (a root). */
static gcrt_lock_t finq_lock = GCRT_LOCK_INIT(GCRT_RANK_FINQ);
static struct finrec *finq;
static size_t finq_cap, finq_head, finq_len;
static gcrt_g_t *fing;
static int fing_sleeping;
static uint32_t fin_wake_needed;
static uint64_t fin_ran; /* finalizers run so far */

static gcrt_special_t *special_new(void) {
    gcrt_special_t *x = free_specials;
    if (x) {
        free_specials = x->next;
    } else {
        x = gcrt__meta_alloc(sizeof *x);
        if (!x) return NULL;
    }
    memset(x, 0, sizeof *x);
    return x;
}

/* Unlinks x from its span's list and the global list (specials_lock). */
static void special_unlink(gcrt_special_t *x) {
    gcrt_special_t **pp = &x->span->specials;
    while (*pp && *pp != x) pp = &(*pp)->next;
    if (*pp) *pp = x->next;
    if (x->gprev)
        x->gprev->gnext = x->gnext;
    else
        all_specials = x->gnext;
    if (x->gnext) x->gnext->gprev = x->gprev;
    nspecials--;
    x->next = free_specials;
    free_specials = x;
}

/* ---- the queue and the finalizer goroutine ------------------------------- */

static void finq_push(void *obj, void (*fn)(void *, void *), void *arg) {
    gcrt__lock(&finq_lock);
    if (finq_len == finq_cap) {
        size_t ncap = finq_cap ? finq_cap * 2 : 256;
        struct finrec *n = gcrt__meta_alloc(ncap * sizeof *n);
        if (!n) gcrt__throw("out of memory queueing a finalizer");
        for (size_t i = 0; i < finq_len; i++) n[i] = finq[(finq_head + i) % finq_cap];
        finq = n; /* the old ring stays in runtime memory: small, kept */
        finq_cap = ncap;
        finq_head = 0;
    }
    finq[(finq_head + finq_len) % finq_cap] = (struct finrec){obj, fn, arg};
    finq_len++;
    if (fing_sleeping) gcrt_store_release(&fin_wake_needed, 1u);
    gcrt__unlock(&finq_lock);
}

static int unlock_finq(gcrt_g_t *g, void *arg) {
    (void)g;
    gcrt__unlock(arg);
    return 1;
}

static GCRT_NOINLINE void run_one(struct finrec *r) {
    r->fn(r->obj, r->arg);
}

/* Zeroes the stack below the caller, where finalizers just ran. */
static GCRT_NOINLINE void wipe_below(void) {
    volatile char buf[4096];
    memset((char *)buf, 0, sizeof buf);
}

static void fing_main(void *arg) {
    (void)arg;
    gcrt__lock(&finq_lock);
    fing = gcrt__getg();
    gcrt__unlock(&finq_lock);
    for (;;) {
        gcrt__lock(&finq_lock);
        if (finq_len == 0) {
            fing_sleeping = 1;
            gcrt__park(unlock_finq, &finq_lock, GCRT_WAIT_FINALIZER_WAIT);
            continue;
        }
        struct finrec r = finq[finq_head];
        finq[finq_head] = (struct finrec){0};
        finq_head = (finq_head + 1) % finq_cap;
        finq_len--;
        gcrt__unlock(&finq_lock);
        run_one(&r);
        gcrt_xadd(&fin_ran, 1);
        /* Leave no stale copy of the object on this stack, where the
         * conservative scan of the parked goroutine would find it. */
        memset((void *)&r, 0, sizeof r);
        __asm__ __volatile__("" : : "r"(&r) : "memory");
        wipe_below();
    }
}

void gcrt__fin_wake_check(void) {
    if (!gcrt_load_relaxed(&fin_wake_needed)) return;
    gcrt__lock(&finq_lock);
    int wake = fing && fing_sleeping && gcrt_load_relaxed(&fin_wake_needed);
    if (wake) fing_sleeping = 0;
    gcrt_store_relaxed(&fin_wake_needed, 0u);
    gcrt__unlock(&finq_lock);
    if (wake) gcrt__ready(fing);
}

static pthread_once_t fing_once = PTHREAD_ONCE_INIT;
static void fing_start(void) {
    /* A system goroutine: not counted, listed only on request (Go's fing). */
    if (gcrt__go_system(fing_main, NULL) < 0) gcrt__throw("cannot start the finalizer goroutine");
}

/* ---- the public call --------------------------------------------------- */

int gcrt_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg) {
    uintptr_t p = (uintptr_t)obj;
    gcrt_span_t *s = gcrt__span_of(&gcrt__mheap, p);
    if (!s || p >= s->limit) return -EINVAL;
    uintptr_t off = p - s->base;
    if (s->divmagic && ((uint64_t)off * s->divmagic >> 32) * s->elemsize != off) return -EINVAL;
    if (s->divmagic == 0 && off != 0) return -EINVAL;
    /* A free slot (an object already freed, or not allocated yet) is no
     * object: a record there would go to the next object allocated at
     * that address (gcrt_find_object says no as well). */
    if (!gcrt__span_slot_allocated(s, s->divmagic ? off / s->elemsize : 0)) return -EINVAL;
    if (fn) pthread_once(&fing_once, fing_start);
    if (fn) (void)gcrt__fork_child_without_sched(GCRT_CHILD_FINALIZERS); /* kept, said not to run */
    gcrt__lock(&specials_lock);
    gcrt_special_t **pp = &s->specials;
    while (*pp && (*pp)->offset < off) pp = &(*pp)->next;
    gcrt_special_t *cur = *pp && (*pp)->offset == off ? *pp : NULL;
    if (!fn) {
        if (cur) special_unlink(cur);
        gcrt__unlock(&specials_lock);
        return cur ? 0 : -ENOENT;
    }
    if (cur) {
        gcrt__unlock(&specials_lock);
        return -EEXIST; /* Go: "finalizer already set" */
    }
    gcrt_special_t *x = special_new();
    if (!x) {
        gcrt__unlock(&specials_lock);
        return -ENOMEM;
    }
    x->span = s;
    x->offset = off;
    x->fn = fn;
    x->arg = arg;
    x->next = *pp;
    *pp = x;
    x->gnext = all_specials;
    if (all_specials) all_specials->gprev = x;
    all_specials = x;
    nspecials++;
    gcrt__unlock(&specials_lock);
    /* A mark in progress already scanned the finalizer roots: keep what
     * the object points to alive for this cycle (Go's addfinalizer). */
    if (gcrt_load_acquire(&gcrt__gc_marking)) {
        gcrt_m_t *m = gcrt__tls_m;
        if (m && m->mcache) {
            gcrt__nostop_enter();
            gcrt__gc_scan_range(&m->mcache->gcw, p, p + s->elemsize);
            gcrt__gc_shade(&m->mcache->gcw, (uintptr_t)arg);
            gcrt__nostop_exit();
        }
    }
    return 0;
}

/* ---- the collector's side ------------------------------------------------ */

void gcrt__fin_scan_roots(gcrt_gcwork_t *w) {
    gcrt__lock(&specials_lock);
    for (gcrt_special_t *x = all_specials; x; x = x->gnext) {
        gcrt_span_t *s = x->span;
        uintptr_t obj = s->base + x->offset;
        if (!(s->spanclass & 1)) gcrt__gc_scan_range(w, obj, obj + s->elemsize);
        gcrt__gc_shade(w, (uintptr_t)x->arg);
    }
    gcrt__unlock(&specials_lock);
    gcrt__lock(&finq_lock);
    for (size_t i = 0; i < finq_len; i++) {
        struct finrec *r = &finq[(finq_head + i) % finq_cap];
        gcrt__gc_shade(w, (uintptr_t)r->obj);
        gcrt__gc_shade(w, (uintptr_t)r->arg);
    }
    gcrt__unlock(&finq_lock);
}

void gcrt__fin_sweep_span(gcrt_span_t *s) {
    if (!gcrt_load_relaxed(&s->specials)) return;
    gcrt__lock(&specials_lock);
    gcrt_special_t *x = s->specials;
    while (x) {
        gcrt_special_t *next = x->next;
        uintptr_t idx = s->divmagic ? x->offset / s->elemsize : 0;
        uint64_t bit = (uint64_t)1 << (idx % 64);
        int marked = (gcrt_load_relaxed(&s->gcmark_bits[idx / 64]) & bit) != 0;
        if (!marked && gcrt__span_slot_allocated(s, idx)) {
            /* Dead: run the finalizer, keep the object until it has. */
            finq_push((void *)(s->base + x->offset), x->fn, x->arg);
            __atomic_fetch_or(&s->gcmark_bits[idx / 64], bit, __ATOMIC_RELAXED);
            special_unlink(x);
        }
        x = next;
    }
    gcrt__unlock(&specials_lock);
}

void gcrt__fin_remove(gcrt_span_t *s, uintptr_t offset) {
    if (!gcrt_load_relaxed(&s->specials)) return;
    gcrt__lock(&specials_lock);
    for (gcrt_special_t *x = s->specials; x; x = x->next)
        if (x->offset == offset) {
            special_unlink(x);
            break;
        }
    gcrt__unlock(&specials_lock);
}

uint64_t gcrt__fin_count_run(void) {
    return gcrt_load_relaxed(&fin_ran);
}

/* fork.c: this file's global locks. */
void gcrt__fin_fork_locks(void) {
    gcrt__fork_add_lock(&specials_lock);
    gcrt__fork_add_lock(&finq_lock);
}
