/* mthread.c - Ms: the threads that run goroutines (Go: newm, mstart,
 * stopm, startm, handoffp, wakep in proc.go). See sched.c.
 *
 * A runtime M is a pthread that attaches through proc.c (so it is an M on
 * allm, with stack bounds for the GC), gives back the P proc.c handed it,
 * marks itself foreign = 0, and from then on holds only scheduler Ps. An
 * M without work parks on its futex word on the idle list; startm hands
 * it a P (nextp) and wakes it. "Spinning" Ms look for work to steal; at
 * most about half the busy Ps' worth spin, and an M that stops spinning
 * because it found work wakes another if none spins (Go's wakeup policy),
 * so readying a G costs at most one futex wake. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "sched_internal.h"

typedef struct mstart_arg {
    gcrt_psched_t *pp;
    int spinning;
} mstart_arg_t;

static void *mstart(void *arg) {
    mstart_arg_t a = *(mstart_arg_t *)arg;
    gcrt__os_unmap(arg, 4096);
    /* The thread inherits its creator's signal mask; the stop signal and
     * the overflow report must get through whatever that was. */
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, SIGURG);
    sigaddset(&ours, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &ours, NULL);
    if (gcrt_thread_attach() != 0) gcrt__throw("runtime: cannot attach a new M");
    gcrt_m_t *m = gcrt__getm();
    gcrt__p_release(m); /* the P proc.c gave us: back to foreign threads */
    m->foreign = 0;
    gcrt_msched_t *ms = gcrt__getms();
    ms->runtime = 1;
    ms->g0->goid = 0;
    ms->g0->system = 1;
    gcrt__m_signal_stack(ms);
    pthread_sigmask(SIG_SETMASK, NULL, &ms->sigmask); /* preempt.c compares */
#if defined(GCRT_TSAN_FIBERS)
    ms->tsan_fiber = __tsan_get_current_fiber();
#endif
    ms->spinning = a.spinning;
    gcrt__acquirep(ms, a.pp);
    gcrt__mstart_loop(ms);
}

void gcrt__newm(gcrt_psched_t *pp, int spinning) {
    mstart_arg_t *a = gcrt__os_alloc(4096);
    if (!a) gcrt__throw("runtime: cannot allocate a new M");
    a->pp = pp;
    a->spinning = spinning;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int err = pthread_create(&t, &attr, mstart, a);
    pthread_attr_destroy(&attr);
    if (err) gcrt__throwf("runtime: failed to create new OS thread (errno %d)", err);
    gcrt_xadd(&gcrt__sched.nm, 1);
}

/* Stops the current M until startm hands it a P. */
void gcrt__stopm(gcrt_msched_t *ms) {
    GCRT_ASSERT(ms->pp == NULL);
    if (ms->spinning) {
        /* Lost its P while spinning (GOMAXPROCS shrank): stop counting it,
         * and since wakep skipped waking anyone for work queued meanwhile,
         * look once more. */
        ms->spinning = 0;
        gcrt_xadd(&gcrt__sched.nmspinning, -1);
        gcrt__fence();
        if (gcrt_load_relaxed(&gcrt__sched.runqsize) > 0) gcrt__wakep();
    }
    gcrt__lock(&gcrt__sched.lock);
    gcrt_store_relaxed(&ms->parkword, 0);
    ms->idlelink = gcrt__sched.midle;
    gcrt__sched.midle = ms;
    gcrt_store_relaxed(&gcrt__sched.nmidle, gcrt__sched.nmidle + 1);
    gcrt__unlock(&gcrt__sched.lock);
    ms->stop_sp = (uintptr_t)__builtin_frame_address(0); /* what a GC scans */
    ms->stop_fp = ms->stop_sp;
    gcrt__ms_block(ms);
    while (gcrt_load_acquire(&ms->parkword) == 0) gcrt__futex_wait(&ms->parkword, 0, -1);
    gcrt__ms_unblock(ms);
    gcrt_psched_t *pp = ms->nextp;
    ms->nextp = NULL;
    gcrt__acquirep(ms, pp);
}

/* Runs pp (or an idle P if NULL) on an idle or new M. spinning: the
 * caller already counted the M in nmspinning. */
void gcrt__startm(gcrt_psched_t *pp, int spinning) {
    gcrt__lock(&gcrt__sched.lock);
    if (!pp) {
        pp = gcrt__pidleget();
        if (!pp) {
            gcrt__unlock(&gcrt__sched.lock);
            if (spinning) gcrt_xadd(&gcrt__sched.nmspinning, -1);
            return;
        }
    }
    gcrt_msched_t *ms = gcrt__sched.midle;
    if (ms) {
        gcrt__sched.midle = ms->idlelink;
        gcrt_store_relaxed(&gcrt__sched.nmidle, gcrt__sched.nmidle - 1);
    }
    gcrt__unlock(&gcrt__sched.lock);
    if (!ms) {
        gcrt__newm(pp, spinning);
        return;
    }
    ms->spinning = spinning;
    ms->nextp = pp;
    gcrt_store_release(&ms->parkword, 1);
    gcrt__futex_wake(&ms->parkword, 1);
}

/* Go's wakep: another P may have work; start a spinning M if there is an
 * idle P and nobody spins already. */
void gcrt__wakep(void) {
    if (gcrt_load_relaxed(&gcrt__sched.npidle) == 0) return;
    int32_t z = 0;
    if (gcrt_load_relaxed(&gcrt__sched.nmspinning) != 0 ||
        !gcrt_cas(&gcrt__sched.nmspinning, &z, 1))
        return;
    gcrt__startm(NULL, 1);
}

/* Go's handoffp: pp's M is gone (blocking call) or leaves; give pp to an M
 * if there is something to do with it, else make it idle. */
void gcrt__handoffp(gcrt_psched_t *pp) {
    if (!gcrt__runqempty(pp) || gcrt_load_relaxed(&gcrt__sched.runqsize) > 0) {
        gcrt__startm(pp, 0);
        return;
    }
    int32_t z = 0;
    if (gcrt_load_relaxed(&gcrt__sched.nmspinning) + gcrt_load_relaxed(&gcrt__sched.npidle) == 0 &&
        gcrt_cas(&gcrt__sched.nmspinning, &z, 1)) {
        gcrt__startm(pp, 1);
        return;
    }
    if (gcrt__timers_next() != INT64_MAX) {
        gcrt__startm(pp, 0);
        return;
    }
    gcrt__lock(&gcrt__sched.lock);
    if (gcrt__sched.runqsize > 0) {
        gcrt__unlock(&gcrt__sched.lock);
        gcrt__startm(pp, 0);
        return;
    }
    gcrt__pidleput(pp);
    gcrt__unlock(&gcrt__sched.lock);
}
