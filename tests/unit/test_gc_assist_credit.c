/* test_gc_assist_credit.c - the background workers' scan credit (gc.c,
 * Go's bgScanCredit): mark workers add the scan work they do, and a mark
 * assist pays its debt from that credit before it marks itself.
 *   1. take/add arithmetic: a take gets at most what there is, never a
 *      negative amount, and adds of nothing are ignored;
 *   2. an assist with a debt takes credit (and its debt is paid) instead of
 *      leaving the credit to the workers and marking itself;
 *   3. a cycle's start zeroes the credit: what one cycle's workers did does
 *      not pay the next cycle's assists.
 * No timing. */
#include <stdint.h>

#include "gcrt.h"
#include "harness.h"
#include "gc.h"
#include "mcache.h"
#include "proc.h"

/* Empties the credit (a cycle may have left some). */
static void drain_credit(void) {
    while (gcrt__gc_bg_credit_take(INT64_MAX / 2) > 0) {
    }
}

static void test_take_is_bounded_by_the_credit(void) {
    drain_credit();
    EXPECT_EQ(gcrt__gc_bg_credit_take(100), 0);
    gcrt__gc_bg_credit_add(0);
    gcrt__gc_bg_credit_add(-50);
    EXPECT_EQ(gcrt__gc_bg_credit(), 0);
    gcrt__gc_bg_credit_add(100);
    EXPECT_EQ(gcrt__gc_bg_credit_take(30), 30);
    EXPECT_EQ(gcrt__gc_bg_credit_take(0), 0);
    EXPECT_EQ(gcrt__gc_bg_credit_take(-1), 0);
    EXPECT_EQ(gcrt__gc_bg_credit_take(1000), 70);
    EXPECT_EQ(gcrt__gc_bg_credit_take(1), 0);
    EXPECT_EQ(gcrt__gc_bg_credit(), 0);
}

/* No mark is running, so an assist cannot mark: without the credit its
 * debt could only be forgiven, and the credit would stay where it is. */
static void test_assist_pays_from_the_credit(void) {
    gcrt_m_t *m = gcrt__tls_m;
    EXPECT_TRUE(m != NULL && m->mcache != NULL);
    if (!m || !m->mcache) return;
    gcrt_mcache_t *c = m->mcache;
    drain_credit();
    const int64_t big = (int64_t)1 << 40; /* more than any assist asks for */
    gcrt__gc_bg_credit_add(big);
    c->assist_credit = 0;
    gcrt__gc_assist(c, 64 << 10);
    int64_t taken = big - gcrt__gc_bg_credit();
    EXPECT_GT(taken, 0);
    EXPECT_TRUE(c->assist_credit >= 0);
    drain_credit();
}

static void test_cycle_start_zeroes_the_credit(void) {
    drain_credit();
    const int64_t big = (int64_t)1 << 50;
    gcrt__gc_bg_credit_add(big);
    gcrt_gc(); /* a whole cycle: its workers add at most the heap's scan work */
    EXPECT_TRUE(gcrt__gc_bg_credit() < big / 2);
    drain_credit();
}

int main(void) {
    EXPECT_EQ(gcrt_init(), 0);
    RUN(test_take_is_bounded_by_the_credit);
    RUN(test_assist_pays_from_the_credit);
    RUN(test_cycle_start_zeroes_the_credit);
    return th_summary();
}
