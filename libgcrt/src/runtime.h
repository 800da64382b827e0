/* runtime.h - what every file of the core shares: fatal errors, asserts,
 * atomics, the runtime's own print (no malloc, async-signal-safe), and the
 * few constants that are the heap's geometry. See malloc.c for the tour. */
#ifndef GCRT_RUNTIME_H
#define GCRT_RUNTIME_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gcrt.h"

#define GCRT_LIKELY(x)   __builtin_expect(!!(x), 1)
#define GCRT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GCRT_NOINLINE    __attribute__((noinline))
#define GCRT_COLD        __attribute__((cold, noinline))
/* Code the stop signal must not interrupt (stw.c): between taking a slot
 * and returning it, the allocator holds a new object the collector cannot
 * see (Go: mallocgc is not preemptible). The linker brackets the section
 * with __start_gcrt_nopreempt_text / __stop_gcrt_nopreempt_text. */
#define GCRT_NOPREEMPT __attribute__((section("gcrt_nopreempt_text")))
/* The runtime's own large tables that never hold a pointer into the GC
 * heap (span lists, mark workers' state, statistics, the scheduler's and
 * the semaphores' tables): their section is cut out of the writable
 * segment the root scan copies with the world stopped (mgcmark.c; 79 KiB
 * of the library's 91). Brackets:
 * __start_gcrt_noscan_data / __stop_gcrt_noscan_data. */
#define GCRT_NOSCAN_DATA __attribute__((section("gcrt_noscan_data")))
#define GCRT_NORETURN    __attribute__((noreturn))
#define GCRT_UNUSED      __attribute__((unused))
#define GCRT_CACHELINE   64
#define GCRT_ALIGNED(n)  __attribute__((aligned(n)))
/* Initial-exec TLS: one instruction to reach, safe in a library loaded at
 * program start (libgcrt is never meant to be dlopen'ed late). */
#define GCRT_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- heap geometry (Go: _PageShift, _MaxSmallSize, _TinySize) ----------- */
enum {
    GCRT_PAGE_SHIFT = 13,
    GCRT_PAGE_SIZE = 1 << GCRT_PAGE_SHIFT, /* 8 KiB runtime page */
    GCRT_PAGE_MASK = GCRT_PAGE_SIZE - 1,
    GCRT_MAX_SMALL_SIZE = 32768,
    GCRT_TINY_SIZE = 16,
    GCRT_TINY_SIZE_CLASS = 2,
};

/* ---- fatal errors (Go: throw) ------------------------------------------- */

/* Prints "fatal error: <msg>" to fd 2 with write(2) and aborts. Never
 * allocates; usable from a signal handler. Broken invariants end here;
 * they are never turned into error codes. */
GCRT_NORETURN GCRT_COLD void gcrt__throw(const char *msg);
/* Same with a format (see gcrt__vfmt for the directives). */
GCRT_NORETURN GCRT_COLD void gcrt__throwf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The runtime's print: formats into a stack buffer and write(2)s to fd 2 in
 * one call. Directives: %d %i %u %x %s %p %c %% with l, ll, z modifiers
 * (no width, no precision, except %0Nd / %0Nu / %0Nx for zero padding). */
void gcrt__printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t gcrt__vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t gcrt__fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes "function+0xoff (file)" for a code address, or its hex value if
 * it cannot be named (symbolize.c). */
void gcrt__symbolize(uintptr_t pc, char *buf, size_t cap);

/* ---- graded asserts ----------------------------------------------------- */
#ifndef GCRT_ASSERT_LEVEL
#define GCRT_ASSERT_LEVEL 1
#endif
#define GCRT_ASSERT_AT(lvl, c)                                                                     \
    do {                                                                                           \
        if (GCRT_ASSERT_LEVEL >= (lvl) && GCRT_UNLIKELY(!(c)))                                     \
            gcrt__throwf("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__);                  \
    } while (0)
/* Level 1: cheap checks, on by default. Level 2: expensive invariants. */
#define GCRT_ASSERT(c)  GCRT_ASSERT_AT(1, c)
#define GCRT_ASSERT2(c) GCRT_ASSERT_AT(2, c)

/* ---- atomics (thin names over the GCC builtins) ------------------------- */
#define gcrt_load_relaxed(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define gcrt_load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define gcrt_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define gcrt_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define gcrt_xadd(p, v)          __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define gcrt_xadd_relaxed(p, v)  __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define gcrt_xchg(p, v)          __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define gcrt_cas(p, oldp, nv)                                                                      \
    __atomic_compare_exchange_n((p), (oldp), (nv), false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)
/* Owner-only counter update that concurrent readers may load relaxed. */
#define gcrt_bump(p, v) gcrt_store_relaxed((p), gcrt_load_relaxed(p) + (v))

static inline void gcrt_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline uintptr_t gcrt_round_up(uintptr_t x, uintptr_t align) {
    return (x + align - 1) & ~(align - 1);
}

#endif
