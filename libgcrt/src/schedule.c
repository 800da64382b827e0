/* schedule.c - the scheduler loop that runs on each runtime M's own stack
 * (g0): findrunnable, execute, what happens after a G switches out,
 * start-up, gcrt_main, GOMAXPROCS and blocking calls. See sched.c. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>

#include "gc.h"
#include "sched_internal.h"

/* ---- Ps ------------------------------------------------------------------- */

/* A scheduler P: a proc.c P (with its mcache) that only scheduler Ms use.
 * proc.c hands it out through a throw-away M record; it never goes back to
 * proc.c's idle list, so foreign threads never get it. */
static gcrt_psched_t *newp(int32_t idx) {
    gcrt_psched_t *pp = gcrt__os_alloc(sizeof *pp);
    if (!pp) gcrt__throw("out of memory allocating a P");
    gcrt_m_t tmp = {0};
    gcrt_p_t *p = gcrt__p_acquire(&tmp);
    gcrt_store_relaxed(&p->m, NULL);
    /* Nobody runs it yet: idle (p_acquire left it RUNNING), or
     * gcrt_gomaxprocs, which puts a re-enabled P on the idle list only if
     * it is idle and unowned, would never hand out a P it made. */
    gcrt_store_release(&p->status, GCRT_P_IDLE);
    p->sched = pp;
    pp->p = p;
    pp->idx = idx;
    return pp;
}

static pthread_once_t sched_once = PTHREAD_ONCE_INIT;

static void sched_init_once(void) {
    if (gcrt__runtime_init() != 0) gcrt__throw("runtime: initialisation failed");
    int32_t n = gcrt__gomaxprocs > 0 ? gcrt__gomaxprocs : 1;
    if (n > GCRT_MAX_GOMAXPROCS) n = GCRT_MAX_GOMAXPROCS;
    gcrt__lock(&gcrt__sched.lock);
    for (int32_t i = 0; i < n; i++) {
        gcrt__sched.ps[i] = newp(i);
        gcrt__pidleput(gcrt__sched.ps[i]);
    }
    gcrt__sched.nallps = n;
    gcrt_store_relaxed(&gcrt__sched.nprocs, n);
    gcrt__unlock(&gcrt__sched.lock);
    gcrt__stack_signal_init();
    gcrt__preempt_init();
    gcrt__stw_signal_init();
    gcrt__sysmon_start();
    gcrt_store_release(&gcrt__sched.started, 1);
}

static int gcrt_gomaxprocs_locked_cycles(int n);

void gcrt__sched_start(void) {
    if (GCRT_LIKELY(gcrt_load_acquire(&gcrt__sched.started))) return;
    pthread_once(&sched_once, sched_init_once);
}

int gcrt_gomaxprocs(int n) {
    gcrt__sched_start();
    /* Go's GOMAXPROCS: a change waits for the cycle in progress to finish
     * its mark, and no cycle starts during it (stopTheWorldGC takes gcsema,
     * which a cycle holds from its start to its mark termination): a cycle
     * runs with one GOMAXPROCS from start to end (its workers, its pacing,
     * gctrace's "P"). Reading it (n <= 0) or asking for the current value
     * does not wait. */
    if (n > 0 && n != gcrt_load_relaxed(&gcrt__sched.nprocs)) {
        gcrt__gc_hold_cycles();
        int old = gcrt_gomaxprocs_locked_cycles(n);
        gcrt__gc_release_cycles();
        return old;
    }
    return gcrt_gomaxprocs_locked_cycles(n);
}

/* gcrt_gomaxprocs with cycles held (or n not changing it). */
static int gcrt_gomaxprocs_locked_cycles(int n) {
    gcrt__lock(&gcrt__sched.lock);
    int32_t old = gcrt__sched.nprocs;
    int grew = 0;
    if (n > 0 && n != old) {
        if (n > GCRT_MAX_GOMAXPROCS) n = GCRT_MAX_GOMAXPROCS;
        while (gcrt__sched.nallps < n) {
            int32_t i = gcrt__sched.nallps;
            gcrt__sched.ps[i] = newp(i);
            gcrt_store_relaxed(&gcrt__sched.ps[i]->disabled, 1); /* enabled below */
            gcrt_store_release(&gcrt__sched.nallps, i + 1);
        }
        for (int32_t i = 0; i < gcrt__sched.nallps; i++) {
            gcrt_psched_t *pp = gcrt__sched.ps[i];
            int was = pp->disabled;
            gcrt_store_relaxed(&pp->disabled, i >= n);
            /* A disabled P that nobody holds is off the idle list. */
            if (was && !pp->disabled && !pp->idle && gcrt_load_relaxed(&pp->p->m) == NULL &&
                gcrt_load_relaxed(&pp->p->status) == GCRT_P_IDLE) {
                gcrt__pidleput(pp);
                grew++;
            }
        }
        /* Disabled Ps leave the idle list, so npidle counts usable ones. */
        for (gcrt_psched_t **l = &gcrt__sched.pidle; *l;) {
            gcrt_psched_t *pp = *l;
            if (pp->disabled) {
                *l = pp->idlelink;
                pp->idle = 0;
                gcrt_xadd(&gcrt__sched.npidle, -1);
            } else {
                l = &pp->idlelink;
            }
        }
        gcrt_store_relaxed(&gcrt__sched.nprocs, n);
        gcrt_store_relaxed(&gcrt__gomaxprocs, n);
    }
    int32_t now_procs = gcrt__sched.nprocs;
    gcrt__unlock(&gcrt__sched.lock);
    if (now_procs != old) gcrt__gc_limiter_set_procs(now_procs);
    while (grew-- > 0) gcrt__wakep();
    return old;
}

/* ---- finding work ----------------------------------------------------------- */

static GCRT_TLS uint32_t rnd_state;
static uint32_t fastrand(void) {
    uint32_t x = rnd_state;
    if (!x) x = (uint32_t)gcrt__nanotime() | 1;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rnd_state = x;
    return x;
}

static void resetspinning(gcrt_msched_t *ms) {
    ms->spinning = 0;
    int32_t n = gcrt_xadd(&gcrt__sched.nmspinning, -1) - 1;
    GCRT_ASSERT(n >= 0);
    /* We were the last spinning M and may have taken the last of the
     * work; make sure somebody looks for more. */
    gcrt__wakep();
}

/* The M's P left the GOMAXPROCS set: its queue to the global one. */
static void drop_disabled_p(gcrt_msched_t *ms) {
    gcrt_psched_t *pp = ms->pp;
    gcrt_g_t *g;
    while ((g = gcrt__runqget(pp)) != NULL) {
        gcrt__lock(&gcrt__sched.lock);
        gcrt__globrunqput(g);
        gcrt__unlock(&gcrt__sched.lock);
    }
    gcrt__releasep(ms);
    gcrt__lock(&gcrt__sched.lock);
    gcrt__pidleput(pp); /* stays off the list while disabled */
    gcrt_psched_t *np = gcrt__pidleget();
    gcrt__unlock(&gcrt__sched.lock);
    if (np) gcrt__acquirep(ms, np);
}

static void run_timers(void) {
    int64_t next = gcrt__timers_next();
    if (next == INT64_MAX) return;
    int64_t now = gcrt__nanotime();
    if (next <= now) gcrt__timers_run(now);
}

static gcrt_g_t *findrunnable(gcrt_msched_t *ms) {
    gcrt_g_t *g;
top:
    if (!ms->pp) gcrt__stopm(ms);
    gcrt__safepoint();
    gcrt_psched_t *pp = ms->pp;
    if (GCRT_UNLIKELY(gcrt_load_relaxed(&pp->disabled))) {
        drop_disabled_p(ms);
        goto top;
    }
    run_timers();
    /* Fairness: sometimes the global queue first. */
    if (pp->schedtick % 61 == 0 && gcrt_load_relaxed(&gcrt__sched.runqsize) > 0) {
        gcrt__lock(&gcrt__sched.lock);
        g = gcrt__globrunqget(pp, 1);
        gcrt__unlock(&gcrt__sched.lock);
        if (g) return g;
    }
    if ((g = gcrt__runqget(pp)) != NULL) return g;
    if (gcrt_load_relaxed(&gcrt__sched.runqsize) > 0) {
        gcrt__lock(&gcrt__sched.lock);
        g = gcrt__globrunqget(pp, 0);
        gcrt__unlock(&gcrt__sched.lock);
        if (g) return g;
    }
    /* Steal, unless half the busy Ps' worth of Ms spin already. */
    int32_t nallps = gcrt_load_acquire(&gcrt__sched.nallps);
    int32_t busy = gcrt_load_relaxed(&gcrt__sched.nprocs) - gcrt_load_relaxed(&gcrt__sched.npidle);
    if (ms->spinning || 2 * gcrt_load_relaxed(&gcrt__sched.nmspinning) < busy) {
        if (!ms->spinning) {
            ms->spinning = 1;
            gcrt_xadd(&gcrt__sched.nmspinning, 1);
        }
        for (int i = 0; i < 4; i++) {
            uint32_t start = fastrand();
            for (int32_t k = 0; k < nallps; k++) {
                gcrt_psched_t *v = gcrt__sched.ps[(start + (uint32_t)k) % (uint32_t)nallps];
                if (v == pp) continue;
                if ((g = gcrt__runqsteal(pp, v, i == 3)) != NULL) return g;
            }
            if (gcrt_load_relaxed(&gcrt__sched.runqsize) > 0) break;
        }
    }
    /* Nothing: give the P back and sleep. */
    gcrt__lock(&gcrt__sched.lock);
    if (gcrt__sched.runqsize > 0) {
        g = gcrt__globrunqget(pp, 0);
        gcrt__unlock(&gcrt__sched.lock);
        if (g) return g;
        goto top;
    }
    gcrt__releasep(ms);
    gcrt__pidleput(pp);
    gcrt__unlock(&gcrt__sched.lock);
    if (ms->spinning) {
        /* Go's delicate dance: drop spinning, then look again, or a G
         * readied between our check and the drop would wait for nobody. */
        ms->spinning = 0;
        gcrt_xadd(&gcrt__sched.nmspinning, -1);
        gcrt__fence();
        /* Plain threads queue on the global queue without a P of their
         * own and rely on wakep, which saw us spinning. */
        int found = gcrt_load_relaxed(&gcrt__sched.runqsize) > 0;
        for (int32_t k = 0; k <= nallps; k++) {
            if (k < nallps) {
                gcrt_psched_t *v = gcrt__sched.ps[k];
                if (gcrt_load_relaxed(&v->disabled) || gcrt__runqempty(v)) continue;
            } else if (!found) {
                break;
            }
            gcrt__lock(&gcrt__sched.lock);
            gcrt_psched_t *np = gcrt__pidleget();
            gcrt__unlock(&gcrt__sched.lock);
            if (np) {
                gcrt__acquirep(ms, np);
                ms->spinning = 1;
                gcrt_xadd(&gcrt__sched.nmspinning, 1);
                goto top;
            }
            break;
        }
    }
    gcrt__stopm(ms);
    goto top;
}

/* ---- running a G ------------------------------------------------------------ */

/* Runs g until it switches back to g0. The whole window, from before g is
 * marked running until the caller has stored its next status, is a
 * no-signal region (ms->locks, balanced by the goroutine side around the
 * switch): a stop inside it would find g neither as an M's current G nor
 * with a parked status, and the GC would miss its stack. The caller closes
 * it once g's status is stored (switched_out). */
void gcrt__execute(gcrt_msched_t *ms, gcrt_g_t *g) {
    ms->locks++;
    gcrt_store_relaxed(&ms->pp->schedtick, ms->pp->schedtick + 1);
    g->m = ms->m;
    g->lastm = ms->m;
    gcrt_store_relaxed(&g->waitreason, 0);
    gcrt_store_relaxed(&g->waitsince, 0);
    gcrt_store_release(&g->status, GCRT_G_RUNNING);
    gcrt_store_release(&ms->curg, g);
    if (!g->sched_sp) { /* its first run: on a warm stack if the P has one */
        gcrt__stack_swap_spare(ms->pp, g);
        gcrt__g_first_frame(g);
    }
#if defined(GCRT_TSAN_FIBERS)
    __tsan_switch_to_fiber(g->tsan_fiber, 0);
#endif
#if defined(GCRT_ASAN_FIBERS)
    __sanitizer_start_switch_fiber(&ms->asan_fake, (void *)g->stack_lo, g->stack_hi - g->stack_lo);
#endif
    gcrt__ctx_switch(&ms->g0_sp, g->sched_sp);
#if defined(GCRT_ASAN_FIBERS)
    __sanitizer_finish_switch_fiber(ms->asan_fake, NULL, NULL);
#endif
    gcrt_store_release(&ms->curg, ms->g0);
    gcrt__stack_note_sp(g, g->sched_sp);
}

/* Ends the switch window of gcrt__execute (g's new status is stored). */
static inline void switched_out(gcrt_msched_t *ms) {
    ms->locks--;
    if (GCRT_UNLIKELY(gcrt_load_relaxed(&gcrt__stw_word) & 1)) gcrt__safepoint_slow();
}

static void requeue(gcrt_msched_t *ms, gcrt_g_t *g) {
    g->m = NULL;
    gcrt_store_release(&g->status, GCRT_G_RUNNABLE);
    switched_out(ms);
    gcrt__lock(&gcrt__sched.lock);
    gcrt__globrunqput(g);
    gcrt__unlock(&gcrt__sched.lock);
}

static void goexit0(gcrt_msched_t *ms, gcrt_g_t *g) {
    g->m = NULL;
    g->fn = NULL;
    g->arg = NULL;
    g->param = NULL;
    g->waiting = NULL;
    gcrt_store_relaxed(&g->preempt, 0);
    gcrt_store_release(&g->status, GCRT_G_DEAD);
    switched_out(ms);
    if (!g->system) gcrt__ngoroutine_add(ms->pp, -1);
#if defined(GCRT_TSAN_FIBERS)
    /* A fresh fiber for the next life of this G: the old one's shadow
     * stack still holds the frames of the exited function. */
    __tsan_destroy_fiber(g->tsan_fiber);
    g->tsan_fiber = NULL;
#endif
    gcrt__stack_swap_spare(ms->pp, g); /* its warm stack for the next new G */
    gcrt__gfput(ms->pp, g);
}

GCRT_NORETURN void gcrt__mstart_loop(gcrt_msched_t *ms) {
    for (;;) {
        gcrt_g_t *g = findrunnable(ms);
        if (ms->spinning) resetspinning(ms);
    run:
        ms->action = GCRT_ACT_NONE;
        gcrt__execute(ms, g);
        switch (ms->action) {
        case GCRT_ACT_PARK: {
            int (*f)(gcrt_g_t *, void *) = ms->unlockf;
            void *a = ms->unlockarg;
            ms->unlockf = NULL;
            ms->unlockarg = NULL;
            g->m = NULL;
            gcrt_store_release(&g->status, GCRT_G_WAITING);
            /* unlockf first: it releases the lock the G parked holding (a
             * channel's), which nobody may wait for across a stop. */
            ms->locks--;
            if (f && !f(g, a)) {
                uint32_t w = GCRT_G_WAITING;
                if (!gcrt_cas(&g->status, &w, GCRT_G_RUNNABLE))
                    gcrt__throw("runtime: unlockf returned 0 but the G was readied");
                goto run; /* g0 keeps its P across a park */
            }
            if (GCRT_UNLIKELY(gcrt_load_relaxed(&gcrt__stw_word) & 1)) gcrt__safepoint_slow();
            break;
        }
        case GCRT_ACT_GOSCHED:
        case GCRT_ACT_PREEMPT:
        case GCRT_ACT_BLOCKED:
            requeue(ms, g);
            if (ms->action == GCRT_ACT_BLOCKED) gcrt__wakep();
            break;
        case GCRT_ACT_EXIT:
            goexit0(ms, g);
            break;
        default:
            gcrt__throwf("runtime: bad switch action %d", ms->action);
        }
    }
}

/* ---- gcrt_main: the calling thread becomes a runtime M ---------------------- */

static struct {
    int (*fn)(int, char **);
    int argc;
    char **argv;
} mainargs;

static void main_entry(void *unused) {
    (void)unused;
    int rc = mainargs.fn(mainargs.argc, mainargs.argv);
    exit(rc);
}

int gcrt_main(int (*fn)(int argc, char **argv), int argc, char **argv) {
    if (!fn) return -EINVAL;
    int err = gcrt_init();
    if (err) return err;
    gcrt__sched_start();
    gcrt_m_t *m = gcrt__getm();
    gcrt_msched_t *ms = gcrt__getms();
    if (ms->runtime) return -EBUSY;
    mainargs.fn = fn;
    mainargs.argc = argc;
    mainargs.argv = argv;
    int64_t thread_goid = ms->g0->goid;
    gcrt_g_t *g = gcrt__newproc_main(main_entry, ms);
    if (!g) return -ENOMEM;
    /* Goroutine 1 is main: it takes the id the thread's own G had if that
     * was the first one (the usual case), and the thread G becomes g0. */
    if (thread_goid == 1) g->goid = 1;
    g->parentgoid = 0;
    g->gopc = 0;
    g->main = 1;
    ms->g0->goid = 0;
    ms->g0->system = 1;
    gcrt__p_release(m);
    m->foreign = 0;
    ms->runtime = 1;
    gcrt__m_signal_stack(ms);
    /* As a new M does (mthread.c: mstart): the stop signal and the
     * overflow report get through whatever the program blocked here (a
     * program that waits for signals in one thread blocks them all in
     * main first), and preempt.c compares the mask goroutines run with. */
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, SIGURG);
    sigaddset(&ours, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &ours, NULL);
    pthread_sigmask(SIG_SETMASK, NULL, &ms->sigmask);
#if defined(GCRT_TSAN_FIBERS)
    ms->tsan_fiber = __tsan_get_current_fiber();
#endif
    gcrt__lock(&gcrt__sched.lock);
    gcrt_psched_t *pp = gcrt__pidleget();
    gcrt__unlock(&gcrt__sched.lock);
    gcrt_xadd(&gcrt__sched.ngoroutine, 1);
    gcrt_store_release(&g->status, GCRT_G_RUNNABLE);
    if (pp) {
        gcrt__acquirep(ms, pp);
        gcrt__runqput(pp, g, 1);
    } else {
        gcrt__lock(&gcrt__sched.lock);
        gcrt__globrunqput(g);
        gcrt__unlock(&gcrt__sched.lock);
    }
    gcrt__mstart_loop(ms);
}

/* ---- blocking calls (Go: entersyscall / exitsyscall) ------------------------ */

/* Called by gcrt_enter_blocking (ctx_amd64.S) with the caller's
 * callee-saved registers (they may hold pointers across the call) and the
 * caller's stack pointer: everything above it stays put while blocked. */
void gcrt__enter_blocking(uintptr_t *regs, uintptr_t caller_sp);
void gcrt__enter_blocking(uintptr_t *regs, uintptr_t caller_sp) {
    gcrt_msched_t *ms = gcrt__getms();
    if (!ms || ms->blockdepth++ > 0) return;
    for (int i = 0; i < 6; i++) ms->block_regs[i] = regs[i];
    ms->stop_sp = caller_sp;
    ms->stop_fp = regs[5]; /* the caller's rbp; its return PC is at caller_sp - 8 */
    gcrt_g_t *g = ms->curg;
    gcrt_psched_t *pp = ms->pp;
    if (pp && !g->is_thread) {
        ms->oldp = pp;
        gcrt_store_relaxed(&pp->syscalltick, pp->syscalltick + 1);
        gcrt_store_release(&g->status, GCRT_G_SYSCALL);
        ms->m->mcache = NULL; /* no heap while the P may be taken */
        gcrt_store_release(&pp->p->status, GCRT_P_SYSCALL);
        gcrt__sysmon_kick();
    } else if (ms->m->foreign && ms->m->p) {
        /* An attached thread keeps its P, but nobody runs on it now: it
         * counts as on no CPU (a mark worker stays where it is; gc.c:
         * step_aside). */
        ms->foreign_blocked = 1;
        gcrt_xadd(&gcrt__foreign_running, -1);
        gcrt_store_relaxed(&ms->m->p->mcache->cpu, (int32_t)0);
    }
    gcrt__ms_block(ms);
}

int gcrt_pthread_join(pthread_t thread, void **retval) {
    gcrt_enter_blocking();
    int err = pthread_join(thread, retval);
    gcrt_exit_blocking();
    return err;
}

void gcrt_exit_blocking(void) {
    gcrt_msched_t *ms = gcrt__getms();
    if (!ms || ms->blockdepth == 0) return;
    if (--ms->blockdepth > 0) return;
    gcrt__ms_unblock(ms);
    if (ms->foreign_blocked) {
        ms->foreign_blocked = 0;
        gcrt_xadd(&gcrt__foreign_running, 1);
        gcrt_store_relaxed(&ms->m->p->mcache->cpu, (int32_t)(sched_getcpu() + 1));
    }
    gcrt_psched_t *pp = ms->oldp;
    if (!pp) return;
    ms->oldp = NULL;
    gcrt_g_t *g = ms->curg;
    uint32_t s = GCRT_P_SYSCALL;
    if (gcrt_cas(&pp->p->status, &s, GCRT_P_RUNNING)) {
        gcrt_store_relaxed(&pp->p->m, ms->m);
        ms->m->mcache = pp->p->mcache;
        gcrt_store_release(&g->status, GCRT_G_RUNNING);
        return;
    }
    /* sysmon gave the P away: take an idle one, or queue g and stop. */
    ms->pp = NULL;
    ms->m->p = NULL;
    ms->m->mcache = NULL;
    gcrt__lock(&gcrt__sched.lock);
    gcrt_psched_t *np = gcrt__pidleget();
    gcrt__unlock(&gcrt__sched.lock);
    if (np) {
        gcrt__acquirep(ms, np);
        gcrt_store_release(&g->status, GCRT_G_RUNNING);
        return;
    }
    gcrt__switch_out_blocked(g);
}
