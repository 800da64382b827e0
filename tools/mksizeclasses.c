/* mksizeclasses.c - generates libgcrt/src/sizeclasses.c, Go 1.19's size-class
 * table, with the rules of Go's runtime/mksizeclasses.go:
 *
 *   1. Walk sizes 8, 16, ... 32768 in steps of the current alignment (8; 16
 *      from 32; size/8 from 128; 256 from 2048; the step only changes at
 *      powers of two).
 *   2. For each size pick the fewest 8 KiB pages whose leftover after cutting
 *      the span into objects is at most 1/8 of the span.
 *   3. If the previous class has the same page count and the same number of
 *      objects per span, grow that class to this size instead of adding one.
 *   4. Finally grow every class to the largest multiple of 128 that still fits
 *      the same number of objects into its span.
 *   5. Check that n / size == (n * (UINT32_MAX / size + 1)) >> 32 for every
 *      offset n in a span (the runtime's 32-bit division magic).
 *
 * Usage: mksizeclasses [output.c]   (stdout without an argument)
 * Regenerate: build/tools/mksizeclasses libgcrt/src/sizeclasses.c
 * tests/unit/test_sizeclasses.c regenerates and compares with the committed
 * file, so edit this program, never the output. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    PAGE_SHIFT = 13,
    PAGE_SIZE = 1 << PAGE_SHIFT,
    MAX_SMALL_SIZE = 32768,
    SMALL_SIZE_DIV = 8,
    SMALL_SIZE_MAX = 1024,
    LARGE_SIZE_DIV = 128,
    NUM_CLASSES = 68, /* including class 0, the large-object class */
};

struct sclass {
    int size;   /* bytes per object (0 for class 0) */
    int npages; /* pages per span */
};

static struct sclass classes[NUM_CLASSES];
static int nclasses;

static void die(const char *msg) {
    fprintf(stderr, "mksizeclasses: %s\n", msg);
    exit(1);
}

static int is_pow2(int x) {
    return x != 0 && (x & (x - 1)) == 0;
}

static int trailing_zeros(unsigned x) {
    int n = 0;
    while (x != 0 && (x & 1) == 0) {
        x >>= 1;
        n++;
    }
    return n;
}

/* Number of bits needed to represent x (0 for 0). */
static int bit_len(uint64_t x) {
    int n = 0;
    while (x != 0) {
        x >>= 1;
        n++;
    }
    return n;
}

static uint32_t divmagic(int size) {
    return size == 0 ? 0 : UINT32_MAX / (uint32_t)size + 1;
}

static void make_classes(void) {
    nclasses = 1; /* class 0: zero size, zero pages */
    int align = SMALL_SIZE_DIV;
    for (int size = align; size <= MAX_SMALL_SIZE; size += align) {
        if (is_pow2(size)) {
            if (size >= 2048)
                align = 256;
            else if (size >= 128)
                align = size / 8;
            else if (size >= 32)
                align = 16; /* heap bitmaps want 16-byte alignment from 32 bytes */
        }
        if (!is_pow2(align)) die("alignment is not a power of two");

        /* Fewest pages with at most 12.5% left over after the last object. */
        int span_bytes = PAGE_SIZE;
        while (span_bytes % size > span_bytes / 8) span_bytes += PAGE_SIZE;
        int npages = span_bytes / PAGE_SIZE;

        struct sclass *prev = &classes[nclasses - 1];
        if (nclasses > 1 && prev->npages == npages &&
            span_bytes / prev->size == span_bytes / size) {
            prev->size = size; /* same span, same count: one class suffices */
            continue;
        }
        if (nclasses == NUM_CLASSES) die("too many size classes");
        classes[nclasses].size = size;
        classes[nclasses].npages = npages;
        nclasses++;
    }
    if (nclasses != NUM_CLASSES) die("number of size classes has changed");

    /* Use the largest object that keeps the count per span (keeping the
     * 128-byte granularity the size_to_class128 lookup relies on). */
    for (int i = 1; i < nclasses; i++) {
        int span_bytes = classes[i].npages * PAGE_SIZE;
        int grown = (span_bytes / (span_bytes / classes[i].size)) & ~(LARGE_SIZE_DIV - 1);
        if (grown > classes[i].size) classes[i].size = grown;
    }
}

/* Lemire, Kaser, Kurz, "Faster Remainder by Direct Computation"
 * (arXiv:1902.01961), algorithm 2: the fewest fractional bits F such that
 * n / d == floor(n * ceil(2^F / d) / 2^F) for all n <= max. The runtime uses
 * F = 32, so F must not exceed 32; then check the exact 32-bit formula
 * exhaustively. */
static void check_divmagic(const struct sclass *c) {
    int d = c->size;
    if (d == 0) return;
    uint64_t max = (uint64_t)c->npages * PAGE_SIZE;
    int nbits = bit_len(max);
    int f;
    if (is_pow2(d)) {
        f = trailing_zeros((unsigned)d);
    } else {
        for (int l = 0;; l++) {
            if (nbits + l >= 63) die("divmagic: no suitable precision");
            uint64_t pow = (uint64_t)1 << (nbits + l);
            if ((uint64_t)d <= pow % (uint64_t)d + ((uint64_t)1 << l)) {
                f = nbits + l;
                break;
            }
        }
    }
    if (f > 32) {
        fprintf(stderr, "mksizeclasses: size %d span %" PRIu64 " needs %d bits\n", d, max, f);
        die("size class needs more than 32 bits of division precision");
    }
    uint64_t m = divmagic(d);
    for (uint64_t n = 0; n <= max; n++) {
        if ((uint32_t)((n * m) >> 32) != (uint32_t)(n / (uint64_t)d)) {
            fprintf(stderr, "mksizeclasses: size %d magic %" PRIu64 " wrong at %" PRIu64 "\n", d, m,
                    n);
            die("bad 32-bit division magic");
        }
    }
}

/* Smallest class whose size is >= size (sizes up to MAX_SMALL_SIZE). */
static int class_for(int size) {
    for (int i = 0; i < nclasses; i++)
        if (classes[i].size >= size) return i;
    die("size beyond the largest class");
    return 0;
}

static void print_comment(FILE *w) {
    fprintf(w, "// %-5s  %-9s  %-10s  %-7s  %-10s  %-9s  %-9s\n", "class", "bytes/obj",
            "bytes/span", "objects", "tail waste", "max waste", "min align");
    int prev_size = 0;
    int min_aligns[PAGE_SHIFT + 1] = {0}; /* [bits] = smallest size aligned to 1<<bits */
    for (int i = 1; i < nclasses; i++) {
        const struct sclass *c = &classes[i];
        int span_bytes = c->npages * PAGE_SIZE;
        int objects = span_bytes / c->size;
        int tail_waste = span_bytes - c->size * objects;
        double max_waste =
            (double)((c->size - prev_size - 1) * objects + tail_waste) / (double)span_bytes;
        int align_bits = trailing_zeros((unsigned)c->size);
        if (align_bits > PAGE_SHIFT) align_bits = PAGE_SHIFT; /* capped at page alignment */
        for (int b = 0; b <= PAGE_SHIFT; b++) {
            if (b > align_bits)
                min_aligns[b] = 0;
            else if (min_aligns[b] == 0)
                min_aligns[b] = c->size;
        }
        prev_size = c->size;
        fprintf(w, "// %5d  %9d  %10d  %7d  %10d  %8.2f%%  %9d\n", i, c->size, span_bytes, objects,
                tail_waste, 100 * max_waste, 1 << align_bits);
    }
    fprintf(w, "\n");

    fprintf(w, "// %-9s  %-4s  %-12s\n", "alignment", "bits", "min obj size");
    for (int b = 0; b <= PAGE_SHIFT; b++) {
        if (min_aligns[b] == 0) break;
        if (b + 1 <= PAGE_SHIFT && min_aligns[b] == min_aligns[b + 1]) continue;
        fprintf(w, "// %9d  %4d  %12d\n", 1 << b, b, min_aligns[b]);
    }
    fprintf(w, "\n");
}

/* Prints "const <type> <name>[<dim>] = {...};" with per_line values a row. */
static void print_array(FILE *w, const char *type, const char *name, const char *dim,
                        const uint32_t *v, int n, int per_line, int width) {
    fprintf(w, "const %s %s[%s] = {\n", type, name, dim);
    for (int i = 0; i < n; i++) {
        if (i % per_line == 0) fprintf(w, "   ");
        fprintf(w, " %*" PRIu32 ",", width, v[i]);
        if (i % per_line == per_line - 1 || i == n - 1) fprintf(w, "\n");
    }
    fprintf(w, "};\n");
}

static void print_classes(FILE *w) {
    uint32_t v[(MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1];

    for (int i = 0; i < nclasses; i++) v[i] = (uint32_t)classes[i].size;
    print_array(w, "uint16_t", "gcrt__class_to_size", "GCRT_NUM_SIZE_CLASSES", v, nclasses, 8, 5);
    fprintf(w, "\n");

    for (int i = 0; i < nclasses; i++) v[i] = (uint32_t)classes[i].npages;
    print_array(w, "uint8_t", "gcrt__class_to_npages", "GCRT_NUM_SIZE_CLASSES", v, nclasses, 16, 2);
    fprintf(w, "\n");

    for (int i = 0; i < nclasses; i++)
        v[i] =
            classes[i].size == 0 ? 0 : (uint32_t)(classes[i].npages * PAGE_SIZE / classes[i].size);
    print_array(w, "uint16_t", "gcrt__class_to_nobjs", "GCRT_NUM_SIZE_CLASSES", v, nclasses, 8, 5);
    fprintf(w, "\n");

    fprintf(w, "/* UINT32_MAX / size + 1 */\n");
    for (int i = 0; i < nclasses; i++) v[i] = divmagic(classes[i].size);
    print_array(w, "uint32_t", "gcrt__class_to_divmagic", "GCRT_NUM_SIZE_CLASSES", v, nclasses, 6,
                10);
    fprintf(w, "\n");

    int n8 = SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1;
    for (int i = 0; i < n8; i++) v[i] = (uint32_t)class_for(i * SMALL_SIZE_DIV);
    print_array(w, "uint8_t", "gcrt__size_to_class8",
                "GCRT_SMALL_SIZE_MAX / GCRT_SMALL_SIZE_DIV + 1", v, n8, 16, 2);
    fprintf(w, "\n");

    int n128 = (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1;
    for (int i = 0; i < n128; i++) v[i] = (uint32_t)class_for(SMALL_SIZE_MAX + i * LARGE_SIZE_DIV);
    print_array(w, "uint8_t", "gcrt__size_to_class128",
                "(32768 - GCRT_SMALL_SIZE_MAX) / GCRT_LARGE_SIZE_DIV + 1", v, n128, 16, 2);
}

int main(int argc, char **argv) {
    if (argc > 2) {
        fprintf(stderr, "usage: mksizeclasses [output.c]\n");
        return 2;
    }
    make_classes();
    for (int i = 0; i < nclasses; i++) check_divmagic(&classes[i]);

    FILE *w = stdout;
    if (argc == 2) {
        w = fopen(argv[1], "w");
        if (!w) {
            perror(argv[1]);
            return 1;
        }
    }
    fprintf(w, "/* Code generated by tools/mksizeclasses.c; DO NOT EDIT. */\n");
    fprintf(w,
            "/* sizeclasses.c - Go 1.19's size classes (runtime/sizeclasses.go): %d-byte\n"
            " * pages, small objects up to %d bytes, %d classes (class 0 = large objects).\n"
            " * See sizeclasses.h and malloc.c. */\n",
            PAGE_SIZE, MAX_SMALL_SIZE, NUM_CLASSES);
    fprintf(w, "#include \"sizeclasses.h\"\n\n");
    fprintf(w, "// clang-format off\n");
    print_comment(w);
    print_classes(w);
    fprintf(w, "// clang-format on\n");

    if (fflush(w) != 0 || ferror(w) || (w != stdout && fclose(w) != 0)) {
        perror(argc == 2 ? argv[1] : "stdout");
        return 1;
    }
    return 0;
}
