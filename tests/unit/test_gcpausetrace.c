/* test_gcpausetrace.c - GODEBUG=gcpausetrace=1's lines: each stop's total is
 * the sum of its steps up to the restart, and the wake-up of the stopped
 * threads after the world runs again is its own figure, "wake", outside
 * the total (the caller of the wake-up can be descheduled in it for
 * milliseconds by a thread it woke, while the world runs: a 2-8 ms "total"
 * with 2 program threads on 2 CPUs, PauseNs 0.05 ms).
 *
 * The child collects a few times with the trace on; the parent parses
 * every stw1/stw2 line. No check bounds a duration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcrt.h"
#include "harness.h"
#include "common/child.h"

static void **head;

static void child_collect(void *arg) {
    (void)arg;
    setenv("GODEBUG", "gcpausetrace=1", 1);
    setenv("GOGC", "off", 1);
    if (gcrt_init() != 0) _exit(10);
    gcrt_add_roots(&head, &head + 1);
    for (int i = 0; i < 100000; i++) {
        void **n = gcrt_alloc(32);
        n[0] = head;
        head = n;
    }
    for (int i = 0; i < 3; i++) gcrt_gc();
    _exit(0);
}

/* "12.3" (µs, one decimal) -> tenths of µs. */
static long tenths(const char *s) {
    long ip = strtol(s, NULL, 10);
    const char *dot = strchr(s, '.');
    return ip * 10 + (dot ? dot[1] - '0' : 0);
}

static void test_total_is_the_stop(void) {
    struct child_result r;
    run_in_child(child_collect, NULL, &r);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
    int lines = 0;
    for (char *line = strtok(r.err, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "gcpause ", 8) != 0) continue;
        if (!strstr(line, " stw1 ") && !strstr(line, " stw2 ")) continue;
        lines++;
        const char *tp = strstr(line, " total=");
        if (!tp) {
            FAILF("no total in: %s", line);
            continue;
        }
        long total = tenths(tp + 7), sum = 0, wake = -1;
        int steps = 0;
        const char *end = strstr(line, " [");
        if (!end) end = line + strlen(line);
        /* The steps: " name=12.3us" after the total, up to the detail. */
        for (const char *p = strchr(tp + 1, ' '); p && p < end; p = strchr(p + 1, ' ')) {
            const char *eq = strchr(p, '=');
            if (!eq || eq > end) break;
            if (strncmp(p, " wake=", 6) == 0) {
                wake = tenths(eq + 1);
                EXPECT_EQ(strchr(p + 1, ' '), end); /* the last step */
                continue;
            }
            sum += tenths(eq + 1);
            steps++;
        }
        if (wake < 0) FAILF("no wake= step in: %s", line);
        EXPECT_GT(steps, 2);
        /* Each figure is truncated to 0.1 us. */
        EXPECT_LE(sum, total);
        EXPECT_LE(total - sum, (long)steps + 1);
    }
    EXPECT_GE(lines, 6); /* 3 cycles, 2 stops each */
}

int main(void) {
    RUN(test_total_is_the_stop);
    return th_summary();
}
