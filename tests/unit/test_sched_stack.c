/* test_sched_stack.c - goroutine stacks: growth up to the limit, the
 * overflow report (in a child process: it must die with a clear message,
 * not a silent crash), GCRT_STACKMAX, and the stack statistics. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"
#include "sched_internal.h"

static int64_t done;
static void wait_done(int64_t n) {
    while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < n) usleep(200);
}

/* Uses about depth KiB of stack. */
#define GCRT_NOINLINE_TEST __attribute__((noinline))
static GCRT_NOINLINE_TEST int recurse(int depth) {
    volatile char buf[1000];
    buf[0] = (char)depth;
    buf[999] = 1;
    if (depth <= 0) return buf[0];
    return recurse(depth - 1) + buf[999];
}

static int deep_result;
static void deep(void *arg) {
    deep_result = recurse((int)(intptr_t)arg);
    __atomic_fetch_add(&done, 1, __ATOMIC_RELEASE);
}

static void test_growth_to_limit(void) {
    size_t old = gcrt_set_max_stack(256 << 10);
    EXPECT_GT(old, 0);
    EXPECT_EQ(gcrt_set_max_stack(0), 256 << 10);
    done = 0;
    /* ~200 KiB of a 256 KiB stack */
    gcrt_go(deep, (void *)(intptr_t)190);
    wait_done(1);
    EXPECT_EQ(deep_result, 190);
    gcrt_sched_stats_t st;
    gcrt_sched_read_stats(&st);
    EXPECT_GT(st.stack_reserved_bytes, 256 << 10);
    EXPECT_GE(st.stacks_guarded, 1);
    gcrt_set_max_stack(old);
}

static void overflow_forever(void *arg) {
    recurse(1 << 30);
}

/* Child mode: overflow a goroutine stack (packed: without guard pages). */
static int child_overflow(int packed) {
    gcrt_init();
    if (packed) gcrt__stack_set_guard_budget(0);
    gcrt_go(overflow_forever, NULL);
    sleep(30);
    return 0; /* not reached */
}

/* Child mode: a SIGSEGV sent by kill/raise (not a fault), from a
 * goroutine, with no handler of the program's: it must kill the process,
 * as without the runtime. */
static void raise_segv(void *arg) {
    (void)arg;
    raise(SIGSEGV);
    fprintf(stderr, "survived raise(SIGSEGV)\n");
    exit(0);
}
static int child_raise_segv(void) {
    gcrt_init();
    gcrt_go(raise_segv, NULL);
    sleep(30);
    return 0; /* not reached */
}

static int run_child_mode(const char *mode, const char *stackmax, char *out, size_t cap) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        if (stackmax)
            setenv("GCRT_STACKMAX", stackmax, 1);
        else
            unsetenv("GCRT_STACKMAX");
        execl("/proc/self/exe", "test_sched_stack", mode, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return status;
}

static int run_child(const char *stackmax, char *out, size_t cap) {
    return run_child_mode("overflow", stackmax, out, cap);
}

static void test_overflow_report(void) {
    char out[4096];
    int status = run_child(NULL, out, sizeof out);
    EXPECT_TRUE(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) EXPECT_EQ(WTERMSIG(status), SIGABRT);
    EXPECT_TRUE(strstr(out, "fatal error: stack overflow") != NULL);
    EXPECT_TRUE(strstr(out, "goroutine stack exceeds 1048576-byte limit") != NULL);
    EXPECT_TRUE(strstr(out, "\ngoroutine ") != NULL);
    if (!strstr(out, "fatal error: stack overflow")) fprintf(stderr, "child said:\n%s\n", out);
}

static void test_stackmax_env(void) {
    char out[4096];
    int status = run_child("64KiB", out, sizeof out);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_TRUE(strstr(out, "goroutine stack exceeds 65536-byte limit") != NULL);
    status = run_child("12 parsecs", out, sizeof out);
    EXPECT_TRUE(strstr(out, "malformed GCRT_STACKMAX") != NULL);
    /* A sign is malformed too: strtoull takes "-65536" as 2^64 - 65536,
     * which the clamp turned into a 1 TiB maximum. (A child that only
     * prints the maximum: with 1 TiB stacks an overflow never comes.) */
    run_child_mode("print-max", "-65536", out, sizeof out);
    EXPECT_TRUE(strstr(out, "malformed GCRT_STACKMAX") != NULL);
    if (!strstr(out, "malformed GCRT_STACKMAX")) fprintf(stderr, "child said:\n%s\n", out);
    run_child_mode("print-max", "+64KiB", out, sizeof out);
    EXPECT_TRUE(strstr(out, "malformed GCRT_STACKMAX") != NULL);
    run_child_mode("print-max", "64KiB", out, sizeof out);
    EXPECT_TRUE(strstr(out, "max=65536") != NULL);
}

/* The SIGSEGV handler passes a signal that is not a stack overflow on to
 * the default action by resetting it and returning, to fault again; a
 * signal sent by raise or kill is no fault and does not come back. */
static void test_sent_segv_kills(void) {
    char out[4096];
    int status = run_child_mode("raise-segv", NULL, out, sizeof out);
    EXPECT_TRUE(strstr(out, "survived") == NULL);
    EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#if !defined(__SANITIZE_ADDRESS__) /* ASan's own handler, chained, exits with 1 */
    EXPECT_TRUE(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) EXPECT_EQ(WTERMSIG(status), SIGSEGV);
#endif
    if (!WIFSIGNALED(status)) fprintf(stderr, "child said:\n%s\n", out);
}

static void sleeper(void *arg) {
    gcrt_sleep(50 * 1000 * 1000);
    __atomic_fetch_add(&done, 1, __ATOMIC_RELEASE);
}

static void test_parked_goroutines_are_cheap(void) {
    gcrt_sched_stats_t a, b;
    gcrt_sched_read_stats(&a);
    done = 0;
    for (int i = 0; i < 1000; i++) gcrt_go(sleeper, NULL);
    usleep(20000);
    gcrt_sched_read_stats(&b);
    /* The estimate counts touched pages: a parked sleeper uses one or two. */
    EXPECT_LE(b.stack_inuse_bytes - a.stack_inuse_bytes, (uint64_t)1000 * 12288);
    wait_done(1000);
}

/* Packed stacks (no guard page each): the first goroutine gets the
 * chunk's lowest slot, which sits on the chunk's guard page; the SIGSEGV
 * handler reports the overflow from the stack pointer being below the
 * stack. (A higher slot would first run through its neighbours.) */
static void test_overflow_report_packed(void) {
    char out[4096];
    int status = run_child_mode("overflow-packed", NULL, out, sizeof out);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_TRUE(strstr(out, "fatal error: stack overflow") != NULL);
    if (!strstr(out, "fatal error: stack overflow")) fprintf(stderr, "child said:\n%s\n", out);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "overflow")) return child_overflow(0);
    if (argc > 1 && !strcmp(argv[1], "overflow-packed")) return child_overflow(1);
    if (argc > 1 && !strcmp(argv[1], "raise-segv")) return child_raise_segv();
    if (argc > 1 && !strcmp(argv[1], "print-max")) {
        gcrt_init();
        fprintf(stderr, "max=%zu\n", gcrt_set_max_stack(0));
        return 0;
    }
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_growth_to_limit);
    RUN(test_overflow_report);
    RUN(test_overflow_report_packed);
    RUN(test_stackmax_env);
    RUN(test_sent_segv_kills);
    RUN(test_parked_goroutines_are_cheap);
    return th_summary();
}
