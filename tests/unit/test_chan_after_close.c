/* test_chan_after_close.c - the channel of gcrt_chan_after (time.After) is
 * a plain gcrt_chan_t, so a program can close it (Go cannot: it is a
 * <-chan Time). The timer must then drop its value, not panic "send on
 * closed channel" later on a scheduler thread, killing the process. */
#include "test_chan_util.h"

static void test_after_closed_before_firing(void) {
    /* 200 ms: closed long before it fires, also under TSan on a busy
     * machine (1 ms was not: the value was in the buffer first). */
    gcrt_chan_t *c = gcrt_chan_after(200000000);
    gcrt_chan_close(c);
    /* Timers fire in deadline order: once this one has, so has c's. */
    gcrt_chan_recv(gcrt_chan_after(400000000), NULL, NULL);
    int64_t v = -1;
    bool ok = true;
    EXPECT_TRUE(gcrt_chan_try_recv(c, &v, &ok)); /* closed and drained */
    EXPECT_FALSE(ok);
    EXPECT_EQ(v, 0);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_after_closed_before_firing);
    return th_summary();
}
