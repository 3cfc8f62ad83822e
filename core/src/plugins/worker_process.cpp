#include "plugins/worker_process.h"
#include "common/executable.h"

#include <vitals_plugins/subprocess.hpp>
#include <vitals_plugins/text.hpp>

#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace vitals {

namespace vp = vitals_plugins;

namespace {

constexpr size_t kMaxOutputBytes = 64 * 1024;

// A worker killed at its deadline is waited for this much longer before it is left to a later run
// to reap (it dies at once unless in uninterruptible sleep).
constexpr std::chrono::milliseconds kReapGrace{1000};

}  // namespace

std::string self_executable() { return executable_path().value_or("/proc/self/exe"); }

std::string termination_signal(int wait_status) {
    return WIFSIGNALED(wait_status) ? vp::signal_name(WTERMSIG(wait_status)) : "";
}

WorkerOutcome run_worker_process(const std::string& exe, const std::string& request, MonoTime deadline) {
    vp::Subprocess child;
    child.program = exe;
    child.argv = {"vitals", "worker"};
    for (char** e = environ; e && *e; ++e) child.env.emplace_back(*e);
    child.has_input = true;
    child.input = request;
    child.max_output = kMaxOutputBytes;
    vp::SubprocessOutcome ran = vp::run_subprocess(child, deadline, deadline + kReapGrace);

    WorkerOutcome out;
    out.output = std::move(ran.output);
    switch (ran.end) {
    case vp::SubprocessOutcome::End::exited: out.wait_status = ran.wait_status; break;
    case vp::SubprocessOutcome::End::timed_out: out.timed_out = true; break;
    case vp::SubprocessOutcome::End::spawn_failed:
        out.spawn_error = (ran.step == "run" ? "" : ran.step + ": ") + vp::errno_text(ran.error);
        break;
    case vp::SubprocessOutcome::End::wait_failed:
        // Killed like a timed-out one: it did not answer within the deadline that could be watched.
        out.timed_out = true;
        break;
    case vp::SubprocessOutcome::End::status_lost:
        break;  // it exited; its reply, if complete, still counts
    }
    return out;
}

}  // namespace vitals
