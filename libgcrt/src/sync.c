/* sync.c - Go's sync.Mutex, RWMutex, WaitGroup, Once and Cond, on the
 * runtime semaphore and notify list of sema.c (Go: sync/mutex.go,
 * rwmutex.go, waitgroup.go, once.go, cond.go). See chan.c for park/ready.
 * The algorithms are Go 1.19's, state word for state word, so the fairness
 * and starvation behaviour is the same. */
#include "chan.h"
#include "os.h"
#include "proc.h"
#include "sema.h"

/* ---- Mutex -------------------------------------------------------------- *
 *
 * state: bit 0 locked, bit 1 woken (a woken waiter is on its way: Unlock
 * need not wake another), bit 2 starving, bits 3.. number of waiters.
 *
 * Normal mode: waiters queue FIFO on sema, but a woken waiter competes with
 * newly arriving Gs (which may spin a little first and usually win: they
 * are already on a CPU). A waiter that loses goes back to the head of the
 * queue (LIFO). A waiter that has waited more than 1 ms switches the mutex
 * to starvation mode: Unlock hands the mutex directly to the head waiter,
 * newcomers neither spin nor try to grab it and queue at the tail. The
 * mode goes back to normal when the waiter that gets the lock is the last
 * one or waited less than 1 ms. */

enum {
    MUTEX_LOCKED = 1,
    MUTEX_WOKEN = 2,
    MUTEX_STARVING = 4,
    MUTEX_WAITER_SHIFT = 3,
};
#define STARVATION_THRESHOLD_NS 1000000LL

/* Go: sync_runtime_canSpin. Spin only a few times, only on a multicore
 * machine with more than one P. */
static bool can_spin(int iter) {
    static int ncpu;
    if (iter >= 4) return false;
    int n = gcrt_load_relaxed(&ncpu);
    if (n == 0) {
        n = gcrt__os_ncpu();
        gcrt_store_relaxed(&ncpu, n);
    }
    return n > 1 && gcrt_load_relaxed(&gcrt__gomaxprocs) > 1;
}

/* Go: sync_runtime_doSpin (procyield(30)). */
static void do_spin(void) {
    for (int i = 0; i < 30; i++) gcrt_cpu_relax();
}

static inline int32_t load_state(gcrt_mutex_t *m) {
    return gcrt_load_relaxed(&m->state);
}
static inline bool cas_state(gcrt_mutex_t *m, int32_t old, int32_t nv) {
    return gcrt_cas(&m->state, &old, nv);
}

static GCRT_NOINLINE void mutex_lock_slow(gcrt_mutex_t *m) {
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = load_state(m);
    for (;;) {
        /* Spin while locked in normal mode; tell Unlock not to wake others. */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && can_spin(iter)) {
            if (!awoke && (old & MUTEX_WOKEN) == 0 && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                cas_state(m, old, old | MUTEX_WOKEN))
                awoke = true;
            do_spin();
            iter++;
            old = load_state(m);
            continue;
        }
        int32_t nw = old;
        if ((old & MUTEX_STARVING) == 0) nw |= MUTEX_LOCKED; /* never grab a starving mutex */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) != 0) nw += 1 << MUTEX_WAITER_SHIFT;
        /* Switch to starvation mode, unless the mutex is free. */
        if (starving && (old & MUTEX_LOCKED) != 0) nw |= MUTEX_STARVING;
        if (awoke) {
            if ((nw & MUTEX_WOKEN) == 0) gcrt__throw("sync: inconsistent mutex state");
            nw &= ~MUTEX_WOKEN;
        }
        if (!cas_state(m, old, nw)) {
            old = load_state(m);
            continue;
        }
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == 0) break; /* locked it */
        /* Waited before: go to the front of the queue. */
        bool lifo = wait_start != 0;
        if (wait_start == 0) wait_start = gcrt__nanotime();
        gcrt__semacquire(&m->sema, lifo, GCRT_WAIT_SEMACQUIRE);
        starving = starving || gcrt__nanotime() - wait_start > STARVATION_THRESHOLD_NS;
        old = load_state(m);
        if ((old & MUTEX_STARVING) != 0) {
            /* Handed off to us: the mutex is ours, fix up the state. */
            if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) != 0 || (old >> MUTEX_WAITER_SHIFT) == 0)
                gcrt__throw("sync: inconsistent mutex state");
            int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
            if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1) delta -= MUTEX_STARVING;
            gcrt_xadd(&m->state, delta);
            break;
        }
        awoke = true;
        iter = 0;
    }
}

void gcrt_mutex_lock(gcrt_mutex_t *m) {
    int32_t zero = 0;
    if (GCRT_LIKELY(gcrt_cas(&m->state, &zero, MUTEX_LOCKED))) return;
    mutex_lock_slow(m);
}

bool gcrt_mutex_trylock(gcrt_mutex_t *m) {
    int32_t old = load_state(m);
    if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) != 0) return false;
    /* Others may be waiting, but we are on a CPU: take the chance. */
    return cas_state(m, old, old | MUTEX_LOCKED);
}

static GCRT_NOINLINE void mutex_unlock_slow(gcrt_mutex_t *m, int32_t nw) {
    if (((nw + MUTEX_LOCKED) & MUTEX_LOCKED) == 0) gcrt__throw("sync: unlock of unlocked mutex");
    if ((nw & MUTEX_STARVING) == 0) {
        int32_t old = nw;
        for (;;) {
            /* No waiters, or someone already woken/locked it: done. */
            if ((old >> MUTEX_WAITER_SHIFT) == 0 ||
                (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)) != 0)
                return;
            nw = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
            if (cas_state(m, old, nw)) {
                gcrt__semrelease(&m->sema, false);
                return;
            }
            old = load_state(m);
        }
    }
    /* Starving: hand ownership to the next waiter and yield to it. The
     * locked bit stays clear; the waiter sets it. Newcomers see starving
     * and do not take the mutex meanwhile. */
    gcrt__semrelease(&m->sema, true);
}

void gcrt_mutex_unlock(gcrt_mutex_t *m) {
    int32_t nw = gcrt_xadd(&m->state, -MUTEX_LOCKED) - MUTEX_LOCKED;
    if (GCRT_UNLIKELY(nw != 0)) mutex_unlock_slow(m, nw);
}

/* ---- RWMutex ------------------------------------------------------------ *
 *
 * reader_count counts readers; a writer subtracts RWMUTEX_MAX_READERS so
 * that arriving readers see a negative count and wait on reader_sem, and
 * waits on writer_sem for the readers already inside (reader_wait). */

#define RWMUTEX_MAX_READERS (1 << 30)

void gcrt_rwmutex_rlock(gcrt_rwmutex_t *rw) {
    if (gcrt_xadd(&rw->reader_count, 1) + 1 < 0) /* a writer is pending */
        gcrt__semacquire(&rw->reader_sem, false, GCRT_WAIT_SEMACQUIRE);
}

bool gcrt_rwmutex_tryrlock(gcrt_rwmutex_t *rw) {
    for (;;) {
        int32_t c = gcrt_load_relaxed(&rw->reader_count);
        if (c < 0) return false;
        if (gcrt_cas(&rw->reader_count, &c, c + 1)) return true;
    }
}

static GCRT_NOINLINE void runlock_slow(gcrt_rwmutex_t *rw, int32_t r) {
    if (r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS)
        gcrt__throw("sync: RUnlock of unlocked RWMutex");
    /* A writer is pending; the last departing reader lets it in. */
    if (gcrt_xadd(&rw->reader_wait, -1) - 1 == 0) gcrt__semrelease(&rw->writer_sem, false);
}

void gcrt_rwmutex_runlock(gcrt_rwmutex_t *rw) {
    int32_t r = gcrt_xadd(&rw->reader_count, -1) - 1;
    if (r < 0) runlock_slow(rw, r);
}

void gcrt_rwmutex_lock(gcrt_rwmutex_t *rw) {
    gcrt_mutex_lock(&rw->w); /* first, resolve competition with other writers */
    /* Announce the writer; r = readers still inside. */
    int32_t r = gcrt_xadd(&rw->reader_count, -RWMUTEX_MAX_READERS);
    if (r != 0 && gcrt_xadd(&rw->reader_wait, r) + r != 0)
        gcrt__semacquire(&rw->writer_sem, false, GCRT_WAIT_SEMACQUIRE);
}

bool gcrt_rwmutex_trylock(gcrt_rwmutex_t *rw) {
    if (!gcrt_mutex_trylock(&rw->w)) return false;
    int32_t zero = 0;
    if (!gcrt_cas(&rw->reader_count, &zero, -RWMUTEX_MAX_READERS)) {
        gcrt_mutex_unlock(&rw->w);
        return false;
    }
    return true;
}

void gcrt_rwmutex_unlock(gcrt_rwmutex_t *rw) {
    /* Announce to readers there is no active writer. */
    int32_t r = gcrt_xadd(&rw->reader_count, RWMUTEX_MAX_READERS) + RWMUTEX_MAX_READERS;
    if (r >= RWMUTEX_MAX_READERS) gcrt__throw("sync: Unlock of unlocked RWMutex");
    for (int32_t i = 0; i < r; i++) gcrt__semrelease(&rw->reader_sem, false);
    gcrt_mutex_unlock(&rw->w);
}

/* ---- WaitGroup ---------------------------------------------------------- */

void gcrt_wg_add(gcrt_wg_t *wg, int delta) {
    uint64_t state =
        gcrt_xadd(&wg->state, (uint64_t)(int64_t)delta << 32) + ((uint64_t)(int64_t)delta << 32);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (v < 0) gcrt__panic("sync: negative WaitGroup counter");
    if (w != 0 && delta > 0 && v == delta)
        gcrt__panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    if (v > 0 || w == 0) return;
    /* We brought the counter to 0 with waiters: nobody may change the
     * state now (a concurrent Add would be misuse, checked once more). */
    if (gcrt_load_acquire(&wg->state) != state)
        gcrt__panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    gcrt_store_release(&wg->state, 0);
    for (; w != 0; w--) gcrt__semrelease(&wg->sema, false);
}

void gcrt_wg_done(gcrt_wg_t *wg) {
    gcrt_wg_add(wg, -1);
}

void gcrt_wg_wait(gcrt_wg_t *wg) {
    for (;;) {
        uint64_t state = gcrt_load_acquire(&wg->state);
        if ((int32_t)(state >> 32) == 0) return;
        if (gcrt_cas(&wg->state, &state, state + 1)) { /* one more waiter */
            gcrt__semacquire(&wg->sema, false, GCRT_WAIT_SEMACQUIRE);
            if (gcrt_load_acquire(&wg->state) != 0)
                gcrt__panic("sync: WaitGroup is reused before previous Wait has returned");
            return;
        }
    }
}

/* ---- Once --------------------------------------------------------------- */

void gcrt_once_do(gcrt_once_t *once, void (*fn)(void *), void *arg) {
    /* Fast path: done is set only after fn returned (so a caller that sees
     * it also sees fn's effects). */
    if (gcrt_load_acquire(&once->done) != 0) return;
    gcrt_mutex_lock(&once->m);
    if (once->done == 0) {
        fn(arg);
        gcrt_store_release(&once->done, 1);
    }
    gcrt_mutex_unlock(&once->m);
}

/* ---- Cond --------------------------------------------------------------- */

void gcrt_cond_wait(gcrt_cond_t *c, gcrt_mutex_t *m) {
    uint32_t t = gcrt__notify_list_add(&c->notify); /* take a ticket while locked */
    gcrt_mutex_unlock(m);
    gcrt__notify_list_wait(&c->notify, t);
    gcrt_mutex_lock(m);
}

void gcrt_cond_signal(gcrt_cond_t *c) {
    gcrt__notify_list_notify_one(&c->notify);
}
void gcrt_cond_broadcast(gcrt_cond_t *c) {
    gcrt__notify_list_notify_all(&c->notify);
}
