/* test_sched_grow.c - GOMAXPROCS raised past the number of Ps made at
 * start-up: the new Ps must run goroutines (and count as idle when they
 * have none), like the ones made at start-up. */
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"
#include "sched_internal.h"

static uint32_t seen; /* bit i: a goroutine ran on P i */
static int32_t done;

static void hog(void *arg) {
    (void)arg;
    int64_t end = gcrt_nanotime() + 20 * 1000 * 1000;
    while (gcrt_nanotime() < end) {
        gcrt_msched_t *ms = gcrt__getms();
        __atomic_fetch_or(&seen, 1u << ms->pp->idx, __ATOMIC_RELAXED);
        gcrt_checkpoint();
    }
    __atomic_fetch_add(&done, 1, __ATOMIC_RELEASE);
}

static void test_new_ps_run(void) {
    int old = gcrt_gomaxprocs(0);
    REQUIRE_TRUE(old + 2 <= 32);
    int n = old + 2; /* two Ps that did not exist before */
    EXPECT_EQ(gcrt_gomaxprocs(n), old);
    /* Idle now: every P, the new ones too, on the idle list. */
    for (int i = 0; i < 200 && gcrt_load_relaxed(&gcrt__sched.npidle) != n; i++) usleep(1000);
    EXPECT_EQ(gcrt_load_relaxed(&gcrt__sched.npidle), n);
    enum { G = 32 };
    seen = 0;
    done = 0;
    for (int i = 0; i < G; i++) gcrt_go(hog, NULL);
    while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < G) usleep(1000);
    uint32_t newbits = ((1u << n) - 1) & ~((1u << old) - 1);
    EXPECT_TRUE((seen & newbits) != 0);
    if (!(seen & newbits)) fprintf(stderr, "Ps used: %#x of %d\n", seen, n);
    for (int i = 0; i < 200 && gcrt_load_relaxed(&gcrt__sched.npidle) != n; i++) usleep(1000);
    EXPECT_EQ(gcrt_load_relaxed(&gcrt__sched.npidle), n);
    gcrt_gomaxprocs(old);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_new_ps_run);
    return th_summary();
}
