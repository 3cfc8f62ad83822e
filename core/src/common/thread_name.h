// Names the calling thread as `top -H`, `ps -L`, gdb and perf show it (at most 15 characters).
#pragma once

#include <pthread.h>

namespace vitals {

inline void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace vitals
