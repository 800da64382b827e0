/* gstate.c - the goroutine listing (gcrt_goroutine_list) and scheduler
 * statistics. See sched.c. The profile layer turns the listing into
 * goroutine profiles and debug=1/2 dumps.
 *
 * The listing stops the world, copies every G's record and walks its
 * frame-pointer chain (libgcrt and its tests build with
 * -fno-omit-frame-pointer; code without frame pointers yields short
 * stacks, never a crash: every frame is bounds-checked against the G's
 * stack). Where the walk starts:
 *   - the caller: its own frame;
 *   - a parked or runnable goroutine: its saved context (ctx_amd64.S
 *     layout: rbp at sched_sp+40, the PC at sched_sp+48); one that never
 *     ran shows its start function;
 *   - a goroutine or thread whose M is stopped: the M's stop frame (the
 *     signal's ucontext, the safepoint, the blocking call or the park). */
#include <ucontext.h>

#include "sched_internal.h"

static int fpwalk(uintptr_t pc0, uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t *out,
                  int max) {
    int n = 0;
    if (pc0 && n < max) out[n++] = pc0;
    while (n < max && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
        uintptr_t pc = ((uintptr_t *)fp)[1], next = ((uintptr_t *)fp)[0];
        if (!pc) break;
        out[n++] = pc;
        if (next <= fp) break;
        fp = next;
    }
    return n;
}

static gcrt_msched_t *ms_running(gcrt_g_t *g) {
    gcrt_m_t *m = g->m;
    if (!m) return NULL;
    gcrt_msched_t *ms = gcrt_load_acquire((gcrt_msched_t **)&m->sched);
    if (!ms || gcrt_load_acquire(&ms->curg) != g) return NULL;
    return ms;
}

static void stack_pcs(gcrt_goroutine_t *r, gcrt_g_t *g, int self) {
    uintptr_t lo = g->stack_lo, hi = g->stack_hi;
    r->npc = 0;
    if (self) {
        uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
        r->npc = fpwalk(0, fp, fp, hi ? hi : fp + (8 << 20), r->pc, GCRT_GOROUTINE_MAX_PCS);
        return;
    }
    uint32_t s = gcrt_load_acquire(&g->status);
    if (!g->is_thread && (s == GCRT_G_WAITING || s == GCRT_G_RUNNABLE) && g->stk) {
        uintptr_t sp = g->sched_sp;
        if (sp == 0) { /* not started yet (no frame built) */
            r->pc[0] = g->startpc;
            r->npc = 1;
            return;
        }
        if (sp < lo || sp + 56 > hi) return;
        uintptr_t pc = ((uintptr_t *)sp)[6], fp = ((uintptr_t *)sp)[5];
        if (pc == (uintptr_t)gcrt__ctx_start) {
            r->pc[0] = g->startpc;
            r->npc = 1;
            return;
        }
        r->npc = fpwalk(pc, fp, sp, hi, r->pc, GCRT_GOROUTINE_MAX_PCS);
        return;
    }
    gcrt_msched_t *ms = ms_running(g);
    if (!ms || !ms->stop_sp) return;
    uint32_t st = GCRT_MS_KIND(gcrt_load_acquire(&ms->stwstate));
    if (st != GCRT_MS_STOPPED && st != GCRT_MS_BLOCK_STOPPED) return;
    uintptr_t pc0 = 0, sp = ms->stop_sp;
    if (ms->stop_uctx && st == GCRT_MS_STOPPED)
        pc0 = (uintptr_t)((ucontext_t *)ms->stop_uctx)->uc_mcontext.gregs[REG_RIP];
    else if (st == GCRT_MS_BLOCK_STOPPED && s == GCRT_G_SYSCALL && sp >= lo + 8 && sp <= hi)
        pc0 = ((uintptr_t *)sp)[-1];
    if (sp < lo || sp > hi) return;
    r->npc = fpwalk(pc0, ms->stop_fp, sp - 64, hi, r->pc, GCRT_GOROUTINE_MAX_PCS);
}

static int listed(gcrt_g_t *g, unsigned flags) {
    uint32_t s = gcrt_load_acquire(&g->status);
    if (s == GCRT_G_DEAD || s == GCRT_G_IDLE) return 0;
    if (g->is_thread) {
        if (g->system || !(flags & GCRT_LIST_THREADS)) return 0;
        gcrt_m_t *m = g->m;
        return m && gcrt_load_relaxed(&m->tid) != 0 && m->sched &&
               ((gcrt_msched_t *)m->sched)->g0 == g && !((gcrt_msched_t *)m->sched)->runtime;
    }
    if (g->system && !(flags & GCRT_LIST_SYSTEM)) return 0;
    return 1;
}

static void fill(gcrt_goroutine_t *r, gcrt_g_t *g, int self) {
    uint32_t s = gcrt_load_acquire(&g->status);
    if (self) s = GCRT_G_RUNNING;
    r->id = g->goid;
    r->status = (int)s;
    r->wait_reason = s == GCRT_G_WAITING ? gcrt__wait_reason_string(g->waitreason) : "";
    r->state = s == GCRT_G_WAITING && g->waitreason ? r->wait_reason : gcrt__gstatus_string(s);
    r->wait_since_ns = s == GCRT_G_WAITING || s == GCRT_G_SYSCALL ? g->waitsince : 0;
    r->parent_id = g->parentgoid;
    r->create_pc = g->gopc;
    r->start_pc = g->startpc;
    r->is_thread = g->is_thread;
    r->is_system = g->system;
    stack_pcs(r, g, self);
}

int64_t gcrt_goroutine_list(gcrt_goroutine_t *buf, size_t cap, unsigned flags) {
    gcrt_g_t *self = gcrt__getg();
    if (self && self->system) self = NULL; /* called from a timer on g0 */
    gcrt__stop_the_world("goroutine list");
    size_t n = 0;
    if (self && (!self->is_thread || (flags & GCRT_LIST_THREADS))) {
        if (n < cap) fill(&buf[n], self, 1);
        n++;
    }
    for (gcrt_g_t *g = gcrt_load_acquire(&gcrt__allg); g; g = g->alllink) {
        if (g == self || !listed(g, flags)) continue;
        if (n < cap) fill(&buf[n], g, 0);
        n++;
    }
    gcrt__start_the_world();
    return (int64_t)n;
}

void gcrt_sched_read_stats(gcrt_sched_stats_t *st) {
    st->goroutines = gcrt__ngoroutine();
    st->gomaxprocs = gcrt_load_relaxed(&gcrt__sched.nprocs);
    if (!st->gomaxprocs) st->gomaxprocs = gcrt__gomaxprocs;
    st->threads = gcrt_load_relaxed(&gcrt__sched.nm);
    st->idle_threads = gcrt_load_relaxed(&gcrt__sched.nmidle);
    gcrt__stw_stats(&st->stw_count, &st->stw_last_ns, &st->stw_max_ns, &st->stw_total_ns,
                    &st->stw_signals);
    gcrt__stack_stats(&st->stack_inuse_bytes, &st->stack_sys_bytes, &st->stack_reserved_bytes,
                      &st->stacks_guarded, &st->stacks_unguarded);
    gcrt__sysmon_stats(&st->preempt_requests, &st->retakes);
}
