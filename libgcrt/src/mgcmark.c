/* mgcmark.c - marking: work lists, shading, conservative scanning of
 * objects, stacks, registers, globals and registered roots (Go:
 * mgcmark.go, mgcwork.go). See gc.c for the tour. */
#include <errno.h>
#include <link.h>
#include <string.h>

#include "gc.h"
#include "malloc.h"
#include "os.h"
#include "proc.h"
#include "sched.h"

/* ---- work lists ----------------------------------------------------------- */

void gcrt__gcwork_init(gcrt_gcwork_t *w) {
    memset(w, 0, sizeof *w);
}

void gcrt__gcwork_free(gcrt_gcwork_t *w) {
    if (w->buf) {
        gcrt__os_unmap(w->buf, w->cap * 2 * sizeof(uintptr_t));
        gcrt_xadd_relaxed(&gcrt__meta.gc_sys, -(uint64_t)(w->cap * 2 * sizeof(uintptr_t)));
    }
    w->buf = NULL;
    w->n = w->cap = 0;
}

static GCRT_NOINLINE void grow(gcrt_gcwork_t *w) {
    size_t ncap = w->cap ? w->cap * 2 : 4096;
    uintptr_t *nb = gcrt__os_alloc(ncap * 2 * sizeof(uintptr_t));
    if (!nb) gcrt__throw("out of memory growing the GC mark stack");
    gcrt_xadd_relaxed(&gcrt__meta.gc_sys, (uint64_t)(ncap * 2 * sizeof(uintptr_t)));
    if (w->buf) {
        memcpy(nb, w->buf, w->n * 2 * sizeof(uintptr_t));
        gcrt__os_unmap(w->buf, w->cap * 2 * sizeof(uintptr_t));
        gcrt_xadd_relaxed(&gcrt__meta.gc_sys, -(uint64_t)(w->cap * 2 * sizeof(uintptr_t)));
    }
    w->buf = nb;
    w->cap = ncap;
}

static inline void push(gcrt_gcwork_t *w, uintptr_t addr, uintptr_t len) {
    if (GCRT_UNLIKELY(w->n == w->cap)) grow(w);
    w->buf[2 * w->n] = addr;
    w->buf[2 * w->n + 1] = len;
    w->n++;
}

/* Large objects are scanned in pieces so one worker does not hold a huge
 * object alone (Go's oblets). */
enum { OBLET = 128 << 10 };

/* ---- shading ---------------------------------------------------------------- */

GCRT_NO_SANITIZE void gcrt__gc_shade(gcrt_gcwork_t *w, uintptr_t p) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uintptr_t off = p - h->arena_start;
    if (off >= gcrt_load_relaxed(&h->arena_used) - h->arena_start) return;
    gcrt_span_t *s = gcrt_load_relaxed(&h->spans[off >> GCRT_PAGE_SHIFT]);
    if (!s || gcrt_load_acquire(&s->state) != GCRT_SPAN_INUSE) return;
    if (p < s->base || p >= s->limit) return;
    uintptr_t idx = s->divmagic ? (uintptr_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32) : 0;
    if (!gcrt__span_slot_allocated(s, idx)) return; /* a free slot: garbage */
    uint64_t bit = (uint64_t)1 << (idx % 64), *word = &s->gcmark_bits[idx / 64];
    if (gcrt_load_relaxed(word) & bit) return;
    if (__atomic_fetch_or(word, bit, __ATOMIC_RELAXED) & bit) return;
    w->bytes_marked += s->elemsize;
    if (s->spanclass & 1) return; /* noscan: black at once */
    uintptr_t base = s->base + idx * s->elemsize;
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

int64_t gcrt__gc_drain(gcrt_gcwork_t *w, int64_t budget) {
    uint64_t start = w->scan_work;
    while (w->n > 0) {
        w->n--;
        uintptr_t addr = w->buf[2 * w->n], len = w->buf[2 * w->n + 1];
        gcrt__gc_scan_range(w, addr, addr + len);
        if (budget >= 0 && (int64_t)(w->scan_work - start) >= budget) break;
    }
    return (int64_t)(w->scan_work - start);
}

/* ---- registered roots (gcrt_add_roots) ------------------------------------ */

static gcrt_lock_t roots_lock = GCRT_LOCK_INIT(GCRT_RANK_LEAF);
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

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    gcrt_roots_t *r = arg;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        roots_add(r, lo, lo + ph->p_memsz);
    }
    return 0;
}

void gcrt__gc_collect_global_roots(gcrt_roots_t *r) {
    r->n = 0;
    r->bytes = 0;
    dl_iterate_phdr(phdr_cb, r);
}

/* ---- stacks ------------------------------------------------------------------ */

static void scan_stack_cb(uintptr_t lo, uintptr_t hi, const void *regs, size_t regs_len,
                          void *arg) {
    gcrt_gcwork_t *w = arg;
    if (regs) gcrt__gc_scan_range(w, (uintptr_t)regs, (uintptr_t)regs + regs_len);
    gcrt__gc_scan_range(w, lo, hi);
}

/* The calling thread's own stack: spill the callee-saved registers into
 * this frame, then scan from here to the top of the stack we run on. */
static GCRT_NOINLINE GCRT_NO_SANITIZE uint64_t scan_own_stack(gcrt_gcwork_t *w) {
    __builtin_unwind_init();
    volatile uintptr_t here = 0;
    uintptr_t sp = (uintptr_t)&here, hi = 0;
    gcrt_g_t *g = gcrt__getg();
    if (g && sp >= g->stack_lo && sp < g->stack_hi) hi = g->stack_hi;
    gcrt_m_t *m = gcrt__tls_m;
    if (!hi && m && sp >= m->stack_lo && sp < m->stack_hi) hi = m->stack_hi;
    if (!hi) gcrt__throw("GC: cannot find the bounds of the collecting thread's stack");
    gcrt__gc_scan_range(w, sp, hi);
    return hi - sp;
}

uint64_t gcrt__gc_scan_roots(gcrt_gcwork_t *w, const gcrt_roots_t *r) {
    uint64_t before = w->scan_work;
    for (size_t i = 0; i < r->n; i++) gcrt__gc_scan_range(w, r->lo[i], r->hi[i]);
    gcrt__lock(&roots_lock);
    for (size_t i = 0; i < nuser_roots; i++)
        gcrt__gc_scan_range(w, user_roots[i].lo, user_roots[i].hi);
    gcrt__unlock(&roots_lock);
    uint64_t globals = w->scan_work - before;
    uint64_t stacks = scan_own_stack(w);
    before = w->scan_work;
    gcrt__stw_for_each_stack(scan_stack_cb, w);
    stacks += w->scan_work - before;
    (void)globals;
    return stacks;
}
