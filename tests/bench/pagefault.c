/* pagefault.c - what a first touch of fresh anonymous memory costs on this
 * machine (the kernel's page fault, and on a virtual machine the
 * hypervisor's), per 4 KiB page: mean and tail. A thread in a fault cannot
 * take a signal until the fault returns, so the tail bounds how long a
 * stop-the-world can wait for an allocating thread (RESULTS.md, section 21).
 *
 *   cc -O2 -o pagefault tests/bench/pagefault.c
 *   ./pagefault MIB MODE    MODE 0: write each page; 1: read it, then write
 *                           (the read maps the zero page, the write faults
 *                           again) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    size_t bytes = (size_t)(argc > 1 ? atoi(argv[1]) : 200) << 20;
    int mode = argc > 2 ? atoi(argv[2]) : 0;
    char *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t np = bytes / 4096;
    long long *t = malloc(np * sizeof *t);
    if (p == MAP_FAILED || !t) return 1;
    volatile char sink;
    for (size_t i = 0; i < np; i++) {
        long long a = now_ns();
        if (mode == 1) sink = p[i * 4096];
        p[i * 4096] = 1;
        t[i] = now_ns() - a;
    }
    (void)sink;
    qsort(t, np, sizeof *t, cmp);
    long long sum = 0;
    for (size_t i = 0; i < np; i++) sum += t[i];
    printf("mode=%d pages=%zu mean=%.0fns p50=%lld p99=%lld p99.9=%lld p99.99=%lld max=%lld\n",
           mode, np, (double)sum / (double)np, t[np / 2], t[np * 99 / 100], t[np * 999 / 1000],
           t[np * 9999 / 10000], t[np - 1]);
    return 0;
}
