#ifndef CSHADOWSYS_SHIM_H
#define CSHADOWSYS_SHIM_H
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Sets the calling thread's timer slack (prctl is variadic, so Swift cannot call it directly).
static inline int shadow_set_timer_slack(unsigned long nanoseconds) {
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}

/// Sets the calling thread's nice value (Linux: per thread), e.g. 10 to yield to the others.
static inline int shadow_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif

/// Whether this process may lower a thread's nice value to `nice` (root, or RLIMIT_NICE allows it).
static inline int shadow_may_lower_nice_to(int nice) {
    struct rlimit limit;
    if (geteuid() == 0) return 1;
    if (getrlimit(RLIMIT_NICE, &limit) != 0) return 0;
    return limit.rlim_cur == RLIM_INFINITY || (long)limit.rlim_cur >= 20 - nice;
}

/// The calling thread's id.
static inline int shadow_thread_id(void) {
    return (int)syscall(SYS_gettid);
}

/// Moves thread `tid` (0: the calling thread) to SCHED_IDLE (it runs only when a CPU has nothing
/// else to run), or, with `idle` 0, back to SCHED_OTHER at `nice`. 0, or -1 with errno set.
static inline int shadow_set_thread_idle(int tid, int idle, int nice) {
    struct sched_param param = {0};
    if (sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &param) != 0) return -1;
    return idle ? 0 : setpriority(PRIO_PROCESS, (id_t)(tid ? tid : shadow_thread_id()), nice);
}

/// The pipe `shadow_signal_pipe` hands signals to. A signal handler reaches nothing but
/// process-wide state, so these two are the process's, made once and kept open.
static int shadow_signal_read_end = -1;
static int shadow_signal_write_end = -1;

static void shadow_signal_to_pipe(int number) {
    int saved = errno;
    unsigned char byte = (unsigned char)number;
    (void)!write(shadow_signal_write_end, &byte, 1);
    errno = saved;
}

/// Replaces the action of each of `signals` by writing its number (one byte) to a pipe, in effect
/// when this returns: no signal is lost, however early it comes. Returns the pipe's blocking read
/// end, or -1 with errno set. Interrupted system calls restart where the kernel allows
/// (SA_RESTART); the write end never blocks (a full pipe drops the byte, not the process).
static inline int shadow_signal_pipe(const int *signals, int count) {
    if (shadow_signal_read_end < 0) {
        int ends[2];
        if (pipe2(ends, O_CLOEXEC) != 0) return -1;
        if (fcntl(ends[1], F_SETFL, O_NONBLOCK) != 0) {
            close(ends[0]);
            close(ends[1]);
            return -1;
        }
        shadow_signal_read_end = ends[0];
        shadow_signal_write_end = ends[1];
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = shadow_signal_to_pipe;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &action, NULL) != 0) return -1;
    }
    return shadow_signal_read_end;
}

/// Writes `byte` to that pipe as a signal would; 0 wakes its reader without being a signal.
static inline void shadow_signal_pipe_post(unsigned char byte) {
    (void)!write(shadow_signal_write_end, &byte, 1);
}

#endif
