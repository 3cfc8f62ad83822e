#include "history/rollup.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace vitals {

namespace {

constexpr double kGrowth = 1.25;
constexpr int64_t kMinSilence = 60'000;

int64_t floor_to(int64_t t, int64_t len) {
    int64_t q = t / len;
    if (t % len != 0 && t < 0) --q;
    return q * len;
}

}  // namespace

double latency_bucket_bound(int bucket) { return std::pow(kGrowth, bucket); }

int latency_bucket(int64_t ms) {
    if (ms <= 1) return 0;
    // The first bucket whose bound holds ms; computed, then corrected for rounding at the edges.
    int b = int(std::ceil(std::log(double(ms)) / std::log(kGrowth)));
    b = std::clamp(b, 0, kLatencyBuckets - 1);
    while (b > 0 && latency_bucket_bound(b - 1) >= double(ms)) --b;
    while (b < kLatencyBuckets - 1 && latency_bucket_bound(b) < double(ms)) ++b;
    return b;
}

void RollupCell::merge(const RollupCell& o) {
    runs += o.runs;
    fails += o.fails;
    warns += o.warns;
    pass_ms += o.pass_ms;
    warn_ms += o.warn_ms;
    fail_ms += o.fail_ms;
    max_ms = std::max(max_ms, o.max_ms);
    for (const auto& [b, n] : o.latency) latency[b] += n;
}

int64_t RollupCell::latency_count() const {
    int64_t n = 0;
    for (const auto& kv : latency) n += kv.second;
    return n;
}

std::optional<double> RollupCell::latency_quantile(double q) const {
    int64_t total = latency_count();
    if (total <= 0) return std::nullopt;
    // The smallest bucket whose cumulative count reaches ceil(q × total) (nearest-rank).
    int64_t rank = std::max<int64_t>(1, int64_t(std::ceil(q * double(total))));
    int64_t seen = 0;
    for (const auto& [b, n] : latency) {
        seen += n;
        if (seen >= rank) {
            double bound = latency_bucket_bound(b);
            return max_ms >= 0 ? std::min(bound, double(max_ms)) : bound;
        }
    }
    return max_ms >= 0 ? std::optional<double>(double(max_ms)) : std::nullopt;
}

std::string RollupCell::latency_text() const {
    std::string out;
    for (const auto& [b, n] : latency) {
        if (n == 0) continue;
        if (!out.empty()) out += ',';
        out += std::to_string(b) + ':' + std::to_string(n);
    }
    return out;
}

std::map<int, int64_t> RollupCell::parse_latency(const std::string& text) {
    std::map<int, int64_t> out;
    std::istringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) {
        size_t colon = part.find(':');
        if (colon == std::string::npos) continue;
        char* end = nullptr;
        long b = std::strtol(part.c_str(), &end, 10);
        if (end != part.c_str() + colon || b < 0 || b >= kLatencyBuckets) continue;
        long long n = std::strtoll(part.c_str() + colon + 1, &end, 10);
        if (*end != '\0' || n <= 0) continue;
        out[int(b)] += n;
    }
    return out;
}

void merge_deltas(RollupDeltas& into, const RollupDeltas& from) {
    for (const auto& [k, cell] : from) into[k].merge(cell);
}

RollupCell& RollupAccumulator::cell(const std::string& name, Series& s, size_t level, int64_t start) {
    if (s.generation != generation_) {
        s.cell = {};
        s.generation = generation_;
    }
    if (!s.cell[level] || s.cell_start[level] != start) {
        s.cell[level] = &deltas_[RollupKey{name, kRollupLevels[level], start}];
        s.cell_start[level] = start;
    }
    return *s.cell[level];
}

void RollupAccumulator::accrue(const std::string& name, Series& s, Status status, int64_t from, int64_t to, int sign) {
    if (to <= from) return;
    for (size_t level = 0; level < kRollupLevels.size(); ++level) {
        int64_t len = level_ms(kRollupLevels[level]);
        for (int64_t start = floor_to(from, len); start < to; start += len) {
            int64_t ms = std::min(to, start + len) - std::max(from, start);
            RollupCell& c = cell(name, s, level, start);
            int64_t d = sign * ms;
            switch (status) {
            case Status::pass: c.pass_ms += d; break;
            case Status::warn: c.warn_ms += d; break;
            case Status::fail: c.fail_ms += d; break;
            }
        }
    }
}

void RollupAccumulator::add(const HistoryEvent& e) {
    // Probe rows say what load balancers were answered (SPEC §9), not a check's or group's status:
    // a 404 to a prober must not start a series, a slow answer must not set one's status.
    if (e.kind == EventKind::probe) return;
    int64_t t = e.time_ms;
    auto it = series_.find(e.check);
    if (it == series_.end()) {
        Series s;
        s.status = e.status;
        s.since = t;
        s.last_event = t;
        it = series_.emplace(e.check, s).first;
    } else {
        Series& s = it->second;
        t = std::max(t, s.last_event);  // a series' events come in order; never go back before the last
        if (s.silent) {
            s.since = std::max(s.since, t);  // the silence stays unknown
            s.silent = false;
        } else if (t >= s.since) {
            accrue(e.check, s, s.status, s.since, t, +1);
            s.since = t;
        } else if (s.status != e.status) {
            // advance() ran past this event's time before it arrived (it was queued meanwhile):
            // the time from the event on belongs to the new status.
            accrue(e.check, s, s.status, t, s.since, -1);
            accrue(e.check, s, e.status, t, s.since, +1);
        }
        s.status = e.status;
        s.last_event = t;
    }
    Series& s = it->second;
    if (e.kind != EventKind::result) return;
    if (s.last_result >= 0) s.last_gap = t - s.last_result;
    s.last_result = t;
    Status raw = e.run ? e.run->status : e.status;
    for (size_t level = 0; level < kRollupLevels.size(); ++level) {
        RollupCell& c = cell(e.check, s, level, floor_to(e.time_ms, level_ms(kRollupLevels[level])));
        ++c.runs;
        if (raw == Status::fail) ++c.fails;
        if (raw == Status::warn) ++c.warns;
        if (e.duration_ms && *e.duration_ms >= 0) {
            ++c.latency[latency_bucket(*e.duration_ms)];
            c.max_ms = std::max(c.max_ms, *e.duration_ms);
        }
    }
}

void RollupAccumulator::advance_series(const std::string& name, Series& s, int64_t now_ms) {
    if (s.silent) return;
    int64_t limit = now_ms;
    if (s.last_result >= 0) {
        int64_t silence = std::max(kMinSilence, 3 * s.last_gap);
        if (now_ms - s.last_result > silence) {
            limit = s.last_result + silence;
            s.silent = true;
        }
    }
    if (limit > s.since) {
        accrue(name, s, s.status, s.since, limit, +1);
        s.since = limit;
    }
}

void RollupAccumulator::advance(int64_t now_ms) {
    for (auto& [name, s] : series_) advance_series(name, s, now_ms);
}

void RollupAccumulator::retain(const std::set<std::string>& names, int64_t at_ms) {
    for (auto it = series_.begin(); it != series_.end();) {
        if (names.count(it->first)) {
            ++it;
            continue;
        }
        advance_series(it->first, it->second, at_ms);
        it = series_.erase(it);
    }
}

RollupDeltas RollupAccumulator::take() {
    ++generation_;  // the cells the series point at leave with the map
    RollupDeltas out;
    out.swap(deltas_);
    return out;
}

}  // namespace vitals
