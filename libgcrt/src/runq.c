/* runq.c - run queues and idle Ps (Go: runqput, runqget, runqgrab,
 * runqsteal, globrunqput/get, pidleput/get in proc.go). See sched.c.
 *
 * A P's local run queue is a 256-slot ring: only the owner puts (at
 * tail), the owner and thieves take (at head, by CAS). runnext holds the
 * G readied last by this P: it runs next and inherits the time slice, so
 * a ping-pong pair stays on one P. When the ring is full, half of it moves
 * to the global run queue (a list under sched.lock). Slots are read and
 * written with relaxed atomics: a thief may read a slot the owner is
 * overwriting, and then its CAS on head fails and it retries. */
#include "sched_internal.h"

#define N GCRT_RUNQ_SIZE

static inline gcrt_g_t *slot_load(gcrt_psched_t *pp, uint32_t i) {
    return __atomic_load_n(&pp->runq[i % N], __ATOMIC_RELAXED);
}
static inline void slot_store(gcrt_g_t **slots, uint32_t i, gcrt_g_t *g) {
    __atomic_store_n(&slots[i % N], g, __ATOMIC_RELAXED);
}

/* Moves half of the full local queue and g to the global queue. Fails
 * (returns 0) if a thief changed head meanwhile. */
static int runqputslow(gcrt_psched_t *pp, gcrt_g_t *g, uint32_t h, uint32_t t) {
    gcrt_g_t *batch[N / 2 + 1];
    uint32_t n = (t - h) / 2;
    GCRT_ASSERT(n == N / 2);
    for (uint32_t i = 0; i < n; i++) batch[i] = slot_load(pp, h + i);
    if (!__atomic_compare_exchange_n(&pp->runqhead, &h, h + n, false, __ATOMIC_RELEASE,
                                     __ATOMIC_RELAXED))
        return 0;
    batch[n] = g;
    for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
    gcrt__lock(&gcrt__sched.lock);
    gcrt__globrunqput_batch(batch[0], batch[n], (int32_t)n + 1);
    gcrt__unlock(&gcrt__sched.lock);
    return 1;
}

void gcrt__runqput(gcrt_psched_t *pp, gcrt_g_t *g, int next) {
    if (next) {
        gcrt_g_t *old = gcrt_load_relaxed(&pp->runnext);
        while (!gcrt_cas(&pp->runnext, &old, g)) {
        }
        if (!old) return;
        g = old; /* kick the old runnext to the tail */
    }
    for (;;) {
        uint32_t h = gcrt_load_acquire(&pp->runqhead);
        uint32_t t = pp->runqtail;
        if (t - h < N) {
            slot_store(pp->runq, t, g);
            gcrt_store_release(&pp->runqtail, t + 1);
            return;
        }
        if (runqputslow(pp, g, h, t)) return;
    }
}

gcrt_g_t *gcrt__runqget(gcrt_psched_t *pp) {
    gcrt_g_t *next = gcrt_load_relaxed(&pp->runnext);
    if (next && gcrt_cas(&pp->runnext, &next, NULL)) return next;
    for (;;) {
        uint32_t h = gcrt_load_acquire(&pp->runqhead);
        uint32_t t = pp->runqtail;
        if (t == h) return NULL;
        gcrt_g_t *g = slot_load(pp, h);
        if (__atomic_compare_exchange_n(&pp->runqhead, &h, h + 1, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            return g;
    }
}

int gcrt__runqempty(gcrt_psched_t *pp) {
    /* Go's runqempty: head, tail and runnext read consistently. */
    for (;;) {
        uint32_t h = gcrt_load_acquire(&pp->runqhead);
        uint32_t t = gcrt_load_acquire(&pp->runqtail);
        gcrt_g_t *next = gcrt_load_acquire(&pp->runnext);
        if (gcrt_load_acquire(&pp->runqtail) == t) return h == t && next == NULL;
    }
}

/* Takes half of pp's queue into batch[bh...]. Returns how many. */
static uint32_t runqgrab(gcrt_psched_t *pp, gcrt_g_t **batch, uint32_t bh, int stealnext) {
    for (;;) {
        uint32_t h = gcrt_load_acquire(&pp->runqhead);
        uint32_t t = gcrt_load_acquire(&pp->runqtail);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (stealnext) {
                gcrt_g_t *next = gcrt_load_relaxed(&pp->runnext);
                if (next) {
                    /* Its owner is probably about to run it (it just
                     * readied it); give it a moment, as Go does. */
                    gcrt__os_sleep_ns(3000);
                    if (!gcrt_cas(&pp->runnext, &next, NULL)) continue;
                    slot_store(batch, bh, next);
                    return 1;
                }
            }
            return 0;
        }
        if (n > N / 2) continue; /* inconsistent h and t */
        for (uint32_t i = 0; i < n; i++) slot_store(batch, bh + i, slot_load(pp, h + i));
        if (__atomic_compare_exchange_n(&pp->runqhead, &h, h + n, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            return n;
    }
}

gcrt_g_t *gcrt__runqsteal(gcrt_psched_t *pp, gcrt_psched_t *victim, int stealnext) {
    uint32_t t = pp->runqtail;
    uint32_t n = runqgrab(victim, pp->runq, t, stealnext);
    if (n == 0) return NULL;
    n--;
    gcrt_g_t *g = slot_load(pp, t + n);
    if (n == 0) return g;
    GCRT_ASSERT(t - gcrt_load_acquire(&pp->runqhead) + n < N);
    gcrt_store_release(&pp->runqtail, t + n);
    return g;
}

/* ---- the global run queue (sched.lock held) ------------------------------ */

void gcrt__globrunqput(gcrt_g_t *g) {
    g->schedlink = NULL;
    if (gcrt__sched.runqtail)
        gcrt__sched.runqtail->schedlink = g;
    else
        gcrt__sched.runqhead = g;
    gcrt__sched.runqtail = g;
    gcrt_store_relaxed(&gcrt__sched.runqsize, gcrt__sched.runqsize + 1);
}

void gcrt__globrunqput_batch(gcrt_g_t *head, gcrt_g_t *tail, int32_t n) {
    tail->schedlink = NULL;
    if (gcrt__sched.runqtail)
        gcrt__sched.runqtail->schedlink = head;
    else
        gcrt__sched.runqhead = head;
    gcrt__sched.runqtail = tail;
    gcrt_store_relaxed(&gcrt__sched.runqsize, gcrt__sched.runqsize + n);
}

/* Takes a fair share of the global queue: one G to run, the rest onto
 * pp's local queue. max 0: no limit beyond the fair share. */
gcrt_g_t *gcrt__globrunqget(gcrt_psched_t *pp, int32_t max) {
    int32_t size = gcrt__sched.runqsize;
    if (size == 0) return NULL;
    int32_t n = size / gcrt_load_relaxed(&gcrt__sched.nprocs) + 1;
    if (n > size) n = size;
    if (max > 0 && n > max) n = max;
    if (n > N / 2) n = N / 2;
    gcrt_store_relaxed(&gcrt__sched.runqsize, size - n);
    gcrt_g_t *g = gcrt__sched.runqhead;
    gcrt__sched.runqhead = g->schedlink;
    for (int32_t i = 1; i < n; i++) {
        gcrt_g_t *g1 = gcrt__sched.runqhead;
        gcrt__sched.runqhead = g1->schedlink;
        gcrt__runqput(pp, g1, 0);
    }
    if (!gcrt__sched.runqhead) gcrt__sched.runqtail = NULL;
    return g;
}

/* ---- idle Ps (sched.lock held) and P ownership --------------------------- */

void gcrt__pidleput(gcrt_psched_t *pp) {
    GCRT_ASSERT(!pp->idle);
    gcrt_store_relaxed(&pp->p->m, NULL);
    gcrt_store_release(&pp->p->status, GCRT_P_IDLE);
    if (pp->disabled) return; /* not handed out until GOMAXPROCS grows */
    pp->idle = 1;
    pp->idlelink = gcrt__sched.pidle;
    gcrt__sched.pidle = pp;
    gcrt_xadd(&gcrt__sched.npidle, 1);
}

gcrt_psched_t *gcrt__pidleget(void) {
    gcrt_psched_t *pp;
    while ((pp = gcrt__sched.pidle) != NULL) {
        gcrt__sched.pidle = pp->idlelink;
        pp->idle = 0;
        gcrt_xadd(&gcrt__sched.npidle, -1);
        if (!pp->disabled) return pp;
    }
    return NULL;
}

void gcrt__acquirep(gcrt_msched_t *ms, gcrt_psched_t *pp) {
    gcrt_m_t *m = ms->m;
    GCRT_ASSERT(m->p == NULL && ms->pp == NULL);
    gcrt_p_t *p = pp->p;
    gcrt_store_relaxed(&p->m, m);
    gcrt_store_release(&p->status, GCRT_P_RUNNING);
    m->p = p;
    m->mcache = p->mcache;
    ms->pp = pp;
    gcrt__sysmon_kick(); /* a P is busy now: sysmon must watch */
}

gcrt_psched_t *gcrt__releasep(gcrt_msched_t *ms) {
    gcrt_psched_t *pp = ms->pp;
    gcrt_m_t *m = ms->m;
    ms->pp = NULL;
    m->p = NULL;
    m->mcache = NULL;
    return pp;
}
