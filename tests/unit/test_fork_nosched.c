/* test_fork_nosched.c - goroutines, timers and finalizers in the child of a
 * fork (fork.c: gcrt__fork_child_without_sched).
 *
 * The child of a fork has one thread. Forked before the scheduler started,
 * it starts its own scheduler on first use: goroutines run, timers fire.
 * Forked after, none of the scheduler's threads are in it: before this
 * check a goroutine it started never ran and a timer never fired, and a
 * child waiting for either hung without a word. Now gcrt_go returns
 * -ENOTSUP and arming a timer or setting a finalizer is named on stderr,
 * once per kind, while allocation and collection go on.
 *  1. fork before the scheduler starts: the child's goroutine and timer
 *     run, and nothing is said;
 *  2. fork after: gcrt_go returns -ENOTSUP (twice), a timer and a
 *     finalizer are armed; stderr names each kind exactly once; gcrt_gc
 *     and allocation work; the parent's scheduler still runs goroutines.
 * Every child runs under alarm(20): a hang is a failure. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_chan.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "common/child.h"

static void send42(void *arg) {
    int v = 42;
    gcrt_chan_send((gcrt_chan_t *)arg, &v);
}

static void fin(void *obj, void *arg) {
    (void)obj;
    (void)arg;
}

static void tick(void *arg) {
    (void)arg;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

static int before(void) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    if (gcrt_go(send42, c) <= 0) return 2;
    int v = 0;
    gcrt_chan_recv(c, &v, NULL);
    if (v != 42) return 3;
    int64_t t = 0;
    gcrt_chan_recv(gcrt_chan_after(1000000), &t, NULL);
    return t > 0 ? 0 : 4;
}

/* In the child (run_in_child): a hang is a failure, and the exit status
 * says which check failed. */
static void child_before(void *arg) {
    (void)arg;
    alarm(20);
    _exit(before());
}

static struct child_result res;

static void test_fork_before_scheduler(void) {
    run_in_child(child_before, NULL, &res);
    EXPECT_EQ(res.exited, 1);
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(count(res.err, "gcrt: in the child of a fork"), 0);
}

static int after(void) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    if (gcrt_go(send42, c) != -ENOTSUP) return 2;
    if (gcrt_go(send42, c) != -ENOTSUP) return 3;
    static gcrt_timer_t tm;
    gcrt_timer_init(&tm, tick, NULL);
    gcrt_timer_reset(&tm, 1000000000, 0);
    (void)gcrt_chan_after(1000000000);
    void *obj = gcrt_alloc(64);
    if (gcrt_set_finalizer(obj, fin, NULL) != 0) return 4;
    if (gcrt_set_finalizer(gcrt_alloc(64), fin, NULL) != 0) return 5;
    /* Allocation and collection go on. */
    for (int i = 0; i < 100000; i++) (void)gcrt_alloc(64);
    gcrt_gc();
    gcrt_keep_alive(obj);
    return 0;
}

static void child_after(void *arg) {
    (void)arg;
    alarm(20);
    _exit(after());
}

static void test_fork_after_scheduler(void) {
    /* Start the scheduler: a goroutine runs. */
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    EXPECT_GT(gcrt_go(send42, c), 0);
    int v = 0;
    gcrt_chan_recv(c, &v, NULL);
    EXPECT_EQ(v, 42);

    run_in_child(child_after, NULL, &res);
    EXPECT_EQ(res.exited, 1);
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(count(res.err, "gcrt: in the child of a fork made after the scheduler started"), 3);
    EXPECT_EQ(count(res.err, "goroutines do not run (gcrt_go returns -ENOTSUP)"), 1);
    EXPECT_EQ(count(res.err, "timers do not fire"), 1);
    EXPECT_EQ(count(res.err, "finalizers do not run"), 1);
    if (count(res.err, "gcrt:") != 3) fprintf(stderr, "child's stderr:\n%s", res.err);

    /* The parent's scheduler runs goroutines as before. */
    EXPECT_GT(gcrt_go(send42, c), 0);
    v = 0;
    gcrt_chan_recv(c, &v, NULL);
    EXPECT_EQ(v, 42);
}

int main(void) {
    if (gcrt_init() != 0) return 1;
    RUN(test_fork_before_scheduler);
    RUN(test_fork_after_scheduler);
    return th_summary();
}
