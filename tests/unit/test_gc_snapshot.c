/* test_gc_snapshot.c - the root snapshot buffer (mgcmark.c) is sized with
 * room to spare: a cycle whose roots have grown a little (the first cycle's
 * estimate has no stacks yet) reuses it instead of mapping and faulting in
 * a new one on the allocating thread. Run with GOGC=off (props.cmake): no
 * cycle may use the buffer meanwhile. GCSys counts the buffer. */
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
    gcrt__gc_snapshot_reserve(200 << 10);
    uint64_t first = gc_sys();
    EXPECT_GE(first - before, (uint64_t)(250 << 10)); /* a quarter more than asked */
    /* A little more, as the second cycle asks with its stacks: no new buffer. */
    gcrt__gc_snapshot_reserve((200 << 10) + (40 << 10));
    EXPECT_EQ(gc_sys(), first);
    /* Much more: a new buffer, which replaces the old. */
    gcrt__gc_snapshot_reserve(600 << 10);
    EXPECT_GE(gc_sys() - before, (uint64_t)(600 << 10));
}

int main(void) {
    EXPECT_EQ(gcrt_init(), 0);
    RUN(test_reserve_leaves_room_to_grow);
    return th_summary();
}
