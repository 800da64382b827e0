/* lock.c - futex mutex with a short spin, and lock-rank checking. */
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

void gcrt__lock(gcrt_lock_t *l) {
    uint32_t z = 0;
    gcrt__nostop_enter();
    if (GCRT_LIKELY(gcrt_cas(&l->key, &z, 1))) {
        rank_acquire(l);
        return;
    }
    for (int spin = 0; spin < 100; spin++) {
        z = 0;
        if (gcrt_load_relaxed(&l->key) == 0 && gcrt_cas(&l->key, &z, 1)) {
            rank_acquire(l);
            return;
        }
        gcrt_cpu_relax();
    }
    /* Mark contended (2) and sleep until it is our turn. */
    while (gcrt_xchg(&l->key, 2) != 0) gcrt__futex_wait(&l->key, 2, -1);
    rank_acquire(l);
}

void gcrt__unlock(gcrt_lock_t *l) {
    rank_release(l);
    if (gcrt_xchg(&l->key, 0) == 2) gcrt__futex_wake(&l->key, 1);
    gcrt__nostop_exit();
}
