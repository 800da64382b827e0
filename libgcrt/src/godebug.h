/* godebug.h - GODEBUG, read once at start-up with Go's rules: a
 * comma-separated list of name=value; unknown names are ignored, a value
 * that is not a decimal integer leaves the default (Go: parsedebugvars). */
#ifndef GCRT_GODEBUG_H
#define GCRT_GODEBUG_H

#include <stddef.h>
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

/* Settings of names this runtime knows whose value Go ignores (not a
 * decimal int32, or no '=value'): how many, and the first, for the
 * start-up warning (gcrt__godebug_init). */
struct gcrt_godebug_bad {
    int count;
    const char *first; /* points into the parsed string */
    size_t first_len;
};

/* Parses s (may be NULL) into d, starting from the defaults. Returns the
 * number of names it did not know (they are ignored, as in Go: GODEBUG is
 * shared with Go programs). bad (may be NULL) gets the known names' bad
 * settings, which are ignored too. */
int gcrt__godebug_parse(struct gcrt_debug_vars *d, const char *s, struct gcrt_godebug_bad *bad);

/* Start-up: parses GODEBUG into gcrt__debug and warns on stderr about
 * each known name's setting it ignores (the value Go ignores silently). */
void gcrt__godebug_init(void);

/* Go's atoi32 (runtime/string.go): not empty, an optional '-', then
 * decimal digits only (none after the sign reads as 0), fitting int32.
 * Returns 1 and stores it, or 0. GOGC, GOMAXPROCS, GODEBUG values. */
int gcrt__go_atoi32(const char *s, size_t n, int32_t *out);

/* Start-up warning about an environment setting that is ignored: "gcrt:
 * ignoring NAME=VALUE: WHY" on stderr, the value cut to 64 bytes. */
void gcrt__warn_env(const char *name, const char *value, size_t len, const char *why);

/* Parses a byte count with Go's GOMEMLIMIT syntax (parseByteCount: digits,
 * optional B, KiB, MiB, GiB or TiB). Returns 0 and stores it, or -EINVAL. */
int gcrt__parse_byte_count(const char *s, int64_t *out);

#endif
