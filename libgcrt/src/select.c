/* select.c - select over any number of channel cases (Go: select.go).
 * See chan.c for the walk-through; this is its step 5.
 *
 * gcrt_select:
 *   1. pollorder: the cases with a channel, in a uniformly random order
 *      (Fisher-Yates as they are added), so that ready cases are chosen
 *      fairly. lockorder: the same cases sorted by channel address.
 *   2. Lock every channel in lockorder (each distinct channel once).
 *   3. Pass 1: in pollorder, the first case that can proceed now (a waiting
 *      peer, buffer data or room, a closed channel) is done; unlock, return.
 *   4. With a default: unlock and return -1.
 *   5. Pass 2: one sudog per case (on this stack), linked in lockorder on
 *      g->waiting, queued on each channel; park with reason "select". The
 *      park commit unlocks the channels without touching this frame again
 *      once the last lock is dropped.
 *   6. Woken: relock everything; g->param is the sudog whose case won (its
 *      waker did the copy). Pass 3 removes the other sudogs from their
 *      queues; a send case woken by close panics. */
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "os.h"

/* Per-thread random numbers for pollorder (Go: fastrand, per M). */
static GCRT_TLS uint64_t rand_state;

static uint32_t fastrand(void) {
    uint64_t x = rand_state;
    if (GCRT_UNLIKELY(x == 0))
        x = (uint64_t)gcrt__nanotime() ^ ((uint64_t)(uintptr_t)&rand_state << 16) ^
            0x9e3779b97f4a7c15ull;
    /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rand_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* Uniform in [0, n) (Lemire's multiply-shift). */
static inline uint32_t fastrandn(uint32_t n) {
    return (uint32_t)(((uint64_t)fastrand() * n) >> 32);
}

struct sel {
    struct gcrt_select_case *cases;
    uint32_t *lockorder;
    int norder;
};

static inline gcrt_chan_t *lock_chan(const struct sel *s, int i) {
    return s->cases[s->lockorder[i]].ch;
}

static void sellock(const struct sel *s) {
    gcrt_chan_t *c = NULL;
    for (int i = 0; i < s->norder; i++) {
        gcrt_chan_t *c0 = lock_chan(s, i);
        if (c0 != c) {
            c = c0;
            gcrt__chan_lock(c);
        }
    }
}

/* Unlocks in reverse; touches nothing after the last unlock. */
static void selunlock(void *arg) {
    const struct sel *s = arg;
    for (int i = s->norder - 1; i >= 0; i--) {
        gcrt_chan_t *c = lock_chan(s, i);
        if (i > 0 && c == lock_chan(s, i - 1)) continue; /* unlocked at i-1 */
        gcrt__chan_unlock(c);
    }
}

/* Park commit: walks g->waiting (in lock order), unlocking each distinct
 * channel after its last sudog. Once a lock is dropped the G may be readied,
 * but it cannot leave gcrt_select before it relocks all channels, so its
 * frame stays intact until our final unlock. */
static int selparkcommit(gcrt_g_t *g, void *arg) {
    (void)arg;
    gcrt_chan_t *lastc = NULL;
    for (gcrt_sudog_t *sg = g->waiting; sg != NULL; sg = sg->waitlink) {
        if (sg->c != lastc && lastc != NULL) gcrt__chan_unlock(lastc);
        lastc = sg->c;
    }
    if (lastc != NULL) gcrt__chan_unlock(lastc);
    return 1;
}

/* Heap sort of lockorder by channel address (Go sorts the same way: no
 * recursion, no allocation). */
static void sort_lockorder(struct gcrt_select_case *cases, uint32_t *lo, int n) {
#define KEY(i) ((uintptr_t)cases[lo[i]].ch)
    for (int i = 0; i < n; i++) { /* sift up into a max-heap */
        int j = i;
        uint32_t v = lo[i];
        uintptr_t k = (uintptr_t)cases[v].ch;
        while (j > 0 && KEY((j - 1) / 2) < k) {
            lo[j] = lo[(j - 1) / 2];
            j = (j - 1) / 2;
        }
        lo[j] = v;
    }
    for (int i = n - 1; i > 0; i--) { /* move max to the end, sift down */
        uint32_t v = lo[i];
        uintptr_t k = (uintptr_t)cases[v].ch;
        lo[i] = lo[0];
        int j = 0;
        for (;;) {
            int c = 2 * j + 1;
            if (c >= i) break;
            if (c + 1 < i && KEY(c) < KEY(c + 1)) c++;
            if (!(k < KEY(c))) break;
            lo[j] = lo[c];
            j = c;
        }
        lo[j] = v;
    }
#undef KEY
}

enum { SEL_STACK_CASES = 16 };

static int selectgo(struct gcrt_select_case *cases, int n, bool block, uint32_t *pollorder,
                    uint32_t *lockorder, gcrt_sudog_t *sudogs);

int gcrt_select(struct gcrt_select_case *cases, int n, bool has_default) {
    if (n < 0) gcrt__throwf("select: negative case count %d", n);
    if (!has_default) gcrt__safepoint(); /* see gcrt_chan_send */
    for (int i = 0; i < n; i++)
        if (cases[i].dir != GCRT_SELECT_SEND && cases[i].dir != GCRT_SELECT_RECV)
            gcrt__throwf("select: case %d has bad direction %d", i, cases[i].dir);
    if (n == 0) {
        if (has_default) return -1;
        gcrt__block_forever(GCRT_WAIT_SELECT_NO_CASES);
    }
    if (n <= SEL_STACK_CASES) {
        uint32_t order[2 * SEL_STACK_CASES];
        gcrt_sudog_t sudogs[SEL_STACK_CASES];
        return selectgo(cases, n, !has_default, order, order + n, sudogs);
    }
    /* Large selects: scratch from malloc (indices and sudogs only; the
     * element pointers stay reachable through the caller's cases). */
    uint32_t *order = malloc(2 * (size_t)n * sizeof(uint32_t));
    gcrt_sudog_t *sudogs = malloc((size_t)n * sizeof(gcrt_sudog_t));
    if (order == NULL || sudogs == NULL) gcrt__throwf("select: out of memory for %d cases", n);
    int r = selectgo(cases, n, !has_default, order, order + n, sudogs);
    free(order);
    free(sudogs);
    return r;
}

static int selectgo(struct gcrt_select_case *cases, int n, bool block, uint32_t *pollorder,
                    uint32_t *lockorder, gcrt_sudog_t *sudogs) {
    /* 1. Orders; cases on nil channels take no part. */
    int norder = 0;
    for (int i = 0; i < n; i++) {
        if (cases[i].ch == NULL) continue;
        uint32_t j = fastrandn((uint32_t)norder + 1);
        pollorder[norder] = pollorder[j];
        pollorder[j] = (uint32_t)i;
        norder++;
    }
    if (norder == 0) {
        if (!block) return -1;
        gcrt__block_forever(GCRT_WAIT_SELECT);
    }
    memcpy(lockorder, pollorder, (size_t)norder * sizeof(uint32_t));
    sort_lockorder(cases, lockorder, norder);
    struct sel s = {cases, lockorder, norder};

    /* 2. Lock. 3. Pass 1: anything ready? */
    sellock(&s);
    int casi;
    struct gcrt_select_case *cas;
    gcrt_chan_t *c;
    gcrt_sudog_t *sg;
    for (int p = 0; p < norder; p++) {
        casi = (int)pollorder[p];
        cas = &cases[casi];
        c = cas->ch;
        if (cas->dir == GCRT_SELECT_RECV) {
            if ((sg = gcrt__waitq_dequeue(&c->sendq)) != NULL) {
                cas->ok = true;
                gcrt__chan_recv_from(c, sg, cas->elem, selunlock, &s);
                return casi;
            }
            if (gcrt__chanbuf_count(c) > 0) {
                gcrt__chanbuf_take(c, cas->elem);
                selunlock(&s);
                cas->ok = true;
                return casi;
            }
            if (c->closed) {
                selunlock(&s);
                if (cas->elem != NULL) gcrt__elem_clear(cas->elem, c->elemsize);
                cas->ok = false;
                return casi;
            }
        } else {
            if (c->closed) {
                selunlock(&s);
                gcrt__panic("send on closed channel");
            }
            if ((sg = gcrt__waitq_dequeue(&c->recvq)) != NULL) {
                gcrt__chan_send_to(c, sg, cas->elem, selunlock, &s);
                return casi;
            }
            if (gcrt__chanbuf_count(c) < c->dataqsiz) {
                gcrt__chanbuf_put(c, cas->elem);
                selunlock(&s);
                return casi;
            }
        }
    }

    /* 4. Default. */
    if (!block) {
        selunlock(&s);
        return -1;
    }

    /* 5. Pass 2: enqueue on every channel and park. */
    gcrt_g_t *gp = gcrt__getg_or_throw("select"); /* see chansend */
    if (gp->waiting != NULL) gcrt__throw("gp.waiting != nil");
    gcrt_sudog_t **nextp = &gp->waiting;
    for (int i = 0; i < norder; i++) {
        cas = &cases[lockorder[i]];
        sg = &sudogs[i];
        memset(sg, 0, sizeof *sg);
        sg->g = gp;
        sg->is_select = 1;
        sg->elem = cas->elem;
        sg->c = cas->ch;
        *nextp = sg;
        nextp = &sg->waitlink;
        if (cas->dir == GCRT_SELECT_SEND)
            gcrt__waitq_enqueue(&cas->ch->sendq, sg);
        else
            gcrt__waitq_enqueue(&cas->ch->recvq, sg);
    }
    gp->param = NULL;
    gcrt__park(selparkcommit, NULL, GCRT_WAIT_SELECT);

    /* 6. Woken by the case whose sudog is g->param. */
    sellock(&s);
    gcrt_store_relaxed(&gp->selectdone, 0);
    gcrt_sudog_t *won = gp->param;
    gp->param = NULL;
    gp->waiting = NULL;
    casi = -1;
    bool success = false;
    for (int i = 0; i < norder; i++) {
        sg = &sudogs[i];
        struct gcrt_select_case *k = &cases[lockorder[i]];
        if (sg == won) {
            casi = (int)lockorder[i];
            success = sg->success;
        } else if (k->dir == GCRT_SELECT_SEND) {
            gcrt__waitq_remove(&k->ch->sendq, sg);
        } else {
            gcrt__waitq_remove(&k->ch->recvq, sg);
        }
    }
    if (casi < 0) gcrt__throw("selectgo: bad wakeup");
    cas = &cases[casi];
    selunlock(&s);
    if (cas->dir == GCRT_SELECT_SEND) {
        if (!success) gcrt__panic("send on closed channel");
    } else {
        cas->ok = success;
    }
    return casi;
}
