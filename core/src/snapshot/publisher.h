// Publishing a status (issue 14): the stage after policy. It keeps every check's published form and
// every group's verdict, re-evaluates only what changed (a check with a new view, one whose standing
// changes with time, the groups holding them), records every change of a group's status in history
// with its cause and logs it once, and swaps the snapshot into the slot the HTTP server reads.
//
// Cost of a publish (issue 14, item 19): a rendering per changed check, one part of each of its
// groups' bodies (CheckList::kChunk members), its groups' failing members for their verdicts, and
// a pointer per chunk of checks and per group. Nothing scans all checks but a new configuration
// and the end of policy.start_period.
#pragma once

#include "history/history_types.h"
#include "snapshot/snapshot.h"

#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

namespace vitals {

class StatusPublisher {
public:
    // `history` may be null. Both must outlive the publisher.
    StatusPublisher(SnapshotSlot& slot, HistorySink* history, std::string service_id)
        : slot_(slot), history_(history), service_id_(std::move(service_id)) {}

    // The configuration to publish under, with the view of each of its checks in its order: all is
    // evaluated anew at the next publish. Groups it no longer has are forgotten (a group added back
    // starts anew); the others keep their last status, so a reload records no transition that
    // did not happen.
    void reset(std::shared_ptr<const Config> config, std::vector<CheckViewPtr> views);

    // Check `i` (its position in the configuration) has a new view.
    void update(size_t i, CheckViewPtr view);

    // Builds and stores a snapshot. Not thread-safe: one caller (the scheduler, under its lock).
    void publish(MonoTime now, WallTime wall_now, bool in_start_period, bool draining, const SchedulerStats& stats);

    // The first moment a check's standing changes by time alone (it goes stale, or its stale age
    // ticks): the caller publishes then. MonoTime::max() if none.
    MonoTime next_change();

    // Checks rendered by the publishes so far (tests: what a publish re-rendered).
    uint64_t renders() const { return renders_; }

private:
    struct CheckSlot {
        CheckViewPtr view;
        PublishedCheckPtr published;
        bool dirty = false;
        uint64_t timer_seq = 0;
        std::vector<std::pair<uint32_t, uint32_t>> memberships;  // (group, position in it)
    };
    struct MemberFlags {
        bool known = false;  // evaluated at least once
        bool counted = false;
        bool quorum = false;
        bool passing = false;
    };
    struct GroupSlot {
        const GroupConfig* cfg = nullptr;
        std::vector<uint32_t> members;  // check positions, in the group's order
        std::vector<MemberFlags> flags;
        std::set<uint32_t> not_passing;  // positions of counted members that do not pass
        QuorumTally tally;
        std::vector<std::shared_ptr<const std::string>> parts;  // kChunk members' entries each
        std::vector<char> part_dirty;
        bool dirty = true;
        PublishedGroupPtr published;
    };
    struct Timer {
        MonoTime at;
        uint32_t check;
        uint64_t seq;
        bool operator>(const Timer& o) const { return at > o.at; }
    };

    void evaluate(uint32_t i, MonoTime now, bool in_start_period,
                  std::vector<std::pair<size_t, PublishedCheckPtr>>& changes);
    void update_member(GroupSlot& g, uint32_t pos, const PublishedCheck& pc);
    void judge(GroupSlot& g, bool draining, WallTime wall_now);

    SnapshotSlot& slot_;
    HistorySink* history_;
    std::string service_id_;
    std::shared_ptr<const Config> config_;
    std::shared_ptr<const SnapshotIndex> index_;
    std::vector<CheckSlot> checks_;
    std::vector<GroupSlot> groups_;
    std::vector<uint32_t> dirty_;  // checks with a new view since the last publish
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
    CheckList published_;
    bool everything_ = true;  // a new configuration: evaluate every check and group
    std::optional<bool> last_in_start_period_;
    std::optional<bool> last_draining_;
    std::map<std::string, Status> group_status_;  // the last published status of each group
    std::map<std::string, uint64_t> group_transitions_;  // changes of group_status_, by group
    uint64_t renders_ = 0;
};

}  // namespace vitals
