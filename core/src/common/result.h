// The one result type (issue 14): what a run of a check produced, from the plugin (or the host,
// when the run could not answer) to history. Later stages add what they know beside it
// (CheckResult in policy/check_state.h: when and how long; HistoryEvent: the effective status)
// rather than copying its fields into look-alikes.
#pragma once

#include "common/status.h"

#include <optional>
#include <string>

namespace vitals {

// How a run ended, as a value: every decision about a run keys on this, never on the text of its
// output (a plugin whose output begins with "stuck" or "pending" is just saying so).
enum class RunEnd {
    answered,     // the plugin returned a result (validated)
    timed_out,    // past its deadline: the host recorded "timed out after N ms"
    stuck,        // still inside the plugin at the next due time; no new run starts until it returns
    crashed,      // the process running it died ("isolation": "process")
    not_started,  // no worker was free before the deadline, or the check could not be created
};

inline const char* to_string(RunEnd e) {
    switch (e) {
    case RunEnd::answered: return "answered";
    case RunEnd::timed_out: return "timed_out";
    case RunEnd::stuck: return "stuck";
    case RunEnd::crashed: return "crashed";
    case RunEnd::not_started: return "not_started";
    }
    return "answered";
}

struct RunResult {
    Status status = Status::fail;
    std::string output;  // what the plugin said (scrubbed of secrets), or the host's reason
    std::optional<double> observed_value;
    std::string observed_unit;
    std::string measurement;  // e.g. "responseTime"; empty: the type's default
    RunEnd end = RunEnd::answered;

    // A result the host makes itself for a run that did not answer.
    static RunResult failed(RunEnd end, std::string output) {
        RunResult r;
        r.status = Status::fail;
        r.output = std::move(output);
        r.end = end;
        return r;
    }
};

}  // namespace vitals
