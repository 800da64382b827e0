/* test_gc_snapshot.c - the root snapshot buffer (mgcmark.c) is sized with
 * room to spare: a cycle whose roots have grown a little (the first cycle's
 * estimate has no stacks yet) reuses it instead of mapping and faulting in
 * a new one on the allocating thread. Run with GOGC=off (props.cmake): no
 * cycle may use the buffer meanwhile. GCSys counts the buffer.
 *
 * Big stacks are copied too (up to 64 MiB), not scanned in place with the
 * world stopped, and the buffer shrinks when they do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcrt.h"
#include "harness.h"
#include "gc.h"

static uint64_t gc_sys(void) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    return ms.gc_sys;
}

static void test_reserve_leaves_room_to_grow(void) {
    uint64_t before = gc_sys();
    gcrt__gc_snapshot_reserve(200 << 10, 0);
    uint64_t first = gc_sys();
    EXPECT_GE(first - before, (uint64_t)(250 << 10)); /* a quarter more than asked */
    /* A little more, as the second cycle asks with its stacks: no new buffer. */
    gcrt__gc_snapshot_reserve(200 << 10, 40 << 10);
    EXPECT_EQ(gc_sys(), first);
    /* Much more: a new buffer, which replaces the old. */
    gcrt__gc_snapshot_reserve(0, 600 << 10);
    EXPECT_GE(gc_sys() - before, (uint64_t)(600 << 10));
}

/* A stack of 4 MiB (a big frame): the cycle copies it all (stacks were
 * copied up to 1 MiB with the globals, the rest scanned with the world
 * stopped), and the copy keeps what its deepest word points to. Then the
 * stack shrinks, and the buffer with it. */
enum { BIG = 4 << 20, OBJ = 48 };

static GCRT_NOINLINE void fill_heap(void) {
    for (int i = 0; i < 20000; i++) memset(gcrt_alloc(OBJ), 0x5A, OBJ);
}

static uint64_t base, big_snap, big_sys;
static int bad;

static GCRT_NOINLINE void big_frame(void) {
    volatile uintptr_t frame[BIG / sizeof(uintptr_t)];
    for (size_t i = 0; i < BIG / sizeof(uintptr_t); i++) frame[i] = 0;
    unsigned char *o = gcrt_alloc(OBJ);
    memset(o, 0xC3, OBJ);
    frame[0] = (uintptr_t)o + 1; /* an interior pointer, at the frame's far end */
    o = NULL;
    gcrt_gc(); /* sizes the next cycle's buffer for this stack */
    gcrt_gc();
    big_snap = gcrt__gc_snapshot_bytes();
    fill_heap(); /* would reuse the object's slot had it been freed */
    gcrt_gc();
    const unsigned char *k = (const unsigned char *)(frame[0] - 1);
    for (int i = 0; i < OBJ; i++) bad += k[i] != 0xC3;
    big_sys = gc_sys();
}

static void test_big_stack_copied_then_given_back(void) {
    gcrt_gc();
    gcrt_gc();
    base = gcrt__gc_snapshot_bytes(); /* globals (1 MiB at most) and stacks */
    big_frame();
    EXPECT_UGE(big_snap, base + BIG);
    EXPECT_EQ(bad, 0);
    gcrt_gc(); /* sized for the big stack (the last cycle's) */
    gcrt_gc();
    EXPECT_ULT(gcrt__gc_snapshot_bytes(), base + (256 << 10));
    /* Given back: what is left is under a quarter of the buffer. */
    EXPECT_UGE(big_sys - gc_sys(), (uint64_t)(4 << 20));
}

/* Globals and registered roots are copied up to 1 MiB, the rest scanned in
 * place (no faster than a copy, and a copy costs memory), even when the
 * buffer, sized for a big stack, has room for them. */
static void test_big_registered_roots_scanned_in_place(void) {
    enum { R = 4 << 20 };
    uintptr_t *roots = calloc(R / sizeof(uintptr_t), sizeof(uintptr_t));
    REQUIRE_TRUE(roots != NULL);
    unsigned char *o = gcrt_alloc(OBJ);
    memset(o, 0xC3, OBJ);
    roots[R / sizeof(uintptr_t) - 1] = (uintptr_t)o;
    o = NULL;
    EXPECT_EQ(gcrt_add_roots(roots, (char *)roots + R), 0);
    bad = 0;
    big_frame(); /* the last cycle had room for the stack and these roots */
    EXPECT_UGE(big_snap, base + BIG - (1 << 20));
    EXPECT_ULT(big_snap, base + BIG + (1 << 20));
    EXPECT_EQ(bad, 0);
    const unsigned char *k = (const unsigned char *)roots[R / sizeof(uintptr_t) - 1];
    int b = 0;
    for (int i = 0; i < OBJ; i++) b += k[i] != 0xC3;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(gcrt_remove_roots(roots), 0);
    free(roots);
}

int main(void) {
    EXPECT_EQ(gcrt_init(), 0);
    RUN(test_reserve_leaves_room_to_grow);
    RUN(test_big_stack_copied_then_given_back);
    RUN(test_big_registered_roots_scanned_in_place);
    return th_summary();
}
