/* harness.h - the tiny in-tree test harness (../shared/STYLE.md habit 10).
 *
 *   static void test_thing(void) { EXPECT_EQ(f(2), 4); }
 *   int main(void) { RUN(test_thing); return th_summary(); }
 *
 * Every failed check prints the file, line, the expression and both operands.
 * A check that fails does not stop the test; REQUIRE* checks stop the whole
 * program (use them when continuing would crash). th_summary() prints
 * "<program>: N passed, N failed" and returns the exit status.
 */
#ifndef GCRT_TESTS_HARNESS_H
#define GCRT_TESTS_HARNESS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int th_checks_failed;
static int th_tests_passed, th_tests_failed;
static const char *th_current = "?";

static inline void th_fail_int(const char *file, int line, const char *expr, const char *op,
                               const char *ea, const char *eb, long long a, long long b) {
    fprintf(stderr,
            "%s:%d: %s: FAILED %s\n    %s = %lld (0x%llx)\n    %s = %lld (0x%llx)\n    expected %s "
            "%s %s\n",
            file, line, th_current, expr, ea, a, (unsigned long long)a, eb, b,
            (unsigned long long)b, ea, op, eb);
    th_checks_failed++;
}

#define TH_CMP(a, b, op, stop)                                                                     \
    do {                                                                                           \
        long long th_a_ = (long long)(a), th_b_ = (long long)(b);                                  \
        if (!(th_a_ op th_b_)) {                                                                   \
            th_fail_int(__FILE__, __LINE__, #a " " #op " " #b, #op, #a, #b, th_a_, th_b_);         \
            if (stop) exit(2);                                                                     \
        }                                                                                          \
    } while (0)

/* Unsigned comparison: for sizes and addresses above INT64_MAX. */
#define TH_UCMP(a, b, op, stop)                                                                    \
    do {                                                                                           \
        unsigned long long th_a_ = (unsigned long long)(a), th_b_ = (unsigned long long)(b);       \
        if (!(th_a_ op th_b_)) {                                                                   \
            th_fail_int(__FILE__, __LINE__, #a " " #op " " #b, #op, #a, #b, (long long)th_a_,      \
                        (long long)th_b_);                                                         \
            if (stop) exit(2);                                                                     \
        }                                                                                          \
    } while (0)

#define EXPECT_EQ(a, b)  TH_CMP(a, b, ==, 0)
#define EXPECT_NE(a, b)  TH_CMP(a, b, !=, 0)
#define EXPECT_LT(a, b)  TH_CMP(a, b, <, 0)
#define EXPECT_LE(a, b)  TH_CMP(a, b, <=, 0)
#define EXPECT_GT(a, b)  TH_CMP(a, b, >, 0)
#define EXPECT_GE(a, b)  TH_CMP(a, b, >=, 0)
#define EXPECT_UEQ(a, b) TH_UCMP(a, b, ==, 0)
#define EXPECT_ULE(a, b) TH_UCMP(a, b, <=, 0)
#define EXPECT_ULT(a, b) TH_UCMP(a, b, <, 0)
#define EXPECT_UGE(a, b) TH_UCMP(a, b, >=, 0)
#define EXPECT_TRUE(c)   TH_CMP(!!(c), 1, ==, 0)
#define EXPECT_FALSE(c)  TH_CMP(!!(c), 0, ==, 0)
#define REQUIRE_EQ(a, b) TH_CMP(a, b, ==, 1)
#define REQUIRE_TRUE(c)  TH_CMP(!!(c), 1, ==, 1)
#define EXPECT_PTR_EQ(a, b)                                                                        \
    TH_UCMP((uintptr_t)(const void *)(a), (uintptr_t)(const void *)(b), ==, 0)

#define EXPECT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *th_sa_ = (a), *th_sb_ = (b);                                                   \
        if (!th_sa_ || !th_sb_ || strcmp(th_sa_, th_sb_) != 0) {                                   \
            fprintf(stderr, "%s:%d: %s: FAILED %s == %s\n    %s = \"%s\"\n    %s = \"%s\"\n",      \
                    __FILE__, __LINE__, th_current, #a, #b, #a, th_sa_ ? th_sa_ : "(null)", #b,    \
                    th_sb_ ? th_sb_ : "(null)");                                                   \
            th_checks_failed++;                                                                    \
        }                                                                                          \
    } while (0)

#define FAILF(...)                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: %s: FAILED: ", __FILE__, __LINE__, th_current);                    \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        th_checks_failed++;                                                                        \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int th_before_ = th_checks_failed;                                                         \
        th_current = #fn;                                                                          \
        fprintf(stderr, "=== %s\n", #fn);                                                          \
        fn();                                                                                      \
        if (th_checks_failed == th_before_) {                                                      \
            th_tests_passed++;                                                                     \
        } else {                                                                                   \
            th_tests_failed++;                                                                     \
            fprintf(stderr, "--- FAIL %s\n", #fn);                                                 \
        }                                                                                          \
    } while (0)

static inline int th_summary_named(const char *prog) {
    printf("%s: %d passed, %d failed\n", prog, th_tests_passed, th_tests_failed);
    return th_tests_failed ? 1 : 0;
}
#define th_summary() th_summary_named(__FILE__)

/* Reads an environment integer with a default (test sizes scale with it). */
static inline long th_env_long(const char *name, long dflt) {
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 10) : dflt;
}

#endif
