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

// The first moment after `now` at which check_standing may answer differently for the same view
// by the passing of time alone (it goes stale, or its stale age moves to the next second);
// MonoTime::max() if never. The end of policy.start_period is the caller's to watch. A snapshot
// re-evaluates a check then, and otherwise only when its view changes.
MonoTime standing_changes_after(const CheckView& v, MonoTime now);

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

// The same verdict from what it depends on: how many counted members make up the quorum and how
// many of those pass, and the counted members that do not pass, in the group's order. A group's
// verdict thus costs its failing members, not all of them (StatusPublisher keeps these up to date
// as members change).
struct QuorumTally {
    int members = 0;  // counted critical local members (those a quorum is made of)
    int passing = 0;  // of which pass
};
bool counts_toward_group(const Member& m);  // not ignored, and counted (see Standing::counted)
bool in_quorum(const Member& m);            // critical and local
GroupVerdict judge_group(const GroupConfig& group, const QuorumTally& tally,
                         const std::vector<const Member*>& not_passing, Status shared_fail, bool draining);

}  // namespace vitals
