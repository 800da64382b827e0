/* gc.c - the garbage collector: a tour, cycle control, mark workers,
 * runtime.GC, the knobs, gctrace and the GC half of MemStats (Go: mgc.go).
 *
 *  1. Objects. Every heap object has a mark bit (span->gcmark_bits,
 *     mheap.h). An object is white (unmarked), grey (marked, waiting in a
 *     work buffer, mgcmark.c) or black (marked and scanned). Noscan objects
 *     go black at once: they are never scanned.
 *
 *  2. Roots, scanned conservatively (mgcmark.c): the data and bss of the
 *     executable and of every loaded library, ranges registered with
 *     gcrt_add_roots, the stacks and saved registers of every stopped thread
 *     and parked goroutine, and the collecting thread's own stack. Any
 *     aligned word that points into an allocated object - interior pointers
 *     included - keeps it alive.
 *
 *  3. A cycle, as in Go:
 *     a. Trigger: the allocator's slow path sees heap_live reach the
 *        pacer's trigger (pacer.c), or the program calls gcrt_gc.
 *     b. Sweep termination (stop-the-world #1): the previous cycle's sweep is
 *        finished first; sync.Pool caches move to their victims; the write
 *        barrier and black allocation turn on; every root is copied into
 *        the root snapshot and queued as mark work (mgcmark.c, "root
 *        snapshots": the copy is what the stop must do, the scan is done
 *        by the concurrent mark) and the current tiny blocks are shaded.
 *        The world restarts.
 *     c. Concurrent mark: background mark threads (mark_worker below:
 *        Go's 25% of GOMAXPROCS as dedicated and fractional workers, plus
 *        idle-time marking on Ps nobody runs on) and mark assists in allocating threads
 *        (charged by the pacer, paid first from the scan credit the workers
 *        have earned, Go's bgScanCredit) drain the work buffers. Objects allocated
 *        now are black; gcrt_store shades both the overwritten and the
 *        stored pointer (Go's hybrid barrier, mbarrier.c) into the P's
 *        buffer, which an allocating thread hands over when the workers
 *        run dry (gcrt__gc_assist).
 *     d. Mark termination (stop-the-world #2): the per-P barrier buffers
 *        are flushed; what they held is drained for at most
 *        MARKTERM_DRAIN_NS, and if work is left the mark restarts (Go
 *        restarts too); else the barrier turns off, every P's cached spans
 *        are given back, the pacer computes the next goal and the heap's
 *        sweepgen moves on, which makes every span unswept at once.
 *     e. Concurrent sweep (mgcsweep.c) by the background sweeper, by
 *        allocation (a span is always swept before reuse) and by the next
 *        cycle's start.
 *
 *  4. Why roots need no barrier. The collector is snapshot-at-the-beginning:
 *     every root (stacks, registers, globals, registered ranges) is read
 *     (copied) at stop-the-world #1, so everything the program can reach afterwards
 *     was either reachable in that snapshot or allocated since (black).
 *     Objects reachable in the snapshot stay marked because a pointer field
 *     of a heap object can only be overwritten through gcrt_store, which
 *     shades the old value (the deletion half of Go's barrier). Plain C
 *     stores into globals and stacks are therefore safe; plain stores into
 *     heap objects are not - use gcrt_store, or GODEBUG=gcstoptheworld=1,
 *     and GODEBUG=gccheckmark=1 finds a missing barrier.
 *
 *  5. GODEBUG: gcstoptheworld=1 marks with the world stopped (sweeping
 *     stays concurrent), =2 sweeps with the world stopped too;
 *     gccheckmark=1 checks every cycle's mark with the world stopped (no
 *     marked object, global, registered root or TLS word may point to an
 *     unmarked object: the tri-color invariant, which a missed object
 *     breaks) and stops the program if one does; stack words that do are
 *     reported and their objects kept (mgcmark.c, gcrt__gc_checkmark);
 *     gctrace=1 prints Go's line per cycle (gctrace.c); gcpausetrace=1
 *     (gcrt's own) prints where each stop-the-world's time went: one line
 *     per stop with the time of each step, and how the world was stopped
 *     (rounds of the stopper's loop, signals sent, refused). */
#include "gc.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "gctrace.h"
#include "godebug.h"
#include "malloc.h"
#include "mcache.h"
#include "memstats.h"
#include "os.h"
#include "pacer.h"
#include "pool.h"
#include "proc.h"
#include "scavenge.h"
#include "sched_internal.h"

/* Read by the program on every pointer store (gcrt_store) and allocation
 * refill, written a few times a cycle: on a cache line of their own. A
 * counter a mark worker writes as it marks, once placed on this line (the
 * workers' array moved up by 8 bytes in the linker's layout), made every
 * store of the program miss and binary-trees' mark ~1.7x slower
 * (tests/bench/RESULTS.md section 17). */
#define READ_MOSTLY __attribute__((section(".data.gcrt_read_mostly"), aligned(GCRT_CACHELINE)))
uint32_t gcrt__gcphase READ_MOSTLY = 0;
uint32_t gcrt__gc_marking READ_MOSTLY = 0;
uint32_t gcrt_gc_barrier_on READ_MOSTLY = 0; /* the flag gcrt_store reads (gcrt.h) */

/* ---- cycle state -------------------------------------------------------- */

/* start_lock: held by whoever runs stop-the-world #1 (and by the whole
 * cycle in stop-the-world modes). stats_lock: the fields below. */
static gcrt_lock_t start_lock = GCRT_LOCK_INIT(GCRT_RANK_NONE);
static gcrt_lock_t stats_lock = GCRT_LOCK_INIT(GCRT_RANK_STATS);
static gcrt_lock_t pacer_lock = GCRT_LOCK_INIT(GCRT_RANK_LEAF);

static struct gcrt_pacer pacer; /* pacer_lock */
/* Go's GC CPU limiter (mgclimit.go): a bucket that fills with GC CPU time
 * (assists, 25% while marking, the stop-the-world pauses x procs) and
 * drains with mutator time; while it is full, assists are skipped, so a
 * GC that cannot keep up (a memory limit below the live heap) takes at
 * most about half the CPU instead of all of it. */
static struct gcrt_cpu_limiter limiter;       /* pacer_lock */
uint32_t gcrt__gc_limiter_on READ_MOSTLY = 0; /* limiter.enabled, for lock-free checks */
/* Assist and idle ns not yet in the limiter's pools: added without the
 * lock (an update that cannot take it must not lose them), moved in under
 * pacer_lock before each update and transition. Atomic. */
static int64_t limiter_assist_ns, limiter_idle_ns;
static int64_t limiter_last_ns;             /* limiter.last_update_ns, for lock-free checks */
static uint64_t limiter_skipped;            /* limiter.assists_skipped; atomic */
static int32_t limiter_new_procs;           /* GOMAXPROCS changed in a transition; pacer_lock */
static uint64_t cyc_snap;                   /* root snapshot bytes of the running cycle; atomic */
static uint64_t trigger_bytes = UINT64_MAX; /* heap_live that starts a cycle; atomic */
static uint64_t cyc_goal = UINT64_MAX;      /* heap goal of the running cycle; atomic */
/* Scan work the background workers have done and no assist has taken yet
 * (Go: gcController.bgScanCredit). An assist pays its debt from it first
 * and marks only for the rest: the workers' marking counts for the
 * allocating threads, so that with the workers keeping up (an idle P
 * marking full time) allocation does not mark as well. Racy like Go's:
 * two assists taking at once may leave it below zero, which only makes
 * the next ones find none until the workers have flushed more. Zeroed at
 * each cycle's start (prepare_mcaches_for_mark). Atomic. */
static int64_t bg_scan_credit;

static GCRT_NOSCAN_DATA struct {
    uint32_t num_gc, num_forced_gc;
    uint64_t pause_ns[256], pause_end[256];
    uint64_t pause_total_ns;
    uint64_t last_gc_unix;
    uint64_t gc_cpu_ns;     /* Go's work.totaltime */
    double gc_cpu_fraction; /* as of the last cycle's end (memstats.gc_cpu_fraction) */
    /* The integral of GOMAXPROCS over time (Go: sched.totaltime up to
     * sched.procresizetime, at procs_cur Ps since). */
    int64_t procs_total_ns, procs_resize_ns;
    int32_t procs_cur;
} st;

static int32_t procs(void);

/* Go's totalCpu: sched.totaltime + (now - sched.procresizetime) * gomaxprocs
 * (stats_lock held). */
static double total_cpu_locked(int64_t now) {
    if (st.procs_cur == 0) {
        st.procs_cur = procs();
        st.procs_resize_ns = gcrt__runtime_init_time;
    }
    return (double)st.procs_total_ns + (double)(now - st.procs_resize_ns) * st.procs_cur;
}

/* The running cycle (written with the world stopped or by the worker that
 * claimed termination). */
static struct {
    int forced;
    int mode; /* 0 concurrent, 1 STW mark, 2 STW mark and sweep */
    int64_t t_start, t_mark, t_markterm, t_end;
    int64_t stw1_ns; /* sweep termination pause */
    uint64_t heap0;  /* heap_live at the trigger */
    uint64_t stacks, globals;
    uint64_t marked_extra; /* bytes marked by root scans and termination */
    int restarts;
    int64_t cpu_dedicated, cpu_fractional, cpu_idle; /* worker CPU this cycle */
    /* Stop-the-world modes: the CPU of the mark the stopping thread did.
     * gctrace shows it with the background workers' (Go's mark in these
     * modes is its workers'); GCCPUFraction has it already, as the stop's
     * clock x stwprocs. */
    int64_t cpu_stw_mark;
    /* Started by the periodic check (Go's forcegc): fewer idle workers. */
    int periodic;
    int64_t assist_ns;        /* assist wall time this cycle; atomic */
    int64_t restart_pause_ns; /* mark termination stops that restarted the mark */
    /* GOMAXPROCS at the cycle's start, and min(it, ncpu) (Go: work.maxprocs,
     * work.stwprocs, read once in gcStart). gcrt_gomaxprocs does not wait
     * for a cycle to end (Go's GOMAXPROCS does: it takes gcsema), so the
     * value may differ by the end; gctrace reports these. */
    int32_t maxprocs, stwprocs;
    /* Mark termination offered to the program's threads (see "mark
     * termination at a program's safepoint"): when the last offer began,
     * and the time all offers of the cycle waited. */
    int64_t t_offer, offer_ns;
    int offer_taken; /* the last offer was taken by a program thread */
} cyc;

/* How long mark termination drains with the world stopped before it
 * restarts the mark instead (gcrt__gc_mark_done): a large heap's objects
 * cost a cache miss or three each, so the bound is in time, not bytes. */
enum { MARKTERM_DRAIN_NS = 10 * 1000 };

/* Cycle counters (Go: work.cycles): started bumps when a cycle starts
 * (start_lock held), completed when its mark termination is done; gcrt_gc
 * waits on completed. */
static uint32_t started, completed;
/* Odd while gc_start_locked runs (start_lock held), bumped and woken when
 * it is done: an allocation that reaches the trigger meanwhile waits for
 * the start (gcrt__gc_maybe_start). */
static uint32_t start_word;
/* Mark worker CPU by mode over all cycles: dedicated, fractional, idle
 * (tests; each cycle's is in its gctrace line). */
static int64_t worker_cpu_total[3];
static uint32_t cur_mode;   /* cyc.mode for the mark workers; atomic */
static uint32_t term_claim; /* 1 while a worker runs mark termination */
/* Mark termination offered to the program (markterm_offer). */
uint32_t gcrt__gc_term_offer;                  /* odd: an offer is open (its token); atomic */
int64_t gcrt__gc_markterm_offer_ns = 50000000; /* how long an offer stays open; tests set it */
uint64_t gcrt__gc_offers_taken, gcrt__gc_offers_expired; /* atomic */
static uint32_t term_offer_gen;                          /* term_claim holder only */
static int32_t term_hurry;         /* threads waiting for a cycle's end; atomic */
static uint32_t term_wake;         /* futex of the offering worker: bumped when taken or hurried */
static int32_t busy;               /* workers holding grey objects; atomic */
static uint32_t worker_word;       /* futex: bumped at each phase change */
static uint32_t workers_on;        /* 1 while a concurrent mark wants the workers; atomic */
static struct gcrt_mark_plan plan; /* pacer_lock: this cycle's worker sizing */
/* The same, for allocating threads deciding on a fractional slice without
 * the pacer lock (fields atomic, written at mark start, world stopped). */
static struct {
    int32_t procs, dedicated;
    uint64_t fractional_goal_bits;
    int64_t mark_start_ns;
} mplan;
static void mplan_publish(const struct gcrt_mark_plan *pl) {
    uint64_t g;
    memcpy(&g, &pl->fractional_goal, sizeof g);
    gcrt_store_relaxed(&mplan.procs, pl->procs);
    gcrt_store_relaxed(&mplan.dedicated, pl->dedicated);
    gcrt_store_relaxed(&mplan.fractional_goal_bits, g);
    gcrt_store_relaxed(&mplan.mark_start_ns, pl->mark_start_ns);
}
static int64_t mutator_fractional_ns; /* CPU the program's threads marked as fractional; atomic */
static void mutator_fractional(gcrt_mcache_t *c);
static void markterm_take(void);
static gcrt_roots_t global_roots;

/* ---- GODEBUG=gcpausetrace=1: where a stop-the-world's time goes ---------- */

/* Each stop records named timestamps; the line is printed after the world
 * restarts: "gcpause N stw1 total=..us stop=..us sweep=..us ...", each
 * figure the time since the previous mark. */
enum { PT_MAX = 16 };
struct pausetrace {
    const char *name[PT_MAX];
    int64_t t[PT_MAX];
    int n;
    int stopped_n;    /* marks up to the world's restart (total), 0: all */
    int64_t offer_ns; /* mark termination: how long it was offered, -1: not */
    int offer_taken;  /* ... and whether a program thread took it */
    int have_stop;    /* stop holds the detail of this trace's stop */
    struct gcrt_stw_detail stop;
};
static struct pausetrace pt_stw1, pt_stw2;

static inline void pt_reset(struct pausetrace *pt, int64_t t0) {
    if (!gcrt__debug.gcpausetrace) return;
    pt->n = 1;
    pt->stopped_n = 0;
    pt->offer_ns = -1;
    pt->have_stop = 0;
    pt->name[0] = "";
    pt->t[0] = t0;
}
static inline void pt_mark(struct pausetrace *pt, const char *name) {
    if (!gcrt__debug.gcpausetrace || pt->n == 0 || pt->n >= PT_MAX) return;
    pt->name[pt->n] = name;
    pt->t[pt->n++] = gcrt__nanotime();
}
/* The world is stopped: the "stop" mark, and the stop's detail copied now,
 * while the world is still stopped; another stop (a MemStats read, say)
 * may come between the restart and the line's printing and would
 * overwrite the stopper's record. */
static inline void pt_stopped(struct pausetrace *pt) {
    if (!gcrt__debug.gcpausetrace || pt->n == 0) return;
    pt_mark(pt, "stop");
    gcrt__stw_last_detail(&pt->stop);
    pt->have_stop = 1;
}
/* The restart: "start" ends when the world runs again (running, from
 * gcrt__start_the_world), and "wake", the wake-up call of the stopped
 * threads after it, is not in the total: the caller may be descheduled in
 * it for milliseconds by a thread it woke, while the world runs. */
static inline void pt_restarted(struct pausetrace *pt, const char *name, int64_t running) {
    if (!gcrt__debug.gcpausetrace || pt->n == 0 || pt->n + 1 >= PT_MAX) return;
    pt->name[pt->n] = name;
    pt->t[pt->n++] = running;
    pt->stopped_n = pt->n;
    pt_mark(pt, "wake");
}
static void pt_print(struct pausetrace *pt, const char *what, uint32_t num) {
    if (!gcrt__debug.gcpausetrace || pt->n < 2) return;
    char line[512];
    size_t off = 0;
    int64_t total = pt->t[(pt->stopped_n ? pt->stopped_n : pt->n) - 1] - pt->t[0];
    off +=
        gcrt__fmt(line + off, sizeof line - off, "gcpause %u %s at=%lld tid=%d total=%lld.%lluus",
                  (unsigned)num, what, (long long)pt->t[0], gcrt__os_gettid(),
                  (long long)(total / 1000), (unsigned long long)(total % 1000 / 100));
    if (pt->offer_ns >= 0)
        off += gcrt__fmt(line + off, sizeof line - off, " offered=%lldus/%s",
                         (long long)(pt->offer_ns / 1000), pt->offer_taken ? "taken" : "expired");
    for (int i = 1; i < pt->n && off < sizeof line; i++) {
        int64_t d = pt->t[i] - pt->t[i - 1];
        off += gcrt__fmt(line + off, sizeof line - off, " %s=%lld.%lluus", pt->name[i],
                         (long long)(d / 1000), (unsigned long long)(d % 1000 / 100));
    }
    struct gcrt_stw_detail d = pt->stop;
    if (!pt->have_stop) gcrt__stw_last_detail(&d);
    if (off < sizeof line)
        off += gcrt__fmt(
            line + off, sizeof line - off,
            " [rounds=%d signals=%d first@%lldus handler@%lldus by_signal=%d refused_nostop=%d "
            "refused_unsafe=%d",
            d.rounds, d.sent, (long long)(d.first_signal_ns / 1000),
            (long long)(d.handler_ns / 1000), d.by_signal, d.refused_nostop, d.refused_unsafe);
    if (off < sizeof line && d.signal_pc) {
        char where[200];
        gcrt__symbolize(d.signal_pc, where, sizeof where);
        off += gcrt__fmt(line + off, sizeof line - off, " at %s", where);
    }
    if (off < sizeof line) off += gcrt__fmt(line + off, sizeof line - off, "]");
    if (off >= sizeof line - 1) off = sizeof line - 2;
    line[off++] = '\n';
    gcrt__os_write(2, line, off);
    pt->n = 0;
}

/* ---- helpers -------------------------------------------------------------- */

static void pacer_mem(struct gcrt_pacer_mem *m) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uint64_t inuse = gcrt_load_relaxed(&h->heap_inuse) + gcrt_load_relaxed(&h->stack_inuse);
    uint64_t hfree = gcrt_load_relaxed(&h->heap_free);
    /* Everything Sys counts, goroutine stacks included (Go: mappedReady). */
    m->mapped_ready = gcrt__mheap_mapped_ready(h);
    if (m->mapped_ready < inuse + hfree) m->mapped_ready = inuse + hfree; /* read apart */
    m->heap_free = hfree;
    uint64_t live = gcrt_load_relaxed(&gcrt__heap_live);
    m->heap_alloc = live < inuse ? live : inuse;
}

static int32_t procs(void) {
    int32_t n = gcrt_load_relaxed(&gcrt__gomaxprocs); /* GOMAXPROCS may change meanwhile */
    return n > 0 ? n : 1;
}

/* Publishes the memory limit to the heap (pacer_lock held). The heap's 0
 * means none, so a limit of 0 (valid, as in Go: the collector then runs
 * nearly all the time and frees pages at once) goes there as 1 byte. */
static void update_limit_locked(void) {
    uint64_t lim = (uint64_t)pacer.memory_limit;
    if (pacer.memory_limit == GCRT_PACER_NO_LIMIT)
        lim = 0;
    else if (lim == 0)
        lim = 1;
    gcrt_store_relaxed(&gcrt__mheap.memory_limit, lim);
}

/* Recomputes the trigger (pacer_lock held). */
static void update_trigger_locked(void) {
    struct gcrt_pacer_mem m;
    pacer_mem(&m);
    pacer.heap_live = gcrt_load_relaxed(&gcrt__heap_live);
    struct gcrt_pacer_trigger t = gcrt__pacer_trigger(&pacer, &m);
    gcrt_store_relaxed(
        &trigger_bytes,
        pacer.gc_percent < 0 && pacer.memory_limit == GCRT_PACER_NO_LIMIT ? UINT64_MAX : t.trigger);
}

static void wake_assists(void);
static void limiter_publish_locked(void) {
    uint32_t was = gcrt_load_relaxed(&gcrt__gc_limiter_on);
    gcrt_store_relaxed(&gcrt__gc_limiter_on, (uint32_t)limiter.enabled);
    gcrt_store_relaxed(&limiter_last_ns, limiter.last_update_ns);
    if (!was && limiter.enabled) wake_assists(); /* waiting assists give up */
}

/* Moves the lock-free assist and idle time into the limiter (pacer_lock). */
static void limiter_take_pools_locked(void) {
    int64_t a = __atomic_exchange_n(&limiter_assist_ns, 0, __ATOMIC_RELAXED);
    int64_t i = __atomic_exchange_n(&limiter_idle_ns, 0, __ATOMIC_RELAXED);
    if (a) gcrt__cpu_limiter_add_assist_time(&limiter, a);
    if (i) gcrt__cpu_limiter_add_idle_time(&limiter, i);
}

void gcrt__gc_limiter_add_assist(int64_t ns) {
    if (ns > 0) gcrt_xadd_relaxed(&limiter_assist_ns, ns);
}

void gcrt__gc_limiter_add_idle(int64_t ns) {
    if (ns > 0) gcrt_xadd_relaxed(&limiter_idle_ns, ns);
}

/* Around each of the two stops: flush the window, then count the pause as
 * GC time on every P (Go: start/finishGCTransition). */
static void limiter_transition_start(bool enable_gc) {
    gcrt__lock(&pacer_lock);
    limiter_take_pools_locked();
    gcrt__cpu_limiter_start_gc_transition(&limiter, enable_gc, gcrt__nanotime());
    limiter_publish_locked();
    gcrt__unlock(&pacer_lock);
}
static void limiter_transition_finish(void) {
    gcrt__lock(&pacer_lock);
    gcrt__cpu_limiter_finish_gc_transition(&limiter, gcrt__nanotime());
    if (limiter_new_procs) {
        gcrt__cpu_limiter_reset_capacity(&limiter, gcrt__nanotime(), limiter_new_procs);
        limiter_new_procs = 0;
    }
    limiter_publish_locked();
    gcrt__unlock(&pacer_lock);
}

/* The periodic update, at most every 10 ms (Go 1.19: the scheduler's
 * findRunnableGCWorker during a mark and the end of each assist; here the
 * assist path, sysmon and the scavenger's periodic check). Time still in
 * flight (an assist draining) is flushed by its owner as it goes, so the
 * update passes none. */
static void limiter_maybe_update(void) {
    int64_t now = gcrt__nanotime();
    if (now - gcrt_load_relaxed(&limiter_last_ns) <= GCRT_CPU_LIMITER_UPDATE_PERIOD_NS)
        return;                              /* cheap test first: sysmon calls this every round */
    if (!gcrt__trylock(&pacer_lock)) return; /* someone else is at it */
    if (!limiter.transitioning && gcrt__cpu_limiter_need_update(&limiter, now)) {
        limiter_take_pools_locked();
        gcrt__cpu_limiter_update(&limiter, now, 0, 0);
        limiter_publish_locked();
    }
    gcrt__unlock(&pacer_lock);
}

/* GOMAXPROCS changed (Go: procresize resets the capacity): the window
 * so far is counted with the old procs; during a transition, at its end. */
void gcrt__gc_limiter_set_procs(int32_t n) {
    if (n < 1) n = 1;
    /* Go's procresize: sched.totaltime += (now - procresizetime) * old procs. */
    int64_t now = gcrt__nanotime();
    gcrt__lock(&stats_lock);
    st.procs_total_ns = (int64_t)total_cpu_locked(now);
    st.procs_resize_ns = now;
    st.procs_cur = n;
    gcrt__unlock(&stats_lock);
    gcrt__lock(&pacer_lock);
    if (limiter.transitioning) {
        limiter_new_procs = n;
    } else {
        limiter_take_pools_locked();
        gcrt__cpu_limiter_reset_capacity(&limiter, gcrt__nanotime(), n);
    }
    limiter_publish_locked();
    gcrt__unlock(&pacer_lock);
}

void gcrt__gc_limiter_tick(void) {
    if (gcrt_load_relaxed(&gcrt__gc_marking) || gcrt_load_relaxed(&gcrt__gc_limiter_on))
        limiter_maybe_update();
}

uint32_t gcrt_gc_limiter_last_enabled(void) {
    gcrt__lock(&pacer_lock);
    uint32_t n = limiter.last_enabled_cycle;
    gcrt__unlock(&pacer_lock);
    return n;
}

void gcrt__gc_limiter_state(struct gcrt_cpu_limiter *out) {
    gcrt__lock(&pacer_lock);
    *out = limiter;
    gcrt__unlock(&pacer_lock);
    out->assists_skipped = gcrt_load_relaxed(&limiter_skipped);
}

/* World stopped, end of a cycle: every cache must give its spans back
 * before allocating from them again (Go: forEachP(prepareForSweep) in
 * gcMarkTermination, so that runtime.GC finds every span to sweep).
 * Returns the bytes of free slots the caches hold, which count in
 * heap_live.
 *
 * Flushed here, now: the caches of Ps nobody runs on (idle, or the thread
 * in a blocking call), and of Ps whose thread the stop signal found in the
 * program's own code (gcrt__stw_stopped_in_program): no allocation of
 * theirs can be in flight. The others are flagged and their owners flush
 * them at their next allocation (alloc_hook), detach or release of the P:
 * a thread stopped at a safepoint may be inside the allocator (refill,
 * alloc_hook), one stopped by the signal in the runtime's code or in libc
 * (memset of a new slot) may be under an allocation whose span is in a
 * register, and the stop signal is refused only in gcrt_nopreempt_text
 * and no-stop regions, not in their callees. Not the caller's own cache
 * either (gcrt_gc flushes it after the cycle; an allocating thread may end
 * a cycle from its refill). Until then those spans stay unswept after
 * gcrt_gc (README: runtime.GC). */
static uint64_t flag_all_mcaches_for_sweep(void) {
    uint64_t reserved = 0;
    int32_t np = gcrt_load_acquire(&gcrt__nallp);
    gcrt_p_t **allp = gcrt_load_acquire(&gcrt__allp);
    gcrt_m_t *self = gcrt__tls_m;
    for (int32_t i = 0; i < np; i++) {
        gcrt_p_t *p = allp[i];
        uint32_t pst = gcrt_load_acquire(&p->status);
        gcrt_m_t *owner = pst == GCRT_P_RUNNING ? gcrt_load_acquire(&p->m) : NULL;
        if (p->mcache && (pst == GCRT_P_IDLE || pst == GCRT_P_SYSCALL ||
                          (owner && owner != self && owner->mcache == p->mcache &&
                           gcrt__stw_stopped_in_program(owner)))) {
            gcrt__mcache_release_all(p->mcache);
            __atomic_fetch_and(&p->mcache->hooks, ~(uint32_t)(GCRT_HOOK_FLUSH | GCRT_HOOK_BLACK),
                               __ATOMIC_RELAXED);
        }
    }
    for (gcrt_mcache_t *c = gcrt_load_acquire(&gcrt__allmcache); c; c = c->alllink) {
        for (unsigned spc = 0; spc < GCRT_NUM_CACHE_CLASSES; spc++) {
            gcrt_span_t *s = gcrt_load_relaxed(&c->alloc[spc]);
            if (s != &gcrt__empty_span)
                reserved +=
                    (uint64_t)(s->nelems - gcrt_load_relaxed(&s->alloc_count)) * s->elemsize;
        }
        __atomic_fetch_or(&c->hooks, (uint32_t)GCRT_HOOK_FLUSH, __ATOMIC_RELAXED);
    }
    return reserved;
}

/* World stopped, start of a cycle: allocate black everywhere, and clear the
 * mark bits of spans still cached from before the last mark termination
 * (never swept, their bits are a finished cycle's). */
static void prepare_mcaches_for_mark(void) {
    uint32_t sg = gcrt_load_relaxed(&gcrt__mheap.sweepgen);
    for (gcrt_mcache_t *c = gcrt_load_acquire(&gcrt__allmcache); c; c = c->alllink) {
        for (unsigned spc = 0; spc < GCRT_NUM_CACHE_CLASSES; spc++) {
            gcrt_span_t *s = gcrt_load_relaxed(&c->alloc[spc]);
            if (s != &gcrt__empty_span && gcrt_load_relaxed(&s->sweepgen) != sg)
                for (uint32_t w = 0; w < s->nbits_words; w++)
                    gcrt_store_relaxed(&s->gcmark_bits[w], (uint64_t)0);
        }
        __atomic_fetch_or(&c->hooks, (uint32_t)GCRT_HOOK_BLACK, __ATOMIC_RELAXED);
        c->assist_credit = 0;
    }
    gcrt_store_relaxed(&bg_scan_credit, (int64_t)0);
}

static void flush_all_gcw(void) {
    for (gcrt_mcache_t *c = gcrt_load_acquire(&gcrt__allmcache); c; c = c->alllink)
        gcrt__gcwork_flush(&c->gcw);
}

static uint64_t sum_marked_and_reset(void) {
    uint64_t n = cyc.marked_extra;
    for (gcrt_mcache_t *c = gcrt_load_acquire(&gcrt__allmcache); c; c = c->alllink) {
        n += gcrt_load_relaxed(&c->gcw.bytes_marked);
        gcrt_store_relaxed(&c->gcw.bytes_marked, (uint64_t)0);
    }
    n += gcrt__gc_workers_take_marked();
    /* Objects first marked by a barrier on a thread with no P. */
    n += gcrt__wb_take_orphan_marked();
    cyc.marked_extra = 0;
    return n;
}

static void set_marking(int on) {
    gcrt_store_release(&gcrt__gc_marking, (uint32_t)on);
    gcrt_store_release(&gcrt_gc_barrier_on, (uint32_t)on);
    if (!on) wake_assists(); /* they wake once the world runs again */
}

/* Shades every P's current tiny block (Go: gcMarkTinyAllocs). */
static void mark_tiny_blocks(gcrt_gcwork_t *w) {
    for (gcrt_mcache_t *c = gcrt_load_acquire(&gcrt__allmcache); c; c = c->alllink)
        if (c->tiny) gcrt__gc_shade(w, c->tiny);
}

/* ---- mark termination and the end of a cycle ---------------------------- */

static void print_gctrace(const struct gcrt_gctrace_cycle *tc) {
    char line[GCRT_GCTRACE_LINE_MAX];
    size_t n = gcrt__gctrace_format(line, sizeof line, tc);
    if (n >= sizeof line) n = sizeof line - 1;
    gcrt__os_write(2, line, n);
}

/* World stopped, all marking done: turn the barrier off, flip the sweep,
 * pace the next cycle, record statistics. Restarts the world. */
static void finish_cycle(void) {
    cyc.t_markterm = cyc.t_markterm ? cyc.t_markterm : gcrt__nanotime();
    uint64_t heap_scan =
        __atomic_exchange_n(&gcrt__gc_heap_scan_work, (uint64_t)0, __ATOMIC_RELAXED);
    /* The root snapshot was scanned as mark work: not heap scan work. */
    uint64_t snap_bytes = gcrt__gc_snapshot_bytes();
    heap_scan = heap_scan > snap_bytes ? heap_scan - snap_bytes : 0;
    limiter_transition_start(false);
    pt_mark(&pt_stw2, "limiter");
    gcrt_store_relaxed(&gcrt__gcphase, (uint32_t)GCRT_GC_MARKTERM);
    if (gcrt__debug.gccheckmark > 0) cyc.marked_extra += gcrt__gc_checkmark(&global_roots);
    set_marking(0);
    uint64_t heap1 = gcrt_load_relaxed(&gcrt__heap_live);
    uint64_t reserved = flag_all_mcaches_for_sweep();
    pt_mark(&pt_stw2, "mcaches");
    uint64_t marked = sum_marked_and_reset();
    gcrt_store_relaxed(&gcrt__heap_live, marked + reserved);

    /* Every span becomes unswept at once. The phase first: the background
     * sweeper is not stopped with the world, and a sweeper that sees the
     * new sweepgen must see the mark over. */
    gcrt_store_release(&gcrt__gcphase, (uint32_t)GCRT_GC_OFF);
    gcrt_store_release(&gcrt__mheap.sweepgen, gcrt__mheap.sweepgen + 2);
    if (cyc.mode == 2) gcrt__finish_sweep();

    int64_t now = gcrt__nanotime();
    struct gcrt_pacer_mem m;
    pacer_mem(&m);
    gcrt__lock(&pacer_lock);
    pacer.heap_live = heap1;
    pacer.assist_time_ns = gcrt_load_relaxed(&cyc.assist_ns);
    pacer.dedicated_mark_time_ns = cyc.cpu_dedicated;
    gcrt_xadd_relaxed(&worker_cpu_total[0], cyc.cpu_dedicated);
    gcrt_xadd_relaxed(&worker_cpu_total[1], cyc.cpu_fractional);
    gcrt_xadd_relaxed(&worker_cpu_total[2], cyc.cpu_idle);
    pacer.fractional_mark_time_ns = cyc.cpu_fractional;
    pacer.idle_mark_time_ns = cyc.cpu_idle;
    pacer.globals_scan = cyc.globals;
    pacer.max_stack_scan = cyc.stacks;
    /* This cycle's scan work: what the next cycle's runway and assist
     * ratio are estimated from. */
    pacer.heap_scan_work = (int64_t)heap_scan;
    pacer.stack_scan_work = (int64_t)cyc.stacks;
    pacer.globals_scan_work = (int64_t)cyc.globals;
    uint64_t goal_in_force = gcrt__pacer_heap_goal(&pacer, &m);
    /* heap_scan becomes this mark's heap scan work (finish_cycle); the
     * scannable allocation during the mark is part of it already. */
    gcrt_store_relaxed(&gcrt__heap_scan_alloc, (uint64_t)0);
    /* The offers' wait is not mark time: the mark was over (the pacer's
     * utilisation figures divide by the mark's duration). */
    gcrt__pacer_finish_cycle(&pacer, now - cyc.offer_ns, procs(), marked, cyc.mode == 2, &m);
    pacer.last_heap_goal = goal_in_force;
    uint64_t next_goal = gcrt__pacer_heap_goal(&pacer, &m);
    update_trigger_locked();
    gcrt__unlock(&pacer_lock);
    /* Every span is unswept now: allocation shares the sweep out until the
     * next trigger (stop-the-world sweep mode has just finished it). */
    gcrt__sweep_pace(cyc.mode == 2 ? UINT64_MAX : gcrt_load_relaxed(&trigger_bytes),
                     gcrt_load_relaxed(&gcrt__heap_live),
                     gcrt_load_relaxed(&gcrt__mheap.heap_inuse) >> GCRT_PAGE_SHIFT);
    pt_mark(&pt_stw2, "pacer");
    gcrt__scavenger_set_goal_inputs(gcrt_load_relaxed(&gcrt__mheap.heap_inuse), next_goal,
                                    goal_in_force);
    pt_mark(&pt_stw2, "scav");

    cyc.t_end = gcrt__nanotime();
    int64_t stw2 = cyc.t_end - cyc.t_markterm;
    int32_t stwprocs = cyc.stwprocs; /* the cycle's start's (gc_start_roots) */
    /* Go's work.pauseNS: every stop of the cycle, from its start to the
     * world's restart: sweep and mark termination, the stops that
     * restarted the mark, and in the stop-the-world modes the mark, which
     * runs inside the one stop (Go restarts the world for it). */
    int64_t pause = cyc.stw1_ns + stw2 + cyc.restart_pause_ns;
    if (cyc.mode != 0) pause += cyc.t_markterm - cyc.t_mark;
    gcrt__lock(&stats_lock);
    uint32_t k = st.num_gc % 256;
    st.pause_ns[k] = (uint64_t)pause;
    st.pause_end[k] = (uint64_t)gcrt__walltime();
    st.last_gc_unix = st.pause_end[k];
    st.pause_total_ns += st.pause_ns[k];
    st.num_gc++;
    if (cyc.forced) st.num_forced_gc++;
    /* Go's work.totaltime: the stops' CPU is stwprocs x sweep and mark
     * termination's clocks (mark termination: the last try's); a stop
     * that restarted the mark is in pauseNS only (gcMarkDone), its
     * worker's CPU in the worker's time. */
    st.gc_cpu_ns += (uint64_t)((pause - cyc.restart_pause_ns) * stwprocs + pacer.assist_time_ns +
                               cyc.cpu_dedicated + cyc.cpu_fractional);
    struct gcrt_gctrace_cycle tc = {
        .num = st.num_gc,
        .start_ns = cyc.t_start - gcrt__runtime_init_time,
        .sweep_term_ns = cyc.stw1_ns,
        .mark_ns = cyc.t_markterm - cyc.t_mark,
        .mark_term_ns = stw2,
        .stwprocs = stwprocs,
        .assist_cpu_ns = pacer.assist_time_ns,
        .background_cpu_ns = cyc.cpu_dedicated + cyc.cpu_fractional + cyc.cpu_stw_mark,
        .idle_cpu_ns = cyc.cpu_idle,
        .heap_trigger_bytes = cyc.heap0,
        .heap_mark_end_bytes = heap1,
        .heap_marked_bytes = marked,
        .heap_goal_bytes = goal_in_force,
        .stacks_bytes = cyc.stacks,
        .globals_bytes = cyc.globals,
        .procs = cyc.maxprocs,
        .forced = cyc.forced != 0,
    };
    /* Go computes it here only; MemStats reports this value until the
     * next cycle ends (readmemstats_m copies memstats.gc_cpu_fraction). */
    double total_cpu = total_cpu_locked(cyc.t_end);
    tc.gc_cpu_fraction = total_cpu > 0 ? (double)st.gc_cpu_ns / total_cpu : 0;
    if (tc.gc_cpu_fraction > 1) tc.gc_cpu_fraction = 1;
    st.gc_cpu_fraction = tc.gc_cpu_fraction;
    gcrt__unlock(&stats_lock);
    gcrt__lock(&pacer_lock);
    limiter.numgc = st.num_gc; /* read without stats_lock: only cycles write it */
    gcrt__unlock(&pacer_lock);
    /* Before the world restarts (Go too): a new cycle may start at once. */
    limiter_transition_finish();
    pt_mark(&pt_stw2, "stats");
    /* cyc belongs to the next cycle once the world restarts: an allocation
     * that reaches the trigger starts one (TSan, test_gc_limiter). */
    int mode = cyc.mode;
    pt_restarted(&pt_stw2, "start", gcrt__start_the_world());
    pt_print(&pt_stw2, "stw2", tc.num);
    /* Go prints the line after the world restarts and before it lets the
     * cycle's waiters (runtime.GC) go: cycle N's line precedes their
     * return. */
    if (gcrt__debug.gctrace > 0) print_gctrace(&tc);
    gcrt_store_release(&completed, completed + 1);
    gcrt__futex_wake(&completed, INT32_MAX);
    if (mode != 2) gcrt__bgsweep_wake();
    gcrt__scavenger_wake();
}

#if GCRT_ASSERT_LEVEL >= 2
void (*gcrt__markterm_test_hook)(gcrt_gcwork_t *w, int restarts);
#endif

/* Called by the mark worker that found no work (term_claim won), or by a
 * program thread that took the worker's offer (gcrt__gc_markterm_take). */
void gcrt__gc_mark_done(void) {
    gcrt_store_release(&workers_on, 0u); /* sleeping workers stay asleep */
    /* Sequentially consistent, with the workers' busy increment followed by
     * their phase check: either we see them busy, or they see MARKTERM. */
    __atomic_store_n(&gcrt__gcphase, (uint32_t)GCRT_GC_MARKTERM, __ATOMIC_SEQ_CST);
    /* Workers still draining put their buffers back and stop. */
    while (gcrt_load_acquire(&busy) != 0) gcrt__os_yield();
    /* The workers' CPU clocks are system calls: read before the stop (the
     * workers are done; what a restart adds is read at the next try). */
    gcrt__gc_workers_cpu_take(&cyc.cpu_dedicated, &cyc.cpu_fractional, &cyc.cpu_idle);
    cyc.t_markterm = gcrt__nanotime();
    pt_reset(&pt_stw2, cyc.t_markterm);
    if (cyc.t_offer) {
        pt_stw2.offer_ns = cyc.t_markterm - cyc.t_offer;
        pt_stw2.offer_taken = cyc.offer_taken;
        cyc.t_offer = 0;
    }
    gcrt__stop_the_world("GC mark termination");
    pt_stopped(&pt_stw2);
    flush_all_gcw();
    gcrt__wb_flush_orphans();
    pt_mark(&pt_stw2, "flushgcw");
    gcrt_gcwork_t w;
    gcrt__gcwork_init(&w);
    gcrt__gc_rescan_signal_stopped(&w);
#if GCRT_ASSERT_LEVEL >= 2
    if (GCRT_UNLIKELY(gcrt__markterm_test_hook != NULL)) gcrt__markterm_test_hook(&w, cyc.restarts);
#endif
    gcrt__gcwork_flush(&w);
    pt_mark(&pt_stw2, "rescan");
    /* A forked child has no workers to go on with (fork.c): it drains all. */
    int may_restart = cyc.restarts < 3 && !gcrt_load_relaxed(&gcrt__forked_child);
    if (gcrt__gc_global_work() && may_restart) {
        /* The barrier buffers held more work: usually a few objects whose
         * children are marked already. A little is drained right here (a
         * restart costs two more stops); if more is left, the mark goes
         * on concurrently (Go restarts too). */
        int64_t until = gcrt__nanotime() + MARKTERM_DRAIN_NS;
        while (gcrt__gc_drain_stopped(&w, 512) > 0 && gcrt__nanotime() < until) {
        }
        gcrt__gcwork_flush(&w);
        pt_mark(&pt_stw2, "drain");
    }
    if (gcrt__gc_global_work() && may_restart) {
        cyc.marked_extra += w.bytes_marked;
        gcrt__gcwork_dispose(&w);
        cyc.restarts++;
        cyc.restart_pause_ns += gcrt__nanotime() - cyc.t_markterm;
        cyc.t_markterm = 0;
        gcrt_store_release(&gcrt__gcphase, (uint32_t)GCRT_GC_MARK);
        int64_t running = gcrt__start_the_world();
        /* Before the claim is given back: once it is, another worker may
         * end the cycle (st.num_gc, pt_stw2) at once. */
        pt_restarted(&pt_stw2, "restart", running);
        pt_print(&pt_stw2, "stw2-restart", st.num_gc + 1);
        /* Only now may a worker claim termination again; the workers are on
         * before that: a fork's prepare that wins the claim next turns them
         * off and must not be overtaken (gcrt__gc_fork_freeze). */
        gcrt_store_release(&workers_on, 1u);
        gcrt_store_release(&term_claim, 0u);
        gcrt_xadd(&worker_word, 1);
        gcrt__futex_wake(&worker_word, INT32_MAX);
        return;
    }
    gcrt__gc_drain(&w, -1);
    cyc.marked_extra += w.bytes_marked;
    gcrt__gcwork_dispose(&w);
    pt_mark(&pt_stw2, "drain");
    finish_cycle();
    gcrt_store_release(&term_claim, 0u);
}

/* ---- starting a cycle ------------------------------------------------------ */

/* gc_start_locked's part from the listing of the roots to their snapshot,
 * with the loaded modules' list locked (gcrt__gc_with_modules_locked). */
static uint64_t last_stacks;
static void gc_start_roots(void *arg) {
    gcrt_gcwork_t *w = arg;
    gcrt__gc_collect_global_roots(&global_roots);
    /* Room for this cycle's root snapshot: the globals, registered roots
     * and TLS, and the stacks with room to grow (mgcmark.c). */
    gcrt__gc_snapshot_reserve(global_roots.bytes + gcrt__gc_registered_root_bytes(),
                              2 * last_stacks + (256 << 10));

    gcrt__gc_snapshot_prefetch(&global_roots);
    /* Buffers for the roots' queue entries and the mark's start: a first
     * cycle mapped and faulted them with the world stopped (30 us). */
    gcrt__gcwork_reserve(16);
    cyc.maxprocs = procs();
    /* Go: work.stwprocs = min(GOMAXPROCS, ncpu), ncpu the process's CPUs
     * (this thread may be a mark worker whose own set is narrowed). */
    cyc.stwprocs = cyc.maxprocs < gcrt__ncpu ? cyc.maxprocs : gcrt__ncpu;
    cyc.t_start = gcrt__nanotime();
    pt_reset(&pt_stw1, cyc.t_start);
    gcrt__stop_the_world("GC sweep termination");
    pt_stopped(&pt_stw1);
    limiter_transition_start(true);
    pt_mark(&pt_stw1, "limiter");
    /* Spans handed back since the sweep above (world stopped: no more). */
    gcrt__finish_sweep();
    pt_mark(&pt_stw1, "sweep");
    gcrt__pool_cleanup();
    pt_mark(&pt_stw1, "pool");
    gcrt_store_relaxed(&gcrt__gcphase, (uint32_t)GCRT_GC_MARK);
    set_marking(1);
    struct gcrt_pacer_mem m;
    pacer_mem(&m);
    /* The globals this cycle scans (Go: globalsScan, known from the
     * modules' data and bss before any cycle): the first cycle's expected
     * scan work is only these and the stacks. (Read before pacer_lock: the
     * registered roots' lock ranks below it.) */
    uint64_t globals_scan = global_roots.bytes + gcrt__gc_registered_root_bytes();
    gcrt__lock(&pacer_lock);
    pacer.heap_live = cyc.heap0;
    pacer.globals_scan = globals_scan;
    /* The scannable heap: what the last mark scanned plus the scannable
     * allocation since (Go: heapScan, fixed during the mark). It bounds the
     * worst-case scan work the assist ratio extrapolates to (revise). */
    pacer.heap_scan += __atomic_exchange_n(&gcrt__heap_scan_alloc, (uint64_t)0, __ATOMIC_RELAXED);
    gcrt__pacer_start_cycle(&pacer, cyc.t_start, procs(), cyc.periodic, cyc.mode != 0, &m);
    plan = gcrt__pacer_mark_plan(&pacer, procs());
    mplan_publish(&plan);
    gcrt_store_relaxed(&cyc_goal, gcrt__pacer_heap_goal(&pacer, &m));
    gcrt__unlock(&pacer_lock);
    pt_mark(&pt_stw1, "pacer");
    prepare_mcaches_for_mark();
    pt_mark(&pt_stw1, "mcaches");

    mark_tiny_blocks(w);
    cyc.globals = global_roots.bytes + gcrt__gc_registered_root_bytes();
    pt_mark(&pt_stw1, "tiny");
    cyc.stacks = gcrt__gc_scan_roots(w, &global_roots);
    last_stacks = cyc.stacks;
    pt_mark(&pt_stw1, "roots");
}

/* What started a cycle (Go's gcTrigger kinds). */
enum gc_start_why {
    START_HEAP,     /* gcTriggerHeap: heap_live reached the trigger */
    START_USER,     /* gcTriggerCycle: gcrt_gc; "(forced)", NumForcedGC */
    START_PERIODIC, /* gcTriggerTime: forcegc; fewer idle workers */
};

/* Stop-the-world #1 and the root scan; then marking runs concurrently, or,
 * in the stop-the-world modes, to completion right here. Caller holds
 * start_lock and is attached. */
static void gc_start_cycle(enum gc_start_why why);
/* A cycle's start (start_lock held), announced to the threads that reach
 * the trigger meanwhile (start_word). */
static void gc_start_locked(enum gc_start_why why) {
    gcrt_xadd(&start_word, 1);
    gc_start_cycle(why);
    gcrt_xadd(&start_word, 1);
    gcrt__futex_wake(&start_word, INT32_MAX);
}

static void gc_start_cycle(enum gc_start_why why) {
    gcrt_store_release(&started, started + 1);
    gcrt__sched_start(); /* the stop signal and sysmon: once */
    /* The child of a fork has no mark workers (fork.c): it marks and
     * sweeps with the world stopped. */
    int child = gcrt_load_relaxed(&gcrt__forked_child);
    if (!child) gcrt__gc_workers_start();
    /* The workers are asleep until the mark begins (workers_on): their
     * per-mode CPU counts start again. */
    gcrt__gc_workers_cpu_mark();
    gcrt__finish_sweep();
    memset(&cyc, 0, sizeof cyc);
    cyc.forced = why == START_USER;
    cyc.periodic = why == START_PERIODIC;
    cyc.mode = gcrt__debug.gcstoptheworld > 0 ? (gcrt__debug.gcstoptheworld > 1 ? 2 : 1) : 0;
    if (child) cyc.mode = 2;
    gcrt_store_relaxed(&cur_mode, (uint32_t)cyc.mode);
    cyc.heap0 = gcrt_load_relaxed(&gcrt__heap_live);
    /* From the listing of the loaded modules to the copy of their data, no
     * module may be loaded or unloaded: one loaded after the listing would
     * not be scanned (a pointer moved into its data and bss meanwhile is
     * lost), and one unloaded would be read after its unmapping. */
    gcrt_gcwork_t w;
    gcrt__gcwork_init(&w);
    gcrt__gc_with_modules_locked(gc_start_roots, &w);
    gcrt_store_relaxed(&gcrt__gc_heap_scan_work, (uint64_t)0);
    gcrt_store_relaxed(&cyc_snap, gcrt__gc_snapshot_bytes());
    gcrt__lock(&pacer_lock);
    pacer.stack_scan_work = (int64_t)cyc.stacks;
    pacer.globals_scan_work = (int64_t)cyc.globals;
    gcrt__unlock(&pacer_lock);
    if (cyc.mode != 0) {
        /* Stop-the-world modes: mark everything now. */
        /* Sweep termination (the stop, the last sweep, the roots) ends
         * here, as in the concurrent mode: gctrace's first clock. */
        cyc.t_mark = gcrt__nanotime();
        cyc.stw1_ns = cyc.t_mark - cyc.t_start;
        int64_t cpu0 = gcrt__thread_cputime();
        gcrt__gc_drain(&w, -1);
        cyc.cpu_stw_mark = gcrt__thread_cputime() - cpu0;
        cyc.marked_extra += w.bytes_marked;
        gcrt__gcwork_dispose(&w);
        cyc.t_markterm = gcrt__nanotime();
        gcrt__gc_workers_cpu_take(&cyc.cpu_dedicated, &cyc.cpu_fractional, &cyc.cpu_idle);
        limiter_transition_finish(); /* the whole cycle is one pause */
        finish_cycle();
        cyc.stw1_ns = 0;
        return;
    }
    cyc.marked_extra += w.bytes_marked;
    gcrt__gcwork_flush(&w);
    gcrt__gcwork_dispose(&w);
    cyc.t_mark = gcrt__nanotime();
    cyc.stw1_ns = cyc.t_mark - cyc.t_start;
    pt_mark(&pt_stw1, "flush");
    pt_restarted(&pt_stw1, "start", gcrt__start_the_world());
    if (gcrt__debug.gcpausetrace)
        gcrt__printf("gcpause %u roots: globals %llu B in %zu ranges, stacks %llu B\n",
                     (unsigned)st.num_gc + 1, (unsigned long long)cyc.globals, global_roots.n,
                     (unsigned long long)cyc.stacks);
    pt_print(&pt_stw1, "stw1", st.num_gc + 1);
    limiter_transition_finish();
    gcrt_store_release(&workers_on, 1u);
    gcrt_xadd(&worker_word, 1);
    gcrt__futex_wake(&worker_word, INT32_MAX);
}

/* The allocator's check (Go: gcTrigger.test + gcStart). */
static inline bool past_trigger(void) {
    return gcrt_load_relaxed(&gcrt__gcphase) == GCRT_GC_OFF &&
           gcrt_load_relaxed(&gcrt__heap_live) >= gcrt_load_relaxed(&trigger_bytes);
}

/* Another thread is starting a cycle: wait until it has (Go: gcStart's
 * startSema). Allocating on meanwhile runs the heap past the trigger for
 * as long as the start takes, and the starting thread sweeps what is left
 * and stops the world first: with more attached threads than CPUs it waits
 * for a CPU while the others allocate (32 threads on 2 CPUs: heaps of
 * 30-112 MB at a 4 MB goal). The wait counts as stopped, like a blocking
 * call: the start's stop-the-world does not wait for it. */
static void wait_start(void) {
    if (!gcrt__can_wait_stopped()) return; /* the start's stop would wait for us */
    for (;;) {
        uint32_t w = gcrt_load_acquire(&start_word);
        if (!(w & 1) || !past_trigger()) return; /* the lock is held for something else */
        gcrt__futex_wait_stoppable(&start_word, w, 1000 * 1000);
    }
}

void gcrt__gc_maybe_start(void) {
    if (!past_trigger()) return;
    /* What is left of the last sweep is swept before a cycle starts: by
     * every thread that reaches the trigger, not by the starting thread
     * alone (Go: gcStart's sweepone loop). */
    while (past_trigger() && gcrt__sweep_one()) {
    }
    if (!gcrt__trylock(&start_lock)) { /* someone else is starting one */
        wait_start();
        return;
    }
    if (past_trigger()) gc_start_locked(START_HEAP);
    gcrt__unlock(&start_lock);
}

/* Go's forcegc: a cycle when none ran for 2 minutes (GOGC >= 0). Called
 * by the scavenger thread (not attached: it holds no heap pointers). */
int64_t gcrt__forcegc_period_ns = (int64_t)120 * 1000 * 1000 * 1000;
#if GCRT_ASSERT_LEVEL >= 2
void (*gcrt__forcegc_test_hook)(void);
#endif

void gcrt__gc_periodic_check(void) {
    limiter_maybe_update(); /* also when sysmon sleeps */
    int64_t last;
    gcrt__lock(&stats_lock);
    last = (int64_t)st.last_gc_unix;
    gcrt__unlock(&stats_lock);
    /* Go: lastgc != 0 && now - lastgc > forcegcperiod: none before the
     * first cycle (a program that never grows its heap to the first goal
     * never collects). */
    if (last == 0) return;
    if (gcrt__walltime() - last < gcrt_load_relaxed(&gcrt__forcegc_period_ns)) return;
    gcrt__lock(&pacer_lock);
    int32_t gc_percent = pacer.gc_percent;
    gcrt__unlock(&pacer_lock);
    if (gc_percent < 0 || gcrt_load_relaxed(&gcrt__gcphase) != GCRT_GC_OFF) return;
    if (!gcrt__trylock(&start_lock)) return;
    /* Again under start_lock: gcrt_set_gc_percent(-1) passes through it
     * after the change, so a start that read the old value is one it
     * waits for, and a later one sees the new value. */
    gcrt__lock(&pacer_lock);
    gc_percent = pacer.gc_percent;
    gcrt__unlock(&pacer_lock);
    if (gc_percent >= 0 && gcrt_load_relaxed(&gcrt__gcphase) == GCRT_GC_OFF) {
#if GCRT_ASSERT_LEVEL >= 2
        if (GCRT_UNLIKELY(gcrt__forcegc_test_hook != NULL)) gcrt__forcegc_test_hook();
#endif
        if (gcrt__debug.gctrace > 0) gcrt__os_write(2, "GC forced\n", 10);
        gc_start_locked(START_PERIODIC);
    }
    gcrt__unlock(&start_lock);
}

void gcrt__gc_pacer_state(struct gcrt_pacer *out) {
    gcrt__lock(&pacer_lock);
    *out = pacer;
    gcrt__unlock(&pacer_lock);
}

/* Refreshes the trigger (the memory-limit goal moves with non-heap memory);
 * called from allocation slow paths now and then. */
void gcrt__gc_update_trigger(void) {
    if (!gcrt__trylock(&pacer_lock)) return;
    update_trigger_locked();
    gcrt__unlock(&pacer_lock);
}

/* Waits until completed reaches target, counting as blocked so that a
 * stop-the-world does not wait for us. */
static void wait_completed(uint32_t target) {
    int hurried = 0;
    for (;;) {
        uint32_t c = gcrt_load_acquire(&completed);
        if ((int32_t)(c - target) >= 0) break;
        /* A forked child's inherited mark waits for a program thread to
         * end it (fork.c): nobody else will. Any thread may, attached or
         * not, start_lock held or not (the termination does not take it). */
        if (gcrt_load_relaxed(&gcrt__forked_child)) {
            markterm_take();
            c = gcrt_load_acquire(&completed);
            if ((int32_t)(c - target) >= 0) break;
        }
        if (!hurried) {
            /* Someone waits for the cycle: an offered mark termination is
             * not left waiting for the program (markterm_offer). */
            hurried = 1;
            gcrt_xadd(&term_hurry, 1);
            gcrt_xadd(&term_wake, 1);
            gcrt__futex_wake(&term_wake, INT32_MAX);
        }
        gcrt_enter_blocking();
        gcrt__futex_wait(&completed, c, 10 * 1000 * 1000);
        gcrt_exit_blocking();
    }
    if (hurried) gcrt_xadd(&term_hurry, -1);
}

/* Takes start_lock, stoppable meanwhile (its holder may be stopping the
 * world). */
static void lock_start(void) {
    for (;;) {
        if (gcrt__trylock(&start_lock)) break;
        gcrt__safepoint();
        gcrt__os_yield();
    }
}

static inline __attribute__((always_inline)) void gc_cycle(void) {
    /* Go's runtime.GC: wait for the cycle in progress (n, counted when it
     * started), run a whole new one (n + 1) unless another thread started
     * it meanwhile. Counting by completions instead lets a cycle that
     * started before the call pass for the new one (its roots hold what the
     * caller has just dropped). */
    uint32_t n = gcrt_load_acquire(&started);
    wait_completed(n);
    lock_start();
    if (gcrt_load_acquire(&started) == n) gc_start_locked(START_USER);
    gcrt__unlock(&start_lock);
    wait_completed(n + 1);
}

void gcrt__gc_cycle(void) {
    gc_cycle();
}

void gcrt__gc_hold_cycles(void) {
    lock_start(); /* no new cycle starts: STW #1 takes start_lock */
    wait_completed(gcrt_load_acquire(&started));
}

void gcrt__gc_release_cycles(void) {
    gcrt__unlock(&start_lock);
}

/* For the public calls on a thread that is not attached. A program whose
 * first call this is gets the runtime initialised and the thread attached
 * for good (gcrt_init, as on a first allocation). Once the runtime runs,
 * any other thread is only attached for the call (gcrt_gc needs a P) or
 * not at all: left attached, it would be waited for by every later
 * stop-the-world once it has exited, forever. Returns 1 if the caller must
 * detach again, 0 if not, -1 on error. */
static int attach_for_call(bool need_p) {
    if (gcrt__tls_m) return 0;
    if (gcrt_load_relaxed(&gcrt__mheap.arena_start) == 0) return gcrt_init() == 0 ? 0 : -1;
    if (!need_p) return 0;
    return gcrt_thread_attach() == 0 ? 1 : -1;
}

void gcrt_gc(void) {
    int detach = attach_for_call(true);
    if (detach < 0) return;
    /* A whole new cycle, and its sweep finished before returning (Go). */
    gc_cycle();
    /* Our own cache first (only its owner may flush it), then the rest. */
    gcrt_m_t *m = gcrt__tls_m;
    if (m && m->mcache) {
        gcrt__nostop_enter();
        gcrt__mcache_prepare_for_sweep(m->mcache);
        gcrt__nostop_exit();
    }
    gcrt__finish_sweep();
    if (detach) gcrt_thread_detach();
}

/* ---- knobs ------------------------------------------------------------------ */

/* Go's gcControllerCommit ends with gcPaceSweeper and gcPaceScavenger: a
 * knob that moves the trigger and the heap goal moves the sweep's pace and
 * the scavenger's retention goal with them, now, not at the next cycle's
 * end (pacer_lock). */
static void repace_locked(void) {
    struct gcrt_pacer_mem m;
    pacer_mem(&m);
    gcrt__scavenger_repace(gcrt__pacer_heap_goal(&pacer, &m));
    /* And gcPaceSweeper: the sweep's share per byte, over the new runway. */
    gcrt__sweep_repace(gcrt_load_relaxed(&trigger_bytes), gcrt_load_relaxed(&gcrt__heap_live));
}

int gcrt_set_gc_percent(int percent) {
    (void)attach_for_call(false); /* as gcrt_init() before: errors are not ours to report */
    gcrt__lock(&pacer_lock);
    int32_t old = gcrt__pacer_set_gc_percent(&pacer, percent);
    gcrt__pacer_commit(&pacer, gcrt__sweep_done());
    update_trigger_locked();
    repace_locked();
    gcrt__unlock(&pacer_lock);
    /* Go: turning the GC off waits for a cycle in progress to finish. A
     * start that read the old value (the periodic one, or the trigger)
     * holds start_lock until its cycle is counted in started: passing
     * through the lock orders this after it, and starts after this see
     * the new value. */
    if (percent < 0) {
        lock_start();
        gcrt__unlock(&start_lock);
        wait_completed(gcrt_load_acquire(&started));
    }
    return old;
}

int64_t gcrt_set_memory_limit(int64_t limit) {
    (void)attach_for_call(false);
    gcrt__lock(&pacer_lock);
    int64_t old = gcrt__pacer_set_memory_limit(&pacer, limit);
    if (limit >= 0) {
        gcrt__pacer_commit(&pacer, gcrt__sweep_done());
        update_limit_locked();
        update_trigger_locked();
        repace_locked();
    }
    gcrt__unlock(&pacer_lock);
    return old;
}

/* ---- MemStats --------------------------------------------------------------- */

static void fill_memstats(struct gcrt_memstats *ms) {
    gcrt__lock(&stats_lock);
    ms->num_gc = st.num_gc;
    ms->num_forced_gc = st.num_forced_gc;
    memcpy(ms->pause_ns, st.pause_ns, sizeof st.pause_ns);
    memcpy(ms->pause_end, st.pause_end, sizeof st.pause_end);
    ms->pause_total_ns = st.pause_total_ns;
    ms->last_gc = st.last_gc_unix;
    ms->gc_cpu_fraction = st.gc_cpu_fraction;
    gcrt__unlock(&stats_lock);
    struct gcrt_pacer_mem m;
    pacer_mem(&m);
    gcrt__lock(&pacer_lock);
    pacer.heap_live = gcrt_load_relaxed(&gcrt__heap_live);
    ms->next_gc = gcrt__pacer_heap_goal(&pacer, &m);
    gcrt__unlock(&pacer_lock);
}

void gcrt__gc_fill_memstats(struct gcrt_memstats *ms) {
    fill_memstats(ms);
}

/* ---- assists (the allocator's slow path, during marking) ------------------- */

/* An assist's share of the mark. No stop inside: mark termination must
 * not find a half-scanned object in this P's hands. It counts in busy like
 * a worker (Go: assists take a place in work.nwait): a worker that finds
 * the global list empty while an assist holds grey objects must not
 * conclude the mark is over, or every mark termination finds the assist's
 * work, restarts, and at last drains it with the world stopped.
 * It drains in chunks: after each its time goes to the GC CPU limiter
 * (Go tracks an assist in flight for the limiter's updates), and it stops
 * early when the limiter turns on (Go's gcDrainN does too). */
enum { ASSIST_CHUNK = 64 << 10 }; /* scan bytes */

/* Assists waiting for the mark workers past the heap goal (gcrt__gc_assist)
 * sleep on assist_word: woken when the workers add credit, when the mark
 * is offered to the program or ends, and when the CPU limiter turns on. */
static int32_t busy_ps(void);
static uint32_t assist_word;
static int32_t assist_waiters; /* atomic */
static void wake_assists(void) {
    /* The store that is news to them (credit, offer, marking off) before
     * the count's load; a waiter counts itself before it checks them. */
    gcrt__fence();
    if (gcrt_load_acquire(&assist_waiters) == 0) return;
    gcrt_xadd(&assist_word, 1);
    gcrt__futex_wake(&assist_word, INT32_MAX);
}

void gcrt__gc_bg_credit_add(int64_t work) {
    if (work <= 0) return;
    gcrt_xadd_relaxed(&bg_scan_credit, work);
    wake_assists();
}

int64_t gcrt__gc_bg_credit_take(int64_t want) {
    int64_t have = gcrt_load_relaxed(&bg_scan_credit);
    if (have <= 0 || want <= 0) return 0;
    int64_t take = have < want ? have : want;
    gcrt_xadd_relaxed(&bg_scan_credit, -take);
    return take;
}

int64_t gcrt__gc_bg_credit(void) {
    return gcrt_load_relaxed(&bg_scan_credit);
}

/* An allocating thread marks from its P's work buffer between these two:
 * in a no-stop region (the buffer), counted busy so the mark cannot end
 * meanwhile. mark_enter says whether the mark is on; mark_exit hands the
 * buffer over if so. */
static int mark_enter(void) {
    gcrt__nostop_enter();
    gcrt_xadd(&busy, 1);
    return __atomic_load_n(&gcrt__gcphase, __ATOMIC_SEQ_CST) == GCRT_GC_MARK;
}
static void mark_exit(gcrt_mcache_t *c, int marking) {
    if (marking) gcrt__gcwork_flush(&c->gcw);
    gcrt_xadd(&busy, -1);
    gcrt__nostop_exit();
}

static int64_t assist_drain(gcrt_mcache_t *c, int64_t work) {
    int64_t done = 0;
    int marking = mark_enter();
    if (marking) {
        /* The limiter gets the assist's CPU time, not its wall time (Go's,
         * on a P): with more attached threads than CPUs, the assists' wall
         * times add up to more than GOMAXPROCS CPUs' worth, and the
         * limiter, taking that for GC time, turned on and waived every
         * assist (32 threads on 2 CPUs). */
        int64_t t = gcrt__thread_cputime();
        for (;;) {
            int64_t n =
                gcrt__gc_drain(&c->gcw, work - done < ASSIST_CHUNK ? work - done : ASSIST_CHUNK);
            done += n;
            int64_t now = gcrt__thread_cputime();
            gcrt__gc_limiter_add_assist(now - t);
            t = now;
            limiter_maybe_update();
            if (n == 0 || done >= work || gcrt_load_relaxed(&gcrt__gc_limiter_on) ||
                __atomic_load_n(&gcrt__gcphase, __ATOMIC_SEQ_CST) != GCRT_GC_MARK)
                break;
        }
    }
    mark_exit(c, marking);
    return done;
}

void gcrt__gc_assist(gcrt_mcache_t *c, int64_t bytes) {
    /* Grey objects the write barrier left in this P's buffer are out of the
     * workers' reach until it is flushed: hand them over when the workers
     * have nothing left (Go's gcWork balance), or mark termination finds
     * them with the world stopped and restarts the mark. No stop inside:
     * a stop-the-world flushes this buffer too. */
    gcrt_wbuf_t *cur = c->gcw.cur;
    if (cur && cur->n > 0 && !gcrt__gc_global_work()) {
        gcrt__nostop_enter();
        gcrt__gcwork_flush(&c->gcw);
        gcrt__nostop_exit();
    }
    mutator_fractional(c);
    c->assist_credit -= bytes;
    if (c->assist_credit >= 0) return;
    if (gcrt_load_relaxed(&gcrt__gc_limiter_on)) {
        /* The GC has used too much CPU lately: no assist (Go skips it too,
         * the debt stays); keep the limiter's clock going meanwhile. */
        gcrt_xadd_relaxed(&limiter_skipped, (uint64_t)1);
        limiter_maybe_update();
        return;
    }
    int64_t credit;
    struct gcrt_pacer_mem m;
    pacer_mem(&m);
    gcrt__lock(&pacer_lock);
    /* Revise the assist ratio with the work done and the heap grown so far
     * (Go revises as heapLive and heapScanWork move). */
    pacer.heap_live = gcrt_load_relaxed(&gcrt__heap_live);
    /* The root snapshot is counted in the scan work as it is marked; it is
     * the stack and globals work, not heap scan work (finish_cycle). */
    uint64_t hsw = gcrt_load_relaxed(&gcrt__gc_heap_scan_work), snap = gcrt_load_relaxed(&cyc_snap);
    pacer.heap_scan_work = (int64_t)(hsw > snap ? hsw - snap : 0);
    gcrt__pacer_revise(&pacer, &m);
    int64_t work = gcrt__pacer_assist_work(&pacer, -c->assist_credit, &credit);
    gcrt__unlock(&pacer_lock);
    /* The background workers' credit first (Go: gcAssistAlloc steals
     * bgScanCredit before gcAssistAlloc1). */
    int64_t done = gcrt__gc_bg_credit_take(work);
    if (done >= work) {
        c->assist_credit += credit;
        if (c->assist_credit < 0) c->assist_credit = 0;
        return;
    }
    int64_t cpu0 = gcrt__thread_cputime();
    done += assist_drain(c, work - done);
    /* No grey objects to take: the rest of the work is in the background
     * workers' hands. Past the heap goal the allocation waits for them
     * until they have earned it credit, the mark ends or is offered to
     * the program (then this thread ends it), or the CPU limiter turns on
     * (Go parks the assist on the same terms); below the goal it is
     * forgiven. Not bounded in time: with more attached threads than
     * CPUs, allocations forgiven after a bounded wait ran the heap to
     * 5-30x its goal while the workers waited for a CPU (32 threads on 2
     * CPUs). The wait counts as stopped (a stop-the-world need not signal
     * it), and as idle time for the limiter for the Ps the program leaves
     * idle (Go's parked assist leaves its P idle when there is nothing
     * else to run). */
    while (done < work && gcrt_load_relaxed(&gcrt__gc_marking) &&
           !gcrt_load_relaxed(&gcrt__gc_limiter_on) &&
           gcrt_load_relaxed(&gcrt__heap_live) > gcrt_load_relaxed(&cyc_goal) &&
           gcrt__can_wait_stopped()) { /* else mark termination would wait for us */
        if (gcrt_load_relaxed(&gcrt__gc_term_offer) & 1) {
            gcrt__gc_markterm_poll();
            break;
        }
        uint32_t seen = gcrt_load_acquire(&assist_word);
        gcrt_xadd(&assist_waiters, 1);
        /* Checked again after the count: a wake-up from here on changes
         * the word and the wait returns at once. */
        done += gcrt__gc_bg_credit_take(work - done);
        int64_t s0 = gcrt__nanotime();
        if (done < work && gcrt_load_relaxed(&gcrt__gc_marking) &&
            !(gcrt_load_relaxed(&gcrt__gc_term_offer) & 1))
            gcrt__futex_wait_stoppable(&assist_word, seen, 1000 * 1000);
        /* Idle time for the limiter, as many Ps' worth as the program
         * leaves idle (GOMAXPROCS less the program threads running; the
         * waiters, this one included, do not run), shared among the
         * waiters: each thread's whole wait would add up, with many
         * threads, to more idle time than there is, and the limiter, its
         * window shrunk to nothing, turned on and waived every assist (32
         * threads on 2 CPUs: heaps at 5-30x the goal). */
        int32_t waiters = gcrt_load_relaxed(&assist_waiters);
        int32_t idle_ps = procs() - (busy_ps() - waiters);
        if (idle_ps > 0 && waiters > 0) {
            double share = (double)idle_ps / (double)waiters;
            int64_t ns = gcrt__nanotime() - s0;
            gcrt__gc_limiter_add_idle(share >= 1 ? ns : (int64_t)((double)ns * share));
        }
        gcrt_xadd(&assist_waiters, -1);
        done += gcrt__gc_bg_credit_take(work - done);
        if (done < work) done += assist_drain(c, work - done);
    }
    int64_t earned = done >= work
                         ? credit
                         : (int64_t)((double)credit * (double)done / (double)(work > 0 ? work : 1));
    if (__builtin_add_overflow(c->assist_credit, earned, &c->assist_credit))
        c->assist_credit = INT64_MAX / 2;
    if (c->assist_credit < 0) c->assist_credit = 0; /* forgiven */
    /* CPU time, not wall time: the waiting above is not GC work. (The
     * limiter has had the drains' wall time, as Go's has: its window is
     * wall time x procs.) */
    int64_t cpu = gcrt__thread_cputime() - cpu0;
    gcrt_xadd_relaxed(&cyc.assist_ns, cpu);
    limiter_maybe_update();
}

/* ---- start-up ------------------------------------------------------------------ */

void gcrt__gc_init(void) {
    gcrt__gc_stats_hook = fill_memstats;
    if (gcrt__debug.gccheckmark > 0) gcrt__alloc_hooks |= GCRT_HOOK_PCS;
    const char *gogc_env = getenv("GOGC");
    bool gogc_ignored;
    int32_t gogc = gcrt__pacer_parse_gogc(gogc_env, &gogc_ignored);
    if (gogc_ignored)
        gcrt__warn_env("GOGC=", gogc_env, strlen(gogc_env),
                       "not \"off\" or a decimal integer; GOGC is 100 (as in Go)");
    int64_t limit = gcrt__pacer_read_gomemlimit(getenv("GOMEMLIMIT"));
    gcrt__lock(&pacer_lock);
    gcrt__pacer_init(&pacer, gogc, limit);
    gcrt__cpu_limiter_init(&limiter, gcrt__nanotime(), procs());
    limiter_publish_locked();
    update_limit_locked();
    update_trigger_locked();
    gcrt__unlock(&pacer_lock);
    gcrt__bgsweep_start();
}

void gcrt_keep_alive(const void *p) {
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

/* ---- background mark workers -------------------------------------------------- */

/* Background mark workers (Go: gcBgMarkWorker), one thread per P up to
 * MAX_WORKERS, asleep on worker_word outside a concurrent mark. Each mark
 * phase they split as Go's scheduler would (gcrt__pacer_worker_mode, the
 * policy; mark_plan, its per-cycle inputs):
 *  - the first pacer.dedicated_workers mark at full speed (dedicated);
 *  - the next one, when the pacer asks for a fractional share (GOMAXPROCS
 *    1-3 and 6), marks the share of the Ps nobody runs on while its CPU
 *    time since mark start is below goal x free Ps x elapsed (fractional;
 *    the program's threads mark their own Ps' share: mutator_fractional),
 *    else as an idle worker if a P is free, else sleeps until it is behind
 *    again (bounded naps);
 *  - the rest mark at full speed while a P nobody runs on is free (idle),
 *    at most pacer.max_idle_workers at once, else poll for one.
 * "Nobody runs on": GOMAXPROCS minus the scheduler Ps running goroutines
 * (status RUNNING), the attached threads outside blocking calls
 * (gcrt__foreign_running), the dedicated workers and a marking fractional
 * worker. Workers mark in bounded slices (WORKER_SLICE of scan work) and
 * decide again after each. Their CPU time (thread clocks) is summed per
 * mode: dedicated + fractional is gctrace's background figure, idle its
 * idle figure and the CPU limiter's idle time. */
#define MAX_WORKERS 64
enum { WORKER_SLICE = 64 << 10 };
/* A program thread's fractional slice: smaller, as it delays the program's
 * own work (a request being served): ~10-25 µs. */
enum { MUTATOR_SLICE = 16 << 10 };
static int64_t worker_moves; /* fractional/idle workers that left a program CPU */
static GCRT_NOSCAN_DATA struct worker {
    gcrt_gcwork_t w;
    int idx;
    pthread_t thread;
    int64_t ns[GCRT_WORKER_NMODES]; /* CPU marked per mode this cycle; atomic */
    int64_t mutator_ns;             /* of ns[FRACTIONAL], what program threads marked; atomic */
    /* step_aside: the CPUs it had before it narrowed them this mark, the
     * narrowed set, and when. */
    cpu_set_t home, narrow;
    int narrowed;
    int64_t narrowed_at;
} __attribute__((aligned(GCRT_CACHELINE))) workers[MAX_WORKERS]; /* each on lines of its own */
static int nworkers; /* atomic: grows at cycle starts (start_lock) */
static int32_t idle_running
    __attribute__((aligned(GCRT_CACHELINE))); /* workers in idle mode; atomic */
static uint32_t fractional_on;                /* the fractional worker is in fractional mode */

uint64_t gcrt__gc_workers_take_marked(void) {
    uint64_t n = 0;
    int nw = gcrt_load_acquire(&nworkers);
    for (int i = 0; i < nw; i++) {
        n += gcrt_load_relaxed(&workers[i].w.bytes_marked);
        gcrt_store_relaxed(&workers[i].w.bytes_marked, (uint64_t)0);
    }
    return n;
}

/* Ps the program runs on now: scheduler Ps running goroutines plus
 * attached threads outside blocking calls. Lock-free and approximate. */
static int32_t busy_ps(void) {
    int32_t n = gcrt_load_relaxed(&gcrt__foreign_running);
    if (n < 0) n = 0;
    if (!gcrt_load_acquire(&gcrt__sched.started)) return n;
    int32_t np = gcrt_load_acquire(&gcrt__sched.nallps);
    int32_t nprocs = gcrt_load_relaxed(&gcrt__sched.nprocs);
    if (np > nprocs) np = nprocs;
    for (int32_t i = 0; i < np; i++) {
        gcrt_psched_t *pp = gcrt_load_relaxed(&gcrt__sched.ps[i]);
        if (pp && gcrt_load_acquire(&pp->p->status) == GCRT_P_RUNNING) n++;
    }
    return n;
}

/* A fractional slice on an allocating program thread (called at its
 * allocation slow path while marking): Go runs its fractional worker on
 * every P below the per-P goal, the program's Ps included, so the thread
 * marks its P's share itself, one bounded slice (MUTATOR_SLICE of scan
 * work) per refill while it is behind (gcrt__pacer_mutator_fractional);
 * the worker thread marks the free Ps' share (gcrt__pacer_worker_mode). The
 * CPU counts as the fractional worker's (gctrace's background figure) and
 * earns background credit. */
static void mutator_fractional(gcrt_mcache_t *c) {
    uint64_t gb = gcrt_load_relaxed(&mplan.fractional_goal_bits);
    if (gb == 0) return; /* no fractional goal this cycle (or 0.0) */
    struct gcrt_mark_plan pl = {
        .procs = gcrt_load_relaxed(&mplan.procs),
        .dedicated = gcrt_load_relaxed(&mplan.dedicated),
        .mark_start_ns = gcrt_load_relaxed(&mplan.mark_start_ns),
    };
    memcpy(&pl.fractional_goal, &gb, sizeof gb);
    int nw = gcrt_load_acquire(&nworkers);
    if (pl.dedicated >= nw) return;
    struct worker *fw = &workers[pl.dedicated]; /* the fractional worker */
    if (c->frac_mark != pl.mark_start_ns) {
        c->frac_mark = pl.mark_start_ns;
        c->frac_ns = 0;
    }
    if (!gcrt__pacer_mutator_fractional(&pl, gcrt__nanotime(),
                                        gcrt_load_relaxed(&fw->ns[GCRT_WORKER_FRACTIONAL]),
                                        c->frac_ns, busy_ps()))
        return;
    int64_t cpu0 = gcrt__thread_cputime(), n = 0;
    int marking = mark_enter();
    if (marking) n = gcrt__gc_drain(&c->gcw, MUTATOR_SLICE);
    mark_exit(c, marking);
    int64_t d = gcrt__thread_cputime() - cpu0;
    if (d > 0) {
        c->frac_ns += d;
        gcrt_xadd(&fw->ns[GCRT_WORKER_FRACTIONAL], d);
        gcrt_xadd(&fw->mutator_ns, d);
        gcrt_xadd_relaxed(&mutator_fractional_ns, d);
    }
    if (n > 0) gcrt__gc_bg_credit_add(n);
}

int64_t gcrt__gc_worker_moves(void) {
    return gcrt_load_relaxed(&worker_moves);
}

int64_t gcrt__gc_mutator_fractional_ns(void) {
    return gcrt_load_relaxed(&mutator_fractional_ns);
}

/* ---- mark termination at a program's safepoint ------------------------------
 *
 * Mark termination stops the world. A program thread that allocates stops
 * at once (every allocation is a safepoint while marking: alloc_hook); one
 * that computes without allocating must be sent the stop signal, which on
 * a virtual machine costs the stop 40-100 µs (RESULTS.md, section 20) and
 * interrupts the thread. But while no program thread allocates, a finished
 * mark loses nothing by waiting: nothing new is allocated black, nothing
 * waits for the sweep. So the worker that found the mark done offers its
 * termination to the program first (Go's gcMarkDone likewise runs on
 * whichever goroutine, worker or assist, finds no work left): the next
 * program thread to allocate (or call gcrt_checkpoint) takes the offer and
 * runs mark termination itself, as the stopper, which needs no signal for
 * itself. If no thread takes it within gcrt__gc_markterm_offer_ns (50
 * ms: binary-trees' longest check of a tree without allocating took up to
 * 20), or someone waits for the cycle (gcrt_gc, gcrt_gomaxprocs), the
 * worker ends the mark itself as before. A goroutine that takes it may be
 * preempted before the stop: the cycle then waits for it to run again, as
 * it would for a descheduled worker. There is no offer when no program thread is running (a stop
 * of blocked threads is cheap), in the stop-the-world modes, and for
 * forced cycles. The wait counts in gctrace's mark clock time, and not in
 * the pacer's mark duration. */

/* Whether a program thread runs (one that a stop would have to signal if
 * it does not allocate). */
static bool program_running(void) {
    for (gcrt_m_t *m = gcrt_load_acquire(&gcrt__allm); m; m = m->alllink) {
        gcrt_msched_t *ms = gcrt__msched_of(m);
        if (ms && gcrt_load_acquire(&m->tid) != 0 &&
            gcrt_load_acquire(&ms->stwstate) == GCRT_MS_RUN)
            return true;
    }
    return false;
}

/* term_claim held, mark done. Returns true if a program thread took the
 * termination, false if the caller must run it. */
static bool markterm_offer(void) {
    int64_t wait = gcrt_load_relaxed(&gcrt__gc_markterm_offer_ns);
    if (wait <= 0 || cyc.mode != 0 || cyc.forced || gcrt_load_acquire(&term_hurry) != 0 ||
        !program_running())
        return false;
    uint32_t tok = (++term_offer_gen << 1) | 1;
    /* Sleeping workers stay asleep meanwhile (mark_done says so again). */
    gcrt_store_release(&workers_on, 0u);
    int64_t t0 = gcrt__nanotime(), until = t0 + wait;
    cyc.t_offer = t0;
    cyc.offer_taken = 0;
    gcrt_store_release(&gcrt__gc_term_offer, tok);
    wake_assists(); /* a thread waiting in an assist takes it at once */
    for (;;) {
        /* Read before the checks: a take or a hurry after them changes it,
         * and the wait returns at once. */
        uint32_t w = gcrt_load_acquire(&term_wake);
        int64_t now = gcrt__nanotime();
        if (now >= until || gcrt_load_acquire(&term_hurry) != 0 ||
            gcrt_load_acquire(&gcrt__gc_term_offer) != tok)
            break;
        gcrt__futex_wait(&term_wake, w, until - now);
    }
    uint32_t t = tok;
    if (!gcrt_cas(&gcrt__gc_term_offer, &t, 0u)) return true; /* taken */
    cyc.offer_ns += gcrt__nanotime() - t0;
    gcrt_xadd(&gcrt__gc_offers_expired, 1);
    return false;
}

static void markterm_take(void) {
    uint32_t tok = gcrt_load_acquire(&gcrt__gc_term_offer);
    if (!(tok & 1) || !gcrt_cas(&gcrt__gc_term_offer, &tok, 0u)) return;
    /* The claim is ours now; the worker need not wait out its offer. */
    gcrt_xadd(&term_wake, 1);
    gcrt__futex_wake(&term_wake, INT32_MAX);
    cyc.offer_ns += gcrt__nanotime() - cyc.t_offer;
    cyc.offer_taken = 1;
    gcrt_xadd(&gcrt__gc_offers_taken, 1);
    gcrt__gc_mark_done();
}

void gcrt__gc_markterm_take(void) {
    gcrt_m_t *m = gcrt__tls_m;
    gcrt_msched_t *ms = m ? gcrt_load_acquire((gcrt_msched_t **)&m->sched) : NULL;
    /* Not inside the runtime's locks or no-stop regions: the stop would
     * wait for them. */
    if (!ms || ms->locks != 0 || gcrt__tls_nostop != 0) return;
    markterm_take();
}

/* ---- fork (fork.c) ---------------------------------------------------------- */

int64_t gcrt__gc_fork_freezes;

/* Prepare: no cycle starts from here to the thaw, and a running mark is
 * frozen (returns 1): this thread holds the termination claim and the
 * workers are off; once the world is stopped and they have put their grey
 * objects back (gcrt__gc_fork_quiesce), the whole mark state is in memory: the child
 * ends it, at its first allocation or wait for a cycle (an offer that
 * only its program can take). A termination under way is waited for (an
 * offer is taken, or hurried). */
int gcrt__gc_fork_freeze(void) {
    lock_start();
    int hurried = 0, froze = 0;
    for (;;) {
        uint32_t ph = gcrt_load_acquire(&gcrt__gcphase);
        /* Over once its end is counted too (after the world restarts: the
         * child would wait for that count forever). */
        if (ph == GCRT_GC_OFF && gcrt_load_acquire(&completed) == gcrt_load_acquire(&started))
            break;
        uint32_t z = 0;
        if (ph == GCRT_GC_MARK && gcrt_cas(&term_claim, &z, 1u)) {
            /* With start_lock held no mark is starting: workers_on is 1. */
            if (gcrt_load_acquire(&gcrt__gcphase) == GCRT_GC_MARK) {
                froze = 1;
                break;
            }
            gcrt_store_release(&term_claim, 0u);
            continue;
        }
        if (gcrt_load_relaxed(&gcrt__forked_child))
            markterm_take(); /* any thread may: see wait_completed */
        else
            gcrt__gc_markterm_poll();
        if (!hurried) {
            hurried = 1;
            gcrt_xadd(&term_hurry, 1);
            gcrt_xadd(&term_wake, 1);
            gcrt__futex_wake(&term_wake, INT32_MAX);
        }
        /* Blocked meanwhile: the termination stops the world, and this
         * thread, holding start_lock, is in a no-stop region. */
        uint32_t c = gcrt_load_acquire(&completed);
        gcrt_enter_blocking();
        gcrt__futex_wait(&completed, c, 100 * 1000);
        gcrt_exit_blocking();
    }
    if (hurried) gcrt_xadd(&term_hurry, -1);
    if (froze) {
        gcrt_store_release(&workers_on, 0u);
        gcrt_xadd_relaxed(&gcrt__gc_fork_freezes, 1);
    }
    return froze;
}

/* Prepare, world stopped after a freeze: the workers have put their grey
 * objects back (the stop waited out the assists, no-stop regions). */
void gcrt__gc_fork_quiesce(void) {
    while (gcrt_load_acquire(&busy) != 0) gcrt__os_yield();
}

/* Parent and child: undoes gcrt__gc_fork_freeze. The parent's workers go
 * on; the child's mark is offered to its program. */
void gcrt__gc_fork_thaw(int froze, int child) {
    if (froze && !child) {
        gcrt_store_release(&workers_on, 1u);
        gcrt_store_release(&term_claim, 0u);
        gcrt_xadd(&worker_word, 1);
        gcrt__futex_wake(&worker_word, INT32_MAX);
    } else if (froze) {
        /* A worker turned off may have counted itself busy again for a
         * moment (it holds no grey objects then: the quiesce saw none)
         * when the fork copied the count; it is not in the child. */
        gcrt_store_release(&busy, 0);
        cyc.t_offer = gcrt__nanotime();
        cyc.offer_taken = 0;
        gcrt_store_release(&gcrt__gc_term_offer, (++term_offer_gen << 1) | 1);
    }
    gcrt__unlock(&start_lock);
}

/* Try to end the mark: nobody holds grey objects and none are queued. The
 * caller holds none (not counted in busy). */
static void worker_try_terminate(void) {
    uint32_t cycle = gcrt_load_acquire(&started), z = 0;
    if (!gcrt_load_acquire(&workers_on) || gcrt_load_acquire(&busy) != 0 ||
        gcrt__gc_global_work() || !gcrt_cas(&term_claim, &z, 1u))
        return;
    /* Looked at again with the claim held: a worker preempted between its
     * checks and the claim may win it after another worker has ended this
     * mark and given the claim back, and would end the mark a second time
     * (or a later cycle's, on stale checks): "transitioning GC to the same
     * state", and a sweep during the next mark (test_gc_checkmark under
     * ctest -j2). */
    if (gcrt_load_acquire(&started) != cycle || gcrt_load_acquire(&gcrt__gcphase) != GCRT_GC_MARK ||
        !gcrt_load_acquire(&workers_on) || gcrt_load_acquire(&busy) != 0 ||
        gcrt__gc_global_work()) {
        gcrt_store_release(&term_claim, 0u);
        return;
    }
    if (markterm_offer()) return;
    gcrt__gc_mark_done();
}

/* The mode this worker marks in next; claims or gives back the idle slot
 * and the fractional flag. */
static int32_t worker_decide(struct worker *wk, const struct gcrt_mark_plan *pl, int32_t mode,
                             int64_t *sleep_ns) {
    for (;;) {
        int32_t idle = gcrt_load_relaxed(&idle_running);
        struct gcrt_worker_view v = {
            .worker = wk->idx,
            .prev_mode = mode,
            .now_ns = gcrt__nanotime(),
            .fractional_ns = gcrt_load_relaxed(&wk->ns[GCRT_WORKER_FRACTIONAL]),
            .busy_ps = busy_ps(),
            .fractional_on = mode != GCRT_WORKER_FRACTIONAL && gcrt_load_relaxed(&fractional_on),
            .idle_workers = idle - (mode == GCRT_WORKER_IDLE),
        };
        v.own_fractional_ns = v.fractional_ns - gcrt_load_relaxed(&wk->mutator_ns);
        if (v.own_fractional_ns < 0) v.own_fractional_ns = 0;
        int32_t next = gcrt__pacer_worker_mode(pl, &v, sleep_ns);
        if (next == GCRT_WORKER_IDLE && mode != GCRT_WORKER_IDLE &&
            !gcrt_cas(&idle_running, &idle, idle + 1))
            continue; /* another worker took a slot meanwhile: look again */
        if (mode == GCRT_WORKER_IDLE && next != GCRT_WORKER_IDLE) gcrt_xadd(&idle_running, -1);
        if (next == GCRT_WORKER_FRACTIONAL)
            gcrt_store_relaxed(&fractional_on, 1u);
        else if (mode == GCRT_WORKER_FRACTIONAL)
            gcrt_store_relaxed(&fractional_on, 0u);
        return next;
    }
}

/* Charges the thread CPU since *cpu0 to mode (and idle time to the CPU
 * limiter); *cpu0 = now. */
static void worker_charge(struct worker *wk, int32_t mode, int64_t *cpu0) {
    int64_t now = gcrt__thread_cputime();
    int64_t d = now - *cpu0;
    *cpu0 = now;
    if (mode == GCRT_WORKER_SLEEP || d <= 0) return;
    gcrt_xadd(&wk->ns[mode], d);
    if (mode == GCRT_WORKER_IDLE) gcrt__gc_limiter_add_idle(d);
}

void gcrt__gc_program_cpus(cpu_set_t *set) {
    CPU_ZERO(set);
    int32_t n = gcrt_load_acquire(&gcrt__nallp);
    gcrt_p_t **all = gcrt_load_acquire(&gcrt__allp); /* old arrays stay valid */
    for (int32_t i = 0; i < n && all; i++) {
        gcrt_p_t *p = gcrt_load_acquire(&all[i]);
        if (!p || gcrt_load_acquire(&p->status) != GCRT_P_RUNNING) continue;
        int32_t c = gcrt_load_relaxed(&p->mcache->cpu) - 1; /* -1: blocked, or not known */
        if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, set);
    }
}

/* A fractional or idle worker (Go runs these on a P the program does not
 * need) that finds itself on the CPU where a program thread holding a P
 * last allocated: the kernel has queued the two on one CPU, and may give
 * this thread full time slices there while another CPU idles (service: the
 * request thread waited 0.4-1.1 ms behind the worker). It narrows its CPUs
 * to those no such thread is on, and the kernel moves it; the next mark
 * starts from its own set again. Not a yield: sched_yield hands the CPU to
 * other processes too, and under outside load the mark lagged (the heap
 * 50% over GOMEMLIMIT in test_gc_memlimit). With no CPU free of program
 * threads it stays (the program has more threads than CPUs; the kernel
 * shares). At most once a millisecond. */
static void step_aside(struct worker *wk) {
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE) return;
    cpu_set_t progcpus;
    gcrt__gc_program_cpus(&progcpus);
    if (!CPU_ISSET(cpu, &progcpus)) return;
    int64_t now = gcrt__nanotime();
    if (wk->narrowed && now - wk->narrowed_at < 1000 * 1000) return;
    /* From the CPUs it had before this mark narrowed them: whoever set
     * those (the program, taskset) keeps the last word. */
    cpu_set_t from = wk->home, to;
    if (!wk->narrowed && sched_getaffinity(0, sizeof from, &from) != 0) return;
    CPU_ZERO(&to);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &from) && !CPU_ISSET(c, &progcpus)) CPU_SET(c, &to);
    if (CPU_COUNT(&to) == 0) return;
    if (sched_setaffinity(0, sizeof to, &to) != 0) return;
    wk->home = from;
    wk->narrow = to;
    wk->narrowed = 1;
    wk->narrowed_at = now;
    gcrt_xadd_relaxed(&worker_moves, 1);
}

/* The worker's CPUs of before, at the end of its mark, unless someone else
 * has set them since. */
static void step_back(struct worker *wk) {
    if (!wk->narrowed) return;
    wk->narrowed = 0;
    cpu_set_t cur;
    if (sched_getaffinity(0, sizeof cur, &cur) == 0 && CPU_EQUAL(&cur, &wk->narrow))
        (void)sched_setaffinity(0, sizeof wk->home, &wk->home);
}

/* One concurrent mark phase (until mark termination) for one worker. */
static void worker_mark(struct worker *wk) {
    struct gcrt_mark_plan pl;
    gcrt__lock(&pacer_lock);
    pl = plan;
    gcrt__unlock(&pacer_lock);
    int32_t mode = GCRT_WORKER_SLEEP; /* counted in busy unless SLEEP */
    int64_t cpu0 = 0;
    for (;;) {
        /* After busy (below): either mark_done sees us busy, or we see
         * MARKTERM. */
        if (__atomic_load_n(&gcrt__gcphase, __ATOMIC_SEQ_CST) != GCRT_GC_MARK ||
            !gcrt_load_acquire(&workers_on))
            break;
        /* Dedicated workers never change mode: their clock is read once. */
        if (mode != GCRT_WORKER_DEDICATED && mode != GCRT_WORKER_SLEEP)
            worker_charge(wk, mode, &cpu0);
        if (mode == GCRT_WORKER_IDLE) limiter_maybe_update(); /* its idle pool */
        int64_t sleep_ns;
        int32_t next =
            mode == GCRT_WORKER_DEDICATED ? mode : worker_decide(wk, &pl, mode, &sleep_ns);
        if (next == GCRT_WORKER_SLEEP) {
            if (mode != GCRT_WORKER_SLEEP) {
                gcrt__gcwork_flush(&wk->w);
                gcrt_xadd(&busy, -1);
            }
            mode = next;
            worker_try_terminate();
            uint32_t w = gcrt_load_acquire(&worker_word);
            if (gcrt_load_acquire(&workers_on)) gcrt__futex_wait(&worker_word, w, sleep_ns);
            continue;
        }
        if (mode == GCRT_WORKER_SLEEP) {
            gcrt_xadd(&busy, 1);
            cpu0 = gcrt__thread_cputime();
            mode = next;
            continue; /* the phase check again, after busy */
        }
        mode = next;
        int64_t n = gcrt__gc_drain(&wk->w, WORKER_SLICE);
        if (n > 0) {
            gcrt__gc_bg_credit_add(n);
            if (mode != GCRT_WORKER_DEDICATED) step_aside(wk);
            continue;
        }
        /* No work anywhere we can see: try to finish the mark. (A grace
         * round for the Ps' barrier buffers was tried: under a memory
         * limit a stream of small hand-overs kept the mark from ending
         * for 100+ ms while the heap tripled.) */
        worker_charge(wk, mode, &cpu0);
        gcrt__gcwork_flush(&wk->w);
        gcrt_xadd(&busy, -1);
        worker_try_terminate();
        uint32_t w2 = gcrt_load_acquire(&worker_word);
        if (gcrt_load_acquire(&workers_on)) gcrt__futex_wait(&worker_word, w2, 50 * 1000);
        gcrt_xadd(&busy, 1);
        cpu0 = gcrt__thread_cputime();
    }
    step_back(wk);
    if (mode != GCRT_WORKER_SLEEP) {
        worker_charge(wk, mode, &cpu0);
        if (mode == GCRT_WORKER_IDLE) gcrt_xadd(&idle_running, -1);
        if (mode == GCRT_WORKER_FRACTIONAL) gcrt_store_relaxed(&fractional_on, 0u);
        gcrt__gcwork_flush(&wk->w);
        gcrt_xadd(&busy, -1);
    }
}

static void *mark_worker(void *arg) {
    struct worker *wk = arg;
    char name[16] = "gcrt-mark-";
    name[10] = (char)('0' + wk->idx % 10);
    gcrt__os_set_thread_name(name);
    for (;;) {
        uint32_t word = gcrt_load_acquire(&worker_word);
        if (gcrt_load_acquire(&gcrt__gcphase) != GCRT_GC_MARK ||
            gcrt_load_relaxed(&cur_mode) != 0 || !gcrt_load_acquire(&workers_on)) {
            gcrt__futex_wait(&worker_word, word, -1);
            continue;
        }
        worker_mark(wk);
    }
    return NULL;
}

/* One worker per P (at least one), up to MAX_WORKERS; more are started
 * when GOMAXPROCS has grown. start_lock held, no mark running. */
void gcrt__gc_workers_start(void) {
    int want = procs();
    if (want > MAX_WORKERS) want = MAX_WORKERS;
    int n = gcrt_load_relaxed(&nworkers);
    for (int i = n; i < want; i++) {
        workers[i].idx = i;
        gcrt__gcwork_init(&workers[i].w);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 << 10);
        if (pthread_create(&workers[i].thread, &attr, mark_worker, &workers[i]) != 0)
            gcrt__throw("cannot start a GC mark worker");
        pthread_attr_destroy(&attr);
        gcrt_store_release(&nworkers, i + 1);
    }
}

/* Worker CPU time per cycle: the workers charge it per mode as they go;
 * zeroed at the start of a cycle, before they run. */
void gcrt__gc_workers_cpu_mark(void) {
    int nw = gcrt_load_acquire(&nworkers);
    for (int i = 0; i < nw; i++) {
        for (int m = 0; m < GCRT_WORKER_NMODES; m++)
            gcrt_store_relaxed(&workers[i].ns[m], (int64_t)0);
        gcrt_store_relaxed(&workers[i].mutator_ns, (int64_t)0);
    }
}

void gcrt__gc_worker_cpu_totals(int64_t *dedicated, int64_t *fractional, int64_t *idle) {
    *dedicated = gcrt_load_relaxed(&worker_cpu_total[0]);
    *fractional = gcrt_load_relaxed(&worker_cpu_total[1]);
    *idle = gcrt_load_relaxed(&worker_cpu_total[2]);
}

void gcrt__gc_workers_cpu_take(int64_t *dedicated, int64_t *fractional, int64_t *idle) {
    *dedicated = *fractional = *idle = 0;
    int nw = gcrt_load_acquire(&nworkers);
    for (int i = 0; i < nw; i++) {
        *dedicated += gcrt_load_relaxed(&workers[i].ns[GCRT_WORKER_DEDICATED]);
        *fractional += gcrt_load_relaxed(&workers[i].ns[GCRT_WORKER_FRACTIONAL]);
        *idle += gcrt_load_relaxed(&workers[i].ns[GCRT_WORKER_IDLE]);
    }
}

/* fork.c: this file's global locks. */
void gcrt__gc_fork_locks(void) {
    gcrt__fork_add_lock(&stats_lock);
    gcrt__fork_add_lock(&pacer_lock);
}
