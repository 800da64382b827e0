/* sema.h - Go's runtime semaphore and notify list (sema.c; Go: sema.go),
 * on which sync.c builds Mutex, RWMutex, WaitGroup and Cond. See chan.c for
 * the park/ready walk-through; sema.c for the wait-list layout. */
#ifndef GCRT_SEMA_H
#define GCRT_SEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "gcrt_sync.h"
#include "lock.h"

/* Go: semacquire1. Waits until *addr > 0, then decrements it. lifo puts
 * the waiter at the head of the address's queue (a Mutex waiter that was
 * woken and lost the race again). Blocks with reason (Go 1.19:
 * GCRT_WAIT_SEMACQUIRE for everything in sync). */
void gcrt__semacquire(uint32_t *addr, bool lifo, unsigned reason);
/* Go: semrelease1. Increments *addr and wakes one waiter if any. With
 * handoff, the count is passed directly to the first waiter (it does not
 * compete for it) and the caller yields so the waiter runs at once: the
 * starving Mutex's hand-off. */
void gcrt__semrelease(uint32_t *addr, bool handoff);
/* Number of Gs waiting in gcrt__semacquire on addr (tests). */
int gcrt__sema_nwait(uint32_t *addr);

/* Go's notifyList (for sync.Cond): tickets hand out wait order. The
 * struct is public (gcrt_notify_list_t in gcrt_sync.h) so that a zeroed
 * gcrt_cond_t is valid. */
uint32_t gcrt__notify_list_add(gcrt_notify_list_t *l);
void gcrt__notify_list_wait(gcrt_notify_list_t *l, uint32_t ticket);
void gcrt__notify_list_notify_one(gcrt_notify_list_t *l);
void gcrt__notify_list_notify_all(gcrt_notify_list_t *l);

#endif
