/* sysmon.c - the system monitor (Go: sysmon, retake in proc.go). See
 * sched.c.
 *
 * A plain thread without a P that wakes every 20 us while there is work
 * to watch, backing off to 10 ms when nothing happens. Each round:
 *   - retake: a P whose M has sat in the same blocking call since the
 *     last round (syscalltick unchanged) is handed to another M if it has
 *     work or nobody else is looking for work, and in any case after
 *     10 ms (Go's rule);
 *   - preempt: a P that has run the same G (schedtick unchanged) for more
 *     than 10 ms gets the G flagged, and its M the stop signal with a
 *     preemption request (preempt.c), again every 1 ms while the G still
 *     runs there; the handler switches the G out at once if the
 *     interrupted instruction is async-safe (the main executable's own
 *     code, no runtime lock, not while the collector marks, ...), and
 *     otherwise the G yields at its next safepoint (gcrt_checkpoint, a
 *     channel operation, sleep, yield);
 *   - timers: if the earliest timer is due and a P is idle, start an M;
 *   - the GC CPU limiter's periodic update while a mark runs or it is on
 *     (gc.c; at most every 10 ms);
 *   - every 100 ms, stacks of dead goroutines beyond a cache of 1024 go
 *     back to the OS (gcrt__gfree_trim) once the cache has not changed for
 *     a period (while goroutines come and go they reuse them), and the stack statistics are
 *     published for MemStats (StackInuse, StackSys).
 * It sleeps at most until the earliest timer and is woken early when a
 * timer is armed earlier. It skips rounds while the world is stopped. */
#include <pthread.h>
#include <signal.h>

#include "gc.h"
#include "sched_internal.h"

enum {
    FORCE_PREEMPT_NS = 10 * 1000 * 1000,
    PREEMPT_RESEND_NS = 1000 * 1000, /* signal again if the G still runs */
    RETAKE_NS = 10 * 1000 * 1000,
    MIN_DELAY_NS = 20 * 1000,
    MAX_DELAY_NS = 10 * 1000 * 1000,
    TRIM_PERIOD_NS = 100 * 1000 * 1000, /* dead goroutines' stacks */
};

static uint32_t sysmon_word;
static uint32_t sysmon_sleeping; /* 1: asleep without a deadline */
static int64_t npreempt, nretake;

/* Work started somewhere: wake sysmon if it sleeps without a deadline. */
void gcrt__sysmon_kick(void) {
    if (GCRT_UNLIKELY(gcrt_load_relaxed(&sysmon_sleeping))) gcrt__sysmon_wake();
}

void gcrt__sysmon_wake(void) {
    gcrt_xadd(&sysmon_word, 1);
    gcrt__futex_wake(&sysmon_word, 1);
}

void gcrt__sysmon_stats(int64_t *preempts, int64_t *retakes) {
    *preempts = gcrt_load_relaxed(&npreempt);
    *retakes = gcrt_load_relaxed(&nretake);
}

static int retake(int64_t now) {
    int n = 0;
    int32_t nallps = gcrt_load_acquire(&gcrt__sched.nallps);
    for (int32_t i = 0; i < nallps; i++) {
        gcrt_psched_t *pp = gcrt__sched.ps[i];
        gcrt_p_t *p = pp->p;
        uint32_t s = gcrt_load_acquire(&p->status);
        if (s == GCRT_P_SYSCALL) {
            uint32_t t = gcrt_load_relaxed(&pp->syscalltick);
            if (pp->sm_syscalltick != t) {
                pp->sm_syscalltick = t;
                pp->sm_syscallwhen = now;
                continue;
            }
            if (gcrt__runqempty(pp) &&
                gcrt_load_relaxed(&gcrt__sched.nmspinning) +
                        gcrt_load_relaxed(&gcrt__sched.npidle) >
                    0 &&
                pp->sm_syscallwhen + RETAKE_NS > now)
                continue;
            uint32_t sc = GCRT_P_SYSCALL;
            if (gcrt_cas(&p->status, &sc, GCRT_P_IDLE)) {
                gcrt_xadd_relaxed(&nretake, 1);
                pp->sm_syscalltick++;
                gcrt__handoffp(pp);
                n++;
            }
        } else if (s == GCRT_P_RUNNING) {
            uint32_t t = gcrt_load_relaxed(&pp->schedtick);
            if (pp->sm_schedtick != t) {
                pp->sm_schedtick = t;
                pp->sm_schedwhen = now;
                continue;
            }
            if (pp->sm_schedwhen + FORCE_PREEMPT_NS > now) continue;
            gcrt_m_t *m = gcrt_load_relaxed(&p->m);
            gcrt_msched_t *ms = m ? gcrt_load_acquire((gcrt_msched_t **)&m->sched) : NULL;
            gcrt_g_t *g = ms ? gcrt_load_acquire(&ms->curg) : NULL;
            if (g && !g->is_thread && !gcrt_load_relaxed(&g->preempt)) {
                gcrt_store_relaxed(&g->preempt, 1);
                gcrt_xadd_relaxed(&npreempt, 1);
                n++;
                pp->sm_preemptwhen = now;
                gcrt__preempt_m(ms);
            } else if (g && !g->is_thread && now - pp->sm_preemptwhen >= PREEMPT_RESEND_NS) {
                /* Still running: the signal found no safe point (preempt.c). */
                pp->sm_preemptwhen = now;
                gcrt__preempt_m(ms);
            }
        }
    }
    return n;
}

static void *sysmon(void *arg) {
    (void)arg;
    gcrt__os_set_thread_name("gcrt-sysmon");
    /* sysmon never stops for a stop-the-world and never takes a signal
     * meant for Ms. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    int64_t delay = MIN_DELAY_NS;
    int idle = 0;
    int64_t last_trim = 0;
    int32_t last_nfree = 0;
    for (;;) {
        int64_t now = gcrt__nanotime();
        if (now - last_trim > TRIM_PERIOD_NS && !(gcrt_load_acquire(&gcrt__stw_word) & 1)) {
            last_trim = now;
            /* Only a cache that sat still for a period: while goroutines
             * come and go the dead ones' stacks are about to be reused. */
            int32_t nfree = gcrt_load_relaxed(&gcrt__sched.ngfree);
            if (nfree == last_nfree) gcrt__gfree_trim(4096);
            last_nfree = gcrt_load_relaxed(&gcrt__sched.ngfree);
            gcrt__stack_publish();
        }
        if (!(gcrt_load_acquire(&gcrt__stw_word) & 1)) {
            gcrt__gc_limiter_tick(); /* the GC CPU limiter: see gc.c */
            int did = retake(now);
            /* Work in the global queue while a P is idle and nobody looks
             * for work: a missed wakeup; start an M (cheap insurance). */
            if (gcrt_load_relaxed(&gcrt__sched.runqsize) > 0 &&
                gcrt_load_relaxed(&gcrt__sched.npidle) > 0 &&
                gcrt_load_relaxed(&gcrt__sched.nmspinning) == 0) {
                gcrt__wakep();
                did++;
            }
            if (gcrt__timers_next() <= now && gcrt_load_relaxed(&gcrt__sched.npidle) > 0) {
                gcrt__startm(NULL, 0);
                did++;
            }
            idle = did ? 0 : idle + 1;
        }
        if (idle == 0)
            delay = MIN_DELAY_NS;
        else if (idle > 50 && delay < MAX_DELAY_NS)
            delay *= 2;
        int64_t sleep = delay, next = gcrt__timers_next();
        if (next != INT64_MAX) {
            int64_t d = next - now;
            if (d <= 0) d = MIN_DELAY_NS; /* due: the Ps will run it */
            if (d < sleep) sleep = d;
        }
        /* Nothing runs and no timer is armed: sleep until woken. */
        int32_t busy =
            gcrt_load_relaxed(&gcrt__sched.nprocs) - gcrt_load_relaxed(&gcrt__sched.npidle);
        if (busy <= 0 && next == INT64_MAX && gcrt_load_relaxed(&gcrt__sched.runqsize) == 0)
            sleep = -1;
        if (sleep < 0 && gcrt_load_relaxed(&gcrt__sched.ngfree) > 1024) sleep = TRIM_PERIOD_NS;
        uint32_t w = gcrt_load_acquire(&sysmon_word);
        if (sleep < 0) {
            gcrt__stack_publish(); /* final numbers before a long sleep */
            gcrt_store_relaxed(&sysmon_sleeping, 1);
            gcrt__fence();
            /* recheck after publishing the flag: a kick may have missed it */
            busy = gcrt_load_relaxed(&gcrt__sched.nprocs) - gcrt_load_relaxed(&gcrt__sched.npidle);
            if (busy <= 0 && gcrt__timers_next() == INT64_MAX &&
                gcrt_load_relaxed(&gcrt__sched.ngfree) <= 1024 &&
                gcrt_load_relaxed(&gcrt__sched.runqsize) == 0)
                gcrt__futex_wait(&sysmon_word, w, -1);
            gcrt_store_relaxed(&sysmon_sleeping, 0);
            idle = 0;
            continue;
        }
        gcrt__futex_wait(&sysmon_word, w, sleep);
    }
    return NULL;
}

void gcrt__sysmon_start(void) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    if (pthread_create(&t, &attr, sysmon, NULL) != 0) gcrt__throw("runtime: cannot start sysmon");
    pthread_attr_destroy(&attr);
}
