/* godebug.h - GODEBUG, read once at start-up with Go's rules: a
 * comma-separated list of name=value; unknown names are ignored, a value
 * that is not a decimal integer leaves the default (Go: parsedebugvars). */
#ifndef GCRT_GODEBUG_H
#define GCRT_GODEBUG_H

#include <stdint.h>

struct gcrt_debug_vars {
    int32_t gctrace;         /* 1: one line per GC on stderr */
    int32_t gcstoptheworld;  /* 1, 2: whole collections stop the world */
    int32_t gccheckmark;     /* 1: verify the concurrent mark */
    int32_t madvdontneed;    /* 1 (default): MADV_DONTNEED; 0: MADV_FREE */
    int32_t scavtrace;       /* 1: one scavenger line per GC */
    int32_t memprofilerate;  /* -1 = not set; else MemProfileRate */
    int32_t invalidptr;      /* 1 (default) */
    int32_t asyncpreemptoff; /* 1: no asynchronous preemption (preempt.c) */
    int32_t gcpausetrace;    /* gcrt's own: 1 prints where each stop-the-world's time went */
};

extern struct gcrt_debug_vars gcrt__debug;

/* Parses s (may be NULL) into d, starting from the defaults. Returns the
 * number of names it did not know (they are ignored, as in Go). */
int gcrt__godebug_parse(struct gcrt_debug_vars *d, const char *s);

/* Parses a byte count with Go's GOMEMLIMIT syntax (parseByteCount: digits,
 * optional B, KiB, MiB, GiB or TiB). Returns 0 and stores it, or -EINVAL. */
int gcrt__parse_byte_count(const char *s, int64_t *out);

#endif
