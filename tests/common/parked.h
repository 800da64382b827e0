/* parked.h - many goroutines parked on a channel, for tests that need the
 * runtime to hold goroutine stacks (memory outside the heap). */
#ifndef GCRT_TESTS_PARKED_H
#define GCRT_TESTS_PARKED_H
#include "gcrt.h"
#include "gcrt_chan.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "sched_internal.h"

static gcrt_chan_t *parked_block;
static gcrt_chan_t *parked_ready;

static void parked_main(void *arg) {
    (void)arg;
    int one = 1;
    gcrt_chan_send(parked_ready, &one);
    gcrt_chan_recv(parked_block, NULL, NULL); /* until closed */
}

/* Starts n goroutines, returns once all are parked and the stack
 * statistics are published (sysmon does it every period). */
static void park_goroutines(int n) {
    parked_block = gcrt_chan_make(sizeof(int), 0);
    parked_ready = gcrt_chan_make(sizeof(int), (size_t)n);
    for (int i = 0; i < n; i++) REQUIRE_TRUE(gcrt_go(parked_main, NULL) > 0);
    for (int i = 0; i < n; i++) gcrt_chan_recv(parked_ready, NULL, NULL);
    gcrt__stack_publish();
}

/* Lets them all finish. */
static void release_goroutines(void) {
    gcrt_chan_close(parked_block);
}
#endif
