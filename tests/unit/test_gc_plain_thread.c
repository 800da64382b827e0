/* test_gc_plain_thread.c - gcrt_gc, gcrt_set_gc_percent and
 * gcrt_set_memory_limit called from a plain thread (one the program never
 * attached) once the runtime is running: the call must not leave the
 * thread attached. An attached thread that exits is waited for by every
 * later stop-the-world, forever ("stop-the-world (GC sweep termination)
 * still waiting after 1000 ms for thread N"): the next gcrt_gc hung. */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "gcrt.h"
#include "harness.h"

static volatile int attached_after[3];

static void *plain_gc(void *arg) {
    (void)arg;
    gcrt_gc();
    attached_after[0] = gcrt_thread_attached();
    return NULL;
}

static void *plain_gogc(void *arg) {
    (void)arg;
    gcrt_set_gc_percent(gcrt_set_gc_percent(100));
    attached_after[1] = gcrt_thread_attached();
    return NULL;
}

static void *plain_memlimit(void *arg) {
    (void)arg;
    gcrt_set_memory_limit(-1);
    attached_after[2] = gcrt_thread_attached();
    return NULL;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_gc_plain_thread: FAILED: gcrt_gc hung after a plain thread "
                              "that called the collector exited\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(3);
}

static void test_plain_thread_left_detached(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    void *(*fns[3])(void *) = {plain_gc, plain_gogc, plain_memlimit};
    for (int i = 0; i < 3; i++) {
        attached_after[i] = -1;
        pthread_t t;
        REQUIRE_EQ(pthread_create(&t, NULL, fns[i], NULL), 0);
        REQUIRE_EQ(pthread_join(t, NULL), 0);
        EXPECT_EQ(attached_after[i], 0);
    }
    /* The threads have exited: a cycle must not wait for them. */
    signal(SIGALRM, on_alarm);
    alarm(10);
    struct gcrt_memstats ms0, ms1;
    gcrt_read_memstats(&ms0);
    gcrt_gc();
    gcrt_read_memstats(&ms1);
    alarm(0);
    EXPECT_EQ(ms1.num_gc, ms0.num_gc + 1);
}

int main(void) {
    RUN(test_plain_thread_left_detached);
    return th_summary();
}
