/* run_self.h - a test program runs itself as a child ("<self> <mode>") with
 * extra environment variables and captures its exit, stdout and stderr: the
 * runtime reads GOGC, GOMEMLIMIT and GODEBUG once, so each setting needs a
 * fresh process. The test's main dispatches on argv[1]. */
#ifndef GCRT_TESTS_RUN_SELF_H
#define GCRT_TESTS_RUN_SELF_H

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

#endif
