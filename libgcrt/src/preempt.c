/* preempt.c - asynchronous preemption of goroutines (Go: preempt.go,
 * doSigPreempt / isAsyncSafePoint in signal_unix.go, preempt_amd64.s).
 * See sched.c.
 *
 * Sysmon flags a goroutine that has run for more than 10 ms (g->preempt)
 * and, on a runtime M, also sets ms->preempt_req and sends the thread the
 * stop signal (SIGURG, stw.c). The handler tells this request from a
 * stop-the-world by preempt_req, and calls gcrt__async_preempt_signal:
 * if the interrupted point is async-safe it rewrites the signal context so
 * that, on return, the goroutine calls gcrt__async_preempt_stub
 * (preempt_amd64.S), which saves every register and calls
 * gcrt__async_preempt: a yield to the global run queue (Go: gopreempt_m).
 * The goroutine resumes later, maybe on another thread, with all its
 * registers and errno as they were.
 *
 * Async-safe, conservatively (this is C, with no stack maps; every test
 * below must pass, else the request is dropped and the goroutine yields at
 * its next gcrt_checkpoint, channel operation, sleep or yield as before;
 * sysmon sends the signal again every 1 ms while the goroutine keeps
 * running, unless its thread sleeps in the kernel):
 *   - a runtime M running a goroutine (not g0, not an attached thread),
 *     still flagged;
 *   - no runtime lock or no-stop region (gcrt__tls_nostop == 0), no
 *     switch window (ms->locks == 0), not in a blocking call, no stop of
 *     the world under way;
 *   - the collector is not marking (gcrt_gc_barrier_on clear): the code
 *     may be inside an inlined gcrt_store, between its flag test and its
 *     call to gcrt_write_barrier, and a goroutine parked there for a while
 *     would let mark termination pass without its shading. (A stop by the
 *     signal at that very instruction has the same effect, but lasts only
 *     as long as the stop; a preemption can last many milliseconds.) So
 *     during a mark phase goroutines yield only at safepoints, as before;
 *   - the interrupted sp on the goroutine's stack with PREEMPT_ROOM_BYTES
 *     free below it, and the handler on another stack (the M's signal
 *     stack), so neither its frame nor a nested handler is overwritten;
 *   - the interrupted signal mask is the one the M runs goroutines with
 *     (a handler of the program's that runs on the goroutine stack has
 *     its signal blocked; so has code that blocked signals on purpose),
 *     and no signal frame on the goroutine stack above sp (a handler
 *     installed with SA_NODEFER runs with the M's mask);
 *   - the PC inside the main executable's own code, and not in the
 *     runtime's: not in gcrt_text (all of libgcrt's code, gathered in one
 *     section by libgcrt/gcrt_text.ld) nor in gcrt_nopreempt_text. So
 *     never in libc or any other shared object: libc keeps per-thread
 *     state (stdio lock owners, malloc's thread cache and arena, locale,
 *     errno) that a move to another thread in the middle of a call would
 *     break. A loop that spends its time in libc is preempted only in its
 *     own instructions between the calls.
 * A statically linked program (no PT_INTERP: libc is inside the
 * executable) gets no asynchronous preemption at all.
 *
 * What C code must now expect: a goroutine may move to another thread at
 * any instruction of the program's own code. errno is kept
 * (gcrt__async_preempt restores it after the move), but a thread-local
 * (__thread) address kept in a register goes stale, and a pthread mutex
 * held there stays held while other goroutines may block on it in the
 * kernel, P and all. Such programs run with GODEBUG=asyncpreemptoff=1.
 *
 * Off under ThreadSanitizer: TSan delivers asynchronous signals later, at
 * a point of its choosing, with a copy of the context, so the rewrite
 * cannot take effect; goroutines there yield only at safepoints, as before. */
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "gcrt.h"
#include "godebug.h"
#include "lock.h"
#include "sched_internal.h"

enum {
    PREEMPT_ROOM_BYTES = 16 << 10, /* stub frame, switch, a nested stop, ASan frames */
    EXE_TEXT_MAX = 8,
};

/* Read by preempt_amd64.S. */
uint64_t gcrt__preempt_xsave_bytes = 512; /* extended-state area */
int32_t gcrt__preempt_use_xsave;          /* 1: XSAVE/XRSTOR, 0: FXSAVE */
uint32_t gcrt__preempt_mxcsr = 0x1f80;    /* default MXCSR for the C call */

static int enabled;
static struct { uintptr_t lo, hi; } exe_text[EXE_TEXT_MAX];
static int nexe_text;
static int exe_known; /* exe_text is set (atomic); also with preemption off */
static int64_t stats[GCRT_PREEMPT_NSTATS];

extern const char __start_gcrt_text[] __attribute__((visibility("hidden")));
extern const char __stop_gcrt_text[] __attribute__((visibility("hidden")));
extern const char __start_gcrt_nopreempt_text[] __attribute__((visibility("hidden")));
extern const char __stop_gcrt_nopreempt_text[] __attribute__((visibility("hidden")));

static inline int in_range(uintptr_t pc, const char *lo, const char *hi) {
    return pc - (uintptr_t)lo < (uintptr_t)(hi - lo);
}

/* The executable segments of the main program (the first object). A
 * program without an interpreter is linked statically: libc's code is in
 * it, so no range is kept and asynchronous preemption stays off. */
static __attribute__((unused)) int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size, (void)arg;
    int dynamic = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_INTERP) dynamic = 1;
    for (int i = 0; i < info->dlpi_phnum && dynamic && nexe_text < EXE_TEXT_MAX; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        exe_text[nexe_text].lo = info->dlpi_addr + ph->p_vaddr;
        exe_text[nexe_text].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        nexe_text++;
    }
    return 1; /* the main program comes first: stop */
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __asm__ __volatile__("cpuid"
                         : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                         : "a"(leaf), "c"(sub));
}

void gcrt__preempt_init(void) {
#if defined(GCRT_TSAN_FIBERS) || !defined(__x86_64__)
    const int supported = 0;
#else
    const int supported = 1;
#endif
    /* The program's code, also for the collector's cache flush
     * (gcrt__pc_in_program), whether or not preemption is on. Not under
     * TSan: it runs the stop signal's handler later, with a copy of the
     * context, whose PC no longer tells where the thread is. */
#if !defined(GCRT_TSAN_FIBERS)
    dl_iterate_phdr(phdr_cb, NULL);
    gcrt_store_release(&exe_known, 1);
#endif
    if (!supported || gcrt__debug.asyncpreemptoff) return;
    uint32_t r[4];
    cpuid(1, 0, r);
    if (r[2] & (1u << 27)) { /* OSXSAVE: XSAVE on, XCR0 set by the kernel */
        cpuid(0xd, 0, r);
        /* ebx: the area for the components XCR0 enables now. */
        if (r[1] >= 576) {
            gcrt__preempt_xsave_bytes = r[1];
            gcrt__preempt_use_xsave = 1;
        }
    }
    if (nexe_text > 0) gcrt_store_release(&enabled, 1);
}

int gcrt__async_preempt_enabled(void) {
    return gcrt_load_acquire(&enabled);
}

void gcrt__preempt_stats(int64_t out[GCRT_PREEMPT_NSTATS]) {
    for (int i = 0; i < GCRT_PREEMPT_NSTATS; i++) out[i] = gcrt_load_relaxed(&stats[i]);
}

static inline void count(int what) {
    gcrt_xadd_relaxed(&stats[what], 1);
}

/* sysmon: g, running on ms for too long, is flagged; ask for the signal.
 * Not while the thread sleeps in the kernel: a goroutine sleeping in a
 * system call of its own (not a gcrt_enter_blocking one) cannot be
 * preempted there anyway, and the signal would cut calls that SA_RESTART
 * does not restart (nanosleep, poll, epoll_wait, ...) short with EINTR. */
void gcrt__preempt_m(gcrt_msched_t *ms) {
    if (!gcrt_load_acquire(&enabled) || !ms->runtime) return;
    int tid = gcrt_load_acquire(&ms->m->tid);
    if (!tid || gcrt__os_thread_running(tid) == 0) return;
    gcrt_store_release(&ms->preempt_req, 1);
    count(GCRT_PREEMPT_SIGNALS);
    gcrt__os_signal_thread(tid, SIGURG);
}

/* Whether a signal frame lies on the goroutine stack between the
 * interrupted sp and the top: the interrupted code runs in a handler of
 * the program's (without SA_ONSTACK), which the signal-mask test misses
 * when it was installed with SA_NODEFER and no sa_mask. Moved to another
 * thread there, the handler would return (rt_sigreturn) on that thread:
 * the kernel would restore the frame's uc_stack there, giving the new M
 * the old M's signal stack, and the code the handler interrupted (libc,
 * maybe) would resume on another thread. A kernel signal frame starts with
 * the restorer address the handler returns to, the same for every handler
 * installed through libc: the one our own frame starts with, just below
 * our ucontext. A stale copy of it in a live frame only refuses. */
__attribute__((no_sanitize("address"))) int gcrt__signal_frame_above(uintptr_t sp, uintptr_t hi,
                                                                     const void *uctx) {
    uintptr_t restorer = *(const uintptr_t *)((const char *)uctx - sizeof(uintptr_t));
    if (!restorer) return 0;
    for (uintptr_t p = (sp + 7) & ~(uintptr_t)7; p + sizeof(uintptr_t) <= hi;
         p += sizeof(uintptr_t))
        if (*(const volatile uintptr_t *)p == restorer) return 1;
    return 0;
}

static int in_signal_frame(gcrt_g_t *g, uintptr_t sp, const ucontext_t *uc) {
    return gcrt__signal_frame_above(sp, g->stack_hi, uc);
}

int gcrt__pc_in_program(uintptr_t pc) {
    if (!gcrt_load_acquire(&exe_known)) return 0;
    if (in_range(pc, __start_gcrt_text, __stop_gcrt_text) ||
        in_range(pc, __start_gcrt_nopreempt_text, __stop_gcrt_nopreempt_text))
        return 0;
    for (int i = 0; i < nexe_text; i++)
        if (pc >= exe_text[i].lo && pc < exe_text[i].hi) return 1;
    return 0;
}

/* Why the interrupted point is not async-safe (a GCRT_PREEMPT_* refusal),
 * or 0 if it is. */
static int unsafe_reason(gcrt_msched_t *ms, gcrt_g_t *g, const ucontext_t *uc) {
    if (!ms->runtime || !g || g->is_thread) return GCRT_PREEMPT_NOT_GOROUTINE;
    if (!gcrt_load_relaxed(&g->preempt)) return GCRT_PREEMPT_NOT_WANTED;
    if (ms->locks > 0 || gcrt__tls_nostop > 0 || ms->blockdepth > 0 ||
        (gcrt_load_acquire(&gcrt__stw_word) & 1))
        return GCRT_PREEMPT_RUNTIME;
    /* While the collector marks, the interrupted code may sit inside an
     * inlined gcrt_store (gcrt.h) after its flag test and before its call
     * to gcrt_write_barrier; parked there, it could let mark termination
     * pass without the shading (gcrt_write_barrier does nothing once
     * marking is over), and a live object would be freed. */
    if (gcrt_load_acquire(&gcrt_gc_barrier_on)) return GCRT_PREEMPT_MARKING;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (sp > g->stack_hi || sp < g->stack_lo + PREEMPT_ROOM_BYTES + gcrt__preempt_xsave_bytes ||
        (here >= g->stack_lo && here < g->stack_hi))
        return GCRT_PREEMPT_STACK;
    if (memcmp(&uc->uc_sigmask, &ms->sigmask, 8) != 0) return GCRT_PREEMPT_SIGMASK;
    if (in_range(pc, __start_gcrt_text, __stop_gcrt_text) ||
        in_range(pc, __start_gcrt_nopreempt_text, __stop_gcrt_nopreempt_text))
        return GCRT_PREEMPT_RUNTIME;
    int in_exe = 0;
    for (int i = 0; i < nexe_text; i++)
        if (pc >= exe_text[i].lo && pc < exe_text[i].hi) in_exe = 1;
    if (!in_exe) return GCRT_PREEMPT_NOT_EXE;
    if (in_signal_frame(g, sp, uc)) return GCRT_PREEMPT_SIGMASK;
    return 0;
}

/* The stop signal's handler (stw.c), on the M's signal stack: returns 1
 * if the signal was sysmon's preemption request (then it is not the
 * program's), and makes the goroutine call the stub if it is safe. */
__attribute__((no_sanitize("address"))) int gcrt__async_preempt_signal(gcrt_msched_t *ms,
                                                                       void *uctx) {
    if (!gcrt_load_relaxed(&ms->preempt_req) || !gcrt_xchg(&ms->preempt_req, 0)) return 0;
    ucontext_t *uc = uctx;
    gcrt_g_t *g = gcrt_load_relaxed(&ms->curg);
    int why = unsafe_reason(ms, g, uc);
    if (why) {
        count(why);
        return 1;
    }
    /* Push the PC below the red zone, as a call would; the stub's
     * "ret $128" comes back to the interrupted sp. */
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] - 128 - 8;
    *(volatile uintptr_t *)sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)gcrt__async_preempt_stub;
    return 1;
}

/* Called by the stub on the goroutine's stack, registers saved: yield. */
void gcrt__async_preempt(void) {
    int saved_errno = errno;
    count(GCRT_PREEMPT_DONE);
    gcrt__preempt_self();
    errno = saved_errno; /* the interrupted code's, on the new thread */
}
