#ifndef CSHADOWSYS_SHIM_H
#define CSHADOWSYS_SHIM_H
#include <sched.h>
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

#endif
