// Publishing a status (issue 14: group evaluation and group transitions happen where the snapshot
// is built, after policy, not in the scheduler): builds the snapshot from the checks' views,
// records every change of a group's status in history with its cause and logs it once, and swaps
// the snapshot into the slot the HTTP server reads.
#pragma once

#include "history/history_types.h"
#include "snapshot/snapshot.h"

#include <map>
#include <string>

namespace vitals {

class StatusPublisher {
public:
    // `history` may be null. Both must outlive the publisher.
    StatusPublisher(SnapshotSlot& slot, HistorySink* history, std::string service_id)
        : slot_(slot), history_(history), service_id_(std::move(service_id)) {}

    // Builds and stores a snapshot of `views` under `config`. Not thread-safe: one caller (the
    // scheduler, under its lock).
    void publish(const Config& config, const std::vector<CheckViewPtr>& views, MonoTime now, WallTime wall_now,
                 bool in_start_period, bool draining);

    // Groups the configuration no longer has are forgotten (a group added back starts anew).
    void forget_groups_not_in(const Config& config);

private:
    SnapshotSlot& slot_;
    HistorySink* history_;
    std::string service_id_;
    std::map<std::string, Status> group_status_;  // the last published status of each group
    RenderCache renders_;
};

}  // namespace vitals
