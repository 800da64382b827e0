/* sched_internal.h - the scheduler's private M and P parts and the files
 * that share them: sched.c (schedule, park/ready, goroutines), runq.c (run
 * queues, idle Ps), mthread.c (Ms: threads, idle Ms, spinning), stack.c,
 * time.c (sleep, timers), sysmon.c, stw.c (stop-the-world), gstate.c (the
 * goroutine listing). See sched.c for the walk-through. */
#ifndef GCRT_SCHED_INTERNAL_H
#define GCRT_SCHED_INTERNAL_H

#include <ucontext.h>

#include "gcrt_sched.h"
#include "os.h"
#include "sched.h"

enum { GCRT_RUNQ_SIZE = 256 }; /* Go: len(p.runq) */

/* What a goroutine asks g0 to do after it switched out (msched.action). */
enum {
    GCRT_ACT_NONE = 0,
    GCRT_ACT_PARK,    /* status -> WAITING, then unlockf */
    GCRT_ACT_GOSCHED, /* status -> RUNNABLE, global run queue */
    GCRT_ACT_PREEMPT, /* same, asked by sysmon */
    GCRT_ACT_EXIT,    /* status -> DEAD, stack and G to the caches */
    GCRT_ACT_BLOCKED, /* lost its P in a blocking call: global queue */
};

/* An M's state for stop-the-world (msched.stwstate; atomic).
 *   RUN           running code that may touch the heap
 *   BLOCK         in a blocking call or idle: touches no heap until it
 *                 leaves (gcrt_exit_blocking, or an idle M waking)
 *   STOPPED       stopped for a stop-the-world (safepoint or signal);
 *                 registers saved; set by the M itself
 *   BLOCK_STOPPED was BLOCK when the stopper claimed it; it cannot leave
 *                 until the world starts again
 * RUN -> STOPPED by the M; BLOCK -> BLOCK_STOPPED by the stopper;
 * BLOCK_STOPPED -> BLOCK by start-the-world. */
enum { GCRT_MS_RUN = 0, GCRT_MS_BLOCK, GCRT_MS_STOPPED, GCRT_MS_BLOCK_STOPPED };
/* stwstate's low byte is one of the above; a STOPPED thread's upper bits
 * count the later stops that claimed it before it ran again (stw.c:
 * is_stopped), so that its own exit CAS fails after a claim. */
#define GCRT_MS_KIND(s)   ((s)&0xffu)
#define GCRT_MS_CLAIM_ONE 0x100u

struct gcrt_psched;

/* The scheduler's per-M part (m->sched). Touched by its own thread unless
 * noted. */
typedef struct gcrt_msched {
    gcrt_m_t *m;
    gcrt_g_t *g0;           /* the thread's own G: a plain thread, or the scheduler
                               stack of a runtime M (is_thread = 1) */
    gcrt_g_t *curg;         /* what runs now: a goroutine, or g0 */
    int runtime;            /* 1: created by the scheduler, runs goroutines */
    struct gcrt_psched *pp; /* the scheduler P held (m->p->sched), or NULL */
    uintptr_t g0_sp;        /* g0's saved sp while a goroutine runs */
    /* Left by a goroutine for g0 (GCRT_ACT_*). */
    int action;
    int (*unlockf)(gcrt_g_t *, void *);
    void *unlockarg;
    /* Idle: sleeps on parkword; a waker sets nextp and wakes it. */
    uint32_t parkword;
    int spinning;              /* looking for work (sched.nmspinning) */
    struct gcrt_psched *nextp; /* P handed over by startm */
    struct gcrt_msched *idlelink;
    struct gcrt_psched *oldp; /* P held before a blocking call */
    /* Stop-the-world (stw.c). */
    uint32_t stwstate;         /* GCRT_MS_*; atomic */
    uint32_t stopped_gen;      /* gcrt__stw_word of the stop it is STOPPED for */
    int32_t locks;             /* >0: in a scheduler critical section, a stop
                                  signal is refused (retried); own thread only */
    uintptr_t stop_sp;         /* sp when stopped or when it entered BLOCK */
    void *stop_uctx;           /* ucontext_t * if stopped by the signal */
    uintptr_t signal_pc;       /* where the last stop signal found it (diagnostics) */
    uint32_t sig_runs;         /* runs of the stop signal's handler; atomic */
    uint32_t sig_runs_at_send; /* sig_runs when the stopper last signalled it, */
    uint32_t sig_sent_word;    /* in the stop of this gcrt__stw_word (stopper
                                  only, under its lock) */
    /* Registers of a thread stopped by the signal: the general ones and
     * the SSE ones (C compilers move pointers through them). */
    uintptr_t sig_regs[(sizeof(mcontext_t) + 256) / sizeof(uintptr_t)];
    uintptr_t stop_fp;       /* frame pointer there (stack listings) */
    uintptr_t block_regs[6]; /* callee-saved registers at gcrt_enter_blocking:
                                the caller may keep pointers there */
    int64_t blocksince;      /* nanotime of gcrt_enter_blocking */
    int blockdepth;          /* nesting of gcrt_enter_blocking */
    int foreign_blocked;     /* an attached thread's P left gcrt__foreign_running */
    void *altstack;          /* signal stack (runtime Ms) */
    void *tsan_fiber;        /* g0's TSan fiber */
    void *asan_fake;         /* ASan fake stack saved across a switch */
    /* Asynchronous preemption (preempt.c). */
    uint32_t preempt_req; /* 1: sysmon sent the signal to preempt curg; atomic,
                             the handler takes it (exchange) */
    sigset_t sigmask;     /* the mask the M runs goroutines with (runtime Ms) */
} gcrt_msched_t;

/* The scheduler's per-P part (p->sched) of a scheduler P. */
typedef struct gcrt_psched {
    gcrt_p_t *p;
    int32_t idx; /* index in gcrt__sched.ps: disabled when >= GOMAXPROCS */
    /* Local run queue: the owner puts at tail, anyone takes at head (CAS).
     * runnext: the G readied last, run next (inherits the time slice). */
    uint32_t runqhead, runqtail; /* atomic */
    gcrt_g_t *runq[GCRT_RUNQ_SIZE];
    gcrt_g_t *runnext;            /* atomic (CAS by stealers) */
    uint32_t schedtick;           /* incremented on every schedule */
    uint32_t syscalltick;         /* incremented on every blocking call */
    struct gcrt_psched *idlelink; /* sched.pidle, under sched.lock */
    int32_t idle;                 /* on the idle list */
    int32_t disabled;             /* id >= GOMAXPROCS: not in use (sched.lock) */
    /* sysmon's last observation (sysmon thread only). */
    uint32_t sm_schedtick, sm_syscalltick;
    int64_t sm_schedwhen, sm_syscallwhen;
    int64_t sm_preemptwhen; /* last preemption signal */
    /* Dead Gs with stacks, for fast create+exit (owner only). */
    gcrt_g_t *gfree;
    int32_t ngfree;
    uint64_t gfree_bytes; /* their committed stack bytes (owner; relaxed) */
    /* Goroutine ids [goidcache, goidcacheend) reserved from sched.goidgen
     * in batches (Go: p.goidcache), owner only. */
    int64_t goidcache, goidcacheend;
    /* User goroutines created minus exited on this P (owner writes, relaxed;
     * anyone sums them: gcrt__ngoroutine). May be negative. */
    int64_t ngoroutine;
    /* The stack of the G that exited last on this P (owner only), handed to
     * the next G that starts here: still in this core's cache and TLB,
     * where a new G's own stack went cold while it waited in a queue.
     * spare_bytes: its committed bytes (relaxed; counted as cached). */
    struct gcrt_stack *spare_stk;
    uintptr_t spare_lo, spare_hi, spare_sp_min;
    uint64_t spare_bytes;
} gcrt_psched_t;

/* Global scheduler state (Go: schedt). Fields that different cores write
 * at different rates sit on their own cache lines: the lock and what it
 * guards, the counters every wakep reads, the dead-G list. */
typedef struct gcrt_schedt {
    gcrt_lock_t lock; /* GCRT_RANK_SCHED: global runq, pidle, midle, gfree */
    gcrt_g_t *runqhead, *runqtail;
    int32_t runqsize;     /* atomic read without lock */
    gcrt_psched_t *pidle; /* idle Ps */
    gcrt_msched_t *midle; /* idle runtime Ms */
    int32_t nmidle;
    int32_t nm;                                  /* runtime Ms created */
    int32_t npidle __attribute__((aligned(64))); /* atomic */
    int32_t nmspinning;                          /* atomic */
    int32_t nprocs;                              /* Ps in use (GOMAXPROCS); atomic */
    int32_t nallps;                              /* Ps created (>= nprocs) */
    uint32_t started;                            /* scheduler started (Ms, sysmon); atomic */
    gcrt_psched_t *ps[GCRT_MAX_GOMAXPROCS];
    int64_t goidgen __attribute__((aligned(64))); /* atomic; Ps take batches */
    int64_t ngoroutine; /* user goroutines created off a P minus exited off one; atomic */
    gcrt_g_t *gfree __attribute__((aligned(64))); /* dead Gs, with stacks; under lock */
    int32_t ngfree;
} gcrt_schedt_t;

extern gcrt_schedt_t gcrt__sched;

/* The calling thread's M and its scheduler part. Never cached: a
 * goroutine can resume on another thread, so the TLS word is read afresh
 * after every switch (gcrt__getm is not inlined; gcrt__getm_fresh is an
 * asm). */
gcrt_m_t *gcrt__getm(void);
gcrt_msched_t *gcrt__getms_slow(void); /* creates ms and its g0 on first use */
/* gcrt__getm without the call, for the switch paths that ask on every
 * park and ready: the asm reads the TLS word afresh each time (volatile,
 * and a memory clobber orders it against calls, so a compiler can neither
 * reuse an earlier read nor hoist it above a switch). This is the
 * initial-exec sequence the linker relaxes in an executable. */
static inline gcrt_m_t *gcrt__getm_fresh(void) {
#if defined(__x86_64__)
    gcrt_m_t *m;
    __asm__ __volatile__("movq gcrt__tls_m@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0"
                         : "=r"(m)
                         :
                         : "memory");
    return m;
#else
    return gcrt__getm();
#endif
}
static inline gcrt_msched_t *gcrt__getms(void) {
    gcrt_m_t *m = gcrt__getm_fresh();
    if (GCRT_UNLIKELY(m == NULL)) return NULL;
    gcrt_msched_t *ms = gcrt_load_acquire((gcrt_msched_t **)&m->sched);
    if (GCRT_LIKELY(ms != NULL && ms->g0 != NULL)) return ms;
    return gcrt__getms_slow();
}
/* ms of m, created on first use (by its own thread or a stopper). */
gcrt_msched_t *gcrt__msched_of(gcrt_m_t *m);

/* sched.c */
void gcrt__sched_start(void); /* once: Ps, sysmon; idempotent */
gcrt_g_t *gcrt__galloc(void);
void gcrt__execute(gcrt_msched_t *ms, gcrt_g_t *g); /* g0 only */
GCRT_NORETURN void gcrt__mstart_loop(gcrt_msched_t *ms);
void gcrt__gfput(gcrt_psched_t *pp, gcrt_g_t *g); /* dead G to the cache */
int gcrt__gfree_trim(int max);                    /* cached stacks beyond the floor to the OS */
uint64_t gcrt__gfree_cached_bytes(void);          /* committed stack bytes of dead Gs */
int64_t gcrt__ngoroutine(void);                   /* live user goroutines (a sum over Ps) */
void gcrt__ngoroutine_add(gcrt_psched_t *pp, int64_t delta); /* pp may be NULL */
void gcrt__g_first_frame(gcrt_g_t *g);                       /* builds a new G's first frame (g0) */
/* Exchanges g's stack with pp's spare (owner; g not started, or dead). */
void gcrt__stack_swap_spare(gcrt_psched_t *pp, gcrt_g_t *g);
gcrt_g_t *gcrt__newproc_main(void (*fn)(void *), gcrt_msched_t *ms);
void gcrt__switch_out_blocked(gcrt_g_t *g); /* lost its P in a blocking call */
void gcrt__preempt_self(void);              /* sysmon's request, at a safepoint */

/* runq.c */
void gcrt__runqput(gcrt_psched_t *pp, gcrt_g_t *g, int next);
gcrt_g_t *gcrt__runqget(gcrt_psched_t *pp);
int gcrt__runqempty(gcrt_psched_t *pp);
gcrt_g_t *gcrt__runqsteal(gcrt_psched_t *pp, gcrt_psched_t *victim, int stealnext);
void gcrt__globrunqput(gcrt_g_t *g);                                     /* sched.lock held */
void gcrt__globrunqput_batch(gcrt_g_t *head, gcrt_g_t *tail, int32_t n); /* lock held */
gcrt_g_t *gcrt__globrunqget(gcrt_psched_t *pp, int32_t max);             /* lock held */
gcrt_psched_t *gcrt__pidleget(void);                                     /* lock held */
void gcrt__pidleput(gcrt_psched_t *pp);                                  /* lock held */
void gcrt__acquirep(gcrt_msched_t *ms, gcrt_psched_t *pp);
gcrt_psched_t *gcrt__releasep(gcrt_msched_t *ms);

/* mthread.c */
void gcrt__wakep(void);
void gcrt__startm(gcrt_psched_t *pp, int spinning);
void gcrt__handoffp(gcrt_psched_t *pp);
void gcrt__stopm(gcrt_msched_t *ms); /* sleeps until handed a P */
void gcrt__newm(gcrt_psched_t *pp, int spinning);
void gcrt__m_signal_stack(gcrt_msched_t *ms);

/* ctx_amd64.S: pushes callee-saved registers on the current stack, stores
 * sp in *save_sp, loads new_sp, pops and returns there. */
void gcrt__ctx_switch(uintptr_t *save_sp, uintptr_t new_sp);
/* Entry of a new goroutine's first switch: calls r12(r13). */
void gcrt__ctx_start(void);
/* Builds the first frame of a goroutine on [lo, hi): returns its sp. */
uintptr_t gcrt__ctx_init(uintptr_t hi, void (*entry)(void *), void *arg);

/* stack.c */
typedef struct gcrt_stack gcrt_stack_t;
int gcrt__stack_alloc(gcrt_g_t *g); /* 0 or -errno */
void gcrt__stack_free(gcrt_g_t *g);
void gcrt__stack_note_sp(gcrt_g_t *g, uintptr_t sp); /* usage estimate */
void gcrt__stack_check(gcrt_g_t *g);                 /* canary of an unguarded stack */
void gcrt__stack_signal_init(void);                  /* SIGSEGV handler, once */
extern size_t gcrt__stack_max_bytes;
void gcrt__stack_set_guard_budget(int64_t slots); /* test seam */
/* Committed bytes of g's stack (estimate), 0 without one. */
uint64_t gcrt__stack_bytes(gcrt_g_t *g);
/* Publishes StackInuse / StackSys for MemStats (sysmon, every round). */
void gcrt__stack_publish(void);
void gcrt__stack_stats(uint64_t *inuse, uint64_t *sys, uint64_t *reserved, int64_t *guarded,
                       int64_t *unguarded);

/* time.c */
void gcrt__timers_run(int64_t now);   /* due timers; caller holds a P */
int64_t gcrt__timers_next(void);      /* earliest when, or INT64_MAX */
void gcrt__timers_wake_sleeper(void); /* a timer became due earlier */

/* stw.c */
void gcrt__safepoint_slow(void);
void gcrt__stw_signal_init(void);
/* BLOCK <-> RUN transitions (for blocking calls and idle Ms). */
void gcrt__ms_block(gcrt_msched_t *ms);
void gcrt__ms_unblock(gcrt_msched_t *ms);

/* preempt.c: asynchronous preemption. Counters (gcrt__preempt_stats):
 * signals sysmon sent, preemptions done, and the requests refused, by
 * reason. */
enum {
    GCRT_PREEMPT_SIGNALS = 0,
    GCRT_PREEMPT_DONE,
    GCRT_PREEMPT_NOT_GOROUTINE, /* g0, a thread G, not a runtime M */
    GCRT_PREEMPT_NOT_WANTED,    /* the G yielded meanwhile */
    GCRT_PREEMPT_RUNTIME,       /* runtime code, lock, no-stop region, switch, stop */
    GCRT_PREEMPT_MARKING,       /* the collector marks (write barrier on) */
    GCRT_PREEMPT_STACK,         /* not on the G's stack, or too little room */
    GCRT_PREEMPT_SIGMASK,       /* signals blocked, or in a signal handler */
    GCRT_PREEMPT_NOT_EXE,       /* PC outside the main executable (libc, ...) */
    GCRT_PREEMPT_NSTATS,
};
void gcrt__preempt_init(void);         /* once, before the first M starts */
int gcrt__async_preempt_enabled(void); /* 0 under TSan or asyncpreemptoff=1 */
/* pc is in the main program's own code: not in the runtime (gcrt_text,
 * gcrt_nopreempt_text), not in libc or another shared object; 0 for a
 * statically linked program and under TSan (preempt.c). */
int gcrt__pc_in_program(uintptr_t pc);
/* A kernel signal frame (of a handler installed through libc) lies on the
 * stack in [sp, hi): the code at sp runs inside a signal handler. uctx is
 * the current handler's context (its restorer is the word below it). */
int gcrt__signal_frame_above(uintptr_t sp, uintptr_t hi, const void *uctx);
void gcrt__preempt_m(gcrt_msched_t *ms); /* sysmon: signal ms to preempt curg */
int gcrt__async_preempt_signal(gcrt_msched_t *ms, void *uctx); /* in the handler */
void gcrt__preempt_stats(int64_t out[GCRT_PREEMPT_NSTATS]);
/* preempt_amd64.S: saves all registers, calls gcrt__async_preempt. */
void gcrt__async_preempt_stub(void);
void gcrt__async_preempt(void);

/* sysmon.c */
void gcrt__sysmon_start(void);
void gcrt__sysmon_wake(void);
void gcrt__sysmon_kick(void); /* cheap unless sysmon sleeps indefinitely */
void gcrt__sysmon_stats(int64_t *preempts, int64_t *retakes);

/* A full memory barrier (#StoreLoad). TSan rejects atomic_thread_fence
 * (-Wtsan); a locked exchange is the same barrier on x86. */
static inline void gcrt__fence(void) {
#if defined(__SANITIZE_THREAD__)
    uint32_t x = 0;
    __atomic_exchange_n(&x, 1, __ATOMIC_SEQ_CST);
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

#if defined(__SANITIZE_THREAD__)
#define GCRT_TSAN_FIBERS 1
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GCRT_ASAN_FIBERS 1
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif

#endif
