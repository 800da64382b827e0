/* bench_alloc.c - microbenchmarks of libgcrt's allocation paths (not a test).
 *
 *   bench_alloc [--quick] [--runs R] [--threads "1 2"] [--sizes "16 64"] [--cpu-clock]
 *
 * For each object size (8, 16, 64, 256, 4096 B, 64 KiB), each kind (scan:
 * gcrt_alloc, noscan: gcrt_alloc_noscan; 8 B noscan is the tiny allocator)
 * and each thread count (1, 2; worker threads call gcrt_thread_attach), three
 * variants are timed; in all of them each object's first byte is written:
 *
 *   hot         batches of B objects (B * size <= 1 MiB, B <= 16384): the
 *               batch is allocated (timed, pointers kept in an array), then
 *               freed with gcrt_free (untimed), N allocations in all. The
 *               memory stays in cache and committed: this is the fast path,
 *               slot zeroing and amortised refills, without page faults.
 *   grow        N allocations in a row (the heap grows by N objects: there
 *               is no collector yet), then all freed, untimed, so that the
 *               next run can reuse the pages. Includes refills from the page
 *               heap, page faults on fresh or scavenged pages, zeroing.
 *   alloc+free  N pairs p = alloc(n); p[0] = 1; gcrt_free(p), timed together
 *               (ns per pair). Tiny objects are never freed by gcrt_free (they
 *               share 16-byte blocks): that row grows the heap by N * 8 B.
 *
 * --cpu-clock times each thread with its own CPU clock
 * (CLOCK_THREAD_CPUTIME_ID) instead of the wall clock: on a loaded machine
 * the wall clock also counts the time the thread waited for a CPU.
 *
 * One warm-up run precedes the timed runs.
 * A run's figure is the slowest thread's loop time / N (the cost of one
 * allocation as seen by each thread, like ../shared/bench/peers allocbench);
 * the table shows the best of R runs in ns and in TSC ticks (the machine has
 * no PMU in the VM, so core cycles are not available; ticks = ns * TSC GHz).
 *
 * The collector is off (GOGC=off): objects are freed explicitly.
 *
 * N is chosen per size so that one run keeps at most 128 MiB live per
 * thread (grow); the whole default run takes about a minute.
 */
#define _GNU_SOURCE 1
#include <gcrt.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#define MAX_THREADS 2
#define LIVE_BUDGET ((size_t)128 << 20) /* bytes kept live per thread per run (grow) */
#define HOT_BUDGET  ((size_t)1 << 20)   /* bytes per batch (hot) */
#define HOT_MAX     16384L              /* objects per batch (hot) */
#define N_MAX       1000000L            /* allocations per run, small sizes */

enum { V_HOT, V_GROW, V_FREE, NVARIANT };
static const char *const variant_name[NVARIANT] = {"hot", "grow", "alloc+free"};

typedef struct {
    size_t size;
    int noscan;
    int variant;
    long n;
} job_t;

typedef struct {
    int id;
    pthread_t th;
    void **ptrs; /* room for N_MAX pointers, touched once */
    uint64_t ns, ticks;
} worker_t;

static pthread_barrier_t bar_start, bar_end;
static job_t cur_job;
static volatile int quit;
static volatile uintptr_t sink;

static clockid_t bench_clock = CLOCK_MONOTONIC;

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The timed loops: one per kind so the call is direct and the kind test is
 * outside the loop. noinline keeps them out of each other's way in the
 * generated code and easy to find in a profile. */
#define ALLOC_LOOP(name, fn)                                                                       \
    static __attribute__((noinline)) void name(void **ptrs, size_t size, long n) {                 \
        for (long i = 0; i < n; i++) {                                                             \
            char *p = fn(size);                                                                    \
            p[0] = 1;                                                                              \
            ptrs[i] = p;                                                                           \
        }                                                                                          \
    }
#define FREE_LOOP(name, fn)                                                                        \
    static __attribute__((noinline)) void name(size_t size, long n) {                              \
        for (long i = 0; i < n; i++) {                                                             \
            char *p = fn(size);                                                                    \
            p[0] = 1;                                                                              \
            sink = (uintptr_t)p;                                                                   \
            gcrt_free(p);                                                                          \
        }                                                                                          \
    }
ALLOC_LOOP(loop_alloc_scan, gcrt_alloc)
ALLOC_LOOP(loop_alloc_noscan, gcrt_alloc_noscan)
FREE_LOOP(loop_free_scan, gcrt_alloc)
FREE_LOOP(loop_free_noscan, gcrt_alloc_noscan)

/* One run of the current job on this thread: times the loop, then frees
 * what the alloc variant kept (untimed). */
static void run_once(worker_t *w, const job_t *j) {
    if (j->variant == V_HOT) {
        long b = (long)(HOT_BUDGET / j->size);
        if (b > HOT_MAX) b = HOT_MAX;
        if (b < 16) b = 16;
        uint64_t ns = 0, ticks = 0;
        for (long done = 0; done < j->n; done += b) {
            long m = j->n - done < b ? j->n - done : b;
            uint64_t k0 = __rdtsc(), t0 = now_ns();
            if (j->noscan)
                loop_alloc_noscan(w->ptrs, j->size, m);
            else
                loop_alloc_scan(w->ptrs, j->size, m);
            uint64_t t1 = now_ns(), k1 = __rdtsc();
            ns += t1 - t0;
            ticks += k1 - k0;
            for (long i = 0; i < m; i++) gcrt_free(w->ptrs[i]);
        }
        w->ns = ns;
        w->ticks = ticks;
        return;
    }
    uint64_t k0 = __rdtsc(), t0 = now_ns();
    if (j->variant == V_GROW) {
        if (j->noscan)
            loop_alloc_noscan(w->ptrs, j->size, j->n);
        else
            loop_alloc_scan(w->ptrs, j->size, j->n);
    } else {
        if (j->noscan)
            loop_free_noscan(j->size, j->n);
        else
            loop_free_scan(j->size, j->n);
    }
    uint64_t t1 = now_ns(), k1 = __rdtsc();
    w->ns = t1 - t0;
    w->ticks = k1 - k0;
    if (j->variant == V_GROW)
        for (long i = 0; i < j->n; i++) gcrt_free(w->ptrs[i]);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    if (gcrt_thread_attach() != 0) {
        fprintf(stderr, "bench_alloc: gcrt_thread_attach failed\n");
        exit(1);
    }
    for (;;) {
        pthread_barrier_wait(&bar_start);
        if (quit) break;
        job_t j = cur_job;
        run_once(w, &j);
        pthread_barrier_wait(&bar_end);
    }
    gcrt_thread_detach();
    return NULL;
}

static long n_for(size_t size, int quick) {
    long n = (long)(LIVE_BUDGET / size);
    if (n > N_MAX) n = N_MAX;
    if (quick) n /= 20;
    return n < 64 ? 64 : n;
}

typedef struct {
    double ns, ticks;
} result_t;

/* Best of `runs` timed runs (after one warm-up) of job j on nt threads. */
static result_t measure(worker_t *ws, int nt, const job_t *j, int runs) {
    result_t best = {1e30, 1e30};
    for (int r = 0; r <= runs; r++) {
        uint64_t ns = 0, ticks = 0;
        if (nt == 1) {
            run_once(&ws[0], j);
            ns = ws[0].ns;
            ticks = ws[0].ticks;
        } else {
            cur_job = *j;
            pthread_barrier_wait(&bar_start);
            pthread_barrier_wait(&bar_end);
            for (int t = 0; t < nt; t++) {
                if (ws[t].ns > ns) ns = ws[t].ns;
                if (ws[t].ticks > ticks) ticks = ws[t].ticks;
            }
        }
        if (r == 0) continue; /* warm-up */
        double a = (double)ns / j->n, b = (double)ticks / j->n;
        if (a < best.ns) best = (result_t){a, b};
    }
    return best;
}

/* Whether word w is one of the space-separated words of list. */
static int word_in(const char *list, const char *w) {
    size_t n = strlen(w);
    for (const char *s = list; (s = strstr(s, w)) != NULL; s += n)
        if ((s == list || s[-1] == ' ') && (s[n] == 0 || s[n] == ' ')) return 1;
    return 0;
}

static void *ptr_array(void) {
    void **p = malloc(N_MAX * sizeof(void *));
    if (!p) {
        perror("malloc");
        exit(1);
    }
    memset(p, 0, N_MAX * sizeof(void *));
    return p;
}

int main(int argc, char **argv) {
    int quick = 0, runs = 5;
    const char *threads_arg = "1 2", *sizes_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads_arg = argv[++i];
        else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
            sizes_arg = argv[++i];
        else if (!strcmp(argv[i], "--cpu-clock"))
            bench_clock = CLOCK_THREAD_CPUTIME_ID;
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--runs R] [--threads \"1 2\"] [--sizes \"16 64\"] "
                    "[--cpu-clock]\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    int tcounts[2], ntc = 0;
    for (const char *s = threads_arg; *s && ntc < 2; s++)
        if (*s >= '1' && *s <= '0' + MAX_THREADS) tcounts[ntc++] = *s - '0';
    if (ntc == 0) tcounts[ntc++] = 1;

    if (gcrt_init() != 0) {
        fprintf(stderr, "bench_alloc: gcrt_init failed\n");
        return 1;
    }
    /* GOGC=off: this measures the allocator. Objects are freed explicitly
     * and their pointers sit in malloc'd arrays the collector cannot see. */
    gcrt_set_gc_percent(-1);

    /* TSC frequency, for the header. */
    uint64_t k0 = __rdtsc(), t0 = wall_ns();
    struct timespec d = {0, 50000000};
    nanosleep(&d, NULL);
    double tsc_ghz = (double)(__rdtsc() - k0) / (double)(wall_ns() - t0);

    static const size_t all_sizes[] = {8, 16, 64, 256, 4096, 65536};
    enum { NALL = sizeof all_sizes / sizeof all_sizes[0] };
    size_t sizes[NALL];
    int NSIZES = 0;
    for (int i = 0; i < NALL; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%zu", all_sizes[i]);
        if (sizes_arg && !word_in(sizes_arg, buf)) continue;
        sizes[NSIZES++] = all_sizes[i];
    }
    static result_t res[NALL][2][NVARIANT][MAX_THREADS + 1];
    memset(res, 0, sizeof res);

    struct gcrt_memstats *ms = calloc(1, sizeof *ms);
    worker_t ws[MAX_THREADS];
    ws[0] = (worker_t){.id = 0, .ptrs = ptr_array()};
    uint64_t t_all = wall_ns();
    for (int ti = 0; ti < ntc; ti++) {
        int nt = tcounts[ti];
        if (nt > 1) {
            pthread_barrier_init(&bar_start, NULL, (unsigned)nt + 1);
            pthread_barrier_init(&bar_end, NULL, (unsigned)nt + 1);
            quit = 0;
            for (int t = 0; t < nt; t++) {
                if (t > 0 || !ws[0].ptrs) ws[t] = (worker_t){.id = t, .ptrs = ptr_array()};
                ws[t].id = t;
                pthread_create(&ws[t].th, NULL, worker_main, &ws[t]);
            }
        }
        for (int si = 0; si < NSIZES; si++)
            for (int k = 0; k < 2; k++)
                for (int v = 0; v < NVARIANT; v++) {
                    job_t j = {sizes[si], k, v, n_for(sizes[si], quick)};
                    res[si][k][v][nt] = measure(ws, nt, &j, runs);
                    gcrt_read_memstats(ms);
                    fprintf(stderr,
                            "  %5zu B %-6s %-10s %dT: %8.2f ns  (n=%ld; heap_sys %.0f MiB, "
                            "heap_inuse %.0f MiB, heap_released %.0f MiB)\n",
                            j.size, k ? "noscan" : "scan", variant_name[v], nt,
                            res[si][k][v][nt].ns, j.n, ms->heap_sys / 1048576.0,
                            ms->heap_inuse / 1048576.0, ms->heap_released / 1048576.0);
                }
        if (nt > 1) {
            quit = 1;
            pthread_barrier_wait(&bar_start);
            for (int t = 0; t < nt; t++) pthread_join(ws[t].th, NULL);
            pthread_barrier_destroy(&bar_start);
            pthread_barrier_destroy(&bar_end);
        }
    }
    double elapsed_s = (double)(wall_ns() - t_all) / 1e9;

    gcrt_read_memstats(ms);

    printf("bench_alloc: best of %d runs (after 1 warm-up); ns per allocation (alloc+free: per "
           "pair) as seen by each thread (%s clock); TSC %.3f GHz, ticks in parentheses; %.1f "
           "s\n\n",
           runs, bench_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU (ticks: wall)", tsc_ghz,
           elapsed_s);
    printf("| object | kind | N/run/thread |");
    for (int v = 0; v < NVARIANT; v++)
        for (int ti = 0; ti < ntc; ti++) printf(" %s %dT ns |", variant_name[v], tcounts[ti]);
    printf("\n|---|---|---:|");
    for (int c = 0; c < NVARIANT * ntc; c++) printf("---:|");
    printf("\n");
    for (int si = 0; si < NSIZES; si++)
        for (int k = 0; k < 2; k++) {
            size_t sz = sizes[si];
            if (sz >= 1024)
                printf("| %zu KiB |", sz >> 10);
            else
                printf("| %zu B |", sz);
            printf(" %s |", k ? (sz < 16 ? "noscan (tiny)" : "noscan") : "scan");
            printf(" %ld |", n_for(sz, quick));
            for (int v = 0; v < NVARIANT; v++)
                for (int ti = 0; ti < ntc; ti++) {
                    result_t r = res[si][k][v][tcounts[ti]];
                    printf(" %.2f (%.0f) |", r.ns, r.ticks);
                }
            printf("\n");
        }
    printf("\nMemStats at exit: heap_sys %.1f MiB, heap_inuse %.1f MiB, heap_released %.1f MiB, "
           "sys %.1f MiB, mallocs %" PRIu64 ", frees %" PRIu64 "\n",
           ms->heap_sys / 1048576.0, ms->heap_inuse / 1048576.0, ms->heap_released / 1048576.0,
           ms->sys / 1048576.0, ms->mallocs, ms->frees);
    free(ms);
    return 0;
}
