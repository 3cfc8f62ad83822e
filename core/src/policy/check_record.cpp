#include "policy/check_record.h"

#include <spdlog/spdlog.h>

namespace vitals {

void CheckRecord::apply(CheckResult r, HistorySink* history) {
    CheckView& v = view_;
    ++v.runs;
    switch (r.status) {
    case Status::pass: ++v.passes; break;
    case Status::warn: ++v.warns; break;
    case Status::fail: ++v.fails; break;
    }
    if (r.end == RunEnd::timed_out) ++v.timeouts;
    // A stuck marker is not a run's duration: the call it stands for has not ended.
    if (r.end != RunEnd::stuck) v.observe_duration(r.duration);
    Status before = v.effective;
    bool was_established = v.established;
    bool changed = damper_.apply(r.status, v.rise, v.fall);
    if (changed) {
        v.effective = damper_.effective();
        v.established = true;
        if (v.effective != before) ++v.transitions;
        const char* from = was_established ? to_string(before) : "pending";
        if (v.effective == Status::pass)
            spdlog::info("check {}: {} -> pass", v.name, from);
        else
            spdlog::warn("check {}: {} -> {}: {}", v.name, from, to_string(v.effective), r.output);
    }
    if (history) {
        HistoryEvent ev;
        ev.time_ms = unix_ms(r.time);
        ev.check = v.name;
        ev.kind = EventKind::result;
        ev.status = v.established ? v.effective : Status::fail;
        ev.run = static_cast<const RunResult&>(r);  // the run as it came; its times are the row's
        ev.duration_ms = r.duration_ms();
        if (changed) {
            HistoryEvent t;
            t.time_ms = ev.time_ms;
            t.check = v.name;
            t.kind = EventKind::transition;
            t.status = v.effective;
            if (was_established) t.previous = before;
            int needed = r.status > before ? v.fall : v.rise;
            t.cause = std::string(to_string(r.status)) +
                      (was_established && needed > 1 ? " x" + std::to_string(needed) : std::string()) +
                      (r.output.empty() ? std::string() : ": " + r.output);
            history->record(std::move(ev));
            history->record(std::move(t));
        } else {
            history->record(std::move(ev));
        }
    }
    v.recent.push_front(std::make_shared<const CheckResult>(r));
    if (v.recent.size() > CheckView::kRecent) v.recent.pop_back();
    v.last = std::move(r);
}

}  // namespace vitals
