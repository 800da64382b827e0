/* time.c - sleep and timers (Go: time.go, time.Sleep, time.AfterFunc,
 * Timer.Reset/Stop). See sched.c.
 *
 * One global min-heap of armed timers under timers_lock, its earliest
 * deadline mirrored in timers_next for a lock-free check. Due timers run
 * on whichever scheduler M looks first: every pass of findrunnable checks
 * timers_next. When every M is idle, sysmon sleeps until the earliest
 * deadline and starts an M for it (sysmon.c). A timer's function runs
 * with the lock dropped, on a scheduler thread's own stack, with a P held:
 * it may ready goroutines, never block. (Go 1.14+ keeps a heap per P; one
 * heap is simpler and enough until timers are hot in profiles.)
 *
 * A goroutine's sleep parks it ("sleep") with an unlockf that arms its
 * timer; the timer readies it. A plain thread's sleep is a nanosleep
 * bracketed as a blocking call, with the same wait reason for listings. */
#include <limits.h>

#include "sched_internal.h"

static gcrt_lock_t timers_lock = GCRT_LOCK_INIT(GCRT_RANK_TIMERS);
static gcrt_timer_t **heap;
static int32_t heap_len, heap_cap;
static int64_t timers_next = INT64_MAX; /* atomic mirror of heap[0]->when */

int64_t gcrt_nanotime(void) {
    return gcrt__nanotime();
}

int64_t gcrt__timers_next(void) {
    return gcrt_load_relaxed(&timers_next);
}

static void heap_set(int32_t i, gcrt_timer_t *t) {
    heap[i] = t;
    t->idx = i;
}

static void sift_up(int32_t i) {
    gcrt_timer_t *t = heap[i];
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (heap[p]->when <= t->when) break;
        heap_set(i, heap[p]);
        i = p;
    }
    heap_set(i, t);
}

static void sift_down(int32_t i) {
    gcrt_timer_t *t = heap[i];
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= heap_len) break;
        if (c + 1 < heap_len && heap[c + 1]->when < heap[c]->when) c++;
        if (t->when <= heap[c]->when) break;
        heap_set(i, heap[c]);
        i = c;
    }
    heap_set(i, t);
}

static void heap_remove(gcrt_timer_t *t) {
    int32_t i = t->idx;
    t->idx = -1;
    heap_len--;
    if (i == heap_len) return;
    heap_set(i, heap[heap_len]);
    sift_down(i);
    sift_up(heap[i]->idx);
}

static void heap_push(gcrt_timer_t *t) {
    if (heap_len == heap_cap) {
        int32_t ncap = heap_cap ? heap_cap * 2 : 256;
        gcrt_timer_t **n = gcrt__os_alloc(sizeof(*n) * (size_t)ncap);
        if (!n) gcrt__throw("out of memory growing the timer heap");
        for (int32_t i = 0; i < heap_len; i++) n[i] = heap[i];
        if (heap) gcrt__os_unmap(heap, sizeof(*heap) * (size_t)heap_cap);
        heap = n;
        heap_cap = ncap;
    }
    heap_set(heap_len++, t);
    sift_up(t->idx);
}

static void update_next(void) {
    gcrt_store_relaxed(&timers_next, heap_len ? heap[0]->when : INT64_MAX);
}

void gcrt_timer_init(gcrt_timer_t *t, void (*f)(void *arg), void *arg) {
    t->when = 0;
    t->period = 0;
    t->f = f;
    t->arg = arg;
    t->idx = -1;
    t->state = 1;
}

/* Whether t is in the heap (timers_lock held). Not from idx alone: a
 * timer that was never initialised (zeroed memory: idx 0) or was
 * initialised again while armed would make stop remove, or reset move,
 * whichever timer sits at that index (another goroutine's sleep, lost). */
static bool in_heap(const gcrt_timer_t *t) {
    return t->idx >= 0 && t->idx < heap_len && heap[t->idx] == t;
}

/* Arms t at an absolute time. Returns whether it was armed. */
static bool timer_arm_at(gcrt_timer_t *t, int64_t when, int64_t period) {
    gcrt__sched_start();
    (void)gcrt__fork_child_without_sched(GCRT_CHILD_TIMERS); /* armed, said not to fire */
    if (GCRT_UNLIKELY(!t->f))
        gcrt__throw("gcrt_timer_reset: timer without a function (not set up with gcrt_timer_init)");
    gcrt__lock(&timers_lock);
    bool was = in_heap(t);
    int64_t old_next = timers_next;
    t->when = when;
    t->period = period > 0 ? period : 0;
    if (was) {
        sift_down(t->idx);
        sift_up(t->idx);
    } else {
        heap_push(t);
    }
    update_next();
    gcrt__unlock(&timers_lock);
    if (when < old_next) gcrt__timers_wake_sleeper();
    return was;
}

bool gcrt_timer_reset(gcrt_timer_t *t, int64_t ns, int64_t period) {
    if (ns < 0) ns = 0;
    int64_t now = gcrt__nanotime();
    int64_t when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
    return timer_arm_at(t, when, period);
}

bool gcrt_timer_stop(gcrt_timer_t *t) {
    gcrt__lock(&timers_lock);
    bool was = in_heap(t);
    if (was) heap_remove(t);
    update_next();
    gcrt__unlock(&timers_lock);
    return was;
}

void gcrt__timers_run(int64_t now) {
    gcrt__lock(&timers_lock);
    while (heap_len > 0 && heap[0]->when <= now) {
        gcrt_timer_t *t = heap[0];
        heap_remove(t);
        if (t->period > 0) {
            t->when += t->period;
            if (t->when <= now) t->when = now + t->period;
            heap_push(t);
        }
        void (*f)(void *) = t->f;
        void *arg = t->arg;
        update_next();
        gcrt__unlock(&timers_lock);
        f(arg);
        gcrt__lock(&timers_lock);
    }
    update_next();
    gcrt__unlock(&timers_lock);
}

void gcrt__timers_wake_sleeper(void) {
    /* An idle P can run it now; otherwise sysmon recomputes its sleep. */
    gcrt__wakep();
    gcrt__sysmon_wake();
}

/* ---- sleep -------------------------------------------------------------------- */

static gcrt_lock_t tslab_lock = GCRT_LOCK_INIT(GCRT_RANK_LEAF);
static gcrt_timer_t *tslab;
static size_t tslab_left;

static gcrt_timer_t *sleep_timer(gcrt_g_t *g) {
    if (g->sleeptimer) return g->sleeptimer;
    gcrt__lock(&tslab_lock);
    if (tslab_left == 0) {
        tslab_left = 4096 / sizeof(gcrt_timer_t);
        tslab = gcrt__os_alloc(tslab_left * sizeof(gcrt_timer_t));
        if (!tslab) gcrt__throw("out of memory allocating a sleep timer");
    }
    gcrt_timer_t *t = tslab++;
    tslab_left--;
    gcrt__unlock(&tslab_lock);
    g->sleeptimer = t;
    return t;
}

static void sleep_fire(void *arg) {
    gcrt__ready(arg);
}

static int sleep_arm(gcrt_g_t *g, void *arg) {
    timer_arm_at(g->sleeptimer, *(int64_t *)arg, 0);
    return 1;
}

void gcrt_sleep(int64_t ns) {
    if (ns <= 0) return;
    int64_t now = gcrt__nanotime();
    int64_t when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
    gcrt_msched_t *ms = gcrt__getms();
    if (!ms) {
        gcrt__os_sleep_ns(ns);
        return;
    }
    gcrt_g_t *g = ms->curg;
    if (g->is_thread) {
        g->waitreason = GCRT_WAIT_SLEEP;
        g->waitsince = now;
        gcrt_store_release(&g->status, GCRT_G_WAITING);
        gcrt_enter_blocking();
        for (int64_t left = ns; left > 0; left = when - gcrt__nanotime()) gcrt__os_sleep_ns(left);
        gcrt_exit_blocking();
        g->waitreason = 0;
        g->waitsince = 0;
        gcrt_store_release(&g->status, GCRT_G_RUNNING);
        return;
    }
    gcrt_timer_t *t = sleep_timer(g);
    gcrt_timer_init(t, sleep_fire, g);
    gcrt__park(sleep_arm, &when, GCRT_WAIT_SLEEP);
}

/* fork.c: this file's global locks. */
void gcrt__time_fork_locks(void) {
    gcrt__fork_add_lock(&timers_lock);
    gcrt__fork_add_lock(&tslab_lock);
}
