/* test_scavenger.c - returning memory to the OS: the background scavenger
 * on its own, debug.FreeOSMemory, MADV_FREE (GODEBUG=madvdontneed=0), the
 * scavtrace line, and the retention goal. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/child.h"
#include "common/memstats_check.h"
#include "gcrt.h"
#include "harness.h"
#include "os.h"
#include "scavenge.h"

static void test_goal(void) {
    /* No GC cycle yet: 110% of what is in use, rounded up to pages. */
    EXPECT_UEQ(gcrt__scavenge_goal(100 << 20, 0, 0, 0, 8192), 110 << 20);
    EXPECT_UEQ(gcrt__scavenge_goal(1000, 0, 0, 0, 8192), 8192);
    /* After a cycle: lastHeapInUse scaled by the goal's growth, +10%. */
    EXPECT_UEQ(gcrt__scavenge_goal(0, 40 << 20, 80 << 20, 40 << 20, 8192), 88 << 20);
    EXPECT_UEQ(gcrt__scavenge_goal(0, 40 << 20, 20 << 20, 40 << 20, 8192), 22 << 20);
}

static void child_background(void *arg) {
    if (gcrt_init() != 0) _exit(10);
    enum { N = 64, SZ = 1 << 20 };
    static void *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = gcrt_alloc_noscan(SZ);
        memset(objs[i], 1, SZ);
    }
    size_t rss_full = gcrt__os_rss();
    for (int i = 0; i < N; i++) gcrt_free(objs[i]);
    struct gcrt_memstats ms;
    /* No explicit call: the background scavenger must bring retained memory
     * down to its goal (110% of HeapInuse) by itself. */
    int ok = 0;
    for (int t = 0; t < 300 && !ok; t++) {
        usleep(100 * 1000);
        gcrt_read_memstats(&ms);
        ok = ms.heap_sys - ms.heap_released <= ms.heap_inuse * 11 / 10 + (1 << 20);
    }
    size_t rss_after = gcrt__os_rss();
    fprintf(stderr, "background: HeapReleased %llu of HeapIdle %llu, RSS %zu -> %zu\n",
            (unsigned long long)ms.heap_released, (unsigned long long)ms.heap_idle, rss_full,
            rss_after);
    if (!ok) _exit(11);
    if (rss_after + (48u << 20) > rss_full) _exit(12);
    _exit(0);
}

static void test_background(void) {
    struct child_result r;
    run_in_child(child_background, NULL, &r);
    fputs(r.err, stderr);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
}

static void child_madvfree(void *arg) {
    setenv("GODEBUG", "madvdontneed=0,scavtrace=1", 1);
    if (gcrt_init() != 0) _exit(10);
    unsigned char *p = gcrt_alloc_noscan(8 << 20);
    memset(p, 0xCC, 8 << 20);
    gcrt_free(p);
    gcrt_free_os_memory(); /* prints the forced scavtrace line */
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    if (ms.heap_released < (8u << 20)) _exit(11);
    /* MADV_FREE pages may keep their bytes: reuse must still be zeroed. */
    unsigned char *q = gcrt_alloc_noscan(8 << 20);
    for (int i = 0; i < (8 << 20); i++)
        if (q[i]) _exit(12);
    _exit(0);
}

/* The 8 MiB is released by the forced scavenge, or partly by the background
 * scavenger before it (GOGC=off: its goal is 110% of what is in use, so it
 * starts on the freed run at once); that part is the work of the scav line
 * the forced call's collection prints when its sweep ends, the rest the
 * forced line's. Together the lines' work is the 8 MiB. */
static void test_madvfree_and_scavtrace(void) {
    struct child_result r;
    run_in_child(child_madvfree, NULL, &r);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
    regex_t re;
    REQUIRE_EQ(regcomp(&re, "^scav [0-9]+ KiB work, [0-9]+ KiB total, [0-9]+% util \\(forced\\)$",
                       REG_EXTENDED | REG_NEWLINE),
               0);
    if (regexec(&re, r.err, 0, NULL, 0) != 0) FAILF("no scavtrace line in: %s", r.err);
    regfree(&re);
    unsigned long long work = 0, w, total = 0;
    int forced_last = 0;
    for (const char *l = r.err, *end; (end = strchr(l, '\n')) != NULL; l = end + 1) {
        if (sscanf(l, "scav %llu KiB work, %llu KiB total", &w, &total) != 2) continue;
        work += w;
        forced_last = end - l >= 9 && memcmp(end - 9, " (forced)", 9) == 0;
    }
    EXPECT_TRUE(forced_last);
    EXPECT_UGE(total, 8192); /* the forced line's HeapReleased */
    /* Each line's work is what its releaser did (the forced line: the
     * call's own; a sweep's line: the background scavenger's since the
     * last one; Go's), so a release is counted once at most, and the
     * background's after the call's cycle in no line here: the sum is at
     * most the total. test_scavenge_held checks the forced line's part. */
    if (work > total) FAILF("more work than released in all: %s", r.err);
}

static void test_free_os_memory(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    enum { N = 32, SZ = 1 << 20 };
    void *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = gcrt_alloc(SZ);
        memset(objs[i], 7, SZ);
    }
    /* A first cycle maps the collector's own buffers (the root snapshot:
     * 15 MB under ASan, which has 12 MB of globals): not what this
     * measures. */
    gcrt_gc();
    size_t rss_full = gcrt__os_rss();
    for (int i = 0; i < N; i++) gcrt_free(objs[i]);
    gcrt_free_os_memory();
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    check_memstats_invariants(&ms);
    EXPECT_UEQ(ms.heap_released, ms.heap_idle);
    size_t rss_after = gcrt__os_rss();
    EXPECT_ULT(rss_after + (24u << 20), rss_full);
}

int main(void) {
    RUN(test_goal);
    RUN(test_background);
    RUN(test_madvfree_and_scavtrace);
    RUN(test_free_os_memory);
    return th_summary();
}
