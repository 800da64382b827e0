/* gctrace.h - GODEBUG=gctrace=1: one record per completed GC cycle and the
 * formatter of Go 1.19's exact line (gctrace.c; Go: the gctrace block of
 * gcMarkTermination, itoaDiv, fmtNSAsMS in mgc.go). Spec:
 * ../shared/spec/go-formats.md sections 1.2-1.4.
 *
 *   gc <N> @<T>s <U>%: <c1>+<c2>+<c3> ms clock, <p1>+<p2>/<p3>/<p4>+<p5> ms cpu,
 *      <h0>-><h1>-><h2> MB, <G> MB goal, <S> MB stacks, <L> MB globals, <P> P[ (forced)]
 *
 * The collector fills a struct gcrt_gctrace_cycle while the world is still
 * stopped, then formats it and writes the line to fd 2 in one write(2).
 * Pure: no globals, no clocks, no allocation.
 */
#ifndef GCRT_GCTRACE_H
#define GCRT_GCTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gcrt_gctrace_cycle {
    uint32_t num;           /* N: NumGC after this cycle (first line: 1) */
    int64_t start_ns;       /* T: sweep-termination start - runtime init, ns */
    double gc_cpu_fraction; /* U = int(x * 100): GCCPUFraction after the cycle */
    /* Clock: c1 sweep termination (STW), c2 concurrent mark, c3 mark
     * termination (STW), each a wall-clock duration in ns. */
    int64_t sweep_term_ns, mark_ns, mark_term_ns;
    int32_t stwprocs;             /* min(GOMAXPROCS, ncpu): p1 = stwprocs*c1, p5 = stwprocs*c3 */
    int64_t assist_cpu_ns;        /* p2: mutator assists */
    int64_t background_cpu_ns;    /* p3: dedicated + fractional workers */
    int64_t idle_cpu_ns;          /* p4: idle workers */
    uint64_t heap_trigger_bytes;  /* h0: heap_live when the cycle started */
    uint64_t heap_mark_end_bytes; /* h1: heap_live when marking ended */
    uint64_t heap_marked_bytes;   /* h2: bytes marked (live heap) */
    uint64_t heap_goal_bytes;     /* G: the goal in force (pacer last_heap_goal) */
    uint64_t stacks_bytes;        /* S: allocated goroutine stacks */
    uint64_t globals_bytes;       /* L: scannable data + bss */
    int32_t procs;                /* P: GOMAXPROCS at cycle start */
    bool forced;                  /* runtime.GC / FreeOSMemory cycle: " (forced)" */
};

/* Longest possible line, newline and NUL included. */
#define GCRT_GCTRACE_LINE_MAX 512

/* Writes the line, newline-terminated, into buf and NUL-terminates it
 * (truncated if cap is short, like snprintf). Returns the length of the
 * whole line without the NUL. */
size_t gcrt__gctrace_format(char *buf, size_t cap, const struct gcrt_gctrace_cycle *c);

/* Go's itoaDiv: val in decimal with a point dec digits from the right and
 * at least one digit before it (dec 0: no point). buf: 24 bytes or more;
 * NUL-terminated; returns the length. */
size_t gcrt__gctrace_itoa_div(char *buf, uint64_t val, int dec);

/* Go's fmtNSAsMS: ns as milliseconds, two significant digits below 10 ms,
 * whole ms from 10 ms, "0" below 1 us. buf: 24 bytes or more. */
size_t gcrt__gctrace_fmt_ns_as_ms(char *buf, uint64_t ns);

/* POSIX ERE (regcomp REG_EXTENDED) that matches exactly the lines
 * gcrt__gctrace_format can produce, without the trailing newline. Every
 * time field admits only fmtNSAsMS's shapes, numbers have no leading zeros,
 * and the separators and units are literal. */
#define GCRT_GCTRACE_RE_N "(0|[1-9][0-9]*)"
#define GCRT_GCTRACE_RE_MS                                                                         \
    "(0|0\\.00[1-9]|0\\.0[1-9][0-9]|0\\.[1-9][0-9]|[1-9]\\.[0-9]|[1-9][0-9]+)"
#define GCRT_GCTRACE_REGEX                                                                         \
    "^gc [1-9][0-9]* @" GCRT_GCTRACE_RE_N "\\.[0-9]{3}s " GCRT_GCTRACE_RE_N                        \
    "%: " GCRT_GCTRACE_RE_MS "\\+" GCRT_GCTRACE_RE_MS "\\+" GCRT_GCTRACE_RE_MS                     \
    " ms clock, " GCRT_GCTRACE_RE_MS "\\+" GCRT_GCTRACE_RE_MS "/" GCRT_GCTRACE_RE_MS               \
    "/" GCRT_GCTRACE_RE_MS "\\+" GCRT_GCTRACE_RE_MS " ms cpu, " GCRT_GCTRACE_RE_N                  \
    "->" GCRT_GCTRACE_RE_N "->" GCRT_GCTRACE_RE_N " MB, " GCRT_GCTRACE_RE_N                        \
    " MB goal, " GCRT_GCTRACE_RE_N " MB stacks, " GCRT_GCTRACE_RE_N                                \
    " MB globals, [1-9][0-9]* P( \\(forced\\))?$"

#endif
