/* test_godebug.c - GODEBUG and byte-count parsing with Go's rules. */
#include <string.h>

#include "godebug.h"
#include "harness.h"

static void test_godebug(void) {
    struct gcrt_debug_vars d;
    EXPECT_EQ(gcrt__godebug_parse(&d, NULL, NULL), 0);
    EXPECT_EQ(d.madvdontneed, 1);
    EXPECT_EQ(d.gctrace, 0);
    EXPECT_EQ(d.memprofilerate, -1);
    struct gcrt_godebug_bad bad;
    EXPECT_EQ(gcrt__godebug_parse(&d, "gctrace=1,madvdontneed=0", &bad), 0);
    EXPECT_EQ(bad.count, 0);
    EXPECT_EQ(d.gctrace, 1);
    EXPECT_EQ(d.madvdontneed, 0);
    /* Unknown names are ignored and counted; bad values keep the default,
     * and the known names' bad settings are reported (the first, and how
     * many): a value that is not a decimal integer, or none. */
    EXPECT_EQ(gcrt__godebug_parse(&d, "foo=1,gctrace=x,scavtrace=1,bare,gccheckmark", &bad), 2);
    EXPECT_EQ(d.gctrace, 0);
    EXPECT_EQ(d.scavtrace, 1);
    EXPECT_EQ(d.gccheckmark, 0);
    EXPECT_EQ(bad.count, 2);
    EXPECT_TRUE(bad.first_len == 9 && memcmp(bad.first, "gctrace=x", 9) == 0);
    EXPECT_EQ(gcrt__godebug_parse(&d, "foo=x,gctrace=2", &bad), 1); /* unknown: not bad */
    EXPECT_EQ(bad.count, 0);
    EXPECT_EQ(gcrt__godebug_parse(&d, "gctrace=,scavtrace=1x", &bad), 0);
    EXPECT_EQ(bad.count, 2);
    EXPECT_TRUE(bad.first_len == 8 && memcmp(bad.first, "gctrace=", 8) == 0);
    EXPECT_EQ(gcrt__godebug_parse(&d, "gccheckmark=1,gcstoptheworld=2,memprofilerate=1", NULL), 0);
    EXPECT_EQ(d.gccheckmark, 1);
    EXPECT_EQ(d.gcstoptheworld, 2);
    EXPECT_EQ(d.memprofilerate, 1);
    EXPECT_EQ(gcrt__godebug_parse(&d, "gctrace=99999999999", &bad), 0); /* overflow: default */
    EXPECT_EQ(d.gctrace, 0);
    EXPECT_EQ(bad.count, 1);
    EXPECT_EQ(gcrt__godebug_parse(&d, ",,gctrace=2,", &bad), 0);
    EXPECT_EQ(bad.count, 0);
    EXPECT_EQ(d.gctrace, 2);
    /* Go's atoi32 reads a lone "-" as 0. */
    EXPECT_EQ(gcrt__godebug_parse(&d, "madvdontneed=-", &bad), 0);
    EXPECT_EQ(d.madvdontneed, 0);
    EXPECT_EQ(bad.count, 0);
}

static void test_byte_count(void) {
    int64_t v = -1;
    EXPECT_EQ(gcrt__parse_byte_count("0", &v), 0);
    EXPECT_EQ(v, 0);
    EXPECT_EQ(gcrt__parse_byte_count("123", &v), 0);
    EXPECT_EQ(v, 123);
    EXPECT_EQ(gcrt__parse_byte_count("123B", &v), 0);
    EXPECT_EQ(v, 123);
    EXPECT_EQ(gcrt__parse_byte_count("24MiB", &v), 0);
    EXPECT_EQ(v, 24 << 20);
    EXPECT_EQ(gcrt__parse_byte_count("1KiB", &v), 0);
    EXPECT_EQ(v, 1024);
    EXPECT_EQ(gcrt__parse_byte_count("3GiB", &v), 0);
    EXPECT_EQ(v, 3LL << 30);
    EXPECT_EQ(gcrt__parse_byte_count("2TiB", &v), 0);
    EXPECT_EQ(v, 2LL << 40);
    EXPECT_EQ(gcrt__parse_byte_count("-0", &v), 0);
    EXPECT_EQ(v, 0);
    v = 7; /* Go's atoi64 reads a lone "-" as 0, so "-KiB" is 0 bytes */
    EXPECT_EQ(gcrt__parse_byte_count("-KiB", &v), 0);
    EXPECT_EQ(v, 0);
    EXPECT_EQ(gcrt__parse_byte_count("9223372036854775807", &v), 0);
    EXPECT_EQ(v, INT64_MAX);
    const char *bad[] = {"",
                         "B",
                         "KiB",
                         "1KB",
                         "1MB",
                         "1k",
                         "1 MiB",
                         "1.5GiB",
                         "+1",
                         "-1",
                         "1kib",
                         "1XiB",
                         "9223372036854775808",
                         "8589934592GiB",
                         "abc",
                         "1iB"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        if (gcrt__parse_byte_count(bad[i], &v) != -22) FAILF("\"%s\" accepted", bad[i]);
        EXPECT_EQ(v, 42); /* unchanged on failure */
    }
}

int main(void) {
    RUN(test_godebug);
    RUN(test_byte_count);
    return th_summary();
}
