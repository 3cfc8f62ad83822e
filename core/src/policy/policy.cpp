#include "policy/policy.h"

namespace vitals {

Standing check_standing(const CheckView& v, MonoTime now, bool in_start_period) {
    using Basis = Standing::Basis;
    if (!v.setup_error.empty()) return {Status::fail, v.setup_error, Basis::setup_error};
    if (v.stuck) return {Status::fail, v.last ? v.last->output : "stuck", Basis::stuck};
    if (!v.established) {
        if (v.joined_by_reload)
            return {Status::warn, "pending (added by a reload: counted from its first result)", Basis::pending, false};
        if (in_start_period) return {Status::warn, "pending (start period)", Basis::pending};
        return {Status::fail, "pending", Basis::pending};
    }
    if (v.last && now - v.last->mono_time > v.stale_after)
        return {Status::fail,
                "stale: last result " +
                    std::to_string(std::chrono::duration_cast<Millis>(now - v.last->mono_time).count() / 1000) + "s ago",
                Basis::stale};
    std::string output = v.last ? v.last->output : std::string();
    if (v.effective != (v.last ? v.last->status : v.effective)) {
        // Damping holds the effective status while raw results disagree: say so.
        std::string held = std::string(to_string(v.effective)) + " held by rise/fall; last raw " +
                           to_string(v.last->status);
        output = output.empty() ? held : held + ": " + output;
    }
    return {v.effective, output, Basis::result};
}

MonoTime standing_changes_after(const CheckView& v, MonoTime now) {
    if (!v.setup_error.empty() || v.stuck || !v.established || !v.last) return MonoTime::max();
    auto age = now - v.last->mono_time;
    if (age <= v.stale_after) return v.last->mono_time + v.stale_after + std::chrono::nanoseconds(1);
    // Stale: its output says how many whole seconds ago; the next second changes it.
    auto whole = std::chrono::duration_cast<std::chrono::seconds>(age);
    return v.last->mono_time + whole + std::chrono::seconds(1);
}

bool counts_toward_group(const Member& m) { return m.impact != Impact::ignore && m.standing.counted; }

bool in_quorum(const Member& m) { return m.impact == Impact::critical && m.scope == Scope::local; }

GroupVerdict evaluate_group(const GroupConfig& group, const std::vector<Member>& members, Status shared_fail,
                            bool draining) {
    QuorumTally tally;
    std::vector<const Member*> not_passing;
    for (const auto& m : members) {
        if (!counts_toward_group(m)) continue;
        bool passes = m.standing.status == Status::pass;
        if (in_quorum(m)) {
            ++tally.members;
            if (passes) ++tally.passing;
        }
        if (!passes) not_passing.push_back(&m);
    }
    return judge_group(group, tally, not_passing, shared_fail, draining);
}

GroupVerdict judge_group(const GroupConfig& group, const QuorumTally& tally,
                         const std::vector<const Member*>& not_passing, Status shared_fail, bool draining) {
    if (draining && group.drain) return {Status::fail, "draining"};

    GroupVerdict verdict;
    std::vector<std::string> causes;
    auto add_cause = [&](const Member& m, const char* rule) {
        // A check without a status yet says "pending" rather than a status it never reported.
        bool pending = m.standing.basis == Standing::Basis::pending;
        causes.push_back(m.name + ": " + (pending ? "pending" : to_string(m.standing.status)) + " (" + rule + ")");
    };

    // What a member that is not part of a quorum does to the group when it does not pass.
    auto contribute = [&](const Member& m) {
        Status s = m.standing.status;
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
    };

    if (group.quorum > 0) {
        // Only critical, local members make up the quorum (SPEC §4); a degraded or shared member
        // that does not pass warns the group (shared: policy.shared_fail), as outside a quorum.
        if (tally.passing < group.quorum || tally.passing < tally.members) {
            verdict.status = tally.passing < group.quorum ? Status::fail : Status::warn;
            causes.push_back("quorum " + std::to_string(tally.passing) + " of " + std::to_string(group.quorum));
            for (const Member* m : not_passing)
                if (in_quorum(*m)) add_cause(*m, "quorum member");
        }
        for (const Member* m : not_passing)
            if (!in_quorum(*m)) contribute(*m);
    } else {
        for (const Member* m : not_passing) contribute(*m);
    }
    for (size_t i = 0; i < causes.size(); ++i) verdict.cause += (i ? "; " : "") + causes[i];
    return verdict;
}

}  // namespace vitals
