/* malloc.h - allocator entry points shared inside the core (see malloc.c). */
#ifndef GCRT_MALLOC_H
#define GCRT_MALLOC_H

#include "mcache.h"
#include "runtime.h"

/* Default heap reservation (GCRT_HEAP_RESERVE overrides, Go byte units). */
#define GCRT_DEFAULT_HEAP_RESERVE ((size_t)64 << 30)

/* Sets up the heap, central lists and the scavenger. 0 or -errno. */
int gcrt__malloc_init(void);

/* Persistent zeroed runtime metadata (Go: persistentalloc): never freed,
 * counted in OtherSys. NULL if the OS refuses. */
void *gcrt__meta_alloc(size_t size);

/* Bytes allocated since the last mark, counting cached spans' free slots
 * as allocated (Go: gcController.heapLive). Atomic. */
extern uint64_t gcrt__heap_live;

/* Bytes of scannable heap allocated since the last mark termination,
 * counted when a span leaves its cache (Go: the scanAlloc each refill adds
 * to gcController.heapScan outside a mark). The pacer's heap_scan, the
 * worst-case scan work of a cycle, is the last cycle's heap scan work plus
 * this at the cycle's start; gc.c zeroes it at each mark termination.
 * Atomic. */
extern uint64_t gcrt__heap_scan_alloc;

/* GCRT_HOOK_PCS when every new mcache must record allocation sites. */
extern uint32_t gcrt__alloc_hooks;

/* GC work an allocation of bytes owes (refill, large objects): mark
 * assists, the trigger test, a safepoint. No runtime lock held. */
void gcrt__malloc_gc_work(gcrt_mcache_t *c, int64_t bytes);

/* Go's zerobase: the address of every zero-size allocation. */
extern uint64_t gcrt__zerobase;

/* The allocation slow path: size 0, large objects, refills, unattached
 * threads and errors. fail: 0 = stop on error, 1 = return NULL + errno. */
void *gcrt__malloc_slow(size_t size, unsigned noscan, int fail);

#if GCRT_ASSERT_LEVEL >= 2
/* Tests: called by gcrt_find_object with the span's layout read, before
 * its bitmaps are (test_find_object_reuse). */
extern void (*gcrt__find_object_test_hook)(uintptr_t p);
#endif

#endif
