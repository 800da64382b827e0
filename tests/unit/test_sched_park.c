/* test_sched_park.c - park/ready between plain attached threads (thread
 * Gs), unlockf semantics, and Go 1.19's wait-reason strings. */
#include <pthread.h>
#include <unistd.h>

#include "harness.h"
#include "lock.h"
#include "sched.h"

/* A one-slot mailbox in the style chan.c uses: a lock, a waiting G. */
typedef struct {
    gcrt_lock_t lock;
    gcrt_g_t *waiter;
    int value, full;
} box_t;

static int unlock_box(gcrt_g_t *g, void *arg) {
    gcrt__unlock(&((box_t *)arg)->lock);
    return 1;
}

static int box_take(box_t *b) {
    gcrt__lock(&b->lock);
    while (!b->full) {
        b->waiter = gcrt__getg();
        gcrt__park(unlock_box, b, GCRT_WAIT_CHAN_RECEIVE);
        gcrt__lock(&b->lock);
    }
    b->full = 0;
    int v = b->value;
    gcrt__unlock(&b->lock);
    return v;
}

static void box_put(box_t *b, int v) {
    gcrt__lock(&b->lock);
    b->value = v;
    b->full = 1;
    gcrt_g_t *w = b->waiter;
    b->waiter = NULL;
    gcrt__unlock(&b->lock);
    if (w) gcrt__ready(w);
}

static box_t ping = {GCRT_LOCK_INIT(GCRT_RANK_CHAN), 0, 0, 0};
static box_t pong = {GCRT_LOCK_INIT(GCRT_RANK_CHAN), 0, 0, 0};
enum { ROUNDS = 20000 };

static void *ponger(void *arg) {
    REQUIRE_EQ(gcrt_thread_attach(), 0);
    gcrt_g_t *g = gcrt__getg();
    REQUIRE_TRUE(g != NULL);
    EXPECT_EQ(g->is_thread, 1);
    for (int i = 0; i < ROUNDS; i++) box_put(&pong, box_take(&ping) + 1);
    gcrt_thread_detach();
    return NULL;
}

static void test_thread_pingpong(void) {
    pthread_t t;
    pthread_create(&t, NULL, ponger, NULL);
    long sum = 0;
    for (int i = 0; i < ROUNDS; i++) {
        box_put(&ping, i);
        sum += box_take(&pong);
    }
    pthread_join(t, NULL);
    EXPECT_EQ(sum, (long)ROUNDS * (ROUNDS - 1) / 2 + ROUNDS);
}

static int keep_running(gcrt_g_t *g, void *arg) {
    (*(int *)arg)++;
    return 0;
}

static void test_unlockf_false_returns_at_once(void) {
    int calls = 0;
    gcrt_g_t *g = gcrt__getg();
    gcrt__park(keep_running, &calls, GCRT_WAIT_SEMACQUIRE);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(g->status, GCRT_G_RUNNING);
    EXPECT_EQ(g->waitreason, 0);
}

static gcrt_g_t *sleeper;
static int note_sleeper(gcrt_g_t *g, void *arg) {
    __atomic_store_n(&sleeper, g, __ATOMIC_RELEASE);
    return 1;
}
static void *waker(void *arg) {
    while (!__atomic_load_n(&sleeper, __ATOMIC_ACQUIRE)) usleep(100);
    usleep(2000);
    gcrt_g_t *g = sleeper;
    /* While parked it shows its wait reason and when it began. */
    EXPECT_EQ(__atomic_load_n(&g->status, __ATOMIC_ACQUIRE), GCRT_G_WAITING);
    EXPECT_STR_EQ(gcrt__wait_reason_string(__atomic_load_n(&g->waitreason, __ATOMIC_RELAXED)),
                  "sync.Cond.Wait");
    EXPECT_GT(__atomic_load_n(&g->waitsince, __ATOMIC_RELAXED), 0);
    gcrt__ready(g);
    return NULL;
}

static void test_park_records_reason(void) {
    pthread_t t;
    pthread_create(&t, NULL, waker, NULL);
    gcrt__park(note_sleeper, NULL, GCRT_WAIT_SYNC_COND_WAIT);
    pthread_join(t, NULL);
    EXPECT_EQ(gcrt__getg()->waitsince, 0);
}

static void test_wait_reason_strings(void) {
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_ZERO), "");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_CHAN_RECEIVE), "chan receive");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_CHAN_SEND), "chan send");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_CHAN_RECEIVE_NIL_CHAN),
                  "chan receive (nil chan)");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_SELECT), "select");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_SELECT_NO_CASES), "select (no cases)");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_SEMACQUIRE), "semacquire");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_SLEEP), "sleep");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_SYNC_COND_WAIT), "sync.Cond.Wait");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_IO_WAIT), "IO wait");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_GC_WORKER_IDLE), "GC worker (idle)");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_DEBUG_CALL), "debug call");
    EXPECT_STR_EQ(gcrt__wait_reason_string(GCRT_WAIT_COUNT), "unknown wait reason");
    for (unsigned r = 1; r < GCRT_WAIT_COUNT; r++)
        EXPECT_GT(strlen(gcrt__wait_reason_string(r)), 0);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_wait_reason_strings);
    RUN(test_unlockf_false_returns_at_once);
    RUN(test_park_records_reason);
    RUN(test_thread_pingpong);
    return th_summary();
}
