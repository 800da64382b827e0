/* test_sched_timer_unarmed.c - gcrt_timer_stop of a timer that is not in
 * the heap must change nothing and return false: here a zeroed timer (a
 * struct from calloc or gcrt_alloc, stopped on a clean-up path before it
 * was ever initialised or armed) while a goroutine sleeps. The sleeper's
 * own timer is then the only one armed (heap index 0, the index a zeroed
 * timer claims to have). */
#include <string.h>
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"

static int woke;
static void sleeper(void *arg) {
    (void)arg;
    gcrt_sleep(20 * 1000 * 1000);
    __atomic_store_n(&woke, 1, __ATOMIC_RELEASE);
}

static void test_stop_zeroed_timer(void) {
    gcrt_timer_t t;
    memset(&t, 0, sizeof t);
    woke = 0;
    gcrt_go(sleeper, NULL);
    usleep(5000); /* the sleeper's timer is armed */
    EXPECT_EQ(gcrt_timer_stop(&t), false);
    for (int i = 0; i < 2000 && !__atomic_load_n(&woke, __ATOMIC_ACQUIRE); i++) usleep(1000);
    EXPECT_EQ(__atomic_load_n(&woke, __ATOMIC_ACQUIRE), 1);
}

/* Initialised and armed once, fired, then stopped: false, nothing else
 * changes (its index is -1 again). */
static int fired;
static void fire(void *arg) {
    (void)arg;
    __atomic_store_n(&fired, 1, __ATOMIC_RELEASE);
}
static void test_stop_fired_timer(void) {
    gcrt_timer_t t;
    gcrt_timer_init(&t, fire, NULL);
    EXPECT_EQ(gcrt_timer_reset(&t, 1000 * 1000, 0), false);
    for (int i = 0; i < 2000 && !__atomic_load_n(&fired, __ATOMIC_ACQUIRE); i++) usleep(1000);
    EXPECT_EQ(__atomic_load_n(&fired, __ATOMIC_ACQUIRE), 1);
    EXPECT_EQ(gcrt_timer_stop(&t), false);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_stop_zeroed_timer);
    RUN(test_stop_fired_timer);
    return th_summary();
}
