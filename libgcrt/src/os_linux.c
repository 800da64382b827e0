/* os_linux.c - the Linux side of os.h. Everything that names a system call
 * lives here. */
#include "os.h"
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int madvdontneed = 1;

void gcrt__os_set_madvdontneed(int on) {
    madvdontneed = on;
}

void *gcrt__os_reserve(size_t size, size_t align) {
    size_t len = size + align;
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t start = (uintptr_t)p, aligned = gcrt_round_up(start, align);
    if (aligned > start) munmap(p, aligned - start);
    uintptr_t end = aligned + size, mend = start + len;
    if (mend > end) munmap((void *)end, mend - end);
    return (void *)aligned;
}

int gcrt__os_commit(void *p, size_t size) {
    if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) return -errno;
    return 0;
}

int gcrt__os_release(void *p, size_t size) {
#ifdef MADV_FREE
    if (!madvdontneed && madvise(p, size, MADV_FREE) == 0) return 0;
#endif
    if (madvise(p, size, MADV_DONTNEED) != 0) return -errno;
    return 0;
}

void gcrt__os_unmap(void *p, size_t size) {
    munmap(p, size);
}

void *gcrt__os_alloc(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *gcrt__os_alloc_populated(size_t size) {
    void *p =
        mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Not instrumented: heap pages are poisoned for ASan until handed out. */
__attribute__((no_sanitize_address, no_sanitize("thread"))) void gcrt__os_touch_pages(void *p,
                                                                                      size_t size) {
    enum { OS_PAGE = 4096 };
    for (size_t i = 0; i < size; i += OS_PAGE) ((volatile char *)p)[i] = 0;
}

size_t gcrt__os_rss(void) {
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    /* second field: resident pages */
    char *s = buf;
    while (*s && *s != ' ') s++;
    size_t pages = 0;
    while (*s == ' ') s++;
    while (*s >= '0' && *s <= '9') pages = pages * 10 + (size_t)(*s++ - '0');
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

int gcrt__os_ncpu(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int64_t ts_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
int64_t gcrt__nanotime(void) {
    return ts_ns(CLOCK_MONOTONIC);
}
int64_t gcrt__nanotime_coarse(void) {
    return ts_ns(CLOCK_MONOTONIC_COARSE);
}
int64_t gcrt__walltime(void) {
    return ts_ns(CLOCK_REALTIME);
}
int64_t gcrt__thread_cputime(void) {
    return ts_ns(CLOCK_THREAD_CPUTIME_ID);
}
int gcrt__os_gettid(void) {
    return (int)syscall(SYS_gettid);
}

int gcrt__os_signal_thread(int tid, int sig) {
    return syscall(SYS_tgkill, getpid(), tid, sig) == 0 ? 0 : -errno;
}

int gcrt__os_thread_running(int tid) {
    char path[64], buf[512];
    /* "/proc/self/task/<tid>/stat" without stdio */
    char digits[16];
    int nd = 0;
    for (unsigned v = (unsigned)tid; nd == 0 || v; v /= 10) digits[nd++] = (char)('0' + v % 10);
    size_t n = 0;
    for (const char *s = "/proc/self/task/"; *s;) path[n++] = *s++;
    while (nd) path[n++] = digits[--nd];
    for (const char *s = "/stat"; *s;) path[n++] = *s++;
    path[n] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return -1;
    buf[r] = 0;
    /* "tid (comm) S ...": comm may hold anything, so the last ')' */
    char *p = NULL;
    for (char *q = buf; *q; q++)
        if (*q == ')') p = q;
    if (!p || p[1] != ' ') return -1;
    return p[2] == 'R';
}

int64_t gcrt__os_thread_cputime_of(unsigned long thread) {
    clockid_t id;
    if (pthread_getcpuclockid((pthread_t)thread, &id) != 0) return 0;
    return ts_ns(id);
}

void gcrt__os_write(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

void gcrt__futex_wait(uint32_t *addr, uint32_t val, int64_t ns) {
    struct timespec ts, *tp = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
}

void gcrt__futex_wake(uint32_t *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

void gcrt__os_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

void gcrt__os_yield(void) {
    sched_yield();
}

void gcrt__os_sleep_ns(int64_t ns) {
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
