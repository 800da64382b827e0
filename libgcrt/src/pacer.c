/* pacer.c - the GC pacer and the GC CPU limiter as pure policy code: Go
 * 1.19's gcControllerState (mgcpacer.go), piController, gcCPULimiterState
 * (mgclimit.go), readGOGC/readGOMEMLIMIT and the scavenger's memory-limit
 * goal. See pacer.h for the API and the order of calls in one cycle, and
 * ../shared/spec/go-formats.md section 8 for the formulas.
 *
 * Arithmetic follows Go's: uint64 where Go uses uint64 (including its
 * wrap-around in heap_minimum for GOGC=off), float64 where Go uses float64.
 * Go converts float64 to integers with amd64 semantics; C leaves
 * out-of-range conversions undefined, so go_i64() and the runway
 * conversion below spell out what amd64 Go does in those corners.
 */
#include "pacer.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "godebug.h"
#include "runtime.h"

/* Trigger bounds as fractions of the runway, numerator over 64 (Go's
 * triggerRatioDen, minTriggerRatioNum, maxTriggerRatioNum). */
enum { TRIGGER_DEN = 64, TRIGGER_MIN_NUM = 45, TRIGGER_MAX_NUM = 61 };

/* float64 -> int64 as Go on amd64 (CVTTSD2SQ): NaN and out-of-range values
 * become INT64_MIN ("integer indefinite"). */
static int64_t go_i64(double x) {
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) return INT64_MIN;
    return (int64_t)x;
}
/* Go's int64 + and - wrap around; C's overflow is undefined. */
static int64_t go_add(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}
static int64_t go_sub(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

/* ---- environment ---------------------------------------------------- */

int32_t gcrt__pacer_parse_gogc(const char *s, bool *ignored) {
    if (ignored) *ignored = false;
    if (s && strcmp(s, "off") == 0) return -1;
    int32_t n;
    if (s && gcrt__go_atoi32(s, strlen(s), &n)) return n;
    if (ignored) *ignored = s && *s;
    return 100;
}

int gcrt__pacer_parse_gomemlimit(const char *s, int64_t *out) {
    if (!s || !*s || strcmp(s, "off") == 0) {
        *out = GCRT_PACER_NO_LIMIT;
        return 0;
    }
    int64_t n;
    int rc = gcrt__parse_byte_count(s, &n);
    if (rc != 0) return rc;
    *out = n;
    return 0;
}

int64_t gcrt__pacer_read_gomemlimit(const char *s) {
    int64_t n;
    if (gcrt__pacer_parse_gomemlimit(s, &n) != 0) {
        /* gcrt__printf formats into 1 KiB: print a long value in pieces. */
        gcrt__printf("GOMEMLIMIT=");
        char piece[257];
        for (size_t i = 0, len = strlen(s); i < len; i += 256) {
            size_t k = len - i < 256 ? len - i : 256;
            memcpy(piece, s + i, k);
            piece[k] = 0;
            gcrt__printf("%s", piece);
        }
        gcrt__printf("\n");
        gcrt__throw("malformed GOMEMLIMIT; see `go doc runtime/debug.SetMemoryLimit`");
    }
    return n;
}

/* ---- piController ----------------------------------------------------- */

bool gcrt__pi_next(struct gcrt_pi_controller *c, double input, double setpoint, double period,
                   double *out) {
    double prop = c->kp * (setpoint - input);
    double raw = prop + c->err_integral;
    double output = raw;
    if (isinf(output) || isnan(output)) {
        c->err_integral = 0;
        c->input_overflow = true;
        *out = c->min;
        return false;
    }
    if (output < c->min)
        output = c->min;
    else if (output > c->max)
        output = c->max;
    if (c->ti != 0 && c->tt != 0) {
        /* The integral term, plus anti-windup: clipping bleeds off slowly. */
        c->err_integral +=
            (c->kp * period / c->ti) * (setpoint - input) + (period / c->tt) * (output - raw);
        if (isinf(c->err_integral) || isnan(c->err_integral)) {
            c->err_integral = 0;
            c->err_overflow = true;
            *out = c->min;
            return false;
        }
    }
    *out = output;
    return true;
}

/* ---- knobs and commit ----------------------------------------------- */

void gcrt__pacer_init(struct gcrt_pacer *p, int32_t gc_percent, int64_t memory_limit) {
    memset(p, 0, sizeof *p);
    p->heap_minimum = GCRT_PACER_HEAP_MINIMUM;
    p->triggered = GCRT_PACER_NO_TRIGGER;
    /* Go's tuning: Ziegler-Nichols in simulation, then a long integral
     * time against real programs; a very slow reset from clipping. */
    p->cons_mark_ctl =
        (struct gcrt_pi_controller){.kp = 0.9, .ti = 4.0, .tt = 1000, .min = -1000, .max = 1000};
    gcrt__pacer_set_gc_percent(p, gc_percent);
    gcrt__pacer_set_memory_limit(p, memory_limit);
    gcrt__pacer_commit(p, true); /* the first cycle has no sweep phase */
}

int32_t gcrt__pacer_set_gc_percent(struct gcrt_pacer *p, int32_t in) {
    int32_t out = p->gc_percent;
    if (in < 0) in = -1;
    /* Go computes this in uint64 even for -1 (it wraps to a huge value);
     * the GOGC goal is UINT64_MAX then, so it never matters. */
    p->heap_minimum = GCRT_PACER_HEAP_MINIMUM * (uint64_t)(int64_t)in / 100;
    p->gc_percent = in;
    return out;
}

int64_t gcrt__pacer_set_memory_limit(struct gcrt_pacer *p, int64_t in) {
    int64_t out = p->memory_limit;
    if (in >= 0) p->memory_limit = in;
    return out;
}

void gcrt__pacer_commit(struct gcrt_pacer *p, bool sweep_done) {
    /* Concurrent sweep happens while the heap grows from heap_live to the
     * trigger: keep at least 1 MiB of that for it. */
    p->sweep_dist_min_trigger = sweep_done ? 0 : p->heap_live + GCRT_PACER_SWEEP_MIN_DIST;

    /* GOGC goal: grow by GOGC% over the last marked heap, counting stacks
     * and globals as heap-like work. */
    uint64_t goal = UINT64_MAX;
    if (p->gc_percent >= 0)
        goal = p->heap_marked + (p->heap_marked + p->last_stack_scan + p->globals_scan) *
                                    (uint64_t)p->gc_percent / 100;
    if (goal < p->heap_minimum) goal = p->heap_minimum;
    p->gc_percent_heap_goal = goal;

    /* Runway: the bytes the mutator allocates while the GC does last
     * cycle's scan work, with CPU split 75/25 and the cons/mark estimate.
     * A negative estimate converts in amd64 Go to a huge uint64 (runway >
     * goal, trigger at its lower bound); UINT64_MAX does the same here. */
    double scan = (double)(p->last_heap_scan + p->last_stack_scan + p->globals_scan);
    double runway =
        p->cons_mark * (1 - GCRT_PACER_BG_UTILIZATION) / GCRT_PACER_BG_UTILIZATION * scan;
    if (!(runway >= 0) || runway >= 18446744073709551616.0)
        p->runway = UINT64_MAX;
    else
        p->runway = (uint64_t)runway;
}

/* ---- goal and trigger ------------------------------------------------- */

uint64_t gcrt__pacer_memory_limit_goal(const struct gcrt_pacer *p,
                                       const struct gcrt_pacer_mem *mem) {
    uint64_t limit = (uint64_t)p->memory_limit;
    /* Memory that counts against the limit but cannot hold heap objects;
     * free unreleased pages are left out: they are where the heap grows. */
    uint64_t non_heap = mem->mapped_ready - mem->heap_free - mem->heap_alloc;
    /* Bytes already over the limit: lower the goal by as much to recover. */
    uint64_t overage = mem->mapped_ready > limit ? mem->mapped_ready - limit : 0;
    if (non_heap + overage >= limit) return p->heap_marked; /* nothing left: GC continuously */
    uint64_t goal = limit - (non_heap + overage);
    /* 1 MiB headroom for pacing error; never below 1 MiB. */
    if (goal < GCRT_PACER_GOAL_HEADROOM ||
        goal - GCRT_PACER_GOAL_HEADROOM < GCRT_PACER_GOAL_HEADROOM)
        goal = GCRT_PACER_GOAL_HEADROOM;
    else
        goal -= GCRT_PACER_GOAL_HEADROOM;
    if (goal < p->heap_marked) goal = p->heap_marked;
    return goal;
}

/* Go's heapGoalInternal: the goal, and a lower bound for the trigger. */
static uint64_t heap_goal_internal(const struct gcrt_pacer *p, const struct gcrt_pacer_mem *mem,
                                   uint64_t *min_trigger) {
    uint64_t goal = p->gc_percent_heap_goal;
    *min_trigger = 0;
    uint64_t lim = gcrt__pacer_memory_limit_goal(p, mem);
    if (lim < goal) return lim; /* memory-limited: no raising, respond hard */
    /* GOGC-limited: keep the sweeper's distance (it bounds the trigger too),
     * and keep some distance above the point this cycle triggered at,
     * since assists are proportional to it. */
    if (p->sweep_dist_min_trigger > goal) goal = p->sweep_dist_min_trigger;
    *min_trigger = p->sweep_dist_min_trigger;
    if (p->triggered != GCRT_PACER_NO_TRIGGER && goal < p->triggered + GCRT_PACER_MIN_RUNWAY)
        goal = p->triggered + GCRT_PACER_MIN_RUNWAY;
    return goal;
}

uint64_t gcrt__pacer_heap_goal(const struct gcrt_pacer *p, const struct gcrt_pacer_mem *mem) {
    uint64_t min_trigger;
    return heap_goal_internal(p, mem, &min_trigger);
}

struct gcrt_pacer_trigger gcrt__pacer_trigger(const struct gcrt_pacer *p,
                                              const struct gcrt_pacer_mem *mem) {
    uint64_t min_trigger;
    uint64_t goal = heap_goal_internal(p, mem, &min_trigger);
    uint64_t marked = p->heap_marked;
    if (marked >= goal) return (struct gcrt_pacer_trigger){goal, goal};

    if (min_trigger < marked) min_trigger = marked;
    /* At least ~70% of the runway, so a fast allocator cannot keep the GC
     * on all the time (allocating black and growing the heap). */
    uint64_t lower = (goal - marked) / TRIGGER_DEN * TRIGGER_MIN_NUM + marked;
    if (min_trigger < lower) min_trigger = lower;
    /* At most ~95% of the runway, or goal - 4 MiB for larger heaps: the
     * minimum heap reflects the cost of a GC with nothing to do. */
    uint64_t max_trigger = (goal - marked) / TRIGGER_DEN * TRIGGER_MAX_NUM + marked;
    if (goal > GCRT_PACER_HEAP_MINIMUM && goal - GCRT_PACER_HEAP_MINIMUM > max_trigger)
        max_trigger = goal - GCRT_PACER_HEAP_MINIMUM;
    if (max_trigger < min_trigger) max_trigger = min_trigger;

    uint64_t trigger = p->runway > goal ? min_trigger : goal - p->runway;
    if (trigger < min_trigger) trigger = min_trigger;
    if (trigger > max_trigger) trigger = max_trigger;
    if (trigger > goal)
        gcrt__throwf("pacer: trigger=%llu heapGoal=%llu minTrigger=%llu maxTrigger=%llu: produced "
                     "a trigger greater than the heap goal",
                     (unsigned long long)trigger, (unsigned long long)goal,
                     (unsigned long long)min_trigger, (unsigned long long)max_trigger);
    return (struct gcrt_pacer_trigger){trigger, goal};
}

/* ---- one cycle -------------------------------------------------------- */

void gcrt__pacer_start_cycle(struct gcrt_pacer *p, int64_t mark_start_ns, int32_t procs,
                             bool periodic, bool stop_the_world, const struct gcrt_pacer_mem *mem) {
    p->heap_scan_work = p->stack_scan_work = p->globals_scan_work = 0;
    p->assist_time_ns = 0;
    p->dedicated_mark_time_ns = p->fractional_mark_time_ns = p->idle_mark_time_ns = 0;
    p->mark_start_ns = mark_start_ns;

    /* Go records the computed trigger, not heap_live at the start (see
     * golang/go#53738): the cons/mark smoothing was tuned that way. */
    p->triggered = gcrt__pacer_trigger(p, mem).trigger;

    /* Round the dedicated workers to the nearest count for 25% of procs;
     * if that is more than 30% off (procs <= 3 or 6), round down and make
     * up the rest with a fractional worker. */
    double total = (double)procs * GCRT_PACER_BG_UTILIZATION;
    int64_t dedicated = (int64_t)(total + 0.5);
    double util_error = (double)dedicated / total - 1;
    if (util_error < -0.3 || util_error > 0.3) {
        if ((double)dedicated > total) dedicated--;
        p->fractional_utilization_goal = (total - (double)dedicated) / (double)procs;
    } else {
        p->fractional_utilization_goal = 0;
    }
    if (stop_the_world) {
        dedicated = procs;
        p->fractional_utilization_goal = 0;
    }
    p->dedicated_workers = (int32_t)dedicated;

    /* Periodic cycles run on an idle program: no idle workers unless there
     * is no dedicated one (fractional workers alone may never be
     * scheduled and the mark would stall). */
    if (periodic)
        p->max_idle_workers = dedicated > 0 ? 0 : 1;
    else
        p->max_idle_workers = procs - (int32_t)dedicated;

    gcrt__pacer_revise(p, mem);
}

void gcrt__pacer_revise(struct gcrt_pacer *p, const struct gcrt_pacer_mem *mem) {
    int32_t gc_percent = p->gc_percent;
    if (gc_percent < 0) gc_percent = 100000; /* forced GC with GOGC=off */
    int64_t live = (int64_t)p->heap_live;
    int64_t work = p->heap_scan_work + p->stack_scan_work + p->globals_scan_work;
    int64_t goal = (int64_t)gcrt__pacer_heap_goal(p, mem);

    /* Expect last cycle's heap and stack scan plus this cycle's globals. */
    int64_t expected = (int64_t)(p->last_heap_scan + p->last_stack_scan + p->globals_scan);
    /* Worst case: all scannable heap is live and all stack is used. */
    int64_t max_work = (int64_t)(p->heap_scan + p->max_stack_scan + p->globals_scan);
    if (expected <= 0) {
        /* No estimate at all (a first cycle before any globals are known):
         * Go's never is 0 (its globals always hold pointers); extrapolating
         * from 0 divides by it and wraps the goal. Assume the worst case. */
        expected = max_work;
    } else if (work > expected) {
        /* The heap is growing: stretch the runway in proportion to the
         * worst-case work so assists stay flat, but at most to
         * goal x (1 + GOGC/100), what the next cycle will use anyway. */
        int64_t ext = go_add(go_i64((double)go_sub(goal, (int64_t)p->triggered) / (double)expected *
                                    (double)max_work),
                             (int64_t)p->triggered);
        expected = max_work;
        int64_t hard = go_i64((1.0 + (double)gc_percent / 100.0) * (double)goal);
        if (ext > hard) ext = hard;
        goal = ext;
    }
    if (live > goal) {
        /* Past even the extended goal: allow 10% overshoot, assume the
         * worst-case work remains. */
        goal = go_i64((double)goal * 1.1);
        expected = max_work;
    }
    int64_t remaining_work = go_sub(expected, work);
    if (remaining_work < 1000) remaining_work = 1000; /* marking is racy; stay positive */
    int64_t remaining_heap = go_sub(goal, live);
    if (remaining_heap <= 0) remaining_heap = 1;
    p->assist_work_per_byte = (double)remaining_work / (double)remaining_heap;
    p->assist_bytes_per_work = (double)remaining_heap / (double)remaining_work;
}

void gcrt__pacer_update(struct gcrt_pacer *p, int64_t d_heap_live, int64_t d_heap_scan,
                        bool marking, const struct gcrt_pacer_mem *mem) {
    p->heap_live += (uint64_t)d_heap_live;
    if (!marking)
        p->heap_scan += (uint64_t)d_heap_scan; /* fixed during a cycle */
    else
        gcrt__pacer_revise(p, mem);
}

int64_t gcrt__pacer_assist_work(const struct gcrt_pacer *p, int64_t debt_bytes,
                                int64_t *credit_bytes) {
    int64_t work = go_i64(p->assist_work_per_byte * (double)debt_bytes);
    if (work < GCRT_PACER_OVER_ASSIST) {
        /* Small debts over-assist to pre-pay future allocation. With an
         * effectively infinite goal (a forced cycle under GOGC=off) the
         * credit is out of int64's range: Go's conversion then yields a
         * negative credit; a large positive one is what is meant. */
        work = GCRT_PACER_OVER_ASSIST;
        double d = p->assist_bytes_per_work * (double)work;
        debt_bytes = d < 0x1p61 ? go_i64(d) : (int64_t)1 << 61;
    }
    *credit_bytes = debt_bytes;
    return work;
}

/* ---- background mark worker scheduling ------------------------------- */

struct gcrt_mark_plan gcrt__pacer_mark_plan(const struct gcrt_pacer *p, int32_t procs) {
    struct gcrt_mark_plan plan = {
        .procs = procs > 0 ? procs : 1,
        .dedicated = p->dedicated_workers,
        .max_idle = p->max_idle_workers,
        .fractional_goal = p->fractional_utilization_goal,
        .mark_start_ns = p->mark_start_ns,
    };
    return plan;
}

bool gcrt__pacer_mutator_fractional(const struct gcrt_mark_plan *plan, int64_t now_ns,
                                    int64_t fractional_ns, int64_t own_ns, int32_t busy_ps) {
    if (plan->fractional_goal <= 0) return false;
    int64_t delta = now_ns - plan->mark_start_ns;
    if (delta <= 0) return true; /* Go: only a positive delta can be over */
    double d = (double)delta;
    if ((double)fractional_ns > plan->fractional_goal * (double)plan->procs * d) return false;
    /* With a P free the worker thread marks its share, and this thread
     * only its own P's; with none free the threads share the whole. */
    return busy_ps + plan->dedicated >= plan->procs || (double)own_ns <= plan->fractional_goal * d;
}

int32_t gcrt__pacer_free_ps(const struct gcrt_mark_plan *plan, int32_t busy_ps,
                            int32_t fractional_on) {
    int64_t free_ps = (int64_t)plan->procs - busy_ps - plan->dedicated - (fractional_on ? 1 : 0);
    return free_ps > 0 ? (int32_t)free_ps : 0;
}

int32_t gcrt__pacer_worker_mode(const struct gcrt_mark_plan *plan, const struct gcrt_worker_view *v,
                                int64_t *sleep_ns) {
    *sleep_ns = -1;
    int32_t dedicated = plan->dedicated;
    bool has_fractional = plan->fractional_goal > 0;
    if (dedicated <= 0 && !has_fractional) dedicated = 1; /* never stall */
    if (v->worker < dedicated) return GCRT_WORKER_DEDICATED;

    /* An idle slot: a free P, and fewer than max_idle idle workers. */
    int32_t free_ps = gcrt__pacer_free_ps(plan, v->busy_ps, v->fractional_on);
    bool idle_ok = v->idle_workers < plan->max_idle && v->idle_workers < free_ps;

    if (has_fractional && v->worker == dedicated) {
        /* The fractional worker. Go runs one on every P that is below the
         * per-P goal, the program's Ps included; gcrt's program threads
         * mark their own P's share at their allocations
         * (gcrt__pacer_mutator_fractional), and this thread marks the share
         * of the Ps nobody runs on: goal x free Ps of its own CPU, within
         * goal x procs for all fractional marking together. With no P free
         * it is the backstop for threads that stopped allocating: it marks
         * while all fractional marking together is below the lag x goal x
         * procs. Go starts a fractional worker when its P is under the goal
         * and stops it at 1.2 x the goal (hysteresis: fewer switches). */
        int32_t free = plan->procs - v->busy_ps - plan->dedicated;
        double all = plan->fractional_goal * (double)plan->procs; /* CPUs */
        int64_t delta = v->now_ns - plan->mark_start_ns;
        if (delta < 0) delta = 0;
        /* When, in ns since mark start, its marking so far would be on
         * its line; once marking it goes on up to 1.2 x the line. */
        double on_line;
        if (free > 0) {
            double a = (double)v->own_fractional_ns / (plan->fractional_goal * (double)free);
            double b = (double)v->fractional_ns / all;
            on_line = a > b ? a : b;
        } else {
            on_line = (double)v->fractional_ns / (all * GCRT_WORKER_MUTATOR_LAG);
        }
        double slack = v->prev_mode == GCRT_WORKER_FRACTIONAL ? GCRT_WORKER_FRACTIONAL_EXIT : 1.0;
        if (on_line <= slack * (double)delta) return GCRT_WORKER_FRACTIONAL;
        if (idle_ok) return GCRT_WORKER_IDLE;
        /* Ahead of the line: sleep until it is under it again. */
        double ahead = on_line - (double)delta;
        int64_t s = ahead > (double)GCRT_WORKER_MAX_SLEEP_NS ? GCRT_WORKER_MAX_SLEEP_NS
                                                             : (int64_t)ahead + 1;
        if (s < GCRT_WORKER_MIN_SLEEP_NS) s = GCRT_WORKER_MIN_SLEEP_NS;
        *sleep_ns = s;
        return GCRT_WORKER_SLEEP;
    }

    /* An idle worker. Those beyond the idle slots have nothing to do this
     * cycle; the others poll for a free P, the later ones less often. */
    int32_t first_idle = dedicated + (has_fractional ? 1 : 0);
    int32_t k = v->worker - first_idle;
    if (k >= plan->max_idle) return GCRT_WORKER_SLEEP;
    if (idle_ok) return GCRT_WORKER_IDLE;
    int64_t poll = (int64_t)(k + 1) * GCRT_WORKER_IDLE_POLL_NS;
    *sleep_ns = poll < GCRT_WORKER_IDLE_POLL_MAX_NS ? poll : GCRT_WORKER_IDLE_POLL_MAX_NS;
    return GCRT_WORKER_SLEEP;
}

bool gcrt__pacer_end_cycle(struct gcrt_pacer *p, int64_t now_ns, int32_t procs,
                           const struct gcrt_pacer_mem *mem) {
    p->last_heap_goal = gcrt__pacer_heap_goal(p, mem);

    int64_t duration = now_ns - p->mark_start_ns;
    /* Background marking is assumed to have met its 25%. */
    double util = GCRT_PACER_BG_UTILIZATION, idle_util = 0;
    if (duration > 0) util += (double)p->assist_time_ns / (double)(duration * (int64_t)procs);
    if (p->heap_live <= p->triggered) return true; /* too short to learn from */
    if (duration > 0) idle_util = (double)p->idle_mark_time_ns / (double)(duration * procs);

    /* cons/mark = (allocated / mutator CPU) / (scanned / GC CPU), where
     * idle marking counts as GC CPU but not as taken from the mutator;
     * duration and procs cancel out. */
    int64_t scan_work = p->heap_scan_work + p->stack_scan_work + p->globals_scan_work;
    double current = ((double)(p->heap_live - p->triggered) * (util + idle_util)) /
                     ((double)scan_work * (1 - util));
    /* Smooth the noisy measurement towards its steady state. */
    double next;
    bool ok = gcrt__pi_next(&p->cons_mark_ctl, p->cons_mark, current, 1.0, &next);
    p->cons_mark = ok ? next : 0;
    return ok;
}

void gcrt__pacer_reset_live(struct gcrt_pacer *p, uint64_t bytes_marked) {
    p->heap_marked = bytes_marked;
    p->heap_live = bytes_marked;
    p->heap_scan = (uint64_t)p->heap_scan_work;
    p->last_heap_scan = (uint64_t)p->heap_scan_work;
    p->last_stack_scan = (uint64_t)p->stack_scan_work;
    p->triggered = GCRT_PACER_NO_TRIGGER;
}

bool gcrt__pacer_finish_cycle(struct gcrt_pacer *p, int64_t now_ns, int32_t procs,
                              uint64_t bytes_marked, bool sweep_done,
                              const struct gcrt_pacer_mem *mem) {
    bool ok = gcrt__pacer_end_cycle(p, now_ns, procs, mem);
    gcrt__pacer_reset_live(p, bytes_marked);
    gcrt__pacer_commit(p, sweep_done);
    return ok;
}

/* ---- scavenger goal --------------------------------------------------- */

uint64_t gcrt__pacer_scavenge_limit_goal(int64_t memory_limit, uint64_t mapped_ready) {
    /* The intended goal: retain at most 95% of the limit (Go's
     * reduceExtraPercent = 5). Go 1.19 computes limit * (100 - 5), i.e. 95x
     * the limit, so its background scavenger never reacts to the limit
     * (golang/go#62449, spec section 9); we implement the intent, in
     * integers so INT64_MAX does not lose precision. */
    if (memory_limit < 0) memory_limit = 0;
    uint64_t lim = (uint64_t)memory_limit;
    uint64_t goal = lim / 100 * 95 + lim % 100 * 95 / 100;
    return mapped_ready <= goal ? UINT64_MAX : goal;
}

/* ---- GC CPU limiter --------------------------------------------------- */

void gcrt__cpu_limiter_init(struct gcrt_cpu_limiter *l, int64_t now_ns, int32_t nprocs) {
    memset(l, 0, sizeof *l);
    l->last_update_ns = now_ns;
    l->nprocs = nprocs;
    l->capacity = (uint64_t)nprocs * GCRT_CPU_LIMITER_CAPACITY_PER_P;
}

bool gcrt__cpu_limiter_need_update(const struct gcrt_cpu_limiter *l, int64_t now_ns) {
    return now_ns - l->last_update_ns > GCRT_CPU_LIMITER_UPDATE_PERIOD_NS;
}

void gcrt__cpu_limiter_add_assist_time(struct gcrt_cpu_limiter *l, int64_t ns) {
    l->assist_time_pool += ns;
    l->assist_total_ns += ns;
}

void gcrt__cpu_limiter_add_idle_time(struct gcrt_cpu_limiter *l, int64_t ns) {
    l->idle_time_pool += ns;
    l->idle_total_ns += ns;
}

void gcrt__cpu_limiter_accumulate(struct gcrt_cpu_limiter *l, int64_t mutator_ns, int64_t gc_ns) {
    uint64_t headroom = l->capacity - l->fill;
    bool was_full = headroom == 0;
    int64_t change = gc_ns - mutator_ns;
    if (change > 0 && headroom <= (uint64_t)change) {
        /* Full: limiting. Keep count of what did not fit. */
        l->overflow += (uint64_t)change - headroom;
        l->fill = l->capacity;
        if (!was_full) {
            l->enabled = true;
            l->last_enabled_cycle = l->numgc + 1;
        }
        return;
    }
    if (change < 0 && l->fill <= 0 - (uint64_t)change)
        l->fill = 0; /* never below empty: idle time earns no credit */
    else
        l->fill += (uint64_t)change; /* unsigned wrap adds or subtracts */
    if (change != 0 && was_full) l->enabled = false;
}

static void limiter_update_locked(struct gcrt_cpu_limiter *l, int64_t now_ns, int64_t assist,
                                  int64_t idle) {
    if (now_ns < l->last_update_ns) return; /* stale: a later update covers it */
    int64_t window = (now_ns - l->last_update_ns) * (int64_t)l->nprocs;
    l->last_update_ns = now_ns;
    assist += l->assist_time_pool;
    l->assist_time_pool = 0;
    idle += l->idle_time_pool;
    l->idle_time_pool = 0;

    int64_t gc = assist;
    if (l->gc_enabled) gc += (int64_t)((double)window * GCRT_PACER_BG_UTILIZATION);
    /* Idle time is not mutator time: an idle program's GC would otherwise
     * never look expensive. Subtracted after the 25%, which is of the
     * real window. */
    window -= idle;
    gcrt__cpu_limiter_accumulate(l, window - gc, gc);
}

void gcrt__cpu_limiter_update(struct gcrt_cpu_limiter *l, int64_t now_ns,
                              int64_t inflight_assist_ns, int64_t inflight_idle_ns) {
    if (l->transitioning) gcrt__throw("update during transition");
    limiter_update_locked(l, now_ns, inflight_assist_ns, inflight_idle_ns);
}

void gcrt__cpu_limiter_start_gc_transition(struct gcrt_cpu_limiter *l, bool enable_gc,
                                           int64_t now_ns) {
    if (l->transitioning) gcrt__throw("failed to acquire lock to start a GC transition");
    if (l->gc_enabled == enable_gc) gcrt__throw("transitioning GC to the same state as before?");
    limiter_update_locked(l, now_ns, 0, 0);
    l->gc_enabled = enable_gc;
    l->transitioning = true;
}

void gcrt__cpu_limiter_finish_gc_transition(struct gcrt_cpu_limiter *l, int64_t now_ns) {
    if (!l->transitioning) gcrt__throw("finishGCTransition called without starting one?");
    /* The world was stopped: all of nprocs counts as GC time. */
    if (now_ns >= l->last_update_ns)
        gcrt__cpu_limiter_accumulate(l, 0, (now_ns - l->last_update_ns) * (int64_t)l->nprocs);
    l->last_update_ns = now_ns;
    l->transitioning = false;
}

void gcrt__cpu_limiter_reset_capacity(struct gcrt_cpu_limiter *l, int64_t now_ns, int32_t nprocs) {
    limiter_update_locked(l, now_ns, 0, 0);
    l->nprocs = nprocs;
    l->capacity = (uint64_t)nprocs * GCRT_CPU_LIMITER_CAPACITY_PER_P;
    if (l->fill > l->capacity) {
        l->fill = l->capacity;
        l->enabled = true;
        l->last_enabled_cycle = l->numgc + 1;
    } else if (l->fill < l->capacity) {
        l->enabled = false;
    }
}
