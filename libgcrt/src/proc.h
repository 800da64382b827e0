/* proc.h - Ms (threads) and Ps (the right to allocate and run: an mcache,
 * later a run queue and GC work buffers), Go's proc.go in miniature.
 *
 * Today: a thread attaches (gcrt_thread_attach) and gets an M and a P of
 * its own; Ps are reused when threads detach. The scheduler issue turns Ps
 * into GOMAXPROCS scheduling slots; attached foreign threads keep a P of
 * their own while attached, so plain pthreads never wait for a P. */
#ifndef GCRT_PROC_H
#define GCRT_PROC_H

#include <pthread.h>

#include "lock.h"
#include "mcache.h"
#include "runtime.h"

/* P status. */
enum {
    GCRT_P_IDLE = 0, /* on the idle list, no M */
    GCRT_P_RUNNING,  /* owned by an M */
    GCRT_P_SYSCALL,  /* its M is in a blocking call; may be retaken */
    GCRT_P_GCSTOP,   /* stopped for stop-the-world */
    GCRT_P_DEAD,
};

typedef struct gcrt_p {
    int32_t id;
    uint32_t status;       /* GCRT_P_*; allp lock or owner */
    gcrt_mcache_t *mcache; /* owned by the P */
    struct gcrt_m *m;      /* current owner, or NULL */
    struct gcrt_p *link;   /* idle list */
    void *sched;           /* the scheduler's per-P part (sched.c) */
} gcrt_p_t;

typedef struct gcrt_m {
    int64_t id;
    gcrt_p_t *p;           /* the P held, or NULL */
    gcrt_mcache_t *mcache; /* p->mcache while a P is held (hot copy), else NULL */
    int attach_depth;      /* nesting of gcrt_thread_attach */
    int foreign;           /* 1: attached thread, 0: created by the runtime */
    int tid;               /* kernel thread id; 0 while detached */
    pthread_t thread;
    uintptr_t stack_lo, stack_hi; /* the thread's stack (roots) */
    struct gcrt_m *alllink;       /* all Ms (never removed) */
    struct gcrt_m *freelink;      /* detached Ms waiting for reuse */
    void *sched;                  /* the scheduler's per-M part */
    /* The thread's TLS blocks (__thread variables) of the executable and of
     * the libraries loaded when it attached: roots. */
#define GCRT_M_TLS_RANGES 16
    uintptr_t tls_lo[GCRT_M_TLS_RANGES], tls_hi[GCRT_M_TLS_RANGES];
    int ntls;
} gcrt_m_t;

/* The calling thread's M, or NULL if it is not attached. */
extern GCRT_TLS gcrt_m_t *gcrt__tls_m;

/* All Ps and Ms: allp lock. */
extern gcrt_lock_t gcrt__allp_lock;
extern gcrt_p_t **gcrt__allp;
extern int32_t gcrt__nallp;
extern gcrt_m_t *gcrt__allm;

/* Attached foreign threads holding a P and not in a blocking call: Ps the
 * program runs on that the goroutine scheduler does not see (the GC's idle
 * mark workers count them as busy). Atomic. */
extern int32_t gcrt__foreign_running;

/* Runtime start time (monotonic ns) and GOMAXPROCS. */
extern int64_t gcrt__runtime_init_time;
extern int32_t gcrt__gomaxprocs;
/* The process's CPU count at start-up (Go: ncpu, set once in osinit). Not
 * gcrt__os_ncpu() later: that is the calling thread's own CPU set, which a
 * mark worker narrows while it steps aside (gc.c). */
extern int32_t gcrt__ncpu;

/* Initialises the runtime once (heap, env, scavenger); safe from any thread.
 * Returns 0 or -errno. */
int gcrt__runtime_init(void);
/* A P for the calling M: an idle one, or a new one. allp lock not held. */
gcrt_p_t *gcrt__p_acquire(gcrt_m_t *m);
/* Gives the M's P back to the idle list (its mcache keeps its spans). */
void gcrt__p_release(gcrt_m_t *m);

#endif
