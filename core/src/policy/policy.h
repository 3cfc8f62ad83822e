// Aggregation policy (SPEC §3, §4): what a check contributes at a moment, and a group's verdict.
// Pure functions of their inputs, so every rule is unit-tested without threads or clocks.
#pragma once

#include "common/status.h"
#include "config/config.h"
#include "policy/check_state.h"

#include <string>
#include <vector>

namespace vitals {

// A check's status for aggregation at `now`: pending, stuck, stale or its damped status.
struct Standing {
    Status status = Status::fail;
    std::string output;
    bool counted = true;  // false: groups leave it out (a check a reload added, before its first result)
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
