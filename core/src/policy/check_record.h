// What a check's results do to its state (issue 14: the scheduler owns time, nothing else): run
// counters, rise/fall damping, the recent results, the duration histogram, the log line of each
// transition, and the history rows (every result, and the transition it caused). The scheduler
// decides when runs happen and hands each result here with its times; nothing here reads a clock
// or takes a lock, so every rule is unit-tested on values.
#pragma once

#include "history/history_types.h"
#include "policy/check_state.h"

namespace vitals {

class CheckRecord {
public:
    explicit CheckRecord(CheckView initial) : view_(std::move(initial)) {}

    // Applies one result (its time, mono_time and duration set). `history` may be null.
    void apply(CheckResult r, HistorySink* history);

    // The check's run is still inside the plugin at its next due time (stuck), or returned.
    void set_stuck(bool stuck) { view_.stuck = stuck; }

    const CheckView& view() const { return view_; }

private:
    CheckView view_;
    Damper damper_;
};

}  // namespace vitals
