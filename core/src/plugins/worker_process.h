// One run of a `vitals worker` child: the single place that starts a child for plugin code the
// daemon does not want to run itself (an "isolation": "process" check's run, the first load of a
// plugin file). Run by the one subprocess runner (plugins/common vitals_plugins/subprocess.hpp, which
// the exec plugin uses too): the child gets its own process group, no descriptor of the daemon's but
// the two pipes, default signal handling and an empty signal mask; the wait for its exit is bounded by
// the deadline (not only the wait for EOF); its group is killed before it is reaped, and it is
// always reaped (one killed at the deadline that has not died a second later, by a later run).
#pragma once

#include "common/time_format.h"

#include <string>

namespace vitals {

struct WorkerOutcome {
    std::string spawn_error;  // non-empty: no child was started (then nothing else is set)
    std::string output;       // what it wrote to stdout (at most 64 KiB)
    bool timed_out = false;   // the deadline passed first; the group was killed
    int wait_status = 0;      // from waitpid(), when not timed out
};

// Starts `exe worker`, writes `request` to its stdin, reads its stdout, and waits for it to exit,
// everything bounded by `deadline`. Never throws.
WorkerOutcome run_worker_process(const std::string& exe, const std::string& request, MonoTime deadline);

// How a child ended, for messages: "SIGSEGV" for a signal, "" for a normal exit.
std::string termination_signal(int wait_status);

// The running executable (/proc/self/exe), for starting workers of the same build.
std::string self_executable();

}  // namespace vitals
