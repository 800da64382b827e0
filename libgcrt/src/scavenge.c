/* scavenge.c - the background scavenger (Go: mgcscavenge.go). See
 * malloc.c, step 7.
 *
 * A thread of its own (it never touches the GC heap, so it is not attached)
 * wakes when the page heap has free memory, compares retained memory
 * (HeapSys - HeapReleased) with the goal of gcrt__scavenge_goal, and
 * releases 64 KiB at a time, sleeping between chunks so that it uses about
 * 1% of one CPU (Go's scavengePercent). Every 100 ms it also returns the
 * mcentral stashes that went unused to the page heap. gcrt_free_os_memory
 * empties the stashes and releases everything at once. */
#include "scavenge.h"

#include <errno.h>
#include <pthread.h>

#include "gc.h"
#include "godebug.h"
#include "mcentral.h"
#include "memstats.h"
#include "mheap.h"
#include "pacer.h"
#include "os.h"
#include "sched.h"

#define SCAV_CHUNK   ((uintptr_t)64 << 10)
#define SCAV_PERCENT 1                   /* of one CPU */
#define SCAV_IDLE_NS (100 * 1000 * 1000) /* re-check at least every 100 ms */

static uint32_t wake_word;
static uint64_t in_last_heap_inuse, in_heap_goal, in_last_heap_goal; /* relaxed */
/* Bytes the background scavenger released since the last sweep's scavtrace
 * line (Go: mheap_.pages.scav.released; releases by allocations under a
 * memory limit and by gcrt_free_os_memory are not in it). */
static uint64_t bg_released;

uint64_t gcrt__scavenge_goal(uint64_t heap_inuse, uint64_t last_heap_inuse, uint64_t heap_goal,
                             uint64_t last_heap_goal, uint64_t page_size) {
    double goal;
    if (last_heap_goal == 0 || last_heap_inuse == 0)
        goal = (double)heap_inuse;
    else
        goal = (double)last_heap_inuse * ((double)heap_goal / (double)last_heap_goal);
    goal += goal / 10.0; /* retainExtraPercent = 10 */
    uint64_t g = (uint64_t)goal;
    return (g + page_size - 1) / page_size * page_size;
}

void gcrt__scavenger_set_goal_inputs(uint64_t last_heap_inuse, uint64_t heap_goal,
                                     uint64_t last_heap_goal) {
    gcrt_store_relaxed(&in_last_heap_inuse, last_heap_inuse);
    gcrt_store_relaxed(&in_heap_goal, heap_goal);
    gcrt_store_relaxed(&in_last_heap_goal, last_heap_goal);
}

void gcrt__scavenger_repace(uint64_t heap_goal) {
    if (gcrt_load_relaxed(&in_last_heap_goal) == 0) return; /* no cycle yet: goal from in-use */
    gcrt_store_relaxed(&in_heap_goal, heap_goal);
    gcrt__scavenger_wake();
}

uint64_t gcrt__scavenger_goal_now(void) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uint64_t inuse = gcrt_load_relaxed(&h->heap_inuse) + gcrt_load_relaxed(&h->stack_inuse);
    return gcrt__scavenge_goal(inuse, gcrt_load_relaxed(&in_last_heap_inuse),
                               gcrt_load_relaxed(&in_heap_goal),
                               gcrt_load_relaxed(&in_last_heap_goal), GCRT_PAGE_SIZE);
}

void gcrt__scavenger_wake(void) {
    gcrt_xadd(&wake_word, 1);
    gcrt__futex_wake(&wake_word, 1);
}

static uint64_t excess(void) {
    gcrt_mheap_t *h = &gcrt__mheap;
    uint64_t inuse = gcrt_load_relaxed(&h->heap_inuse) + gcrt_load_relaxed(&h->stack_inuse);
    uint64_t retained = inuse + gcrt_load_relaxed(&h->heap_free);
    uint64_t goal = gcrt__scavenger_goal_now();
    uint64_t over = retained > goal ? retained - goal : 0;
    /* GOMEMLIMIT: keep what the limit counts, Sys - HeapReleased (Go's
     * mappedReady: goroutine stacks and runtime metadata too, not only the
     * heap's retained pages), under 95% of the limit (the intent of Go
     * 1.19's memory-limit goal; see ../shared/spec/go-formats.md sec. 9). */
    uint64_t limit = gcrt_load_relaxed(&h->memory_limit);
    if (limit) {
        uint64_t ready =
            retained + gcrt_load_relaxed(&gcrt__meta.mspan_sys) +
            gcrt_load_relaxed(&gcrt__meta.gc_sys) + gcrt_load_relaxed(&gcrt__meta.other_sys) +
            gcrt_load_relaxed(&gcrt__meta.stack_sys) +
            gcrt_load_relaxed(&gcrt__meta.buck_hash_sys) +
            gcrt_load_relaxed(&gcrt__stack_inuse_extra) + gcrt_load_relaxed(&gcrt__stack_sys_extra);
        uint64_t lgoal = gcrt__pacer_scavenge_limit_goal((int64_t)limit, ready);
        if (lgoal != UINT64_MAX && ready - lgoal > over) over = ready - lgoal;
    }
    return over;
}

static void *scavenger_main(void *arg) {
    (void)arg;
    gcrt__os_set_thread_name("gcrt-scavenge");
    int64_t last_age = 0;
    for (;;) {
        gcrt__wait_world_running();
        uint32_t w = gcrt_load_acquire(&wake_word);
        if (gcrt__mheap.arena_start) gcrt__gc_periodic_check();
        /* Emptied spans a class has not reused for a while go back to the
         * page heap, where they can be released (mcentral.c). */
        int64_t now = gcrt__nanotime();
        if (now - last_age >= SCAV_IDLE_NS) {
            last_age = now;
            if (gcrt__mheap.arena_start) gcrt__mcentral_flush_stash(0);
        }
        uint64_t over = excess();
        if (over == 0) {
            gcrt__futex_wait(&wake_word, w, SCAV_IDLE_NS);
            continue;
        }
        int64_t t0 = gcrt__nanotime();
        uintptr_t got = gcrt__mheap_scavenge(&gcrt__mheap, over < SCAV_CHUNK ? over : SCAV_CHUNK);
        int64_t spent = gcrt__nanotime() - t0;
        if (got == 0) {
            gcrt__futex_wait(&wake_word, w, SCAV_IDLE_NS);
            continue;
        }
        gcrt_xadd(&bg_released, (uint64_t)got);
        /* Sleep so that work / (work + sleep) is SCAV_PERCENT. */
        int64_t sleep = spent * (100 - SCAV_PERCENT) / SCAV_PERCENT;
        if (sleep > 0) gcrt__os_sleep_ns(sleep > SCAV_IDLE_NS ? SCAV_IDLE_NS : sleep);
    }
    return NULL;
}

int gcrt__scavenger_start(void) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    int err = pthread_create(&t, &attr, scavenger_main, NULL);
    pthread_attr_destroy(&attr);
    return -err;
}

void gcrt__scavtrace_print_sweep(void) {
    gcrt__scavtrace_print(__atomic_exchange_n(&bg_released, (uint64_t)0, __ATOMIC_RELAXED), "");
}

void gcrt__scavtrace_print(uint64_t work, const char *suffix) {
    gcrt_mheap_t *h = &gcrt__mheap;
    gcrt__lock(&h->lock);
    uint64_t released = h->heap_released;
    uint64_t inuse = h->heap_inuse, hfree = h->heap_free;
    gcrt__unlock(&h->lock);
    uint64_t retained = inuse + hfree;
    uint64_t util = retained ? inuse * 100 / retained : 100;
    gcrt__printf("scav %llu KiB work, %llu KiB total, %llu%% util%s\n",
                 (unsigned long long)(work >> 10), (unsigned long long)(released >> 10),
                 (unsigned long long)util, suffix);
}

void gcrt_free_os_memory(void) {
    if (gcrt__mheap.arena_start == 0) return;
    /* Go's freeOSMemory: GC() first (a whole cycle and its sweep), so
     * that the garbage's pages are free to be released too. */
    gcrt_gc();
    gcrt__mcentral_flush_stash(1);
    uint64_t released = gcrt__mheap_scavenge_all(&gcrt__mheap);
    if (gcrt__debug.scavtrace > 0) gcrt__scavtrace_print(released, " (forced)");
}
