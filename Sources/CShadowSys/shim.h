#ifndef CSHADOWSYS_SHIM_H
#define CSHADOWSYS_SHIM_H
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

#endif
