/* child.h - run a function in a forked child and capture its stderr, for
 * tests of fatal errors ("fatal error: ..." then abort). */
#ifndef GCRT_TESTS_CHILD_H
#define GCRT_TESTS_CHILD_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct child_result {
    int exited;     /* 1: exited normally with status */
    int status;     /* exit status */
    int signaled;   /* signal number that ended it, or 0 */
    char err[8192]; /* its stderr */
};

static inline void run_in_child(void (*fn)(void *), void *arg, struct child_result *r) {
    memset(r, 0, sizeof *r);
    int fds[2];
    if (pipe(fds) != 0) return;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        /* abort() must not dump core from a test. */
        signal(SIGABRT, SIG_DFL);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while ((k = read(fds[0], r->err + n, sizeof r->err - 1 - n)) > 0) n += (size_t)k;
    r->err[n] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st)) {
        r->exited = 1;
        r->status = WEXITSTATUS(st);
    }
    if (WIFSIGNALED(st)) r->signaled = WTERMSIG(st);
}

#endif
