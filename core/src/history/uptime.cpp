#include "history/uptime.h"

#include "common/duration.h"
#include "common/time_format.h"
#include "history/rollup_store.h"

#include "common/json_out.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

namespace vitals {


namespace {

constexpr int64_t kMinute = 60'000, kHour = 3'600'000, kDay = 86'400'000;
constexpr int64_t kMaxBuckets = 10'000;

int64_t floor_to(int64_t t, int64_t len) { return (t >= 0 ? t / len : (t - len + 1) / len) * len; }

// A share (uptime, coverage) rounded to 6 decimals (exact to well below a millisecond per day,
// and stable to print), or null when undefined (negative).
void share(JsonObject& o, const char* key, double v) {
    if (v < 0)
        o.key(key) += "null";
    else
        o.micros(key, int64_t(v * 1e6 + 0.5));
}

// A latency read from the buckets: a bucket's bound (its text made once) or the exact maximum.
void millis(JsonObject& o, const char* key, std::optional<double> v) {
    static const std::array<std::string, kLatencyBuckets> bounds = [] {
        std::array<std::string, kLatencyBuckets> b;
        for (int i = 0; i < kLatencyBuckets; ++i) b[size_t(i)] = json_number(latency_bucket_bound(i));
        return b;
    }();
    if (!v) {
        o.key(key) += "null";
        return;
    }
    int b = *v >= 1 ? int(std::lround(std::log(*v) / std::log(latency_bucket_bound(1)))) : -1;
    if (b >= 0 && b < kLatencyBuckets && latency_bucket_bound(b) == *v)
        o.key(key) += bounds[size_t(b)];
    else
        o.dbl(key, *v);
}

void set_cell(JsonObject& o, const RollupCell& c) {
    o.num("runs", c.runs).num("fails", c.fails).num("warns", c.warns);
    millis(o, "p50_ms", c.latency_quantile(0.50));
    millis(o, "p95_ms", c.latency_quantile(0.95));
    if (c.max_ms >= 0)
        o.num("max_ms", c.max_ms);
    else
        o.key("max_ms") += "null";
    o.num("pass_ms", c.pass_ms).num("warn_ms", c.warn_ms).num("fail_ms", c.fail_ms);
}

}  // namespace

double uptime_of(const RollupCell& c) {
    int64_t known = c.known_ms();
    return known > 0 ? double(c.pass_ms + c.warn_ms) / double(known) : -1;
}

double coverage_of(const RollupCell& c, int64_t elapsed_ms) {
    if (elapsed_ms <= 0) return -1;
    return std::min(1.0, double(c.known_ms()) / double(elapsed_ms));
}

int64_t bucket_elapsed(const UptimeQuery& q, int64_t start) {
    return std::clamp<int64_t>(q.now_ms - start, 0, q.bucket_ms);
}

std::variant<UptimeQuery, QueryError> parse_uptime_query(const QueryParams& params, int64_t now_ms,
                                                         const Config* config) {
    UptimeQuery q;
    std::vector<std::string> seen;
    std::optional<int64_t> range, bucket;
    for (const auto& [key, value] : params) {
        if (key != "check") {
            if (std::find(seen.begin(), seen.end(), key) != seen.end()) return QueryError{key, "given more than once"};
            seen.push_back(key);
        }
        if (key == "check") {
            std::vector<std::string> names;
            if (auto err = check_names(key, value, config, names)) return *err;
            for (const auto& n : names)
                if (std::find(q.series.begin(), q.series.end(), n) == q.series.end()) q.series.push_back(n);
        } else if (key == "range" || key == "bucket") {
            auto d = parse_duration(value);
            if (!d || d->count() <= 0) return QueryError{key, "\"" + value + "\" is not a duration; use 1h, 7d, 30d"};
            (key == "range" ? range : bucket) = d->count();
        } else if (key == "buckets") {
            if (value != "true" && value != "false") return QueryError{key, "use true or false"};
            q.with_buckets = value == "true";
        } else {
            return QueryError{key, "unknown parameter; known: check, range, bucket, buckets"};
        }
    }
    if (q.series.empty()) return QueryError{"check", "missing; give check or group names, comma separated"};
    q.range_ms = range.value_or(kDay);
    if (q.range_ms < kMinute || q.range_ms % kMinute != 0) return QueryError{"range", "must be a whole number of minutes"};
    q.bucket_ms = bucket.value_or(q.range_ms <= 2 * kHour ? kMinute : q.range_ms <= 7 * kDay ? kHour : kDay);
    if (q.bucket_ms % kMinute != 0) return QueryError{"bucket", "must be a whole number of minutes (1m, 15m, 1h, 1d)"};
    if (q.bucket_ms > q.range_ms) return QueryError{"bucket", "is longer than the range"};
    if (q.range_ms % q.bucket_ms != 0)
        return QueryError{"range", "must be a whole number of buckets (" + format_duration(Millis(q.bucket_ms)) + ")"};
    if (q.range_ms / q.bucket_ms > kMaxBuckets)
        return QueryError{"bucket", "too small: at most " + std::to_string(kMaxBuckets) + " buckets per range"};
    q.level = q.bucket_ms % kDay == 0 ? RollupLevel::day : q.bucket_ms % kHour == 0 ? RollupLevel::hour : RollupLevel::minute;
    if (config) {
        const auto& h = config->history;
        struct {
            RollupLevel level;
            Millis kept;
            const char* key;
        } levels[] = {{RollupLevel::minute, h.rollup_minutes, "minutes"},
                      {RollupLevel::hour, h.rollup_hours, "hours"},
                      {RollupLevel::day, h.rollup_days, "days"}};
        for (const auto& l : levels)
            if (l.level == q.level && q.range_ms > l.kept.count())
                return QueryError{"range", "beyond retention: bucket " + format_duration(Millis(q.bucket_ms)) +
                                               " is read from " + l.key + " rollups, kept " + format_duration(l.kept) +
                                               " (history.rollups." + l.key + "); ask for at most " +
                                               format_duration(l.kept) + ", or a larger bucket"};
    }
    q.now_ms = now_ms;
    q.start_ms = floor_to(now_ms, q.bucket_ms) + q.bucket_ms - q.range_ms;
    return q;
}

std::vector<UptimeSeries> compute_uptime(SQLite::Database& db, const UptimeQuery& q) {
    std::vector<UptimeSeries> out;
    int64_t end = q.start_ms + q.range_ms;
    int64_t n = q.range_ms / q.bucket_ms;
    for (const auto& name : q.series) {
        UptimeSeries s;
        s.series = name;
        s.buckets.reserve(size_t(n));
        for (int64_t i = 0; i < n; ++i) s.buckets.emplace_back(q.start_ms + i * q.bucket_ms, RollupCell{});
        for (const auto& [start, cell] : read_rollups(db, name, q.level, q.start_ms, end)) {
            size_t i = size_t((start - q.start_ms) / q.bucket_ms);
            if (i < s.buckets.size()) s.buckets[i].second.merge(cell);
        }
        for (const auto& b : s.buckets) s.total.merge(b.second);
        out.push_back(std::move(s));
    }
    return out;
}

std::string uptime_json(const UptimeQuery& q, const std::vector<UptimeSeries>& answer) {
    // Written with JsonObject, not Poco::JSON: 30 days of hours is 720 buckets a series.
    int64_t elapsed_total = std::max<int64_t>(0, q.now_ms - q.start_ms);
    std::string out;
    out.reserve(256 + answer.size() * (256 + (q.with_buckets ? 200 * (q.range_ms / q.bucket_ms) : 0)));
    {
        JsonObject root(out);
        root.str("range", format_duration(Millis(q.range_ms)));
        root.str("bucket", format_duration(Millis(q.bucket_ms)));
        root.str("start", rfc3339(WallTime(std::chrono::milliseconds(q.start_ms))));
        root.str("end", rfc3339(WallTime(std::chrono::milliseconds(q.now_ms))));
        std::string& items = root.key("items");
        items += '[';
        for (size_t n = 0; n < answer.size(); ++n) {
            const UptimeSeries& s = answer[n];
            if (n) items += ',';
            JsonObject o(items);
            o.str("check", s.series);
            share(o, "uptime", uptime_of(s.total));
            share(o, "coverage", coverage_of(s.total, elapsed_total));
            set_cell(o, s.total);
            if (!q.with_buckets) continue;
            std::string& buckets = o.key("buckets");
            buckets += '[';
            for (size_t i = 0; i < s.buckets.size(); ++i) {
                const auto& [start, c] = s.buckets[i];
                if (i) buckets += ',';
                JsonObject b(buckets);
                b.str("start", rfc3339(WallTime(std::chrono::milliseconds(start))));
                share(b, "uptime", uptime_of(c));
                share(b, "coverage", coverage_of(c, bucket_elapsed(q, start)));
                set_cell(b, c);
            }
            buckets += ']';
        }
        items += ']';
    }
    return out;
}

}  // namespace vitals
