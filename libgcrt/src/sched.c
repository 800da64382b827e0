/* sched.c - goroutines: park/ready, the thread G of every attached thread.
 * (Step 1: thread Gs; the M:N scheduler follows.) */
#include "sched_internal.h"

#include <errno.h>
#include <limits.h>

gcrt_schedt_t gcrt__sched = {.lock = GCRT_LOCK_INIT(GCRT_RANK_SCHED)};
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
        size_t n = 256;
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

static gcrt_lock_t msched_lock = GCRT_LOCK_INIT(GCRT_RANK_LEAF);

gcrt_msched_t *gcrt__msched_of(gcrt_m_t *m) {
    gcrt_msched_t *ms = gcrt_load_acquire((gcrt_msched_t **)&m->sched);
    if (GCRT_LIKELY(ms != NULL)) return ms;
    gcrt__lock(&msched_lock);
    ms = m->sched;
    if (!ms) {
        ms = gcrt__os_alloc(sizeof *ms);
        if (!ms) gcrt__throw("out of memory allocating an M");
        ms->m = m;
        gcrt_g_t *g0 = gcrt__galloc();
        g0->is_thread = 1;
        g0->goid = gcrt_xadd(&gcrt__sched.goidgen, 1) + 1;
        g0->status = GCRT_G_RUNNING;
        g0->m = m;
        g0->stack_lo = m->stack_lo;
        g0->stack_hi = m->stack_hi;
        ms->g0 = g0;
        ms->curg = g0;
        gcrt_store_release((gcrt_msched_t **)&m->sched, ms);
    }
    gcrt__unlock(&msched_lock);
    return ms;
}

GCRT_NOINLINE gcrt_msched_t *gcrt__getms(void) {
    gcrt_m_t *m = gcrt__getm();
    return m ? gcrt__msched_of(m) : NULL;
}

GCRT_NOINLINE gcrt_g_t *gcrt__getg(void) {
    gcrt_m_t *m = gcrt__getm();
    if (!m) return NULL;
    return gcrt__msched_of(m)->curg;
}

bool gcrt__on_goroutine(void) {
    gcrt_g_t *g = gcrt__getg();
    return g && !g->is_thread;
}

/* ---- park / ready -------------------------------------------------------- */

/* A thread G parks on its futex word: ready stores 1 and wakes it. The
 * word is cleared before unlockf runs, so a ready that follows the unlock
 * is never lost. */
static void park_thread(gcrt_g_t *g, int (*unlockf)(gcrt_g_t *, void *), void *arg,
                        unsigned reason) {
    gcrt_store_relaxed(&g->parkword, 0);
    g->waitreason = (uint8_t)reason;
    g->waitsince = gcrt__nanotime();
    gcrt_store_release(&g->status, GCRT_G_WAITING);
    if (unlockf && !unlockf(g, arg)) {
        uint32_t w = GCRT_G_WAITING;
        if (gcrt_cas(&g->status, &w, GCRT_G_RUNNING)) {
            g->waitreason = 0;
            g->waitsince = 0;
            return;
        }
        /* Readied meanwhile: consume the wakeup below. */
    }
    while (gcrt_load_acquire(&g->parkword) == 0) gcrt__futex_wait(&g->parkword, 0, -1);
    g->waitreason = 0;
    g->waitsince = 0;
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
    gcrt_g_t *g = gcrt__getg();
    if (!g) gcrt__throw("gcrt__park: thread not attached (call gcrt_thread_attach first)");
    if (g->is_thread) {
        park_thread(g, unlockf, arg, reason);
        return;
    }
    gcrt__throw("gcrt__park: goroutines not implemented yet");
}

void gcrt__ready(gcrt_g_t *g) {
    if (g->is_thread) {
        ready_thread(g);
        return;
    }
    gcrt__throw("gcrt__ready: goroutines not implemented yet");
}

void gcrt__gosched(void) {
    gcrt__os_yield();
}
