/* test_gc_globals_writable.c - the global roots are the data and bss of
 * every loaded object, less what the loader made read-only after
 * relocating it (PT_GNU_RELRO: .data.rel.ro, .got): every page of every
 * root range is writable in /proc/self/maps, and the program's writable
 * globals and libc's are still in it. (Debian's glibc and executables are
 * linked with full RELRO: without the exclusion, libc's read-only pages
 * are in the roots, snapshotted and scanned at every cycle.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"
#include "gcrt.h"
#include "harness.h"

/* A writable global of the program, and one of libc (stdout's FILE
 * pointer lives in libc's data). */
static void *volatile writable_global;

struct map {
    uintptr_t lo, hi;
    int writable;
};

static int read_maps(struct map *m, int cap) {
    FILE *f = fopen("/proc/self/maps", "r");
    REQUIRE_TRUE(f != NULL);
    char line[512];
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
        m[n++] = (struct map){lo, hi, perms[1] == 'w'};
    }
    fclose(f);
    return n;
}

/* Whether every byte of [lo, hi) is in a writable mapping. */
static int all_writable(const struct map *m, int n, uintptr_t lo, uintptr_t hi) {
    while (lo < hi) {
        int i;
        for (i = 0; i < n && !(m[i].lo <= lo && lo < m[i].hi); i++) {
        }
        if (i == n || !m[i].writable) return 0;
        lo = m[i].hi;
    }
    return 1;
}

static int covered(const gcrt_roots_t *r, uintptr_t p) {
    for (size_t i = 0; i < r->n; i++)
        if (r->lo[i] <= p && p < r->hi[i]) return 1;
    return 0;
}

static void test_global_roots_are_writable(void) {
    gcrt_init();
    writable_global = (void *)&writable_global;
    gcrt_roots_t r = {0};
    gcrt__gc_collect_global_roots(&r);
    REQUIRE_TRUE(r.n > 0);
    static struct map m[4096];
    int n = read_maps(m, 4096);
    REQUIRE_TRUE(n > 0);
    for (size_t i = 0; i < r.n; i++) {
        if (!all_writable(m, n, r.lo[i], r.hi[i]))
            FAILF("root range %#lx-%#lx (%lu bytes) covers memory that is not writable",
                  (unsigned long)r.lo[i], (unsigned long)r.hi[i],
                  (unsigned long)(r.hi[i] - r.lo[i]));
    }
    EXPECT_TRUE(covered(&r, (uintptr_t)&writable_global));
    EXPECT_TRUE(covered(&r, (uintptr_t)&stdout));
    printf("%zu root ranges, %llu bytes\n", r.n, (unsigned long long)r.bytes);
}

int main(void) {
    RUN(test_global_roots_are_writable);
    return th_summary();
}
