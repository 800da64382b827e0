/* test_proto.c - proto/profile.proto (protoc-c bindings) against Go's golden
 * profiles in ../shared/reference/go1.19/.
 *
 * The expected values below were read from heap_decoded.txt (protoc's decode of
 * heap.pb.gz with the pprof schema), heap_decode_raw.txt and README.md there;
 * the scaling of the 64-byte sample is worked through in
 * ../shared/spec/go-formats.md section 4.5. Covered:
 *   - heap.pb.gz: header fields, table sizes, selected samples/locations/
 *     functions/mappings, and that every id a sample or line uses resolves;
 *   - allocs.pb.gz: default_sample_type names "alloc_space";
 *   - pack -> unpack round trip of the decoded heap profile;
 *   - truncated and corrupt input: unpack returns NULL and does not crash.
 */
#include "harness.h"

#include <errno.h>
#include <zlib.h>

#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;

typedef struct {
    uint8_t *data;
    size_t len;
} buf_t;

/* ---- input ---------------------------------------------------------------- */

/* Path of a golden file: $GCRT_SOURCE_DIR/../shared/reference/go1.19/<name>,
 * falling back to the absolute shared location. */
static void golden_path(char *out, size_t cap, const char *name) {
    const char *src = getenv("GCRT_SOURCE_DIR");
    if (src && *src) {
        snprintf(out, cap, "%s/../shared/reference/go1.19/%s", src, name);
        FILE *f = fopen(out, "rb");
        if (f) {
            fclose(f);
            return;
        }
    }
    snprintf(out, cap, "/work/shared/reference/go1.19/%s", name);
}

static buf_t read_file(const char *path) {
    buf_t b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return b;
    }
    size_t cap = 4096;
    b.data = malloc(cap);
    size_t n;
    while (b.data && (n = fread(b.data + b.len, 1, cap - b.len, f)) > 0) {
        b.len += n;
        if (b.len == cap) {
            cap *= 2;
            uint8_t *p = realloc(b.data, cap);
            if (!p) {
                free(b.data);
                b.len = 0;
            }
            b.data = p;
        }
    }
    fclose(f);
    return b;
}

/* Inflates a complete gzip stream. Returns {NULL, 0} on any zlib error,
 * including a stream that ends early. */
static buf_t gunzip(const uint8_t *in, size_t in_len) {
    buf_t out = {NULL, 0};
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return out;
    size_t cap = in_len * 4 + 1024;
    out.data = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    int rc = Z_OK;
    while (out.data && rc == Z_OK) {
        if (out.len == cap) {
            cap *= 2;
            uint8_t *p = realloc(out.data, cap);
            if (!p) break;
            out.data = p;
        }
        zs.next_out = out.data + out.len;
        zs.avail_out = (uInt)(cap - out.len);
        rc = inflate(&zs, Z_NO_FLUSH);
        out.len = cap - zs.avail_out;
        if (rc == Z_BUF_ERROR && zs.avail_out > 0) break; /* input ran out */
        if (rc == Z_BUF_ERROR) rc = Z_OK;                 /* just needs more room */
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out.data);
        out.data = NULL;
        out.len = 0;
    }
    return out;
}

/* Raw (uncompressed) protobuf bytes of a golden profile; aborts the program
 * when the file is missing, since nothing else can run. */
static buf_t golden_raw(const char *name) {
    char path[4096];
    golden_path(path, sizeof path, name);
    buf_t gz = read_file(path);
    REQUIRE_TRUE(gz.data != NULL && gz.len > 0);
    /* Go's gzip header: 1f 8b 08, no flags, MTIME 0, XFL 4, OS 255. */
    EXPECT_EQ(gz.data[0], 0x1f);
    EXPECT_EQ(gz.data[1], 0x8b);
    EXPECT_EQ(gz.data[2], 8);
    buf_t raw = gunzip(gz.data, gz.len);
    free(gz.data);
    REQUIRE_TRUE(raw.data != NULL && raw.len > 0);
    return raw;
}

static Profile *unpack(const buf_t *b) {
    return perftools__profiles__profile__unpack(NULL, b->len, b->data);
}

/* ---- lookups -------------------------------------------------------------- */

static const char *str_at(const Profile *p, int64_t idx) {
    if (idx < 0 || (size_t)idx >= p->n_string_table) return NULL;
    return p->string_table[idx];
}

static const Location *find_location(const Profile *p, uint64_t id) {
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->id == id) return p->location[i];
    return NULL;
}

static const Function *find_function(const Profile *p, uint64_t id) {
    for (size_t i = 0; i < p->n_function; i++)
        if (p->function[i]->id == id) return p->function[i];
    return NULL;
}

static const Mapping *find_mapping(const Profile *p, uint64_t id) {
    for (size_t i = 0; i < p->n_mapping; i++)
        if (p->mapping[i]->id == id) return p->mapping[i];
    return NULL;
}

/* Name of the innermost function at a location, or NULL. */
static const char *location_func_name(const Profile *p, uint64_t loc_id) {
    const Location *l = find_location(p, loc_id);
    if (!l || l->n_line == 0) return NULL;
    const Function *f = find_function(p, l->line[0]->function_id);
    return f ? str_at(p, f->name) : NULL;
}

/* The first sample whose leaf location id is loc_id. */
static const Sample *sample_with_leaf(const Profile *p, uint64_t loc_id) {
    for (size_t i = 0; i < p->n_sample; i++)
        if (p->sample[i]->n_location_id > 0 && p->sample[i]->location_id[0] == loc_id)
            return p->sample[i];
    return NULL;
}

/* Checks the facts shared by heap and allocs: the four heap sample types in
 * order, period type, rate, the string table head. */
static void check_heap_header(const Profile *p) {
    static const char *const want[4][2] = {
        {"alloc_objects", "count"},
        {"alloc_space", "bytes"},
        {"inuse_objects", "count"},
        {"inuse_space", "bytes"},
    };
    REQUIRE_TRUE(p->n_string_table > 0);
    EXPECT_STR_EQ(p->string_table[0], "");
    REQUIRE_EQ(p->n_sample_type, 4);
    for (int i = 0; i < 4; i++) {
        EXPECT_STR_EQ(str_at(p, p->sample_type[i]->type), want[i][0]);
        EXPECT_STR_EQ(str_at(p, p->sample_type[i]->unit), want[i][1]);
    }
    REQUIRE_TRUE(p->period_type != NULL);
    EXPECT_STR_EQ(str_at(p, p->period_type->type), "space");
    EXPECT_STR_EQ(str_at(p, p->period_type->unit), "bytes");
    EXPECT_EQ(p->period, 524288);
    EXPECT_EQ(p->duration_nanos, 0);
    /* Fields Go never writes decode as their zero value. */
    EXPECT_EQ(p->drop_frames, 0);
    EXPECT_EQ(p->keep_frames, 0);
    EXPECT_EQ(p->n_comment, 0);
}

/* Every id the profile refers to names an existing object, and every sample
 * carries one value per sample type (what pprof's CheckValid insists on). */
static void check_references(const Profile *p) {
    for (size_t i = 0; i < p->n_sample; i++) {
        const Sample *s = p->sample[i];
        EXPECT_EQ(s->n_value, p->n_sample_type);
        EXPECT_GT(s->n_location_id, 0);
        for (size_t j = 0; j < s->n_location_id; j++) {
            if (!find_location(p, s->location_id[j]))
                FAILF("sample %zu: location id %" PRIu64 " does not resolve", i, s->location_id[j]);
        }
        for (size_t j = 0; j < s->n_label; j++) {
            EXPECT_TRUE(str_at(p, s->label[j]->key) != NULL);
            EXPECT_TRUE(str_at(p, s->label[j]->str) != NULL);
        }
    }
    for (size_t i = 0; i < p->n_location; i++) {
        const Location *l = p->location[i];
        EXPECT_EQ(l->id, i + 1); /* Go numbers locations 1.. in first-use order */
        EXPECT_TRUE(find_mapping(p, l->mapping_id) != NULL);
        EXPECT_GT(l->n_line, 0);
        for (size_t j = 0; j < l->n_line; j++) {
            if (!find_function(p, l->line[j]->function_id))
                FAILF("location %" PRIu64 ": function id %" PRIu64 " does not resolve", l->id,
                      l->line[j]->function_id);
        }
    }
    for (size_t i = 0; i < p->n_function; i++) {
        const Function *f = p->function[i];
        EXPECT_EQ(f->id, i + 1);
        EXPECT_TRUE(str_at(p, f->name) != NULL);
        EXPECT_EQ(f->name, f->system_name);
        EXPECT_TRUE(str_at(p, f->filename) != NULL);
        EXPECT_EQ(f->start_line, 0);
    }
    for (size_t i = 0; i < p->n_mapping; i++) {
        const Mapping *m = p->mapping[i];
        EXPECT_EQ(m->id, i + 1);
        EXPECT_ULT(m->memory_start, m->memory_limit);
        EXPECT_TRUE(str_at(p, m->filename) != NULL);
        EXPECT_TRUE(str_at(p, m->build_id) != NULL);
        EXPECT_FALSE(m->has_filenames || m->has_line_numbers || m->has_inline_frames);
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void test_heap_golden(void) {
    buf_t raw = golden_raw("heap.pb.gz");
    Profile *p = unpack(&raw);
    REQUIRE_TRUE(p != NULL);

    check_heap_header(p);
    EXPECT_EQ(p->default_sample_type, 0); /* heap: tools default to inuse_space */
    EXPECT_EQ(p->time_nanos, 1796022857259061892LL);

    EXPECT_EQ(p->n_sample, 9);
    EXPECT_EQ(p->n_location, 30);
    EXPECT_EQ(p->n_function, 28);
    EXPECT_EQ(p->n_mapping, 5);
    EXPECT_EQ(p->n_string_table, 55);
    /* The interned string table starts in the order spec 5.4 gives. */
    static const char *const head[] = {"",      "space",       "bytes",         "alloc_objects",
                                       "count", "alloc_space", "inuse_objects", "inuse_space"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        EXPECT_STR_EQ(str_at(p, (int64_t)i), head[i]);

    check_references(p);

    /* Every heap sample has exactly one numeric "bytes" label (block size). */
    for (size_t i = 0; i < p->n_sample; i++) {
        const Sample *s = p->sample[i];
        EXPECT_EQ(s->n_label, 1);
        if (s->n_label != 1) continue;
        EXPECT_STR_EQ(str_at(p, s->label[0]->key), "bytes");
        EXPECT_EQ(s->label[0]->str, 0);
        EXPECT_GT(s->label[0]->num, 0);
        EXPECT_EQ(s->label[0]->num_unit, 0);
    }

    /* main.buildList: 14 sampled 64-byte objects scaled by 1/(1-exp(-64/524288))
     * = 8192.5 -> 114695 objects, 7340480 bytes, all still in use. */
    REQUIRE_EQ(p->sample[6]->n_value, 4);
    const Sample *s = p->sample[6];
    REQUIRE_EQ(s->n_location_id, 3);
    EXPECT_EQ(s->location_id[0], 22);
    EXPECT_EQ(s->location_id[1], 23);
    EXPECT_EQ(s->location_id[2], 24);
    EXPECT_EQ(s->value[0], 114695);
    EXPECT_EQ(s->value[1], 7340480);
    EXPECT_EQ(s->value[2], 114695);
    EXPECT_EQ(s->value[3], 7340480);
    REQUIRE_EQ(s->n_label, 1);
    EXPECT_EQ(s->label[0]->num, 64);
    EXPECT_STR_EQ(location_func_name(p, 22), "main.buildList");
    EXPECT_STR_EQ(location_func_name(p, 23), "main.main");
    EXPECT_STR_EQ(location_func_name(p, 24), "runtime.main");

    /* The leak: 42 sampled 4096-byte chunks, main.leakChunk <- main.leaker. */
    s = sample_with_leaf(p, 18);
    REQUIRE_TRUE(s != NULL);
    REQUIRE_EQ(s->n_value, 4);
    EXPECT_EQ(s->value[0], 5397);
    EXPECT_EQ(s->value[1], 22106223);
    EXPECT_EQ(s->value[2], 5397);
    EXPECT_EQ(s->value[3], 22106223);
    REQUIRE_EQ(s->n_label, 1);
    EXPECT_EQ(s->label[0]->num, 4096);
    REQUIRE_EQ(s->n_location_id, 2);
    EXPECT_STR_EQ(location_func_name(p, s->location_id[0]), "main.leakChunk");
    EXPECT_STR_EQ(location_func_name(p, s->location_id[1]), "main.leaker");
    const Location *leak = find_location(p, 18);
    REQUIRE_TRUE(leak != NULL);
    EXPECT_UEQ(leak->address, 0x684827); /* debug=1 shows the return PC 0x684828 */
    EXPECT_EQ(leak->line[0]->line, 46);

    /* Churn garbage: allocated but no longer in use. */
    s = sample_with_leaf(p, 20);
    REQUIRE_TRUE(s != NULL);
    REQUIRE_EQ(s->n_value, 4);
    EXPECT_EQ(s->value[0], 7460);
    EXPECT_EQ(s->value[1], 244460880);
    EXPECT_EQ(s->value[2], 0);
    EXPECT_EQ(s->value[3], 0);
    EXPECT_STR_EQ(location_func_name(p, 20), "main.churnAlloc");

    /* Location 2 stands for an inlined call: two Lines, innermost first. */
    const Location *inl = find_location(p, 2);
    REQUIRE_TRUE(inl != NULL);
    REQUIRE_EQ(inl->n_line, 2);
    EXPECT_UEQ(inl->address, 6190180);
    const Function *f0 = find_function(p, inl->line[0]->function_id);
    const Function *f1 = find_function(p, inl->line[1]->function_id);
    REQUIRE_TRUE(f0 != NULL && f1 != NULL);
    EXPECT_STR_EQ(str_at(p, f0->name), "compress/flate.newDeflateFast");
    EXPECT_EQ(inl->line[0]->line, 64);
    EXPECT_STR_EQ(str_at(p, f1->name), "compress/flate.(*compressor).init");
    EXPECT_EQ(inl->line[1]->line, 585);
    EXPECT_STR_EQ(str_at(p, f1->filename), "/usr/lib/go-1.19/src/compress/flate/deflate.go");

    /* Mappings: the executable (symbolized by Go), libc with a build id, and
     * [vsyscall] at the top of the address space. */
    const Mapping *exe = find_mapping(p, 1);
    REQUIRE_TRUE(exe != NULL);
    EXPECT_UEQ(exe->memory_start, 0x400000);
    EXPECT_UEQ(exe->memory_limit, 0x686000);
    EXPECT_UEQ(exe->file_offset, 0);
    EXPECT_STR_EQ(str_at(p, exe->filename), "/tmp/gogolden/bin/server");
    EXPECT_EQ(exe->build_id, 0);
    EXPECT_TRUE(exe->has_functions);
    const Mapping *libc = find_mapping(p, 2);
    REQUIRE_TRUE(libc != NULL);
    EXPECT_STR_EQ(str_at(p, libc->filename), "/usr/lib/x86_64-linux-gnu/libc.so.6");
    EXPECT_STR_EQ(str_at(p, libc->build_id), "93ac61ec5a8eb1396f9fbd350e3169a558528a40");
    EXPECT_UEQ(libc->file_offset, 155648);
    EXPECT_FALSE(libc->has_functions);
    const Mapping *vsys = find_mapping(p, 5);
    REQUIRE_TRUE(vsys != NULL);
    EXPECT_STR_EQ(str_at(p, vsys->filename), "[vsyscall]");
    EXPECT_UEQ(vsys->memory_start, 0xffffffffff600000ULL);

    perftools__profiles__profile__free_unpacked(p, NULL);
    free(raw.data);
}

static void test_allocs_golden(void) {
    buf_t raw = golden_raw("allocs.pb.gz");
    Profile *p = unpack(&raw);
    REQUIRE_TRUE(p != NULL);

    check_heap_header(p);
    EXPECT_EQ(p->default_sample_type, 5);
    EXPECT_STR_EQ(str_at(p, p->default_sample_type), "alloc_space");
    EXPECT_EQ(p->n_sample, 10);
    EXPECT_EQ(p->n_location, 31);
    EXPECT_EQ(p->n_function, 28);
    EXPECT_EQ(p->n_mapping, 5);
    check_references(p);

    /* Its first sample is a bucket with nothing left to report: all four
     * values zero, and no "bytes" label because its alloc count is zero. */
    const Sample *z = p->sample[0];
    REQUIRE_EQ(z->n_value, 4);
    for (int i = 0; i < 4; i++) EXPECT_EQ(z->value[i], 0);
    EXPECT_EQ(z->n_label, 0);

    perftools__profiles__profile__free_unpacked(p, NULL);
    free(raw.data);
}

static void test_roundtrip(void) {
    buf_t raw = golden_raw("heap.pb.gz");
    Profile *a = unpack(&raw);
    REQUIRE_TRUE(a != NULL);

    size_t n = perftools__profiles__profile__get_packed_size(a);
    EXPECT_GT(n, 0);
    uint8_t *packed = malloc(n);
    REQUIRE_TRUE(packed != NULL);
    EXPECT_EQ(perftools__profiles__profile__pack(a, packed), n);

    Profile *b = perftools__profiles__profile__unpack(NULL, n, packed);
    REQUIRE_TRUE(b != NULL);
    EXPECT_EQ(b->n_sample_type, a->n_sample_type);
    EXPECT_EQ(b->n_sample, a->n_sample);
    EXPECT_EQ(b->n_location, a->n_location);
    EXPECT_EQ(b->n_function, a->n_function);
    EXPECT_EQ(b->n_mapping, a->n_mapping);
    EXPECT_EQ(b->n_string_table, a->n_string_table);
    EXPECT_EQ(b->period, a->period);
    EXPECT_EQ(b->time_nanos, a->time_nanos);
    EXPECT_EQ(b->default_sample_type, a->default_sample_type);
    for (size_t i = 0; i < a->n_sample && i < b->n_sample; i++) {
        const Sample *sa = a->sample[i], *sb = b->sample[i];
        EXPECT_EQ(sb->n_location_id, sa->n_location_id);
        EXPECT_EQ(sb->n_value, sa->n_value);
        EXPECT_EQ(sb->n_label, sa->n_label);
        for (size_t j = 0; j < sa->n_value && j < sb->n_value; j++)
            EXPECT_EQ(sb->value[j], sa->value[j]);
        for (size_t j = 0; j < sa->n_location_id && j < sb->n_location_id; j++)
            EXPECT_UEQ(sb->location_id[j], sa->location_id[j]);
    }
    for (size_t i = 0; i < a->n_location && i < b->n_location; i++) {
        EXPECT_UEQ(b->location[i]->address, a->location[i]->address);
        EXPECT_EQ(b->location[i]->n_line, a->location[i]->n_line);
    }
    for (size_t i = 0; i < a->n_string_table && i < b->n_string_table; i++)
        EXPECT_STR_EQ(b->string_table[i], a->string_table[i]);
    check_references(b);

    /* Packing the copy gives the same bytes again (protoc-c always packs
     * repeated scalars, so it is a fixed point after one round). */
    size_t n2 = perftools__profiles__profile__get_packed_size(b);
    EXPECT_EQ(n2, n);
    uint8_t *packed2 = malloc(n2);
    REQUIRE_TRUE(packed2 != NULL);
    perftools__profiles__profile__pack(b, packed2);
    EXPECT_TRUE(n2 == n && memcmp(packed, packed2, n) == 0);

    perftools__profiles__profile__free_unpacked(b, NULL);
    perftools__profiles__profile__free_unpacked(a, NULL);
    free(packed2);
    free(packed);
    free(raw.data);
}

/* Reads a base-128 varint at *pos; returns 0 if it runs past len. */
static int read_varint(const uint8_t *d, size_t len, size_t *pos, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t byte = d[(*pos)++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* Every prefix of a valid message that ends inside a top-level field must be
 * rejected; a prefix that ends exactly between fields is itself a valid
 * (smaller) profile. Checked for every prefix length of heap.pb. */
static void test_truncated(void) {
    buf_t raw = golden_raw("heap.pb.gz");

    /* Mark the top-level field boundaries (Go writes only varint and
     * length-delimited fields). */
    uint8_t *boundary = calloc(raw.len + 1, 1);
    REQUIRE_TRUE(boundary != NULL);
    size_t pos = 0, nfields = 0;
    boundary[0] = 1;
    while (pos < raw.len) {
        uint64_t tag, v;
        REQUIRE_TRUE(read_varint(raw.data, raw.len, &pos, &tag));
        if ((tag & 7) == 0) {
            REQUIRE_TRUE(read_varint(raw.data, raw.len, &pos, &v));
        } else {
            REQUIRE_EQ(tag & 7, 2);
            REQUIRE_TRUE(read_varint(raw.data, raw.len, &pos, &v));
            pos += v;
        }
        REQUIRE_TRUE(pos <= raw.len);
        boundary[pos] = 1;
        nfields++;
    }
    EXPECT_GT(nfields, 100);

    int rejected = 0, accepted = 0;
    for (size_t cut = 0; cut < raw.len; cut++) {
        Profile *p = perftools__profiles__profile__unpack(NULL, cut, raw.data);
        if (boundary[cut]) {
            if (!p) FAILF("prefix of %zu bytes ends between fields but was rejected", cut);
            accepted++;
        } else {
            if (p) FAILF("prefix of %zu bytes ends inside a field but was accepted", cut);
            rejected++;
        }
        if (p) perftools__profiles__profile__free_unpacked(p, NULL);
    }
    EXPECT_EQ(accepted, (int)nfields); /* lengths 0 .. last boundary before the end */
    EXPECT_GT(rejected, 1000);

    /* The empty prefix is the empty profile. */
    Profile *e = perftools__profiles__profile__unpack(NULL, 0, raw.data);
    REQUIRE_TRUE(e != NULL);
    EXPECT_EQ(e->n_sample, 0);
    EXPECT_EQ(e->n_string_table, 0);
    perftools__profiles__profile__free_unpacked(e, NULL);

    free(boundary);
    free(raw.data);
}

static void expect_rejected(const char *what, const uint8_t *d, size_t len) {
    Profile *p = perftools__profiles__profile__unpack(NULL, len, d);
    if (p) {
        FAILF("%s: unpack accepted corrupt input", what);
        perftools__profiles__profile__free_unpacked(p, NULL);
    }
}

static void test_corrupt(void) {
    /* Wire types 6 and 7 do not exist. */
    static const uint8_t bad_wiretype[] = {0x0f, 0x01};
    expect_rejected("wire type 7", bad_wiretype, sizeof bad_wiretype);
    static const uint8_t bad_wiretype6[] = {0x66, 0x01};
    expect_rejected("wire type 6", bad_wiretype6, sizeof bad_wiretype6);
    /* A varint longer than 10 bytes. */
    static const uint8_t long_varint[] = {0x60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_rejected("overlong varint", long_varint, sizeof long_varint);
    /* string_table entry claiming 100 bytes with 3 present. */
    static const uint8_t short_string[] = {0x32, 0x64, 'a', 'b', 'c'};
    expect_rejected("string past end", short_string, sizeof short_string);
    /* sample_type whose length runs past the end of the input. */
    static const uint8_t long_nested[] = {0x0a, 0x03, 0x08, 0x05};
    expect_rejected("message past end", long_nested, sizeof long_nested);
    /* sample_type whose inner varint crosses the end of its own body; the
     * bytes after it (period = 1) would be valid if the bound were ignored. */
    static const uint8_t cross_nested[] = {0x0a, 0x02, 0x08, 0x85, 0x60, 0x01};
    expect_rejected("varint crosses message end", cross_nested, sizeof cross_nested);
    /* sample whose embedded Label has a broken field inside. */
    static const uint8_t bad_label[] = {0x12, 0x04, 0x1a, 0x02, 0x08, 0xff};
    expect_rejected("label varint cut", bad_label, sizeof bad_label);
    /* Packed location_id whose last varint is unterminated. */
    static const uint8_t bad_packed[] = {0x12, 0x04, 0x0a, 0x02, 0x01, 0x80};
    expect_rejected("packed varint cut", bad_packed, sizeof bad_packed);
    /* A length with 64-bit overflow. */
    static const uint8_t huge_len[] = {0x32, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0x01};
    expect_rejected("huge length", huge_len, sizeof huge_len);

    /* Damage the golden profile: replace the tag of its first field (11,
     * period_type) by a wire type 7 tag. */
    buf_t raw = golden_raw("heap.pb.gz");
    EXPECT_EQ(raw.data[0], 0x5a); /* field 11, length-delimited */
    raw.data[0] = 0x5f;
    expect_rejected("golden with bad first tag", raw.data, raw.len);
    free(raw.data);

    /* Flipping bits through the whole golden file must never crash; each
     * result is either NULL or a profile that can be freed. */
    raw = golden_raw("heap.pb.gz");
    int rejected = 0;
    for (size_t i = 0; i < raw.len; i += 7) {
        uint8_t saved = raw.data[i];
        raw.data[i] ^= 0x85;
        Profile *p = unpack(&raw);
        if (p)
            perftools__profiles__profile__free_unpacked(p, NULL);
        else
            rejected++;
        raw.data[i] = saved;
    }
    EXPECT_GT(rejected, 0);
    free(raw.data);

    /* A damaged gzip stream fails in zlib before protobuf sees it. */
    char path[4096];
    golden_path(path, sizeof path, "heap.pb.gz");
    buf_t gz = read_file(path);
    REQUIRE_TRUE(gz.data != NULL && gz.len > 32);
    buf_t cut = gunzip(gz.data, gz.len / 2);
    EXPECT_TRUE(cut.data == NULL);
    gz.data[gz.len - 5] ^= 0xff; /* CRC32 / ISIZE trailer */
    buf_t bad = gunzip(gz.data, gz.len);
    EXPECT_TRUE(bad.data == NULL);
    free(bad.data);
    free(cut.data);
    free(gz.data);
}

int main(void) {
    RUN(test_heap_golden);
    RUN(test_allocs_golden);
    RUN(test_roundtrip);
    RUN(test_truncated);
    RUN(test_corrupt);
    return th_summary();
}
