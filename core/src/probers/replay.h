// What a load balancer decided, or would have decided, from history (SPEC §9): GET /health/replay
// and `vitals replay`.
//
// source=probes: each recorded prober's own answers (history kind probe) run through the ALB state
// machine (probers/lb_model.h) under load_balancer's settings (or the query's), giving its state
// changes with ALB's reason codes, and the cause of its group's status in force at each change.
// source=status (the what-if): one simulated prober that probes a group's recorded status every
// `interval` from `since` to `until`: "with 10 s and 3/3 instead of 5 s and 2/2, when would the
// target have been pulled, and for how long".
//
// A replay starts every prober at `initial` at its first answer in the range.
#pragma once

#include "config/config.h"
#include "history/history_query.h"
#include "history/sqlite_history_store.h"
#include "probers/lb_model.h"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace vitals {

struct ReplayQuery {
    enum class Source { automatic, probes, status } source = Source::automatic;
    std::optional<std::string> group;   // probes: only probers of this group's path; status: the group
    std::optional<std::string> prober;  // probes: only this client address
    int64_t since_ms = 0;
    int64_t until_ms = 0;
    Config::LoadBalancer settings;  // load_balancer, with the query's overrides
};

// Validated like history's parameters (a QueryError names the parameter): source, group (a group
// of `config`), prober, since, until (default: the last 24 hours), interval, timeout,
// healthy_threshold, unhealthy_threshold, match.
std::variant<ReplayQuery, QueryError> parse_replay_query(const QueryParams& params, int64_t now_ms, const Config& config);

struct ReplayChange {
    int64_t time_us = 0;
    ProberState state = ProberState::initial;
    std::string reason;      // "" when healthy
    std::vector<int> codes;  // Target.ResponseCodeMismatch: the codes of the failing run
    std::string cause;       // the group's recorded transition cause in force; "" when none is recorded
    std::optional<int> code; // the answer that made the change (none for `initial`)
    int64_t latency_us = 0;
};

struct ReplayEpisode {
    int64_t start_us = 0;
    std::optional<int64_t> end_us;  // none: still unhealthy at the end of the range
    int64_t detection_ms = 0;       // from the first failing answer to the unhealthy decision
    std::string cause;
};

struct ReplaySummary {
    std::vector<ReplayEpisode> episodes;
    int64_t unhealthy_ms = 0;
};

struct ReplayProber {
    std::string address, user_agent, path, group;
    bool simulated = false;
    uint64_t probes = 0;
    std::vector<ReplayChange> changes;
    ReplaySummary summary;
};

struct ReplayResult {
    ReplayQuery::Source source = ReplayQuery::Source::probes;
    Config::LoadBalancer settings;
    int64_t since_ms = 0, until_ms = 0;
    std::vector<ReplayProber> probers;
    // The target as the balancer saw it: unhealthy while any prober had it unhealthy.
    ReplaySummary summary;
    std::string note;  // why there is nothing to show, when there is nothing
};

// Reads what the query needs from the store and replays it. A null store (a database with no
// history in it yet) gives an empty result that says so.
ReplayResult run_replay(SqliteHistoryStore* store, const ReplayQuery& q, const Config& config);

// The API's body.
std::string replay_json(const ReplayResult& r);
// `vitals replay`'s readable timeline.
std::string replay_text(const ReplayResult& r);

}  // namespace vitals
