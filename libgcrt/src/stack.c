/* stack.c - goroutine stacks: reserved at the maximum size, committed by
 * the kernel as they are touched, a PROT_NONE guard page below each while
 * the map count allows, reuse through dead Gs, and the "stack overflow"
 * report. See sched.c for the walk-through and gcrt_sched.h for the
 * policy (why stacks do not grow by moving, and the default maximum).
 *
 * Slots are carved from chunks of slots of one size
 * (guard + maximum stack), mapped read-write with MAP_NORESERVE: untouched
 * pages cost nothing. A guarded chunk then gets one mprotect per slot,
 * which splits the mapping: two kernel mappings per stack. The kernel caps
 * mappings per process (vm.max_map_count, 65530 by default), so only the
 * first max_map_count/4 slots are guarded; later chunks are packed (one
 * mapping per chunk) and an overflow there is caught only when the stack
 * pointer is seen below the stack (at a switch, or in the SIGSEGV
 * handler). Slots are never unmapped: freed ones go back to a free list
 * of their chunk size after MADV_DONTNEED. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memstats.h"
#include "sched_internal.h"

enum {
    GCRT_STACK_CHUNK = 32,         /* slots per guarded chunk */
    GCRT_STACK_PACKED_CHUNK = 512, /* slots per packed chunk: one mapping */
    GCRT_STACK_MIN = 16 << 10,     /* smallest maximum */
    GCRT_STACK_DEFAULT = 1 << 20,  /* default maximum: see gcrt_sched.h */
    GCRT_STACK_GUARD = 4096,       /* guard bytes below a guarded stack */
    GCRT_STACK_FREE_MAX = 64,      /* free slots kept committed per size */
};

struct gcrt_stack {
    uintptr_t lo, hi;   /* usable stack */
    size_t size;        /* hi - lo: the maximum it was made with */
    int guarded;        /* a PROT_NONE page lies below lo */
    uint64_t committed; /* bytes counted in stack_inuse (estimate) */
    gcrt_stack_t *next; /* free list */
};

size_t gcrt__stack_max_bytes = GCRT_STACK_DEFAULT;

static gcrt_lock_t stack_lock = GCRT_LOCK_INIT(GCRT_RANK_LEAF);
static gcrt_stack_t *free_slots; /* freed slots (any size), madvised */
static gcrt_stack_t *free_records;
static int64_t guard_budget = -1; /* slots that may still be guarded */

/* Statistics (atomic). */
static uint64_t stack_committed, stack_reserved; /* all slots handed out */
static int64_t nguarded, nunguarded;

/* Go units: 123, 123B, 64KiB, 8MiB, 1GiB, 1TiB. 0 if malformed. Digits
 * first: strtoull would also take blanks and a sign, "-1" as 2^64 - 1. */
static size_t parse_bytes(const char *s) {
    if (*s < '0' || *s > '9') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno == ERANGE) return 0;
    unsigned long long mul = 1;
    if (!strcmp(end, "") || !strcmp(end, "B"))
        mul = 1;
    else if (!strcmp(end, "KiB"))
        mul = 1ull << 10;
    else if (!strcmp(end, "MiB"))
        mul = 1ull << 20;
    else if (!strcmp(end, "GiB"))
        mul = 1ull << 30;
    else if (!strcmp(end, "TiB"))
        mul = 1ull << 40;
    else
        return 0;
    if (v > (~0ull) / mul) return 0;
    return (size_t)(v * mul);
}

static size_t clamp_max(size_t bytes) {
    if (bytes < GCRT_STACK_MIN) bytes = GCRT_STACK_MIN;
    if (bytes > ((size_t)1 << 40)) bytes = (size_t)1 << 40;
    return gcrt_round_up(bytes, 4096);
}

static long read_max_map_count(void) {
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 65530;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 65530;
    buf[n] = 0;
    long v = strtol(buf, NULL, 10);
    return v > 0 ? v : 65530;
}

/* Reads GCRT_STACKMAX and the map-count budget, once (sched start). */
static void stack_init_locked(void) {
    if (guard_budget >= 0) return;
    const char *s = getenv("GCRT_STACKMAX");
    if (s && *s) {
        size_t v = parse_bytes(s);
        if (v == 0) gcrt__throwf("malformed GCRT_STACKMAX=%s (use e.g. 262144, 256KiB, 8MiB)", s);
        gcrt__stack_max_bytes = clamp_max(v);
    }
    guard_budget = read_max_map_count() / 4;
}

/* Test seam: how many more stacks may get guard pages (0: all packed). */
void gcrt__stack_set_guard_budget(int64_t slots) {
    gcrt__lock(&stack_lock);
    stack_init_locked();
    guard_budget = slots;
    gcrt__unlock(&stack_lock);
}

size_t gcrt_set_max_stack(size_t bytes) {
    gcrt__lock(&stack_lock);
    stack_init_locked();
    size_t old = gcrt__stack_max_bytes;
    if (bytes) gcrt_store_relaxed(&gcrt__stack_max_bytes, clamp_max(bytes));
    gcrt__unlock(&stack_lock);
    return old;
}

static gcrt_stack_t *record_new(void) {
    gcrt_stack_t *r = free_records;
    if (r) {
        free_records = r->next;
        return r;
    }
    size_t n = (64 << 10) / sizeof *r;
    r = gcrt__os_alloc(n * sizeof *r);
    if (!r) return NULL;
    for (size_t i = 1; i < n; i++) {
        r[i].next = free_records;
        free_records = &r[i];
    }
    return r;
}

/* Maps a chunk of slots of usable size sz and puts all but one on the
 * free list; returns that one. stack_lock held. */
static gcrt_stack_t *chunk_new(size_t sz) {
    int guarded = guard_budget >= GCRT_STACK_CHUNK;
    size_t slot = sz + (guarded ? GCRT_STACK_GUARD : 0);
    int nslots = guarded ? GCRT_STACK_CHUNK : GCRT_STACK_PACKED_CHUNK;
    size_t len = slot * (size_t)nslots + GCRT_STACK_GUARD; /* a guard below all */
    char *base =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return NULL;
    mprotect(base, GCRT_STACK_GUARD, PROT_NONE);
    gcrt_stack_t *first = NULL;
    for (int i = 0; i < nslots; i++) {
        char *s = base + GCRT_STACK_GUARD + (size_t)i * slot;
        if (guarded && mprotect(s, GCRT_STACK_GUARD, PROT_NONE) != 0) {
            guarded = 0; /* out of mappings after all: the rest packed */
        }
        gcrt_stack_t *r = record_new();
        if (!r) gcrt__throw("out of memory allocating stack records");
        r->guarded = guarded || i == 0;
        r->lo = (uintptr_t)s + (guarded ? GCRT_STACK_GUARD : 0);
        r->hi = (uintptr_t)s + slot;
        r->size = r->hi - r->lo;
        r->committed = 0;
        if (r->guarded)
            gcrt_store_relaxed(&nguarded, nguarded + 1);
        else
            gcrt_store_relaxed(&nunguarded, nunguarded + 1);
        if (!first) {
            first = r;
        } else {
            r->next = free_slots;
            free_slots = r;
        }
    }
    if (guarded) guard_budget -= GCRT_STACK_CHUNK;
    gcrt_xadd_relaxed(&stack_reserved, (uint64_t)len);
    return first;
}

int gcrt__stack_alloc(gcrt_g_t *g) {
    gcrt__lock(&stack_lock);
    stack_init_locked();
    size_t sz = gcrt__stack_max_bytes;
    gcrt_stack_t *r = NULL, **pp = &free_slots;
    for (int n = 0; *pp && n < 8; pp = &(*pp)->next, n++) {
        if ((*pp)->size >= sz && (*pp)->size <= 2 * sz) {
            r = *pp;
            *pp = r->next;
            break;
        }
    }
    if (!r) r = chunk_new(sz);
    gcrt__unlock(&stack_lock);
    if (!r) return -ENOMEM;
    r->next = NULL;
    g->stk = r;
    g->stack_lo = r->lo;
    g->stack_hi = r->hi;
    g->sp_min = r->hi - 4096; /* the first page, as r->committed below */
    r->committed = 4096;      /* the first frame */
    gcrt_xadd_relaxed(&stack_committed, r->committed);
    return 0;
}

/* A dead G's stack goes back to the slot list, its pages to the OS. */
void gcrt__stack_free(gcrt_g_t *g) {
    gcrt_stack_t *r = g->stk;
    if (!r) return;
    g->stk = NULL;
    g->stack_lo = g->stack_hi = 0;
    gcrt_xadd_relaxed(&stack_committed, -r->committed);
    madvise((void *)r->lo, r->size, MADV_DONTNEED);
    r->committed = 0;
    gcrt__lock(&stack_lock);
    r->next = free_slots;
    free_slots = r;
    gcrt__unlock(&stack_lock);
}

/* From the G alone (its stack record is a cache miss away): the pages
 * between the top and the lowest sp seen, as gcrt__stack_note_sp counts. */
uint64_t gcrt__stack_bytes(gcrt_g_t *g) {
    return g->stk ? g->stack_hi - (g->sp_min & ~(uintptr_t)4095) : 0;
}

static GCRT_NORETURN void overflow(gcrt_g_t *g, uintptr_t sp) {
    gcrt_stack_t *r = g->stk;
    gcrt__printf("runtime: goroutine stack exceeds %zu-byte limit\n", r ? r->size : 0);
    gcrt__printf("runtime: sp=%p stack=[%p, %p]\n", (void *)sp, (void *)g->stack_lo,
                 (void *)g->stack_hi);
    gcrt__printf("fatal error: stack overflow\n\ngoroutine %lld [running]:\n", (long long)g->goid);
    gcrt__printf("created by %p (goroutine %lld)\n", (void *)g->gopc, (long long)g->parentgoid);
    gcrt__printf("(raise the limit with GCRT_STACKMAX or gcrt_set_max_stack)\n");
    signal(SIGABRT, SIG_DFL);
    abort();
}

/* Called at every switch out of g with its saved sp: the usage estimate
 * for StackInuse, and the overflow check of packed (unguarded) stacks. */
void gcrt__stack_note_sp(gcrt_g_t *g, uintptr_t sp) {
    if (GCRT_LIKELY(sp >= g->sp_min)) return;
    if (sp < g->stack_lo) overflow(g, sp);
    g->sp_min = sp;
    gcrt_stack_t *r = g->stk;
    uint64_t c = g->stack_hi - (sp & ~(uintptr_t)4095);
    if (r && c > r->committed) {
        gcrt_xadd_relaxed(&stack_committed, c - r->committed);
        r->committed = c;
    }
}

void gcrt__stack_check(gcrt_g_t *g) {
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (g->stk && sp < g->stack_lo) overflow(g, sp);
}

/* ---- SIGSEGV: a fault in a guard page (or below a packed stack) is a
 * stack overflow; anything else goes to the previous handler. -------- */

static struct sigaction old_segv;

static void segv_handler(int sig, siginfo_t *info, void *uctx) {
    gcrt_m_t *m = gcrt__tls_m;
    gcrt_msched_t *ms = m ? m->sched : NULL;
    gcrt_g_t *g = ms ? ms->curg : NULL;
    /* si_code <= 0: sent by kill, raise or sigqueue, not a fault (and
     * si_addr then holds the sender's pid and uid). */
    int fault = info->si_code > 0;
    if (fault && g && g->stk) {
        uintptr_t addr = (uintptr_t)info->si_addr;
        uintptr_t sp = (uintptr_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RSP];
        if ((addr < g->stack_lo && addr + 65536 >= g->stack_lo) || sp < g->stack_lo)
            overflow(g, sp < g->stack_lo ? sp : addr);
    }
    /* The program's handler. SIG_DFL and SIG_IGN whatever the flags:
     * sa_handler and sa_sigaction share storage, and SA_SIGINFO may be
     * left over from a handler (SIG_IGN would be called at address 1). */
    if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) {
        if (old_segv.sa_flags & SA_SIGINFO)
            old_segv.sa_sigaction(sig, info, uctx);
        else
            old_segv.sa_handler(sig);
        return;
    }
    /* Ignored: a sent signal stays ignored; a fault cannot be (the kernel
     * kills on a fault it cannot deliver), it goes to the default below. */
    if (old_segv.sa_handler == SIG_IGN && !fault) return;
    /* Default action: return and fault again without us. A sent signal
     * does not come back by itself: send it again (SA_NODEFER: it is not
     * blocked here, so it takes effect before raise returns). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGSEGV, &dfl, NULL);
    if (!fault) raise(sig);
}

void gcrt__stack_signal_init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
}

/* An alternate signal stack for a runtime M: overflow reports and the
 * stop signal run there. */
void gcrt__m_signal_stack(gcrt_msched_t *ms) {
    size_t len = 64 << 10;
    void *p = gcrt__os_alloc(len);
    if (!p) return;
    stack_t ss = {.ss_sp = p, .ss_size = len, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) == 0) ms->altstack = p;
}

void gcrt__stack_stats(uint64_t *inuse, uint64_t *sys, uint64_t *reserved, int64_t *guarded,
                       int64_t *unguarded) {
    uint64_t committed = gcrt_load_relaxed(&stack_committed);
    uint64_t cached = gcrt__gfree_cached_bytes();
    *inuse = cached < committed ? committed - cached : 0;
    *sys = committed;
    *reserved = gcrt_load_relaxed(&stack_reserved);
    *guarded = gcrt_load_relaxed(&nguarded);
    *unguarded = gcrt_load_relaxed(&nunguarded);
}

/* MemStats (memstats.c) adds these to the heap's own stack spans. */
void gcrt__stack_publish(void) {
    uint64_t inuse, sys, reserved;
    int64_t g, u;
    gcrt__stack_stats(&inuse, &sys, &reserved, &g, &u);
    gcrt_store_relaxed(&gcrt__stack_inuse_extra, inuse);
    gcrt_store_relaxed(&gcrt__stack_sys_extra, sys - inuse);
}

/* fork.c: this file's global locks. */
void gcrt__stack_fork_locks(void) {
    gcrt__fork_add_lock(&stack_lock);
}
