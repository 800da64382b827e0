/* chan.c - channels (Go: chan.go). select.c holds select; sema.c and sync.c
 * build Go's sync package on the same park/ready interface (sched.h).
 *
 * Walk-through
 *
 * 1. A channel is one GC-heap object (allocated "scan"): the struct
 *    gcrt_chan (chan.h) and then, for a buffered channel, a ring of
 *    dataqsiz elements of elemsize bytes. Values are copied in and out
 *    with memcpy. One runtime lock (rank CHAN) guards everything.
 *
 * 2. Blocking. A G that cannot proceed fills in a sudog on its own stack
 *    (what G, which element), appends it to the channel's sendq or recvq
 *    and parks with gcrt__park(unlock_chan, c, reason): the scheduler
 *    switches the G out (or puts the thread to sleep) and only then drops
 *    the channel lock, so no wakeup can be lost. The reason ("chan send",
 *    "chan receive") is what goroutine dumps show.
 *
 * 3. Direct hand-off. A sender that finds a waiting receiver copies its
 *    value straight into the receiver's element (often on the receiver's
 *    stack), marks the sudog successful, drops the lock and readies the
 *    receiver; a receiver that finds a waiting sender does the mirror (for
 *    a full buffered channel: takes the head of the ring and puts the
 *    sender's value at the tail, so FIFO order holds). The woken G finds
 *    its operation already done. Queues are FIFO, so waiting senders and
 *    receivers are served in arrival order.
 *
 * 4. Close sets closed, dequeues every waiting receiver (zero value,
 *    success = 0) and sender (success = 0: it panics when it wakes), drops
 *    the lock and readies them all. Readying always happens after the
 *    unlock: a waker never holds a channel lock while it calls into the
 *    scheduler.
 *
 * 5. select (select.c) locks all its channels in address order, looks for
 *    a ready case in a random order, and otherwise enqueues one sudog per
 *    case, all marked is_select. The first waker to win the CAS on the G's
 *    selectdone takes it; later dequeuers skip its sudogs
 *    (gcrt__waitq_dequeue), and the G removes the rest itself when it
 *    wakes, with all channels locked again.
 *
 * 6. Non-blocking operations (try_send, try_recv, select with default)
 *    first check, without the lock, whether they would fail, with the same
 *    single-word reasoning as Go's chansend/chanrecv fast paths.
 *
 * 7. gcrt_chan_after (time.After) is a scheduler timer whose callback does
 *    a non-blocking send into a channel of capacity 1.
 *
 * Panics are Go's (gcrt__panic): send on closed channel, close of closed
 * channel, close of nil channel. */
#include "chan.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcrt_sched.h"
#include "os.h"

/* ---- panics and helpers ------------------------------------------------- */

void gcrt__panic(const char *msg) {
    gcrt_g_t *g = gcrt__getg();
    gcrt__printf("panic: %s\n\ngoroutine %lld [running]:\n(no traceback: gcrt panics are fatal)\n",
                 msg, g ? (long long)g->goid : 0LL);
    const char *tb = getenv("GOTRACEBACK");
    if (tb && strcmp(tb, "crash") == 0) abort();
    _exit(2);
}

gcrt_g_t *gcrt__getg_or_throw(const char *what) {
    gcrt_g_t *g = gcrt__getg();
    if (GCRT_UNLIKELY(g == NULL))
        gcrt__throwf("%s on a thread that is not attached to the runtime (call "
                     "gcrt_thread_attach first)",
                     what);
    return g;
}

static int park_forever_commit(gcrt_g_t *g, void *arg) {
    (void)g;
    (void)arg;
    return 1;
}

void gcrt__block_forever(unsigned reason) {
    gcrt__getg_or_throw("blocking forever");
    for (;;) gcrt__park(park_forever_commit, NULL, reason);
}

/* ---- wait queues -------------------------------------------------------- */

/* q->first is also read without the lock (chan_full, chan_empty), so every
 * write of it is an atomic store. */

void gcrt__waitq_enqueue(gcrt_waitq_t *q, gcrt_sudog_t *s) {
    s->next = NULL;
    gcrt_sudog_t *x = q->last;
    s->prev = x;
    if (x == NULL)
        gcrt_store_release(&q->first, s);
    else
        x->next = s;
    q->last = s;
}

gcrt_sudog_t *gcrt__waitq_dequeue(gcrt_waitq_t *q) {
    for (;;) {
        gcrt_sudog_t *s = q->first;
        if (s == NULL) return NULL;
        gcrt_sudog_t *y = s->next;
        if (y == NULL) {
            gcrt_store_release(&q->first, NULL);
            q->last = NULL;
        } else {
            y->prev = NULL;
            gcrt_store_release(&q->first, y);
            s->next = NULL; /* removed (see gcrt__waitq_remove) */
        }
        /* A select G may still be queued here after another case won it; it
         * removes itself once it holds all its locks again. Skip it. */
        if (s->is_select) {
            uint32_t zero = 0;
            if (!gcrt_cas(&s->g->selectdone, &zero, 1)) continue;
        }
        return s;
    }
}

void gcrt__waitq_remove(gcrt_waitq_t *q, gcrt_sudog_t *s) {
    gcrt_sudog_t *x = s->prev, *y = s->next;
    if (x != NULL) {
        x->next = y;
        if (y != NULL)
            y->prev = x;
        else
            q->last = x;
        s->prev = s->next = NULL;
        return;
    }
    if (y != NULL) {
        y->prev = NULL;
        gcrt_store_release(&q->first, y);
        s->next = NULL;
        return;
    }
    /* Alone in the queue, or already dequeued: q->first tells which. */
    if (q->first == s) {
        gcrt_store_release(&q->first, NULL);
        q->last = NULL;
    }
}

/* ---- make, len, cap ----------------------------------------------------- */

gcrt_chan_t *gcrt_chan_make(size_t elem_size, size_t cap) {
    if (elem_size >= GCRT_CHAN_MAX_ELEM) gcrt__throw("makechan: invalid channel element type");
    size_t hdr = gcrt_round_up(sizeof(struct gcrt_chan), 16);
    size_t bufsz;
    if (__builtin_mul_overflow(elem_size, cap, &bufsz) || bufsz > GCRT_MAX_ALLOC - hdr)
        gcrt__panic("makechan: size out of range");
    /* Like Go's mallocgc: out of memory (or an unattached thread) stops the
     * program with the allocator's fatal error. */
    unsigned char *mem = gcrt_alloc(hdr + bufsz);
    gcrt_chan_t *c = (gcrt_chan_t *)mem;
    gcrt__lock_init(&c->lock, GCRT_RANK_CHAN);
    c->elemsize = elem_size;
    c->dataqsiz = cap;
    c->buf = mem + hdr;
    return c;
}

size_t gcrt_chan_len(gcrt_chan_t *c) {
    return c ? gcrt_load_relaxed(&c->qcount) : 0;
}
size_t gcrt_chan_cap(gcrt_chan_t *c) {
    return c ? c->dataqsiz : 0;
}

/* full: a send would block. Single-word reads of mutable state (Go: full). */
static inline bool chan_full(gcrt_chan_t *c) {
    if (c->dataqsiz == 0) return gcrt_load_acquire(&c->recvq.first) == NULL;
    return gcrt_load_acquire(&c->qcount) == c->dataqsiz;
}
/* empty: a receive would block (Go: empty). */
static inline bool chan_empty(gcrt_chan_t *c) {
    if (c->dataqsiz == 0) return gcrt_load_acquire(&c->sendq.first) == NULL;
    return gcrt_load_acquire(&c->qcount) == 0;
}

static int unlock_chan_commit(gcrt_g_t *g, void *arg) {
    (void)g;
    gcrt__unlock(&((gcrt_chan_t *)arg)->lock);
    return 1;
}
static void unlock_chan(void *arg) {
    gcrt__unlock(&((gcrt_chan_t *)arg)->lock);
}

/* Queue links are read without the lock by chan_full/chan_empty, so they
 * are written with release stores where they become visible. */
static inline void set_count(gcrt_chan_t *c, size_t n) {
    gcrt_store_release(&c->qcount, n);
}

/* ---- send --------------------------------------------------------------- */

void gcrt__chan_send_to(gcrt_chan_t *c, gcrt_sudog_t *sg, const void *ep, void (*unlockf)(void *),
                        void *arg) {
    if (sg->elem != NULL) {
        gcrt__elem_copy(sg->elem, ep, c->elemsize);
        sg->elem = NULL;
    }
    gcrt_g_t *gp = sg->g;
    unlockf(arg);
    gp->param = sg;
    sg->success = 1;
    gcrt__ready(gp);
}

/* Go: chansend. Returns whether the value was sent (always, if block). */
static bool chansend(gcrt_chan_t *c, const void *ep, bool block) {
    if (c == NULL) {
        if (!block) return false;
        gcrt__block_forever(GCRT_WAIT_CHAN_SEND_NIL_CHAN);
    }
    /* Fast path: not closed and not ready, observed one word at a time
     * (a closed channel never goes from ready to not ready). */
    if (!block && gcrt_load_relaxed(&c->closed) == 0 && chan_full(c)) return false;

    gcrt__lock(&c->lock);
    if (c->closed) {
        gcrt__unlock(&c->lock);
        gcrt__panic("send on closed channel");
    }
    gcrt_sudog_t *sg = gcrt__waitq_dequeue(&c->recvq);
    if (sg != NULL) {
        gcrt__chan_send_to(c, sg, ep, unlock_chan, c);
        return true;
    }
    if (c->qcount < c->dataqsiz) {
        gcrt__elem_copy(gcrt__chanbuf(c, c->sendx), ep, c->elemsize);
        if (++c->sendx == c->dataqsiz) c->sendx = 0;
        set_count(c, c->qcount + 1);
        gcrt__unlock(&c->lock);
        return true;
    }
    if (!block) {
        gcrt__unlock(&c->lock);
        return false;
    }

    /* Block; a receiver (or close) completes the operation for us. The G
     * record exists already (the entry safepoint looked it up: a first
     * lookup may allocate under scheduler locks, never under ours). */
    gcrt_g_t *gp = gcrt__getg_or_throw("channel send");
    gcrt_sudog_t my = {0};
    my.g = gp;
    my.elem = (void *)ep;
    my.c = c;
    gp->waiting = &my;
    gp->param = NULL;
    gcrt__waitq_enqueue(&c->sendq, &my);
    gcrt__park(unlock_chan_commit, c, GCRT_WAIT_CHAN_SEND);

    if (gp->waiting != &my) gcrt__throw("G waiting list is corrupted");
    gp->waiting = NULL;
    gp->param = NULL;
    if (!my.success) {
        if (gcrt_load_relaxed(&c->closed) == 0) gcrt__throw("chansend: spurious wakeup");
        gcrt__panic("send on closed channel");
    }
    return true;
}

/* Blocking channel operations are safepoints (DESIGN.md decision 4): a
 * pending stop-the-world or preemption request is honoured here, with no
 * lock held. The non-blocking ones are not: timer callbacks use them on
 * scheduler threads. */
void gcrt_chan_send(gcrt_chan_t *c, const void *elem) {
    gcrt__safepoint();
    chansend(c, elem, true);
}
bool gcrt_chan_try_send(gcrt_chan_t *c, const void *elem) {
    return chansend(c, elem, false);
}

/* ---- receive ------------------------------------------------------------ */

void gcrt__chan_recv_from(gcrt_chan_t *c, gcrt_sudog_t *sg, void *ep, void (*unlockf)(void *),
                          void *arg) {
    if (c->dataqsiz == 0) {
        if (ep != NULL) gcrt__elem_copy(ep, sg->elem, c->elemsize);
    } else {
        /* Full buffer: take the head, the sender's value goes to the tail,
         * which is the same slot. */
        void *qp = gcrt__chanbuf(c, c->recvx);
        if (ep != NULL) gcrt__elem_copy(ep, qp, c->elemsize);
        gcrt__elem_copy(qp, sg->elem, c->elemsize);
        if (++c->recvx == c->dataqsiz) c->recvx = 0;
        c->sendx = c->recvx;
    }
    sg->elem = NULL;
    gcrt_g_t *gp = sg->g;
    unlockf(arg);
    gp->param = sg;
    sg->success = 1;
    gcrt__ready(gp);
}

/* Go: chanrecv. Returns selected (a receive happened); *received tells a
 * real value from the zero value of a closed channel. */
static bool chanrecv(gcrt_chan_t *c, void *ep, bool block, bool *received) {
    *received = false;
    if (c == NULL) {
        if (!block) return false;
        gcrt__block_forever(GCRT_WAIT_CHAN_RECEIVE_NIL_CHAN);
    }
    if (!block && chan_empty(c)) {
        /* Not ready; closed is read after empty, both atomically, and a
         * channel is never reopened. */
        if (gcrt_load_acquire(&c->closed) == 0) return false;
        if (chan_empty(c)) {
            if (ep != NULL) gcrt__elem_clear(ep, c->elemsize);
            return true;
        }
    }

    gcrt__lock(&c->lock);
    if (c->closed) {
        if (c->qcount == 0) {
            gcrt__unlock(&c->lock);
            if (ep != NULL) gcrt__elem_clear(ep, c->elemsize);
            return true;
        }
        /* Closed, but buffered values remain: receive them. */
    } else {
        gcrt_sudog_t *sg = gcrt__waitq_dequeue(&c->sendq);
        if (sg != NULL) {
            gcrt__chan_recv_from(c, sg, ep, unlock_chan, c);
            *received = true;
            return true;
        }
    }
    if (c->qcount > 0) {
        void *qp = gcrt__chanbuf(c, c->recvx);
        if (ep != NULL) gcrt__elem_copy(ep, qp, c->elemsize);
        gcrt__elem_clear(qp, c->elemsize); /* drop references for the GC */
        if (++c->recvx == c->dataqsiz) c->recvx = 0;
        set_count(c, c->qcount - 1);
        gcrt__unlock(&c->lock);
        *received = true;
        return true;
    }
    if (!block) {
        gcrt__unlock(&c->lock);
        return false;
    }

    gcrt_g_t *gp = gcrt__getg_or_throw("channel receive"); /* see chansend */
    gcrt_sudog_t my = {0};
    my.g = gp;
    my.elem = ep;
    my.c = c;
    gp->waiting = &my;
    gp->param = NULL;
    gcrt__waitq_enqueue(&c->recvq, &my);
    gcrt__park(unlock_chan_commit, c, GCRT_WAIT_CHAN_RECEIVE);

    if (gp->waiting != &my) gcrt__throw("G waiting list is corrupted");
    gp->waiting = NULL;
    gp->param = NULL;
    *received = my.success;
    return true;
}

bool gcrt_chan_recv(gcrt_chan_t *c, void *out, bool *ok) {
    bool received;
    gcrt__safepoint();
    chanrecv(c, out, true, &received);
    if (ok) *ok = received;
    return received;
}

bool gcrt_chan_try_recv(gcrt_chan_t *c, void *out, bool *ok) {
    bool received;
    if (!chanrecv(c, out, false, &received)) return false;
    if (ok) *ok = received;
    return true;
}

/* ---- close -------------------------------------------------------------- */

void gcrt_chan_close(gcrt_chan_t *c) {
    if (c == NULL) gcrt__panic("close of nil channel");
    gcrt__lock(&c->lock);
    if (c->closed) {
        gcrt__unlock(&c->lock);
        gcrt__panic("close of closed channel");
    }
    gcrt_store_release(&c->closed, 1);

    /* Collect every waiter (linked through next), ready them after unlock. */
    gcrt_sudog_t *list = NULL, **tail = &list;
    gcrt_sudog_t *sg;
    while ((sg = gcrt__waitq_dequeue(&c->recvq)) != NULL) {
        if (sg->elem != NULL) {
            gcrt__elem_clear(sg->elem, c->elemsize);
            sg->elem = NULL;
        }
        sg->success = 0;
        sg->g->param = sg;
        *tail = sg;
        tail = &sg->next;
    }
    while ((sg = gcrt__waitq_dequeue(&c->sendq)) != NULL) {
        sg->elem = NULL;
        sg->success = 0; /* the sender panics */
        sg->g->param = sg;
        *tail = sg;
        tail = &sg->next;
    }
    *tail = NULL;
    gcrt__unlock(&c->lock);

    while (list != NULL) {
        /* Read the link before readying: the sudog lives on the woken G's
         * stack and may be gone the moment it runs. */
        gcrt_sudog_t *next = list->next;
        gcrt_g_t *gp = list->g;
        gcrt__ready(gp);
        list = next;
    }
}

/* ---- time.After ---------------------------------------------------------- */

/* A one-shot timer that sends on a channel of capacity 1. The scheduler's
 * timer heap is not scanned by the GC, so an armed timer is kept alive
 * here: on a list whose head is in bss (a root) until it fires. (Go's
 * timers are reachable from the Ps, which is the same guarantee.) */
struct after {
    gcrt_timer_t t;
    gcrt_chan_t *c;
    struct after *next, *prev; /* armed list, after_lock */
};

static gcrt_lock_t after_lock = GCRT_LOCK_INIT(GCRT_RANK_LEAF);
static struct after *after_armed;

static void after_fire(void *arg) {
    struct after *a = arg; /* also on this frame: alive while we run */
    gcrt__lock(&after_lock);
    if (a->prev)
        gcrt_store(&a->prev->next, a->next);
    else
        after_armed = a->next;
    if (a->next) gcrt_store(&a->next->prev, a->prev);
    gcrt__unlock(&after_lock);
    int64_t now = gcrt_nanotime();
    /* Never blocks: the buffer has room for the only value ever sent. On
     * a scheduler thread, not a goroutine: no safepoint here. */
    chansend(a->c, &now, false);
}

gcrt_chan_t *gcrt_chan_after(int64_t ns) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int64_t), 1);
    struct after *a = gcrt_alloc(sizeof *a);
    gcrt_store(&a->c, c); /* heap pointer stores: the write barrier */
    gcrt_timer_init(&a->t, after_fire, a);
    gcrt__lock(&after_lock);
    gcrt_store(&a->next, after_armed);
    if (after_armed) gcrt_store(&after_armed->prev, a);
    after_armed = a;
    gcrt__unlock(&after_lock);
    gcrt_timer_reset(&a->t, ns, 0);
    return c;
}
