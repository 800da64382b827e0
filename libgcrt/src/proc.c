/* proc.c - runtime start-up, Ms and Ps, thread attach/detach (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"
#include "godebug.h"
#include "malloc.h"
#include "mcentral.h"
#include "os.h"
#include "sched.h"

GCRT_TLS gcrt_m_t *gcrt__tls_m;

gcrt_lock_t gcrt__allp_lock = GCRT_LOCK_INIT(GCRT_RANK_ALLP);
gcrt_p_t **gcrt__allp;
int32_t gcrt__nallp;
static int32_t allp_cap;
static gcrt_p_t *idle_ps;
int32_t gcrt__foreign_running;
gcrt_m_t *gcrt__allm;
static gcrt_m_t *free_ms; /* detached Ms, reused */
static int64_t next_m_id;

int64_t gcrt__runtime_init_time;
int32_t gcrt__gomaxprocs;
int32_t gcrt__ncpu = 1;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_err;

/* Go's GOMAXPROCS: a positive decimal integer (Go's atoi32), else the CPU
 * count; at most GCRT_MAX_GOMAXPROCS. Ignored values are named on stderr. */
static int32_t read_gomaxprocs(void) {
    int32_t n = gcrt__ncpu, v;
    const char *s = getenv("GOMAXPROCS");
    if (!s || !*s) return n;
    size_t len = strlen(s);
    char why[128];
    if (!gcrt__go_atoi32(s, len, &v) || v <= 0) {
        gcrt__fmt(why, sizeof why,
                  "not a positive decimal integer; GOMAXPROCS is %d, the CPU count (as in Go)", n);
        gcrt__warn_env("GOMAXPROCS=", s, len, why);
        return n;
    }
    if (v > GCRT_MAX_GOMAXPROCS) {
        gcrt__fmt(why, sizeof why, "more than gcrt's %d Ps; GOMAXPROCS is %d", GCRT_MAX_GOMAXPROCS,
                  GCRT_MAX_GOMAXPROCS);
        gcrt__warn_env("GOMAXPROCS=", s, len, why);
        return GCRT_MAX_GOMAXPROCS;
    }
    return v;
}

static void runtime_init_once(void) {
    gcrt__runtime_init_time = gcrt__nanotime();
    gcrt__godebug_init();
    gcrt__os_set_madvdontneed(gcrt__debug.madvdontneed);
    gcrt__ncpu = gcrt__os_ncpu();
    gcrt__gomaxprocs = read_gomaxprocs();
    init_err = gcrt__malloc_init();
    gcrt__gc_init();
    gcrt__fork_init();
}

int gcrt__runtime_init(void) {
    pthread_once(&init_once, runtime_init_once);
    return init_err;
}

gcrt_p_t *gcrt__p_acquire(gcrt_m_t *m) {
    gcrt__lock(&gcrt__allp_lock);
    gcrt_p_t *p = idle_ps;
    if (p) {
        idle_ps = p->link;
    } else {
        if (gcrt__nallp == allp_cap) {
            int32_t ncap = allp_cap ? allp_cap * 2 : 64;
            gcrt_p_t **na = gcrt__meta_alloc(sizeof(gcrt_p_t *) * (size_t)ncap);
            if (!na) gcrt__throw("out of memory allocating the P list");
            if (gcrt__allp) memcpy(na, gcrt__allp, sizeof(gcrt_p_t *) * (size_t)gcrt__nallp);
            /* The old array is leaked on purpose: lock-free readers may
             * still be walking it. It is small. */
            gcrt_store_release(&gcrt__allp, na);
            allp_cap = ncap;
        }
        p = gcrt__meta_alloc(sizeof *p);
        if (!p) gcrt__throw("out of memory allocating a P");
        p->id = gcrt__nallp;
        p->mcache = gcrt__mcache_new();
        gcrt__allp[gcrt__nallp] = p;
        gcrt_store_release(&gcrt__nallp, gcrt__nallp + 1);
    }
    p->link = NULL;
    p->m = m;
    gcrt_store_release(&p->status, (uint32_t)GCRT_P_RUNNING);
    gcrt__unlock(&gcrt__allp_lock);
    m->p = p;
    m->mcache = p->mcache;
    /* Where its new thread runs, not where the last one did (gc.c:
     * step_aside; refills keep it current). */
    gcrt_store_relaxed(&p->mcache->cpu, (int32_t)(sched_getcpu() + 1));
    if (m->foreign) gcrt_xadd(&gcrt__foreign_running, 1);
    return p;
}

void gcrt__p_release(gcrt_m_t *m) {
    gcrt_p_t *p = m->p;
    if (!p) return;
    /* An idle P keeps no spans: other Ps may need their free slots. No
     * stop in the middle: a stop-the-world reads the cache (its spans, its
     * tiny block) and must see it whole. */
    gcrt__nostop_enter();
    gcrt__mcache_release_all(p->mcache);
    m->p = NULL;
    m->mcache = NULL;
    gcrt__lock(&gcrt__allp_lock);
    p->m = NULL;
    gcrt_store_release(&p->status, (uint32_t)GCRT_P_IDLE);
    p->link = idle_ps;
    idle_ps = p;
    gcrt__unlock(&gcrt__allp_lock);
    if (m->foreign) gcrt_xadd(&gcrt__foreign_running, -1);
    gcrt__nostop_exit();
}

static void thread_stack_bounds(gcrt_m_t *m) {
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            m->stack_lo = (uintptr_t)addr;
            m->stack_hi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&attr);
    }
}

/* dl_iterate_phdr reports, for the calling thread, where each module's TLS
 * block is (dlpi_tls_data; NULL until a dynamically loaded module's block
 * is first used) and its PT_TLS segment gives the size. */
static int tls_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    gcrt_m_t *m = arg;
    (void)size;
    if (!info->dlpi_tls_data || m->ntls == GCRT_M_TLS_RANGES) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_TLS) continue;
        m->tls_lo[m->ntls] = (uintptr_t)info->dlpi_tls_data;
        m->tls_hi[m->ntls] = (uintptr_t)info->dlpi_tls_data + info->dlpi_phdr[i].p_memsz;
        m->ntls++;
        break;
    }
    return 0;
}

static void thread_tls_ranges(gcrt_m_t *m) {
    m->ntls = 0;
    dl_iterate_phdr(tls_cb, m);
}

int gcrt_thread_attach(void) {
    gcrt_m_t *m = gcrt__tls_m;
    /* A runtime M (foreign == 0): the caller is a goroutine, attached for
     * good, which may move to another M before its detach. No count. */
    if (m && !m->foreign) return 0;
    if (m) {
        m->attach_depth++;
        return 0;
    }
    int err = gcrt__runtime_init();
    if (err) return err;
    /* Reuse the record of a thread that detached, else make one. M records
     * are never freed, so lock-free walkers of allm never see one vanish. */
    gcrt__lock(&gcrt__allp_lock);
    m = free_ms;
    if (m) free_ms = m->freelink;
    gcrt__unlock(&gcrt__allp_lock);
    if (!m) {
        m = gcrt__meta_alloc(sizeof *m);
        if (!m) return -ENOMEM;
        gcrt__lock(&gcrt__allp_lock);
        m->id = next_m_id++;
        m->alllink = gcrt__allm;
        gcrt_store_release(&gcrt__allm, m);
        gcrt__unlock(&gcrt__allp_lock);
    }
    m->freelink = NULL;
    m->foreign = 1;
    m->attach_depth = 1;
    m->thread = pthread_self();
    thread_stack_bounds(m);
    gcrt__sched_m_stack_changed(m); /* a reused record: its g0 too */
    thread_tls_ranges(m);
    /* tid last: stoppers and the GC's root scan read the fields above once
     * they see it (release/acquire), and never in the middle of a stop. */
    gcrt__stw_publish_tid(&m->tid, gcrt__os_gettid());
    gcrt__p_acquire(m);
    gcrt__tls_m = m;
    /* A stop-the-world that began while we attached waits for us too: the
     * stopper may have walked allm before we were on it. */
    gcrt__safepoint();
    return 0;
}

int gcrt_thread_detach(void) {
    gcrt_m_t *m = gcrt__tls_m;
    if (!m) return -EPERM;
    /* A goroutine (see attach): never detaches the M it runs on. */
    if (!m->foreign) return 0;
    if (--m->attach_depth > 0) return 0;
    gcrt__p_release(m);
    gcrt__tls_m = NULL;
    /* tid 0: detached. Release: a stopper that reads 0 and skips us sees
     * everything p_release wrote (the cache a stop-the-world reads). */
    gcrt_store_release(&m->tid, 0);
    gcrt__lock(&gcrt__allp_lock);
    m->freelink = free_ms;
    free_ms = m;
    gcrt__unlock(&gcrt__allp_lock);
    return 0;
}

bool gcrt_thread_attached(void) {
    return gcrt__tls_m != NULL;
}

int gcrt_init(void) {
    int err = gcrt__runtime_init();
    if (err) return err;
    if (gcrt__tls_m) return 0;
    return gcrt_thread_attach();
}
