/* pacer.h - the GC pacer: Go 1.19's gcControllerState (mgcpacer.go) and
 * GC CPU limiter (mgclimit.go) as pure policy code (pacer.c).
 *
 * Pure: every function works on the structure it is given plus explicit
 * arguments (times in ns, memory statistics). Nothing here reads a global,
 * a clock or an environment variable, and nothing locks: the collector owns
 * one struct gcrt_pacer and one struct gcrt_cpu_limiter and serialises the
 * calls (Go: world stopped or mheap lock held; the limiter's own try-lock).
 * Counters the hot paths bump (heap_live, scan work, assist time) are plain
 * fields so the collector may update them with __atomic builtins between
 * calls. Tests drive the same functions to simulate hundreds of cycles.
 *
 * One cycle, in the order the collector calls (Go: gcStart, gcMarkDone,
 * gcMarkTermination):
 *
 *   trigger test     heap_live >= gcrt__pacer_trigger(p, mem).trigger
 *   gcStart          gcrt__pacer_start_cycle()    workers, assist ratio
 *   during mark      bump scan work / heap_live, gcrt__pacer_revise()
 *   gcMarkDone       gcrt__pacer_end_cycle()      cons/mark, last_heap_goal
 *   mark termination gcrt__pacer_reset_live()     heap_marked, last scans
 *                    gcrt__pacer_commit()         next goal and runway
 *
 * gcrt__pacer_finish_cycle() does the last three in that order.
 *
 * Concurrency is the collector's: gcrt__pacer_trigger() is cheap enough for
 * the allocation path (Go calls it on every span refill), but it reads
 * fields commit() writes; publish them under a seqlock or read them with
 * __atomic loads, as Go does with its atomic fields. Functions taking
 * `mem` need a snapshot (never NULL).
 * Go 1.19 names are given next to each field and function.
 */
#ifndef GCRT_PACER_H
#define GCRT_PACER_H

#include <stdbool.h>
#include <stdint.h>

#define GCRT_PACER_BG_UTILIZATION 0.25          /* gcBackgroundUtilization */
#define GCRT_PACER_HEAP_MINIMUM   (4ull << 20)  /* defaultHeapMinimum, GOGC=100 */
#define GCRT_PACER_GOAL_HEADROOM  (1ull << 20)  /* memoryLimitHeapGoalHeadroom */
#define GCRT_PACER_MIN_RUNWAY     (64ull << 10) /* heapGoalInternal minRunway */
#define GCRT_PACER_SWEEP_MIN_DIST (1ull << 20)  /* sweepMinHeapDistance */
#define GCRT_PACER_OVER_ASSIST    (64 << 10)    /* gcOverAssistWork, scan bytes */
#define GCRT_PACER_NO_TRIGGER     UINT64_MAX    /* triggered outside a mark phase */
#define GCRT_PACER_NO_LIMIT       INT64_MAX     /* memory_limit: GOMEMLIMIT unset/off */

/* Go's piController, used to smooth the measured cons/mark ratio. */
struct gcrt_pi_controller {
    double kp, ti, tt;   /* proportional gain, integral time, reset time */
    double min, max;     /* output clamp */
    double err_integral; /* integral of the error so far */
    bool err_overflow;   /* the integral became Inf/NaN and was reset */
    bool input_overflow; /* an input made the output Inf/NaN */
};

/* Memory statistics the memory-limit goal reads (Go keeps copies in
 * gcControllerState). Snapshot them together: heap_free + heap_alloc must
 * not exceed mapped_ready. */
struct gcrt_pacer_mem {
    uint64_t mapped_ready; /* mapped, not released: MemStats Sys - HeapReleased */
    uint64_t heap_free;    /* free heap pages not released (HeapIdle - HeapReleased) */
    uint64_t heap_alloc;   /* bytes of allocated heap objects (HeapAlloc) */
};

struct gcrt_pacer {
    /* ---- knobs; change with the setters, then gcrt__pacer_commit ---- */
    int32_t gc_percent;    /* GOGC; -1 = off (gcPercent) */
    int64_t memory_limit;  /* bytes, >= 0; GCRT_PACER_NO_LIMIT = none (memoryLimit) */
    uint64_t heap_minimum; /* 4 MiB * gc_percent / 100, Go's uint64 arithmetic */

    /* ---- set by commit ---- */
    uint64_t gc_percent_heap_goal;   /* goal from GOGC alone; UINT64_MAX when off */
    uint64_t sweep_dist_min_trigger; /* heap_live + 1 MiB while sweeping, else 0 */
    uint64_t runway;                 /* heap bytes the next mark needs (from cons/mark) */

    /* ---- set at the end of a cycle ---- */
    double cons_mark; /* smoothed (alloc B/cpu-ns) / (scan B/cpu-ns) (consMark) */
    struct gcrt_pi_controller cons_mark_ctl;
    uint64_t heap_marked;     /* bytes marked by the last cycle (gctrace h2) */
    uint64_t last_heap_scan;  /* heap scan work of the last cycle, bytes */
    uint64_t last_stack_scan; /* stack bytes actually scanned last cycle */
    uint64_t last_heap_goal;  /* goal in force for the last cycle (gctrace G) */

    /* ---- kept current by the collector (Go: updated atomically) ---- */
    uint64_t heap_live;      /* heap_marked + bytes allocated since (heapLive) */
    uint64_t heap_scan;      /* scannable part of heap_live; fixed during mark */
    uint64_t max_stack_scan; /* allocated goroutine stack bytes (gctrace S) */
    uint64_t globals_scan;   /* scannable data+bss bytes (gctrace L) */

    /* ---- this cycle; zeroed by start_cycle, bumped by the collector ---- */
    uint64_t triggered; /* heap_live trigger of this cycle; NO_TRIGGER outside mark */
    int64_t heap_scan_work, stack_scan_work, globals_scan_work; /* bytes scanned */
    int64_t assist_time_ns;                                     /* mutator assists (gctrace p2) */
    int64_t dedicated_mark_time_ns;  /* dedicated workers    } gctrace p3 */
    int64_t fractional_mark_time_ns; /* fractional workers  } */
    int64_t idle_mark_time_ns;       /* idle workers (gctrace p4) */
    int64_t mark_start_ns;           /* when assists and workers started */

    /* ---- outputs of start_cycle and revise ---- */
    int32_t dedicated_workers;          /* dedicated mark workers to run */
    int32_t max_idle_workers;           /* idle mark workers allowed at once */
    double fractional_utilization_goal; /* per-P share for the fractional worker */
    double assist_work_per_byte;        /* scan bytes owed per byte allocated */
    double assist_bytes_per_work;       /* 1 / assist_work_per_byte */
};

/* ---- environment (Go: readGOGC, readGOMEMLIMIT) ---------------------- */

/* GOGC: "off" -> -1; a decimal int32 with an optional '-' -> that value
 * (negative means off; set_gc_percent stores -1); anything else, NULL and
 * "" included -> 100, as in Go. Go's atoi32 also takes a lone "-" as 0.
 * *ignored (may be NULL) says whether a value was set and not used (not
 * NULL or ""): Go says nothing, gcrt__gc_init warns. */
int32_t gcrt__pacer_parse_gogc(const char *s, bool *ignored);

/* GOMEMLIMIT: NULL, "" or "off" -> GCRT_PACER_NO_LIMIT; otherwise Go's
 * parseByteCount (digits, optional B, KiB, MiB, GiB, TiB; no overflow).
 * Returns 0 and stores the limit, or -EINVAL and leaves *out unchanged. */
int gcrt__pacer_parse_gomemlimit(const char *s, int64_t *out);

/* The start-up check: returns the limit, or prints "GOMEMLIMIT=<s>" and
 * throws "malformed GOMEMLIMIT; see `go doc runtime/debug.SetMemoryLimit`"
 * exactly as Go does. */
int64_t gcrt__pacer_read_gomemlimit(const char *s);

/* ---- the controller ------------------------------------------------- */

/* Go's init: the knobs, the cons/mark smoother, and a first commit with
 * heap_live 0 and no sweep. */
void gcrt__pacer_init(struct gcrt_pacer *p, int32_t gc_percent, int64_t memory_limit);

/* SetGCPercent: stores in (negative -> -1), sets heap_minimum; returns the
 * previous value. Call gcrt__pacer_commit afterwards (and revise if a mark
 * phase is running). */
int32_t gcrt__pacer_set_gc_percent(struct gcrt_pacer *p, int32_t in);

/* SetMemoryLimit: a negative in changes nothing (query); returns the
 * previous limit. Commit afterwards if it changed. */
int64_t gcrt__pacer_set_memory_limit(struct gcrt_pacer *p, int64_t in);

/* Go's commit: the GOGC goal (heap_marked + (heap_marked + last stacks +
 * globals) * GOGC/100, at least heap_minimum), the sweep-distance bound
 * (p->heap_live + 1 MiB unless sweep_done) and the runway from cons/mark. */
void gcrt__pacer_commit(struct gcrt_pacer *p, bool sweep_done);

/* The goal derived from the memory limit alone (memoryLimitHeapGoal). */
uint64_t gcrt__pacer_memory_limit_goal(const struct gcrt_pacer *p,
                                       const struct gcrt_pacer_mem *mem);

/* The heap goal now (heapGoal; MemStats.NextGC): the smaller of the GOGC
 * and memory-limit goals; the GOGC one may be raised to the sweep distance
 * and, during a cycle, to triggered + 64 KiB. */
uint64_t gcrt__pacer_heap_goal(const struct gcrt_pacer *p, const struct gcrt_pacer_mem *mem);

struct gcrt_pacer_trigger {
    uint64_t trigger; /* start a cycle when heap_live >= trigger */
    uint64_t goal;    /* the heap goal it was derived from */
};
/* Go's trigger(): goal - runway clamped into [~70%, ~95% or goal - 4 MiB]
 * of the way from heap_marked to the goal; never above the goal. */
struct gcrt_pacer_trigger gcrt__pacer_trigger(const struct gcrt_pacer *p,
                                              const struct gcrt_pacer_mem *mem);

/* Go's startCycle, world stopped: zeroes this cycle's counters, records
 * triggered, sizes the background workers for 25% of procs (dedicated
 * workers rounded, fractional goal when rounding is >30% off;
 * stop_the_world: procs dedicated workers), limits idle workers (periodic
 * cycles: 0, or 1 without dedicated workers) and revises the assist ratio. */
void gcrt__pacer_start_cycle(struct gcrt_pacer *p, int64_t mark_start_ns, int32_t procs,
                             bool periodic, bool stop_the_world, const struct gcrt_pacer_mem *mem);

/* Go's revise: the assist ratio from the goal, heap_live and the scan work
 * expected (last cycle's heap + stack scan + globals) and done; extrapolates
 * the goal (at most x(1+GOGC/100)) when the work outgrows the estimate. */
void gcrt__pacer_revise(struct gcrt_pacer *p, const struct gcrt_pacer_mem *mem);

/* Go's update: heap_live += d_heap_live; heap_scan += d_heap_scan outside
 * marking; revise during marking. */
void gcrt__pacer_update(struct gcrt_pacer *p, int64_t d_heap_live, int64_t d_heap_scan,
                        bool marking, const struct gcrt_pacer_mem *mem);

/* Scan work an assist must do for debt_bytes of allocation, at least
 * GCRT_PACER_OVER_ASSIST; *credit_bytes is the allocation it pays for
 * (gcAssistAlloc's first lines). */
int64_t gcrt__pacer_assist_work(const struct gcrt_pacer *p, int64_t debt_bytes,
                                int64_t *credit_bytes);

/* ---- background mark worker scheduling (Go: findRunnableGCWorker,
 * gcBgMarkWorker, pollFractionalWorkerExit, findrunnable's idle marking) --
 *
 * gcrt's workers are threads of their own, not goroutines on Ps: worker 0..
 * dedicated_workers-1 are the dedicated workers; the next one (when the
 * fractional goal is > 0) is the fractional worker; the rest are idle
 * workers, which mark only while a P nobody runs on is free for them.
 * Go runs a fractional worker on every P below the per-P fractional goal,
 * the program's Ps included: gcrt's program threads mark their own P's
 * share at their allocation slow path (gcrt__pacer_mutator_fractional), and
 * the fractional worker thread marks the share of the free Ps, or, with
 * none free, stands in for threads that stopped allocating. */
enum {
    GCRT_WORKER_SLEEP = 0,  /* not marking: sleep *sleep_ns (-1: until woken) */
    GCRT_WORKER_DEDICATED,  /* gcMarkWorkerDedicatedMode */
    GCRT_WORKER_FRACTIONAL, /* gcMarkWorkerFractionalMode */
    GCRT_WORKER_IDLE,       /* gcMarkWorkerIdleMode */
    GCRT_WORKER_NMODES
};

/* The per-cycle part of the decision, copied from the pacer at mark start. */
struct gcrt_mark_plan {
    int32_t procs;          /* GOMAXPROCS the cycle was sized for */
    int32_t dedicated;      /* dedicated_workers */
    int32_t max_idle;       /* max_idle_workers */
    double fractional_goal; /* fractional_utilization_goal (per P) */
    int64_t mark_start_ns;
};
struct gcrt_mark_plan gcrt__pacer_mark_plan(const struct gcrt_pacer *p, int32_t procs);

/* What one worker sees when it decides (between two bounded slices). */
struct gcrt_worker_view {
    int32_t worker;            /* its index, 0.. */
    int32_t prev_mode;         /* its mode in the slice just ended (GCRT_WORKER_*) */
    int64_t now_ns;            /* monotonic */
    int64_t fractional_ns;     /* fractional marking this cycle, worker and threads */
    int32_t busy_ps;           /* Ps the program runs on (goroutines, attached threads) */
    int32_t fractional_on;     /* another worker is marking in fractional mode */
    int32_t idle_workers;      /* other workers marking in idle mode now */
    int64_t own_fractional_ns; /* of fractional_ns, what this worker marked */
};

#define GCRT_WORKER_FRACTIONAL_EXIT  1.2        /* pollFractionalWorkerExit's slack */
#define GCRT_WORKER_MIN_SLEEP_NS     (20000)    /* bounds on a fractional worker's nap */
#define GCRT_WORKER_MAX_SLEEP_NS     (5000000)  /* (also how late it sees the mark end) */
#define GCRT_WORKER_IDLE_POLL_NS     (1000000)  /* an idle worker waiting for a free P */
#define GCRT_WORKER_IDLE_POLL_MAX_NS (10000000) /* ... the later ones less often */

/* With no P free for the fractional worker (the program runs on every P
 * the dedicated workers leave), the program's threads do the whole share
 * at their allocation slow path, as Go runs its fractional worker on a
 * goroutine's P: no extra runnable thread then. The worker thread takes
 * over only when they fall below this fraction of the goal (threads that
 * stopped allocating). */
#define GCRT_WORKER_MUTATOR_LAG 0.75

/* Whether an allocating program thread should mark a fractional slice now
 * (Go's findRunnableGCWorker for the thread's P): the cycle has a
 * fractional goal, all fractional marking so far (fractional_ns, worker
 * and threads together) is under goal x procs x the time since mark start,
 * and, when a P is free (busy_ps + dedicated < procs: the worker thread
 * marks the free Ps' share), the thread's own fractional CPU since mark
 * start (own_ns) is under goal x that time. With no P free the threads
 * share the whole (one may stop allocating: a tree walk). */
bool gcrt__pacer_mutator_fractional(const struct gcrt_mark_plan *plan, int64_t now_ns,
                                    int64_t fractional_ns, int64_t own_ns, int32_t busy_ps);

/* Free Ps for idle marking: procs minus the program's busy Ps, the
 * dedicated workers and a marking fractional worker (never < 0). */
int32_t gcrt__pacer_free_ps(const struct gcrt_mark_plan *plan, int32_t busy_ps,
                            int32_t fractional_on);

/* The mode the worker should mark in now; when GCRT_WORKER_SLEEP, how long
 * it should sleep before asking again (-1: no role this cycle). A worker that
 * gets GCRT_WORKER_IDLE takes one of the max_idle idle slots (the caller
 * claims it atomically and asks again if it lost the race). Without a
 * dedicated worker and a fractional goal (cannot happen with Go's sizing),
 * worker 0 acts as a dedicated one, so a mark never stalls. */
int32_t gcrt__pacer_worker_mode(const struct gcrt_mark_plan *plan, const struct gcrt_worker_view *v,
                                int64_t *sleep_ns);

/* Go's endCycle, after marking, world stopped: last_heap_goal = the goal
 * in force, then the cons/mark estimate from this cycle (skipped when
 * heap_live <= triggered). Returns false if the smoother had to reset. */
bool gcrt__pacer_end_cycle(struct gcrt_pacer *p, int64_t now_ns, int32_t procs,
                           const struct gcrt_pacer_mem *mem);

/* Go's resetLive: heap_marked = heap_live = bytes_marked, last heap and
 * stack scan from this cycle's work, triggered cleared. */
void gcrt__pacer_reset_live(struct gcrt_pacer *p, uint64_t bytes_marked);

/* end_cycle + reset_live + commit, Go's order. Returns end_cycle's value. */
bool gcrt__pacer_finish_cycle(struct gcrt_pacer *p, int64_t now_ns, int32_t procs,
                              uint64_t bytes_marked, bool sweep_done,
                              const struct gcrt_pacer_mem *mem);

/* Go's piController.next. Returns false (and min) on Inf/NaN. */
bool gcrt__pi_next(struct gcrt_pi_controller *c, double input, double setpoint, double period,
                   double *out);

/* The background scavenger's memory-limit goal: retain at most 95% of the
 * limit; UINT64_MAX when mapped_ready is already at or below it. */
uint64_t gcrt__pacer_scavenge_limit_goal(int64_t memory_limit, uint64_t mapped_ready);

/* ---- the GC CPU limiter (mgclimit.go) -------------------------------- */

/* A bucket of capacity 1 s x procs fills with GC CPU time and drains with
 * mutator time; while it is full the limiter is on and assists stop. The
 * collector serialises the calls (Go: the limiter's try-lock). */
struct gcrt_cpu_limiter {
    bool enabled;                /* limiting(): bucket full */
    uint64_t fill, capacity;     /* ns; 0 <= fill <= capacity */
    uint64_t overflow;           /* GC ns that did not fit, cumulative */
    bool gc_enabled;             /* marking: counts 25% background time */
    bool transitioning;          /* between start/finish_gc_transition */
    int64_t assist_time_pool;    /* assist ns since the last update */
    int64_t assist_total_ns;     /* all assist ns added, cumulative (for tests) */
    int64_t idle_total_ns;       /* all idle ns added, cumulative (for tests) */
    int64_t idle_time_pool;      /* idle P ns and idle mark ns since then */
    int64_t last_update_ns;      /* time of the last update */
    uint32_t last_enabled_cycle; /* numgc + 1 when it last turned on */
    uint32_t numgc;              /* completed cycles; the collector keeps it */
    uint64_t assists_skipped;    /* assists skipped while on; the collector keeps it */
    int32_t nprocs;              /* GOMAXPROCS */
};

#define GCRT_CPU_LIMITER_UPDATE_PERIOD_NS 10000000 /* 10 ms */
#define GCRT_CPU_LIMITER_CAPACITY_PER_P   1000000000ull

/* Empty bucket of capacity nprocs x 1 s, last update at now_ns. */
void gcrt__cpu_limiter_init(struct gcrt_cpu_limiter *l, int64_t now_ns, int32_t nprocs);
/* More than 10 ms since the last update. */
bool gcrt__cpu_limiter_need_update(const struct gcrt_cpu_limiter *l, int64_t now_ns);
void gcrt__cpu_limiter_add_assist_time(struct gcrt_cpu_limiter *l, int64_t ns);
void gcrt__cpu_limiter_add_idle_time(struct gcrt_cpu_limiter *l, int64_t ns);
/* Go's update: the window since the last update counts nprocs x elapsed,
 * GC time = assists (+ 25% of the window while marking), minus idle time;
 * in-flight assist/idle ns consumed from the Ps are passed in. */
void gcrt__cpu_limiter_update(struct gcrt_cpu_limiter *l, int64_t now_ns,
                              int64_t inflight_assist_ns, int64_t inflight_idle_ns);
/* Adds mutator and GC time to the bucket (Go's accumulate). */
void gcrt__cpu_limiter_accumulate(struct gcrt_cpu_limiter *l, int64_t mutator_ns, int64_t gc_ns);
/* Around the STW at mark start (enable_gc) and mark termination: flushes
 * the window, then counts the whole pause x nprocs as GC time. */
void gcrt__cpu_limiter_start_gc_transition(struct gcrt_cpu_limiter *l, bool enable_gc,
                                           int64_t now_ns);
void gcrt__cpu_limiter_finish_gc_transition(struct gcrt_cpu_limiter *l, int64_t now_ns);
/* GOMAXPROCS changed (not while marking): flush, new capacity. */
void gcrt__cpu_limiter_reset_capacity(struct gcrt_cpu_limiter *l, int64_t now_ns, int32_t nprocs);

#endif
