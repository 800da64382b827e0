/* pool.h - sync.Pool's hook into the GC (pool.c; Go: sync/pool.go,
 * poolCleanup). */
#ifndef GCRT_POOL_H
#define GCRT_POOL_H

#include "gcrt_sync.h"

/* Go: poolCleanup. The GC calls it once per cycle, with the world stopped,
 * before marking: in every pool the victim cache is dropped and the
 * primary cache becomes the victim (so the GC frees objects unused for two
 * cycles, and a Get right after a GC still finds the previous ones). Takes
 * no lock and never allocates. Also callable directly when no pool is in
 * use concurrently (tests). If the pools' registry lock happens to be held
 * (a thread stopped inside its first Get/Put of a pool), the cleanup skips
 * this cycle and returns false; otherwise true. */
bool gcrt__pool_cleanup(void);

/* Shades every registered pool and its two caches (the root scan, world
 * stopped): a pool in memory the collector does not scan keeps them. */
struct gcrt_gcwork;
void gcrt__pool_scan_roots(struct gcrt_gcwork *w);

/* Number of objects in p's primary cache and in its victim cache (tests;
 * not a consistent snapshot under concurrent use). */
void gcrt__pool_counts(gcrt_pool_t *p, size_t *primary, size_t *victim);

#endif
