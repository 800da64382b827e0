/* gc.h - the collector's internals shared by gc.c (cycle control),
 * mgcmark.c (roots, marking, work lists), mgcsweep.c (sweeping) and
 * mbarrier.c (the write barrier). See gc.c for the tour. */
#ifndef GCRT_GC_H
#define GCRT_GC_H

#include <sched.h>

#include "lock.h"
#include "mheap.h"
#include "runtime.h"

/* Reading memory the collector does not own (stacks, globals, objects that
 * mutators write concurrently) is what a conservative collector does; the
 * sanitizers must not instrument those reads. */
#define GCRT_NO_SANITIZE                                                                           \
    __attribute__((no_sanitize_address, no_sanitize("thread"), no_sanitize("undefined")))

/* GC phase (Go: gcphase). OFF: mutators allocate white and run no barrier.
 * MARK: the write barrier shades, new objects are allocated black. */
enum { GCRT_GC_OFF = 0, GCRT_GC_MARK, GCRT_GC_MARKTERM };
extern uint32_t gcrt__gcphase;
/* Nonzero while the write barrier and black allocation are on. Read by the
 * allocator's fast path and gcrt_store: one load and a branch. */
extern uint32_t gcrt__gc_marking;

/* ---- mark work (mgcmark.c) ------------------------------------------------ */

/* Grey objects wait in work buffers of (address, length) pairs (Go:
 * workbuf). Each marking thread and each P (for the write barrier and
 * assists) has a gcwork with one current buffer; full buffers go to a
 * global list, where idle markers take them (Go: gcWork, work.full). */
#define GCRT_WBUF_PAIRS 255
typedef struct gcrt_wbuf {
    struct gcrt_wbuf *next;
    uintptr_t n; /* pairs in use */
    uintptr_t e[2 * GCRT_WBUF_PAIRS];
} gcrt_wbuf_t;

typedef struct gcrt_gcwork {
    gcrt_wbuf_t *cur;
    uint64_t bytes_marked; /* bytes of objects this gcwork marked (its one user adds) */
    uint64_t scan_work;    /* bytes scanned */
    uint64_t root_bytes;   /* stack bytes taken by the root scan (gcrt__gc_scan_roots) */
} gcrt_gcwork_t;

void gcrt__gcwork_init(gcrt_gcwork_t *w);
/* Makes sure n spare work buffers exist, their pages faulted in: called
 * before a stop-the-world, so the stop does not map and fault them. */
void gcrt__gcwork_reserve(size_t n);
/* Hands the current buffer to the global list (if it holds anything). */
void gcrt__gcwork_flush(gcrt_gcwork_t *w);
/* Returns the current buffer, which must be empty, to the free list. */
void gcrt__gcwork_dispose(gcrt_gcwork_t *w);
/* Whether the global list has grey objects. */
bool gcrt__gc_global_work(void);

/* Marks the object p points into (if any) and queues it for scanning if
 * it may hold pointers. Safe from several threads at once. */
void gcrt__gc_shade(gcrt_gcwork_t *w, uintptr_t p);
/* Scans [lo, hi) conservatively: every aligned word that points into an
 * allocated heap object shades it. */
void gcrt__gc_scan_range(gcrt_gcwork_t *w, uintptr_t lo, uintptr_t hi);
/* Scans grey objects (the gcwork's, then the global list's) until there
 * are none (or budget bytes of scan work are done, budget < 0 = no limit).
 * Returns scan work done. */
int64_t gcrt__gc_drain(gcrt_gcwork_t *w, int64_t budget);
/* Mark termination, world stopped: shades what the stacks and registers of
 * threads stopped by the signal hold. Such a thread can be anywhere, e.g.
 * between gcrt_store's flag test and its gcrt_write_barrier call, which
 * then finds marking over and shades nothing: the values it was to shade
 * are in its registers or frame. (A thread stopped at a safepoint, or a
 * parked goroutine, cannot be there.) */
void gcrt__gc_rescan_signal_stopped(gcrt_gcwork_t *w);
/* The same with the world stopped by the caller (a bounded drain does not
 * give way to the stop). */
int64_t gcrt__gc_drain_stopped(gcrt_gcwork_t *w, int64_t budget);
/* Heap scan work (bytes) of every drain of the current cycle, for the
 * pacer (Go: gcController.heapScanWork); atomic. */
extern uint64_t gcrt__gc_heap_scan_work;
/* A copy of the pacer's state (for tests and debugging). */
struct gcrt_pacer;
void gcrt__gc_pacer_state(struct gcrt_pacer *out);
/* A copy of the GC CPU limiter's state (for tests and debugging). */
struct gcrt_cpu_limiter;
void gcrt__gc_limiter_state(struct gcrt_cpu_limiter *out);

/* Root ranges of the loaded executable and libraries (data, bss), found
 * with dl_iterate_phdr outside the stop-the-world (the loader's lock could
 * be held by a stopped thread). */
typedef struct gcrt_roots {
    uintptr_t *lo, *hi;
    size_t n, cap;
    uint64_t bytes;
} gcrt_roots_t;
void gcrt__gc_collect_global_roots(gcrt_roots_t *r);
/* Runs fn(arg) with the list of loaded modules locked: no dlopen or dlclose
 * completes meanwhile (gcrt__gc_collect_global_roots may be called in fn). */
void gcrt__gc_with_modules_locked(void (*fn)(void *), void *arg);
/* Sizes the root snapshot buffer for about global_bytes of globals,
 * registered roots and TLS (of which 1 MiB at most is copied) and
 * stack_bytes of stacks (before the stop; mgcmark.c, "root snapshots"),
 * and empties it for a new cycle. */
void gcrt__gc_snapshot_reserve(size_t global_bytes, size_t stack_bytes);
/* Brings the globals in r and the snapshot buffer into the cache, just
 * before the stop. */
void gcrt__gc_snapshot_prefetch(const gcrt_roots_t *r);
/* Bytes of roots copied into the snapshot this cycle (queued as mark work:
 * its scan counts as heap scan work, which the pacer wants without it). */
uint64_t gcrt__gc_snapshot_bytes(void);
/* Takes every root: the globals in r, registered roots, the stacks and
 * registers of every stopped thread and parked goroutine, and the calling
 * thread's own stack and registers. World stopped. Each range is copied
 * into the snapshot and queued in w for the concurrent mark (scanned in
 * place if the snapshot is full); finalizer roots are scanned. Returns the
 * bytes of stack taken (gctrace "stacks" reports the allocated size
 * instead). */
uint64_t gcrt__gc_scan_roots(gcrt_gcwork_t *w, const gcrt_roots_t *r);
/* Bytes of registered roots (gcrt_add_roots). */
uint64_t gcrt__gc_registered_root_bytes(void);

/* ---- sweeping (mgcsweep.c) ------------------------------------------------ */

/* Counters of what sweeping freed (Go: the sweeper's part of
 * heapStats); added to MemStats' Frees. Atomic. */
struct gcrt_sweep_stats {
    uint64_t small_free_count[GCRT_NUM_SIZE_CLASSES];
    uint64_t large_free, large_free_count;
};
extern struct gcrt_sweep_stats gcrt__sweep_stats;

/* Sweeps span s, claimed by the caller (sweepgen h - 1, on no list): for a
 * small span the mark bits become the allocation bits (Go's bitmap swap);
 * for a large one only the mark bit is read and cleared. Returns nonzero
 * if any object in it is alive. */
int gcrt__sweep_span(gcrt_span_t *s);
/* Counts a dead large object the caller is about to free. */
void gcrt__sweep_count_large_free(gcrt_span_t *s);
/* Sweeps one unswept span anywhere; returns its pages, 0 if none is left. */
uintptr_t gcrt__sweep_one(void);
/* Sweeps until npages pages were swept or nothing is left (proportional
 * sweeping before the heap grows). */
void gcrt__sweep_some(uintptr_t npages);
/* Sweeps everything left and waits for other sweepers (Go:
 * finishsweep_m). */
void gcrt__finish_sweep(void);
/* Whether the current cycle's sweep is complete. */
bool gcrt__sweep_done(void);
/* Proportional sweep (Go: gcPaceSweeper, deductSweepCredit): allocation
 * sweeps as it goes, so that the sweep is done when heap_live reaches the
 * next cycle's trigger, whatever the background sweeper gets done; the
 * cycle's start then has nothing left to sweep on its allocating thread.
 * gcrt__sweep_pace, world stopped after the flip: pages_in_use pages to
 * sweep before heap_live goes from live to trigger (less 1 MiB of margin;
 * none within 2 MiB of it: the next cycle's start sweeps what is left).
 * gcrt__sweep_deduct, by a thread about to take a span of span_bytes:
 * sweeps until the pages swept since the pace are the share of the
 * allocation since; pacing ends when nothing is left to sweep. Neither
 * from a no-stop region. gcrt__sweep_note_pages: every sweeper counts the
 * pages of each span it sweeps. */
void gcrt__sweep_pace(uint64_t trigger, uint64_t live, uint64_t pages_in_use);
/* A knob moved the trigger between cycles (Go: gcControllerCommit's
 * gcPaceSweeper): the pages still to sweep since the flip over the new
 * runway from live. */
void gcrt__sweep_repace(uint64_t trigger, uint64_t live);
void gcrt__sweep_deduct(uint64_t span_bytes);
void gcrt__sweep_note_pages(uint64_t npages);
/* Pages to sweep per byte allocated, in 1/2^32 pages (0: not pacing). */
uint64_t gcrt__sweep_pace_rate(void);
/* Starts the background sweeper (once) / wakes it after a flip. */
void gcrt__bgsweep_start(void);
void gcrt__bgsweep_wake(void);
/* Pages every sweeper has swept, ever. */
uint64_t gcrt__sweep_pages_swept(void);
/* gcrt_gc without its sweep: returns once a whole new cycle's mark has
 * terminated (its sweep left to the background sweeper and allocation). */
void gcrt__gc_cycle(void);
/* Go's stopTheWorldGC/startTheWorldGC around runtime.GOMAXPROCS (gcsema):
 * waits until no cycle is between its start and its mark termination and
 * keeps new ones from starting until the release. */
void gcrt__gc_hold_cycles(void);
void gcrt__gc_release_cycles(void);

/* ---- the cycle (gc.c) --------------------------------------------------------- */

/* Starts a cycle if heap_live reached the trigger (allocator slow path, no
 * runtime lock held). */
void gcrt__gc_maybe_start(void);
/* A cycle if none ran for 2 minutes (Go's forcegc); scavenger thread. */
void gcrt__gc_periodic_check(void);
/* The period of forced cycles (Go's forcegcperiod, 2 minutes); tests shorten it. */
extern int64_t gcrt__forcegc_period_ns;
#if GCRT_ASSERT_LEVEL >= 2
/* Tests: called by the periodic check when it is about to start a cycle. */
extern void (*gcrt__forcegc_test_hook)(void);
#endif
/* Refreshes the trigger from the pacer (allocator slow path). */
void gcrt__gc_update_trigger(void);
/* The GC CPU limiter (gc.c): on while the collector has used too much CPU
 * lately (assists and the scavenging assist are skipped); atomic. */
extern uint32_t gcrt__gc_limiter_on;
/* Assist time (ns, wall) for the limiter: mark assists, the allocator's
 * scavenging under a memory limit. No lock taken. */
void gcrt__gc_limiter_add_assist(int64_t ns);
/* Idle time (ns, wall) for the limiter: a P with nothing to run, idle
 * marking (Go: limiterEventIdle, limiterEventIdleMarkWork), an assist
 * waiting for the workers. No lock taken. */
void gcrt__gc_limiter_add_idle(int64_t ns);
/* The limiter's periodic update while a mark runs or it is on, at most
 * every 10 ms; cheap otherwise (sysmon calls it every round). */
void gcrt__gc_limiter_tick(void);
/* GOMAXPROCS is now n: the limiter's capacity and window follow. */
void gcrt__gc_limiter_set_procs(int32_t n);
/* Mark termination, run by the mark worker that found no work left, or
 * by the program thread that took its offer. */
void gcrt__gc_mark_done(void);
/* Odd while a finished mark's termination is offered to the program's
 * threads (gc.c, "mark termination at a program's safepoint"): a thread
 * at a safepoint outside the runtime's locks calls
 * gcrt__gc_markterm_take, which runs the termination if it wins the
 * offer. How long an offer stays open (ns; 0: never offered). */
extern uint32_t gcrt__gc_term_offer;
extern int64_t gcrt__gc_markterm_offer_ns;
/* Offers taken by a program thread, and offers that ran out (the worker
 * ended the mark); atomic, for tests and gcpausetrace. */
extern uint64_t gcrt__gc_offers_taken, gcrt__gc_offers_expired;
void gcrt__gc_markterm_take(void);
/* fork.c: a running mark frozen across a fork, ended by the child. */
int gcrt__gc_fork_freeze(void);
void gcrt__gc_fork_quiesce(void);
void gcrt__gc_fork_thaw(int froze, int child);
extern int64_t gcrt__gc_fork_freezes; /* marks frozen by a fork (tests) */
static inline void gcrt__gc_markterm_poll(void) {
    if (__builtin_expect(__atomic_load_n(&gcrt__gc_term_offer, __ATOMIC_RELAXED) & 1, 0))
        gcrt__gc_markterm_take();
}
/* The background mark workers: one per P, started (or grown) at cycle
 * start with start_lock held; their marked bytes (taken and zeroed) and
 * CPU time per cycle by mode (zeroed by cpu_mark). */
void gcrt__gc_workers_start(void);
uint64_t gcrt__gc_workers_take_marked(void);
void gcrt__gc_workers_cpu_mark(void);
void gcrt__gc_workers_cpu_take(int64_t *dedicated, int64_t *fractional, int64_t *idle);
/* The background workers' CPU by mode, summed over every finished cycle. */
void gcrt__gc_worker_cpu_totals(int64_t *dedicated, int64_t *fractional, int64_t *idle);
/* gccheckmark=1, world stopped after marking: stops the program with the
 * addresses and allocation sites if a marked object, a global, a
 * registered root or TLS points to an unmarked one (a pointer store that
 * bypassed the write barrier). A stack word that does is reported without
 * stopping (it may be no pointer), and the object kept: returns the bytes
 * so marked. */
uint64_t gcrt__gc_checkmark(const gcrt_roots_t *r);

/* ---- finalizers (mfinal.c) ------------------------------------------------ */

/* Mark roots: the contents of every object with a finalizer (not the object
 * itself) and the finalizer queue. */
void gcrt__fin_scan_roots(gcrt_gcwork_t *w);
/* Sweep: queues the finalizers of unmarked objects of s and marks those
 * objects so that this sweep keeps them. */
void gcrt__fin_sweep_span(gcrt_span_t *s);
/* Explicit free: forgets the finalizer of the object at offset. */
void gcrt__fin_remove(gcrt_span_t *s, uintptr_t offset);
/* Wakes the finalizer goroutine if work was queued (no runtime lock held). */
void gcrt__fin_wake_check(void);
/* Finalizers run so far. */
uint64_t gcrt__fin_count_run(void);

/* Copies / clears n bytes of memory that may hold pointers, through the
 * write barrier word by word where the destination is aligned (Go:
 * typedmemmove, typedmemclr). Overlap allowed for copies. */
#if GCRT_ASSERT_LEVEL >= 2
/* Tests: called by gcrt__gc_shade between reading the span struct and its
 * bitmaps, where a preempted marker may find the span freed and reused. */
extern void (*gcrt__shade_test_hook)(uintptr_t p);
/* Tests: called by mark termination with the world stopped, before it
 * decides whether to restart the mark (restarts so far); what it puts in w
 * is global work. */
extern void (*gcrt__markterm_test_hook)(gcrt_gcwork_t *w, int restarts);
#endif
void gcrt__copy_barrier(void *dst, const void *src, size_t n);
void gcrt__clear_barrier(void *dst, size_t n);

/* The write barrier's shared buffer for unattached threads (mbarrier.c). */
void gcrt__wb_flush_orphans(void);
/* The bytes of the objects the shared buffer's shades marked since the
 * last call (they count in heap_marked like every gcwork's); zeroes them.
 * World stopped, at mark termination. */
uint64_t gcrt__wb_take_orphan_marked(void);
/* An allocating P's share of marking (gc.c). */
struct gcrt_mcache;
void gcrt__gc_assist(struct gcrt_mcache *c, int64_t bytes);
/* The background workers' scan credit (Go: bgScanCredit): workers add the
 * scan work they do; an assist takes up to want of it before marking
 * itself and gets what it took (never more than there is). */
void gcrt__gc_bg_credit_add(int64_t work);
int64_t gcrt__gc_bg_credit_take(int64_t want);
int64_t gcrt__gc_bg_credit(void);
/* CPU the program's threads marked in fractional slices (gc.c:
 * mutator_fractional), all cycles. */
int64_t gcrt__gc_mutator_fractional_ns(void);
/* How many times a fractional or idle mark worker left the CPU of a
 * program thread (tests). */
int64_t gcrt__gc_worker_moves(void);
/* The CPUs the program runs on, as the mark workers see them: those of
 * the Ps running the program, at their owners' last span refill. An
 * attached thread in a blocking call keeps its P but is on none
 * (gcrt_enter_blocking). Lock-free and approximate. */
void gcrt__gc_program_cpus(cpu_set_t *set);

/* ---- cycle state read by MemStats (gc.c) ---------------------------------- */
void gcrt__gc_fill_memstats(struct gcrt_memstats *ms);
/* Installs the collector's MemStats hook (runtime start-up). */
void gcrt__gc_init(void);

#endif
