/* test_sched_list.c - the goroutine listing: a deliberate leak (goroutines
 * blocked forever) is visible with its wait reason, wait start, creation
 * site, parent and stack; runnable and running goroutines; threads. */
#include <pthread.h>
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"
#include "lock.h"
#include "sched.h"

#define NOINLINE __attribute__((noinline))
enum { NLEAK = 50 };

static gcrt_lock_t never_lock = GCRT_LOCK_INIT(GCRT_RANK_CHAN);
static int nblocked;
static int unlock_never(gcrt_g_t *g, void *arg) {
    nblocked++;
    gcrt__unlock(&never_lock);
    return 1;
}

/* Blocks forever, like a receive from a channel nobody sends on. */
static NOINLINE void leaked_receive(void) {
    gcrt__lock(&never_lock);
    gcrt__park(unlock_never, NULL, GCRT_WAIT_CHAN_RECEIVE);
    __asm__ __volatile__("" ::: "memory");
}
static NOINLINE void leaker(void *arg) {
    leaked_receive();
    __asm__ __volatile__("" ::: "memory");
}

static int64_t spawner_id;
static NOINLINE void spawner(void *arg) {
    spawner_id = gcrt_goid();
    for (int i = 0; i < NLEAK; i++) gcrt_go(leaker, NULL);
    __asm__ __volatile__("" ::: "memory");
}

static int in_fn(uintptr_t pc, void *fn) {
    return pc > (uintptr_t)fn && pc < (uintptr_t)fn + 512;
}

static void test_leak_visible(void) {
    gcrt_go(spawner, NULL);
    /* Every leaker parked, and the spawner gone: the last leaker may park
     * on another P while the spawner has yet to return (its thread
     * preempted on a loaded machine), and then it would be listed too and
     * counted, or leave between the listings below. */
    for (int i = 0; i < 5000; i++) {
        gcrt__lock(&never_lock);
        int n = nblocked;
        gcrt__unlock(&never_lock);
        if (n == NLEAK && gcrt_num_goroutine() == NLEAK) break;
        usleep(1000);
    }
    static gcrt_goroutine_t list[256];
    int64_t n = gcrt_goroutine_list(list, 256, 0);
    EXPECT_GE(n, NLEAK);
    int leaks = 0;
    int64_t now = gcrt_nanotime();
    for (int64_t i = 0; i < n && i < 256; i++) {
        gcrt_goroutine_t *r = &list[i];
        if (r->start_pc != (uintptr_t)leaker) continue;
        leaks++;
        EXPECT_EQ(r->status, GCRT_GSTATUS_WAITING);
        EXPECT_STR_EQ(r->state, "chan receive");
        EXPECT_STR_EQ(r->wait_reason, "chan receive");
        EXPECT_GT(r->wait_since_ns, 0);
        EXPECT_LE(r->wait_since_ns, now);
        EXPECT_EQ(r->parent_id, spawner_id);
        EXPECT_TRUE(in_fn(r->create_pc, spawner));
        EXPECT_FALSE(r->is_thread);
        /* The stack: ... leaked_receive, leaker, (entry) */
        int saw_recv = 0, saw_leaker = 0;
        for (int k = 0; k < r->npc; k++) {
            saw_recv |= in_fn(r->pc[k], leaked_receive);
            saw_leaker |= in_fn(r->pc[k], leaker);
        }
        EXPECT_TRUE(saw_recv);
        EXPECT_TRUE(saw_leaker);
        if (leaks == 1 && (!saw_recv || !saw_leaker))
            for (int k = 0; k < r->npc; k++) fprintf(stderr, "  pc %p\n", (void *)r->pc[k]);
    }
    EXPECT_EQ(leaks, NLEAK);
    /* The caller is listed only with GCRT_LIST_THREADS (it is a thread). */
    int64_t n2 = gcrt_goroutine_list(list, 256, GCRT_LIST_THREADS);
    EXPECT_GE(n2, n + 1);
    EXPECT_EQ(list[0].is_thread, 1);
    EXPECT_EQ(list[0].id, gcrt_goid());
    EXPECT_STR_EQ(list[0].state, "running");
    EXPECT_GT(list[0].npc, 0);
    EXPECT_EQ(gcrt_num_goroutine(), NLEAK);
    /* A short buffer: the count is still the full count. */
    EXPECT_EQ(gcrt_goroutine_list(list, 2, 0), n);
}

/* A goroutine lists itself first, as "running". */
static int64_t self_ok = -1;
static void lister(void *arg) {
    gcrt_goroutine_t list[4];
    int64_t n = gcrt_goroutine_list(list, 4, 0);
    int64_t ok = n >= 1 && list[0].id == gcrt_goid() && list[0].status == GCRT_GSTATUS_RUNNING &&
                 list[0].npc > 0;
    __atomic_store_n(&self_ok, ok, __ATOMIC_RELEASE);
}
static void test_self_first(void) {
    gcrt_go(lister, NULL);
    while (__atomic_load_n(&self_ok, __ATOMIC_ACQUIRE) < 0) usleep(1000);
    EXPECT_EQ(self_ok, 1);
}

/* A plain thread blocked in park shows up with its wait reason. */
static gcrt_g_t *parked_thread;
static int note_thread(gcrt_g_t *g, void *arg) {
    __atomic_store_n(&parked_thread, g, __ATOMIC_RELEASE);
    return 1;
}
static void *thread_parker(void *arg) {
    gcrt_thread_attach();
    gcrt__park(note_thread, NULL, GCRT_WAIT_SEMACQUIRE);
    gcrt_thread_detach();
    return NULL;
}
static void test_thread_listed(void) {
    pthread_t t;
    pthread_create(&t, NULL, thread_parker, NULL);
    while (!__atomic_load_n(&parked_thread, __ATOMIC_ACQUIRE)) usleep(1000);
    static gcrt_goroutine_t list[256];
    int64_t n = gcrt_goroutine_list(list, 256, GCRT_LIST_THREADS);
    int found = 0;
    for (int64_t i = 0; i < n && i < 256; i++) {
        if (list[i].id != parked_thread->goid) continue;
        found = 1;
        EXPECT_EQ(list[i].is_thread, 1);
        EXPECT_STR_EQ(list[i].state, "semacquire");
        EXPECT_GT(list[i].npc, 0);
    }
    EXPECT_TRUE(found);
    gcrt__ready(parked_thread);
    pthread_join(t, NULL);
}

/* Runtime-internal goroutines stay out of counts and default listings. */
static int sys_started;
static void sys_fn(void *arg) {
    __atomic_store_n(&sys_started, 1, __ATOMIC_RELEASE);
    gcrt__lock(&never_lock);
    gcrt__park(unlock_never, NULL, GCRT_WAIT_GC_WORKER_IDLE);
}
static void test_system_goroutines(void) {
    int64_t before = gcrt_num_goroutine();
    int64_t id = gcrt__go_system(sys_fn, NULL);
    EXPECT_GT(id, 0);
    while (!__atomic_load_n(&sys_started, __ATOMIC_ACQUIRE)) usleep(1000);
    usleep(5000);
    EXPECT_EQ(gcrt_num_goroutine(), before);
    static gcrt_goroutine_t list[256];
    int64_t n = gcrt_goroutine_list(list, 256, 0);
    for (int64_t i = 0; i < n && i < 256; i++) EXPECT_NE(list[i].id, id);
    int64_t n2 = gcrt_goroutine_list(list, 256, GCRT_LIST_SYSTEM);
    EXPECT_EQ(n2, n + 1);
    int found = 0;
    for (int64_t i = 0; i < n2 && i < 256; i++)
        if (list[i].id == id) {
            found = 1;
            EXPECT_EQ(list[i].is_system, 1);
            EXPECT_STR_EQ(list[i].state, "GC worker (idle)");
        }
    EXPECT_TRUE(found);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_leak_visible);
    RUN(test_self_first);
    RUN(test_thread_listed);
    RUN(test_system_goroutines);
    return th_summary();
}
