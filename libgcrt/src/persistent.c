/* persistent.c - runtime metadata that lives forever (Go: persistentalloc):
 * Ps, Ms, mcaches. Bump allocation from 256 KiB chunks; counted in
 * OtherSys (whole chunks, as Go counts what it maps). */
#include <string.h>

#include "lock.h"
#include "malloc.h"
#include "mheap.h"
#include "os.h"

static gcrt_lock_t meta_lock = GCRT_LOCK_INIT(GCRT_RANK_FIXALLOC);
static char *chunk;
static size_t left;

void *gcrt__meta_alloc(size_t size) {
    size = gcrt_round_up(size, 64); /* cache-line aligned: Ps and Ms are hot */
    if (size > (64 << 10)) {
        void *p = gcrt__os_alloc(gcrt_round_up(size, 4096));
        if (p) gcrt_xadd_relaxed(&gcrt__meta.other_sys, gcrt_round_up(size, 4096));
        return p;
    }
    gcrt__lock(&meta_lock);
    if (left < size) {
        size_t n = 256 << 10;
        char *c = gcrt__os_alloc(n);
        if (!c) {
            gcrt__unlock(&meta_lock);
            return NULL;
        }
        gcrt_xadd_relaxed(&gcrt__meta.other_sys, n);
        chunk = c;
        left = n;
    }
    void *p = chunk;
    chunk += size;
    left -= size;
    gcrt__unlock(&meta_lock);
    return p; /* fresh mmap memory is zero */
}

/* fork.c: this file's global locks. */
void gcrt__meta_fork_locks(void) {
    gcrt__fork_add_lock(&meta_lock);
}
