/* test_gc_large.c - large objects and interior pointers under concurrent
 * marking:
 *   - pointers into the middle of large and medium arrays (not word
 *     aligned), kept only on the stacks of goroutines that sleep across many
 *     heap-triggered and forced cycles while garbage reuses every freed page;
 *   - large objects (1-16 MiB) reachable from a heap array survive intact
 *     through cycles; dropped, they are freed and HeapAlloc falls by their
 *     size. Object addresses the test keeps for checking are stored masked. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/memstats_check.h"
#include "gcrt.h"
#include "gcrt_sched.h"
#include "gcrt_sync.h"
#include "harness.h"

#define MASK     0x3c3c3c3cu
#define NOINLINE __attribute__((noinline))

static void *volatile sink;

static NOINLINE void wipe_stack(void) {
    volatile char buf[32768];
    memset((char *)buf, 0, sizeof buf);
    /* Without a use the compiler drops the memset (and the call). */
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static NOINLINE void churn(long bytes) {
    for (long done = 0; done < bytes; done += 256) sink = gcrt_alloc(256);
    sink = NULL;
}

static NOINLINE int alive(uintptr_t masked) {
    void *base;
    void *p = (void *)(masked ^ MASK);
    return gcrt_find_object(p, &base, NULL) && base == p;
}

static NOINLINE int pattern_ok(uintptr_t masked, size_t n, unsigned char v) {
    const unsigned char *p = (const unsigned char *)(masked ^ MASK);
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return 0;
    return 1;
}

/* ---- interior pointers on sleeping goroutines' stacks ------------------------ */

#define NG 8
static atomic_int g_ready, g_bad, g_done;
static gcrt_wg_t g_wg;

static size_t g_size(int i) {
    /* medium (24 KiB), and large from 100 KiB to a few MiB */
    return i == 0 ? 24 << 10 : (size_t)(100 << 10) << (i % 6);
}

/* Returns only a pointer into the middle of a fresh, filled array. */
static NOINLINE char *make_array(int i, size_t *off) {
    size_t n = g_size(i);
    unsigned char *a = gcrt_alloc(n);
    memset(a, 0x40 + i, n);
    *off = n / 2 + 8 * (size_t)i + 3; /* not word aligned: a byte pointer */
    return (char *)a + *off;
}

static void sleeper(void *arg) {
    int i = (int)(intptr_t)arg;
    size_t off;
    char *volatile mid = make_array(i, &off);
    wipe_stack();
    atomic_fetch_add(&g_ready, 1);
    while (!atomic_load(&g_done)) gcrt_sleep(2 * 1000 * 1000);
    char *base = mid - off;
    void *found;
    size_t n = g_size(i);
    if (!gcrt_find_object(mid, &found, NULL) || found != base) {
        fprintf(stderr, "goroutine %d: array %p (%zu bytes) freed\n", i, (void *)base, n);
        atomic_fetch_add(&g_bad, 1);
    } else {
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)base[k] != 0x40 + i) {
                fprintf(stderr, "goroutine %d: array %p overwritten at %zu\n", i, (void *)base, k);
                atomic_fetch_add(&g_bad, 1);
                break;
            }
    }
    gcrt_wg_done(&g_wg);
}

static void test_interior_pointers_on_sleeping_goroutines(void) {
    atomic_store(&g_ready, 0);
    atomic_store(&g_done, 0);
    atomic_store(&g_bad, 0);
    gcrt_wg_add(&g_wg, NG);
    for (int i = 0; i < NG; i++) REQUIRE_TRUE(gcrt_go(sleeper, (void *)(intptr_t)i) > 0);
    while (atomic_load(&g_ready) < NG) gcrt_sleep(1000 * 1000);
    struct gcrt_memstats a, b;
    gcrt_read_memstats(&a);
    /* Heap-triggered concurrent cycles while they sleep, and forced ones;
     * the garbage reuses every freed page. */
    for (int r = 0; r < 6; r++) {
        churn(24l << 20);
        wipe_stack();
        gcrt_gc();
    }
    gcrt_read_memstats(&b);
    atomic_store(&g_done, 1);
    gcrt_wg_wait(&g_wg);
    EXPECT_GE(b.num_gc - a.num_gc, 10);
    EXPECT_EQ(atomic_load(&g_bad), 0);
}

/* ---- large objects -------------------------------------------------------------- */

#define NLARGE 12
static void **large_holder; /* a heap array, in a global */
static uintptr_t masked_large[NLARGE];

static size_t large_size(int i) {
    return ((size_t)1 << 20) + ((size_t)i << 20) + 4096 * (size_t)i + 8;
}

static NOINLINE void make_large(void) {
    large_holder = gcrt_alloc(NLARGE * sizeof(void *));
    for (int i = 0; i < NLARGE; i++) {
        unsigned char *p = gcrt_alloc_noscan(large_size(i));
        memset(p, 0xA0 + i, large_size(i));
        gcrt_store(&large_holder[i], p);
        masked_large[i] = (uintptr_t)p ^ MASK;
    }
}

static NOINLINE void drop_even_large(void) {
    for (int i = 0; i < NLARGE; i += 2) gcrt_store(&large_holder[i], NULL);
}

static void test_large_objects(void) {
    make_large();
    wipe_stack();
    for (int r = 0; r < 3; r++) {
        churn(32l << 20);
        wipe_stack();
        gcrt_gc();
    }
    for (int i = 0; i < NLARGE; i++) {
        EXPECT_TRUE(alive(masked_large[i]));
        EXPECT_TRUE(pattern_ok(masked_large[i], large_size(i), (unsigned char)(0xA0 + i)));
    }
    struct gcrt_memstats a, b;
    gcrt_read_memstats(&a);
    uint64_t dropped = 0;
    for (int i = 0; i < NLARGE; i += 2) dropped += large_size(i);
    drop_even_large();
    wipe_stack();
    gcrt_gc();
    gcrt_read_memstats(&b);
    int survivors = 0;
    for (int i = 0; i < NLARGE; i++) {
        if (i & 1) {
            EXPECT_TRUE(alive(masked_large[i]));
            EXPECT_TRUE(pattern_ok(masked_large[i], large_size(i), (unsigned char)(0xA0 + i)));
        } else {
            survivors += alive(masked_large[i]);
        }
    }
    /* Conservative: a stale word somewhere may keep one or two alive. */
    EXPECT_LE(survivors, 3);
    EXPECT_UGE(a.heap_alloc - b.heap_alloc, dropped / 2);
    check_memstats_invariants(&b);
    large_holder = NULL;
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_interior_pointers_on_sleeping_goroutines);
    RUN(test_large_objects);
    return th_summary();
}
