/* gcrt_sync.h - Go's sync package for C: Mutex, RWMutex, WaitGroup, Once,
 * Cond, Pool (Go: sync/mutex.go, rwmutex.go, waitgroup.go, once.go,
 * cond.go, pool.go; runtime/sema.go underneath).
 *
 * As in Go, the zero value of every type is ready to use and unlocked:
 *     static gcrt_mutex_t mu;            // var mu sync.Mutex
 *     gcrt_wg_t wg = {0};                // var wg sync.WaitGroup
 * Do not copy one after first use. They work between goroutines, between
 * attached threads, and across the two (calling threads must be attached:
 * gcrt_init / gcrt_thread_attach; blocking on an unattached thread stops
 * with "fatal error"). A blocked G records Go 1.19's wait reason:
 * "semacquire" for Mutex, RWMutex and WaitGroup, "sync.Cond.Wait" for Cond.
 *
 * Error contract: no call returns an error. Misuse stops the program with
 * Go's message: the ones Go reports with a fatal error print
 * "fatal error: sync: unlock of unlocked mutex" (also "sync: RUnlock of
 * unlocked RWMutex", "sync: Unlock of unlocked RWMutex") and abort; the
 * ones Go reports with a panic print "panic: sync: negative WaitGroup
 * counter" (also "sync: WaitGroup misuse: Add called concurrently with
 * Wait", "sync: WaitGroup is reused before previous Wait has returned")
 * and exit with status 2. The fields below are private.
 */
#ifndef GCRT_SYNC_H
#define GCRT_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GCRT_API
#define GCRT_API __attribute__((visibility("default")))
#endif

/* ---- sync.Mutex --------------------------------------------------------- */

/* Go's Mutex: normal mode (woken waiters compete with new arrivals, which
 * may spin briefly) and starvation mode (after a waiter waited over 1 ms
 * the lock is handed off FIFO), exactly as sync/mutex.go. */
typedef struct gcrt_mutex {
    int32_t state; /* locked | woken | starving | waiters << 3 */
    uint32_t sema;
} gcrt_mutex_t;

/* Mutex.Lock: blocks until the mutex is available. Not reentrant. */
GCRT_API void gcrt_mutex_lock(gcrt_mutex_t *m);
/* Mutex.TryLock: locks if free; returns whether it did. */
GCRT_API bool gcrt_mutex_trylock(gcrt_mutex_t *m);
/* Mutex.Unlock: any G may unlock (a mutex is not tied to a G). Unlocking
 * an unlocked mutex: "fatal error: sync: unlock of unlocked mutex". */
GCRT_API void gcrt_mutex_unlock(gcrt_mutex_t *m);

/* ---- sync.RWMutex ------------------------------------------------------- */

/* Go's RWMutex: any number of readers or one writer; a blocked Lock stops
 * new readers (no writer starvation); no recursive read locking. */
typedef struct gcrt_rwmutex {
    gcrt_mutex_t w;       /* held by a pending or active writer */
    uint32_t writer_sem;  /* writer waits for departing readers */
    uint32_t reader_sem;  /* readers wait for the writer */
    int32_t reader_count; /* readers; minus 1<<30 while a writer is pending */
    int32_t reader_wait;  /* departing readers the writer still waits for */
} gcrt_rwmutex_t;

GCRT_API void gcrt_rwmutex_rlock(gcrt_rwmutex_t *rw);    /* RWMutex.RLock */
GCRT_API bool gcrt_rwmutex_tryrlock(gcrt_rwmutex_t *rw); /* RWMutex.TryRLock */
GCRT_API void gcrt_rwmutex_runlock(gcrt_rwmutex_t *rw);  /* RWMutex.RUnlock */
GCRT_API void gcrt_rwmutex_lock(gcrt_rwmutex_t *rw);     /* RWMutex.Lock */
GCRT_API bool gcrt_rwmutex_trylock(gcrt_rwmutex_t *rw);  /* RWMutex.TryLock */
GCRT_API void gcrt_rwmutex_unlock(gcrt_rwmutex_t *rw);   /* RWMutex.Unlock */

/* ---- sync.WaitGroup ----------------------------------------------------- */

typedef struct gcrt_wg {
    uint64_t state; /* counter << 32 | waiters */
    uint32_t sema;
} gcrt_wg_t;

/* WaitGroup.Add: adds delta (may be negative) to the counter; when it
 * reaches zero all Waits return. Panics if the counter goes negative. Calls
 * with a positive delta from zero must happen before the Wait. */
GCRT_API void gcrt_wg_add(gcrt_wg_t *wg, int delta);
/* WaitGroup.Done: gcrt_wg_add(wg, -1). */
GCRT_API void gcrt_wg_done(gcrt_wg_t *wg);
/* WaitGroup.Wait: blocks until the counter is zero. */
GCRT_API void gcrt_wg_wait(gcrt_wg_t *wg);

/* ---- sync.Once ---------------------------------------------------------- */

typedef struct gcrt_once {
    uint32_t done;
    gcrt_mutex_t m;
} gcrt_once_t;

/* Once.Do: calls fn(arg) if and only if this is the first call of
 * gcrt_once_do on once; every call returns only after fn has returned.
 * fn must not call gcrt_once_do on the same once (deadlock, as in Go). */
GCRT_API void gcrt_once_do(gcrt_once_t *once, void (*fn)(void *arg), void *arg);

/* ---- sync.Cond ---------------------------------------------------------- */

/* The runtime's notify list (private; a zeroed one is empty). */
typedef struct gcrt_notify_list {
    uint32_t wait;   /* next ticket to hand out; atomic */
    uint32_t notify; /* next ticket to notify; lock (read atomically) */
    struct {
        uint32_t key;
        uint16_t rank;
    } lock;            /* a runtime lock (lock.h layout) */
    void *head, *tail; /* waiting sudogs */
} gcrt_notify_list_t;

/* Go's Cond, with its Locker passed to Wait (a gcrt_mutex_t). */
typedef struct gcrt_cond {
    gcrt_notify_list_t notify;
} gcrt_cond_t;

/* Cond.Wait: atomically unlocks m and suspends the caller; relocks m before
 * returning. Wakeups come only from signal/broadcast (no spurious ones),
 * but as in Go, re-check the condition in a loop. */
GCRT_API void gcrt_cond_wait(gcrt_cond_t *c, gcrt_mutex_t *m);
/* Cond.Signal: wakes the longest-waiting G, if any. */
GCRT_API void gcrt_cond_signal(gcrt_cond_t *c);
/* Cond.Broadcast: wakes every waiting G. */
GCRT_API void gcrt_cond_broadcast(gcrt_cond_t *c);

/* ---- sync.Pool ---------------------------------------------------------- */

/* Go's Pool: a cache of GC-heap objects to reuse. Each P has a private slot
 * and a shared queue (others steal from it); at every GC cycle the primary
 * cache becomes the victim cache and the old victim is dropped, so an
 * object survives at most two cycles unused. A pool is a GC root while it
 * holds objects. Objects put in a pool must be GC-heap objects (or memory
 * the caller keeps alive otherwise). A zeroed pool, or GCRT_POOL_INIT(fn),
 * is ready to use. Once used, a pool stays registered with the runtime for
 * the life of the process (as a Go pool stays reachable): keep it in static
 * storage, on the GC heap (gcrt_pool_new), or in memory never freed, not on
 * a stack. */
typedef struct gcrt_pool {
    void *(*new_fn)(void); /* Pool.New: makes a value when the pool is empty; may be NULL */
    /* private */
    void *local;                /* per-P caches: one GC-heap array (size inside); atomic */
    void *victim;               /* the previous cycle's local; atomic */
    struct gcrt_pool *all_next; /* in the list of pools with a primary cache */
    struct gcrt_pool *old_next; /* in the list of pools with a victim cache */
} gcrt_pool_t;

#define GCRT_POOL_INIT(fn)                                                                         \
    { .new_fn = (fn) }

/* A new pool on the GC heap (like &sync.Pool{New: new_fn}); never NULL. */
GCRT_API gcrt_pool_t *gcrt_pool_new(void *(*new_fn)(void));
/* Pool.Get: removes an arbitrary object from the pool and returns it; if
 * the pool is empty, returns new_fn() (or NULL without new_fn). */
GCRT_API void *gcrt_pool_get(gcrt_pool_t *p);
/* Pool.Put: adds x to the pool (x == NULL is ignored). */
GCRT_API void gcrt_pool_put(gcrt_pool_t *p, void *x);

#ifdef __cplusplus
}
#endif
#endif
