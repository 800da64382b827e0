/* lock.h - the runtime's mutex (a futex word, Go: lock/unlock) and the one
 * lock order of the runtime (Go: lockrank.go). A lock may only be taken
 * while every lock the thread holds has a lower rank; with
 * GCRT_ASSERT_LEVEL >= 2 every acquisition is checked. */
#ifndef GCRT_LOCK_H
#define GCRT_LOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Ranks, lowest first: take locks in this order. */
enum gcrt_lock_rank {
    GCRT_RANK_NONE = 0,
    GCRT_RANK_SCHED,    /* scheduler: global run queue, idle Ps and Ms */
    GCRT_RANK_ALLP,     /* the list of all Ps and Ms (attach/detach) */
    GCRT_RANK_CHAN,     /* one channel (select takes several in address order) */
    GCRT_RANK_SEMA,     /* semaphore tree roots */
    GCRT_RANK_TIMERS,   /* a P's timer heap */
    GCRT_RANK_ROOTS,    /* registered roots, the barrier's shared buffer */
    GCRT_RANK_MCENTRAL, /* one mcentral */
    GCRT_RANK_SPAN,     /* finalizer specials */
    GCRT_RANK_FINQ,     /* the finalizer queue */
    GCRT_RANK_MHEAP,    /* the page heap */
    GCRT_RANK_FIXALLOC, /* metadata allocators (spans, mcaches) */
    GCRT_RANK_STATS,    /* global counters */
    GCRT_RANK_LEAF,     /* locks that take no other, except by shading */
    GCRT_RANK_GCWORK,   /* GC global work lists: the write barrier may take it
                           under any lock, so it comes last */
};

typedef struct gcrt_lock {
    uint32_t key; /* 0 unlocked, 1 locked, 2 locked with sleepers */
    uint16_t rank;
} gcrt_lock_t;

#define GCRT_LOCK_INIT(r)                                                                          \
    { 0, (r) }

/* No-stop regions (Go: m.locks). While a thread holds a runtime lock, or
 * is inside a region of the allocator or the collector that touches state
 * a stop-the-world may inspect (its P's work buffer, its cache's flags),
 * the stop signal does not stop it: it records the request, and the
 * thread stops itself when it leaves the outermost region. So the collector
 * never waits for a lock held by a stopped thread and never sees a
 * half-updated cache. */
extern __thread int32_t gcrt__tls_nostop;
extern __thread int32_t gcrt__tls_stop_pending;
void gcrt__nostop_pending(void);
static inline void gcrt__nostop_enter(void) {
    gcrt__tls_nostop++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
static inline void gcrt__nostop_exit(void) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (--gcrt__tls_nostop == 0 && __builtin_expect(gcrt__tls_stop_pending, 0))
        gcrt__nostop_pending();
}

void gcrt__lock_init(gcrt_lock_t *l, enum gcrt_lock_rank rank);
void gcrt__lock(gcrt_lock_t *l);
void gcrt__unlock(gcrt_lock_t *l);
int gcrt__trylock(gcrt_lock_t *l);

/* Without the rank check: fork.c takes every global lock at once, in
 * rank order but several of one rank. */
void gcrt__lock_norank(gcrt_lock_t *l);
void gcrt__unlock_norank(gcrt_lock_t *l);

/* fork.c: the runtime across fork. gcrt__forked_child is 1 in the child
 * of a fork of a running runtime. Each file with global locks lists them
 * for the fork's prepare handler (gcrt__fork_add_lock). */
extern int gcrt__forked_child;
extern int64_t gcrt__forks;
/* In the child of a fork made after the scheduler started, none of the
 * scheduler's threads exist: goroutines would not run, timers not fire,
 * finalizers not run. Returns whether this is such a child, and if so
 * says so on stderr, once per kind (GCRT_CHILD_*). */
enum { GCRT_CHILD_GOROUTINES = 1, GCRT_CHILD_TIMERS = 2, GCRT_CHILD_FINALIZERS = 4 };
bool gcrt__fork_child_without_sched(unsigned kind);
void gcrt__fork_init(void);
void gcrt__fork_add_lock(gcrt_lock_t *l);
void gcrt__gc_fork_locks(void);
void gcrt__mgcmark_fork_locks(void);
void gcrt__wb_fork_locks(void);
void gcrt__fin_fork_locks(void);
void gcrt__meta_fork_locks(void);
void gcrt__stack_fork_locks(void);
void gcrt__time_fork_locks(void);
void gcrt__sched_fork_locks(void);
void gcrt__sema_fork_locks(void);
void gcrt__pool_fork_locks(void);
void gcrt__chan_fork_locks(void);

#endif
