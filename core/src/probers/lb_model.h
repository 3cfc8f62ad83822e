// A load balancer's health-check state machine for one prober (SPEC §9), as an ALB node runs it:
// a new prober starts `initial` (Elb.InitialHealthChecking) and becomes `healthy` at its first
// healthy answer; `unhealthy_threshold` consecutive unhealthy answers make it `unhealthy`;
// `healthy_threshold` consecutive healthy ones make it `healthy` again. An answer is unhealthy when
// its code is outside `match`, or when it took longer than `timeout`.
//
// One model for both uses: the live record (probers/prober_record.h: /health/probers, the drain)
// and the replay of history (probers/replay.h), so the two can never disagree about a rule.
#pragma once

#include "config/config.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace vitals {

enum class ProberState { initial, healthy, unhealthy };

inline const char* to_string(ProberState s) {
    switch (s) {
    case ProberState::initial: return "initial";
    case ProberState::healthy: return "healthy";
    case ProberState::unhealthy: return "unhealthy";
    }
    return "initial";
}

// How the balancer judges one answer.
enum class Answer {
    healthy,
    mismatch,  // a code outside `match`
    timeout,   // answered, but later than `timeout`
};

// `latency_us` < 0: the client closed before the answer reached it (ProbeSample::kAbandoned).
inline Answer judge_answer(const Config::LoadBalancer& lb, int code, int64_t latency_us) {
    if (latency_us < 0 || latency_us > int64_t(lb.timeout.count()) * 1000) return Answer::timeout;
    return lb.matches(code) ? Answer::healthy : Answer::mismatch;
}

class LbModel {
public:
    ProberState state() const { return state_; }
    // The current run of equal verdicts: healthy or not, and how long.
    bool streak_healthy() const { return streak_healthy_; }
    int streak() const { return streak_; }

    // Feeds one answer; returns whether the state changed.
    bool feed(Answer a, int code, const Config::LoadBalancer& lb) {
        bool healthy = a == Answer::healthy;
        if (healthy != streak_healthy_ || streak_ == 0) {
            streak_healthy_ = healthy;
            streak_ = 0;
            failing_codes_.clear();
            failing_timeouts_ = failing_mismatches_ = 0;
        }
        ++streak_;
        if (!healthy) {
            if (a == Answer::timeout) {
                ++failing_timeouts_;
            } else {
                ++failing_mismatches_;
                if (std::find(failing_codes_.begin(), failing_codes_.end(), code) == failing_codes_.end())
                    failing_codes_.push_back(code);
            }
            last_failure_ = a;
        }
        ProberState next = state_;
        if (healthy && (state_ == ProberState::initial ||
                        (state_ == ProberState::unhealthy && streak_ >= lb.healthy_threshold)))
            next = ProberState::healthy;
        else if (!healthy && state_ != ProberState::unhealthy && streak_ >= lb.unhealthy_threshold)
            next = ProberState::unhealthy;
        bool changed = next != state_;
        state_ = next;
        return changed;
    }

    // Whether more answers like `a` can change nothing (the state and the streak are settled): a
    // replay may skip them.
    bool settled_for(Answer a, const Config::LoadBalancer& lb) const {
        bool healthy = a == Answer::healthy;
        if (streak_ == 0 || healthy != streak_healthy_) return false;
        if (healthy) return state_ == ProberState::healthy;
        return state_ == ProberState::unhealthy && streak_ >= lb.unhealthy_threshold;
    }

    // ALB's reason code for the current state: Elb.InitialHealthChecking while initial; for
    // unhealthy, what the failing answers were (Target.ResponseCodeMismatch with the codes,
    // Target.Timeout, or Target.FailedHealthChecks when they were both); "" when healthy.
    std::string reason() const {
        if (state_ == ProberState::initial) return "Elb.InitialHealthChecking";
        if (state_ == ProberState::healthy) return "";
        if (failing_timeouts_ > 0 && failing_mismatches_ > 0) return "Target.FailedHealthChecks";
        return last_failure_ == Answer::timeout ? "Target.Timeout" : "Target.ResponseCodeMismatch";
    }
    // The codes of the failing run that made it unhealthy (for Target.ResponseCodeMismatch).
    const std::vector<int>& failing_codes() const { return failing_codes_; }

private:
    ProberState state_ = ProberState::initial;
    bool streak_healthy_ = false;
    int streak_ = 0;
    std::vector<int> failing_codes_;
    int failing_timeouts_ = 0;
    int failing_mismatches_ = 0;
    Answer last_failure_ = Answer::mismatch;
};

}  // namespace vitals
