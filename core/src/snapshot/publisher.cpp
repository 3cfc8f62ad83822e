#include "snapshot/publisher.h"

#include <spdlog/spdlog.h>

namespace vitals {

namespace {

bool same_standing(const Standing& a, const Standing& b) {
    return a.status == b.status && a.basis == b.basis && a.counted == b.counted && a.output == b.output;
}

// One part of a group's body: members [first, last) as "checks" map entries, with the comma that
// separates it from the part before.
std::shared_ptr<const std::string> render_part(const std::vector<uint32_t>& members, size_t first, size_t last,
                                               const CheckList& checks) {
    auto part = std::make_shared<std::string>();
    size_t size = 1;
    for (size_t i = first; i < last; ++i) size += checks[members[i]].entry.size() + 1;
    part->reserve(size);
    for (size_t i = first; i < last; ++i) {
        if (i) *part += ',';
        *part += checks[members[i]].entry;
    }
    return part;
}

}  // namespace

void StatusPublisher::reset(std::shared_ptr<const Config> config, std::vector<CheckViewPtr> views) {
    config_ = std::move(config);
    const Config& cfg = *config_;
    auto index = std::make_shared<SnapshotIndex>();
    checks_.assign(views.size(), CheckSlot{});
    for (size_t i = 0; i < views.size(); ++i) {
        index->checks.emplace(views[i]->name, i);
        checks_[i].view = std::move(views[i]);
    }
    groups_.assign(cfg.groups.size(), GroupSlot{});
    for (size_t g = 0; g < cfg.groups.size(); ++g) {
        GroupSlot& slot = groups_[g];
        slot.cfg = &cfg.groups[g];
        index->groups.emplace(slot.cfg->name, g);
        for (const auto& name : slot.cfg->checks) {
            auto it = index->checks.find(name);
            if (it == index->checks.end()) continue;
            checks_[it->second].memberships.emplace_back(uint32_t(g), uint32_t(slot.members.size()));
            slot.members.push_back(uint32_t(it->second));
        }
        slot.flags.assign(slot.members.size(), MemberFlags{});
        size_t parts = (slot.members.size() + CheckList::kChunk - 1) / CheckList::kChunk;
        slot.parts.assign(parts, nullptr);
        slot.part_dirty.assign(parts, 1);
    }
    index_ = std::move(index);
    for (auto it = group_status_.begin(); it != group_status_.end();)
        it = cfg.find_group(it->first) ? std::next(it) : group_status_.erase(it);
    for (auto it = group_transitions_.begin(); it != group_transitions_.end();)
        it = cfg.find_group(it->first) ? std::next(it) : group_transitions_.erase(it);
    dirty_.clear();
    timers_ = {};
    everything_ = true;
}

void StatusPublisher::update(size_t i, CheckViewPtr view) {
    CheckSlot& c = checks_.at(i);
    c.view = std::move(view);
    if (!c.dirty) {
        c.dirty = true;
        dirty_.push_back(uint32_t(i));
    }
}

MonoTime StatusPublisher::next_change() {
    while (!timers_.empty() && timers_.top().seq != checks_[timers_.top().check].timer_seq) timers_.pop();
    return timers_.empty() ? MonoTime::max() : timers_.top().at;
}

void StatusPublisher::evaluate(uint32_t i, MonoTime now, bool in_start_period,
                               std::vector<std::pair<size_t, PublishedCheckPtr>>& changes) {
    CheckSlot& c = checks_[i];
    c.dirty = false;
    Standing st = check_standing(*c.view, now, in_start_period);
    MonoTime next = standing_changes_after(*c.view, now);
    ++c.timer_seq;
    if (next != MonoTime::max()) timers_.push({next, i, c.timer_seq});
    if (c.published && c.published->view == c.view && same_standing(c.published->standing, st)) return;
    c.published =
        publish_check(c.view, st, config_->policy.http_status.code_for(st.status), service_id_, c.published.get());
    ++renders_;
    changes.emplace_back(i, c.published);
    for (auto [g, pos] : c.memberships) update_member(groups_[g], pos, *c.published);
}

void StatusPublisher::update_member(GroupSlot& g, uint32_t pos, const PublishedCheck& pc) {
    MemberFlags& f = g.flags[pos];
    if (f.known && f.counted) {
        if (f.quorum) {
            --g.tally.members;
            if (f.passing) --g.tally.passing;
        }
        if (!f.passing) g.not_passing.erase(pos);
    }
    Member m{pc.view->name, pc.view->impact, pc.view->scope, pc.standing};
    f.known = true;
    f.counted = counts_toward_group(m);
    f.quorum = in_quorum(m);
    f.passing = pc.standing.status == Status::pass;
    if (f.counted) {
        if (f.quorum) {
            ++g.tally.members;
            if (f.passing) ++g.tally.passing;
        }
        if (!f.passing) g.not_passing.insert(pos);
    }
    g.part_dirty[pos / CheckList::kChunk] = 1;
    g.dirty = true;
}

void StatusPublisher::judge(GroupSlot& g, bool draining, WallTime wall_now) {
    const Config& cfg = *config_;
    const GroupConfig& gc = *g.cfg;
    std::vector<Member> failing;
    failing.reserve(g.not_passing.size());
    for (uint32_t pos : g.not_passing) {
        const PublishedCheck& pc = published_[g.members[pos]];
        failing.push_back({pc.view->name, pc.view->impact, pc.view->scope, pc.standing});
    }
    std::vector<const Member*> not_passing;
    not_passing.reserve(failing.size());
    for (const auto& m : failing) not_passing.push_back(&m);
    GroupVerdict verdict = judge_group(gc, g.tally, not_passing, cfg.policy.shared_fail, draining);

    for (size_t p = 0; p < g.parts.size(); ++p) {
        if (!g.part_dirty[p]) continue;
        size_t first = p * CheckList::kChunk;
        g.parts[p] = render_part(g.members, first, std::min(g.members.size(), first + CheckList::kChunk), published_);
        g.part_dirty[p] = 0;
    }
    auto pg = std::make_shared<PublishedGroup>();
    pg->name = gc.name;
    render_group_ends(pg->rendered, gc.name, verdict, service_id_);
    pg->rendered.code = (gc.http_status ? *gc.http_status : cfg.policy.http_status).code_for(verdict.status);
    pg->rendered.full_parts = g.parts;
    // Counted before the group is published, so the snapshot carrying the change carries its count.
    auto last = group_status_.find(gc.name);
    uint64_t& transitions = group_transitions_[gc.name];
    if (last != group_status_.end() && last->second != verdict.status) ++transitions;
    pg->transitions = transitions;
    pg->verdict = std::move(verdict);
    g.published = std::move(pg);
    g.dirty = false;

    // A change of the group's status: one history row with its cause, one log line.
    const GroupVerdict& v = g.published->verdict;
    auto prev = group_status_.find(gc.name);
    if (prev != group_status_.end() && prev->second == v.status) return;
    const char* from = prev == group_status_.end() ? "starting" : to_string(prev->second);
    if (history_) {
        HistoryEvent ev;
        ev.time_ms = unix_ms(wall_now);
        ev.check = gc.name;
        ev.kind = EventKind::transition;
        ev.status = v.status;
        if (prev != group_status_.end()) ev.previous = prev->second;
        ev.cause = v.cause.empty() ? "all counted checks pass" : v.cause;
        history_->record(std::move(ev));
    }
    if (v.status == Status::pass || prev == group_status_.end())
        spdlog::info("group {}: {} -> {}{}{}", gc.name, from, to_string(v.status), v.cause.empty() ? "" : ": ",
                     v.cause);
    else
        spdlog::warn("group {}: {} -> {}: {}", gc.name, from, to_string(v.status), v.cause);
    group_status_[gc.name] = v.status;
}

void StatusPublisher::publish(MonoTime now, WallTime wall_now, bool in_start_period, bool draining,
                              const SchedulerStats& stats) {
    const Config& cfg = *config_;
    bool everything = everything_ || last_in_start_period_ != in_start_period;
    while (!timers_.empty() && timers_.top().at <= now) {
        Timer t = timers_.top();
        timers_.pop();
        CheckSlot& c = checks_[t.check];
        if (t.seq == c.timer_seq && !c.dirty) {
            c.dirty = true;
            dirty_.push_back(t.check);
        }
    }
    std::vector<std::pair<size_t, PublishedCheckPtr>> changes;
    if (everything) {
        for (uint32_t i = 0; i < checks_.size(); ++i) evaluate(i, now, in_start_period, changes);
    } else {
        for (uint32_t i : dirty_) evaluate(i, now, in_start_period, changes);
    }
    dirty_.clear();
    if (everything_) {
        std::vector<PublishedCheckPtr> all;
        all.reserve(checks_.size());
        for (const auto& c : checks_) all.push_back(c.published);
        published_.assign(all);
    } else if (!changes.empty()) {
        published_.replace(std::move(changes));
    }
    bool drain_changed = last_draining_ != draining;
    for (auto& g : groups_)
        if (g.dirty || drain_changed || everything_) judge(g, draining, wall_now);
    everything_ = false;
    last_in_start_period_ = in_start_period;
    last_draining_ = draining;

    auto snap = std::make_shared<Snapshot>();
    snap->built = wall_now;
    snap->checks = published_;
    snap->groups.reserve(groups_.size());
    for (const auto& g : groups_) snap->groups.push_back(g.published);
    snap->index = index_;
    snap->draining = draining;
    snap->details = cfg.server.details;
    snap->admin_token_env = cfg.server.admin_token_env;
    snap->scheduler = stats;
    slot_.store(std::move(snap));
}

}  // namespace vitals
