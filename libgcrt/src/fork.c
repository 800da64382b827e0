/* fork.c - the runtime across fork(2) (pthread_atfork handlers).
 *
 * The child of a fork has one thread, the one that called fork; the
 * runtime's own threads (mark workers, the background sweeper, the
 * scavenger, sysmon, the scheduler's Ms) and the program's other threads
 * are not in it. A lock one of them held at the fork would stay held in
 * the child forever, and a cycle it was running would never end. So, as
 * malloc implementations do:
 *
 *  prepare (the forking thread, before the fork):
 *    1. no cycle may start; a running mark is frozen: this thread takes
 *       the termination claim and turns the mark workers off
 *       (gcrt__gc_fork_freeze; a termination already under way is waited
 *       for, a few stops at most);
 *    2. the world is stopped (once the scheduler has started: before that
 *       no cycle ever ran and the stop signal is not installed; the stop
 *       lock is taken instead): every attached thread waits at a
 *       safepoint, where it holds no runtime lock, its cache is whole and
 *       no assist is half done; the workers put their grey objects back;
 *    3. every global runtime lock is taken, in rank order, so that none is
 *       held by a thread that is not stopped (the runtime's threads, and
 *       program threads calling the runtime without being attached); an
 *       mcentral's once no sweeper is in the middle of one of its spans.
 *  parent: everything is released again, in reverse; the workers go on.
 *  child:  the locks are released; every M but the caller's is marked gone
 *          (tid 0: stops and root scans skip it); the world starts. A
 *          frozen mark is offered to the child's program, as a mark
 *          termination is to the parent's: its next allocation, checkpoint
 *          or wait for a cycle (gcrt_gc) ends it, draining what is left with
 *          the world stopped. A child that only execs never pays for it.
 *
 * In the child, collections run whole on the thread that starts them,
 * with the world stopped (as GODEBUG=gcstoptheworld=2): the mark workers
 * and the background sweeper are not there. Allocation, gcrt_free,
 * gcrt_gc, MemStats, gcrt_free_os_memory and gctrace work. What the other
 * threads had cached (a span per size class) stays theirs: lost to the
 * child, not corrupted. Goroutines, timers and finalizers need the
 * scheduler's threads: in the child of a fork made after the scheduler
 * started they do not run, and gcrt__fork_child_without_sched says so
 * (gcrt_go returns -ENOTSUP) rather than leave the child waiting for them
 * in silence. The parent pays one stop-the-world per fork (and
 * waits out a mark termination under way); posix_spawn and vfork do not
 * run fork handlers. */
#include <pthread.h>
#include <stddef.h>

#include "gc.h"
#include "mcache.h"
#include "mcentral.h"
#include "os.h"
#include "proc.h"
#include "sched_internal.h"

int gcrt__forked_child;
int64_t gcrt__forks;            /* forks prepared (tests) */
static int child_without_sched; /* the child of a fork made after the scheduler started */
static uint32_t child_said;     /* GCRT_CHILD_* kinds already said on stderr; atomic */

enum { FORK_MAX_LOCKS = GCRT_NUM_CACHE_CLASSES + 512 };
static gcrt_lock_t *fork_locks[FORK_MAX_LOCKS];
static int fork_nlocks;
static int fork_stopped; /* prepare stopped the world (else: holds the stop lock) */
static int fork_froze;   /* prepare froze a running mark (gcrt__gc_fork_freeze) */
/* The forking thread's own: prepare did its work (the runtime ran). The
 * fields above belong to the thread that holds the start lock: two
 * threads forking at once take turns from hold_cycles on. */
static __thread int fork_held;

void gcrt__fork_add_lock(gcrt_lock_t *l) {
    if (fork_nlocks == FORK_MAX_LOCKS) gcrt__throw("fork: too many runtime locks");
    fork_locks[fork_nlocks++] = l;
}

/* Every global lock, in the one lock order (lock.h). Stable within a
 * rank: locks of equal rank are never held together (a LEAF lock takes
 * no other; one mcentral's lock is never held while taking another's). */
static void collect_locks(void) {
    fork_nlocks = 0;
    gcrt__fork_add_lock(&gcrt__sched.lock);
    gcrt__fork_add_lock(&gcrt__allp_lock);
    for (unsigned i = 0; i < GCRT_NUM_CACHE_CLASSES; i++)
        gcrt__fork_add_lock(&gcrt__mcentral[i].lock);
    gcrt__fork_add_lock(&gcrt__mheap.lock);
    gcrt__fork_add_lock(&gcrt__allmcache_lock);
    gcrt__gc_fork_locks();
    gcrt__mgcmark_fork_locks();
    gcrt__wb_fork_locks();
    gcrt__fin_fork_locks();
    gcrt__meta_fork_locks();
    gcrt__stack_fork_locks();
    gcrt__time_fork_locks();
    gcrt__sched_fork_locks();
    gcrt__sema_fork_locks();
    gcrt__pool_fork_locks();
    gcrt__chan_fork_locks();
    /* Insertion sort by rank, stable. */
    for (int i = 1; i < fork_nlocks; i++) {
        gcrt_lock_t *l = fork_locks[i];
        int j = i;
        while (j > 0 && fork_locks[j - 1]->rank > l->rank) {
            fork_locks[j] = fork_locks[j - 1];
            j--;
        }
        fork_locks[j] = l;
    }
}

static void release_locks(void) {
    for (int i = fork_nlocks - 1; i >= 0; i--) gcrt__unlock_norank(fork_locks[i]);
}

/* Takes every lock; an mcentral's only once no sweeper is in the middle of
 * one of its spans (a sweeper counts itself under the lock; with the world
 * stopped only the background sweeper can be one). */
static void take_locks(void) {
    for (int i = 0; i < fork_nlocks; i++) {
        gcrt_lock_t *l = fork_locks[i];
        gcrt__lock_norank(l);
        if (l->rank != GCRT_RANK_MCENTRAL) continue;
        gcrt_mcentral_t *c = (gcrt_mcentral_t *)((char *)l - offsetof(gcrt_mcentral_t, lock));
        while (gcrt_load_acquire(&c->nsweeping) != 0) {
            gcrt__unlock_norank(l);
            gcrt__os_yield();
            gcrt__lock_norank(l);
        }
    }
}

static void fork_prepare(void) {
    fork_held = 0;
    if (gcrt_load_acquire(&gcrt__mheap.arena_start) == 0) return; /* nothing runs yet */
    fork_froze = gcrt__gc_fork_freeze();
    /* A mark runs only once the scheduler has started (the stop signal). */
    fork_stopped = gcrt_load_acquire(&gcrt__sched.started) != 0;
    if (fork_stopped)
        gcrt__stop_the_world("fork");
    else
        gcrt__stw_lock_take();
    if (fork_froze) gcrt__gc_fork_quiesce();
    collect_locks();
    take_locks();
    gcrt_xadd_relaxed(&gcrt__forks, 1);
    fork_held = 1;
}

/* Parent and child, after the fork: undoes the rest of prepare. */
static void fork_resume(int child) {
    release_locks();
    if (fork_stopped)
        gcrt__start_the_world();
    else
        gcrt__stw_lock_release();
    gcrt__gc_fork_thaw(fork_froze, child);
}

static void fork_parent(void) {
    if (!fork_held) return;
    fork_held = 0;
    fork_resume(0);
}

static void fork_child(void) {
    if (!fork_held) return;
    fork_held = 0;
    gcrt_store_relaxed(&gcrt__forked_child, 1);
    gcrt_store_relaxed(&child_without_sched, fork_stopped);
    gcrt_store_relaxed(&child_said, 0u);
    gcrt_m_t *self = gcrt__tls_m;
    for (gcrt_m_t *m = gcrt__allm; m; m = m->alllink) {
        if (m == self) {
            gcrt_store_release(&m->tid, gcrt__os_gettid());
            continue;
        }
        /* Gone: no stop waits for it, no root scan reads its stack. Its
         * P stays owned (its cache may be in the middle of a refill). */
        gcrt_store_release(&m->tid, 0);
        gcrt_msched_t *ms = gcrt_load_acquire((gcrt_msched_t **)&m->sched);
        if (ms) gcrt_store_release(&ms->stwstate, (uint32_t)GCRT_MS_RUN);
    }
    fork_resume(1);
}

bool gcrt__fork_child_without_sched(unsigned kind) {
    if (!gcrt_load_relaxed(&child_without_sched)) return false;
    if (__atomic_fetch_or(&child_said, kind, __ATOMIC_RELAXED) & kind) return true;
    const char *what = kind == GCRT_CHILD_GOROUTINES
                           ? "goroutines do not run (gcrt_go returns -ENOTSUP)"
                       : kind == GCRT_CHILD_TIMERS ? "timers do not fire"
                                                   : "finalizers do not run";
    gcrt__printf("gcrt: in the child of a fork made after the scheduler started, %s: the "
                 "scheduler's threads are not in the child; it can allocate, collect and exec "
                 "(README, \"fork\")\n",
                 what);
    return true;
}

void gcrt__fork_init(void) {
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        gcrt__throw("runtime: pthread_atfork failed");
}
