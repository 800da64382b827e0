/* mbarrier.c - the write barrier (Go: mbarrier.go, mwbbuf.go). See gc.c,
 * step 4, for why it is needed and why roots need none.
 *
 * gcrt_store (inline, gcrt.h) loads the old value, stores the new one, and
 * only then reads the flag: if a stop-the-world starts between any two of
 * these steps, either the flag is seen set, or the old value was still in
 * the slot (or in a register) when the roots were scanned. While marking,
 * this slow path shades both values (Go's hybrid barrier) into the P's
 * work buffer. */
#include <string.h>

#include "gc.h"
#include "malloc.h"
#include "mcache.h"
#include "proc.h"

/* Threads that are not attached have no P: their shades go to a shared
 * buffer under a lock. */
static gcrt_lock_t orphan_lock = GCRT_LOCK_INIT(GCRT_RANK_ROOTS);
static gcrt_gcwork_t orphan_gcw;

void gcrt_write_barrier(const void *old, const void *val) {
    gcrt_m_t *m = gcrt__tls_m;
    gcrt__nostop_enter();
    if (gcrt_load_acquire(&gcrt__gc_marking)) {
        if (m && m->mcache) {
            gcrt_gcwork_t *w = &m->mcache->gcw;
            if (old) gcrt__gc_shade(w, (uintptr_t)old);
            if (val) gcrt__gc_shade(w, (uintptr_t)val);
        } else {
            gcrt__lock(&orphan_lock);
            if (old) gcrt__gc_shade(&orphan_gcw, (uintptr_t)old);
            if (val) gcrt__gc_shade(&orphan_gcw, (uintptr_t)val);
            gcrt__gcwork_flush(&orphan_gcw);
            gcrt__unlock(&orphan_lock);
        }
    }
    gcrt__nostop_exit();
}

void gcrt_copy_ptrs(void *dst, const void *src, size_t n) {
    void **d = dst;
    void *const *s = src;
    if (d == s || n == 0) return;
    /* Element by element, in memmove's direction, each with the barrier's
     * load-store-check order. */
    if (d < s || d >= s + n) {
        for (size_t i = 0; i < n; i++) gcrt_store(&d[i], s[i]);
    } else {
        for (size_t i = n; i-- > 0;) gcrt_store(&d[i], s[i]);
    }
}

void gcrt__copy_barrier(void *dst, const void *src, size_t n) {
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
    if ((d & 7) || (s & 7) || (n & 7)) {
        /* Pointers are only recognised at aligned addresses: an unaligned
         * copy stores none the collector could see. Shade the source's
         * aligned words so nothing it held is lost, and the destination's,
         * which the copy overwrites (the barrier's old values). */
        if (gcrt_load_acquire(&gcrt_gc_barrier_on)) {
            for (uintptr_t q = gcrt_round_up(s, 8); q + 8 <= s + n; q += 8)
                gcrt_write_barrier(NULL, *(void *const *)q);
            for (uintptr_t q = gcrt_round_up(d, 8); q + 8 <= d + n; q += 8)
                gcrt_write_barrier(*(void *const *)q, NULL);
        }
        memmove(dst, src, n);
        return;
    }
    gcrt_copy_ptrs(dst, src, n / 8);
}

void gcrt__clear_barrier(void *dst, size_t n) {
    uintptr_t d = (uintptr_t)dst;
    uintptr_t lo = gcrt_round_up(d, 8), hi = (d + n) & ~(uintptr_t)7;
    if (lo > d) memset(dst, 0, (lo < d + n ? lo : d + n) - d);
    for (uintptr_t q = lo; q < hi; q += 8) gcrt_store((void *)q, NULL);
    if (hi >= lo && hi < d + n) memset((void *)hi, 0, d + n - hi);
}

/* Flushes the orphan buffer at mark termination (world stopped). */
void gcrt__wb_flush_orphans(void) {
    gcrt__lock(&orphan_lock);
    gcrt__gcwork_flush(&orphan_gcw);
    gcrt__unlock(&orphan_lock);
}

uint64_t gcrt__wb_take_orphan_marked(void) {
    gcrt__lock(&orphan_lock);
    uint64_t n = orphan_gcw.bytes_marked;
    orphan_gcw.bytes_marked = 0;
    gcrt__unlock(&orphan_lock);
    return n;
}

/* fork.c: this file's global locks. */
void gcrt__wb_fork_locks(void) {
    gcrt__fork_add_lock(&orphan_lock);
}
