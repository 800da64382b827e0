/* test_scavenge_held.c - gcrt_free_os_memory while the background
 * scavenger is in madvise: the scavenger takes the free run it works on
 * off the free lists while it releases a chunk of it, so a forced
 * scavenge that only walks the lists saw nothing to release and returned
 * with the whole run still resident (CI: HeapReleased 0 of HeapIdle 32 MiB,
 * 1 run in 5). The hook (assert level 2) holds the background scavenger
 * at that point while this thread calls gcrt_free_os_memory. GOGC=off
 * (props.cmake): no cycle, so the background scavenger's goal is 110% of
 * what is in use and it starts on the freed run at once.
 *
 * The same hold shows what the forced scavtrace line counts as its work:
 * only what gcrt_free_os_memory released itself (Go: scavengeAll prints
 * its own release), not the background scavenger's chunk, which goes to
 * the next sweep's line (Go's mheap_.pages.scav.released); gcrt printed
 * everything released since the last line of either kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/child.h"
#include "common/memstats_check.h"
#include "gcrt.h"
#include "harness.h"
#include "mheap.h"
#include "os.h"

#if GCRT_ASSERT_LEVEL >= 2
static uint32_t holding;

static void hold(void) {
    gcrt__release_test_hook = NULL;
    __atomic_store_n(&holding, 1, __ATOMIC_RELEASE);
    /* Long enough for the other thread's collection to end and its
     * scavenge to walk the lists; shorter than its 50 ms wait. */
    gcrt__os_sleep_ns(30 * 1000 * 1000);
}

enum { N = 32, SZ = 1 << 20 };

static void free_while_held(void) {
    void *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = gcrt_alloc_noscan(SZ);
        memset(objs[i], 7, SZ);
    }
    gcrt__release_test_hook = hold;
    for (int i = 0; i < N; i++) gcrt_free(objs[i]);
    for (int t = 0; t < 10000 && !__atomic_load_n(&holding, __ATOMIC_ACQUIRE); t++) usleep(1000);
    gcrt_free_os_memory();
}

static void child_scavtrace(void *arg) {
    (void)arg;
    setenv("GODEBUG", "scavtrace=1", 1);
    if (gcrt_init() != 0) _exit(10);
    free_while_held();
    _exit(__atomic_load_n(&holding, __ATOMIC_ACQUIRE) ? 0 : 11);
}

static void test_forced_scavtrace_work(void) {
    struct child_result r;
    run_in_child(child_scavtrace, NULL, &r);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
    const char *l = strstr(r.err, " (forced)");
    REQUIRE_TRUE(l != NULL);
    while (l > r.err && l[-1] != '\n') l--;
    unsigned long long work = 0, total = 0;
    REQUIRE_EQ(sscanf(l, "scav %llu KiB work, %llu KiB total", &work, &total), 2);
    /* Everything is released by then; the background scavenger released
     * its chunk (64 KiB) or more of it, the call the rest. */
    EXPECT_UGE(total, (uint64_t)N * SZ >> 10);
    EXPECT_ULE(work, total - 64);
    /* and the call released most of it (the background scavenger, paced
     * to 1% of a CPU, a chunk every few ms) */
    EXPECT_UGE(work, (uint64_t)N * SZ >> 11);
    if (work > total - 64 || work < (uint64_t)N * SZ >> 11) fputs(r.err, stderr);
}

static void test_free_os_memory_while_held(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    free_while_held();
    REQUIRE_TRUE(__atomic_load_n(&holding, __ATOMIC_ACQUIRE)); /* the scavenger held the run */
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    check_memstats_invariants(&ms);
    EXPECT_UEQ(ms.heap_released, ms.heap_idle);
    EXPECT_UGE(ms.heap_idle, (uint64_t)N * SZ);
}
#endif

int main(void) {
#if GCRT_ASSERT_LEVEL >= 2
    RUN(test_forced_scavtrace_work); /* a child: before this process starts the runtime */
    RUN(test_free_os_memory_while_held);
#endif
    return th_summary();
}
