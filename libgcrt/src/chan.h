/* chan.h - channels and select (chan.c, select.c): the sudog that a
 * blocked G waits in, the wait queues, the channel itself, and Go's panic.
 * See chan.c for the walk-through. */
#ifndef GCRT_CHAN_INTERNAL_H
#define GCRT_CHAN_INTERNAL_H

#include <string.h>

#include "gcrt_chan.h"
#include "lock.h"
#include "runtime.h"
#include "gc.h"
#include "sched.h"

/* A G waiting on something (Go: sudog). A G may wait on several channels
 * at once (select), and one channel may have many waiting Gs, so a waiting
 * G is represented by one sudog per thing it waits on.
 *
 * Unlike Go, sudogs live on the waiting G's own stack: our goroutine stacks
 * never move, and the G cannot return from the blocking call before the
 * waker has readied it, so the frame outlives every use of the sudog. The
 * GC scans the G's stack and so sees elem. Rule for wakers: dequeue the
 * sudog under the lock that protects its queue, write its fields, read
 * what you need from it (g, next), and only then gcrt__ready(g); never
 * touch it afterwards (the G may already have returned). */
typedef struct gcrt_sudog {
    gcrt_g_t *g;             /* the waiting G */
    struct gcrt_sudog *next; /* queue links: channel lock or sema root lock */
    struct gcrt_sudog *prev;
    void *elem;                  /* data element (may point to a stack); channel lock */
    uint32_t ticket;             /* sema: 1 = handed off; notify list: ticket number */
    uint8_t is_select;           /* g takes part in a select: wakers CAS g->selectdone */
    uint8_t success;             /* chan: 1 = woken by a value, 0 = by close */
    struct gcrt_sudog *waitlink; /* g->waiting list (select) or sema same-address chain */
    struct gcrt_sudog *waittail; /* sema: last of the same-address chain (head only) */
    struct gcrt_chan *c;         /* channel it waits on */
} gcrt_sudog_t;

/* FIFO of sudogs (Go: waitq). */
typedef struct gcrt_waitq {
    gcrt_sudog_t *first, *last;
} gcrt_waitq_t;

/* The channel (Go: hchan). The element buffer follows the struct in the
 * same GC-heap object (allocated "scan", so pointers stored in buffered
 * elements keep their targets alive).
 *
 * Buffered channels are rings (chan.c, step 6): a send or receive that
 * neither blocks nor meets a blocked peer claims a slot with one CAS on
 * sendpos or recvpos and takes no lock. Each slot is a sequence word and
 * then the element (slotsize bytes); for a slot at ring index i and a
 * position p with p % dataqsiz == i (Vyukov's bounded queue, with the
 * words doubled so that capacity 1 works):
 *   seq == 2p                   free: the send at position p may write it
 *   seq == 2p + 1               full: the receive at position p may read it
 *   seq == 2(p + dataqsiz)      read, and free for the send one lap later
 * sendpos and recvpos hold the position (number of sends / receives
 * claimed so far) shifted left by one, and in bit 0 a flag that sends all
 * fast operations of that side to the lock:
 *   sendpos flag  set while the lock is held, and while closed, recvq or
 *                 sendq is not empty
 *   recvpos flag  set while the lock is held, and while sendq is not empty
 * So a lock holder sees positions that only it can move (chan_lock sets
 * both flags: a fast CAS with an unflagged expected value then fails); a
 * slot claimed just before may still be being written or read, and the
 * lock holder waits for its sequence word (ring_wait).
 *
 * Invariants (Go's chan.go): at least one of sendq and recvq is empty,
 * except for an unbuffered channel with one G blocked on it both ways in a
 * select. For buffered channels also: elements in the buffer imply recvq
 * is empty; room in the buffer implies sendq is empty. */
struct gcrt_chan {
    /* Immutable after make. */
    size_t dataqsiz;    /* capacity (elements) */
    size_t elemsize;    /* bytes */
    size_t slotsize;    /* ring: bytes per slot (seq word + element); 0: no ring */
    uint64_t qmask;     /* ring: dataqsiz - 1 if a power of two, else 0 */
    __uint128_t qmagic; /* ring, other capacities: Lemire's fastmod constant */
    unsigned char *buf; /* the ring, or dataqsiz * elemsize bytes, after the struct */
    /* The lock and what it protects. */
    gcrt_lock_t lock;   /* protects every field below but the ring positions,
                           and the sudogs queued here */
    uint32_t closed;    /* 0 or 1; written under lock, read atomically by fast paths */
    gcrt_waitq_t recvq; /* blocked receivers */
    gcrt_waitq_t sendq; /* blocked senders */
    /* Buffered channels without a ring (elements of size 0 whose slots
     * would not fit, see gcrt_chan_make): Go's counters. */
    size_t qcount; /* elements in buf; written under lock, read atomically */
    size_t sendx;  /* next slot to send into */
    size_t recvx;  /* next slot to receive from */
    /* Ring positions, each on a cache line of its own: a producer and a
     * consumer on two cores each keep theirs. Allocated only for rings. */
    char pad0[64];
    uint64_t sendpos; /* (sends claimed << 1) | flag; atomic */
    char pad1[64 - sizeof(uint64_t)];
    uint64_t recvpos; /* (receives claimed << 1) | flag; atomic */
    char pad2[64 - sizeof(uint64_t)];
};

/* Largest element (Go rejects element types of 64 KiB or more). */
#define GCRT_CHAN_MAX_ELEM ((size_t)1 << 16)

/* Go's panic: prints "panic: <msg>" and "goroutine N [running]:" to fd 2 and
 * exits with status 2, as an unrecovered Go panic does (C has no recover; no
 * cleanup runs). GOTRACEBACK=crash aborts instead, for a core dump. */
GCRT_NORETURN GCRT_COLD void gcrt__panic(const char *msg);

/* Queue operations, channel lock held (shared by chan.c and select.c). */
void gcrt__waitq_enqueue(gcrt_waitq_t *q, gcrt_sudog_t *s);
/* First sudog whose G can still be woken (skips select losers), or NULL. */
gcrt_sudog_t *gcrt__waitq_dequeue(gcrt_waitq_t *q);
/* Removes s if it is still queued (select cleanup). */
void gcrt__waitq_remove(gcrt_waitq_t *q, gcrt_sudog_t *s);

/* The steps shared by plain operations and select (Go: send, recv). Both
 * are called with the channel (and, for select, all its channels) locked;
 * they call unlockf(arg) before readying the peer. */
void gcrt__chan_send_to(gcrt_chan_t *c, gcrt_sudog_t *sg, const void *ep, void (*unlockf)(void *),
                        void *arg);
void gcrt__chan_recv_from(gcrt_chan_t *c, gcrt_sudog_t *sg, void *ep, void (*unlockf)(void *),
                          void *arg);
/* Element copies (Go: typedmemmove, typedmemclr). Elements may hold
 * pointers to GC objects and buffers live in the GC heap, so copies and
 * clears go through the write barrier (mbarrier.c): while marking, the
 * overwritten and the stored words are shaded. Zero-size elements may come
 * with NULL pointers, which memcpy must not see. */
static inline void gcrt__elem_copy(void *dst, const void *src, size_t n) {
    if (n == 8 && ((uintptr_t)dst & 7) == 0) { /* the common case: one word */
        void *v;
        memcpy(&v, src, 8);
        gcrt_store(dst, v);
        return;
    }
    if (n < 8) { /* no aligned word, so no pointer: no barrier (see
                    gcrt__copy_barrier); n = 0 may come with NULLs */
        if (n == 4)
            memcpy(dst, src, 4); /* inline, not a call */
        else if (n)
            memcpy(dst, src, n);
        return;
    }
    gcrt__copy_barrier(dst, src, n);
}
static inline void gcrt__elem_clear(void *p, size_t n) {
    if (n == 8 && ((uintptr_t)p & 7) == 0) {
        gcrt_store(p, NULL);
        return;
    }
    if (n < 8) {
        if (n == 4)
            memset(p, 0, 4);
        else if (n)
            memset(p, 0, n);
        return;
    }
    gcrt__clear_barrier(p, n);
}

/* The channel lock (chan.c). For a ring it also flags both positions,
 * so that fast operations wait for the lock (see struct gcrt_chan);
 * gcrt__chan_unlock leaves the flags that the queues and closed call
 * for. Every lock of a channel in chan.c and select.c goes through these. */
void gcrt__chan_lock(gcrt_chan_t *c);
void gcrt__chan_unlock(gcrt_chan_t *c);

/* The buffer, channel lock held (both layouts). */
size_t gcrt__chanbuf_count(gcrt_chan_t *c); /* elements in it */
/* Takes the head into ep (NULL: drops it); count > 0. */
void gcrt__chanbuf_take(gcrt_chan_t *c, void *ep);
/* Appends *ep; count < dataqsiz. */
void gcrt__chanbuf_put(gcrt_chan_t *c, const void *ep);

/* Parks forever with the reason (nil channel, empty select). */
GCRT_NORETURN void gcrt__block_forever(unsigned reason);

/* The calling G, which must exist (throws with a clear message if the
 * thread is not attached: blocking needs a G to park). */
gcrt_g_t *gcrt__getg_or_throw(const char *what);

#endif
