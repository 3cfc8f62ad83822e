// A snapshot as the daemon serves it, published by a real StatusPublisher from check views, for
// the unit tests of what is rendered from snapshots (/metrics, the dashboard).
#pragma once

#include "snapshot/publisher.h"

#include <chrono>
#include <memory>
#include <vector>

// `groups` besides "default" (which holds every view).
inline std::shared_ptr<const vitals::Snapshot> publish_views(const std::vector<vitals::CheckViewPtr>& views,
                                                             std::vector<vitals::GroupConfig> groups) {
    auto cfg = std::make_shared<vitals::Config>();
    vitals::GroupConfig all;
    all.name = "default";
    for (const auto& v : views) all.checks.push_back(v->name);
    groups.insert(groups.begin(), all);
    cfg->groups = std::move(groups);
    vitals::SnapshotSlot slot;
    vitals::StatusPublisher publisher(slot, nullptr, "svc");
    publisher.reset(cfg, views);
    publisher.publish(std::chrono::steady_clock::now(), std::chrono::system_clock::now(), false, false,
                      vitals::SchedulerStats{});
    return slot.load();
}
