/* sema.c - Go's runtime semaphore keyed by address, and the notify list
 * behind sync.Cond (Go: sema.go). See chan.c for park/ready and sudogs.
 *
 * Semaphore. gcrt__semacquire(addr) waits until *addr > 0 and decrements
 * it; gcrt__semrelease(addr) increments it and wakes a waiter. The waiters
 * of all addresses hash into SEMTAB_SIZE roots (Go uses 251, and so do we).
 * Go keeps a treap of addresses per root; we keep a doubly linked list of
 * addresses instead (a hashed wait list: distinct contended addresses per
 * root are few, and this is much less code). Per address, the first waiter
 * is the "head" sudog in the root's list; later waiters chain from it:
 *
 *     root->head -> [head A] <-> [head B] <-> ...      (next/prev, elem = addr)
 *                      |waitlink                        waittail: last of chain
 *                   [A 2] -> [A 3] -> NULL
 *
 * FIFO waiters append at waittail; a LIFO waiter (a Mutex waiter that
 * already waited once) replaces the head. root->nwait counts waiters so
 * that a release with nobody waiting takes no lock (Go's "easy case").
 *
 * Notify list. Each Cond waiter takes a ticket (wait counter) before it
 * unlocks the user's mutex, then queues with that ticket; notify_one wakes
 * the G holding ticket `notify` and advances it; notify_all wakes everyone
 * and sets notify = wait. A waiter whose ticket was already notified does
 * not sleep at all, so no signal is lost between unlock and sleep. */
#include "sema.h"

#include <string.h>

#include "chan.h"

#define SEMTAB_SIZE 251

struct semroot {
    gcrt_lock_t lock;
    uint32_t nwait;     /* waiters on every address of this root; atomic */
    gcrt_sudog_t *head; /* one head sudog per waited-on address */
} GCRT_ALIGNED(GCRT_CACHELINE);

/* Not a GC root (GCRT_NOSCAN_DATA): the sudogs it links live on their
 * waiters' stacks, which are scanned. */
static GCRT_NOSCAN_DATA struct semroot semtab[SEMTAB_SIZE] = {
    [0 ... SEMTAB_SIZE - 1] = {.lock = GCRT_LOCK_INIT(GCRT_RANK_SEMA)},
};

static struct semroot *root_for(uint32_t *addr) {
    return &semtab[((uintptr_t)addr >> 3) % SEMTAB_SIZE];
}

static bool cansemacquire(uint32_t *addr) {
    for (;;) {
        uint32_t v = gcrt_load_acquire(addr);
        if (v == 0) return false;
        if (gcrt_cas(addr, &v, v - 1)) return true;
    }
}

/* Replaces head sudog old by s in the root's list of addresses. */
static void replace_head(struct semroot *r, gcrt_sudog_t *old, gcrt_sudog_t *s) {
    s->prev = old->prev;
    s->next = old->next;
    if (s->prev)
        s->prev->next = s;
    else
        r->head = s;
    if (s->next) s->next->prev = s;
    old->next = old->prev = NULL;
}

static void sema_queue(struct semroot *r, uint32_t *addr, gcrt_sudog_t *s, bool lifo) {
    s->elem = addr;
    s->next = s->prev = s->waitlink = s->waittail = NULL;
    s->ticket = 0;
    for (gcrt_sudog_t *t = r->head; t != NULL; t = t->next) {
        if (t->elem != addr) continue;
        if (lifo) { /* s becomes the head; t starts its chain */
            replace_head(r, t, s);
            s->waitlink = t;
            s->waittail = t->waittail ? t->waittail : t;
            t->waittail = NULL;
        } else {
            if (t->waittail == NULL)
                t->waitlink = s;
            else
                t->waittail->waitlink = s;
            t->waittail = s;
        }
        return;
    }
    s->next = r->head; /* first waiter on addr */
    if (r->head) r->head->prev = s;
    r->head = s;
}

static gcrt_sudog_t *sema_dequeue(struct semroot *r, uint32_t *addr) {
    gcrt_sudog_t *s = r->head;
    while (s != NULL && s->elem != addr) s = s->next;
    if (s == NULL) return NULL;
    gcrt_sudog_t *t = s->waitlink;
    if (t != NULL) { /* the next waiter becomes the head */
        replace_head(r, s, t);
        t->waittail = s->waittail == t ? NULL : s->waittail;
        s->waitlink = s->waittail = NULL;
    } else {
        if (s->prev)
            s->prev->next = s->next;
        else
            r->head = s->next;
        if (s->next) s->next->prev = s->prev;
    }
    s->elem = NULL;
    s->next = s->prev = NULL;
    s->ticket = 0;
    return s;
}

static int unlock_root_commit(gcrt_g_t *g, void *arg) {
    (void)g;
    gcrt__unlock(&((struct semroot *)arg)->lock);
    return 1;
}

void gcrt__semacquire(uint32_t *addr, bool lifo, unsigned reason) {
    if (cansemacquire(addr)) return; /* easy case */
    gcrt_sudog_t s;
    memset(&s, 0, sizeof s);
    s.g = gcrt__getg_or_throw("blocking on a semaphore (sync)");
    struct semroot *r = root_for(addr);
    for (;;) {
        gcrt__lock(&r->lock);
        /* Count ourselves first so a concurrent release sees us. */
        gcrt_xadd(&r->nwait, 1);
        if (cansemacquire(addr)) {
            gcrt_xadd(&r->nwait, -1);
            gcrt__unlock(&r->lock);
            break;
        }
        sema_queue(r, addr, &s, lifo);
        gcrt__park(unlock_root_commit, r, reason);
        if (s.ticket != 0 || cansemacquire(addr)) break;
    }
}

void gcrt__semrelease(uint32_t *addr, bool handoff) {
    struct semroot *r = root_for(addr);
    gcrt_xadd(addr, 1);
    /* Easy case: nobody waiting (the waiter's nwait increment and our
     * count increment are both sequentially consistent). */
    if (gcrt_load_acquire(&r->nwait) == 0) return;
    gcrt__lock(&r->lock);
    if (gcrt_load_relaxed(&r->nwait) == 0) {
        gcrt__unlock(&r->lock);
        return;
    }
    gcrt_sudog_t *s = sema_dequeue(r, addr);
    if (s != NULL) gcrt_xadd(&r->nwait, -1);
    gcrt__unlock(&r->lock);
    if (s == NULL) return;
    bool handed = false;
    if (handoff && cansemacquire(addr)) {
        s->ticket = 1; /* the count is the waiter's: it does not compete */
        handed = true;
    }
    gcrt__ready(s->g); /* s is gone after this */
    /* Direct hand-off: let the waiter run now (Go: goyield). */
    if (handed) gcrt__gosched();
}

int gcrt__sema_nwait(uint32_t *addr) {
    struct semroot *r = root_for(addr);
    int n = 0;
    gcrt__lock(&r->lock);
    for (gcrt_sudog_t *h = r->head; h != NULL; h = h->next) {
        if (h->elem != addr) continue;
        for (gcrt_sudog_t *s = h; s != NULL; s = s->waitlink) n++;
    }
    gcrt__unlock(&r->lock);
    return n;
}

/* ---- notify list (sync.Cond) -------------------------------------------- */

_Static_assert(sizeof(((gcrt_notify_list_t *)0)->lock) == sizeof(gcrt_lock_t),
               "gcrt_notify_list_t.lock must have gcrt_lock_t's layout");

static inline gcrt_lock_t *nl_lock(gcrt_notify_list_t *l) {
    return (gcrt_lock_t *)&l->lock;
}

/* Ticket order with wraparound (Go: less). */
static inline bool ticket_less(uint32_t a, uint32_t b) {
    return (int32_t)(a - b) < 0;
}

uint32_t gcrt__notify_list_add(gcrt_notify_list_t *l) {
    return gcrt_xadd(&l->wait, 1);
}

static int unlock_nl_commit(gcrt_g_t *g, void *arg) {
    (void)g;
    gcrt__unlock(nl_lock(arg));
    return 1;
}

void gcrt__notify_list_wait(gcrt_notify_list_t *l, uint32_t t) {
    gcrt_g_t *g = gcrt__getg_or_throw("sync.Cond.Wait");
    gcrt__lock(nl_lock(l));
    if (ticket_less(t, l->notify)) { /* already notified */
        gcrt__unlock(nl_lock(l));
        return;
    }
    gcrt_sudog_t s;
    memset(&s, 0, sizeof s);
    s.g = g;
    s.ticket = t;
    if (l->tail == NULL)
        l->head = &s;
    else
        ((gcrt_sudog_t *)l->tail)->next = &s;
    l->tail = &s;
    gcrt__park(unlock_nl_commit, l, GCRT_WAIT_SYNC_COND_WAIT);
}

void gcrt__notify_list_notify_all(gcrt_notify_list_t *l) {
    if (gcrt_load_acquire(&l->wait) == gcrt_load_acquire(&l->notify)) return;
    gcrt__lock(nl_lock(l));
    gcrt_sudog_t *s = l->head;
    l->head = l->tail = NULL;
    gcrt_store_release(&l->notify, gcrt_load_acquire(&l->wait));
    gcrt__unlock(nl_lock(l));
    while (s != NULL) {
        gcrt_sudog_t *next = s->next;
        gcrt__ready(s->g);
        s = next;
    }
}

void gcrt__notify_list_notify_one(gcrt_notify_list_t *l) {
    if (gcrt_load_acquire(&l->wait) == gcrt_load_acquire(&l->notify)) return;
    gcrt__lock(nl_lock(l));
    uint32_t t = l->notify;
    if (t == gcrt_load_acquire(&l->wait)) {
        gcrt__unlock(nl_lock(l));
        return;
    }
    gcrt_store_release(&l->notify, t + 1);
    /* The waiter with ticket t may not have queued yet: then it sees
     * notify > t and does not sleep. */
    for (gcrt_sudog_t *p = NULL, *s = l->head; s != NULL; p = s, s = s->next) {
        if (s->ticket != t) continue;
        gcrt_sudog_t *n = s->next;
        if (p)
            p->next = n;
        else
            l->head = n;
        if (l->tail == s) l->tail = p;
        gcrt_g_t *g = s->g;
        gcrt__unlock(nl_lock(l));
        gcrt__ready(g);
        return;
    }
    gcrt__unlock(nl_lock(l));
}

/* fork.c: this file's global locks. */
void gcrt__sema_fork_locks(void) {
    for (unsigned i = 0; i < SEMTAB_SIZE; i++) gcrt__fork_add_lock(&semtab[i].lock);
}
