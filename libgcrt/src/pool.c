/* pool.c - sync.Pool (Go: sync/pool.go, poolqueue.go). See chan.c for the
 * runtime tour; this file stands alone apart from the P id.
 *
 * Layout. pool->local points to one GC-heap array (allocated "scan", so the
 * cached objects stay alive) with one cache-line-sized entry per P:
 *
 *     struct pool_array { n; struct pool_local l[n]; }
 *     struct pool_local { lock; priv; ring[cap] of n items from head }
 *
 * Put stores into the P's private slot, else pushes on its ring's tail;
 * Get takes the private slot, else pops the ring's tail (LIFO, warm
 * objects first), else steals the oldest item from another P's ring, then
 * tries the victim array the same way, then calls new_fn. The array size
 * lives inside the array, so one atomic load of pool->local gives a
 * consistent view even if the GC swaps caches meanwhile.
 *
 * Differences from Go, on purpose: Go's shared part is a lock-free chain
 * of ring buffers touched only by the owner P at one end; ours is a ring
 * behind a per-P lock that is almost never contended (the owner takes it;
 * thieves only when their own P is empty). This keeps every path correct
 * if a goroutine migrates between reading its P id and using the entry
 * (we have no procPin) - the cost is one uncontended CAS per operation.
 *
 * GC hook. gcrt__pool_cleanup (pool.h) moves local to victim and drops the
 * old victim in every registered pool, with the world stopped. Pools
 * register on their first Get/Put after each cleanup (Go: allPools,
 * oldPools); the registry lists are linked through the pools themselves
 * from static heads, so registered pools are reachable from the data
 * segment (a GC root). */
#include "pool.h"

#include <string.h>

#include "gc.h"
#include "lock.h"
#include "proc.h"
#include "runtime.h"

struct pool_local {
    gcrt_lock_t lock; /* guards the fields below (rank LEAF: taken alone) */
    void *priv;       /* private slot */
    void **ring;      /* cap slots (GC heap, scan), or NULL */
    uint32_t cap, head, n;
} GCRT_ALIGNED(GCRT_CACHELINE);

struct pool_array {
    size_t n; /* entries in l */
    uint8_t pad[GCRT_CACHELINE - sizeof(size_t)];
    struct pool_local l[];
};

/* Registry: pools with a primary cache (all) and with a victim (old).
 * pools_lock also serialises array growth. It is taken with no other lock
 * held and holds entry locks (LEAF) inside, so it would need a rank just
 * below LEAF; lock.h has none to spare, so it is unranked (NONE). */
static gcrt_lock_t pools_lock = GCRT_LOCK_INIT(GCRT_RANK_NONE);
static gcrt_pool_t *all_pools, *old_pools;

gcrt_pool_t *gcrt_pool_new(void *(*new_fn)(void)) {
    gcrt_pool_t *p = gcrt_alloc(sizeof *p);
    p->new_fn = new_fn;
    return p;
}

/* Pointer stores into GC-heap objects go through the write barrier (the
 * collector marks concurrently): gcrt_store for fields under a lock, and
 * publish() for the two fields that lock-free readers load atomically. */
static inline void publish(void **slot, void *val) {
    void *old = gcrt_load_relaxed(slot);
    gcrt_store_release(slot, val);
    if (GCRT_UNLIKELY(gcrt_load_relaxed(&gcrt_gc_barrier_on))) gcrt_write_barrier(old, val);
}

static inline int pool_pid(void) {
    gcrt_m_t *m = gcrt__tls_m;
    return m != NULL && m->p != NULL ? m->p->id : 0;
}

/* The current P's entry, allocating or growing the per-P array when needed
 * (Go: pin, pinSlow). Ps appear as threads attach, so growth is common:
 * the objects of the old array move over (Go drops them when GOMAXPROCS
 * changes). A G still working on the old array after the move puts into
 * or finds an empty old entry: that object is merely not cached. */
static struct pool_local *pool_pin(gcrt_pool_t *p, struct pool_array **arrp) {
    int pid = pool_pid();
    struct pool_array *a = gcrt_load_acquire((struct pool_array **)&p->local);
    if (GCRT_LIKELY(a != NULL && (size_t)pid < a->n)) {
        *arrp = a;
        return &a->l[pid];
    }
    size_t want = (size_t)gcrt_load_relaxed(&gcrt__nallp);
    if (want < (size_t)pid + 1) want = (size_t)pid + 1;
    size_t n = 4;
    while (n < want) n *= 2; /* room for Ps yet to come */
    struct pool_array *na = gcrt_alloc(sizeof *na + n * sizeof(struct pool_local));
    na->n = n;
    for (size_t i = 0; i < n; i++) gcrt__lock_init(&na->l[i].lock, GCRT_RANK_LEAF);

    gcrt__lock(&pools_lock);
    a = p->local;
    if (a != NULL && (size_t)pid < a->n) { /* another thread won */
        gcrt__unlock(&pools_lock);         /* na is garbage for the collector */
    } else {
        if (a == NULL) { /* first use since the last cleanup: register */
            gcrt_store(&p->all_next, all_pools);
            all_pools = p; /* a global: no barrier */
        } else {           /* grow: move the cached objects over */
            for (size_t i = 0; i < a->n; i++) {
                struct pool_local *o = &a->l[i], *d = &na->l[i];
                gcrt__lock(&o->lock);
                gcrt_store(&d->priv, o->priv);
                gcrt_store(&d->ring, o->ring);
                d->cap = o->cap;
                d->head = o->head;
                d->n = o->n;
                gcrt_store(&o->priv, NULL);
                gcrt_store(&o->ring, NULL);
                o->cap = o->head = o->n = 0;
                gcrt__unlock(&o->lock);
            }
        }
        publish(&p->local, na);
        gcrt__unlock(&pools_lock);
        a = na;
    }
    *arrp = a;
    return &a->l[pid];
}

/* Ring operations, l->lock held. */
static void *pop_tail_locked(struct pool_local *l) { /* newest (owner) */
    if (l->n == 0) return NULL;
    l->n--;
    uint32_t i = (l->head + l->n) % l->cap;
    void *x = l->ring[i];
    gcrt_store(&l->ring[i], NULL);
    return x;
}
static void *pop_head_locked(struct pool_local *l) { /* oldest (thieves) */
    if (l->n == 0) return NULL;
    void *x = l->ring[l->head];
    gcrt_store(&l->ring[l->head], NULL);
    l->head = (l->head + 1) % l->cap;
    l->n--;
    return x;
}

void gcrt_pool_put(gcrt_pool_t *p, void *x) {
    if (x == NULL) return;
    struct pool_array *a;
    struct pool_local *l = pool_pin(p, &a);
    void **fresh = NULL;
    uint32_t fresh_cap = 0;
    gcrt__lock(&l->lock);
    for (;;) {
        if (l->priv == NULL) {
            gcrt_store(&l->priv, x);
            break;
        }
        if (l->n < l->cap) {
            gcrt_store(&l->ring[(l->head + l->n) % l->cap], x);
            l->n++;
            break;
        }
        uint32_t ncap = l->cap ? 2 * l->cap : 8;
        if (fresh != NULL && fresh_cap == ncap) {
            /* Grow: copy oldest first so head restarts at 0. */
            for (uint32_t i = 0; i < l->n; i++)
                gcrt_store(&fresh[i], l->ring[(l->head + i) % l->cap]);
            gcrt_store(&l->ring, fresh);
            fresh = NULL;
            l->head = 0;
            l->cap = ncap;
            continue;
        }
        /* Allocate outside the lock (the allocator's locks rank above). */
        gcrt__unlock(&l->lock);
        fresh = gcrt_alloc_array(ncap, sizeof(void *));
        fresh_cap = ncap;
        gcrt__lock(&l->lock);
    }
    gcrt__unlock(&l->lock);
    /* An unused or replaced ring is left to the collector: freeing it here
     * could race with a concurrent mark that found it. */
}

/* Steals the oldest object from any entry of a other than pid. */
static void *steal(struct pool_array *a, int pid) {
    for (size_t i = 1; i < a->n; i++) {
        struct pool_local *l = &a->l[((size_t)pid + i) % a->n];
        gcrt__lock(&l->lock);
        void *x = pop_head_locked(l);
        gcrt__unlock(&l->lock);
        if (x != NULL) return x;
    }
    return NULL;
}

static void *take_own(struct pool_local *l) {
    gcrt__lock(&l->lock);
    void *x = l->priv;
    gcrt_store(&l->priv, NULL);
    if (x == NULL) x = pop_tail_locked(l);
    gcrt__unlock(&l->lock);
    return x;
}

/* Go: getSlow. Other Ps' shared parts, then the victim cache. */
static void *get_slow(gcrt_pool_t *p, struct pool_array *a, int pid) {
    void *x = steal(a, pid);
    if (x != NULL) return x;
    struct pool_array *v = gcrt_load_acquire((struct pool_array **)&p->victim);
    if (v == NULL) return NULL;
    if ((size_t)pid < v->n && (x = take_own(&v->l[pid])) != NULL) return x;
    /* Victim entries' private slots are fair game too: nobody owns them. */
    for (size_t i = 0; i < v->n; i++) {
        if ((x = take_own(&v->l[i])) != NULL) return x;
    }
    /* Empty: later Gets need not look (Go: victimSize = 0). */
    publish(&p->victim, NULL);
    return NULL;
}

void *gcrt_pool_get(gcrt_pool_t *p) {
    struct pool_array *a;
    struct pool_local *l = pool_pin(p, &a);
    int pid = (int)(l - a->l);
    void *x = take_own(l);
    if (x == NULL) x = get_slow(p, a, pid);
    if (x == NULL && p->new_fn != NULL) x = p->new_fn();
    return x;
}

bool gcrt__pool_cleanup(void) {
    /* World stopped: nobody else runs, but a thread may have been stopped
     * inside the registry's critical section. Then keep the caches one
     * more cycle rather than tear the lists. */
    if (!gcrt__trylock(&pools_lock)) return false;
    /* Links are cleared as lists are left, so no stale pointer keeps an
     * unused pool alive. */
    for (gcrt_pool_t *p = old_pools, *next; p != NULL; p = next) {
        next = p->old_next;
        gcrt_store(&p->old_next, NULL);
        publish(&p->victim, NULL);
    }
    for (gcrt_pool_t *p = all_pools, *next; p != NULL; p = next) {
        next = p->all_next;
        gcrt_store(&p->all_next, NULL);
        gcrt_store(&p->old_next, next);
        publish(&p->victim, p->local);
        publish(&p->local, NULL);
    }
    old_pools = all_pools;
    all_pools = NULL;
    gcrt__unlock(&pools_lock);
    return true;
}

void gcrt__pool_scan_roots(gcrt_gcwork_t *w) {
    /* The registry reaches every pool in use, but a pool may live where the
     * collector does not look (malloc'd memory, or a heap pool linked only
     * from one that does): its caches, and the pool itself, are roots. */
    gcrt__lock(&pools_lock);
    for (gcrt_pool_t *p = all_pools; p != NULL; p = p->all_next) {
        gcrt__gc_shade(w, (uintptr_t)p);
        gcrt__gc_shade(w, (uintptr_t)gcrt_load_relaxed(&p->local));
        gcrt__gc_shade(w, (uintptr_t)gcrt_load_relaxed(&p->victim));
    }
    for (gcrt_pool_t *p = old_pools; p != NULL; p = p->old_next) {
        gcrt__gc_shade(w, (uintptr_t)p);
        gcrt__gc_shade(w, (uintptr_t)gcrt_load_relaxed(&p->local));
        gcrt__gc_shade(w, (uintptr_t)gcrt_load_relaxed(&p->victim));
    }
    gcrt__unlock(&pools_lock);
}

static size_t count_array(struct pool_array *a) {
    size_t k = 0;
    if (a == NULL) return 0;
    for (size_t i = 0; i < a->n; i++) {
        struct pool_local *l = &a->l[i];
        gcrt__lock(&l->lock);
        k += l->n + (l->priv != NULL);
        gcrt__unlock(&l->lock);
    }
    return k;
}

void gcrt__pool_counts(gcrt_pool_t *p, size_t *primary, size_t *victim) {
    *primary = count_array(gcrt_load_acquire((struct pool_array **)&p->local));
    *victim = count_array(gcrt_load_acquire((struct pool_array **)&p->victim));
}

/* fork.c: this file's global locks. */
void gcrt__pool_fork_locks(void) {
    gcrt__fork_add_lock(&pools_lock);
}
