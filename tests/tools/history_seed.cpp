// Writes days of synthetic history into a history database through the real HistoryWriter, so
// raw rows and rollups are exactly what a daemon that had been running would have left (issue 16:
// the dashboard's browser test and the uptime benchmark start vitals on such a file).
//
//   history_seed PATH [--days D] [--interval SECONDS] [--until-ago SECONDS] [--no-rollups] SERIES...
//
// SERIES is NAME[:fail=F/N][:warn=W/N][:latency=MS]: one result every SECONDS (default 60) from
// D days (default 7) before now until --until-ago seconds (default 60) before now; in every cycle
// of N results the first F fail (then W warn), the rest pass; durations cycle from MS to 2×MS.
// A transition row is written at every change of status, with the failing output as its cause,
// as the scheduler writes them (rise = fall = 1). Raw rows are kept for D + 1 days, up to 50 M.
// Prints the rows written and the rate. --no-rollups: raw rows only (the writer's rollups off), to
// time the same rows without them.
#include "history/history_writer.h"
#include "history/rollup_store.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace vitals;

namespace {

struct Series {
    std::string name;
    int64_t fail = 0, warn = 0, cycle = 1;
    int64_t latency_ms = 5;
    std::optional<Status> last;
};

bool parse_ratio(const std::string& v, int64_t& n, int64_t& cycle) {
    auto slash = v.find('/');
    if (slash == std::string::npos) return false;
    n = std::atoll(v.substr(0, slash).c_str());
    cycle = std::atoll(v.substr(slash + 1).c_str());
    return n >= 0 && cycle > 0 && n <= cycle;
}

std::optional<Series> parse_series(const std::string& arg) {
    Series s;
    size_t pos = arg.find(':');
    s.name = arg.substr(0, pos);
    if (s.name.empty()) return std::nullopt;
    while (pos != std::string::npos) {
        size_t next = arg.find(':', pos + 1);
        std::string part = arg.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
        pos = next;
        auto eq = part.find('=');
        if (eq == std::string::npos) return std::nullopt;
        std::string key = part.substr(0, eq), value = part.substr(eq + 1);
        int64_t cycle = 0;
        if (key == "fail" && parse_ratio(value, s.fail, cycle)) s.cycle = cycle;
        else if (key == "warn" && parse_ratio(value, s.warn, cycle)) s.cycle = cycle;
        else if (key == "latency" && (s.latency_ms = std::atoll(value.c_str())) > 0) continue;
        else return std::nullopt;
    }
    if (s.fail + s.warn > s.cycle) return std::nullopt;
    return s;
}

int usage() {
    std::fprintf(stderr, "usage: history_seed PATH [--days D] [--interval SECONDS] [--until-ago SECONDS] "
                         "[--no-rollups] NAME[:fail=F/N][:warn=W/N][:latency=MS]...\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    spdlog::set_level(spdlog::level::warn);
    if (argc < 3) return usage();
    std::string path = argv[1];
    double days = 7, interval_s = 60, until_ago_s = 60;
    std::vector<Series> series;
    bool rollups = true;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--no-rollups") {
            rollups = false;
        } else if ((a == "--days" || a == "--interval" || a == "--until-ago") && i + 1 < argc) {
            double v = std::atof(argv[++i]);
            if (v <= 0 && a != "--until-ago") return usage();
            (a == "--days" ? days : a == "--interval" ? interval_s : until_ago_s) = v;
        } else if (auto s = parse_series(a)) {
            series.push_back(*s);
        } else {
            std::fprintf(stderr, "history_seed: cannot read %s\n", a.c_str());
            return usage();
        }
    }
    if (series.empty()) return usage();

    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    int64_t step = int64_t(interval_s * 1000), end = now - int64_t(until_ago_s * 1000);
    int64_t begin = end - int64_t(days * 86'400'000);
    HistoryWriterOptions o;
    o.path = path;
    o.retention = std::chrono::milliseconds(int64_t((days + 1) * 86'400'000));
    o.max_rows = 50'000'000;
    o.queue_capacity = 1'000'000;
    o.rollups = rollups;
    HistoryWriter w(o);
    auto started = std::chrono::steady_clock::now();
    w.start();
    uint64_t recorded = 0;
    for (int64_t k = 0, t = begin; t <= end; ++k, t += step) {
        for (auto& s : series) {
            int64_t at = k % s.cycle;
            Status st = at < s.fail ? Status::fail : at < s.fail + s.warn ? Status::warn : Status::pass;
            HistoryEvent e;
            e.time_ms = t;
            e.check = s.name;
            e.status = st;
            RunResult& run = e.run.emplace();
            run.status = st;
            run.output = st == Status::pass ? s.name + " answered" : s.name + " seeded " + to_string(st) + " #" + std::to_string(k);
            e.duration_ms = s.latency_ms + k % (s.latency_ms + 1);
            run.observed_value = double(*e.duration_ms);
            run.observed_unit = "ms";
            if (s.last != st) {
                HistoryEvent tr;
                tr.time_ms = t;
                tr.check = s.name;
                tr.kind = EventKind::transition;
                tr.status = st;
                tr.previous = s.last;
                tr.cause = run.output;
                w.record(std::move(tr));
                ++recorded;
                s.last = st;
            }
            w.record(std::move(e));
            ++recorded;
        }
        // Keep the queue from dropping results: wait while a backlog of 500,000 is unwritten.
        while (recorded > w.written() + 500'000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    bool flushed = w.flush(std::chrono::minutes(10));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    w.stop();
    std::printf("history_seed: %llu rows written (%llu dropped) in %.2f s = %.0f rows/s\n",
                (unsigned long long)w.written(), (unsigned long long)w.dropped_results(), secs,
                double(w.written()) / secs);
    // A daemon that had run for those days would have pruned the rollups beyond each level's
    // retention (minutes after 7 d) as it went; the writer above only had seconds for it.
    int64_t pruned = 0;
    {
        auto store = SqliteHistoryStore::open_for_writing(path);
        for (size_t i = 0; i < kRollupLevels.size(); ++i)
            for (int n = 100'000; n == 100'000;)
                pruned += n = prune_rollups(store->db(), kRollupLevels[i], now - o.rollup_retention[i].count(), 100'000);
        store->checkpoint();
    }
    std::printf("history_seed: %lld rollup rows beyond their retention pruned\n", (long long)pruned);
    return flushed && w.dropped_results() == 0 && w.write_errors() == 0 ? 0 : 1;
}
