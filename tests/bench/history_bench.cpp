// History benchmark (issue 4) and load generator.
//
//   history_bench bench [ROWS] [--rollups=on|off|both]
//                                     insert ROWS (default 1,000,000) through the real HistoryWriter
//                                     with rollups on (default), off (raw rows only, the history path
//                                     before issue 16) or both, one file each, off first; then time
//                                     "newest 100 of one check" and "newest 100 of all" through
//                                     HistoryReader on the last file; prints rows/s and p50/p99 latencies.
//   history_bench write-forever PATH  writes results through the writer as fast as it can until
//                                     killed (used by the kill -9 integrity test).
//   history_bench prune-rate [RATE] [SECONDS] [MAX_ROWS]
//                                     records RATE rows/s (default 5,000) for SECONDS (default 60)
//                                     with history.max_rows = MAX_ROWS (default 100,000) and samples
//                                     the row count every 100 ms: prints the most seen vs max_rows
//                                     (issue 12: pruning must keep up at any rate the writer takes).
//   history_bench uptime [CHECKS]     CHECKS (default 20) series with 90 days of hour and day rollups
//                                     and 7 days of minute rollups (what the default retention keeps),
//                                     then times /health/uptime's reading (range=30d&bucket=1h, one
//                                     check) and the uptime queries of the dashboard's first view
//                                     (24h/1h, 7d/1d and 30d/1d for every check): p50/p99 (issue 16).
//
// Figures are printed, never asserted: machines are noisy.
#include "history/history_reader.h"
#include "history/history_writer.h"
#include "history/rollup_store.h"
#include "history/uptime.h"

#include <SQLiteCpp/Transaction.h>

#include <SQLiteCpp/Database.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

using namespace vitals;
using Clock = std::chrono::steady_clock;

static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

static HistoryEvent event(int i, int64_t t) {
    HistoryEvent e;
    e.check = "check-" + std::to_string(i % 20);
    e.kind = EventKind::result;
    e.status = (i % 50) ? Status::pass : Status::fail;
    RunResult& run = e.run.emplace();
    run.status = e.status;
    run.output = (i % 50) ? "" : "connect to 127.0.0.1:6379: Connection refused";
    run.observed_value = double(i % 1000) / 10.0;
    run.observed_unit = "ms";
    e.time_ms = t;
    e.duration_ms = i % 17;
    return e;
}

static double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

static int write_forever(const std::string& path) {
    HistoryWriterOptions o;
    o.path = path;
    o.queue_capacity = 200'000;
    HistoryWriter w(o);
    w.start();
    int64_t t0 = now_ms();
    for (int i = 0;; ++i) {
        w.record(event(i, t0 + i / 100));
        if (i % 10'000 == 0) {
            std::printf("queued %d written %lu\n", i, (unsigned long)w.written());
            std::fflush(stdout);
            while (w.written() + 100'000 < uint64_t(i)) usleep(1000);  // don't just drop
        }
    }
}

static int prune_rate(int rate, int seconds, int64_t max_rows) {
    char tmpl[] = "/tmp/vitals-bench-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    HistoryWriterOptions o;
    o.path = dir + "/history.db";
    o.max_rows = max_rows;
    HistoryWriter w(o);
    w.start();
    for (int i = 0; i < 10'000 && !w.healthy(); ++i) usleep(1000);  // the writer creates the file at start
    if (!w.healthy()) {
        std::fprintf(stderr, "cannot write %s\n", o.path.c_str());
        return 1;
    }
    SQLite::Database db(o.path, SQLite::OPEN_READONLY);
    SQLite::Statement count(db, "SELECT count(*) FROM events");
    int64_t most = 0, samples = 0;
    int64_t t0 = now_ms();
    auto start = Clock::now();
    auto next_sample = start;
    int64_t sent = 0;
    // Rows go out in 10 ms ticks, paced against the start so a slow tick is caught up with.
    for (auto tick = start; tick < start + std::chrono::seconds(seconds); tick += std::chrono::milliseconds(10)) {
        std::this_thread::sleep_until(tick);
        double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        for (int64_t due = int64_t(elapsed * rate); sent < due; ++sent) w.record(event(int(sent), t0 + sent / 100));
        if (Clock::now() >= next_sample) {
            count.executeStep();
            most = std::max(most, count.getColumn(0).getInt64());
            count.reset();
            ++samples;
            next_sample += std::chrono::milliseconds(100);
        }
    }
    w.flush();
    count.executeStep();
    int64_t final_rows = count.getColumn(0).getInt64();
    count.reset();
    w.stop();
    std::printf("history prune at %d rows/s for %d s: max rows seen %lld (max_rows %lld, batch at most %zu), "
                "final %lld, written %llu, dropped %llu, %lld samples\n",
                rate, seconds, (long long)most, (long long)max_rows, o.batch_size, (long long)final_rows,
                (unsigned long long)w.written(), (unsigned long long)w.dropped_results(), (long long)samples);
    std::filesystem::remove_all(dir);
    return 0;
}

static std::pair<double, double> p50_p99(std::vector<double> us) {
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

int uptime_bench(int checks) {
    char tmpl[] = "/tmp/vitals-bench-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::string path = dir + "/history.db";
    int64_t now = now_ms();
    {
        auto store = SqliteHistoryStore::open_for_writing(path);
        struct Level {
            RollupLevel level;
            int64_t keep;
        } levels[] = {{RollupLevel::minute, 7LL * 86'400'000}, {RollupLevel::hour, 90LL * 86'400'000},
                      {RollupLevel::day, 90LL * 86'400'000}};
        for (const auto& l : levels) {
            int64_t len = level_ms(l.level);
            RollupDeltas d;
            for (int c = 0; c < checks; ++c)
                for (int64_t start = (now - l.keep) / len * len; start <= now; start += len) {
                    RollupCell& cell = d[RollupKey{"check-" + std::to_string(c), l.level, start}];
                    int64_t runs = len / 10'000;  // one run every 10 s
                    cell.runs = runs;
                    cell.fails = (start / len) % 97 == 0 ? runs / 10 : 0;
                    cell.fail_ms = cell.fails * 10'000;
                    cell.pass_ms = len - cell.fail_ms;
                    cell.max_ms = 40;
                    cell.latency = {{8, runs / 2}, {12, runs / 3}, {16, runs - runs / 2 - runs / 3}};
                }
            SQLite::Transaction tx(store->db());
            write_rollups(store->db(), d);
            tx.commit();
        }
    }
    HistoryReader reader(path);
    auto query = [&](const QueryParams& p) { return std::get<UptimeQuery>(parse_uptime_query(p, now_ms(), nullptr)); };
    std::vector<double> one, first_view;
    size_t bytes = 0;
    for (int i = 0; i < 200; ++i) {
        auto q = query({{"check", "check-" + std::to_string(i % checks)}, {"range", "30d"}, {"bucket", "1h"}});
        auto t = Clock::now();
        std::string json = uptime_json(q, reader.uptime(q));
        one.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
        if (i == 0) bytes = json.size();
    }
    std::string all;
    for (int c = 0; c < checks; ++c) all += (c ? "," : "") + std::string("check-") + std::to_string(c);
    size_t view_bytes = 0;
    for (int i = 0; i < 50; ++i) {
        auto t = Clock::now();
        size_t b = 0;
        for (const auto& [range, bucket] : {std::pair{"24h", "1h"}, {"7d", "1d"}, {"30d", "1d"}}) {
            auto q = query({{"check", all}, {"range", range}, {"bucket", bucket}});
            b += uptime_json(q, reader.uptime(q)).size();
        }
        first_view.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
        view_bytes = b;
    }
    auto [p50, p99] = p50_p99(one);
    auto [v50, v99] = p50_p99(first_view);
    std::printf("uptime range=30d&bucket=1h, one check of %d (90 d of rollups): p50 %.0f us, p99 %.0f us, %zu bytes "
                "(target p99 <= 5 ms)\n", checks, p50, p99, bytes);
    std::printf("uptime of the dashboard's first view (24h/1h, 7d/1d, 30d/1d for %d checks): p50 %.0f us, p99 %.0f us, "
                "%zu bytes\n", checks, v50, v99, view_bytes);
    std::filesystem::remove_all(dir);
    return 0;
}

// Inserts `rows` results through the real HistoryWriter into a new file at `path`; prints and
// returns the rate (rows/s), or -1 if not everything was written.
// `existing`: the file holds rows already (a seeded history): none of them is pruned meanwhile.
static double insert_rate(const std::string& path, int rows, bool rollups, bool existing = false) {
    HistoryWriterOptions o;
    o.path = path;
    o.queue_capacity = size_t(rows) + 1;  // measure writing, not dropping
    o.max_rows = existing ? 1'000'000'000 : int64_t(rows) * 2;
    if (existing) o.retention = std::chrono::milliseconds(3650LL * 86'400'000);
    o.rollups = rollups;
    HistoryWriter w(o);
    w.start();
    // Timed from an open database: opening checks the file first (PRAGMA quick_check, about 2 s for
    // 10 M rows), which is start-up, not insert rate.
    for (int i = 0; i < 600'000 && !w.healthy(); ++i) usleep(100);
    int64_t t0 = now_ms();
    auto start = Clock::now();
    for (int i = 0; i < rows; ++i) w.record(event(i, t0 + i / 100));
    w.flush();
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    w.stop();
    double rate = double(w.written()) / secs;
    std::printf("history insert: %d rows in %.2f s through HistoryWriter = %.0f rows/s, rollups %s (target >= 200000)\n",
                int(w.written()), secs, rate, rollups ? "on" : "off");
    return w.written() == uint64_t(rows) ? rate : -1;
}

// Newest 100 of one check and of all, 2,000 times each, through HistoryReader: p50 and p99.
static bool read_bench(const std::string& path, int64_t rows) {
    HistoryReader reader(path);
    if (rows < 0) {
        SQLite::Database db(path, SQLite::OPEN_READONLY);
        rows = db.execAndGet("SELECT count(*) FROM events").getInt64();
    }
    for (const char* what : {"one check", "all checks"}) {
        std::vector<double> us;
        for (int i = 0; i < 2000; ++i) {
            HistoryQuery q;
            if (std::string(what) == "one check") q.checks = {"check-" + std::to_string(i % 20)};
            q.limit = 100;
            auto t = Clock::now();
            auto page = reader.query(q);
            us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
            if (page.items.size() != 100) {
                std::fprintf(stderr, "unexpected page size %zu\n", page.items.size());
                return false;
            }
        }
        std::printf("history newest-100 (%s) at %lld rows: p50 %.0f us, p99 %.0f us (target p99 <= 200 us)\n", what,
                    (long long)rows, percentile(us, 0.50), percentile(us, 0.99));
    }
    return true;
}

int main(int argc, char** argv) {
    spdlog::set_level(spdlog::level::warn);
    std::string mode = argc > 1 ? argv[1] : "bench";
    if (mode == "write-forever" && argc > 2) return write_forever(argv[2]);
    if (mode == "prune-rate")
        return prune_rate(argc > 2 ? std::atoi(argv[2]) : 5000, argc > 3 ? std::atoi(argv[3]) : 60,
                          argc > 4 ? std::atoll(argv[4]) : 100'000);
    if (mode == "uptime") return uptime_bench(argc > 2 ? std::atoi(argv[2]) : 20);
    if (mode != "bench") {
        std::fprintf(stderr, "usage: history_bench bench [ROWS] [--rollups=on|off|both] [--into=DB] | write-forever PATH | prune-rate [RATE] [SECONDS] [MAX_ROWS] | uptime [CHECKS]\n");
        return 2;
    }
    int rows = argc > 2 && argv[2][0] != '-' ? std::atoi(argv[2]) : 1'000'000;
    std::string with = "on", into;
    for (int i = 2; i < argc; ++i) {
        if (std::string(argv[i]).rfind("--rollups=", 0) == 0) with = argv[i] + std::strlen("--rollups=");
        if (std::string(argv[i]).rfind("--into=", 0) == 0) into = argv[i] + std::strlen("--into=");
    }
    if ((with != "on" && with != "off" && with != "both") || (!into.empty() && with == "both")) {
        std::fprintf(stderr, "history_bench bench: --rollups=on|off|both (one of on, off with --into)\n");
        return 2;
    }
    // --into: ROWS more into an existing history (live times, after what it holds), then the reads.
    if (!into.empty()) {
        if (!std::filesystem::exists(into) || insert_rate(into, rows, with == "on", true) < 0) return 1;
        return read_bench(into, -1) ? 0 : 1;
    }
    char tmpl[] = "/tmp/vitals-bench-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::string path;
    // Rollups off first (the history path before SPEC §10), then on; the reads below use the last file.
    for (bool rollups : {false, true}) {
        if ((with == "on" && !rollups) || (with == "off" && rollups)) continue;
        path = dir + (rollups ? "/history.db" : "/raw-only.db");
        if (insert_rate(path, rows, rollups) < 0) {
            std::filesystem::remove_all(dir);
            return 1;
        }
    }

    if (!read_bench(path, rows)) return 1;
    if (!std::getenv("VITALS_BENCH_KEEP")) std::filesystem::remove_all(dir); else std::printf("kept %s\n", path.c_str());
    return 0;
}
