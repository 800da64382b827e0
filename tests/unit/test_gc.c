/* test_gc.c - the collector frees what is unreachable and keeps what is
 * reachable: from globals, registered roots, stacks (this thread's, other
 * threads', parked goroutines'), through heap objects, by interior
 * pointers; large objects; noscan objects are not scanned; MemStats. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/memstats_check.h"
#include "gcrt.h"
#include "gcrt_chan.h"
#include "gcrt_sched.h"
#include "harness.h"

struct node {
    struct node *next;
    uint64_t check;
    char pad[48];
};

static struct node *global_list; /* a root in bss */
static void *global_interior;    /* points inside an object */
static void *volatile sink;

/* Builds a list of n nodes; each carries a checksum of its position. */
static __attribute__((noinline)) struct node *make_list(int n, uint64_t salt) {
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *x = gcrt_alloc(sizeof *x);
        x->next = head;
        x->check = salt * 1000003u + (uint64_t)i;
        head = x;
    }
    return head;
}

static int check_list(const struct node *h, int n, uint64_t salt) {
    for (int i = n - 1; i >= 0; i--, h = h->next)
        if (!h || h->check != salt * 1000003u + (uint64_t)i) return 0;
    return h == NULL;
}

/* Allocates garbage and wipes its own frame so no stale stack slot keeps
 * any of it. */
static __attribute__((noinline)) void make_garbage(int n, size_t size) {
    for (int i = 0; i < n; i++) sink = gcrt_alloc(size);
    sink = NULL;
}
static __attribute__((noinline)) void wipe_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    /* Without a use the compiler drops the memset (and the call). */
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void full_gc(void) {
    wipe_stack();
    gcrt_gc();
}

static void test_frees_garbage_keeps_roots(void) {
    global_list = make_list(1000, 1);
    struct gcrt_memstats a, b;
    full_gc();
    gcrt_read_memstats(&a);
    make_garbage(20000, 64);
    make_garbage(50, 100000);
    full_gc();
    gcrt_read_memstats(&b);
    check_memstats_invariants(&b);
    EXPECT_GE(b.num_gc, a.num_gc + 1); /* the heap may have triggered more */
    /* runtime.GC waits for a cycle that started after the call; when a
     * heap-triggered one did, it is that one (as in Go): forced or not. */
    EXPECT_GE(b.num_forced_gc, a.num_forced_gc);
    /* Everything made since a is garbage: at most a handful survive
     * (a conservative collector may see a stale word). */
    EXPECT_ULE(b.heap_objects, a.heap_objects + 100);
    EXPECT_UGE(b.frees - a.frees, 20000);
    EXPECT_TRUE(check_list(global_list, 1000, 1));
    EXPECT_GT(b.pause_ns[(b.num_gc + 255) % 256], 0);
    EXPECT_UEQ(b.last_gc, b.pause_end[(b.num_gc + 255) % 256]);
    EXPECT_GT(b.last_gc, 1600000000ull * 1000000000ull);
}

static void test_local_and_interior(void) {
    struct node *local = make_list(500, 2);
    char *big = gcrt_alloc(300000);
    memset(big, 0x5A, 300000);
    global_interior = big + 123456;           /* only an interior pointer */
    char *mid = (char *)make_list(1, 3) + 24; /* interior pointer on the stack */
    full_gc();
    EXPECT_TRUE(check_list(local, 500, 2));
    void *base;
    size_t size;
    REQUIRE_TRUE(gcrt_find_object((char *)global_interior, &base, &size));
    EXPECT_PTR_EQ(base, big);
    EXPECT_EQ(((char *)global_interior)[1000], 0x5A);
    EXPECT_TRUE(gcrt_find_object(mid, NULL, NULL));
    gcrt_keep_alive(local);
    gcrt_keep_alive(mid);
    global_interior = NULL;
}

/* The helpers below hand back only a masked address, so no register or
 * live stack slot of the test holds the real pointer. */
#define MASK 0x5555u
static __attribute__((noinline)) uintptr_t stash(void **box) {
    box[0] = gcrt_alloc(1000);
    return (uintptr_t)box[0] ^ MASK;
}
static __attribute__((noinline)) uintptr_t take(void **slot) {
    uintptr_t v = (uintptr_t)*slot ^ MASK;
    *slot = NULL;
    return v;
}
static __attribute__((noinline)) int alive(uintptr_t masked) {
    return gcrt_find_object((void *)(masked ^ MASK), NULL, NULL);
}

static void test_noscan_not_scanned(void) {
    /* A pointer stored in pointer-free memory keeps nothing alive. */
    void **box = gcrt_alloc_noscan(64);
    void **sbox = gcrt_alloc(64);
    uintptr_t in_noscan = stash(box);
    uintptr_t in_scan = stash(sbox);
    full_gc();
    EXPECT_FALSE(alive(in_noscan));
    EXPECT_TRUE(alive(in_scan));
    gcrt_keep_alive(box);
    gcrt_keep_alive(sbox);
}

static void test_registered_roots(void) {
    void **area = malloc(16 * sizeof(void *)); /* invisible to the GC... */
    memset(area, 0, 16 * sizeof(void *));
    uintptr_t x = stash(area + 3);
    EXPECT_EQ(gcrt_add_roots(area, area + 16), 0); /* ...unless registered */
    full_gc();
    EXPECT_TRUE(alive(x));
    EXPECT_EQ(gcrt_remove_roots(area), 0);
    EXPECT_EQ(gcrt_remove_roots(area), -2);
    EXPECT_EQ(gcrt_add_roots(area, area), -22);
    x = take(area + 3);
    full_gc();
    EXPECT_FALSE(alive(x));
    free(area);
}

/* Another attached thread keeps a list only in its locals while it spins
 * in C code (stopped by signal) or sleeps in a channel receive. */
static atomic_int spin_ready, spin_stop;
static void *spinner(void *arg) {
    gcrt_thread_attach();
    struct node *mine = make_list(300, 4);
    atomic_store(&spin_ready, 1);
    uint64_t x = 0;
    while (!atomic_load(&spin_stop)) x += (uintptr_t)mine->next & 1;
    int ok = check_list(mine, 300, 4);
    gcrt_thread_detach();
    return (void *)(intptr_t)(ok + (int)(x & 0));
}

static void test_other_thread_stack(void) {
    pthread_t t;
    pthread_create(&t, NULL, spinner, NULL);
    while (!atomic_load(&spin_ready)) {
    }
    for (int i = 0; i < 3; i++) {
        make_garbage(5000, 48);
        full_gc();
    }
    atomic_store(&spin_stop, 1);
    void *ok;
    pthread_join(t, &ok);
    EXPECT_EQ((intptr_t)ok, 1);
}

static gcrt_chan_t *gch;
static void parked_goroutine(void *arg) {
    struct node *mine = make_list(200, 5);
    int dummy;
    bool okf;
    gcrt_chan_recv(gch, &dummy, &okf); /* parked here across the GCs */
    int ok = check_list(mine, 200, 5);
    gcrt_chan_send(gch, &ok);
}

static void test_parked_goroutine(void) {
    gch = gcrt_chan_make(sizeof(int), 0);
    gcrt_go(parked_goroutine, NULL);
    gcrt_sleep(20 * 1000 * 1000); /* let it park */
    for (int i = 0; i < 3; i++) {
        make_garbage(5000, 48);
        full_gc();
    }
    int go = 1, ok = 0;
    bool okf;
    gcrt_chan_send(gch, &go);
    gcrt_chan_recv(gch, &ok, &okf);
    EXPECT_EQ(ok, 1);
}

/* __thread variables are roots: the main thread's and another attached
 * thread's. */
static __thread void *tls_slot;
static atomic_int tls_phase;
static uintptr_t tls_other_masked;

static __attribute__((noinline)) uintptr_t stash_tls(void) {
    tls_slot = gcrt_alloc(512);
    return (uintptr_t)tls_slot ^ MASK;
}

static void *tls_thread(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    tls_other_masked = stash_tls();
    atomic_store(&tls_phase, 1);
    while (atomic_load(&tls_phase) != 2) gcrt_gosched();
    int ok = tls_slot != NULL && gcrt_find_object(tls_slot, NULL, NULL);
    gcrt_thread_detach();
    return (void *)(intptr_t)ok;
}

static void test_tls_roots(void) {
    uintptr_t mine = stash_tls();
    pthread_t t;
    pthread_create(&t, NULL, tls_thread, NULL);
    while (atomic_load(&tls_phase) != 1) gcrt_gosched();
    for (int i = 0; i < 3; i++) full_gc();
    EXPECT_TRUE(alive(mine));
    EXPECT_TRUE(alive(tls_other_masked));
    atomic_store(&tls_phase, 2);
    void *ok;
    pthread_join(t, &ok);
    EXPECT_EQ((intptr_t)ok, 1);
    /* Cleared, the object goes. */
    tls_slot = NULL;
    full_gc();
    EXPECT_FALSE(alive(mine));
}

static void test_reuse_after_gc(void) {
    /* Freed memory is handed out again, zeroed. */
    struct gcrt_memstats a, b;
    full_gc();
    gcrt_read_memstats(&a);
    for (int r = 0; r < 20; r++) {
        make_garbage(10000, 256);
        full_gc();
    }
    gcrt_read_memstats(&b);
    EXPECT_ULE(b.heap_inuse, a.heap_inuse + (4 << 20)); /* no growth: reused */
    for (int i = 0; i < 1000; i++) {
        unsigned char *p = gcrt_alloc(256);
        int nz = 0;
        for (int j = 0; j < 256; j++) nz |= p[j];
        EXPECT_EQ(nz, 0);
        memset(p, 0xFF, 256);
    }
}

/* PauseNs and PauseEnd are rings of 256: past 256 cycles, the identities
 * of check_memstats_invariants still hold (the latest entry is LastGC's,
 * the ends go back in order, the ring sums to at most PauseTotalNs), and
 * every cycle is counted. */
static void test_pause_rings_wrap(void) {
    static struct gcrt_memstats a, b;
    gcrt_read_memstats(&a);
    for (int i = 0; i < 300; i++) gcrt_gc();
    gcrt_read_memstats(&b);
    EXPECT_GE(b.num_gc, a.num_gc + 300);
    EXPECT_GE(b.num_forced_gc, a.num_forced_gc + 300);
    EXPECT_GT(b.num_gc, 256);
    check_memstats_invariants(&b);
    uint64_t ring = 0;
    for (int i = 0; i < 256; i++) ring += b.pause_ns[i];
    EXPECT_TRUE(b.pause_total_ns > ring); /* 44+ pauses are out of the ring */
    EXPECT_TRUE(b.last_gc > a.last_gc);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_pause_rings_wrap);
    RUN(test_frees_garbage_keeps_roots);
    RUN(test_local_and_interior);
    RUN(test_noscan_not_scanned);
    RUN(test_registered_roots);
    RUN(test_other_thread_stack);
    RUN(test_parked_goroutine);
    RUN(test_tls_roots);
    RUN(test_reuse_after_gc);
    return th_summary();
}
