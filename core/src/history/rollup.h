// Rollups of history (SPEC §10): per check and per group, per minute, hour and day, how many runs
// and how many of them failed or warned, how long the series spent in each status, and its
// latency as a fixed-bucket histogram. The history writer folds every event it writes into a
// RollupAccumulator and writes the deltas in the same transaction as the raw rows.
//
// Time in status: a series' status holds from one event of it to the next, while vitals runs.
// The writer advances every series to "now" when it writes (and on a timer when idle), so a
// status is known only up to the last advance: time while vitals was not running (stopped or
// crashed) and time before a series' first event after a start are unknown, counted neither way.
// A check that stops producing results (removed by a reload, its plugin gone) stops counting after
// max(3 × its last gap between results, 1 min) of silence.
//
// Latency: 58 fixed buckets growing by 1.25× from 1 ms (bucket i holds values up to 1.25^i ms,
// the last one everything above 1.25^56 ms, about 4.5 min). Fixed buckets merge exactly by adding
// counts (minute into any range, in any order), are the same size for every row, and bound the
// error of a percentile read from them: the value reported is the bucket's upper bound (capped at
// the exact maximum), at most 25% above the true value.
#pragma once

#include "common/status.h"
#include "history/history_types.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace vitals {

// The three levels, by their bucket length.
enum class RollupLevel : int64_t { minute = 60'000, hour = 3'600'000, day = 86'400'000 };
constexpr std::array<RollupLevel, 3> kRollupLevels{RollupLevel::minute, RollupLevel::hour, RollupLevel::day};
inline int64_t level_ms(RollupLevel l) { return int64_t(l); }

constexpr int kLatencyBuckets = 58;
// The bucket a duration (ms) falls in, and a bucket's upper bound (ms).
int latency_bucket(int64_t ms);
double latency_bucket_bound(int bucket);

// One bucket of one series at one level, or a delta to add to it. Times in ms; counts of runs.
struct RollupCell {
    int64_t runs = 0;
    int64_t fails = 0;  // runs whose raw status was fail
    int64_t warns = 0;  // runs whose raw status was warn
    int64_t pass_ms = 0, warn_ms = 0, fail_ms = 0;  // time in each (effective) status
    int64_t max_ms = -1;                            // slowest run; -1: no run with a duration
    std::map<int, int64_t> latency;                 // bucket → count (sparse)

    void merge(const RollupCell& o);
    int64_t known_ms() const { return pass_ms + warn_ms + fail_ms; }
    int64_t latency_count() const;
    // The q-quantile (0 < q ≤ 1) of the latency histogram: the upper bound of the bucket holding
    // it, capped at max_ms. nullopt without latency samples.
    std::optional<double> latency_quantile(double q) const;
    // The sparse histogram as text, "bucket:count,bucket:count", and back (malformed parts skipped).
    std::string latency_text() const;
    static std::map<int, int64_t> parse_latency(const std::string& text);
};

struct RollupKey {
    std::string series;
    RollupLevel level;
    int64_t start;  // unix ms, a multiple of the level's length (UTC)
    bool operator<(const RollupKey& o) const {
        return std::tie(series, level, start) < std::tie(o.series, o.level, o.start);
    }
};

using RollupDeltas = std::map<RollupKey, RollupCell>;
void merge_deltas(RollupDeltas& into, const RollupDeltas& from);

class RollupAccumulator {
public:
    // Folds one event in: a result counts as a run (and its latency) in its minute, hour and day,
    // and every result or transition sets its series' status from its time on. Probe rows are not
    // folded in (they are the probers' view, SPEC §9).
    void add(const HistoryEvent& e);
    // Time in status of every series up to now_ms (see above for silent checks).
    void advance(int64_t now_ms);
    // Vitals stops: every series' status is unknown from its last advance on.
    void forget() { series_.clear(); }
    // A reload at at_ms configured `names`: every other series counts its status up to at_ms (or
    // its silence, as advance() would), then no more; an event of that name later starts it anew.
    void retain(const std::set<std::string>& names, int64_t at_ms);
    // The deltas gathered since the last take().
    RollupDeltas take();
    bool empty() const { return deltas_.empty(); }

private:
    struct Series {
        Status status = Status::fail;
        int64_t since = 0;        // time in status is accounted up to here
        int64_t last_event = 0;   // time of its latest event
        int64_t last_gap = 0;     // between its last two results (0: fewer than two)
        int64_t last_result = -1; // time of its latest result; -1: none (a group)
        bool silent = false;      // advance() stopped counting it: the time until its next event is unknown
        // The cells it last touched per level, valid while generation == generation_ (take()
        // empties the map): most events fall in the buckets of the one before.
        std::array<RollupCell*, 3> cell{};
        std::array<int64_t, 3> cell_start{};
        uint64_t generation = 0;
    };
    RollupCell& cell(const std::string& name, Series& s, size_t level, int64_t start);
    // Counts s's status up to now_ms, or to where its silence begins (then marks it silent).
    void advance_series(const std::string& name, Series& s, int64_t now_ms);
    void accrue(const std::string& name, Series& s, Status status, int64_t from, int64_t to, int sign);
    std::map<std::string, Series> series_;
    RollupDeltas deltas_;
    uint64_t generation_ = 1;
};

}  // namespace vitals
