/* gc.c - the garbage collector: a tour, cycle control, runtime.GC, and
 * the GC half of MemStats (Go: mgc.go).
 *
 *  1. Objects. Every heap object has a mark bit (span->gcmark_bits,
 *     mheap.h). An object is white (unmarked), grey (marked, queued in a
 *     work list, mgcmark.c) or black (marked and scanned). Noscan objects
 *     go black at once: they are never scanned.
 *
 *  2. Roots, scanned conservatively (mgcmark.c): the data and bss of the
 *     executable and of every loaded library (dl_iterate_phdr, listed before
 *     the world stops because the loader's lock may be held by a stopped
 *     thread), ranges registered with gcrt_add_roots, the stacks and saved
 *     registers of every stopped thread and parked goroutine (stw.c hands
 *     them over), and the collecting thread's own stack after spilling its
 *     callee-saved registers. Any aligned word that points into an allocated
 *     object - interior pointers included - keeps it alive. Heap objects
 *     allocated as scan are scanned word by word.
 *
 *  3. A cycle (gc_cycle below): stop the world; flush every P's mcache so
 *     no span is cached; mark from the roots and drain the work lists;
 *     sweep every span by making its mark bits its allocation bits
 *     (mgcsweep.c); record statistics; start the world.
 *
 *  4. Triggering. runtime.GC (gcrt_gc) runs a cycle and returns when it is
 *     complete, sweeping included.
 *
 * Threads that allocate reach safepoints in the allocator's slow path, so a
 * stop-the-world waits for them only briefly; threads running C code
 * elsewhere are stopped by a signal with their registers saved (stw.c). */
#include "gc.h"

#include <string.h>

#include "godebug.h"
#include "malloc.h"
#include "mcache.h"
#include "memstats.h"
#include "os.h"
#include "proc.h"
#include "sched_internal.h"
#include "scavenge.h"

uint32_t gcrt__gcphase;
uint32_t gcrt__gc_marking;

/* Cycle state: gc_lock held by the collecting thread; readers of MemStats
 * take stats_lock. */
static gcrt_lock_t gc_lock = GCRT_LOCK_INIT(GCRT_RANK_NONE);
static gcrt_lock_t stats_lock = GCRT_LOCK_INIT(GCRT_RANK_STATS);
static struct {
    uint32_t num_gc, num_forced_gc;
    uint64_t pause_ns[256], pause_end[256];
    uint64_t pause_total_ns;
    uint64_t last_gc_unix;
    uint64_t heap_marked; /* live bytes found by the last cycle */
    uint64_t gc_cpu_ns;   /* Go's work.totaltime */
    uint64_t next_gc;     /* heap goal after the last cycle */
} st;
static gcrt_roots_t global_roots;

static void fill_memstats(struct gcrt_memstats *ms) {
    gcrt__lock(&stats_lock);
    ms->num_gc = st.num_gc;
    ms->num_forced_gc = st.num_forced_gc;
    memcpy(ms->pause_ns, st.pause_ns, sizeof st.pause_ns);
    memcpy(ms->pause_end, st.pause_end, sizeof st.pause_end);
    ms->pause_total_ns = st.pause_total_ns;
    ms->last_gc = st.last_gc_unix;
    if (st.next_gc) ms->next_gc = st.next_gc;
    int64_t elapsed = gcrt__nanotime() - gcrt__runtime_init_time;
    double total_cpu = (double)elapsed * (gcrt__gomaxprocs > 0 ? gcrt__gomaxprocs : 1);
    ms->gc_cpu_fraction = total_cpu > 0 ? (double)st.gc_cpu_ns / total_cpu : 0;
    gcrt__unlock(&stats_lock);
}

void gcrt__gc_fill_memstats(struct gcrt_memstats *ms) {
    fill_memstats(ms);
}

/* Gives every P's cached spans and tiny block back (world stopped). */
static void flush_all_mcaches(void) {
    for (gcrt_mcache_t *c = gcrt_load_acquire(&gcrt__allmcache); c; c = c->alllink)
        gcrt__mcache_release_all(c);
}

/* One whole collection with the world stopped. */
static void gc_cycle(int forced) {
    gcrt__sched_start(); /* the stop signal and sysmon: once */
    int64_t t_start = gcrt__nanotime();
    gcrt__gc_collect_global_roots(&global_roots);

    gcrt__stop_the_world("GC");
    int64_t t_stopped = gcrt__nanotime();
    flush_all_mcaches();
    gcrt_store_relaxed(&gcrt__gcphase, (uint32_t)GCRT_GC_MARK);

    int64_t t_mark = gcrt__nanotime();
    gcrt_gcwork_t w;
    gcrt__gcwork_init(&w);
    gcrt__gc_scan_roots(&w, &global_roots);
    gcrt__gc_drain(&w, -1);
    gcrt__gcwork_free(&w);

    int64_t t_markterm = gcrt__nanotime();
    gcrt_store_relaxed(&gcrt__gcphase, (uint32_t)GCRT_GC_MARKTERM);
    uint64_t live = gcrt__gc_sweep_all();
    gcrt_store_relaxed(&gcrt__heap_live, live);
    gcrt_store_relaxed(&gcrt__gcphase, (uint32_t)GCRT_GC_OFF);

    int64_t t_end = gcrt__nanotime();
    int64_t pause = t_end - t_start;
    gcrt__lock(&stats_lock);
    st.pause_ns[st.num_gc % 256] = (uint64_t)pause;
    st.pause_end[st.num_gc % 256] = (uint64_t)gcrt__walltime();
    st.last_gc_unix = st.pause_end[st.num_gc % 256];
    st.pause_total_ns += (uint64_t)pause;
    st.num_gc++;
    if (forced) st.num_forced_gc++;
    st.heap_marked = live;
    st.gc_cpu_ns += (uint64_t)pause * (uint64_t)(gcrt__gomaxprocs > 0 ? gcrt__gomaxprocs : 1);
    gcrt__unlock(&stats_lock);
    (void)t_stopped;
    (void)t_mark;
    (void)t_markterm;
    gcrt__start_the_world();
    gcrt__scavenger_wake();
}

/* Takes the cycle lock, staying stoppable while another cycle runs. */
static void gc_lock_acquire(void) {
    while (!gcrt__trylock(&gc_lock)) {
        gcrt__safepoint();
        gcrt__os_yield();
    }
}

void gcrt_gc(void) {
    if (!gcrt__tls_m && gcrt_init() != 0) return;
    gc_lock_acquire();
    gc_cycle(1);
    gcrt__unlock(&gc_lock);
}

void gcrt_keep_alive(const void *p) {
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

void gcrt__gc_init(void) {
    gcrt__gc_stats_hook = fill_memstats;
}
