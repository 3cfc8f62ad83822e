// The state of a check: its results, the rise/fall damping of its status, and the view the policy,
// the snapshot and the metrics read. Kept and updated by the scheduler; below it, so that the
// parts reading it do not depend on the scheduler.
#pragma once

#include "common/histogram.h"
#include "common/result.h"
#include "common/status.h"
#include "common/time_format.h"
#include "config/config.h"

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace vitals {

// One recorded run: the run's result as it came (RunResult, synthetic ones included: timed out,
// stuck), with when it ended and how long it took beside it.
struct CheckResult : RunResult {
    CheckResult() = default;
    explicit CheckResult(RunResult r) : RunResult(std::move(r)) {}
    WallTime time;       // when the run finished (or was declared timed out)
    MonoTime mono_time;  // same, on the monotonic clock, for staleness
    std::chrono::microseconds duration{0};

    int64_t duration_ms() const { return std::chrono::duration_cast<Millis>(duration).count(); }
};

// rise/fall damping (SPEC §3): the effective status moves to a better raw status after `rise`
// consecutive results at that status, to a worse one after `fall`. Before anything is established,
// the effective status is `fail` (pending): a new check must earn its pass with `rise` results.
class Damper {
public:
    // Feeds one raw status; returns true when the effective status changed (or was first established).
    bool apply(Status raw, int rise, int fall) {
        if (raw == effective_) {
            count_ = 0;
            bool first = !established_;
            established_ = true;
            return first;
        }
        if (count_ == 0 || raw != candidate_) {
            candidate_ = raw;
            count_ = 0;
        }
        ++count_;
        int needed = raw > effective_ ? fall : rise;
        if (count_ >= needed) {
            effective_ = raw;
            established_ = true;
            count_ = 0;
            return true;
        }
        return false;
    }
    Status effective() const { return effective_; }
    bool established() const { return established_; }

private:
    Status effective_ = Status::fail;
    bool established_ = false;
    Status candidate_ = Status::fail;
    int count_ = 0;
};

// What the rest of the daemon sees of a check: a copy, published in snapshots.
struct CheckView {
    std::string name;
    std::string type;
    std::string component_type;
    std::string default_measurement;
    Impact impact = Impact::critical;
    Scope scope = Scope::local;
    Millis interval{0};
    Millis timeout{0};
    Millis stale_after{0};
    int rise = 1;
    int fall = 1;

    std::optional<CheckResult> last;  // the newest recorded result
    Status effective = Status::fail;  // after damping
    bool established = false;         // false: no effective status yet (pending)
    bool stuck = false;               // a plugin call has not returned past its next due time
    std::string setup_error;          // create() failed: the check fails with this
    // Added or changed by a reload: its groups do not count it until it has an effective status, so
    // a reload never fails a serving target for a check that has not run yet (a fleet-wide
    // `systemctl reload` would otherwise pull every target at once).
    bool joined_by_reload = false;

    uint64_t runs = 0;
    uint64_t passes = 0;
    uint64_t warns = 0;
    uint64_t fails = 0;
    uint64_t timeouts = 0;
    // Changes of the effective status (pending counts as fail: pending -> pass is one, pending ->
    // fail none), for vitals_check_transitions_total: the rules' flapping alert reads it.
    uint64_t transitions = 0;
    // Newest first, at most kRecent. Shared: a view is copied for every snapshot it changes, and
    // its recent results (which a copy would duplicate string by string) never change.
    std::deque<std::shared_ptr<const CheckResult>> recent;
    static constexpr size_t kRecent = 10;

    // Run durations for the vitals_check_duration_seconds histogram (upper bounds in seconds).
    static constexpr std::array<double, 11> kDurationBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1,    2.5,   5,    10};
    FixedHistogram<kDurationBuckets.size()> durations;
    void observe_duration(std::chrono::microseconds d) {
        // Microseconds: sub-millisecond runs do not sum to 0.
        durations.observe(double(d.count()) / 1e6, kDurationBuckets);
    }
};

// Views are shared, immutable, between the scheduler and every snapshot holding them: a snapshot
// build copies pointers, and a view that did not change since the last build is the same object.
using CheckViewPtr = std::shared_ptr<const CheckView>;

}  // namespace vitals
