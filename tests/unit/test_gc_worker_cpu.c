/* test_gc_worker_cpu.c - a mark worker on a free P leaves the CPU of a
 * program thread the kernel has queued it with (gc.c: step_aside), and
 * stays where it is otherwise. GOMAXPROCS=2 (tests/props.cmake): this
 * thread allocates on one P, a worker marks on the other. Tests 2 and 3
 * need two CPUs (skipped with one). The workers (threads named
 * gcrt-mark-N) are pinned from here, through their thread ids, to force
 * where they start.
 *   1. this thread in a blocking call is on no CPU for the workers;
 *   2. this thread on CPU B, the workers on A: no worker moves;
 *   3. this thread and the workers on CPU A, the workers allowed B too: a
 *      worker moves off A, and the live tree is intact.
 * No timing: the workers' move count, the CPUs the workers see. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"
#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "common/tree.h"

static uint32_t num_gc(void) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    return ms.num_gc;
}

/* Garbage until n more cycles have ended; returns the workers' moves meanwhile. */
static int64_t cycles_of_garbage(unsigned n) {
    int64_t m0 = gcrt__gc_worker_moves();
    uint32_t gc0 = num_gc();
    for (int round = 0; round < 1000000 && num_gc() - gc0 < n; round++)
        (void)tree(10, (uint64_t)round);
    EXPECT_GE(num_gc() - gc0, n);
    return gcrt__gc_worker_moves() - m0;
}

static int pin_self(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Sets the CPUs of every gcrt-mark-N thread to set; returns how many. */
static int set_workers(const cpu_set_t *set) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
        fclose(f);
        if (strncmp(comm, "gcrt-mark-", 10) == 0 &&
            sched_setaffinity(atoi(e->d_name), sizeof *set, set) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static int pin_workers(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return set_workers(&set);
}

static int cpu_a = -1, cpu_b = -1; /* the first two CPUs we may run on */
static struct node *live;
static uint64_t want;

/* The workers start a mark on A, where this thread allocates: pinned there
 * between marks, then, once the mark runs, allowed B too (a running thread
 * stays where it is until it moves itself; a waiting one the kernel may
 * move first, so up to 30 cycles: a TSan run in a fresh Debian chroot saw
 * none in 10 once, 2026-12-02). A set the program gave them stays
 * theirs: only what a mark narrowed is undone. */
static void test_moves_off_a_program_cpu(void) {
    REQUIRE_EQ(pin_self(cpu_a), 0);
    (void)cycles_of_garbage(1); /* our P's CPU is A from here on */
    cpu_set_t both;
    CPU_ZERO(&both);
    CPU_SET(cpu_a, &both);
    CPU_SET(cpu_b, &both);
    int64_t m0 = gcrt__gc_worker_moves();
    int tries = 0;
    for (; tries < 30 && gcrt__gc_worker_moves() == m0; tries++) {
        REQUIRE_TRUE(pin_workers(cpu_a) > 0);
        uint32_t gc0 = num_gc();
        int widened = 0;
        for (int round = 0; round < 1000000 && num_gc() == gc0; round++) {
            (void)tree(10, (uint64_t)round);
            if (!widened && __atomic_load_n(&gcrt__gc_marking, __ATOMIC_RELAXED))
                widened = set_workers(&both);
        }
    }
    int64_t m = gcrt__gc_worker_moves() - m0;
    printf("program thread and workers on CPU %d: %lld moves, %d cycles\n", cpu_a, (long long)m,
           tries);
    EXPECT_GT(m, 0);
    EXPECT_UEQ(sum(live), want);
}

/* The workers pinned first: a warm-up cycle with them free could narrow
 * their CPUs to A, and the mark's end would then take our pin for its own
 * narrowing and undo it. */
static void test_stays_on_its_own_cpu(void) {
    REQUIRE_TRUE(pin_workers(cpu_a) > 0);
    REQUIRE_EQ(pin_self(cpu_b), 0);
    (void)cycles_of_garbage(1); /* our P's CPU is B from here on */
    /* Up to three tries of three cycles: a goroutine of the runtime's that
     * runs on A at a mark's start (its P's CPU then A) is a program thread
     * there too, and a move for it is right (about one run in eight on a
     * loaded machine). A worker that moves while nothing runs on A moves
     * in every try. */
    int64_t m = 0;
    for (int t = 0; t < 3; t++) {
        m = cycles_of_garbage(3);
        printf("program thread on CPU %d, workers on %d: %lld moves in 3 cycles\n", cpu_b, cpu_a,
               (long long)m);
        if (m == 0) break;
    }
    EXPECT_EQ(m, 0);
    EXPECT_UEQ(sum(live), want);
}

/* A program thread in a blocking call keeps its P but is on no CPU, for
 * the workers: a worker on its last CPU stays there. Before, a thread
 * waiting in gcrt_gc still marked its CPU as the program's, and the forced
 * cycle's workers squeezed onto the other CPUs (2 CPUs: both workers on
 * one, the mark twice as long). */
static void test_blocked_thread_is_on_no_cpu(void) {
    REQUIRE_EQ(pin_self(cpu_a), 0);
    (void)tree(12, 3); /* span refills on A: our P's CPU is A */
    cpu_set_t running, blocked, back;
    gcrt__gc_program_cpus(&running);
    gcrt_enter_blocking();
    gcrt__gc_program_cpus(&blocked);
    gcrt_exit_blocking();
    gcrt__gc_program_cpus(&back);
    int a_running = CPU_ISSET(cpu_a, &running) != 0, a_blocked = CPU_ISSET(cpu_a, &blocked) != 0,
        a_back = CPU_ISSET(cpu_a, &back) != 0;
    printf("CPU %d the program's: running %d, blocked %d, back %d\n", cpu_a, a_running, a_blocked,
           a_back);
    EXPECT_EQ(a_running, 1);
    EXPECT_EQ(a_blocked, 0);
    EXPECT_EQ(a_back, 1); /* at once, not at the next refill */
}

int main(void) {
    cpu_set_t set;
    REQUIRE_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set)) {
            if (cpu_a < 0)
                cpu_a = i;
            else if (cpu_b < 0)
                cpu_b = i;
        }
    if (gcrt_init() != 0) return 1;
    RUN(test_blocked_thread_is_on_no_cpu);
    if (cpu_b < 0) {
        printf("one CPU: nowhere to move to, skipped\n");
        return th_summary();
    }
    /* Something to mark: 2^17 nodes, many 64 KiB slices of scan work. A
     * first cycle starts the workers, with every CPU ours. */
    live = tree(16, 1);
    want = sum(live);
    gcrt_gc();
    RUN(test_stays_on_its_own_cpu); /* first: no mark has narrowed a worker's CPUs */
    RUN(test_moves_off_a_program_cpu);
    gcrt_keep_alive(live);
    return th_summary();
}
