/* stw.c - stop-the-world and start-the-world for the GC, safepoints, and
 * the stop signal. See sched.c for the walk-through.
 *
 * gcrt__stw_word is odd while a stop is on (it counts stops twice). The
 * stopper makes it odd, then waits until every other attached M (runtime
 * Ms and foreign threads, from allm) is stopped:
 *   - an M that reaches a safepoint (the schedule loop, park, yield,
 *     gcrt__safepoint from the allocator's slow path) spills its
 *     registers, records its sp and sets itself STOPPED;
 *   - an M in a blocking call or idle (state BLOCK) is claimed by the
 *     stopper (BLOCK -> BLOCK_STOPPED) and cannot leave until the start;
 *   - an M still running after STW_SIGNAL_AFTER_NS gets SIGURG (Go's
 *     preemption signal); the handler, on the M's signal stack, saves the
 *     ucontext pointer (all registers) and waits on the futex. The signal
 *     is refused while ms->locks > 0 (a context switch in progress) and
 *     resent until the M stops.
 * Every stopped M waits on gcrt__stw_word until it is even again. Each
 * stopped M's stack is then [stop_sp, top of the stack it is on) plus its
 * registers (stop_uctx, or block_regs for BLOCK): see gcrt__stw_for_each_stack. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "gc.h"
#include "godebug.h"
#include "mcache.h"
#include "sched_internal.h"

#define STW_SIGNAL SIGURG
enum {
    STW_SIGNAL_AFTER_NS = 5 * 1000, /* wait this long before signalling */
    /* Resend to an M whose handler ran and refused (an unsafe point, a
     * no-stop region, another handler's stack) this long after the last
     * send; to one whose handler has not run yet only after
     * STW_RESIGNAL_LOST_NS. A second SIGURG sent while one is pending
     * merges with it: it only costs the stopper a system call (20-50 us on
     * a virtual machine) and the M an interrupt. */
    STW_RESIGNAL_NS = 10 * 1000,
    STW_RESIGNAL_LOST_NS = 1000 * 1000,
    /* Between the spin and the sleep, yield the CPU this long: a pure spin
     * keeps the CPU from an M we wait for when they share it, and a futex
     * sleep lets this CPU go idle, which on a virtual machine costs 25-80
     * us more when the last M reports (the idle vCPU's wake-up), while the
     * signal alone takes 40-90 us from tgkill to the handler there
     * (binary-trees: stops of 80-180 us with 50 us of yielding, 40-75 us
     * with 100). Not longer: with more runnable threads than CPUs the
     * scheduler may keep running a thread that yields and not the one it
     * waits for (binary-trees with 2 threads: stops of 0.9-11 ms with 1 ms
     * of yielding, 3 runs in 13). */
    STW_YIELD_NS = 100 * 1000,
};

uint32_t gcrt__stw_word;
static uint32_t stw_progress; /* bumped by every M that stops: the stopper sleeps on it */
static gcrt_lock_t stw_lock = GCRT_LOCK_INIT(GCRT_RANK_NONE);
static int64_t stw_count, stw_last_ns, stw_max_ns, stw_total_ns, stw_signals;
static int64_t stw_claimed; /* stopped threads a later stop claimed before they ran (is_stopped) */
/* The last stop in detail (GODEBUG=gcpausetrace): signals sent, refused
 * (unsafe point, no-stop region), Ms stopped by the signal, rounds. */
static struct gcrt_stw_detail stw_detail;
static int64_t stw_t0; /* the current stop's start, for the handler's figure */
static struct sigaction old_urg;
/* The M stopping the world: it must not stop itself if it allocates (its
 * mcache has GCRT_HOOK_STOP too). */
static gcrt_msched_t *stw_owner;

/* ---- an M's own transitions ----------------------------------------------- */

void gcrt__ms_block(gcrt_msched_t *ms) {
    gcrt_store_release(&ms->stwstate, GCRT_MS_BLOCK);
}

void gcrt__ms_unblock(gcrt_msched_t *ms) {
    for (;;) {
        uint32_t s = GCRT_MS_BLOCK;
        if (gcrt_cas(&ms->stwstate, &s, GCRT_MS_RUN)) return;
        /* Claimed by a stopper: wait for the start. */
        uint32_t w = gcrt_load_acquire(&gcrt__stw_word);
        if (w & 1) gcrt__futex_wait(&gcrt__stw_word, w, -1);
    }
}

/* Waits, stopped, until the world starts again. Called with state STOPPED. */
static void stopped_wait(gcrt_msched_t *ms) {
    gcrt_xadd(&stw_progress, 1);
    gcrt__futex_wake(&stw_progress, 1);
    for (;;) {
        /* The state before the word: a new stop sets the word odd before it
         * claims this thread (is_stopped), so a claim that comes before
         * this load shows in the word below, and one that comes after it
         * fails the CAS. (Loaded the other way round, the claim could fall
         * between the two loads: the CAS then succeeded with the claimed
         * state and the thread ran during the new stop; test_stw saw a
         * counter move, once the restart's wake-up came after its unlock.) */
        uint32_t s = gcrt_load_acquire(&ms->stwstate);
        uint32_t w = gcrt_load_acquire(&gcrt__stw_word);
        if (!(w & 1)) {
            /* The world runs: leave, unless a new stop claimed this thread
             * since (the claim changed the state): look again. */
            if (gcrt_cas(&ms->stwstate, &s, GCRT_MS_RUN)) break;
            continue;
        }
        if (gcrt_load_relaxed(&ms->stopped_gen) != w) gcrt_store_release(&ms->stopped_gen, w);
        gcrt__futex_wait(&gcrt__stw_word, w, -1);
    }
}

GCRT_NOINLINE void gcrt__safepoint_slow(void) {
    if (!gcrt__tls_m) return;
    uint32_t w = gcrt_load_acquire(&gcrt__stw_word);
    if (!(w & 1)) return;
    /* Never stop holding a runtime lock (e.g. a channel lock a parked G's
     * unlockf has not released yet): threads waiting for the lock cannot
     * stop either. It stops when it leaves the region (lock.h). */
    if (gcrt__tls_nostop > 0) {
        gcrt__tls_stop_pending = 1;
        return;
    }
    gcrt_msched_t *ms = gcrt__getms();
    if (ms == gcrt_load_relaxed(&stw_owner)) return;
    /* Blocked (and maybe claimed by the stopper, which may be reading the
     * state saved when it blocked): it already counts as stopped. */
    if (gcrt_load_acquire(&ms->stwstate) != GCRT_MS_RUN) return;
    __builtin_unwind_init(); /* callee-saved registers into this frame */
    uintptr_t here;
    ms->stop_sp = (uintptr_t)&here & ~(uintptr_t)15;
    ms->stop_uctx = NULL;
    ms->stop_fp = (uintptr_t)__builtin_frame_address(0);
    gcrt_store_release(&ms->stopped_gen, w);
    uint32_t s = GCRT_MS_RUN;
    if (!gcrt_cas(&ms->stwstate, &s, GCRT_MS_STOPPED)) return;
    stopped_wait(ms);
}

bool gcrt__can_wait_stopped(void) {
    gcrt_msched_t *ms = gcrt__tls_m ? gcrt__getms() : NULL;
    return ms && gcrt__tls_nostop == 0 && gcrt_load_relaxed(&ms->locks) == 0;
}

GCRT_NOINLINE void gcrt__futex_wait_stoppable(uint32_t *word, uint32_t val, int64_t ns) {
    gcrt_msched_t *ms = gcrt__tls_m ? gcrt__getms() : NULL;
    if (!ms || gcrt__tls_nostop > 0 || ms->blockdepth > 0 ||
        gcrt_load_relaxed(&ms->stwstate) != GCRT_MS_RUN) {
        gcrt__futex_wait(word, val, ns);
        return;
    }
    /* As a blocking call leaves it: callee-saved registers in this frame
     * (block_regs cleared: nothing stale is scanned), the stack from here. */
    __builtin_unwind_init();
    uintptr_t here;
    memset(ms->block_regs, 0, sizeof ms->block_regs);
    ms->stop_sp = (uintptr_t)&here & ~(uintptr_t)15;
    ms->stop_fp = (uintptr_t)__builtin_frame_address(0);
    gcrt__ms_block(ms);
    gcrt__futex_wait(word, val, ns);
    gcrt__ms_unblock(ms); /* claimed by a stopper: waits for the start */
    gcrt_keep_alive(&here);
}

/* A stop was requested while the thread was in a no-stop region (lock.h):
 * stop now, unless a scheduler critical section is still open (then the
 * stopper's next signal finds it outside). */
void gcrt__stw_pending_check(void) {
    gcrt_m_t *m = gcrt__tls_m;
    gcrt_msched_t *ms = m ? gcrt_load_acquire((gcrt_msched_t **)&m->sched) : NULL;
    if (ms && ms->locks == 0) gcrt__safepoint_slow();
}

void gcrt_checkpoint(void) {
    if (GCRT_UNLIKELY(gcrt_load_relaxed(&gcrt__stw_word) & 1)) gcrt__safepoint_slow();
    gcrt__gc_markterm_poll();
    gcrt_g_t *g = gcrt__getg();
    if (GCRT_UNLIKELY(g && gcrt_load_relaxed(&g->preempt))) gcrt__preempt_self();
}

/* ---- the stop signal ---------------------------------------------------------- */

extern const char __start_gcrt_nopreempt_text[] __attribute__((visibility("hidden")));
extern const char __stop_gcrt_nopreempt_text[] __attribute__((visibility("hidden")));

/* (World stopped.) The top of the stack sp is on: the current G's, the thread's own, or
 * (curg not yet the G whose stack sp is on) a goroutine's; 0 if none, e.g.
 * an alternate signal stack. */
static uintptr_t stack_hi_of(gcrt_m_t *m, gcrt_msched_t *ms, uintptr_t sp) {
    gcrt_g_t *g = gcrt_load_acquire(&ms->curg);
    if (g && sp >= g->stack_lo && sp < g->stack_hi) return g->stack_hi;
    if (sp >= m->stack_lo && sp < m->stack_hi) return m->stack_hi;
    for (gcrt_g_t *x = gcrt_load_acquire(&gcrt__allg); x; x = x->alllink)
        if (x->stk && sp >= x->stack_lo && sp < x->stack_hi) return x->stack_hi;
    return 0;
}

/* Whether sp is on this thread's alternate signal stack (async-signal
 * safe). */
static int on_sigaltstack(uintptr_t sp) {
    stack_t ss;
    if (sigaltstack(NULL, &ss) != 0 || (ss.ss_flags & SS_DISABLE)) return 0;
    return sp >= (uintptr_t)ss.ss_sp && sp < (uintptr_t)ss.ss_sp + ss.ss_size;
}

/* The interrupted code may not stop here (runtime.h: GCRT_NOPREEMPT). */
static int unsafe_point(const void *uctx) {
    uintptr_t pc = (uintptr_t)((const ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP];
    return pc - (uintptr_t)__start_gcrt_nopreempt_text <
           (uintptr_t)(__stop_gcrt_nopreempt_text - __start_gcrt_nopreempt_text);
}

static void urg_handler(int sig, siginfo_t *info, void *uctx) {
    int saved_errno = errno;
    int64_t entered = gcrt__debug.gcpausetrace ? gcrt__nanotime() : 0;
    gcrt_m_t *m = gcrt__tls_m;
    gcrt_msched_t *ms = m ? gcrt_load_acquire((gcrt_msched_t **)&m->sched) : NULL;
    uint32_t w = gcrt_load_acquire(&gcrt__stw_word);
    if (ms)
        gcrt_store_relaxed(&ms->signal_pc,
                           (uintptr_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP]);
    /* sysmon's asynchronous preemption request (preempt.c), handled after
     * a stop, if both came: then the goroutine resumes into the stub. */
    int preempt = ms && gcrt_load_relaxed(&ms->preempt_req);
    if (ms && (w & 1))
        gcrt_store_relaxed(&stw_detail.signal_pc,
                           (uintptr_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP]);
    if (ms && (w & 1) && gcrt__tls_nostop > 0) {
        /* In a runtime lock or an allocator region: it stops itself when it
         * leaves (gcrt__nostop_exit). */
        gcrt__tls_stop_pending = 1;
        gcrt_xadd_relaxed(&stw_detail.refused_nostop, 1);
    } else if (ms && (w & 1) && gcrt_load_acquire(&ms->stwstate) != GCRT_MS_RUN) {
        /* Already stopped (a safepoint, or blocked): a resent signal must
         * not touch the saved state the stopper is reading. */
    } else if (ms && (w & 1) &&
               on_sigaltstack((uintptr_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RSP])) {
        /* In a handler of the program's on an alternate signal stack
         * (SA_ONSTACK): the stack the interrupted code keeps its pointers
         * on is not where sp is, and a stop here would have the GC scan
         * none of it. The stopper signals again; the thread stops once
         * the handler has returned. (Asked of the kernel: the goroutines'
         * stack bounds, which the scan's lookup reads with the world
         * stopped, change under a handler.) */
        gcrt_xadd_relaxed(&stw_detail.refused_unsafe, 1);
    } else if (ms && (w & 1) && unsafe_point(uctx)) {
        /* In the allocator between taking a slot and handing it out: the
         * stopper signals again; an allocating thread also stops at its
         * next refill (a safepoint). */
        gcrt_xadd_relaxed(&stw_detail.refused_unsafe, 1);
    } else if (ms && (w & 1) && ms->locks == 0) {
        ucontext_t *uc = uctx;
        memcpy(ms->sig_regs, &uc->uc_mcontext, sizeof(mcontext_t));
        if (uc->uc_mcontext.fpregs)
            memcpy((char *)ms->sig_regs + sizeof(mcontext_t), uc->uc_mcontext.fpregs->_xmm, 256);
        else
            memset((char *)ms->sig_regs + sizeof(mcontext_t), 0, 256);
        ms->stop_uctx = uctx;
        /* The interrupted sp; gcrt__stw_for_each_stack adds the red zone. */
        ms->stop_sp = (uintptr_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RSP];
        ms->stop_fp = (uintptr_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RBP];
        gcrt_store_release(&ms->stopped_gen, w);
        uint32_t s = GCRT_MS_RUN;
        if (gcrt_cas(&ms->stwstate, &s, GCRT_MS_STOPPED)) {
            if (entered)
                gcrt_store_relaxed(&stw_detail.handler_ns, entered - gcrt_load_relaxed(&stw_t0));
            gcrt_xadd_relaxed(&stw_signals, 1);
            gcrt_xadd_relaxed(&stw_detail.by_signal, 1);
            stopped_wait(ms);
        }
        ms->stop_uctx = NULL;
    } else if (!preempt && (!(w & 1) || !ms)) {
        /* Not ours: the application's SIGURG (e.g. socket OOB data). SIG_DFL
         * and SIG_IGN (both ignore SIGURG) whatever the flags: sa_handler
         * and sa_sigaction share storage, and SA_SIGINFO may be left over. */
        if (old_urg.sa_handler != SIG_DFL && old_urg.sa_handler != SIG_IGN) {
            if (old_urg.sa_flags & SA_SIGINFO)
                old_urg.sa_sigaction(sig, info, uctx);
            else
                old_urg.sa_handler(sig);
        }
    }
    /* Counted at the end: a run that stopped the M is over by now, one
     * that refused it lets the stopper send the next signal. */
    if (ms) gcrt_xadd(&ms->sig_runs, 1);
    if (preempt) gcrt__async_preempt_signal(ms, uctx);
    errno = saved_errno;
}

void gcrt__stw_signal_init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = urg_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(STW_SIGNAL, &sa, &old_urg);
}

/* ---- stop and start ------------------------------------------------------------- */

static int is_stopped(gcrt_msched_t *ms, uint32_t w) {
    uint32_t s = gcrt_load_acquire(&ms->stwstate);
    if (s == GCRT_MS_BLOCK_STOPPED) return 1;
    if (GCRT_MS_KIND(s) == GCRT_MS_STOPPED) {
        if (gcrt_load_acquire(&ms->stopped_gen) == w) return 1;
        /* Stopped by an earlier stop and not running again yet (the kernel
         * has not scheduled it since that stop ended; with back-to-back
         * stops and more runnable threads than CPUs that takes a time
         * slice): it has run none of its code since, so it is stopped for
         * this one too, with the same saved state. Claiming it changes its
         * state word: if it was about to leave stopped_wait, its CAS fails
         * and it sees this stop. */
        if (!gcrt_cas(&ms->stwstate, &s, s + GCRT_MS_CLAIM_ONE)) return 0;
        gcrt_store_release(&ms->stopped_gen, w);
        gcrt_xadd_relaxed(&stw_claimed, 1);
        return 1;
    }
    if (s == GCRT_MS_BLOCK) {
        uint32_t b = GCRT_MS_BLOCK;
        return gcrt_cas(&ms->stwstate, &b, GCRT_MS_BLOCK_STOPPED);
    }
    return 0;
}

int64_t gcrt__stop_the_world(const char *reason) {
    gcrt_msched_t *self = gcrt__getms();
    /* Waiting for another stopper counts as blocked: it must not wait for
     * us. A caller inside gcrt_enter_blocking (a fork between the brackets:
     * fork.c) is blocked already and stays so: its gcrt_exit_blocking
     * expects that state. */
    int was_running = self && GCRT_MS_KIND(gcrt_load_acquire(&self->stwstate)) == GCRT_MS_RUN;
    if (was_running) {
        __builtin_unwind_init(); /* our frames stay put while we wait */
        self->stop_sp = (uintptr_t)__builtin_frame_address(0) - 128;
        self->stop_fp = (uintptr_t)__builtin_frame_address(0);
        gcrt__ms_block(self);
    }
    gcrt__lock(&stw_lock);
    if (was_running) gcrt__ms_unblock(self);
    int64_t t0 = gcrt__nanotime();
    uint32_t w = gcrt_load_relaxed(&gcrt__stw_word) + 1;
    gcrt_store_relaxed(&stw_owner, self);
    /* Allocating threads stop at their next allocation: the hooks first,
     * so that an allocation that begins after a thread saw the stop
     * pending goes through the hook (a hook with no stop pending costs a
     * slow path, nothing more). The last stop's detail is cleared before
     * the handlers can count. */
    memset(&stw_detail, 0, sizeof stw_detail);
    gcrt_store_relaxed(&stw_t0, t0);
    gcrt__mcache_set_stop_hook(1);
    gcrt_store_release(&gcrt__stw_word, w); /* odd: stop pending */
    gcrt__fence();
    /* Every round looks at all Ms; once the spin bound is over, every M
     * still running gets the signal at once (not one after another), and
     * again after its handler refused (STW_RESIGNAL_NS) or was not seen
     * to run (STW_RESIGNAL_LOST_NS). The loop ends after a round that found
     * every M stopped; a second such round catches Ms that attached
     * meanwhile (they check the word at their first safepoint). */
    int64_t next_signal = t0 + STW_SIGNAL_AFTER_NS;
    int64_t warn_at = t0 + 1000 * 1000 * 1000;
    int64_t yield_until = t0 + STW_YIELD_NS;
    int clean_rounds = 0;
    int64_t lost_at = t0 + STW_SIGNAL_AFTER_NS + STW_RESIGNAL_LOST_NS;
    int pid = 0; /* getpid is a system call: made only if a signal is sent */
    for (int spins = 0; clean_rounds < 2; spins++) {
        int64_t now = gcrt__nanotime();
        int signal_now = now >= next_signal, pending = 0;
        for (gcrt_m_t *m = gcrt_load_acquire(&gcrt__allm); m; m = m->alllink) {
            gcrt_msched_t *ms = gcrt__msched_of(m);
            if (ms == self || gcrt_load_acquire(&m->tid) == 0 || is_stopped(ms, w)) continue;
            pending++;
            if (signal_now && gcrt_load_acquire(&ms->stwstate) == GCRT_MS_RUN) {
                /* Not again while the last one is still pending. */
                uint32_t runs = gcrt_load_acquire(&ms->sig_runs);
                if (ms->sig_sent_word != w || runs != ms->sig_runs_at_send || now >= lost_at) {
                    int tid = gcrt_load_acquire(&m->tid);
                    ms->sig_runs_at_send = runs;
                    ms->sig_sent_word = w;
                    if (tid && !pid) pid = getpid();
                    if (tid) syscall(SYS_tgkill, pid, tid, STW_SIGNAL);
                    if (!stw_detail.sent) stw_detail.first_signal_ns = now - t0;
                    stw_detail.sent++;
                }
            }
        }
        if (signal_now) {
            if (now >= lost_at) lost_at = now + STW_RESIGNAL_LOST_NS;
            next_signal = now + STW_RESIGNAL_NS;
        }
        if (now >= warn_at && pending) {
            /* Say why we hang: a thread that blocks SIGURG in a loop
             * without safepoints can never be stopped. */
            for (gcrt_m_t *m = gcrt_load_acquire(&gcrt__allm); m; m = m->alllink) {
                gcrt_msched_t *ms = gcrt__msched_of(m);
                if (ms != self && gcrt_load_acquire(&m->tid) != 0 && !is_stopped(ms, w))
                    gcrt__printf(
                        "runtime: stop-the-world (%s) still waiting after %lld ms for "
                        "thread %d (SIGURG blocked? no safepoint? last signal at pc "
                        "%p; %s; state %u, stopped %u of %u, locks %d)\n",
                        reason ? reason : "", (long long)((now - t0) / 1000000),
                        gcrt_load_relaxed(&m->tid), (void *)gcrt_load_relaxed(&ms->signal_pc),
                        gcrt__os_thread_running(gcrt_load_relaxed(&m->tid)) == 1 ? "runnable"
                                                                                 : "sleeping",
                        (unsigned)gcrt_load_relaxed(&ms->stwstate),
                        (unsigned)gcrt_load_relaxed(&ms->stopped_gen), (unsigned)w,
                        (int)gcrt_load_relaxed(&ms->locks));
            }
            warn_at = now + 10LL * 1000 * 1000 * 1000;
        }
        if (pending == 0) {
            clean_rounds++;
            continue;
        }
        clean_rounds = 0;
        stw_detail.rounds++;
        /* Spin briefly, then yield, then sleep until an M reports (or 20
         * us): the Ms we wait for may need this CPU to run their signal
         * handler. */
        uint32_t seen = gcrt_load_acquire(&stw_progress);
        if (spins >= 64 && stw_detail.sent == 0 && next_signal > now) {
            /* About to give up the CPU with threads still running: signal
             * them first. With more runnable threads than CPUs the yield
             * may not come back for a time slice (a 2.8 ms stop, first
             * signal at 2755 us, binary-trees with 2 threads). */
            next_signal = now;
            continue;
        }
        if (spins < 64)
            gcrt_cpu_relax();
        else if (now < yield_until)
            gcrt__os_yield();
        else
            gcrt__futex_wait(&stw_progress, seen, 20000);
    }
    int64_t dt = gcrt__nanotime() - t0;
    stw_count++;
    stw_last_ns = dt;
    stw_total_ns += dt;
    if (dt > stw_max_ns) stw_max_ns = dt;
    return dt;
}

void gcrt__stw_publish_tid(int *tid, int value) {
    gcrt__lock(&stw_lock);
    gcrt_store_release(tid, value);
    gcrt__unlock(&stw_lock);
}

int64_t gcrt__start_the_world(void) {
    gcrt__mcache_set_stop_hook(0);
    gcrt_store_relaxed(&stw_owner, (gcrt_msched_t *)NULL);
    for (gcrt_m_t *m = gcrt_load_acquire(&gcrt__allm); m; m = m->alllink) {
        gcrt_msched_t *ms = gcrt_load_acquire((gcrt_msched_t **)&m->sched);
        if (!ms) continue;
        uint32_t s = GCRT_MS_BLOCK_STOPPED;
        gcrt_cas(&ms->stwstate, &s, GCRT_MS_BLOCK);
    }
    gcrt_store_release(&gcrt__stw_word, gcrt__stw_word + 1); /* even */
    /* The lock goes before the wake-up: a woken thread may preempt us on
     * this CPU (the kernel favours a waking sleeper), and the next stop
     * must not wait for us to run again to take the lock (allocbench with
     * 2 threads: the next stop's thread blocked 4 ms on the lock while the
     * CPU it could have had stayed idle). A sleeper still asleep when a new
     * stop begins is claimed by it (is_stopped) or sees the word odd. */
    gcrt__unlock(&stw_lock);
    int64_t running = gcrt__debug.gcpausetrace ? gcrt__nanotime() : 0;
    gcrt__futex_wake(&gcrt__stw_word, INT32_MAX);
    return running;
}

/* World stopped, m not the caller: whether m was stopped by the stop
 * signal in the program's own code. Then no allocation of its is in
 * flight: the allocator and its callees are the runtime's code (or libc's,
 * memset), it never calls the program's, the fast path (gcrt_alloc...) is
 * in gcrt_nopreempt_text, where the signal is refused, and a no-stop region
 * refuses it too. Not when the program's code runs inside a signal handler
 * of the program's on the interrupted stack (the handler may have
 * interrupted an allocation): a kernel signal frame above sp, the test
 * asynchronous preemption makes (preempt.c); a handler on an alternate
 * stack is refused by the stop signal itself. Conservative: anything else
 * (stopped at a safepoint, in libc or the runtime, in a blocking call, a
 * statically linked program, a TSan build) says no. Reads the stopped thread's saved
 * context and stack, which stay put until the world starts. */
int gcrt__stw_stopped_in_program(gcrt_m_t *m) {
    gcrt_msched_t *ms = m ? gcrt_load_acquire((gcrt_msched_t **)&m->sched) : NULL;
    if (!ms || GCRT_MS_KIND(gcrt_load_acquire(&ms->stwstate)) != GCRT_MS_STOPPED) return 0;
    const ucontext_t *uc = ms->stop_uctx;
    if (!uc || ms->locks > 0 || ms->blockdepth > 0) return 0;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (!gcrt__pc_in_program(pc)) return 0;
    uintptr_t hi = stack_hi_of(m, ms, sp);
    if (!hi) return 0;
    return !gcrt__signal_frame_above(sp, hi, uc);
}

void gcrt__stw_lock_take(void) {
    gcrt__lock(&stw_lock);
}

void gcrt__stw_lock_release(void) {
    gcrt__unlock(&stw_lock);
}

int gcrt__stw_lock_held(void) {
    return gcrt_load_acquire(&stw_lock.key) != 0;
}

int64_t gcrt__stw_claimed(void) {
    return gcrt_load_relaxed(&stw_claimed);
}

void gcrt__wait_world_running(void) {
    uint32_t w;
    while ((w = gcrt_load_acquire(&gcrt__stw_word)) & 1) gcrt__futex_wait(&gcrt__stw_word, w, -1);
}

void gcrt__stw_last_detail(struct gcrt_stw_detail *d) {
    d->sent = stw_detail.sent;
    d->rounds = stw_detail.rounds;
    d->first_signal_ns = stw_detail.first_signal_ns;
    d->by_signal = gcrt_load_relaxed(&stw_detail.by_signal);
    d->refused_nostop = gcrt_load_relaxed(&stw_detail.refused_nostop);
    d->refused_unsafe = gcrt_load_relaxed(&stw_detail.refused_unsafe);
    d->signal_pc = gcrt_load_relaxed(&stw_detail.signal_pc);
    d->handler_ns = gcrt_load_relaxed(&stw_detail.handler_ns);
}

void gcrt__stw_stats(int64_t *count, int64_t *last, int64_t *max, int64_t *total,
                     int64_t *signals) {
    *count = gcrt_load_relaxed(&stw_count);
    *last = gcrt_load_relaxed(&stw_last_ns);
    *max = gcrt_load_relaxed(&stw_max_ns);
    *total = gcrt_load_relaxed(&stw_total_ns);
    *signals = gcrt_load_relaxed(&stw_signals);
}

/* ---- what the GC scans while the world is stopped -------------------------------- */

/* Calls f for every stack range to scan conservatively, with the saved
 * registers that go with it (or NULL): the stopped Ms' current stacks, and
 * every parked or runnable goroutine's [sched_sp, stack_hi) (the argument
 * of one that has not started). Only while
 * the world is stopped. */
/* The stopped threads' stacks and registers (all of them, or only those
 * stopped by the signal). */
static void for_each_m_stack(void (*f)(uintptr_t lo, uintptr_t hi, const void *regs,
                                       size_t regs_len, void *arg),
                             void *arg, int signal_only) {
    gcrt_msched_t *self = gcrt__getms();
    for (gcrt_m_t *m = gcrt_load_acquire(&gcrt__allm); m; m = m->alllink) {
        gcrt_msched_t *ms = gcrt_load_acquire((gcrt_msched_t **)&m->sched);
        if (!ms || ms == self || gcrt_load_acquire(&m->tid) == 0) continue;
        if (signal_only && !ms->stop_uctx) continue;
        uintptr_t sp = ms->stop_sp, hi = stack_hi_of(m, ms, sp);
        const void *regs = NULL;
        size_t len = 0;
        if (ms->stop_uctx) {
            /* The general and SSE registers (C compilers move pointers
             * through SSE ones: two adjacent pointer stores become one
             * 16-byte store), copied by the signal handler. */
            regs = ms->sig_regs;
            len = sizeof ms->sig_regs;
            /* Stopped by the signal anywhere: a leaf function may keep
             * values in the 128-byte red zone below its stack pointer. */
            sp -= 128;
        } else if (gcrt_load_relaxed(&ms->stwstate) == GCRT_MS_BLOCK_STOPPED) {
            regs = ms->block_regs;
            len = sizeof ms->block_regs;
        }
        if (sp && sp < hi) f(sp, hi, regs, len, arg);
    }
}

void gcrt__stw_for_each_signal_stopped(void (*f)(uintptr_t lo, uintptr_t hi, const void *regs,
                                                 size_t regs_len, void *arg),
                                       void *arg) {
    for_each_m_stack(f, arg, 1);
}

void gcrt__stw_for_each_stack(void (*f)(uintptr_t lo, uintptr_t hi, const void *regs,
                                        size_t regs_len, void *arg),
                              void *arg) {
    for_each_m_stack(f, arg, 0);
    for (gcrt_g_t *g = gcrt_load_acquire(&gcrt__allg); g; g = g->alllink) {
        uint32_t s = gcrt_load_acquire(&g->status);
        if (g->is_thread) continue;
        /* Status first: sysmon (not stopped with the world) frees the
         * stacks of dead Gs meanwhile (gcrt__gfree_trim). */
        if (s != GCRT_G_WAITING && s != GCRT_G_RUNNABLE) continue;
        if (!g->stk) continue;
        if (g->sched_sp)
            f(g->sched_sp, g->stack_hi, NULL, 0, arg);
        else /* not started: its argument is all it holds (sched.c newproc) */
            f((uintptr_t)&g->arg, (uintptr_t)(&g->arg + 1), NULL, 0, arg);
    }
}
