/* chan.c - channels (Go: chan.go). select.c holds select; sema.c and sync.c
 * build Go's sync package on the same park/ready interface (sched.h).
 *
 * Walk-through
 *
 * 1. A channel is one GC-heap object (allocated "scan"): the struct
 *    gcrt_chan (chan.h) and then, for a buffered channel, a ring of
 *    dataqsiz slots (a sequence word and an element of elemsize bytes).
 *    Values are copied in and out with memcpy. One runtime lock (rank
 *    CHAN) guards the wait queues and closed; buffered values move
 *    without it while nobody waits (step 6).
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
 * 6. Buffered fast paths. Go takes the channel lock for every operation:
 *    two locked instructions per send and two per receive, which on its
 *    own is most of the cost of a buffered message. Here a send into a
 *    buffer with room, or a receive from one with values, claims its slot
 *    with one CAS on sendpos or recvpos (Vyukov's bounded MPMC queue, see
 *    struct gcrt_chan) and copies the element without the lock; a
 *    producer and a consumer on two cores write different cache lines.
 *    Everything else takes the lock: a full or empty buffer (block), a
 *    blocked peer (hand-off), close, select. The lock holder flags both
 *    positions, which sends every fast operation to the lock, and waits
 *    for a slot claimed just before to be written or read (fast paths are
 *    no-stop regions, so that never waits for a stopped thread). While
 *    Gs are queued the flags stay up, so the buffer cannot fill behind a
 *    waiting receiver or drain behind a waiting sender, and waiting
 *    senders keep their FIFO place. The non-blocking forms report "would
 *    block" from the fast path's answer with Go's single-word reasoning;
 *    channels of other kinds check chan_full / chan_empty (Go's).
 *
 * 7. gcrt_chan_after (time.After) is a scheduler timer whose callback does
 *    a non-blocking send into a channel of capacity 1.
 *
 * Panics are Go's (gcrt__panic): send on closed channel, close of closed
 * channel, close of nil channel. */
#include "chan.h"

#include <stddef.h>
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

/* ---- the ring (step 6) ---------------------------------------------------- */

#define RING_FLAG ((uint64_t)1)
/* Sequence words (see struct gcrt_chan): the slot of position pos is free
 * for the send at pos, or full for the receive at pos. Doubled so that
 * "full for pos" and "free for pos + dataqsiz" differ even at capacity 1. */
#define SEQ_FREE(pos) ((pos)*2)
#define SEQ_FULL(pos) ((pos)*2 + 1)

/* pos % dataqsiz without a division (a 64-bit divide costs 40-90 cycles,
 * more than the rest of a fast path): a mask, or Lemire, Kaser and Kurz's
 * "faster remainder by direct computation" with a 128-bit constant, exact
 * for every 64-bit pos. */
static inline uint64_t ring_index(const gcrt_chan_t *c, uint64_t pos) {
    if (GCRT_LIKELY(c->qmask != 0)) return pos & c->qmask;
    __uint128_t low = c->qmagic * pos;
    __uint128_t bottom = ((low & UINT64_MAX) * c->dataqsiz) >> 64;
    __uint128_t top = (low >> 64) * c->dataqsiz;
    return (uint64_t)((bottom + top) >> 64);
}

static inline uint64_t *ring_seq(gcrt_chan_t *c, uint64_t pos) {
    return (uint64_t *)(c->buf + (size_t)ring_index(c, pos) * c->slotsize);
}
static inline void *ring_elem(uint64_t *seq) {
    return seq + 1;
}

/* A slot claimed by a fast operation just before the lock holder flagged
 * the positions is being written or read by a thread that cannot be
 * stopped meanwhile (fast paths are no-stop regions) and takes no lock:
 * its sequence word changes within a few instructions, unless the OS
 * descheduled that thread. */
static GCRT_NOINLINE void ring_wait(uint64_t *seq, uint64_t want) {
    for (int i = 0; gcrt_load_acquire(seq) != want; i++) {
        if (i < 64)
            gcrt_cpu_relax();
        else
            gcrt__os_yield();
    }
}

/* Fast send: 1 sent, 0 full (no flag was set), -1 flagged (take the lock).
 * Vyukov's bounded queue: the slot's sequence word says whether the send
 * at our position may write it, and one CAS claims the position. */
static inline int ring_try_send(gcrt_chan_t *c, const void *ep) {
    int r;
    gcrt__nostop_enter();
    uint64_t w = gcrt_load_relaxed(&c->sendpos);
    for (;;) {
        if (w & RING_FLAG) {
            r = -1;
            break;
        }
        uint64_t pos = w >> 1;
        uint64_t *seq = ring_seq(c, pos);
        int64_t dif = (int64_t)(gcrt_load_acquire(seq) - SEQ_FREE(pos));
        if (dif == 0) {
            if (gcrt_cas(&c->sendpos, &w, w + 2)) {
                gcrt__elem_copy(ring_elem(seq), ep, c->elemsize);
                gcrt_store_release(seq, SEQ_FULL(pos));
                r = 1;
                break;
            }
        } else if (dif < 0) { /* the receive one lap back has not freed it */
            r = 0;
            break;
        } else { /* another sender took pos */
            w = gcrt_load_relaxed(&c->sendpos);
        }
    }
    gcrt__nostop_exit();
    return r;
}

/* Fast receive: 1 received, 0 empty (no flag was set), -1 flagged. */
static inline int ring_try_recv(gcrt_chan_t *c, void *ep) {
    int r;
    gcrt__nostop_enter();
    uint64_t w = gcrt_load_relaxed(&c->recvpos);
    for (;;) {
        if (w & RING_FLAG) {
            r = -1;
            break;
        }
        uint64_t pos = w >> 1;
        uint64_t *seq = ring_seq(c, pos);
        int64_t dif = (int64_t)(gcrt_load_acquire(seq) - SEQ_FULL(pos));
        if (dif == 0) {
            if (gcrt_cas(&c->recvpos, &w, w + 2)) {
                void *qp = ring_elem(seq);
                if (ep != NULL) gcrt__elem_copy(ep, qp, c->elemsize);
                gcrt__elem_clear(qp, c->elemsize); /* drop references for the GC */
                gcrt_store_release(seq, SEQ_FREE(pos + c->dataqsiz));
                r = 1;
                break;
            }
        } else if (dif < 0) { /* nothing sent at pos yet */
            r = 0;
            break;
        } else {
            w = gcrt_load_relaxed(&c->recvpos);
        }
    }
    gcrt__nostop_exit();
    return r;
}

void gcrt__chan_lock(gcrt_chan_t *c) {
    gcrt__lock(&c->lock);
    if (c->slotsize) {
        __atomic_fetch_or(&c->sendpos, RING_FLAG, __ATOMIC_SEQ_CST);
        __atomic_fetch_or(&c->recvpos, RING_FLAG, __ATOMIC_SEQ_CST);
    }
}

void gcrt__chan_unlock(gcrt_chan_t *c) {
    if (c->slotsize) {
        if (!c->closed && c->recvq.first == NULL && c->sendq.first == NULL)
            __atomic_fetch_and(&c->sendpos, ~RING_FLAG, __ATOMIC_SEQ_CST);
        if (c->sendq.first == NULL) __atomic_fetch_and(&c->recvpos, ~RING_FLAG, __ATOMIC_SEQ_CST);
    }
    gcrt__unlock(&c->lock);
}

size_t gcrt__chanbuf_count(gcrt_chan_t *c) {
    if (!c->slotsize) return c->qcount;
    /* Both flagged: only we move them. Claimed slots count (ring_wait). */
    return (size_t)((gcrt_load_relaxed(&c->sendpos) >> 1) - (gcrt_load_relaxed(&c->recvpos) >> 1));
}

void gcrt__chanbuf_take(gcrt_chan_t *c, void *ep) {
    if (!c->slotsize) {
        void *qp = c->buf + c->recvx * c->elemsize;
        if (ep != NULL) gcrt__elem_copy(ep, qp, c->elemsize);
        gcrt__elem_clear(qp, c->elemsize);
        if (++c->recvx == c->dataqsiz) c->recvx = 0;
        gcrt_store_release(&c->qcount, c->qcount - 1);
        return;
    }
    uint64_t w = gcrt_load_relaxed(&c->recvpos), pos = w >> 1;
    gcrt_store_relaxed(&c->recvpos, w + 2);
    uint64_t *seq = ring_seq(c, pos);
    ring_wait(seq, SEQ_FULL(pos));
    void *qp = ring_elem(seq);
    if (ep != NULL) gcrt__elem_copy(ep, qp, c->elemsize);
    gcrt__elem_clear(qp, c->elemsize);
    gcrt_store_release(seq, SEQ_FREE(pos + c->dataqsiz));
}

void gcrt__chanbuf_put(gcrt_chan_t *c, const void *ep) {
    if (!c->slotsize) {
        gcrt__elem_copy(c->buf + c->sendx * c->elemsize, ep, c->elemsize);
        if (++c->sendx == c->dataqsiz) c->sendx = 0;
        gcrt_store_release(&c->qcount, c->qcount + 1);
        return;
    }
    uint64_t w = gcrt_load_relaxed(&c->sendpos), pos = w >> 1;
    gcrt_store_relaxed(&c->sendpos, w + 2);
    uint64_t *seq = ring_seq(c, pos);
    ring_wait(seq, SEQ_FREE(pos));
    gcrt__elem_copy(ring_elem(seq), ep, c->elemsize);
    gcrt_store_release(seq, SEQ_FULL(pos));
}

/* ---- make, len, cap ----------------------------------------------------- */

gcrt_chan_t *gcrt_chan_make(size_t elem_size, size_t cap) {
    if (elem_size >= GCRT_CHAN_MAX_ELEM) gcrt__throw("makechan: invalid channel element type");
    size_t hdr_ring = gcrt_round_up(sizeof(struct gcrt_chan), 16);
    size_t hdr = gcrt_round_up(offsetof(struct gcrt_chan, pad0), 16);
    size_t bufsz, ringsz;
    if (__builtin_mul_overflow(elem_size, cap, &bufsz) || bufsz > GCRT_MAX_ALLOC - hdr_ring)
        gcrt__panic("makechan: size out of range");
    /* A ring needs a sequence word per slot: chan struct{} of a capacity
     * whose words would not fit keeps Go's layout (no fast path). */
    size_t slotsize = sizeof(uint64_t) + gcrt_round_up(elem_size, sizeof(uint64_t));
    bool ring = cap > 0 && !__builtin_mul_overflow(slotsize, cap, &ringsz) &&
                ringsz <= GCRT_MAX_ALLOC - hdr_ring;
    if (ring) {
        hdr = hdr_ring;
        bufsz = ringsz;
    }
    /* Like Go's mallocgc: out of memory (or an unattached thread) stops the
     * program with the allocator's fatal error. */
    unsigned char *mem = gcrt_alloc(hdr + bufsz);
    gcrt_chan_t *c = (gcrt_chan_t *)mem;
    gcrt__lock_init(&c->lock, GCRT_RANK_CHAN);
    c->elemsize = elem_size;
    c->dataqsiz = cap;
    c->buf = mem + hdr;
    if (ring) {
        c->slotsize = slotsize;
        if (cap > 1 && (cap & (cap - 1)) == 0)
            c->qmask = cap - 1;
        else
            c->qmagic = ~(__uint128_t)0 / cap + 1; /* cap 1: 0, and every index 0 */
        for (size_t i = 0; i < cap; i++) *(uint64_t *)(c->buf + i * slotsize) = SEQ_FREE(i);
    }
    return c;
}

size_t gcrt_chan_len(gcrt_chan_t *c) {
    if (!c) return 0;
    if (!c->slotsize) return gcrt_load_relaxed(&c->qcount);
    /* recvpos first: sendpos read later is never behind it. */
    uint64_t r = gcrt_load_acquire(&c->recvpos) >> 1;
    uint64_t n = (gcrt_load_acquire(&c->sendpos) >> 1) - r;
    return n > c->dataqsiz ? c->dataqsiz : (size_t)n;
}
size_t gcrt_chan_cap(gcrt_chan_t *c) {
    return c ? c->dataqsiz : 0;
}

/* full: a send would block. Single-word reads of mutable state (Go: full).
 * Not for rings (their fast paths answer this). */
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
    gcrt__chan_unlock(arg);
    return 1;
}
static void unlock_chan(void *arg) {
    gcrt__chan_unlock(arg);
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

/* Go: chansend. Returns whether the value was sent (always, if block).
 * A closed channel panics, unless drop_closed (the time.After timer, whose
 * channel Go's type system keeps anyone else from closing): then the
 * value is dropped. */
static bool chansend(gcrt_chan_t *c, const void *ep, bool block, bool drop_closed) {
    if (c == NULL) {
        if (!block) return false;
        gcrt__block_forever(GCRT_WAIT_CHAN_SEND_NIL_CHAN);
    }
    if (c->slotsize) {
        /* The ring's fast path: one CAS, no lock. */
        int r = ring_try_send(c, ep);
        if (r > 0) return true;
        /* Full, with no flag: not closed when sendpos was read (closed
         * keeps the flag), full afterwards (Go's reasoning below). */
        if (r == 0 && !block) return false;
    } else if (!block && gcrt_load_relaxed(&c->closed) == 0 && chan_full(c)) {
        /* Not closed and not ready, observed one word at a time (a closed
         * channel never goes from ready to not ready). */
        return false;
    }

    gcrt__chan_lock(c);
    if (c->closed) {
        gcrt__chan_unlock(c);
        if (drop_closed) return false;
        gcrt__panic("send on closed channel");
    }
    gcrt_sudog_t *sg = gcrt__waitq_dequeue(&c->recvq);
    if (sg != NULL) {
        gcrt__chan_send_to(c, sg, ep, unlock_chan, c);
        return true;
    }
    if (gcrt__chanbuf_count(c) < c->dataqsiz) {
        gcrt__chanbuf_put(c, ep);
        gcrt__chan_unlock(c);
        return true;
    }
    if (!block) {
        gcrt__chan_unlock(c);
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
    chansend(c, elem, true, false);
}
bool gcrt_chan_try_send(gcrt_chan_t *c, const void *elem) {
    return chansend(c, elem, false, false);
}

/* ---- receive ------------------------------------------------------------ */

void gcrt__chan_recv_from(gcrt_chan_t *c, gcrt_sudog_t *sg, void *ep, void (*unlockf)(void *),
                          void *arg) {
    if (c->dataqsiz == 0) {
        if (ep != NULL) gcrt__elem_copy(ep, sg->elem, c->elemsize);
    } else {
        /* Full buffer: take the head, the sender's value goes to the tail
         * (the slot just freed). */
        gcrt__chanbuf_take(c, ep);
        gcrt__chanbuf_put(c, sg->elem);
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
    if (c->slotsize) {
        int r = ring_try_recv(c, ep);
        if (r > 0) {
            *received = true;
            return true;
        }
        /* Empty with no flag, then not closed (as below); closed: the
         * lock tells the zero value from values still buffered. */
        if (r == 0 && !block && gcrt_load_acquire(&c->closed) == 0) return false;
    } else if (!block && chan_empty(c)) {
        /* Not ready; closed is read after empty, both atomically, and a
         * channel is never reopened. */
        if (gcrt_load_acquire(&c->closed) == 0) return false;
        if (chan_empty(c)) {
            if (ep != NULL) gcrt__elem_clear(ep, c->elemsize);
            return true;
        }
    }

    gcrt__chan_lock(c);
    if (c->closed) {
        if (gcrt__chanbuf_count(c) == 0) {
            gcrt__chan_unlock(c);
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
    if (gcrt__chanbuf_count(c) > 0) {
        gcrt__chanbuf_take(c, ep);
        gcrt__chan_unlock(c);
        *received = true;
        return true;
    }
    if (!block) {
        gcrt__chan_unlock(c);
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
    gcrt__chan_lock(c);
    if (c->closed) {
        gcrt__chan_unlock(c);
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
    gcrt__chan_unlock(c);

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
     * a scheduler thread, not a goroutine: no safepoint here. Go's channel
     * is receive-only; ours can be closed (or filled) by the program: the
     * value is dropped then, never a panic on this thread. */
    chansend(a->c, &now, false, true);
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

/* fork.c: this file's global locks. */
void gcrt__chan_fork_locks(void) {
    gcrt__fork_add_lock(&after_lock);
}
