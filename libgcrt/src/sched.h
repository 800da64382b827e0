/* sched.h - goroutines (G), park/ready, and the interface between the
 * scheduler (sched.c, ctx_*.S, stack.c) and what blocks on it (chan.c,
 * select.c, sema.c, sync.c, time.c, pool.c). Go: runtime2.go, proc.go.
 *
 * Every attached thread has a current G: a goroutine when the thread is an
 * M running one, otherwise the thread's own G (is_thread = 1) that stands
 * for the plain pthread. park/ready work for both: a goroutine parks by
 * switching to the scheduler; a thread G parks by sleeping on its futex
 * word. So channels and mutexes work between goroutines, between plain
 * threads, and across the two. */
#ifndef GCRT_SCHED_H
#define GCRT_SCHED_H

#include "proc.h"
#include "runtime.h"

/* The most Ps (GOMAXPROCS) the scheduler makes (gcrt_gomaxprocs). */
#define GCRT_MAX_GOMAXPROCS 1024

/* G status (Go: _Gidle ... _Gdead). */
enum {
    GCRT_G_IDLE = 0,
    GCRT_G_RUNNABLE,
    GCRT_G_RUNNING,
    GCRT_G_SYSCALL,
    GCRT_G_WAITING,
    GCRT_G_DEAD,
};

/* Wait reasons, with Go 1.19's strings (gcrt__wait_reason_string). */
enum gcrt_wait_reason {
    GCRT_WAIT_ZERO = 0, /* "" */
    GCRT_WAIT_GC_ASSIST_MARKING,
    GCRT_WAIT_IO_WAIT,
    GCRT_WAIT_CHAN_RECEIVE_NIL_CHAN,
    GCRT_WAIT_CHAN_SEND_NIL_CHAN,
    GCRT_WAIT_DUMPING_HEAP,
    GCRT_WAIT_GARBAGE_COLLECTION,
    GCRT_WAIT_GARBAGE_COLLECTION_SCAN,
    GCRT_WAIT_PANICWAIT,
    GCRT_WAIT_SELECT,
    GCRT_WAIT_SELECT_NO_CASES,
    GCRT_WAIT_GC_ASSIST_WAIT,
    GCRT_WAIT_GC_SWEEP_WAIT,
    GCRT_WAIT_GC_SCAVENGE_WAIT,
    GCRT_WAIT_CHAN_RECEIVE,
    GCRT_WAIT_CHAN_SEND,
    GCRT_WAIT_FINALIZER_WAIT,
    GCRT_WAIT_FORCE_GC_IDLE,
    GCRT_WAIT_SEMACQUIRE,
    GCRT_WAIT_SLEEP,
    GCRT_WAIT_SYNC_COND_WAIT,
    GCRT_WAIT_TIMER_GOROUTINE_IDLE,
    GCRT_WAIT_TRACE_READER_BLOCKED,
    GCRT_WAIT_WAIT_FOR_GC_CYCLE,
    GCRT_WAIT_GC_WORKER_IDLE,
    GCRT_WAIT_PREEMPTED,
    GCRT_WAIT_DEBUG_CALL,
    GCRT_WAIT_COUNT,
};
const char *gcrt__wait_reason_string(unsigned reason);

struct gcrt_sudog;

typedef struct gcrt_g {
    int64_t goid;
    uint32_t status;    /* GCRT_G_*; atomic */
    uint8_t waitreason; /* enum gcrt_wait_reason, while WAITING */
    uint8_t is_thread;  /* 1: stands for a plain attached thread */
    uint8_t system;     /* 1: runtime-internal goroutine (not in profiles) */
    int64_t waitsince;  /* nanotime (coarse) when it last blocked, 0 if running */
    /* Saved context of a parked/runnable goroutine: its stack pointer; the
     * callee-saved registers are pushed on its own stack below sp, so the
     * GC scans [sched_sp, stack_hi) and sees them. */
    uintptr_t sched_sp;
    uintptr_t stack_lo, stack_hi; /* usable stack (guard page below lo) */
    struct gcrt_m *m;             /* M running it, or NULL */
    void *param;                  /* handed over by the waker (Go: g.param) */
    struct gcrt_sudog *waiting;   /* sudogs it is blocked on (select) */
    uint32_t selectdone;          /* select: first waker wins (CAS 0->1) */
    uint32_t parkword;            /* thread G: futex word for park/ready */
    uintptr_t startpc;            /* function it runs */
    uintptr_t gopc;               /* return PC of the gcrt_go call (creation site) */
    int64_t parentgoid;
    struct gcrt_g *schedlink; /* run queues */
    struct gcrt_g *alllink;   /* all Gs */
    void *sched;              /* scheduler-private part (sched.c) */
    /* ---- scheduler-private (sched.c, stack.c, time.c, stw.c) ---------- */
    void (*fn)(void *); /* goroutine body and its argument */
    void *arg;
    struct gcrt_stack *stk;        /* stack slot (stack.c), NULL for thread Gs */
    struct gcrt_m *lastm;          /* M that ran it last (listing, debugging) */
    uintptr_t sp_min;              /* lowest sched_sp seen: stack use estimate */
    uint32_t preempt;              /* 1: sysmon asks it to yield at a safepoint */
    uint32_t main;                 /* 1: goroutine 1 of gcrt_main */
    int64_t runsince;              /* nanotime when it last started running */
    int64_t createtime;            /* nanotime of gcrt_go */
    struct gcrt_timer *sleeptimer; /* gcrt_sleep's timer (time.c), lazily */
    void *tsan_fiber;              /* TSan fiber of this G, if built with TSan */
    void *asan_fake;               /* ASan fake stack saved across a switch */
} gcrt_g_t;

/* The calling thread's current G, or NULL if the thread is not attached.
 * Never cache it across a call that may park: a goroutine may resume on
 * another thread. */
gcrt_g_t *gcrt__getg(void);
/* A thread attaching with a runtime record another thread used before:
 * its thread goroutine takes the record's new stack bounds (m->stack_lo,
 * stack_hi), which the collector scans. Before the record is published. */
struct gcrt_m;
void gcrt__sched_m_stack_changed(struct gcrt_m *m);

/* Go's gopark: marks the current G waiting with reason, then calls
 * unlockf(g, arg) (for a goroutine: on the scheduler's stack, after the G
 * was switched out). If unlockf returns 0 the G is made runnable again at
 * once. Returns when someone calls gcrt__ready(g). */
void gcrt__park(int (*unlockf)(gcrt_g_t *g, void *arg), void *arg, unsigned reason);
/* Go's goready: makes a waiting G runnable (wakes a thread G). */
void gcrt__ready(gcrt_g_t *g);
/* Go's Gosched: lets other goroutines run. */
void gcrt__gosched(void);

/* ---- additions (sched.c) -------------------------------------------- */

/* Starts a runtime-internal goroutine (GC workers, ...): flagged system,
 * not counted by gcrt_num_goroutine, listed only with GCRT_LIST_SYSTEM.
 * Returns its id or -errno, like gcrt_go. */
int64_t gcrt__go_system(void (*fn)(void *), void *arg);
/* G status names as Go prints them ("runnable", "waiting", ...). */
const char *gcrt__gstatus_string(unsigned status);
/* Whether the caller runs as a goroutine (not a plain thread or g0). */
bool gcrt__on_goroutine(void);
/* All Gs (goroutines and thread Gs, dead ones reused), newest first; walk
 * lock-free with gcrt_load_acquire on alllink. */
extern gcrt_g_t *gcrt__allg;

/* A safepoint (stw.c): stops here if a stop-the-world is pending. Cheap
 * when nothing is pending; call it from slow paths (allocator refills,
 * long loops) with no runtime lock held. It never switches goroutines, so
 * the caller stays on its M and may keep using its P's mcache. (Yielding
 * to sysmon's preemption request is gcrt_checkpoint, gcrt_sched.h.)
 * Inline: the allocator's hook calls it on every allocation while a stop
 * is pending or marking is on. */
extern uint32_t gcrt__stw_word;
void gcrt__safepoint_slow(void);
static inline void gcrt__safepoint(void) {
    if (__builtin_expect(__atomic_load_n(&gcrt__stw_word, __ATOMIC_RELAXED) & 1, 0))
        gcrt__safepoint_slow();
}
/* gcrt__futex_wait (until *word != val, a wake-up, or ns) counted as
 * stopped: a stop-the-world meanwhile claims the thread without a signal
 * (as in a blocking call) and scans its stack from this frame; returns
 * once the world runs again. For the runtime's own waits on an attached
 * thread outside no-stop regions (an assist waiting for the mark workers,
 * an allocation waiting for a cycle's start). */
void gcrt__futex_wait_stoppable(uint32_t *word, uint32_t val, int64_t ns);
/* Whether this thread may wait for something a stop-the-world must finish
 * first (a cycle's start or mark): attached, outside no-stop regions and
 * scheduler critical sections. Inside one, gcrt__futex_wait_stoppable is a
 * plain wait, and the stop would wait for the waiter. */
bool gcrt__can_wait_stopped(void);
/* Odd while a stop-the-world is on (stw.c). */
extern uint32_t gcrt__stw_word;
static inline int gcrt__stop_pending(void) {
    return (int)(__atomic_load_n(&gcrt__stw_word, __ATOMIC_RELAXED) & 1);
}
/* For the runtime's threads that are not Ms (the background sweeper, the
 * scavenger): while a stop-the-world is pending or on, waits for the world
 * to restart instead of taking a CPU from the threads the stopper waits for
 * (Go's sweeper and scavenger are goroutines: they stop with the world).
 * Call with no runtime lock held. */
void gcrt__wait_world_running(void);
/* Stopped threads a later stop counted as stopped before they ran again
 * (back-to-back stops), ever. */
int64_t gcrt__stw_claimed(void);
/* Whether a stop or restart holds the stop-the-world lock now (tests). */
int gcrt__stw_lock_held(void);
/* The stop lock alone, no stop (fork.c, before the scheduler starts). */
void gcrt__stw_lock_take(void);
void gcrt__stw_lock_release(void);
/* World stopped: m was stopped by the stop signal in the program's own
 * code, with no allocation of its in flight (stw.c). */
int gcrt__stw_stopped_in_program(gcrt_m_t *m);
/* Stops for a pending stop-the-world if the scheduler allows it here
 * (called when a thread leaves a no-stop region, lock.h). */
void gcrt__stw_pending_check(void);
/* Stop-the-world for the GC (stw.c): every other attached thread stops at
 * a safepoint or by signal with its registers saved; threads in blocking
 * calls count as stopped. reason is for tracing. Returns the time it took
 * to stop (ns). Not reentrant: one stopper at a time. */
int64_t gcrt__stop_the_world(const char *reason);
/* Restarts the world. Returns when the world ran again (nanotime, before
 * the wake-up of the stopped threads; 0 unless GODEBUG=gcpausetrace is
 * on): the wake-up call can last milliseconds for its caller, descheduled
 * by a thread it woke, while the world runs. */
int64_t gcrt__start_the_world(void);
/* Publishes an attaching thread's tid between stops:
 * a stopper either sees it before its first round and waits for the
 * thread, or the thread appears after the world starts again. Without it
 * a thread could appear after the stopper's last round and run (and have
 * its stack scanned) while the world is thought stopped. */
void gcrt__stw_publish_tid(int *tid, int value);
/* With the world stopped: f for each thread stopped by the signal (at any
 * instruction, unlike a safepoint), with its registers. */
void gcrt__stw_for_each_signal_stopped(void (*f)(uintptr_t lo, uintptr_t hi, const void *regs,
                                                 size_t regs_len, void *arg),
                                       void *arg);
/* While the world is stopped: calls f for every stack range the GC must
 * scan conservatively, with saved registers (or NULL): each stopped M's
 * current stack from its stop sp, and each parked or runnable goroutine's
 * [sched_sp, stack_hi). The caller's own stack is not included. */
void gcrt__stw_for_each_stack(void (*f)(uintptr_t lo, uintptr_t hi, const void *regs,
                                        size_t regs_len, void *arg),
                              void *arg);
/* Goroutine stack memory (stack.c), for MemStats: StackInuse is the
 * estimated committed stack of live goroutines, StackSys that plus the
 * stacks kept by dead goroutines for reuse; reserved is address space. */
void gcrt__stack_stats(uint64_t *inuse, uint64_t *sys, uint64_t *reserved, int64_t *guarded,
                       int64_t *unguarded);
/* The last stop-the-world in detail (for GODEBUG=gcpausetrace). */
struct gcrt_stw_detail {
    int64_t first_signal_ns;                /* from the start of the stop */
    int32_t sent, rounds;                   /* signals sent; rounds that found an M running */
    int32_t by_signal;                      /* Ms stopped in the signal handler */
    int32_t refused_nostop, refused_unsafe; /* signals that could not stop their M */
    uintptr_t signal_pc;                    /* where the last signal found its M, or 0 */
    int64_t handler_ns;                     /* when the handler of the last M the signal
                                               stopped began, from the start of the stop */
};
void gcrt__stw_last_detail(struct gcrt_stw_detail *d);
/* Stop-the-world statistics (ns). */
void gcrt__stw_stats(int64_t *count, int64_t *last, int64_t *max, int64_t *total, int64_t *signals);

#endif
