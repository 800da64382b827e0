/* test_gc_roots.c - roots the program registers and thread-local storage,
 * under concurrent marking:
 *   - ranges added with gcrt_add_roots keep their objects; removed, the
 *     objects go ("at most a few survive": the collector is conservative);
 *     registered again, kept again; registering and unregistering other
 *     ranges while collections run back to back loses nothing;
 *   - __thread variables of attached threads and of the main thread:
 *     reported as a FINDING line, not asserted (gcrt.h does not promise
 *     TLS scanning; it says to register TLS with gcrt_add_roots).
 * Interior pointers and large objects: test_gc_large.c. Object addresses
 * the test keeps for checking are stored masked. */
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

static gcrt_wg_t g_wg;

/* ---- registered roots, added and removed -------------------------------------- */

#define NAREA 16
#define SLOTS 64
#define OBJ   512

static void **areas[NAREA];
static uintptr_t masked_obj[NAREA][SLOTS];

static NOINLINE void fill_area(int a) {
    for (int s = 0; s < SLOTS; s++) {
        unsigned char *o = gcrt_alloc(OBJ);
        memset(o, a + 1, OBJ);
        areas[a][s] = o;
        masked_obj[a][s] = (uintptr_t)o ^ MASK;
    }
}

static int count_alive(int a, int check_pattern, int *intact) {
    int n = 0;
    *intact = 1;
    for (int s = 0; s < SLOTS; s++) {
        if (!alive(masked_obj[a][s])) continue;
        n++;
        if (check_pattern && !pattern_ok(masked_obj[a][s], OBJ, (unsigned char)(a + 1)))
            *intact = 0;
    }
    return n;
}

static void test_roots_added_and_removed(void) {
    for (int a = 0; a < NAREA; a++) {
        areas[a] = calloc(SLOTS, sizeof(void *)); /* malloc'd: invisible unless registered */
        REQUIRE_EQ(gcrt_add_roots(areas[a], areas[a] + SLOTS), 0);
        fill_area(a);
    }
    churn(16l << 20);
    wipe_stack();
    gcrt_gc();
    for (int a = 0; a < NAREA; a++) {
        int intact;
        EXPECT_EQ(count_alive(a, 1, &intact), SLOTS);
        EXPECT_TRUE(intact);
    }
    /* Unregister the even areas: their objects go. */
    for (int a = 0; a < NAREA; a += 2) EXPECT_EQ(gcrt_remove_roots(areas[a]), 0);
    EXPECT_EQ(gcrt_remove_roots(areas[0]), -ENOENT);
    churn(16l << 20);
    wipe_stack();
    gcrt_gc();
    wipe_stack();
    gcrt_gc();
    int survivors = 0;
    for (int a = 0; a < NAREA; a++) {
        int intact;
        int n = count_alive(a, a & 1, &intact);
        if (a & 1) {
            EXPECT_EQ(n, SLOTS);
            EXPECT_TRUE(intact);
        } else {
            survivors += n;
        }
    }
    fprintf(stderr, "unregistered: %d of %d objects survived two cycles\n", survivors,
            NAREA / 2 * SLOTS);
    EXPECT_LE(survivors, NAREA / 2 * SLOTS / 20);
    /* Registered again, refilled: kept again. */
    for (int a = 0; a < NAREA; a += 2) {
        EXPECT_EQ(gcrt_add_roots(areas[a], areas[a] + SLOTS), 0);
        fill_area(a);
    }
    churn(8l << 20);
    wipe_stack();
    gcrt_gc();
    for (int a = 0; a < NAREA; a++) {
        int intact;
        EXPECT_EQ(count_alive(a, 1, &intact), SLOTS);
        EXPECT_TRUE(intact);
    }
    for (int a = 0; a < NAREA; a++) {
        EXPECT_EQ(gcrt_remove_roots(areas[a]), 0);
        memset(areas[a], 0, SLOTS * sizeof(void *));
        free(areas[a]);
    }
}

/* Registering and unregistering other ranges while collections run back
 * to back never loses what stays registered. */
static atomic_int toggle_stop;
static void toggler(void *arg) {
    void **mine[8];
    for (int i = 0; i < 8; i++) mine[i] = calloc(4, sizeof(void *));
    long n = 0;
    while (!atomic_load(&toggle_stop)) {
        int i = (int)(n++ % 8);
        gcrt_add_roots(mine[i], mine[i] + 4);
        mine[i][n & 3] = gcrt_alloc(64);
        if (n % 3 == 0) gcrt_remove_roots(mine[i]);
        gcrt_gosched();
    }
    for (int i = 0; i < 8; i++) {
        gcrt_remove_roots(mine[i]);
        free(mine[i]);
    }
    gcrt_wg_done(&g_wg);
}

static void gc_looper(void *arg) {
    while (!atomic_load(&toggle_stop)) gcrt_gc();
    gcrt_wg_done(&g_wg);
}

static void test_roots_toggled_during_collections(void) {
    areas[0] = calloc(SLOTS, sizeof(void *));
    REQUIRE_EQ(gcrt_add_roots(areas[0], areas[0] + SLOTS), 0);
    fill_area(0);
    atomic_store(&toggle_stop, 0);
    gcrt_wg_add(&g_wg, 2);
    gcrt_go(toggler, NULL);
    gcrt_go(gc_looper, NULL);
    int64_t end = gcrt_nanotime() + 300 * 1000 * 1000;
    while (gcrt_nanotime() < end) churn(1 << 20);
    atomic_store(&toggle_stop, 1);
    gcrt_wg_wait(&g_wg);
    gcrt_gc();
    int intact;
    EXPECT_EQ(count_alive(0, 1, &intact), SLOTS);
    EXPECT_TRUE(intact);
    EXPECT_EQ(gcrt_remove_roots(areas[0]), 0);
    free(areas[0]);
}

/* ---- thread-local storage ------------------------------------------------------- */

/* An object referenced only from a __thread variable, of an attached thread
 * and of the main thread, survives collections. */

static __thread void *volatile tls_slot; /* volatile: written, never read */
static atomic_int tls_ready, tls_stop;
static uintptr_t masked_tls, masked_main_tls;

static NOINLINE void tls_fill(void) {
    unsigned char *p = gcrt_alloc(4096);
    memset(p, 0x77, 4096);
    tls_slot = p;
    masked_tls = (uintptr_t)p ^ MASK;
}

static void *tls_thread(void *arg) {
    gcrt_thread_attach();
    tls_fill();
    wipe_stack();
    atomic_store(&tls_ready, 1);
    while (!atomic_load(&tls_stop)) gcrt_sleep(1000 * 1000);
    tls_slot = NULL;
    gcrt_thread_detach();
    return NULL;
}

static NOINLINE void main_tls_fill(void) {
    unsigned char *p = gcrt_alloc(4096);
    memset(p, 0x66, 4096);
    tls_slot = p;
    masked_main_tls = (uintptr_t)p ^ MASK;
}

static void test_thread_local_storage(void) {
    pthread_t t;
    pthread_create(&t, NULL, tls_thread, NULL);
    while (!atomic_load(&tls_ready)) gcrt_sleep(1000 * 1000);
    main_tls_fill();
    wipe_stack();
    for (int r = 0; r < 3; r++) {
        churn(16l << 20);
        wipe_stack();
        gcrt_gc();
    }
    int thread_ok = alive(masked_tls) && pattern_ok(masked_tls, 4096, 0x77);
    int main_ok = alive(masked_main_tls) && pattern_ok(masked_main_tls, 4096, 0x66);
    /* Each attached thread's TLS blocks are roots (mgcmark.c), the main
     * thread's too. */
    EXPECT_TRUE(thread_ok);
    EXPECT_TRUE(main_ok);
    atomic_store(&tls_stop, 1);
    pthread_join(t, NULL);
    tls_slot = NULL;
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_roots_added_and_removed);
    RUN(test_roots_toggled_during_collections);
    RUN(test_thread_local_storage);
    return th_summary();
}
