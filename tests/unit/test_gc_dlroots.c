/* test_gc_dlroots.c - the data and bss of shared objects loaded or
 * unloaded by another thread while a cycle starts. The cycle lists the
 * modules (dl_iterate_phdr) before it stops the world; this test runs the
 * other thread's dlopen / dlclose in that window, deterministically, by
 * wrapping dl_iterate_phdr (the program's definition wins over libc's). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gcrt.h"
#include "harness.h"

#define MAGIC 0x0123456789abcdefull

static char lib_path[PATH_MAX];
static int (*real_iterate)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
static void (*volatile in_window)(void); /* run once after the next listing */

static pthread_t window_thread;
static void (*window_fn)(void);
static int window_done;
static void *run_fn(void *arg) {
    (void)arg;
    window_fn();
    __atomic_store_n(&window_done, 1, __ATOMIC_RELEASE);
    return NULL;
}
static void join_window(void) {
    pthread_join(window_thread, NULL);
    window_done = 0;
}

int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg) {
    if (!real_iterate) real_iterate = dlsym(RTLD_NEXT, "dl_iterate_phdr");
    int rc = real_iterate(cb, arg);
    void (*f)(void) = in_window;
    if (f) {
        in_window = NULL;
        /* Another thread does it: the listing thread goes on at once
         * otherwise; here it waits for it, to make the window certain. */
        window_fn = f;
        pthread_create(&window_thread, NULL, run_fn, NULL);
        for (int i = 0; i < 200 && !__atomic_load_n(&window_done, __ATOMIC_ACQUIRE); i++)
            usleep(1000); /* 200 ms at most: blocked in the loader is fine too */
    }
    return rc;
}

static uint64_t *volatile hold; /* a global: a root */
static void *volatile handle;
static void **volatile slot;

/* dlopen + move the only pointer to the object into the module's bss. */
static void open_and_move(void) {
    handle = dlopen(lib_path, RTLD_NOW);
    if (!handle) return;
    slot = dlsym(handle, "dlroot_slot");
    *slot = (void *)hold;
    hold = NULL;
}

static __attribute__((noinline)) void wipe(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static __attribute__((noinline)) void make_obj(void) {
    uint64_t *o = gcrt_alloc(100000); /* large: freed = no object there */
    o[0] = MAGIC;
    hold = o;
}

static void test_dlopen_in_window(void) {
    make_obj();
    wipe();
    in_window = open_and_move;
    gcrt_gc();
    join_window();
    REQUIRE_TRUE(handle != NULL);
    EXPECT_TRUE(hold == NULL);
    /* The module's bss held the object throughout: it must still be there. */
    EXPECT_TRUE(gcrt_find_object(*slot, NULL, NULL));
    gcrt_gc();
    EXPECT_TRUE(gcrt_find_object(*slot, NULL, NULL));
    *slot = NULL;
    dlclose(handle);
    handle = NULL;
}

static void close_it(void) {
    dlclose(handle);
}

static void test_dlclose_in_window(void) {
    handle = dlopen(lib_path, RTLD_NOW);
    REQUIRE_TRUE(handle != NULL);
    in_window = close_it; /* the cycle must not read the unmapped module */
    gcrt_gc();
    join_window();
    EXPECT_TRUE(in_window == NULL);
    handle = NULL;
}

int main(void) {
    ssize_t n = readlink("/proc/self/exe", lib_path, sizeof lib_path - 64);
    REQUIRE_TRUE(n > 0);
    lib_path[n] = 0;
    strcpy(strrchr(lib_path, '/') + 1, "dlroot_lib.so");
    REQUIRE_EQ(gcrt_init(), 0);
    gcrt_gc(); /* runtime threads started, first cycle done */
    RUN(test_dlopen_in_window);
    RUN(test_dlclose_in_window);
    return th_summary();
}
