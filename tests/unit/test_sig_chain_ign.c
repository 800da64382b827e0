/* test_sig_chain_ign.c - the runtime's SIGURG and SIGSEGV handlers chain
 * to the handler the program had before. An ignored signal whose saved
 * sigaction also has SA_SIGINFO set (a struct reused from a handler,
 * sa_handler = SIG_IGN) must stay ignored, not be called as a function at
 * address 1. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"

static int child_status(int sig) {
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sa.sa_handler = SIG_IGN; /* sa_sigaction and sa_handler share storage */
        sigemptyset(&sa.sa_mask);
        if (sigaction(sig, &sa, NULL) != 0) _exit(3);
        if (gcrt_init() != 0) _exit(4);
        gcrt_gomaxprocs(0); /* starts the scheduler: its signal handlers */
        raise(sig);         /* ignored: nothing happens */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return status;
}

static void test_ignored_sigurg_stays_ignored(void) {
    int status = child_status(SIGURG);
    EXPECT_TRUE(WIFEXITED(status));
    if (WIFSIGNALED(status)) fprintf(stderr, "child killed by signal %d\n", WTERMSIG(status));
    if (WIFEXITED(status)) EXPECT_EQ(WEXITSTATUS(status), 0);
}

/* SIGSEGV: the runtime's overflow handler chains the same way. */
static void test_ignored_sigsegv_stays_ignored(void) {
    int status = child_status(SIGSEGV);
    EXPECT_TRUE(WIFEXITED(status));
    if (WIFSIGNALED(status)) fprintf(stderr, "child killed by signal %d\n", WTERMSIG(status));
    if (WIFEXITED(status)) EXPECT_EQ(WEXITSTATUS(status), 0);
}

int main(void) {
    RUN(test_ignored_sigurg_stays_ignored);
    RUN(test_ignored_sigsegv_stays_ignored);
    return th_summary();
}
