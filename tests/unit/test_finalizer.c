/* test_finalizer.c - runtime.SetFinalizer semantics: runs once after the
 * object becomes unreachable, keeps what it points to alive, resurrection,
 * order of dependent finalizers, cycles, removal, errors. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "gcrt_sync.h"
#include "harness.h"

struct obj {
    struct obj *child;
    uint64_t magic;
    char pad[40];
};

#define MAGIC 0xfeedfacecafebeefull
#define MASK  0x5a5a000000000000ull /* a masked address points nowhere */
static atomic_int ran_a, ran_b, ran_bad;
/* The goroutine each finalizer ran on: always the same one, the finalizer
 * goroutine (Go's fing), never the test's. */
static _Atomic int64_t fin_goid, other_goid;
static void note_goroutine(void) {
    int64_t id = gcrt_goid(), none = 0;
    if (!atomic_compare_exchange_strong(&fin_goid, &none, id) && none != id)
        atomic_store(&other_goid, id);
}
static void *volatile last_obj, *last_arg;
static struct obj *volatile resurrected;

static __attribute__((noinline)) void wipe_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    /* Without a use the compiler drops the memset (and the call). */
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* Runs fn on a goroutine that then exits: whatever fn left in registers
 * and stack slots dies with it (a dead goroutine's stack is no root), so
 * the test's own frames hold no stale copy of the objects. */
static void (*volatile g_fn)(void);
static gcrt_wg_t g_wg;
static void g_tramp(void *arg) {
    (void)arg;
    g_fn();
    gcrt_wg_done(&g_wg);
}
static void on_goroutine(void (*fn)(void)) {
    g_fn = fn;
    gcrt_wg_add(&g_wg, 1);
    gcrt_go(g_tramp, NULL);
    gcrt_wg_wait(&g_wg);
}

static void gc_until(atomic_int *counter, int want) {
    for (int i = 0; i < 200 && atomic_load(counter) < want; i++) {
        wipe_stack();
        gcrt_gc();
        gcrt_sleep(2 * 1000 * 1000);
    }
}

static void fin_a(void *p, void *arg) {
    struct obj *o = p;
    /* What the object points to is still alive and intact. */
    if (o->magic != MAGIC || (o->child && o->child->magic != MAGIC)) atomic_fetch_add(&ran_bad, 1);
    last_obj = p;
    last_arg = arg;
    note_goroutine();
    atomic_fetch_add(&ran_a, 1);
}
static void fin_b(void *p, void *arg) {
    (void)p, (void)arg;
    note_goroutine();
    atomic_fetch_add(&ran_b, 1);
}
static void fin_resurrect(void *p, void *arg) {
    (void)arg;
    resurrected = p;
    note_goroutine();
    atomic_fetch_add(&ran_a, 1);
}

static __attribute__((noinline)) uintptr_t make_finalized(void *arg) {
    /* A large object: its pages are not handed to small allocations, so
     * "freed" is visible as "no object there any more". */
    struct obj *o = gcrt_alloc(100000);
    o->magic = MAGIC;
    o->child = gcrt_alloc(sizeof *o);
    o->child->magic = MAGIC;
    EXPECT_EQ(gcrt_set_finalizer(o, fin_a, arg), 0);
    return (uintptr_t)o ^ MASK;
}

/* Checks what the finalizer saw in a frame of its own, so that no copy of
 * the object's address stays in the test's frame (a conservative root). */
static __attribute__((noinline)) void check_first_run(uintptr_t masked, void *token) {
    EXPECT_EQ(atomic_load(&ran_a), 1);
    EXPECT_EQ(atomic_load(&ran_bad), 0);
    EXPECT_TRUE((uintptr_t)last_obj == (masked ^ MASK));
    EXPECT_TRUE(last_arg == token);
    last_obj = NULL;
}

/* In a frame of its own, like check_first_run: the unmasked address stays
 * below the caller's stack pointer (wiped) and in scratch registers. */
static __attribute__((noinline)) int still_there(uintptr_t masked) {
    return gcrt_find_object((void *)(masked ^ MASK), NULL, NULL);
}

static void test_runs_once_with_referents(void) {
    atomic_store(&ran_a, 0);
    static int token;
    uintptr_t masked = make_finalized(&token);
    gc_until(&ran_a, 1);
    check_first_run(masked, &token);
    /* Not again, and the object is freed once the finalizer is done. (On
     * a loaded machine the finalizer goroutine may not have returned yet:
     * its frame still holds the object, a conservative root. Collect until
     * it is gone, for up to a second.) */
    for (int i = 0; i < 5 || (i < 1000 && still_there(masked)); i++) {
        wipe_stack();
        gcrt_gc();
        if (i >= 5) usleep(1000);
    }
    EXPECT_EQ(atomic_load(&ran_a), 1);
    EXPECT_FALSE(gcrt_find_object((void *)(masked ^ MASK), NULL, NULL));
}

static __attribute__((noinline)) void make_resurrecting(void) {
    struct obj *o = gcrt_alloc(100000); /* large: "freed" is visible */
    o->magic = MAGIC;
    o->child = gcrt_alloc(sizeof *o);
    o->child->magic = MAGIC;
    EXPECT_EQ(gcrt_set_finalizer(o, fin_resurrect, NULL), 0);
}

static void test_resurrection(void) {
    atomic_store(&ran_a, 0);
    on_goroutine(make_resurrecting);
    gc_until(&ran_a, 1);
    REQUIRE_TRUE(resurrected != NULL);
    for (int i = 0; i < 5; i++) {
        wipe_stack();
        gcrt_gc();
    }
    EXPECT_EQ(resurrected->magic, MAGIC);
    EXPECT_EQ(resurrected->child->magic, MAGIC);
    EXPECT_EQ(atomic_load(&ran_a), 1); /* at most once, even resurrected */
    /* Dropped again, it is freed, with no second run of its finalizer. */
    uintptr_t masked = (uintptr_t)resurrected ^ MASK;
    resurrected = NULL;
    for (int i = 0; i < 5 || (i < 1000 && still_there(masked)); i++) {
        wipe_stack();
        gcrt_gc();
        if (i >= 5) usleep(1000);
    }
    EXPECT_FALSE(still_there(masked));
    EXPECT_EQ(atomic_load(&ran_a), 1);
}

static __attribute__((noinline)) void make_chain(void) {
    struct obj *a = gcrt_alloc(sizeof *a), *b = gcrt_alloc(sizeof *b);
    a->magic = b->magic = MAGIC;
    gcrt_store(&a->child, b);
    EXPECT_EQ(gcrt_set_finalizer(a, fin_a, NULL), 0);
    EXPECT_EQ(gcrt_set_finalizer(b, fin_b, NULL), 0);
}

static void test_dependent_order(void) {
    atomic_store(&ran_a, 0);
    atomic_store(&ran_b, 0);
    on_goroutine(make_chain);
    gc_until(&ran_a, 1);
    EXPECT_EQ(atomic_load(&ran_a), 1);
    EXPECT_EQ(atomic_load(&ran_b), 0); /* B is kept alive by A until A's ran */
    last_obj = NULL;
    gc_until(&ran_b, 1);
    EXPECT_EQ(atomic_load(&ran_b), 1);
}

static __attribute__((noinline)) void make_cycle(void) {
    struct obj *a = gcrt_alloc(sizeof *a), *b = gcrt_alloc(sizeof *b);
    gcrt_store(&a->child, b);
    gcrt_store(&b->child, a);
    EXPECT_EQ(gcrt_set_finalizer(a, fin_b, NULL), 0);
}

static void test_cycle_not_collected(void) {
    atomic_store(&ran_b, 0);
    on_goroutine(make_cycle);
    for (int i = 0; i < 6; i++) {
        wipe_stack();
        gcrt_gc();
        gcrt_sleep(1000 * 1000);
    }
    EXPECT_EQ(atomic_load(&ran_b), 0); /* Go: cycles with finalizers leak */
}

static __attribute__((noinline)) void free_finalized(void) {
    char *big = gcrt_alloc(100000);
    EXPECT_EQ(gcrt_set_finalizer(big, fin_b, NULL), 0);
    gcrt_free(big); /* an explicit free drops it */
}

static uintptr_t removed_masked;
static __attribute__((noinline)) void make_removed(void) {
    struct obj *o = gcrt_alloc(100000);
    EXPECT_EQ(gcrt_set_finalizer(o, fin_b, NULL), 0);
    EXPECT_EQ(gcrt_set_finalizer(o, NULL, NULL), 0);
    removed_masked = (uintptr_t)o ^ MASK;
}

static void test_errors_and_removal(void) {
    struct obj *o = gcrt_alloc(sizeof *o);
    int local;
    EXPECT_EQ(gcrt_set_finalizer(&local, fin_b, NULL), -EINVAL);
    EXPECT_EQ(gcrt_set_finalizer((char *)o + 8, fin_b, NULL), -EINVAL);
    EXPECT_EQ(gcrt_set_finalizer(o, NULL, NULL), -ENOENT);
    EXPECT_EQ(gcrt_set_finalizer(o, fin_b, NULL), 0);
    EXPECT_EQ(gcrt_set_finalizer(o, fin_b, NULL), -EEXIST);
    EXPECT_EQ(gcrt_set_finalizer(o, NULL, NULL), 0); /* removed: never runs */
    on_goroutine(free_finalized);                    /* in a frame that dies: its address is
                                                        where make_removed's object may go */
    atomic_store(&ran_b, 0);
    o = NULL;
    /* A removed finalizer does not run when its object is collected: wait
     * until the object is gone, not just a few cycles. */
    on_goroutine(make_removed); /* no copy of its address in this frame */
    uintptr_t removed = removed_masked;
    for (int i = 0; i < 4 || (i < 1000 && still_there(removed)); i++) {
        wipe_stack();
        gcrt_gc();
        gcrt_sleep(1000 * 1000);
    }
    EXPECT_FALSE(still_there(removed));
    EXPECT_EQ(atomic_load(&ran_b), 0);
}

static void test_all_on_the_finalizer_goroutine(void) {
    EXPECT_TRUE(atomic_load(&fin_goid) != 0);
    EXPECT_TRUE(atomic_load(&fin_goid) != gcrt_goid());
    EXPECT_EQ(atomic_load(&other_goid), 0);
}

static int fin_main(int argc, char **argv) {
    (void)argc, (void)argv;
    RUN(test_runs_once_with_referents);
    RUN(test_resurrection);
    RUN(test_dependent_order);
    RUN(test_cycle_not_collected);
    RUN(test_errors_and_removal);
    RUN(test_all_on_the_finalizer_goroutine);
    return th_summary();
}

int main(int argc, char **argv) {
    return gcrt_main(fin_main, argc, argv);
}
