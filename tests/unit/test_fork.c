/* test_fork.c - the runtime across fork (fork.c).
 *
 * The child of a fork has one thread. Before fork.c, a child forked while
 * a cycle ran, or while another thread held a runtime lock, hung at its
 * first collection (the stop waited for threads that are not in the child)
 * or at its next allocation (a lock nobody would release).
 *
 *  - before the scheduler starts: the child allocates, collects and reads
 *    MemStats (under TSan it only allocates, with the collector off);
 *  - under load: two attached threads and a goroutine churn object graphs
 *    through the write barrier with cycles back to back (GOGC=25) while
 *    the main thread forks 24 times at random moments (every third one
 *    while a mark runs); each child builds
 *    a checksummed list, allocates enough garbage for several automatic
 *    cycles, runs gcrt_gc, frees explicitly, reads MemStats and checks the
 *    list and the parent's churned graphs (a mark the fork froze is ended
 *    by the child); the parent's threads' graphs stay intact; meanwhile a thread
 *    that is not attached forks 12 times too, then a goroutine 4 times;
 *  - fork + exec under the same load;
 *  - a fork (and a MemStats read) between gcrt_enter_blocking and
 *    gcrt_exit_blocking.
 * Every child runs under alarm(60): a hang is a failure, not a stuck test. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gc.h"
#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"

struct node {
    struct node *next;
    uint64_t val;
    uint64_t sum; /* val * 2654435761 */
};

static struct node *build_list(int n, uint64_t seed) {
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *o = gcrt_alloc(sizeof *o);
        if (!o) return NULL;
        o->val = seed + (uint64_t)i;
        o->sum = o->val * 2654435761u;
        gcrt_store(&o->next, head);
        head = o;
        if (i % 16 == 0) (void)gcrt_alloc(256); /* garbage between the nodes */
    }
    return head;
}

static int check_list(const struct node *head, int n, uint64_t seed) {
    int i = n - 1;
    for (const struct node *o = head; o; o = o->next, i--)
        if (i < 0 || o->val != seed + (uint64_t)i || o->sum != o->val * 2654435761u) return 0;
    return i == -1;
}

/* The parent's churners' slot arrays (churn, below), checked by children:
 * a mark frozen by the fork and ended in the child must keep them whole. */
enum { SLOTS = 256, LEN = 8 };
static struct node **volatile churn_slots[3];
static uint64_t churn_seeds[3];

static int check_churn_slots(void) {
    for (int t = 0; t < 3; t++) {
        struct node **slots = churn_slots[t];
        if (!slots) continue;
        for (int s = 0; s < SLOTS; s++)
            if (slots[s] && !check_list(slots[s], LEN, churn_seeds[t] + (uint64_t)s * 1000))
                return 0;
    }
    return 1;
}

/* What a child does; its exit status says what went wrong (0: nothing).
 * mode 0: the collector off, no MemStats (nothing that starts a thread);
 * 1: automatic cycles; 2: and gcrt_gc; 3: GOMAXPROCS changed first, then 2. */
static int child_work(int mode) {
    alarm(60);
    if (gcrt_thread_attach() != 0) return 7; /* the child of a thread that was not attached */
    struct gcrt_memstats m0, m1;
    /* mode 3: first GOMAXPROCS changed (it waits for a running cycle,
     * start lock held: an inherited mark must end there too). */
    if (mode == 3) {
        if (gcrt_gomaxprocs(gcrt_gomaxprocs(0) + 1) <= 0) return 10;
        mode = 2;
    }
    if (mode == 0)
        gcrt_set_gc_percent(-1);
    else
        gcrt_read_memstats(&m0);
    enum { N = 20000 };
    struct node *keep = build_list(N, 77);
    if (!keep) return 2;
    /* Garbage: several heap goals' worth, so that cycles start by
     * themselves. */
    for (int i = 0; i < 60000; i++) {
        void *p = gcrt_alloc(512);
        if (!p) return 3;
        if (i % 7 == 0) gcrt_free(p);
    }
    if (mode == 2) gcrt_gc();
    if (!check_list(keep, N, 77)) return 4;
    if (!check_churn_slots()) return 8;
    if (mode > 0) {
        gcrt_read_memstats(&m1);
        if (m1.num_gc < m0.num_gc + 2) return 5;
        if (m1.heap_alloc > m1.heap_inuse || m1.frees > m1.mallocs) return 6;
    }
    gcrt_keep_alive(keep);
    return 0;
}

static int child_exec(int arg) {
    (void)arg;
    alarm(60);
    execl("/bin/true", "true", (char *)NULL);
    return 9;
}

/* Forks, runs fn in the child, returns the child's wait status. */
static int fork_run(int (*fn)(int), int arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(fn(arg));
    if (pid < 0) return -1;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
    }
    return st;
}

static void test_before_scheduler(void) {
    /* The runtime runs (gcrt_init in main), no cycle has run yet: the
     * child's first cycle or MemStats read starts the scheduler's thread
     * in the child, which TSan does not support after a fork of a
     * threaded process (the scavenger runs): there it only allocates. */
#if defined(__SANITIZE_THREAD__)
    int mode = 0;
#else
    int mode = 2;
#endif
    int st = fork_run(child_work, mode);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

/* An attached thread forks between gcrt_enter_blocking and
 * gcrt_exit_blocking (the fork's stop-the-world is made by a thread that
 * counts as blocked): both sides leave the bracket, and the child goes on. */
static int child_after_bracket(int mode) {
    gcrt_exit_blocking();
    return child_work(mode);
}

static void test_fork_in_blocking_bracket(void) {
    gcrt_enter_blocking();
    int st = fork_run(child_after_bracket, 2);
    gcrt_exit_blocking();
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
    /* A MemStats read inside the brackets is the same stop. */
    struct gcrt_memstats ms;
    void *p = gcrt_alloc(64);
    gcrt_enter_blocking();
    gcrt_read_memstats(&ms);
    gcrt_exit_blocking();
    EXPECT_GT(ms.mallocs, 0);
    gcrt_keep_alive(p);
}

/* ---- load in the parent ---------------------------------------------------- */

static volatile int stop_churn;
static int churn_fail;

/* A ring of slots, each holding a short checksummed list that is replaced
 * over and over: garbage for the collector, pointer stores for the barrier. */
static void churn(int idx, uint64_t seed) {
    struct node **slots = gcrt_alloc(SLOTS * sizeof *slots);
    churn_seeds[idx] = seed;
    churn_slots[idx] = slots;
    for (uint64_t k = 0; !__atomic_load_n(&stop_churn, __ATOMIC_RELAXED); k++) {
        int s = (int)(k % SLOTS);
        if (slots[s] && !check_list(slots[s], LEN, seed + (uint64_t)s * 1000))
            __atomic_store_n(&churn_fail, 1, __ATOMIC_RELAXED);
        gcrt_store(&slots[s], build_list(LEN, seed + (uint64_t)s * 1000));
    }
    for (int s = 0; s < SLOTS; s++)
        if (slots[s] && !check_list(slots[s], LEN, seed + (uint64_t)s * 1000))
            __atomic_store_n(&churn_fail, 1, __ATOMIC_RELAXED);
    churn_slots[idx] = NULL;
    gcrt_keep_alive(slots);
}

static void *churn_thread(void *arg) {
    gcrt_thread_attach();
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    churn((int)(seed / 1000000) - 1, seed);
    gcrt_thread_detach();
    return NULL;
}

static volatile int g_done;
static void churn_goroutine(void *arg) {
    churn(2, (uint64_t)(uintptr_t)arg);
    __atomic_store_n(&g_done, 1, __ATOMIC_RELEASE);
}

static void sleep_us(long us) {
    struct timespec ts = {0, us * 1000};
    gcrt_enter_blocking();
    nanosleep(&ts, NULL);
    gcrt_exit_blocking();
}

/* Sleeps until a mark runs (checked every 100 µs, up to max_us). */
static void sleep_until_marking(long max_us) {
    for (long t = 0; t < max_us && !__atomic_load_n(&gcrt__gc_marking, __ATOMIC_RELAXED); t += 100)
        sleep_us(100);
}

/* A second thread forking at the same time as the main thread. */
static int fork_thread_bad;
static void *fork_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 12; i++) {
        struct timespec ts = {0, (i % 3) * 700 * 1000};
        nanosleep(&ts, NULL);
        int st = fork_run(child_work, 1 + i % 2);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) __atomic_add_fetch(&fork_thread_bad, 1, 0);
    }
    return NULL;
}

/* A goroutine forking: the child's one thread is a scheduler M, with the
 * goroutine's P. Between gcrt_enter_blocking and gcrt_exit_blocking the
 * goroutine may have lost its P to another M (the child then has none):
 * that child only execs. */
static int fork_g_bad, fork_g_done;
static void fork_goroutine(void *arg) {
    (void)arg;
    for (int i = 0; i < 4; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) _exit(child_work(2));
        int st = 0;
        gcrt_enter_blocking();
        while (pid > 0 && waitpid(pid, &st, 0) < 0) {
        }
        gcrt_exit_blocking();
        if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            __atomic_add_fetch(&fork_g_bad, 1, 0);
        gcrt_enter_blocking();
        st = fork_run(child_exec, 0);
        gcrt_exit_blocking();
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) __atomic_add_fetch(&fork_g_bad, 1, 0);
    }
    __atomic_store_n(&fork_g_done, 1, __ATOMIC_RELEASE);
}

static void test_under_load(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        REQUIRE_EQ(
            pthread_create(&t[i], NULL, churn_thread, (void *)(uintptr_t)(1000000 * (i + 1))), 0);
    REQUIRE_TRUE(gcrt_go(churn_goroutine, (void *)(uintptr_t)5000000) > 0);
    struct gcrt_memstats m0, m1;
    gcrt_read_memstats(&m0);
    int64_t froze0 = gcrt__gc_fork_freezes;
    pthread_t ft; /* not attached: it calls only fork, waitpid and nanosleep */
    REQUIRE_EQ(pthread_create(&ft, NULL, fork_thread, NULL), 0);
    srand(1);
    int bad = 0;
    for (int i = 0; i < 24; i++) {
        /* Every third fork waits for a mark: with marks short, a run of
         * random moments could miss them all (the check below). */
        if (i % 3 == 0)
            sleep_until_marking(100 * 1000);
        else
            sleep_us(rand() % 3000);
        int st = fork_run(child_work, i % 4 == 3 ? 1 : i % 4 == 1 ? 3 : 2);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            bad++;
            fprintf(stderr, "  child %d: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
    }
    pthread_join(ft, NULL);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(fork_thread_bad, 0);
    for (int i = 0; i < 24; i++) {
        sleep_us(rand() % 2000);
        int st = fork_run(child_exec, 0);
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    REQUIRE_TRUE(gcrt_go(fork_goroutine, NULL) > 0);
    while (!__atomic_load_n(&fork_g_done, __ATOMIC_ACQUIRE)) sleep_us(1000);
    EXPECT_EQ(fork_g_bad, 0);
    gcrt_read_memstats(&m1);
    __atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    while (!__atomic_load_n(&g_done, __ATOMIC_ACQUIRE)) sleep_us(1000);
    EXPECT_EQ(churn_fail, 0);
    /* Cycles ran in the parent meanwhile, and it still collects. */
    /* Some forks came during a mark: the parent froze it, the child ended
     * it (child_work checks the list across that cycle and its own). */
    int64_t froze = gcrt__gc_fork_freezes - froze0;
    fprintf(stderr, "  %u cycles in the parent during the forks, %lld marks frozen by a fork\n",
            m1.num_gc - m0.num_gc, (long long)froze);
    EXPECT_GT(froze, 0);
    EXPECT_GT(m1.num_gc, m0.num_gc);
    gcrt_gc();
    struct gcrt_memstats m2;
    gcrt_read_memstats(&m2);
    EXPECT_GT(m2.num_gc, m1.num_gc);
}

int main(void) {
    gcrt_init();
    RUN(test_before_scheduler);
    RUN(test_fork_in_blocking_bracket);
    gcrt_set_gc_percent(25);
    RUN(test_under_load);
    return th_summary();
}
