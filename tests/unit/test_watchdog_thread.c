/* Unit tests for the watchdog (watchdog.c), each in a forked child so that a
 * firing watchdog ends only the child: with no progress mark the child exits
 * DDP_EXIT_WATCHDOG after the timeout (not before, and within a tick of it),
 * naming the step and the phase; marks more often than the timeout keep it
 * quiet for several timeouts; a child stopped with SIGSTOP for longer than
 * the timeout fires as soon as it is continued; stop() joins the monitor so
 * that nothing fires after it; a timeout of 0 starts nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/common.h"
#include "ddptrain/watchdog.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Runs body() in a child whose stderr goes to a pipe, optionally stopping it
 * stop_after seconds in for stop_for seconds; returns its exit status, the
 * seconds until it ended, and its stderr text in msg. */
typedef void (*child_fn)(void);
static int run_child(child_fn body, double *seconds, char *msg, size_t cap, double stop_after, double stop_for)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    double t0 = now_s();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        body();
        _exit(0);
    }
    close(fds[1]);
    if (stop_after > 0) {
        sleep_s(stop_after);
        kill(pid, SIGSTOP);
        sleep_s(stop_for);
        kill(pid, SIGCONT);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *seconds = now_s() - t0;
    ssize_t n = read(fds[0], msg, cap - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void child_silent(void)
{
    ddp_watchdog_start(3, 1);
    ddp_watchdog_progress(42, "allreduce");
    sleep_s(5); /* the watchdog must end this first */
}

/* The child must end by the watchdog within [min_s, max_s), saying needle. */
static void expect_fire(child_fn body, double stop_after, double stop_for, double min_s, double max_s,
                        const char *needle)
{
    char msg[512];
    double dt = 0;
    assert_int_equal(run_child(body, &dt, msg, sizeof msg, stop_after, stop_for), DDP_EXIT_WATCHDOG);
    assert_true(dt >= min_s);
    assert_true(dt < max_s);
    assert_non_null(strstr(msg, needle));
}

static void test_fires_without_progress(void **state)
{
    (void)state;
    /* timeout 1 s + one 0.1 s tick, with room for a loaded machine */
    expect_fire(child_silent, 0, 0, 1.0, 2.5,
                "watchdog: rank 3 made no progress for 1 s at step 42 in phase 'allreduce'");
}

static void child_busy(void)
{
    ddp_watchdog_start(0, 1);
    for (int i = 0; i < 250; i++) { /* 2.5 s: marks every 10 ms */
        ddp_watchdog_progress(i, "data");
        sleep_s(0.01);
    }
    ddp_watchdog_stop();
    sleep_s(1.5); /* stopped: nothing fires any more */
}

static void test_quiet_with_progress(void **state)
{
    (void)state;
    char msg[512];
    double dt = 0;
    assert_int_equal(run_child(child_busy, &dt, msg, sizeof msg, 0, 0), 0);
    assert_string_equal(msg, "");
}

static void child_marks_forever(void)
{
    ddp_watchdog_start(1, 2);
    for (int i = 0; i < 1000; i++) { /* 10 s unless the watchdog ends it */
        ddp_watchdog_progress(i, "optimizer");
        sleep_s(0.01);
    }
}

static void test_fires_after_being_stopped(void **state)
{
    (void)state;
    /* stopped 0.5 s in, for 3 s (over the 2 s timeout): fires once continued */
    expect_fire(child_marks_forever, 0.5, 3.0, 3.5, 5.0, "in phase 'optimizer'");
}

static void child_disabled(void)
{
    ddp_watchdog_start(0, 0);
    ddp_watchdog_progress(1, "data");
    sleep_s(0.3);
    ddp_watchdog_stop();
}

static void test_zero_disables(void **state)
{
    (void)state;
    char msg[512];
    double dt = 0;
    assert_int_equal(run_child(child_disabled, &dt, msg, sizeof msg, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_without_progress),
        cmocka_unit_test(test_quiet_with_progress),
        cmocka_unit_test(test_fires_after_being_stopped),
        cmocka_unit_test(test_zero_disables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
