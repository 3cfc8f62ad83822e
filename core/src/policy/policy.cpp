#include "policy/policy.h"

namespace vitals {

Standing check_standing(const CheckView& v, MonoTime now, bool in_start_period) {
    if (!v.setup_error.empty()) return {Status::fail, v.setup_error};
    if (v.stuck) return {Status::fail, v.last ? v.last->output : "stuck"};
    if (!v.established) {
        if (v.joined_by_reload) return {Status::warn, "pending (added by a reload: counted from its first result)", false};
        if (in_start_period) return {Status::warn, "pending (start period)"};
        return {Status::fail, "pending"};
    }
    if (v.last && now - v.last->mono_time > v.stale_after)
        return {Status::fail, "stale: last result " +
                                  std::to_string(std::chrono::duration_cast<Millis>(now - v.last->mono_time).count() / 1000) +
                                  "s ago"};
    std::string output = v.last ? v.last->output : std::string();
    if (v.effective != (v.last ? v.last->status : v.effective)) {
        // Damping holds the effective status while raw results disagree: say so.
        std::string held = std::string(to_string(v.effective)) + " held by rise/fall; last raw " +
                           to_string(v.last->status);
        output = output.empty() ? held : held + ": " + output;
    }
    return {v.effective, output};
}

GroupVerdict evaluate_group(const GroupConfig& group, const std::vector<Member>& members, Status shared_fail,
                            bool draining) {
    if (draining && group.drain) return {Status::fail, "draining"};

    GroupVerdict verdict;
    std::vector<std::string> causes;
    auto add_cause = [&](const Member& m, const char* rule) {
        // A check without a result yet says "pending" rather than a status it never reported.
        bool pending = m.standing.output.rfind("pending", 0) == 0;
        causes.push_back(m.name + ": " + (pending ? "pending" : to_string(m.standing.status)) + " (" + rule + ")");
    };

    if (group.quorum > 0) {
        int counted = 0, passing = 0;
        for (const auto& m : members) {
            if (m.impact == Impact::ignore || !m.standing.counted) continue;
            ++counted;
            if (m.standing.status == Status::pass)
                ++passing;
            else
                add_cause(m, "quorum member");
        }
        std::string rule = "quorum " + std::to_string(passing) + " of " + std::to_string(group.quorum);
        if (passing < group.quorum) {
            verdict.status = Status::fail;
        } else if (passing < counted) {
            verdict.status = Status::warn;
        } else {
            return verdict;
        }
        causes.insert(causes.begin(), rule);
    } else {
        for (const auto& m : members) {
            Status s = m.standing.status;
            if (m.impact == Impact::ignore || !m.standing.counted || s == Status::pass) continue;
            if (s == Status::warn) {
                verdict.status = worst(verdict.status, Status::warn);
                add_cause(m, to_string(m.impact));
            } else if (m.impact == Impact::degraded) {
                verdict.status = worst(verdict.status, Status::warn);
                add_cause(m, "degraded");
            } else if (m.scope == Scope::shared) {
                verdict.status = worst(verdict.status, shared_fail);
                add_cause(m, "shared");
            } else {
                verdict.status = Status::fail;
                add_cause(m, "critical");
            }
        }
    }
    for (size_t i = 0; i < causes.size(); ++i) verdict.cause += (i ? "; " : "") + causes[i];
    return verdict;
}

}  // namespace vitals
