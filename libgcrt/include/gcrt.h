/* gcrt.h - Go's memory system for C: the public API of libgcrt.
 *
 * Each call names the Go concept it mirrors, so `grep` for the Go name
 * (ReadMemStats, FreeOSMemory, new, make) finds it.
 *
 * Error contract: calls that can fail return 0 or a negative errno value, or
 * NULL with errno set, and change nothing on failure. Ordinary allocation
 * (gcrt_alloc*) never returns NULL: like Go, when the heap cannot grow it
 * prints "fatal error: out of memory" with the sizes and aborts; use
 * gcrt_try_alloc to get NULL instead.
 *
 * Threads: the thread that calls gcrt_init() is attached to the runtime.
 * Any other thread that was not created by the runtime must call
 * gcrt_thread_attach() before it touches the GC heap and
 * gcrt_thread_detach() before it exits. gcrt_alloc on a thread that is not
 * attached stops the program with a message that says so (gcrt_try_alloc
 * returns NULL with errno EPERM).
 */
#ifndef GCRT_H
#define GCRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GCRT_API __attribute__((visibility("default")))

/* ---- lifecycle ---------------------------------------------------------- */

/* Initialises the runtime (idempotent) and attaches the calling thread.
 * Reads GODEBUG (madvdontneed, ...), GOMAXPROCS. Returns 0 or -errno. */
GCRT_API int gcrt_init(void);

/* Attaches the calling thread: it gets an M and a P (an allocation cache).
 * Returns 0, or 0 again if it was attached already (calls nest: each attach
 * needs its detach), or -errno. Initialises the runtime if needed. */
GCRT_API int gcrt_thread_attach(void);
/* Detaches the calling thread; its cached spans go back to the heap.
 * Returns 0, or -EPERM if the thread was not attached. On a goroutine
 * both calls do nothing and return 0: a goroutine is always attached, and
 * may run on another thread after any blocking operation. */
GCRT_API int gcrt_thread_detach(void);
/* Whether the calling thread is attached. */
GCRT_API bool gcrt_thread_attached(void);

/* ---- allocation: Go's new(T) and make([]T, n) --------------------------- */

/* Zeroed memory that may hold pointers to other GC objects (it is scanned).
 * size 0 returns one shared, unique zero-size address (like Go's zerobase);
 * never NULL. Objects are aligned like Go's size classes: 8 bytes at least,
 * 16 for sizes that are multiples of 16 ... (see the size-class table), at
 * most 8 KiB (a page). */
GCRT_API void *gcrt_alloc(size_t size) __attribute__((malloc, returns_nonnull, alloc_size(1)));
/* Zeroed pointer-free memory (never scanned; objects under 16 bytes share
 * 16-byte blocks through the tiny allocator and are aligned by their size
 * only: 8 for multiples of 8, else 4, 2 or 1). */
GCRT_API void *gcrt_alloc_noscan(size_t size)
    __attribute__((malloc, returns_nonnull, alloc_size(1)));
/* make([]T, n): n elements of elem_size bytes. If n * elem_size overflows
 * or exceeds the largest allocation, stops with "fatal error: ... len out of
 * range" (Go panics: makeslice: len out of range). */
GCRT_API void *gcrt_alloc_array(size_t n, size_t elem_size)
    __attribute__((malloc, returns_nonnull, alloc_size(1, 2)));
GCRT_API void *gcrt_alloc_array_noscan(size_t n, size_t elem_size)
    __attribute__((malloc, returns_nonnull, alloc_size(1, 2)));

/* Flags for gcrt_try_alloc. */
#define GCRT_NOSCAN 1u /* pointer-free object */

/* Like gcrt_alloc, but returns NULL with errno set instead of stopping:
 * ENOMEM (heap reservation exhausted, or the OS refused memory; the soft
 * memory limit, GOMEMLIMIT, never fails an allocation), EOVERFLOW (size
 * larger than GCRT_MAX_ALLOC), EPERM (thread not attached), EINVAL (unknown
 * flags). Nothing is allocated or counted on failure. */
GCRT_API void *gcrt_try_alloc(size_t size, unsigned flags);

/* Largest request gcrt_alloc accepts (bytes): the heap reservation caps
 * what can really be had, and one object is at most 32 TiB - 4 MiB (the
 * page heap counts a span's pages in 32 bits; more is ENOMEM). */
#define GCRT_MAX_ALLOC ((size_t)1 << 47)

/* Explicit free of an object that is no longer referenced (bdwgc's
 * GC_FREE; Go has none). Optional: the collector frees what is unreachable.
 * Freeing NULL or the zero-size address does nothing. Freeing anything that
 * is not the base of a live heap object stops the program with
 * "fatal error: gcrt_free: ..." naming the address. */
GCRT_API void gcrt_free(void *p);

/* ---- object lookup ------------------------------------------------------ */

/* If p points into (or at) an allocated heap object, stores its base and
 * its size (the size-class size, or the page-rounded size for large objects)
 * and returns true. For a tiny object (pointer-free, under 16 bytes) that is
 * the 16-byte block it shares with other tiny objects, not the object. Interior pointers count.
 * Returns false for anything else (free slots, stacks, malloc'd memory, NULL). Safe to call from
 * any thread. */
GCRT_API bool gcrt_find_object(const void *p, void **base, size_t *size);
/* Usable size of the object p points into, or 0 if p is not in one (for a
 * tiny object: its block's 16 bytes, which other objects may share). */
GCRT_API size_t gcrt_usable_size(const void *p);

/* ---- runtime.MemStats --------------------------------------------------- */

#define GCRT_NUM_BYSIZE 61 /* Go's MemStats.BySize has 61 entries */

/* Field by field Go's runtime.MemStats (same names, same meanings, same
 * order; ../shared/spec/go-formats.md section 2). Invariants on every read:
 *   alloc == heap_alloc; heap_objects == mallocs - frees;
 *   heap_sys == heap_inuse + heap_idle; heap_idle >= heap_released;
 *   sys == heap_sys + stack_sys + mspan_sys + mcache_sys + buck_hash_sys +
 *          gc_sys + other_sys;
 *   heap_alloc <= heap_inuse; frees <= mallocs; num_forced_gc <= num_gc;
 *   last_gc == pause_end[(num_gc + 255) % 256] (0 before the first cycle),
 *   and next_gc is the goal of the cycle after num_gc's. */
struct gcrt_memstats {
    uint64_t alloc;          /* Alloc: bytes of allocated heap objects */
    uint64_t total_alloc;    /* TotalAlloc: cumulative bytes allocated */
    uint64_t sys;            /* Sys: total bytes obtained from the OS */
    uint64_t lookups;        /* Lookups: always 0 */
    uint64_t mallocs;        /* Mallocs: cumulative objects allocated */
    uint64_t frees;          /* Frees: cumulative objects freed */
    uint64_t heap_alloc;     /* HeapAlloc */
    uint64_t heap_sys;       /* HeapSys */
    uint64_t heap_idle;      /* HeapIdle: free pages, released or not */
    uint64_t heap_inuse;     /* HeapInuse: bytes in in-use spans */
    uint64_t heap_released;  /* HeapReleased: free pages returned to the OS */
    uint64_t heap_objects;   /* HeapObjects */
    uint64_t stack_inuse;    /* StackInuse */
    uint64_t stack_sys;      /* StackSys */
    uint64_t mspan_inuse;    /* MSpanInuse */
    uint64_t mspan_sys;      /* MSpanSys */
    uint64_t mcache_inuse;   /* MCacheInuse */
    uint64_t mcache_sys;     /* MCacheSys */
    uint64_t buck_hash_sys;  /* BuckHashSys */
    uint64_t gc_sys;         /* GCSys */
    uint64_t other_sys;      /* OtherSys */
    uint64_t next_gc;        /* NextGC: heap goal */
    uint64_t last_gc;        /* LastGC: Unix ns of the end of the last GC, 0 if none */
    uint64_t pause_total_ns; /* PauseTotalNs */
    uint64_t pause_ns[256];  /* PauseNs: ring, latest at [(num_gc+255)%256] */
    uint64_t pause_end[256]; /* PauseEnd: ring of Unix ns */
    uint32_t num_gc;         /* NumGC */
    uint32_t num_forced_gc;  /* NumForcedGC */
    double gc_cpu_fraction;  /* GCCPUFraction */
    bool enable_gc;          /* EnableGC: always true */
    bool debug_gc;           /* DebugGC: always false */
    struct {
        uint32_t size;
        uint64_t mallocs, frees;
    } by_size[GCRT_NUM_BYSIZE]; /* BySize: classes 0..60 */
};

/* runtime.ReadMemStats: stops the world briefly, as Go does, so that every
 * field comes from one instant. Any thread, attached or not. */
GCRT_API void gcrt_read_memstats(struct gcrt_memstats *ms);

/* ---- returning memory to the OS ----------------------------------------- */

/* debug.FreeOSMemory: returns as much free heap memory to the OS as
 * possible (madvise). Once the collector exists it collects first. */
GCRT_API void gcrt_free_os_memory(void);

#include "gcrt_chan.h"
#include "gcrt_sync.h"

/* ---- the garbage collector ---------------------------------------------- */

/* runtime.GC: runs a complete collection (mark and sweep) and returns when
 * it is done. Objects not reachable from the roots are freed. */
GCRT_API void gcrt_gc(void);

/* Registers [lo, hi) as a root: the collector scans it for pointers to
 * heap objects (use it for pointers kept in malloc'd memory, mmap'd
 * memory, or thread-local storage of dlopen'ed libraries - memory the
 * collector cannot see). Returns 0, or -EINVAL for an empty range, -ENOMEM. */
GCRT_API int gcrt_add_roots(void *lo, void *hi);
/* Unregisters the range that starts at lo. Returns 0 or -ENOENT. */
GCRT_API int gcrt_remove_roots(void *lo);

/* runtime.SetFinalizer: when obj (the start of a heap object) becomes
 * unreachable, the collector keeps it and runs fn(obj, arg) on the
 * finalizer goroutine; after that, obj is freed once unreachable again
 * (fn may resurrect it by storing it somewhere). What obj points to stays
 * alive until fn has run. Objects in a cycle with a finalizer are never
 * collected; if A points to B and both have finalizers, A's runs first.
 * fn NULL removes the finalizer. Returns 0, -EINVAL (obj is not the start
 * of an allocated heap object: a freed one is not), -EEXIST (already set;
 * Go panics), -ENOENT (removing one that is not set), -ENOMEM. gcrt_free
 * of the object drops its finalizer without running it. */
GCRT_API int gcrt_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);

/* runtime.KeepAlive: keeps p reachable up to this point of the program. */
GCRT_API void gcrt_keep_alive(const void *p);

/* debug.SetGCPercent: sets GOGC (negative: off) and returns the previous
 * value. Turning the collector off waits for a cycle in progress. */
GCRT_API int gcrt_set_gc_percent(int percent);
/* debug.SetMemoryLimit: sets the soft memory limit in bytes (what the
 * runtime maps and has not released: Sys - HeapReleased) and returns the
 * previous one; a negative limit only reads it. INT64_MAX means none. */
GCRT_API int64_t gcrt_set_memory_limit(int64_t limit);
/* runtime/metrics /gc/limiter/last-enabled:gc-cycle: the GC cycle (NumGC
 * + 1 at the time) in which the GC CPU limiter last turned on, 0 if it
 * never did. The limiter turns on when the collector has used more than
 * about half the CPU (GOMAXPROCS x time) over the last second or so,
 * typically under a memory limit below the live heap; while it is on,
 * allocations skip their mark assists and the heap may exceed the limit. */
GCRT_API uint32_t gcrt_gc_limiter_last_enabled(void);

/* ---- the write barrier (Go: the compiler's p.f = q) --------------------- */

/* Every store of a pointer into a heap object must go through gcrt_store
 * while the collector runs concurrently (Go's hybrid barrier: the old and
 * the new value are shaded while marking). Stores into globals, locals and
 * registered roots need no barrier. When marking is off it costs a load
 * of the old value, the store and one flag test (about a plain store's
 * time: tests/bench/run-barrier.sh). Programs that cannot use it run with
 * GODEBUG=gcstoptheworld=1; GODEBUG=gccheckmark=1 finds a missing one. */
GCRT_API extern uint32_t gcrt_gc_barrier_on;
GCRT_API void gcrt_write_barrier(const void *old, const void *val);
static inline void gcrt_store(void *slot, const void *val) {
    void **p = (void **)slot;
    void *old = *(void *volatile *)p;
    *(void *volatile *)p = (void *)val;
    __asm__ __volatile__("" ::: "memory");
    if (__builtin_expect(*(volatile uint32_t *)&gcrt_gc_barrier_on, 0))
        gcrt_write_barrier(old, val);
}
/* Copies n pointers from src to dst (overlap allowed) with the barrier
 * (Go: typedmemmove / bulkBarrierPreWrite). */
GCRT_API void gcrt_copy_ptrs(void *dst, const void *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
