/* gcrt_chan.h - Go channels and select for C (Go: chan.go, select.go).
 *
 *   gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);   // make(chan int)
 *   int v = 42;
 *   gcrt_chan_send(c, &v);                             // c <- v
 *   bool ok; gcrt_chan_recv(c, &v, &ok);               // v, ok := <-c
 *   gcrt_chan_close(c);                                // close(c)
 *
 * Semantics are Go's exactly: values are copied (memcpy of elem_size bytes)
 * in and out; an unbuffered send completes when a receiver takes the value;
 * waiting senders and receivers are served first-in first-out; close wakes
 * every waiting receiver (they get the zero value and ok = false) and makes
 * every waiting sender panic; a NULL channel (Go's nil channel) blocks send
 * and receive forever and is never ready in a select.
 *
 * Works between goroutines, between attached threads, and across the two:
 * every calling thread must be attached (gcrt_init / gcrt_thread_attach);
 * a blocking call from an unattached thread stops with "fatal error".
 *
 * Error contract: misuse that Go reports as a run-time panic stops the
 * program as an unrecovered Go panic does: it prints Go's message,
 * "panic: send on closed channel", "panic: close of closed channel",
 * "panic: close of nil channel" or "panic: makechan: size out of range",
 * then "goroutine N [running]:", and exits with status 2 (C has no
 * recover; GOTRACEBACK=crash aborts instead). No call returns an error code.
 *
 * Every block records Go's wait reason for goroutine dumps: "chan send",
 * "chan receive", "chan send (nil chan)", "chan receive (nil chan)",
 * "select", "select (no cases)".
 */
#ifndef GCRT_CHAN_H
#define GCRT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GCRT_API
#define GCRT_API __attribute__((visibility("default")))
#endif

typedef struct gcrt_chan gcrt_chan_t;

/* make(chan T, cap): a channel of elements of elem_size bytes (0 allowed:
 * chan struct{}) with a buffer of cap elements (0: unbuffered). Allocated
 * from the GC heap as a scanned object, so pointers in buffered elements
 * are seen by the collector; the channel is garbage once unreachable (no
 * free call; gcrt_free may be used on a channel no G can still touch).
 * Never returns NULL. elem_size >= 65536 stops with "fatal error: makechan:
 * invalid channel element type"; elem_size * cap over GCRT_MAX_ALLOC panics
 * with "makechan: size out of range"; running out of memory is the
 * allocator's fatal error, as for gcrt_alloc. Size: a 128-byte header
 * unbuffered; a buffered channel adds a ring of cap slots of 8 +
 * elem_size (rounded up to 8) bytes after a 320-byte header (Go: 96 bytes
 * + cap * elem_size). */
GCRT_API gcrt_chan_t *gcrt_chan_make(size_t elem_size, size_t cap);

/* c <- *elem: copies elem_size bytes from elem. Blocks until a receiver
 * takes the value (unbuffered) or there is room in the buffer. Panics if c
 * is closed, or is closed while the sender waits. c == NULL blocks forever. */
GCRT_API void gcrt_chan_send(gcrt_chan_t *c, const void *elem);

/* v, ok := <-c: blocks until a value arrives or c is closed. Copies the
 * value to out (out may be NULL to discard it) and stores in *ok (ok may be
 * NULL) true for a value sent by a send, false for the zero value returned
 * because c is closed and drained; returns the same flag. c == NULL blocks
 * forever. */
GCRT_API bool gcrt_chan_recv(gcrt_chan_t *c, void *out, bool *ok);

/* select { case c <- *elem: return true; default: return false }.
 * Panics if c is closed. c == NULL returns false. Never blocks, so it may
 * be called from a timer callback (gcrt_timer_init), as may try_recv. */
GCRT_API bool gcrt_chan_try_send(gcrt_chan_t *c, const void *elem);

/* select { case v, ok := <-c: ...; default: }: returns true if a receive
 * happened (a value, or the zero value of a closed, drained channel: *ok
 * tells which), false if it would have blocked (out and *ok untouched).
 * c == NULL returns false. */
GCRT_API bool gcrt_chan_try_recv(gcrt_chan_t *c, void *out, bool *ok);

/* close(c): no more values will be sent. Buffered values can still be
 * received; then receives return the zero value with ok = false. Wakes all
 * waiting receivers; waiting senders panic. Panics if c is NULL or already
 * closed. */
GCRT_API void gcrt_chan_close(gcrt_chan_t *c);

/* len(c): elements queued in the buffer (0 for NULL). A snapshot. */
GCRT_API size_t gcrt_chan_len(gcrt_chan_t *c);
/* cap(c): the buffer capacity given to make (0 for NULL). */
GCRT_API size_t gcrt_chan_cap(gcrt_chan_t *c);

/* time.After(d): a channel of int64_t (capacity 1) that receives
 * gcrt_nanotime() once, ns nanoseconds from now (ns <= 0: at once, from
 * the timer thread). For timeouts in a select. The timer stays alive until
 * it fires even if the channel is dropped. Never returns NULL. Go's
 * channel is receive-only; this one may be closed (the timer then drops
 * its value: receives get the zero value, ok = false). */
GCRT_API gcrt_chan_t *gcrt_chan_after(int64_t ns);

/* ---- select ------------------------------------------------------------- */

enum gcrt_select_dir {
    GCRT_SELECT_SEND = 1, /* case ch <- *elem */
    GCRT_SELECT_RECV = 2, /* case *elem, ok = <-ch (elem may be NULL) */
};

struct gcrt_select_case {
    gcrt_chan_t *ch; /* NULL: the case is never ready (Go's nil channel) */
    int dir;         /* enum gcrt_select_dir */
    void *elem;      /* send: the value to send; recv: where to store it, or NULL */
    bool ok;         /* out, recv case that was chosen: true = value, false = closed */
};

/* select over cases[0..n): waits until at least one case can proceed and
 * performs exactly one, chosen uniformly at random among the ready ones
 * (Go's fairness). Returns its index. With has_default, returns -1 at once
 * instead of blocking. n == 0 without default blocks forever ("select (no
 * cases)"), as does a select whose channels are all NULL ("select"). A send
 * case on a closed channel that gets chosen panics "send on closed channel".
 * A dir other than SEND/RECV stops with "fatal error". Channels are locked
 * in address order, so any number of selects over overlapping channels
 * cannot deadlock; the same channel may appear in several cases. */
GCRT_API int gcrt_select(struct gcrt_select_case *cases, int n, bool has_default);

#ifdef __cplusplus
}
#endif
#endif
