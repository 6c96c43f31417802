#ifndef CSHADOWSYS_SHIM_H
#define CSHADOWSYS_SHIM_H
#include <sys/prctl.h>

/// Sets the calling thread's timer slack (prctl is variadic, so Swift cannot call it directly).
static inline int shadow_set_timer_slack(unsigned long nanoseconds) {
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}

#endif
