/* test_sched_preempt.c - asynchronous preemption (preempt.c): a goroutine
 * in a pure C loop, with no runtime call, loses its P after about 10 ms;
 * every register it had (general, flags, SSE/AVX, MXCSR) and errno come
 * back as they were; a goroutine that spends its time in libc is never
 * stopped inside libc. Under TSan asynchronous preemption is off and the
 * tests that need it say so and pass. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "sched_internal.h"

static int64_t done_count;

static int wait_done(int64_t n, int64_t timeout_ns) {
    int64_t t0 = gcrt_nanotime();
    while (__atomic_load_n(&done_count, __ATOMIC_ACQUIRE) < n) {
        if (gcrt_nanotime() - t0 > timeout_ns) return 0;
        usleep(1000);
    }
    return 1;
}
static void mark_done(void) {
    __atomic_fetch_add(&done_count, 1, __ATOMIC_RELEASE);
}

static int64_t stat_of(int which) {
    int64_t s[GCRT_PREEMPT_NSTATS];
    gcrt__preempt_stats(s);
    return s[which];
}

/* On everywhere but under TSan (preempt.c). */
static int have_async(void) {
    gcrt__sched_start();
#if defined(__SANITIZE_THREAD__)
    EXPECT_EQ(gcrt__async_preempt_enabled(), 0);
    fprintf(stderr, "%s: asynchronous preemption is off under TSan: skipped\n", th_current);
    return 0;
#else
    REQUIRE_EQ(gcrt__async_preempt_enabled(), 1);
    return 1;
#endif
}

/* ---- 1. a pure C spin on a flag only another goroutine sets ---------- */

static volatile int flag, spinning;

static __attribute__((noinline)) void spin_on_flag(void *arg) {
    spinning = 1;
    while (!flag) {
    }
    mark_done();
}
static void set_flag(void *arg) {
    flag = 1;
    mark_done();
}

static void test_spin_is_preempted(void) {
    if (!have_async()) return;
    int old = gcrt_gomaxprocs(1);
    done_count = 0;
    flag = spinning = 0;
    int64_t before = stat_of(GCRT_PREEMPT_DONE);
    gcrt_go(spin_on_flag, NULL);
    while (!spinning) usleep(1000);
    /* Only runs if the spinner is preempted: one P, and the spinner makes
     * no call the scheduler could switch in. */
    gcrt_go(set_flag, NULL);
    int ok = wait_done(2, 20LL * 1000 * 1000 * 1000);
    REQUIRE_TRUE(ok); /* else the spinner holds the only P for good */
    EXPECT_GE(stat_of(GCRT_PREEMPT_DONE) - before, 1);
    gcrt_gomaxprocs(old);
}

/* Not while the collector marks: the spinner keeps the P while the write
 * barrier's flag is up (set by hand here; gcrt_write_barrier itself checks
 * gcrt__gc_marking, which stays off), and loses it once the flag drops. */
static void test_not_while_marking(void) {
    if (!have_async()) return;
    int old = gcrt_gomaxprocs(1);
    done_count = 0;
    flag = spinning = 0;
    __atomic_store_n(&gcrt_gc_barrier_on, 1, __ATOMIC_RELEASE);
    int64_t refused = stat_of(GCRT_PREEMPT_MARKING);
    gcrt_go(spin_on_flag, NULL);
    while (!spinning) usleep(1000);
    gcrt_go(set_flag, NULL);
    usleep(200 * 1000);
    EXPECT_EQ(flag, 0);
    EXPECT_GE(stat_of(GCRT_PREEMPT_MARKING) - refused, 1);
    __atomic_store_n(&gcrt_gc_barrier_on, 0, __ATOMIC_RELEASE);
    REQUIRE_TRUE(wait_done(2, 20LL * 1000 * 1000 * 1000));
    gcrt_gomaxprocs(old);
}

/* ---- 2. every register survives ---------------------------------------- */

/* regs_spin(state, iters): loads rax rbx rcx rdx rsi rdi rbp r8-r15 from
 * state[0..14], xmm0-15 from state[16..47] and MXCSR from state[48], runs
 * iters rounds that mix all of them (with a carry chain through the flags
 * and rounding-sensitive double arithmetic), and stores them back. Written
 * in assembly so every one of them is live across the whole loop. */
__asm__(".text\n"
        ".globl regs_spin\n"
        ".type regs_spin, @function\n"
        "regs_spin:\n"
        "  pushq %rbp\n pushq %rbx\n pushq %r12\n pushq %r13\n pushq %r14\n pushq %r15\n"
        "  pushq %rdi\n"        /* 8(%rsp): state */
        "  pushq %rsi\n"        /* 0(%rsp): rounds left */
        "  subq $8, %rsp\n"     /* 0(%rsp): scratch; rounds at 8, state at 16 */
        "  ldmxcsr 384(%rdi)\n" /* state[48] */
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "  movdqu 128+16*\\n(%rdi), %xmm\\n\n"
        "  .endr\n"
        "  movq 0(%rdi), %rax\n movq 8(%rdi), %rbx\n movq 16(%rdi), %rcx\n"
        "  movq 24(%rdi), %rdx\n movq 32(%rdi), %rsi\n movq 48(%rdi), %rbp\n"
        "  movq 56(%rdi), %r8\n movq 64(%rdi), %r9\n movq 72(%rdi), %r10\n"
        "  movq 80(%rdi), %r11\n movq 88(%rdi), %r12\n movq 96(%rdi), %r13\n"
        "  movq 104(%rdi), %r14\n movq 112(%rdi), %r15\n movq 40(%rdi), %rdi\n"
        "1:\n"
        "  addq %rbx, %rax\n adcq %rcx, %rbx\n adcq %rdx, %rcx\n adcq %rsi, %rdx\n"
        "  adcq %rdi, %rsi\n adcq %rbp, %rdi\n adcq %r8, %rbp\n adcq %r9, %r8\n"
        "  adcq %r10, %r9\n adcq %r11, %r10\n adcq %r12, %r11\n adcq %r13, %r12\n"
        "  adcq %r14, %r13\n adcq %r15, %r14\n adcq %rax, %r15\n"
        "  rolq $7, %rax\n xorq %r15, %rax\n rorq $3, %rbp\n"
        "  paddq %xmm1, %xmm0\n pxor %xmm2, %xmm1\n paddq %xmm3, %xmm2\n pxor %xmm4, %xmm3\n"
        "  paddq %xmm5, %xmm4\n pxor %xmm6, %xmm5\n paddq %xmm7, %xmm6\n pxor %xmm8, %xmm7\n"
        "  paddq %xmm9, %xmm8\n pxor %xmm10, %xmm9\n paddq %xmm11, %xmm10\n"
        "  pxor %xmm0, %xmm11\n psllq $1, %xmm12\n pxor %xmm11, %xmm12\n"
        "  mulsd %xmm14, %xmm13\n addsd %xmm15, %xmm13\n" /* xmm13-15: doubles */
        "  decq 8(%rsp)\n"
        "  jnz 1b\n"
        "  movq %rax, 0(%rsp)\n"
        "  movq 16(%rsp), %rax\n" /* state */
        "  movq %rbx, 8(%rax)\n movq %rcx, 16(%rax)\n movq %rdx, 24(%rax)\n"
        "  movq %rsi, 32(%rax)\n movq %rdi, 40(%rax)\n movq %rbp, 48(%rax)\n"
        "  movq %r8, 56(%rax)\n movq %r9, 64(%rax)\n movq %r10, 72(%rax)\n"
        "  movq %r11, 80(%rax)\n movq %r12, 88(%rax)\n movq %r13, 96(%rax)\n"
        "  movq %r14, 104(%rax)\n movq %r15, 112(%rax)\n"
        "  movq 0(%rsp), %rcx\n movq %rcx, 0(%rax)\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "  movdqu %xmm\\n, 128+16*\\n(%rax)\n"
        "  .endr\n"
        "  stmxcsr 384(%rax)\n"
        "  ldmxcsr 392(%rax)\n" /* state[49]: the caller's MXCSR back */
        "  addq $24, %rsp\n"
        "  popq %r15\n popq %r14\n popq %r13\n popq %r12\n popq %rbx\n popq %rbp\n"
        "  ret\n"
        ".size regs_spin, . - regs_spin\n");
void regs_spin(uint64_t *state, long iters);

enum { NSTATE = 50, NSPINNERS = 3 };
static const long spin_rounds = 60L * 1000 * 1000;

static void regs_init(uint64_t *st, uint64_t seed) {
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < 48; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        st[i] = x;
    }
    /* xmm13-15 low lanes: ordinary doubles near 1 (no overflow or NaN). */
    double d13 = 1.0 + (double)(seed % 7) / 3.0, d14 = 0.999999999, d15 = 1e-9 * (double)seed;
    memcpy(&st[16 + 26], &d13, 8);
    memcpy(&st[16 + 28], &d14, 8);
    memcpy(&st[16 + 30], &d15, 8);
    uint32_t mx;
    __asm__ __volatile__("stmxcsr %0" : "=m"(mx));
    st[49] = mx;
    /* Every other spinner rounds toward zero: a lost MXCSR shows. */
    st[48] = (seed & 1) ? (mx | 0x6000u) : mx;
}

static uint64_t spin_state[NSPINNERS][NSTATE];
static void regs_spinner(void *arg) {
    regs_spin(spin_state[(intptr_t)arg], spin_rounds);
    mark_done();
}

static void regs_spinner_half(void *arg) {
    regs_spin(spin_state[(intptr_t)arg], spin_rounds / 2);
    mark_done();
}

static void test_registers_survive(void) {
    if (!have_async()) return;
    uint64_t want[NSPINNERS][NSTATE];
    int64_t t0 = gcrt_nanotime();
    for (int i = 0; i < NSPINNERS; i++) {
        regs_init(want[i], (uint64_t)i + 1);
        memcpy(spin_state[i], want[i], sizeof want[i]);
        /* The expected values: this thread is not a goroutine, so nothing
         * preempts it here. */
        regs_spin(want[i], spin_rounds);
    }
    fprintf(stderr, "  %d x %ld rounds on a thread: %lld ms\n", NSPINNERS, spin_rounds,
            (long long)((gcrt_nanotime() - t0) / 1000000));
    int old = gcrt_gomaxprocs(1);
    done_count = 0;
    int64_t before = stat_of(GCRT_PREEMPT_DONE);
    t0 = gcrt_nanotime();
    for (intptr_t i = 0; i < NSPINNERS; i++) gcrt_go(regs_spinner, (void *)i);
    REQUIRE_TRUE(wait_done(NSPINNERS, 120LL * 1000 * 1000 * 1000));
    int64_t n = stat_of(GCRT_PREEMPT_DONE) - before;
    fprintf(stderr, "  as goroutines on one P: %lld ms, %lld async preemptions\n",
            (long long)((gcrt_nanotime() - t0) / 1000000), (long long)n);
    /* Three spinners of tens of ms each on one P take turns only by
     * asynchronous preemption. */
    EXPECT_GE(n, NSPINNERS);
    for (int i = 0; i < NSPINNERS; i++)
        for (int k = 0; k < 49; k++) {
            if (spin_state[i][k] != want[i][k])
                fprintf(stderr, "  spinner %d word %d: %016llx, want %016llx\n", i, k,
                        (unsigned long long)spin_state[i][k], (unsigned long long)want[i][k]);
            EXPECT_UEQ(spin_state[i][k], want[i][k]);
        }
    gcrt_gomaxprocs(old);
}

/* The same for the AVX registers: ymm0-15 (their upper halves are not in
 * FXSAVE's area) from state[0..63], mixed iters rounds, stored back. */
__asm__(".text\n"
        ".globl ymm_spin\n"
        ".type ymm_spin, @function\n"
        "ymm_spin:\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "  vmovdqu 32*\\n(%rdi), %ymm\\n\n"
        "  .endr\n"
        "1:\n"
        "  vpaddq %ymm1, %ymm0, %ymm0\n vpxor %ymm2, %ymm1, %ymm1\n"
        "  vpaddq %ymm3, %ymm2, %ymm2\n vpxor %ymm4, %ymm3, %ymm3\n"
        "  vpaddq %ymm5, %ymm4, %ymm4\n vpxor %ymm6, %ymm5, %ymm5\n"
        "  vpaddq %ymm7, %ymm6, %ymm6\n vpxor %ymm8, %ymm7, %ymm7\n"
        "  vpaddq %ymm9, %ymm8, %ymm8\n vpxor %ymm10, %ymm9, %ymm9\n"
        "  vpaddq %ymm11, %ymm10, %ymm10\n vpxor %ymm12, %ymm11, %ymm11\n"
        "  vpaddq %ymm13, %ymm12, %ymm12\n vpxor %ymm14, %ymm13, %ymm13\n"
        "  vpaddq %ymm15, %ymm14, %ymm14\n vpxor %ymm0, %ymm15, %ymm15\n"
        "  vpsllq $1, %ymm15, %ymm15\n"
        "  decq %rsi\n"
        "  jnz 1b\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "  vmovdqu %ymm\\n, 32*\\n(%rdi)\n"
        "  .endr\n"
        "  vzeroupper\n"
        "  ret\n"
        ".size ymm_spin, . - ymm_spin\n");
void ymm_spin(uint64_t *state, long iters);

static uint64_t ymm_state[NSPINNERS][64];
static const long ymm_rounds = 120L * 1000 * 1000; /* a shorter loop: more rounds */
static void ymm_spinner(void *arg) {
    ymm_spin(ymm_state[(intptr_t)arg], ymm_rounds);
    mark_done();
}

static void test_avx_survives(void) {
    if (!have_async()) return;
    if (!__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "  no AVX2 here: skipped\n");
        return;
    }
    uint64_t want[NSPINNERS][64];
    int64_t t0 = gcrt_nanotime();
    for (int i = 0; i < NSPINNERS; i++) {
        uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + 7;
        for (int k = 0; k < 64; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            want[i][k] = ymm_state[i][k] = x;
        }
        ymm_spin(want[i], ymm_rounds);
    }
    fprintf(stderr, "  %d x %ld rounds on a thread: %lld ms\n", NSPINNERS, ymm_rounds,
            (long long)((gcrt_nanotime() - t0) / 1000000));
    int old = gcrt_gomaxprocs(1);
    done_count = 0;
    int64_t before = stat_of(GCRT_PREEMPT_DONE);
    for (intptr_t i = 0; i < NSPINNERS; i++) gcrt_go(ymm_spinner, (void *)i);
    REQUIRE_TRUE(wait_done(NSPINNERS, 120LL * 1000 * 1000 * 1000));
    EXPECT_GE(stat_of(GCRT_PREEMPT_DONE) - before, NSPINNERS);
    for (int i = 0; i < NSPINNERS; i++)
        for (int k = 0; k < 64; k++) EXPECT_UEQ(ymm_state[i][k], want[i][k]);
    gcrt_gomaxprocs(old);
}

/* ---- 3. errno stays the goroutine's ------------------------------------- */

static int errno_bad;
static void errno_spinner(void *arg) {
    int mine = (int)(intptr_t)arg;
    errno = mine;
    int64_t until = stat_of(GCRT_PREEMPT_DONE) + 6;
    while (stat_of(GCRT_PREEMPT_DONE) < until) {
        for (volatile int i = 0; i < 1000000; i++) {
        }
        if (errno != mine) __atomic_store_n(&errno_bad, 1, __ATOMIC_RELAXED);
    }
    if (errno != mine) __atomic_store_n(&errno_bad, 1, __ATOMIC_RELAXED);
    mark_done();
}

static void test_errno_survives(void) {
    if (!have_async()) return;
    int old = gcrt_gomaxprocs(1);
    done_count = 0;
    errno_bad = 0;
    gcrt_go(errno_spinner, (void *)(intptr_t)EINTR);
    gcrt_go(errno_spinner, (void *)(intptr_t)ERANGE);
    REQUIRE_TRUE(wait_done(2, 60LL * 1000 * 1000 * 1000));
    EXPECT_EQ(errno_bad, 0);
    gcrt_gomaxprocs(old);
}

/* ---- 4. never inside libc ------------------------------------------------ */

/* Goroutines on two Ps that spend nearly all their time in libc calls
 * that keep per-thread state: stdio (the FILE lock records its owner
 * thread and counts recursion), malloc (a per-thread cache) and snprintf.
 * A preemption inside one of them that moved the goroutine to another
 * thread would tear lines, corrupt the heap or deadlock. */
enum { NLIBC = 4 };
static FILE *shared_file;
static volatile int libc_stop;
static int64_t lines_written[NLIBC];

static void libc_looper(void *arg) {
    intptr_t id = (intptr_t)arg;
    char buf[256];
    void *keep[16] = {0};
    int64_t n = 0;
    while (!libc_stop) {
        for (int k = 0; k < 16; k++) {
            free(keep[k]);
            keep[k] = malloc((size_t)(16 + (n * 37 + k * 101) % 3000));
            if (keep[k]) memset(keep[k], (int)id, 16);
        }
        int len = snprintf(buf, sizeof buf, "line %ld %lld %s\n", (long)id, (long long)n,
                           "................................................................");
        if (len > 0) fputs(buf, shared_file);
        n++;
    }
    for (int k = 0; k < 16; k++) free(keep[k]);
    lines_written[id] = n;
    mark_done();
}

static void test_not_in_libc(void) {
    if (!have_async()) return;
    int old = gcrt_gomaxprocs(2);
    shared_file = tmpfile();
    REQUIRE_TRUE(shared_file != NULL);
    done_count = 0;
    libc_stop = 0;
    int64_t done0 = stat_of(GCRT_PREEMPT_DONE), libc0 = stat_of(GCRT_PREEMPT_NOT_EXE);
    for (intptr_t i = 0; i < NLIBC; i++) gcrt_go(libc_looper, (void *)i);
    usleep(1500 * 1000);
    libc_stop = 1;
    REQUIRE_TRUE(wait_done(NLIBC, 60LL * 1000 * 1000 * 1000));
    int64_t done = stat_of(GCRT_PREEMPT_DONE) - done0,
            in_libc = stat_of(GCRT_PREEMPT_NOT_EXE) - libc0;
    fprintf(stderr, "  %lld async preemptions, %lld requests refused in libc\n", (long long)done,
            (long long)in_libc);
    /* Four goroutines on two Ps for 1.5 s: some requests came. */
    EXPECT_GE(done + in_libc, 1);
    /* Every line whole and every goroutine's lines in order. */
    rewind(shared_file);
    char line[512];
    int64_t next[NLIBC] = {0}, total = 0;
    int bad = 0;
    while (fgets(line, sizeof line, shared_file)) {
        long id;
        long long k;
        char dots[128];
        if (sscanf(line, "line %ld %lld %127s", &id, &k, dots) != 3 || id < 0 || id >= NLIBC ||
            k != next[id] || strlen(dots) != 64) {
            if (bad++ < 5) fprintf(stderr, "  torn line: %s", line);
            continue;
        }
        next[id]++;
        total++;
    }
    EXPECT_EQ(bad, 0);
    for (int i = 0; i < NLIBC; i++) EXPECT_EQ(next[i], lines_written[i]);
    EXPECT_GT(total, 0);
    fclose(shared_file);
    gcrt_gomaxprocs(old);
}

/* ---- 5. a stop of the world while goroutines are being preempted -------- */

static void test_stw_while_preempting(void) {
    if (!have_async()) return;
    int old = gcrt_gomaxprocs(2);
    done_count = 0;
    uint64_t want[NSPINNERS][NSTATE];
    for (int i = 0; i < NSPINNERS; i++) {
        regs_init(want[i], (uint64_t)i + 11);
        memcpy(spin_state[i], want[i], sizeof want[i]);
        regs_spin(want[i], spin_rounds / 2);
    }
    for (intptr_t i = 0; i < NSPINNERS; i++) gcrt_go(regs_spinner_half, (void *)i);
    int stops = 0;
    while (__atomic_load_n(&done_count, __ATOMIC_ACQUIRE) < NSPINNERS) {
        gcrt__stop_the_world("test");
        gcrt__start_the_world();
        stops++;
        usleep(500);
    }
    fprintf(stderr, "  %d stops of the world\n", stops);
    for (int i = 0; i < NSPINNERS; i++)
        for (int k = 0; k < 49; k++) EXPECT_UEQ(spin_state[i][k], want[i][k]);
    gcrt_gomaxprocs(old);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_spin_is_preempted);
    RUN(test_not_while_marking);
    RUN(test_registers_survive);
    RUN(test_avx_survives);
    RUN(test_errno_survives);
    RUN(test_not_in_libc);
    RUN(test_stw_while_preempting);
    return th_summary();
}
