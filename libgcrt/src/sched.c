/* sched.c - goroutines: Go's G/M/P scheduler for C (Go: proc.go).
 *
 * Walk-through.
 *
 * 1. Gs, Ms, Ps. A G is a goroutine (or the own G of an attached thread,
 *    is_thread = 1). An M is an OS thread (proc.c). A P is the right to run
 *    goroutines and allocate: GOMAXPROCS scheduler Ps, each with an mcache
 *    and a local run queue (runq.c). Runtime Ms (mthread.c) hold scheduler
 *    Ps; attached foreign threads keep the P proc.c gave them, so plain
 *    pthreads never wait for a P, and they block like goroutines do: a
 *    thread G parks on a futex word (park_thread).
 *
 * 2. Switching. Each runtime M runs gcrt__mstart_loop on its own thread
 *    stack ("g0"): find a runnable G, switch to it (ctx_amd64.S), and when
 *    the G switches back, do what it asked (ms->action): park it and call
 *    its unlockf, requeue it (yield, preemption), or retire it (exit).
 *    Running unlockf on g0, after the G's stack is no longer in use, is
 *    what lets a waker run the G on another M the moment the lock drops.
 *    A goroutine may resume on another M after any switch: code here
 *    re-reads the M (gcrt__getms, never inlined) after every switch.
 *
 * 3. Finding work (findrunnable): timers due; the global queue one time in
 *    61; the local runnext and ring; the global queue; then stealing half
 *    of another P's ring (spinning). With nothing found the M gives its P
 *    back and sleeps (stopm). gcrt__ready puts a G in the readier's
 *    runnext and wakes one spinning M if there is an idle P (wakep).
 *
 * 4. Creation and exit. gcrt_go takes a dead G with its stack from the
 *    P's cache (stack.c keeps stacks reserved at the maximum size, committed
 *    on touch; an empty cache refills from the global one in batches),
 *    gives it an id from the P's batch and puts it in runnext without
 *    touching its stack: the M that first runs it builds the first frame
 *    (gcrt__execute), and until then the GC scans only its argument. Exit
 *    returns the G with its stack to the cache, except that each P keeps
 *    the stack of the G that exited last (still in cache and TLB) for the
 *    next G to start there, which leaves its own, cold, stack in exchange
 *    (gcrt__stack_swap_spare). The goroutine count is kept per P, so
 *    neither end writes a shared counter.
 *
 * 5. Blocking calls (gcrt_enter_blocking): the P stays with the M in
 *    state SYSCALL; sysmon (sysmon.c) retakes it if the call lasts and
 *    there is work; gcrt_exit_blocking takes it back, or another P, or
 *    queues the G and stops the M. Sysmon also flags Gs that run > 10 ms
 *    and signals their M (preempt.c): at an async-safe instruction the
 *    handler makes the G call a stub that saves every register and yields
 *    (asynchronous preemption); elsewhere (libc, the runtime, while the
 *    collector marks, ...) the G yields at its next gcrt_checkpoint.
 *
 * 6. Stop-the-world (stw.c) stops every M at a safepoint (the schedule
 *    loop, gcrt__safepoint in the allocator's slow path, the end of a
 *    runtime lock region) or with a signal, and counts Ms in blocking calls
 *    or idle as stopped. ms->locks > 0 marks the switch window, and
 *    gcrt__tls_nostop (lock.h) a held runtime lock: there the signal only
 *    records the request. gcrt__safepoint never switches goroutines.
 *
 * 7. Observability (gstate.c): gcrt_goroutine_list stops the world and
 *    copies every G with its wait reason, wait start and a frame-pointer
 *    walk of its saved context; gcrt_sched_read_stats has the stop latency,
 *    stack memory, preemptions and retakes.
 *
 * Sanitizers: under TSan each goroutine is a TSan fiber (a fresh one per
 * goroutine life); under ASan every switch is announced with
 * __sanitizer_start/finish_switch_fiber.
 */
#include "sched_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

/* Not a GC root (GCRT_NOSCAN_DATA): its Gs, Ms and Ps are the runtime's
 * own memory (gcrt__os_alloc), whose pointers into the heap (a G's
 * argument, say) the collector finds through allg. */
GCRT_NOSCAN_DATA gcrt_schedt_t gcrt__sched = {.lock = GCRT_LOCK_INIT(GCRT_RANK_SCHED)};
gcrt_g_t *gcrt__allg;

static const char *const wait_reason_strings[GCRT_WAIT_COUNT] = {
    [GCRT_WAIT_ZERO] = "",
    [GCRT_WAIT_GC_ASSIST_MARKING] = "GC assist marking",
    [GCRT_WAIT_IO_WAIT] = "IO wait",
    [GCRT_WAIT_CHAN_RECEIVE_NIL_CHAN] = "chan receive (nil chan)",
    [GCRT_WAIT_CHAN_SEND_NIL_CHAN] = "chan send (nil chan)",
    [GCRT_WAIT_DUMPING_HEAP] = "dumping heap",
    [GCRT_WAIT_GARBAGE_COLLECTION] = "garbage collection",
    [GCRT_WAIT_GARBAGE_COLLECTION_SCAN] = "garbage collection scan",
    [GCRT_WAIT_PANICWAIT] = "panicwait",
    [GCRT_WAIT_SELECT] = "select",
    [GCRT_WAIT_SELECT_NO_CASES] = "select (no cases)",
    [GCRT_WAIT_GC_ASSIST_WAIT] = "GC assist wait",
    [GCRT_WAIT_GC_SWEEP_WAIT] = "GC sweep wait",
    [GCRT_WAIT_GC_SCAVENGE_WAIT] = "GC scavenge wait",
    [GCRT_WAIT_CHAN_RECEIVE] = "chan receive",
    [GCRT_WAIT_CHAN_SEND] = "chan send",
    [GCRT_WAIT_FINALIZER_WAIT] = "finalizer wait",
    [GCRT_WAIT_FORCE_GC_IDLE] = "force gc (idle)",
    [GCRT_WAIT_SEMACQUIRE] = "semacquire",
    [GCRT_WAIT_SLEEP] = "sleep",
    [GCRT_WAIT_SYNC_COND_WAIT] = "sync.Cond.Wait",
    [GCRT_WAIT_TIMER_GOROUTINE_IDLE] = "timer goroutine (idle)",
    [GCRT_WAIT_TRACE_READER_BLOCKED] = "trace reader (blocked)",
    [GCRT_WAIT_WAIT_FOR_GC_CYCLE] = "wait for GC cycle",
    [GCRT_WAIT_GC_WORKER_IDLE] = "GC worker (idle)",
    [GCRT_WAIT_PREEMPTED] = "preempted",
    [GCRT_WAIT_DEBUG_CALL] = "debug call",
};

const char *gcrt__wait_reason_string(unsigned reason) {
    if (reason >= GCRT_WAIT_COUNT) return "unknown wait reason";
    return wait_reason_strings[reason];
}

const char *gcrt__gstatus_string(unsigned status) {
    static const char *const names[] = {"idle",    "runnable", "running",
                                        "syscall", "waiting",  "dead"};
    return status < sizeof names / sizeof names[0] ? names[status] : "???";
}

/* ---- G and M records ----------------------------------------------------- */

static gcrt_lock_t galloc_lock = GCRT_LOCK_INIT(GCRT_RANK_LEAF);
static gcrt_g_t *gslab;
static size_t gslab_left;

/* A zeroed G, linked on allg. G records are never freed (dead ones are
 * reused), so lock-free walkers of allg never see one vanish. */
gcrt_g_t *gcrt__galloc(void) {
    gcrt__lock(&galloc_lock);
    if (gslab_left == 0) {
        size_t n = 4096;
        gslab = gcrt__os_alloc(n * sizeof(gcrt_g_t));
        if (!gslab) gcrt__throw("out of memory allocating goroutine records");
        gslab_left = n;
    }
    gcrt_g_t *g = gslab++;
    gslab_left--;
    g->alllink = gcrt__allg;
    gcrt_store_release(&gcrt__allg, g);
    gcrt__unlock(&galloc_lock);
    return g;
}

GCRT_NOINLINE gcrt_m_t *gcrt__getm(void) {
    gcrt_m_t *m = gcrt__tls_m;
    __asm__ __volatile__("" ::: "memory");
    return m;
}

/* The per-M part is created by CAS and without locks: a stopper may
 * create it for an M that never ran scheduler code, and must not take a
 * lock a stopped thread could hold. Its g0 is made by the M itself. */
gcrt_msched_t *gcrt__msched_of(gcrt_m_t *m) {
    gcrt_msched_t *ms = gcrt_load_acquire((gcrt_msched_t **)&m->sched);
    if (GCRT_LIKELY(ms != NULL)) return ms;
    gcrt_msched_t *n = gcrt__os_alloc(sizeof *n);
    if (!n) gcrt__throw("out of memory allocating an M");
    n->m = m;
    void *z = NULL;
    if (!gcrt_cas(&m->sched, &z, n)) {
        gcrt__os_unmap(n, sizeof *n);
        /* The winner's, acquired: a failed gcrt_cas loads relaxed, and
         * its initialisation must be seen (TSan, test_gc_limiter: a
         * stopper racing an attached thread's first safepoint). */
        return gcrt_load_acquire((gcrt_msched_t **)&m->sched);
    }
    return n;
}

static GCRT_NOINLINE gcrt_g_t *make_g0(gcrt_msched_t *ms) {
    gcrt_m_t *m = ms->m;
    gcrt_g_t *g0 = gcrt__galloc();
    g0->is_thread = 1;
    g0->goid = gcrt_xadd(&gcrt__sched.goidgen, 1) + 1;
    g0->status = GCRT_G_RUNNING;
    g0->m = m;
    g0->lastm = m;
    g0->stack_lo = m->stack_lo;
    g0->stack_hi = m->stack_hi;
    ms->g0 = g0;
    gcrt_store_release(&ms->curg, g0);
    return g0;
}

void gcrt__sched_m_stack_changed(gcrt_m_t *m) {
    gcrt_msched_t *ms = gcrt_load_acquire((gcrt_msched_t **)&m->sched);
    if (!ms || !ms->g0) return;
    ms->g0->stack_lo = m->stack_lo;
    ms->g0->stack_hi = m->stack_hi;
}

GCRT_NOINLINE gcrt_msched_t *gcrt__getms_slow(void) {
    gcrt_m_t *m = gcrt__getm();
    if (!m) return NULL;
    gcrt_msched_t *ms = gcrt__msched_of(m);
    if (GCRT_UNLIKELY(!ms->g0)) make_g0(ms);
    return ms;
}

GCRT_NOINLINE gcrt_g_t *gcrt__getg(void) {
    gcrt_msched_t *ms = gcrt__getms();
    return ms ? ms->curg : NULL;
}

bool gcrt__on_goroutine(void) {
    gcrt_g_t *g = gcrt__getg();
    return g && !g->is_thread;
}

/* ---- sanitizer hooks around a switch ------------------------------------- */

static inline void fiber_to_g(gcrt_msched_t *ms, gcrt_g_t *g) {
#if defined(GCRT_TSAN_FIBERS)
    __tsan_switch_to_fiber(g->tsan_fiber, 0);
#endif
#if defined(GCRT_ASAN_FIBERS)
    __sanitizer_start_switch_fiber(&ms->asan_fake, (void *)g->stack_lo, g->stack_hi - g->stack_lo);
#endif
    (void)ms, (void)g;
}
static inline void fiber_back_on_g0(gcrt_msched_t *ms) {
#if defined(GCRT_ASAN_FIBERS)
    __sanitizer_finish_switch_fiber(ms->asan_fake, NULL, NULL);
#endif
    (void)ms;
}
static inline void fiber_to_g0(gcrt_msched_t *ms, gcrt_g_t *g, int exiting) {
#if defined(GCRT_TSAN_FIBERS)
    __tsan_switch_to_fiber(ms->tsan_fiber, 0);
#endif
#if defined(GCRT_ASAN_FIBERS)
    __sanitizer_start_switch_fiber(exiting ? NULL : &g->asan_fake, (void *)ms->m->stack_lo,
                                   ms->m->stack_hi - ms->m->stack_lo);
#endif
    (void)ms, (void)g, (void)exiting;
}
static inline void fiber_on_g(gcrt_g_t *g) {
#if defined(GCRT_ASAN_FIBERS)
    __sanitizer_finish_switch_fiber(g->asan_fake, NULL, NULL);
#endif
    (void)g;
}

/* ---- switching: the goroutine side ---------------------------------------- */

/* Runs on g after every switch into it (possibly on a new M). */
static GCRT_NOINLINE void after_switch_in(gcrt_g_t *g) {
    fiber_on_g(g);
    gcrt_msched_t *ms = gcrt__getms();
    ms->locks--;
    /* A stop signal refused during the switch: stop now, not at its resend. */
    if (GCRT_UNLIKELY(gcrt_load_relaxed(&gcrt__stw_word) & 1)) gcrt__safepoint_slow();
}

/* Switches from goroutine g to its M's g0, which then does action. Returns
 * when g runs again, possibly on another M. */
static GCRT_NOINLINE void switch_out(gcrt_g_t *g, int action) {
    gcrt_msched_t *ms = gcrt__getms();
    ms->action = action;
    ms->locks++;
    fiber_to_g0(ms, g, action == GCRT_ACT_EXIT);
    gcrt__ctx_switch(&g->sched_sp, ms->g0_sp);
    after_switch_in(g);
}

#if defined(__x86_64__)
uintptr_t gcrt__ctx_init(uintptr_t hi, void (*entry)(void *), void *arg) {
    /* See ctx_amd64.S: r15 r14 r13 r12 rbx rbp ret, then two zero words
     * (a fake end of the frame chain); the entry starts 16-byte aligned. */
    uintptr_t *top = (uintptr_t *)(hi - 16);
    top[0] = top[1] = 0;
    uintptr_t *sp = (uintptr_t *)(hi - 24 - 48);
    sp[0] = 0;                          /* r15 */
    sp[1] = 0;                          /* r14 */
    sp[2] = (uintptr_t)arg;             /* r13 */
    sp[3] = (uintptr_t)entry;           /* r12 */
    sp[4] = 0;                          /* rbx */
    sp[5] = 0;                          /* rbp: ends frame-pointer walks */
    sp[6] = (uintptr_t)gcrt__ctx_start; /* return address */
    return (uintptr_t)sp;
}
#else
#error "gcrt: goroutine context switch implemented for x86-64 only (see ctx_amd64.S)"
#endif

static GCRT_NORETURN void goexit(gcrt_g_t *g) {
    switch_out(g, GCRT_ACT_EXIT);
    gcrt__throw("runtime: a dead goroutine was resumed");
}

static void goroutine_entry(void *arg) {
    gcrt_g_t *g = arg;
    after_switch_in(g);
    g->fn(g->arg);
    goexit(g);
}

/* The first frame of a G that has not run yet (see newproc). g0 only. */
void gcrt__g_first_frame(gcrt_g_t *g) {
    g->sched_sp = gcrt__ctx_init(g->stack_hi, goroutine_entry, g);
}

/* ---- dead G cache (Go: gfput / gfget) -------------------------------------- */

enum { GFREE_LOCAL_MAX = 64, GFREE_GLOBAL_STACKS = 1024 };
static gcrt_g_t *gfree_nostack; /* sched.lock; atomic peek */
/* Committed stack bytes of the dead Gs on the global list (sched.lock;
 * relaxed reads). Per-P lists count in pp->gfree_bytes (owner). So
 * StackInuse = committed - cached costs no shared write per goroutine. */
static uint64_t gfree_bytes;

static void global_push(gcrt_g_t *x, uint64_t bytes) { /* sched.lock held */
    x->schedlink = gcrt__sched.gfree;
    gcrt__sched.gfree = x;
    gcrt_store_relaxed(&gcrt__sched.ngfree, gcrt__sched.ngfree + 1);
    gcrt_store_relaxed(&gfree_bytes, gfree_bytes + bytes);
}

static gcrt_g_t *global_pop(void) { /* sched.lock held */
    gcrt_g_t *x = gcrt__sched.gfree;
    if (!x) return NULL;
    gcrt__sched.gfree = x->schedlink;
    gcrt_store_relaxed(&gcrt__sched.ngfree, gcrt__sched.ngfree - 1);
    gcrt_store_relaxed(&gfree_bytes, gfree_bytes - gcrt__stack_bytes(x));
    return x;
}

void gcrt__gfput(gcrt_psched_t *pp, gcrt_g_t *g) {
    uint64_t bytes = gcrt__stack_bytes(g);
    if (pp) {
        g->schedlink = pp->gfree;
        pp->gfree = g;
        gcrt_store_relaxed(&pp->gfree_bytes, pp->gfree_bytes + bytes);
        if (++pp->ngfree < GFREE_LOCAL_MAX) return;
        /* Move half to the global list. */
        gcrt__lock(&gcrt__sched.lock);
        while (pp->ngfree > GFREE_LOCAL_MAX / 2) {
            gcrt_g_t *x = pp->gfree;
            uint64_t b = gcrt__stack_bytes(x);
            pp->gfree = x->schedlink;
            pp->ngfree--;
            gcrt_store_relaxed(&pp->gfree_bytes, pp->gfree_bytes - b);
            global_push(x, b);
        }
        gcrt__unlock(&gcrt__sched.lock);
    } else {
        gcrt__lock(&gcrt__sched.lock);
        global_push(g, bytes);
        gcrt__unlock(&gcrt__sched.lock);
    }
}

/* Gives the stacks of dead Gs beyond GFREE_GLOBAL_STACKS back to the OS,
 * at most max of them; returns how many. sysmon calls it every 100 ms, so
 * a burst of goroutines keeps its stacks for reuse (create+exit churn
 * costs no system calls) and an idle program returns them soon after
 * (Go frees cached stacks at each GC). */
int gcrt__gfree_trim(int max) {
    int n = 0;
    while (n < max && gcrt_load_relaxed(&gcrt__sched.ngfree) > GFREE_GLOBAL_STACKS) {
        gcrt__lock(&gcrt__sched.lock);
        gcrt_g_t *x = gcrt__sched.ngfree > GFREE_GLOBAL_STACKS ? global_pop() : NULL;
        gcrt__unlock(&gcrt__sched.lock);
        if (!x) break;
        gcrt__stack_free(x);
        gcrt__lock(&gcrt__sched.lock);
        x->schedlink = gfree_nostack;
        gcrt_store_relaxed(&gfree_nostack, x);
        gcrt__unlock(&gcrt__sched.lock);
        n++;
    }
    return n;
}

/* Committed stack bytes held by dead Gs and spare slots (for StackInuse /
 * StackSys). */
uint64_t gcrt__gfree_cached_bytes(void) {
    uint64_t b = gcrt_load_relaxed(&gfree_bytes);
    int32_t nallps = gcrt_load_acquire(&gcrt__sched.nallps);
    for (int32_t i = 0; i < nallps; i++)
        b += gcrt_load_relaxed(&gcrt__sched.ps[i]->gfree_bytes) +
             gcrt_load_relaxed(&gcrt__sched.ps[i]->spare_bytes);
    return b;
}

static inline bool stack_fits(uintptr_t lo, uintptr_t hi) {
    size_t max = gcrt_load_relaxed(&gcrt__stack_max_bytes);
    return hi - lo >= max && hi - lo <= 2 * max;
}

/* A burst of new goroutines waits in the run queues long enough for each
 * one's stack to leave the cache and the TLB (stacks are pages 1 MiB
 * apart), so the M that starts it would miss twice on its first frame.
 * Instead, an exiting G leaves its stack in its P's spare slot and the
 * next G to start on that P runs on it, giving its own, cold, stack to the
 * slot; the next exit moves that one on to the dead G. */
void gcrt__stack_swap_spare(gcrt_psched_t *pp, gcrt_g_t *g) {
    if (!pp || !g->stk || !stack_fits(g->stack_lo, g->stack_hi)) return;
    /* A starting G takes only a spare that fits the current maximum; a
     * dead one takes whatever the slot holds (gfget frees a stack of a
     * former maximum, or allocates for a G left without one). */
    if (g->status != GCRT_G_DEAD && !(pp->spare_stk && stack_fits(pp->spare_lo, pp->spare_hi)))
        return;
    struct gcrt_stack *stk = g->stk;
    uintptr_t lo = g->stack_lo, hi = g->stack_hi, sp_min = g->sp_min;
    uint64_t bytes = gcrt__stack_bytes(g);
    g->stk = pp->spare_stk;
    g->stack_lo = pp->spare_lo;
    g->stack_hi = pp->spare_hi;
    g->sp_min = pp->spare_sp_min;
    pp->spare_stk = stk;
    pp->spare_lo = lo;
    pp->spare_hi = hi;
    pp->spare_sp_min = sp_min;
    gcrt_store_relaxed(&pp->spare_bytes, bytes);
}

/* A dead G, from pp's list, else a batch from the global one (Go: gfget
 * takes up to 32 at a time, so a P that creates what another P retires
 * takes sched.lock once per batch, not once per goroutine). */
static gcrt_g_t *gfget(gcrt_psched_t *pp) {
    gcrt_g_t *g = NULL;
    if (pp && !pp->gfree &&
        (gcrt_load_relaxed(&gcrt__sched.ngfree) > 0 || gcrt_load_relaxed(&gfree_nostack))) {
        gcrt__lock(&gcrt__sched.lock);
        while (pp->ngfree < GFREE_LOCAL_MAX / 2) {
            gcrt_g_t *x = global_pop();
            if (!x && gfree_nostack) {
                x = gfree_nostack;
                gcrt_store_relaxed(&gfree_nostack, x->schedlink);
            }
            if (!x) break;
            x->schedlink = pp->gfree;
            pp->gfree = x;
            pp->ngfree++;
            gcrt_store_relaxed(&pp->gfree_bytes, pp->gfree_bytes + gcrt__stack_bytes(x));
        }
        gcrt__unlock(&gcrt__sched.lock);
    }
    if (pp && pp->gfree) {
        g = pp->gfree;
        pp->gfree = g->schedlink;
        pp->ngfree--;
        gcrt_store_relaxed(&pp->gfree_bytes, pp->gfree_bytes - gcrt__stack_bytes(g));
    } else if (!pp &&
               (gcrt_load_relaxed(&gcrt__sched.ngfree) > 0 || gcrt_load_relaxed(&gfree_nostack))) {
        gcrt__lock(&gcrt__sched.lock);
        g = global_pop();
        if (!g && gfree_nostack) {
            g = gfree_nostack;
            gcrt_store_relaxed(&gfree_nostack, g->schedlink);
        }
        gcrt__unlock(&gcrt__sched.lock);
    }
    if (!g) return NULL;
    size_t max = gcrt_load_relaxed(&gcrt__stack_max_bytes);
    size_t have = g->stack_hi - g->stack_lo;
    if (g->stk && (have < max || have > 2 * max)) gcrt__stack_free(g); /* max changed */
    return g;
}

/* ---- creation ------------------------------------------------------------ */

enum { GOID_BATCH = 16 }; /* Go: _GoidCacheBatch */

static int64_t newgoid(gcrt_psched_t *pp) {
    if (!pp) return gcrt_xadd(&gcrt__sched.goidgen, 1) + 1;
    if (pp->goidcache == pp->goidcacheend) {
        pp->goidcache = gcrt_xadd(&gcrt__sched.goidgen, GOID_BATCH) + 1;
        pp->goidcacheend = pp->goidcache + GOID_BATCH;
    }
    return pp->goidcache++;
}

/* Live user goroutines: the count kept off any P plus every P's own
 * (created minus exited there). Read without stopping anything, so a
 * goroutine created on one P and exited on another may be seen half way;
 * like Go's gcount, never below 0. */
int64_t gcrt__ngoroutine(void) {
    int64_t n = gcrt_load_relaxed(&gcrt__sched.ngoroutine);
    int32_t nallps = gcrt_load_acquire(&gcrt__sched.nallps);
    for (int32_t i = 0; i < nallps; i++) n += gcrt_load_relaxed(&gcrt__sched.ps[i]->ngoroutine);
    return n < 0 ? 0 : n;
}

/* One more (delta 1) or one fewer (-1) user goroutine, counted on pp. */
void gcrt__ngoroutine_add(gcrt_psched_t *pp, int64_t delta) {
    if (pp)
        gcrt_store_relaxed(&pp->ngoroutine, pp->ngoroutine + delta);
    else
        gcrt_xadd(&gcrt__sched.ngoroutine, delta);
}

/* A dead or new G, ready to run fn(arg). Its stack is not touched here:
 * sched_sp = 0 means "not started", and gcrt__execute builds the first
 * frame on the M that runs it (which touches that stack anyway), so the
 * creator takes no cache or TLB miss on a stack it never uses. */
static gcrt_g_t *newproc(void (*fn)(void *), void *arg, uintptr_t pc, gcrt_msched_t *ms) {
    gcrt_psched_t *pp = ms ? ms->pp : NULL;
    gcrt_g_t *g = gfget(pp);
    if (!g) g = gcrt__galloc();
    if (!g->stk && gcrt__stack_alloc(g) != 0) {
        g->status = GCRT_G_DEAD;
        gcrt__gfput(NULL, g);
        return NULL;
    }
#if defined(GCRT_TSAN_FIBERS)
    if (!g->tsan_fiber) g->tsan_fiber = __tsan_create_fiber(0);
#endif
    gcrt_g_t *parent = ms ? ms->curg : NULL;
    g->fn = fn;
    g->arg = arg;
    g->startpc = (uintptr_t)fn;
    g->gopc = pc;
    g->parentgoid = parent ? parent->goid : 0;
    g->goid = newgoid(pp);
    g->system = 0;
    g->main = 0;
    gcrt_store_relaxed(&g->preempt, 0);
    g->param = NULL;
    g->waiting = NULL;
    g->waitreason = 0;
    g->waitsince = 0;
    g->m = NULL;
    g->createtime = 0;
    g->sched_sp = 0;
    return g;
}

static void runqput_any(gcrt_msched_t *ms, gcrt_g_t *g) {
    gcrt_psched_t *pp = ms ? ms->pp : NULL;
    if (pp) {
        gcrt__runqput(pp, g, 1);
    } else {
        gcrt__lock(&gcrt__sched.lock);
        gcrt__globrunqput(g);
        gcrt__unlock(&gcrt__sched.lock);
    }
}

static int64_t go(void (*fn)(void *), void *arg, uintptr_t pc, int system) {
    if (!fn) return -EINVAL;
    if (!system && gcrt__fork_child_without_sched(GCRT_CHILD_GOROUTINES)) return -ENOTSUP;
    int err = gcrt__runtime_init();
    if (err) return err;
    gcrt__sched_start();
    gcrt_msched_t *ms = gcrt__getms();
    gcrt_g_t *g = newproc(fn, arg, pc, ms);
    if (!g) return -ENOMEM;
    int64_t id = g->goid;
    g->system = (uint8_t)system;
    if (!system) gcrt__ngoroutine_add(ms ? ms->pp : NULL, 1);
    gcrt_store_release(&g->status, GCRT_G_RUNNABLE);
    runqput_any(ms, g);
    gcrt__wakep();
    return id;
}

int64_t gcrt_go(void (*fn)(void *), void *arg) {
    return go(fn, arg, (uintptr_t)__builtin_return_address(0), 0);
}

int64_t gcrt__go_system(void (*fn)(void *), void *arg) {
    return go(fn, arg, (uintptr_t)__builtin_return_address(0), 1);
}

/* ---- park / ready -------------------------------------------------------- */

/* A thread G parks on its futex word: ready stores 1 and wakes it. The
 * word is cleared before unlockf runs, so a ready that follows the unlock
 * is never lost. While asleep the thread counts as stopped for a
 * stop-the-world (its frames, with registers spilled, are above stop_sp). */
static GCRT_NOINLINE void park_thread(gcrt_g_t *g, int (*unlockf)(gcrt_g_t *, void *), void *arg,
                                      unsigned reason) {
    gcrt_store_relaxed(&g->parkword, 0);
    gcrt_store_relaxed(&g->waitreason, (uint8_t)reason);
    gcrt_store_relaxed(&g->waitsince, gcrt__nanotime_coarse());
    gcrt_store_release(&g->status, GCRT_G_WAITING);
    if (unlockf && !unlockf(g, arg)) {
        uint32_t w = GCRT_G_WAITING;
        if (gcrt_cas(&g->status, &w, GCRT_G_RUNNING)) {
            gcrt_store_relaxed(&g->waitreason, 0);
            gcrt_store_relaxed(&g->waitsince, 0);
            return;
        }
        /* Readied meanwhile: consume the wakeup below. */
    }
    gcrt_msched_t *ms = gcrt__getms();
    __builtin_unwind_init();
    /* Scan from a local: the callee-saved registers spilled above it (and
     * below this frame's frame pointer) may hold the caller's pointers. */
    volatile uintptr_t here = 0;
    ms->stop_sp = (uintptr_t)&here & ~(uintptr_t)15;
    ms->stop_fp = (uintptr_t)__builtin_frame_address(0);
    gcrt__ms_block(ms);
    while (gcrt_load_acquire(&g->parkword) == 0) gcrt__futex_wait(&g->parkword, 0, -1);
    gcrt__ms_unblock(ms);
    gcrt_store_relaxed(&g->waitreason, 0);
    gcrt_store_relaxed(&g->waitsince, 0);
    gcrt_store_release(&g->status, GCRT_G_RUNNING);
}

static void ready_thread(gcrt_g_t *g) {
    uint32_t w = GCRT_G_WAITING;
    if (!gcrt_cas(&g->status, &w, GCRT_G_RUNNABLE))
        gcrt__throwf("gcrt__ready: thread G %lld is not waiting (status %u)", (long long)g->goid,
                     w);
    gcrt_store_release(&g->parkword, 1);
    gcrt__futex_wake(&g->parkword, 1);
}

void gcrt__park(int (*unlockf)(gcrt_g_t *g, void *arg), void *arg, unsigned reason) {
    gcrt_msched_t *ms = gcrt__getms();
    if (!ms) gcrt__throw("gcrt__park: thread not attached (call gcrt_thread_attach first)");
    gcrt_g_t *g = ms->curg;
    if (g->is_thread) {
        if (GCRT_UNLIKELY(ms->runtime)) gcrt__throw("gcrt__park on the scheduler stack");
        park_thread(g, unlockf, arg, reason);
        return;
    }
    gcrt_store_relaxed(&g->waitreason, (uint8_t)reason);
    gcrt_store_relaxed(&g->waitsince, gcrt__nanotime_coarse());
    ms->unlockf = unlockf;
    ms->unlockarg = arg;
    switch_out(g, GCRT_ACT_PARK);
}

void gcrt__ready(gcrt_g_t *g) {
    if (g->is_thread) {
        ready_thread(g);
        return;
    }
    uint32_t w = GCRT_G_WAITING;
    if (!gcrt_cas(&g->status, &w, GCRT_G_RUNNABLE))
        gcrt__throwf("gcrt__ready: goroutine %lld is not waiting (status %u)", (long long)g->goid,
                     w);
    runqput_any(gcrt__getms(), g);
    gcrt__wakep();
}

void gcrt__gosched(void) {
    gcrt_msched_t *ms = gcrt__getms();
    gcrt_g_t *g = ms ? ms->curg : NULL;
    if (!g || g->is_thread) {
        gcrt__os_yield();
        if (g) gcrt__safepoint();
        return;
    }
    switch_out(g, GCRT_ACT_GOSCHED);
}

void gcrt_gosched(void) {
    gcrt__gosched();
}

/* Preemption requested by sysmon, seen at a safepoint (stw.c). */
void gcrt__preempt_self(void) {
    gcrt_msched_t *ms = gcrt__getms();
    gcrt_g_t *g = ms->curg;
    if (g->is_thread || ms->locks > 0 || ms->blockdepth > 0) return;
    gcrt_store_relaxed(&g->preempt, 0);
    switch_out(g, GCRT_ACT_PREEMPT);
}

int64_t gcrt_goid(void) {
    gcrt_g_t *g = gcrt__getg();
    return g ? g->goid : 0;
}

int64_t gcrt_num_goroutine(void) {
    return gcrt__ngoroutine();
}

gcrt_g_t *gcrt__newproc_main(void (*fn)(void *), gcrt_msched_t *ms) {
    gcrt_g_t *g = newproc(fn, NULL, 0, ms);
    return g;
}

void gcrt__switch_out_blocked(gcrt_g_t *g) {
    switch_out(g, GCRT_ACT_BLOCKED);
}

/* fork.c: this file's global locks. */
void gcrt__sched_fork_locks(void) {
    gcrt__fork_add_lock(&galloc_lock);
}
