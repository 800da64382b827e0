/* test_sizeclasses.c - the size-class table (sizeclasses.c): it is what
 * tools/mksizeclasses.c generates today, it matches Go 1.19's table in
 * ../shared/spec/go-formats.md section 3.2, the two lookup tables round up to
 * the next class, and the division magic is exact over a whole span. */
#include "harness.h"
#include "sizeclasses.h"

#include <errno.h>

#define PAGE_BYTES   8192
#define NUM_CLASSES  GCRT_NUM_SIZE_CLASSES
#define MAX_SMALL    32768
#define MAX_MISMATCH 10 /* stop reporting after this many bad values in a loop */

/* Reads a whole stream into a malloc'd NUL-terminated buffer; *len = bytes. */
static char *read_stream(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    REQUIRE_TRUE(buf != NULL);
    for (;;) {
        if (cap - n < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            REQUIRE_TRUE(buf != NULL);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = read_stream(f, len);
    fclose(f);
    return buf;
}

/* Prints the first line where a and b differ. */
static void report_first_difference(const char *a, size_t alen, const char *b, size_t blen) {
    size_t i = 0, line_start = 0;
    int line = 1;
    while (i < alen && i < blen && a[i] == b[i]) {
        if (a[i] == '\n') {
            line++;
            line_start = i + 1;
        }
        i++;
    }
    int wa = 0, wb = 0;
    while (line_start + wa < alen && a[line_start + wa] != '\n') wa++;
    while (line_start + wb < blen && b[line_start + wb] != '\n') wb++;
    FAILF("generator output differs from the committed sizeclasses.c at line %d\n"
          "    generated: %.*s\n    committed: %.*s\n"
          "    (regenerate: build/tools/mksizeclasses libgcrt/src/sizeclasses.c)",
          line, wa, a + line_start, wb, b + line_start);
}

/* (a) The committed file is exactly what the generator prints. */
static void test_generated_file_is_current(void) {
    const char *bin = getenv("GCRT_BINARY_DIR"), *src = getenv("GCRT_SOURCE_DIR");
    if (!bin || !src) {
        FAILF("GCRT_BINARY_DIR and GCRT_SOURCE_DIR must be set (run through ctest)");
        return;
    }
    char cmd[4096], path[4096];
    snprintf(cmd, sizeof cmd, "'%s/tools/mksizeclasses'", bin);
    snprintf(path, sizeof path, "%s/libgcrt/src/sizeclasses.c", src);

    size_t clen;
    char *committed = read_file(path, &clen);
    if (!committed) {
        FAILF("cannot read %s: %s", path, strerror(errno));
        return;
    }
    FILE *p = popen(cmd, "r");
    if (!p) {
        FAILF("cannot run %s: %s", cmd, strerror(errno));
        free(committed);
        return;
    }
    size_t glen;
    char *generated = read_stream(p, &glen);
    int status = pclose(p);
    EXPECT_EQ(status, 0); /* also catches a missing binary (sh exits 127) */
    EXPECT_UEQ(glen, clen);
    if (glen != clen || memcmp(generated, committed, glen) != 0)
        report_first_difference(generated, glen, committed, clen);
    free(generated);
    free(committed);
}

/* (b) Every class matches the spec's table (section 3.2 of go-formats.md). */
static void test_matches_spec_table(void) {
    const char *src = getenv("GCRT_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/../shared/spec/go-formats.md", src ? src : ".");
    size_t len;
    char *md = src ? read_file(path, &len) : NULL;
    if (!md) {
        snprintf(path, sizeof path, "/work/shared/spec/go-formats.md");
        md = read_file(path, &len);
    }
    if (!md) {
        FAILF("spec not found: neither $GCRT_SOURCE_DIR/../shared/spec/go-formats.md nor "
              "/work/shared/spec/go-formats.md can be read");
        return;
    }

    char *sec = strstr(md, "\n### 3.2");
    if (!sec) {
        FAILF("%s: no section '### 3.2'", path);
        free(md);
        return;
    }
    int rows = 0, prev_class = 0;
    char *line = strchr(sec + 1, '\n');
    while (line && line[1] != '\0') {
        line++;
        char *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        if (line[0] == '#') break; /* next section */
        long cls, size, span_bytes, npages, nobjs, tail, align;
        double waste;
        if (line[0] == '|' &&
            sscanf(line, "| %ld | %ld | %ld | %ld | %ld | %ld | %lf%% | %ld |", &cls, &size,
                   &span_bytes, &npages, &nobjs, &tail, &waste, &align) == 8) {
            rows++;
            EXPECT_EQ(cls, prev_class + 1);
            prev_class = (int)cls;
            if (cls < 1 || cls >= NUM_CLASSES) {
                FAILF("spec row with class %ld out of range", cls);
            } else {
                int c = (int)cls;
                long our_span = (long)gcrt__class_to_npages[c] * PAGE_BYTES;
                long our_tail = our_span - (long)gcrt__class_to_size[c] * gcrt__class_to_nobjs[c];
                EXPECT_EQ(gcrt__class_to_size[c], size);
                EXPECT_EQ(our_span, span_bytes);
                EXPECT_EQ(gcrt__class_to_npages[c], npages);
                EXPECT_EQ(gcrt__class_to_nobjs[c], nobjs);
                EXPECT_EQ(our_tail, tail);
                long prev_size = gcrt__class_to_size[c - 1];
                double our_waste =
                    100.0 * (double)((size - prev_size - 1) * nobjs + tail) / (double)our_span;
                if (our_waste - waste > 0.0051 || waste - our_waste > 0.0051)
                    FAILF("class %d: max waste %.4f%%, spec says %.2f%%", c, our_waste, waste);
                long our_align = (long)(gcrt__class_to_size[c] & -gcrt__class_to_size[c]);
                if (our_align > PAGE_BYTES) our_align = PAGE_BYTES;
                EXPECT_EQ(our_align, align);
            }
        }
        line = eol;
    }
    EXPECT_EQ(rows, NUM_CLASSES - 1);
    free(md);
}

/* Shape of the arrays themselves: class 0 empty, sizes increasing, counts
 * consistent with sizes and pages, divmagic as Go 1.19 defines it. */
static void test_array_invariants(void) {
    EXPECT_EQ(gcrt__class_to_size[0], 0);
    EXPECT_EQ(gcrt__class_to_npages[0], 0);
    EXPECT_EQ(gcrt__class_to_nobjs[0], 0);
    EXPECT_EQ(gcrt__class_to_divmagic[0], 0);
    EXPECT_EQ(gcrt__class_to_size[NUM_CLASSES - 1], MAX_SMALL);
    for (int c = 1; c < NUM_CLASSES; c++) {
        uint32_t size = gcrt__class_to_size[c];
        EXPECT_GT(size, gcrt__class_to_size[c - 1]);
        EXPECT_EQ(size % 8, 0);
        EXPECT_GE(gcrt__class_to_npages[c], 1);
        EXPECT_EQ(gcrt__class_to_nobjs[c], gcrt__class_to_npages[c] * PAGE_BYTES / size);
        EXPECT_UEQ(gcrt__class_to_divmagic[c], UINT32_MAX / size + 1);
    }
}

/* (c) For every small size, the lookup returns the smallest class that fits. */
static void test_size_class_rounds_up(void) {
    int bad = 0, c = 1;
    for (uintptr_t size = 1; size <= MAX_SMALL; size++) {
        while (gcrt__class_to_size[c] < size) c++; /* smallest class with size <= class size */
        unsigned got = gcrt__size_class(size);
        if (got != (unsigned)c && bad++ < MAX_MISMATCH)
            FAILF("gcrt__size_class(%zu) = %u, want %d (class size %u)", (size_t)size, got, c,
                  gcrt__class_to_size[c]);
    }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(gcrt__size_class(MAX_SMALL), NUM_CLASSES - 1);
    EXPECT_EQ(gcrt__size_class(1), 1);
    EXPECT_EQ(gcrt__size_class(16), 2);
    EXPECT_EQ(gcrt__size_class(1016), 32);
    EXPECT_EQ(gcrt__size_class(1017), 32);
    EXPECT_EQ(gcrt__size_class(1025), 33);
}

/* (d) (off * divmagic) >> 32 == off / size for every offset 0..span bytes
 * (the range Go guarantees); multiples and their neighbours are spelled out
 * as well so a failure there is reported by name. */
static void test_divmagic_exact(void) {
    int bad = 0;
    for (int c = 1; c < NUM_CLASSES; c++) {
        uint64_t size = gcrt__class_to_size[c], magic = gcrt__class_to_divmagic[c];
        uint64_t span = (uint64_t)gcrt__class_to_npages[c] * PAGE_BYTES;
        for (uint64_t off = 0; off <= span; off++) {
            uint32_t got = (uint32_t)((off * magic) >> 32);
            if (got != off / size && bad++ < MAX_MISMATCH)
                FAILF("class %d size %" PRIu64 ": off %" PRIu64 " -> %u, want %" PRIu64, c, size,
                      off, got, off / size);
        }
        for (uint64_t k = 0; k <= gcrt__class_to_nobjs[c]; k++) {
            uint64_t off = k * size;
            EXPECT_UEQ((off * magic) >> 32, k);
            if (k > 0) EXPECT_UEQ(((off - 1) * magic) >> 32, k - 1);
            if (off + 1 <= span) EXPECT_UEQ(((off + 1) * magic) >> 32, k);
        }
    }
    EXPECT_EQ(bad, 0);
}

int main(void) {
    RUN(test_generated_file_is_current);
    RUN(test_matches_spec_table);
    RUN(test_array_invariants);
    RUN(test_size_class_rounds_up);
    RUN(test_divmagic_exact);
    return th_summary();
}
