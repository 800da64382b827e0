/* gcrt_sched.h - goroutines for C: Go's M:N scheduler (G/M/P), sleep and
 * timers, blocking calls, GOMAXPROCS, and the goroutine listing.
 *
 * A goroutine is a function run on its own small stack by one of
 * GOMAXPROCS scheduler threads. It may allocate from the GC heap, block on
 * channels and mutexes (gcrt_chan.h, gcrt_sync.h), sleep, and yield. The
 * program's main runs as goroutine 1 with gcrt_main; a program that calls
 * gcrt_init() instead can still start goroutines, and its attached threads
 * block on channels like goroutines do (they sleep in the kernel).
 *
 * Stacks. C stacks cannot move (pointers into them are everywhere), so a
 * goroutine's stack is reserved at its maximum size up front and the
 * kernel commits pages only as they are touched: a goroutine that stays
 * shallow costs one 4 KiB page, plus kernel page tables of about
 * maximum/512 (the stacks are sparse: 2 KiB at the default, 512 bytes at
 * 256KiB). The maximum is GCRT_STACKMAX (Go units:
 * 65536, 256KiB, 8MiB, 1GiB; default 1 MiB) or gcrt_set_max_stack. The
 * default is a compromise: deep enough for ordinary C (glibc's own
 * functions need well under 64 KiB) and small enough that a million
 * goroutines reserve only 1 TiB of the 128 TiB address space. Raise it
 * for deeply recursive code. A goroutine that overflows its stack stops the
 * program with "fatal error: stack overflow" and its goroutine id.
 * Each stack has a PROT_NONE guard page while the kernel's map count allows
 * (vm.max_map_count, default 65530: two mappings per guarded stack); past a
 * quarter of that, stacks are packed without guard pages and checked with a
 * canary at every switch (an overflow is then caught late, not early).
 *
 * Errors: calls that can fail return 0 / an id, or a negative errno, and
 * change nothing on failure. */
#ifndef GCRT_SCHED_PUBLIC_H
#define GCRT_SCHED_PUBLIC_H

#include <pthread.h>

#include "gcrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- goroutines --------------------------------------------------------- */

/* go fn(arg): starts a goroutine. Returns its id (> 0) or -errno (-ENOMEM:
 * no stack could be mapped; -ENOTSUP: in the child of a fork made after
 * the scheduler started, which has none of its threads). Records the caller's return address and
 * goroutine id for "created by" in dumps. Callable from goroutines and
 * from attached threads; initialises the runtime if needed. */
GCRT_API int64_t gcrt_go(void (*fn)(void *), void *arg);
/* runtime.Gosched: yields the processor; a plain thread calls sched_yield. */
GCRT_API void gcrt_gosched(void);
/* The caller's goroutine id (a plain attached thread has one too), or 0 if
 * the thread is not attached. */
GCRT_API int64_t gcrt_goid(void);
/* Runs fn(argc, argv) as goroutine 1 on the scheduler and exits the
 * process with its result when it returns, like Go's main. Returns only on
 * failure to start (-errno). */
GCRT_API int gcrt_main(int (*fn)(int argc, char **argv), int argc, char **argv);
/* runtime.GOMAXPROCS: sets the number of Ps that run goroutines if n > 0
 * (at most 1024) and returns the previous value. As in Go, a change waits
 * for a garbage collection in progress to finish its mark (a cycle runs
 * with one GOMAXPROCS), and no cycle starts during the change. */
GCRT_API int gcrt_gomaxprocs(int n);
/* A preemption point for long-running C loops (Go inserts these in every
 * function prologue; C code has to call it): stops here for a pending
 * stop-the-world, ends a finished GC mark that the collector offers to the
 * program (README: the garbage collector), and yields the processor if the
 * goroutine has run for more than 10 ms and sysmon asked it to. Cheap when
 * nothing is pending. */
GCRT_API void gcrt_checkpoint(void);
/* runtime.NumGoroutine: live goroutines (not system ones, not threads). */
GCRT_API int64_t gcrt_num_goroutine(void);
/* debug.SetMaxStack: maximum stack of goroutines created from now on
 * (bytes, rounded up to pages, at least 16 KiB). Returns the previous
 * value; 0 only queries. */
GCRT_API size_t gcrt_set_max_stack(size_t bytes);

/* ---- blocking calls (Go: entersyscall / exitsyscall) ------------------- */

/* Brackets a call that may block in the kernel (read, poll, a lock
 * outside the runtime...). Between the two the caller must not touch the
 * GC heap; its P may be handed to another thread so other goroutines keep
 * running, and a stop-the-world does not wait for it. Calls nest. */
GCRT_API void gcrt_enter_blocking(void);
GCRT_API void gcrt_exit_blocking(void);

/* pthread_join bracketed as a blocking call: a thread waiting for another
 * one counts as stopped, so a stop-the-world need not signal it (and wait
 * for the OS to schedule it: on two busy CPUs that was most of a 0.2-0.4 ms
 * pause). Define GCRT_WRAP_PTHREAD_JOIN before including this header to
 * have every pthread_join of the file call it (as bdwgc's GC_THREADS
 * redirects pthread calls). Other blocking calls (condition variables,
 * I/O) are the program's to bracket: a mutex must be unlocked by the
 * thread that locked it, and a goroutine may resume on another thread
 * after gcrt_exit_blocking. */
GCRT_API int gcrt_pthread_join(pthread_t thread, void **retval);
#if defined(GCRT_WRAP_PTHREAD_JOIN)
#define pthread_join(t, r) gcrt_pthread_join((t), (r))
#endif

/* ---- sleep and timers --------------------------------------------------- */

/* time.Sleep: blocks the goroutine (or thread) for ns nanoseconds; wait
 * reason "sleep". ns <= 0 returns at once. */
GCRT_API void gcrt_sleep(int64_t ns);
/* Monotonic clock (ns), the clock timers use. */
GCRT_API int64_t gcrt_nanotime(void);

/* A timer: embed it (no allocation), init once, then arm and stop it.
 * f(arg) runs on a scheduler thread when the timer fires: it must not
 * block (no channel receive, no mutex wait); it may call gcrt_go, ready
 * goroutines, and do non-blocking channel sends. Fields are private. */
typedef struct gcrt_timer {
    int64_t when;   /* monotonic ns when it fires */
    int64_t period; /* > 0: re-armed every period ns (time.Ticker) */
    void (*f)(void *arg);
    void *arg;
    int32_t idx; /* heap index, -1 when not armed */
    uint32_t state;
} gcrt_timer_t;

GCRT_API void gcrt_timer_init(gcrt_timer_t *t, void (*f)(void *arg), void *arg);
/* Timer.Reset: (re)arms t to fire ns from now (period: then every period
 * ns; 0 for once). Returns true if it was armed before. */
GCRT_API bool gcrt_timer_reset(gcrt_timer_t *t, int64_t ns, int64_t period);
/* Timer.Stop: disarms t. Returns true if that prevented a firing; false if
 * it had fired or was not armed (f may still be running). */
GCRT_API bool gcrt_timer_stop(gcrt_timer_t *t);

/* ---- the goroutine listing (for goroutine profiles and leak hunting) --- */

#define GCRT_GOROUTINE_MAX_PCS 64

enum { /* gcrt_goroutine_t.status, Go's _G* states */
       GCRT_GSTATUS_IDLE = 0,
       GCRT_GSTATUS_RUNNABLE,
       GCRT_GSTATUS_RUNNING,
       GCRT_GSTATUS_SYSCALL,
       GCRT_GSTATUS_WAITING,
       GCRT_GSTATUS_DEAD,
};

typedef struct gcrt_goroutine {
    int64_t id;
    int status;              /* GCRT_GSTATUS_* */
    const char *state;       /* Go's header text: the wait reason while
                                waiting, else "running", "runnable", ... */
    const char *wait_reason; /* "chan receive", ... or "" */
    int64_t wait_since_ns;   /* gcrt_nanotime() when it blocked (to the clock
                                tick, a few ms), 0 if not */
    int64_t parent_id;       /* goroutine that created it, 0 if none */
    uintptr_t create_pc;     /* return address of the gcrt_go call */
    uintptr_t start_pc;      /* the function it runs */
    int is_thread;           /* a plain attached thread, not a goroutine */
    int is_system;           /* runtime-internal */
    int npc;                 /* stack PCs (return addresses), innermost
                                first; 0 for one running right now */
    uintptr_t pc[GCRT_GOROUTINE_MAX_PCS];
} gcrt_goroutine_t;

/* Flags for gcrt_goroutine_list. */
#define GCRT_LIST_THREADS 1u /* include attached threads' Gs */
#define GCRT_LIST_SYSTEM  2u /* include runtime-internal goroutines */

/* A consistent snapshot of the goroutines (the world is stopped briefly).
 * Fills min(cap, n) entries of buf, the caller first, and returns n, the
 * number there are (like runtime.GoroutineProfile). Stack PCs come from a
 * frame-pointer walk of the saved context. Returns -errno on failure. */
GCRT_API int64_t gcrt_goroutine_list(gcrt_goroutine_t *buf, size_t cap, unsigned flags);

/* ---- scheduler statistics ----------------------------------------------- */

typedef struct gcrt_sched_stats {
    int64_t goroutines; /* live user goroutines */
    int32_t gomaxprocs;
    int32_t threads; /* runtime-created Ms */
    int32_t idle_threads;
    int64_t stw_count;   /* stop-the-worlds so far */
    int64_t stw_last_ns; /* time to stop the last one */
    int64_t stw_max_ns;
    int64_t stw_total_ns;
    int64_t stw_signals;           /* Ms stopped by the signal (not cooperative) */
    uint64_t stack_inuse_bytes;    /* estimated committed stack of live Gs */
    uint64_t stack_sys_bytes;      /* + cached stacks */
    uint64_t stack_reserved_bytes; /* address space of all stacks */
    int64_t stacks_guarded, stacks_unguarded;
    int64_t preempt_requests; /* sysmon asked a long runner to yield */
    int64_t retakes;          /* Ps taken from blocking calls */
} gcrt_sched_stats_t;

GCRT_API void gcrt_sched_read_stats(gcrt_sched_stats_t *st);

#ifdef __cplusplus
}
#endif
#endif
