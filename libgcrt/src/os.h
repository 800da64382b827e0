/* os.h - the OS behind a small interface (mmap, madvise, futex, clocks,
 * threads). Algorithm files include this and carry no #ifdef __linux__.
 * Implemented in os_linux.c. */
#ifndef GCRT_OS_H
#define GCRT_OS_H

#include <stddef.h>
#include <stdint.h>

/* Reserves size bytes of address space (PROT_NONE, not committed), aligned
 * to align (a power of two). Returns NULL on failure. */
void *gcrt__os_reserve(size_t size, size_t align);
/* Makes [p, p+size) readable and writable. Returns 0 or -errno. */
int gcrt__os_commit(void *p, size_t size);
/* Returns the pages to the OS (they read back as zero, or as before with
 * madvdontneed=0 and MADV_FREE, until the kernel takes them); they stay
 * mapped. Returns 0 or -errno. */
int gcrt__os_release(void *p, size_t size);
/* Gives the range back to the OS entirely (munmap). */
void gcrt__os_unmap(void *p, size_t size);
/* Maps size bytes of fresh zeroed read-write memory for runtime metadata.
 * Returns NULL on failure. */
void *gcrt__os_alloc(size_t size);
/* Like gcrt__os_alloc, with every page faulted in by the kernel at once
 * (MAP_POPULATE: about half the cost of touching them one by one). */
void *gcrt__os_alloc_populated(size_t size);
/* Writes a zero to each 4 KiB page of [p, p + size), which must be zero
 * already and the caller's alone: each page is faulted in now, for a write
 * (a later read first would map the zero page and fault a second time). */
void gcrt__os_touch_pages(void *p, size_t size);
/* Whether releases use MADV_DONTNEED (GODEBUG=madvdontneed=1, Go's default
 * since 1.16) or MADV_FREE. */
void gcrt__os_set_madvdontneed(int on);

/* Resident set size of the process in bytes (from /proc/self/statm), or 0. */
size_t gcrt__os_rss(void);
/* Number of CPUs this process may run on. */
int gcrt__os_ncpu(void);
/* Monotonic nanoseconds (CLOCK_MONOTONIC). */
int64_t gcrt__nanotime(void);
/* The monotonic clock as of the last tick (a few ms behind at most, never
 * ahead of gcrt__nanotime): several times cheaper, for timestamps that
 * only a human reads. */
int64_t gcrt__nanotime_coarse(void);
/* Unix nanoseconds (CLOCK_REALTIME). */
int64_t gcrt__walltime(void);
/* Per-thread CPU time in nanoseconds. */
int64_t gcrt__thread_cputime(void);
/* CPU time of another thread of this process (pthread_t), ns; 0 if unknown. */
int64_t gcrt__os_thread_cputime_of(unsigned long thread);
/* Kernel thread id. */
int gcrt__os_gettid(void);
/* Sends sig to thread tid of this process (tgkill). Returns 0 or -errno. */
int gcrt__os_signal_thread(int tid, int sig);
/* 1 if thread tid of this process is on a CPU or runnable (state R in
 * /proc/self/task/tid/stat), 0 if it sleeps or is gone, or -1 if unknown. */
int gcrt__os_thread_running(int tid);

/* write(2) all of buf to fd, retrying on EINTR/short writes. */
void gcrt__os_write(int fd, const void *buf, size_t n);

/* futex: sleeps while *addr == val (or until ns elapse, ns < 0 = forever);
 * wakes up to n sleepers. */
void gcrt__futex_wait(uint32_t *addr, uint32_t val, int64_t ns);
void gcrt__futex_wake(uint32_t *addr, int n);

/* Yields the CPU to another thread (sched_yield). */
void gcrt__os_yield(void);
/* Names the calling thread (at most 15 bytes show: top -H, perf, gdb). */
void gcrt__os_set_thread_name(const char *name);
/* Sleeps for ns nanoseconds. */
void gcrt__os_sleep_ns(int64_t ns);

#endif
