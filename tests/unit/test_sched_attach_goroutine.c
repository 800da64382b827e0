/* test_sched_attach_goroutine.c - gcrt_thread_attach / gcrt_thread_detach
 * called on a goroutine (a library that brackets its work with them, as
 * plain threads must, called from a goroutine): the goroutine is always
 * attached, may move to another thread between the two calls, and its
 * runtime M must never be detached by them. */
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"

static int rc_attach = -1, rc_detach = -1, attached_after = -1;
static int done;

static void library_call(void *arg) {
    (void)arg;
    for (int i = 0; i < 20; i++) {
        /* The library's bracket; the sleep may move us to another M. */
        int a = gcrt_thread_attach();
        gcrt_sleep(100 * 1000);
        int d = gcrt_thread_detach();
        if (a != 0) rc_attach = a;
        if (d != 0) rc_detach = d;
    }
    /* An unbalanced detach must not detach the M either. */
    gcrt_thread_detach();
    attached_after = gcrt_thread_attached();
    long *p = gcrt_alloc(64); /* the heap still works here */
    p[0] = 1;
    gcrt_sleep(100 * 1000);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
}

static void test_attach_detach_on_goroutine(void) {
    rc_attach = rc_detach = 0;
    gcrt_go(library_call, NULL);
    for (int i = 0; i < 5000 && !__atomic_load_n(&done, __ATOMIC_ACQUIRE); i++) usleep(1000);
    EXPECT_EQ(__atomic_load_n(&done, __ATOMIC_ACQUIRE), 1);
    EXPECT_EQ(rc_attach, 0);
    EXPECT_EQ(rc_detach, 0);
    EXPECT_EQ(attached_after, 1);
    /* The scheduler still runs goroutines. */
    done = 0;
    gcrt_go(library_call, NULL);
    for (int i = 0; i < 5000 && !__atomic_load_n(&done, __ATOMIC_ACQUIRE); i++) usleep(1000);
    EXPECT_EQ(__atomic_load_n(&done, __ATOMIC_ACQUIRE), 1);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_attach_detach_on_goroutine);
    return th_summary();
}
