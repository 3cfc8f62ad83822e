// Aggregation policy (SPEC §3, §4): what a check contributes at a moment, and a group's verdict.
// Pure functions of their inputs, so every rule is unit-tested without threads or clocks.
#pragma once

#include "common/status.h"
#include "config/config.h"
#include "policy/check_state.h"

#include <string>
#include <vector>

namespace vitals {

// A check's status for aggregation at `now`, and what it rests on. Groups key on `basis`, never on
// the text of `output` (which is the plugin's, or the host's reason).
struct Standing {
    enum class Basis {
        result,       // its damped status, from its results
        pending,      // no status yet: fail, or warn during policy.start_period
        stale,        // its newest result is older than stale_after: fail
        stuck,        // a plugin call has not returned past the next due time: fail
        setup_error,  // create() failed: fail with the reason
    };
    Status status = Status::fail;
    std::string output;
    Basis basis = Basis::result;
    bool counted = true;  // false: groups leave it out (a check a reload added, before its first status)
};
Standing check_standing(const CheckView& v, MonoTime now, bool in_start_period);

struct Member {
    std::string name;
    Impact impact = Impact::critical;
    Scope scope = Scope::local;
    Standing standing;
};

struct GroupVerdict {
    Status status = Status::pass;
    std::string cause;  // "" on pass; else which checks and which rule, e.g. "redis: fail (critical)"
};

// Combines the members of `group`. `shared_fail` is policy.shared_fail; `draining` is the drain state.
GroupVerdict evaluate_group(const GroupConfig& group, const std::vector<Member>& members, Status shared_fail,
                            bool draining);

}  // namespace vitals
