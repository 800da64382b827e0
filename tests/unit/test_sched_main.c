/* test_sched_main.c - gcrt_main: the program's main runs as goroutine 1,
 * spawns goroutines that report it as their parent, and its return value
 * is the exit status. */
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"
#include "sched.h"

static int64_t parent_of_child = -1;
static void child(void *arg) {
    parent_of_child = gcrt__getg()->parentgoid;
    gcrt_sleep(1000000);
}

static void test_main_is_goroutine_1(void) {
    EXPECT_EQ(gcrt_goid(), 1);
    EXPECT_TRUE(gcrt__on_goroutine());
    EXPECT_EQ(gcrt_num_goroutine(), 1);
    gcrt_go(child, NULL);
    gcrt_sleep(20 * 1000000);
    EXPECT_EQ(parent_of_child, 1);
    gcrt_goroutine_t list[8];
    int64_t n = gcrt_goroutine_list(list, 8, 0);
    EXPECT_GE(n, 1);
    EXPECT_EQ(list[0].id, 1);
    EXPECT_EQ(list[0].parent_id, 0);
    /* allocation works on goroutine 1 */
    long *p = gcrt_alloc(100);
    EXPECT_EQ(p[0], 0);
}

static int real_main(int argc, char **argv) {
    EXPECT_EQ(argc, 1);
    RUN(test_main_is_goroutine_1);
    return th_summary();
}

int main(int argc, char **argv) {
    int err = gcrt_main(real_main, argc, argv);
    fprintf(stderr, "gcrt_main returned %d\n", err);
    return 1;
}
