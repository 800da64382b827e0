/* test_oom.c - running out of memory: a small reservation, an address-space
 * limit, bad GCRT_HEAP_RESERVE values. Each case runs in a fresh child
 * process, since the runtime reads its environment once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/child.h"
#include "gcrt.h"
#include "harness.h"

/* Fills a 64 MiB reservation with 1 MiB objects through gcrt_try_alloc,
 * then checks that every object is intact and that the failure changed
 * nothing. Exit status 0 = all good. */
static void child_fill_reservation(void *arg) {
    setenv("GCRT_HEAP_RESERVE", "64MiB", 1);
    if (gcrt_init() != 0) _exit(10);
    enum { MAXOBJ = 256, SZ = 1 << 20 };
    static unsigned char *objs[MAXOBJ];
    int n = 0;
    while (n < MAXOBJ) {
        unsigned char *p = gcrt_try_alloc(SZ, GCRT_NOSCAN);
        if (!p) {
            if (errno != ENOMEM) _exit(11);
            break;
        }
        memset(p, n & 0xFF, SZ);
        objs[n++] = p;
    }
    if (n < 50 || n > 64) _exit(12); /* 64 MiB holds at most 64 of them */
    struct gcrt_memstats a, b;
    gcrt_read_memstats(&a);
    if (gcrt_try_alloc(SZ, 0) != NULL || errno != ENOMEM) _exit(13);
    gcrt_read_memstats(&b);
    if (a.mallocs != b.mallocs || a.heap_alloc != b.heap_alloc) _exit(14);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < SZ; j += 4096)
            if (objs[i][j] != (i & 0xFF)) _exit(15);
    /* Small objects still work from what is left, after a free. */
    gcrt_free(objs[0]);
    for (int i = 0; i < 1000; i++)
        if (!gcrt_try_alloc(64, 0)) _exit(16);
    fprintf(stderr, "filled with %d objects\n", n);
    /* And the ordinary path stops with the sizes. */
    gcrt_alloc((size_t)100 << 20);
    _exit(17);
}

static void test_fill_reservation(void) {
    struct child_result r;
    run_in_child(child_fill_reservation, NULL, &r);
    EXPECT_EQ(r.exited, 0);
    EXPECT_EQ(r.signaled, SIGABRT);
    if (!strstr(r.err, "fatal error: out of memory allocating 104857600 bytes"))
        FAILF("stderr: %s", r.err);
    if (!strstr(r.err, "67108864-byte reservation")) FAILF("stderr: %s", r.err);
}

static void child_bad_reserve(void *arg) {
    setenv("GCRT_HEAP_RESERVE", (const char *)arg, 1);
    gcrt_init();
    _exit(0);
}

static void test_bad_reserve(void) {
    const char *bad[] = {"lots", "64MB", "1k", "-5", "1KiB"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct child_result r;
        run_in_child(child_bad_reserve, (void *)bad[i], &r);
        EXPECT_EQ(r.signaled, SIGABRT);
        if (!strstr(r.err, "fatal error: malformed GCRT_HEAP_RESERVE"))
            FAILF("%s: %s", bad[i], r.err);
    }
}

/* ulimit -v: the 64 GiB reservation does not fit; the runtime reserves
 * less and reports out of memory cleanly when that runs out. */
static void child_rlimit(void *arg) {
    struct rlimit rl = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(20);
    if (gcrt_init() != 0) _exit(21);
    size_t total = 0;
    while (gcrt_try_alloc(4 << 20, GCRT_NOSCAN)) total += 4 << 20;
    if (errno != ENOMEM) _exit(22);
    if (total < (64u << 20)) _exit(23);
    fprintf(stderr, "allocated %zu MiB under a 1 GiB address-space limit\n", total >> 20);
    gcrt_alloc(4 << 20);
    _exit(24);
}

static void test_rlimit(void) {
#ifdef GCRT_SANITIZER
    fprintf(stderr, "skipped: sanitizers need more address space than the limit allows\n");
    return;
#endif
    struct child_result r;
    run_in_child(child_rlimit, NULL, &r);
    EXPECT_EQ(r.signaled, SIGABRT);
    if (!strstr(r.err, "fatal error: out of memory allocating 4194304 bytes"))
        FAILF("stderr: %s (exit %d)", r.err, r.status);
}

int main(void) {
    RUN(test_fill_reservation);
    RUN(test_bad_reserve);
    RUN(test_rlimit);
    return th_summary();
}
