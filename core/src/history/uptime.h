// GET /health/uptime and `vitals history --uptime` (SPEC §10): parameters, the answer from the
// rollups, and its JSON.
//
// The window: `range / bucket` buckets aligned to multiples of `bucket` since the epoch (UTC), the
// last one holding now (so range=30d&bucket=1d is the last 30 UTC days, today so far included).
// Each bucket is read from the coarsest level whose length divides `bucket` (1d → day rollups,
// 1h or 15m... → hour or minute rollups). A bucket's coverage is the share of its elapsed time
// whose status is known; its uptime is time in pass or warn over known time (null: none known).
#pragma once

#include "config/config.h"
#include "history/history_query.h"
#include "history/rollup.h"

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vitals {

struct UptimeQuery {
    std::vector<std::string> series;  // check or group names, as asked (each its own series)
    int64_t range_ms = 86'400'000;
    int64_t bucket_ms = 3'600'000;
    RollupLevel level = RollupLevel::hour;
    int64_t start_ms = 0;  // the first bucket's start
    int64_t now_ms = 0;    // the window ends here (inside the last bucket)
    bool with_buckets = true;  // buckets=false: the totals alone (the dashboard's uptime columns)
};

struct UptimeSeries {
    std::string series;
    std::vector<std::pair<int64_t, RollupCell>> buckets;  // (start, merged cell), every bucket of the window
    RollupCell total;
};

struct RollupRetention {
    Millis minutes{7LL * 86'400'000}, hours{90LL * 86'400'000}, days{730LL * 86'400'000};
};

// Parses check (required; comma list or repeated), range (default 24h), bucket (default: 1m up
// to a 2h range, 1h up to 7d, else 1d) and buckets (true, the default, or false: totals only). With a config, names must be its checks or groups and the
// range must lie within the retention of the level it is read from. Returns the query or the
// first bad parameter.
std::variant<UptimeQuery, QueryError> parse_uptime_query(const QueryParams& params, int64_t now_ms,
                                                         const Config* config);

// Reads the window's rollups of each series.
std::vector<UptimeSeries> compute_uptime(SQLite::Database& db, const UptimeQuery& q);

// {"range", "bucket", "start", "end", "items": [{"check", "uptime", "coverage", "runs", "fails",
// "warns", "p50_ms", "p95_ms", "max_ms", "buckets": [{"start", "runs", "fails", "warns", "uptime",
// "coverage", "p50_ms", "p95_ms", "max_ms", "pass_ms", "warn_ms", "fail_ms"}]}]}; without "buckets"
// when q.with_buckets is false.
std::string uptime_json(const UptimeQuery& q, const std::vector<UptimeSeries>& answer);

// The share of [from, from + elapsed) known, and of known time up; -1 when undefined.
double uptime_of(const RollupCell& c);
double coverage_of(const RollupCell& c, int64_t elapsed_ms);
// How long bucket `start` has elapsed at q.now_ms (its length, or less for the last one).
int64_t bucket_elapsed(const UptimeQuery& q, int64_t start);

}  // namespace vitals
