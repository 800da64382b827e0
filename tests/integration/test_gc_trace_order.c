/* test_gc_trace_order.c - the gctrace line of a cycle is written before
 * gcrt_gc returns (Go: gcMarkTermination prints it before runtime.GC's
 * waiter can go on, and NumGC "right after the cycle" equals the line's N):
 * a program that calls gcrt_gc and exits must not lose its last line. The
 * child, with GODEBUG=gctrace=1, calls gcrt_gc 20 times and writes a marker
 * to stderr after each; the forced line of each cycle must precede the
 * marker. */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcrt.h"
#include "common/run_self.h"
#include "harness.h"

/* ---- the test ---------------------------------------------------------------- */

static int child(void) {
    gcrt_init();
    for (int i = 1; i <= 20; i++) {
        gcrt_gc();
        struct gcrt_memstats ms;
        gcrt_read_memstats(&ms);
        char buf[64];
        int n = snprintf(buf, sizeof buf, "returned numgc=%u\n", ms.num_gc);
        if (write(2, buf, (size_t)n) != n) return 1;
    }
    return 0;
}

static void test_line_before_gc_returns(void) {
    const char *env[] = {"GODEBUG=gctrace=1", NULL};
    struct run r;
    run_self("child", env, &r);
    EXPECT_EQ(r.status, 0);
    unsigned printed = 0, late = 0, markers = 0;
    for (char *s = r.err; s && *s;) {
        char *e = strchr(s, '\n');
        if (e) *e = 0;
        unsigned n;
        if (sscanf(s, "gc %u @", &n) == 1) printed = n;
        if (sscanf(s, "returned numgc=%u", &n) == 1) {
            markers++;
            if (printed < n) {
                late++;
                fprintf(stderr, "gcrt_gc returned with NumGC %u, last line printed gc %u\n", n,
                        printed);
            }
        }
        s = e ? e + 1 : NULL;
    }
    EXPECT_EQ(markers, 20);
    EXPECT_EQ(late, 0);
    free_run(&r);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
    RUN(test_line_before_gc_returns);
    return th_summary();
}
