// Time for one run, shared by the built-in plugins (plugins/common) and the daemon's worker runner:
// the one rule for returning before the host's deadline, poll() timeouts, and the wording of a
// timeout ("timed out after N ms").
//
// The host records "timed out after N ms" at its deadline and discards a later answer, so a run that
// waits right up to the deadline loses its own, more precise message ("connect to ... timed out
// after 500 ms", "... (process group killed)") to that race. Every plugin therefore gives up at
// give_up_at(): a fifth of the budget, between 5 and 200 ms (never more than the budget), before
// the deadline, and uses the rest to clean up (kill and reap a process group, close a connection).
#ifndef VITALS_PLUGINS_DEADLINE_HPP
#define VITALS_PLUGINS_DEADLINE_HPP

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <string>

namespace vitals_plugins {

using Clock = std::chrono::steady_clock;

// How long before the deadline a run with `budget` gives up.
inline Clock::duration return_margin(Clock::duration budget) {
    using std::chrono::milliseconds;
    if (budget <= Clock::duration::zero()) return Clock::duration::zero();
    Clock::duration margin = std::clamp<Clock::duration>(budget / 5, milliseconds(5), milliseconds(200));
    return std::min(margin, budget);
}

// When a run that started at `start` with the host's `deadline` gives up (see above).
inline Clock::time_point give_up_at(Clock::time_point deadline, Clock::time_point start = Clock::now()) {
    return deadline - return_margin(deadline - start);
}

// Milliseconds for poll() until `deadline`, rounded up so that we never wake just before the deadline
// and spin on a zero timeout.
inline int poll_timeout_ms(Clock::time_point deadline) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// Whole milliseconds from `from` to `to` (rounded), for messages.
inline long long whole_ms(Clock::time_point from, Clock::time_point to) {
    return std::llround(std::chrono::duration<double, std::milli>(to - from).count());
}

// "timed out after N ms": the one wording of a timeout. `ms` is usually the check's whole budget
// (whole_ms(start, deadline)) or the time spent so far.
inline std::string timed_out_after(long long ms) { return "timed out after " + std::to_string(ms) + " ms"; }

// "timed out after N ms (note)": a run that gave up (the step it was in, what it did about it),
// reported against its whole budget, from `start` to the host's `deadline`, although it gave up a
// little earlier to be in time.
inline std::string timed_out_after_budget(Clock::time_point start, Clock::time_point deadline, const std::string& note) {
    return timed_out_after(whole_ms(start, deadline)) + " (" + note + ")";
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_DEADLINE_HPP
