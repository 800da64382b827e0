/* lock.c - futex mutex (Go: lock_futex.go), and lock-rank checking. */
#include "lock.h"

#include "os.h"
#include "runtime.h"
#include "sched.h"

__thread int32_t gcrt__tls_nostop __attribute__((tls_model("initial-exec")));
__thread int32_t gcrt__tls_stop_pending __attribute__((tls_model("initial-exec")));

void gcrt__nostop_pending(void) {
    gcrt__tls_stop_pending = 0;
    if (gcrt__tls_m) gcrt__stw_pending_check();
}

#if GCRT_ASSERT_LEVEL >= 2
#define RANK_DEPTH 16
static GCRT_TLS uint16_t held[RANK_DEPTH];
static GCRT_TLS int nheld;

static void rank_acquire(const gcrt_lock_t *l) {
    if (l->rank == GCRT_RANK_NONE) return;
    /* Deeper than the record (a select over many channels): the last
     * recorded rank stands for the rest. */
    int top = nheld < RANK_DEPTH ? nheld : RANK_DEPTH;
    if (top > 0 && held[top - 1] >= l->rank && held[top - 1] != GCRT_RANK_CHAN)
        gcrt__throwf("lock ordering problem: taking rank %d while holding rank %d", l->rank,
                     held[top - 1]);
    if (nheld < RANK_DEPTH) held[nheld] = l->rank;
    nheld++;
}
static void rank_release(const gcrt_lock_t *l) {
    if (l->rank == GCRT_RANK_NONE) return;
    if (nheld > 0) nheld--;
}
#else
static inline void rank_acquire(const gcrt_lock_t *l) {
    (void)l;
}
static inline void rank_release(const gcrt_lock_t *l) {
    (void)l;
}
#endif

void gcrt__lock_init(gcrt_lock_t *l, enum gcrt_lock_rank rank) {
    l->key = 0;
    l->rank = (uint16_t)rank;
}

int gcrt__trylock(gcrt_lock_t *l) {
    uint32_t z = 0;
    gcrt__nostop_enter();
    if (gcrt_cas(&l->key, &z, 1)) {
        rank_acquire(l);
        return 1;
    }
    gcrt__nostop_exit();
    return 0;
}

/* Go's lock_futex.go: a waiter first spins a little, in a few rounds of
 * 30 PAUSEs (on one CPU spinning is useless: the holder cannot run), then
 * yields the CPU once, then sleeps on the futex. Looking at the lock word
 * only between rounds, not after every PAUSE, keeps a spinning waiter from
 * pulling the cache line away from the holder at every look. An unlock
 * makes a system call only when someone sleeps (key 2). */
enum {
    LOCK_ACTIVE_SPIN = 4,      /* rounds of PAUSEs (Go: active_spin) */
    LOCK_ACTIVE_SPIN_CNT = 30, /* PAUSEs per round (Go: active_spin_cnt) */
    LOCK_PASSIVE_SPIN = 1,     /* sched_yield rounds (Go: passive_spin) */
};

static int lock_spin = -1; /* LOCK_ACTIVE_SPIN, or 0 on one CPU; lazily */

static inline int try_take(gcrt_lock_t *l, uint32_t wait) {
    while (gcrt_load_relaxed(&l->key) == 0) {
        uint32_t z = 0;
        if (gcrt_cas(&l->key, &z, wait)) return 1;
    }
    return 0;
}

static GCRT_NOINLINE void lock_slow(gcrt_lock_t *l) {
    int spin = gcrt_load_relaxed(&lock_spin);
    if (GCRT_UNLIKELY(spin < 0)) {
        spin = gcrt__os_ncpu() > 1 ? LOCK_ACTIVE_SPIN : 0;
        gcrt_store_relaxed(&lock_spin, spin);
    }
    /* The value we store when we take the lock: 1 until we have slept,
     * then 2, since other sleepers may be left that only our unlock can
     * wake (Go: wait). */
    uint32_t wait = 1;
    for (;;) {
        for (int i = 0; i < spin; i++) {
            if (try_take(l, wait)) return;
            for (int k = 0; k < LOCK_ACTIVE_SPIN_CNT; k++) gcrt_cpu_relax();
        }
        for (int i = 0; i < LOCK_PASSIVE_SPIN; i++) {
            if (try_take(l, wait)) return;
            gcrt__os_yield();
        }
        /* Mark contended (2) and sleep until an unlock wakes us. */
        if (gcrt_xchg(&l->key, 2) == 0) return;
        wait = 2;
        gcrt__futex_wait(&l->key, 2, -1);
    }
}

static inline void take(gcrt_lock_t *l) {
    uint32_t z = 0;
    gcrt__nostop_enter();
    if (GCRT_UNLIKELY(!gcrt_cas(&l->key, &z, 1))) lock_slow(l);
}

static inline void give(gcrt_lock_t *l) {
    if (gcrt_xchg(&l->key, 0) == 2) gcrt__futex_wake(&l->key, 1);
    gcrt__nostop_exit();
}

void gcrt__lock(gcrt_lock_t *l) {
    take(l);
    rank_acquire(l);
}

void gcrt__unlock(gcrt_lock_t *l) {
    rank_release(l);
    give(l);
}

void gcrt__lock_norank(gcrt_lock_t *l) {
    take(l);
}

void gcrt__unlock_norank(gcrt_lock_t *l) {
    give(l);
}
