#include "snapshot/publisher.h"

#include <spdlog/spdlog.h>

namespace vitals {

void StatusPublisher::publish(const Config& config, const std::vector<CheckViewPtr>& views, MonoTime now,
                              WallTime wall_now, bool in_start_period, bool draining) {
    SnapshotInputs in;
    in.config = &config;
    in.views = &views;
    in.now = now;
    in.wall_now = wall_now;
    in.in_start_period = in_start_period;
    in.draining = draining;
    in.service_id = service_id_;
    auto snap = build_snapshot(in, renders_);
    for (const auto& [name, verdict] : snap->verdicts) {
        auto prev = group_status_.find(name);
        if (prev != group_status_.end() && prev->second == verdict.status) continue;
        const char* from = prev == group_status_.end() ? "starting" : to_string(prev->second);
        if (history_) {
            HistoryEvent ev;
            ev.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall_now.time_since_epoch()).count();
            ev.check = name;
            ev.kind = EventKind::transition;
            ev.status = verdict.status;
            if (prev != group_status_.end()) ev.previous = prev->second;
            ev.cause = verdict.cause.empty() ? "all counted checks pass" : verdict.cause;
            history_->record(std::move(ev));
        }
        if (verdict.status == Status::pass || prev == group_status_.end())
            spdlog::info("group {}: {} -> {}{}{}", name, from, to_string(verdict.status), verdict.cause.empty() ? "" : ": ",
                         verdict.cause);
        else
            spdlog::warn("group {}: {} -> {}: {}", name, from, to_string(verdict.status), verdict.cause);
        group_status_[name] = verdict.status;
    }
    slot_.store(std::move(snap));
}

void StatusPublisher::forget_groups_not_in(const Config& config) {
    for (auto it = group_status_.begin(); it != group_status_.end();)
        it = config.find_group(it->first) ? std::next(it) : group_status_.erase(it);
}

}  // namespace vitals
