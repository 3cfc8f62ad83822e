// Rollups (SPEC §10): the arithmetic of time in status, runs and latency; their storage, retention
// and the uptime answer read from them.
#include "history/history_writer.h"
#include "history/rollup.h"
#include "history/rollup_store.h"
#include "history/sqlite_history_store.h"
#include "history/uptime.h"

#include <SQLiteCpp/Database.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

using namespace vitals;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMin = 60'000, kHour = 3'600'000, kDay = 86'400'000;
// A day boundary (UTC) well in the past: 2026-11-24T00:00:00Z.
constexpr int64_t kDay0 = 1'795'478'400'000;

HistoryEvent result(const std::string& check, Status s, int64_t t, int64_t duration_ms = 3, Status raw = Status::fail,
                    bool raw_given = false) {
    HistoryEvent e;
    e.check = check;
    e.kind = EventKind::result;
    e.status = s;
    e.run.emplace().status = raw_given ? raw : s;
    e.time_ms = t;
    e.duration_ms = duration_ms;
    return e;
}

HistoryEvent group_transition(const std::string& group, Status s, int64_t t) {
    HistoryEvent e;
    e.check = group;
    e.kind = EventKind::transition;
    e.status = s;
    e.time_ms = t;
    e.cause = "test";
    return e;
}

const RollupCell& cell(const RollupDeltas& d, const std::string& series, RollupLevel level, int64_t start) {
    static const RollupCell none;
    auto it = d.find(RollupKey{series, level, start});
    return it == d.end() ? none : it->second;
}

RollupCell total(const RollupDeltas& d, const std::string& series, RollupLevel level) {
    RollupCell sum;
    for (const auto& [k, c] : d)
        if (k.series == series && k.level == level) sum.merge(c);
    return sum;
}

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/vitals-rollup-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_CASE("rollups: time in status is split exactly across minute, hour and day boundaries", "[rollup]") {
    RollupAccumulator acc;
    int64_t t0 = kDay0 + kDay - 30'000;  // 23:59:30
    acc.add(result("redis", Status::pass, t0));
    acc.add(result("redis", Status::fail, t0 + 45'000));  // 00:00:15 the next day
    acc.advance(t0 + 45'000 + 90'000);                    // 00:01:45
    RollupDeltas d = acc.take();

    // minutes: 23:59 holds 30 s of pass; 00:00 15 s pass + 45 s fail; 00:01 45 s fail
    CHECK(cell(d, "redis", RollupLevel::minute, kDay0 + kDay - kMin).pass_ms == 30'000);
    CHECK(cell(d, "redis", RollupLevel::minute, kDay0 + kDay).pass_ms == 15'000);
    CHECK(cell(d, "redis", RollupLevel::minute, kDay0 + kDay).fail_ms == 45'000);
    CHECK(cell(d, "redis", RollupLevel::minute, kDay0 + kDay + kMin).fail_ms == 45'000);
    CHECK(cell(d, "redis", RollupLevel::minute, kDay0 + kDay + kMin).pass_ms == 0);
    // hours and days: the same split at 00:00
    CHECK(cell(d, "redis", RollupLevel::hour, kDay0 + kDay - kHour).pass_ms == 30'000);
    CHECK(cell(d, "redis", RollupLevel::hour, kDay0 + kDay).pass_ms == 15'000);
    CHECK(cell(d, "redis", RollupLevel::hour, kDay0 + kDay).fail_ms == 90'000);
    CHECK(cell(d, "redis", RollupLevel::day, kDay0).pass_ms == 30'000);
    CHECK(cell(d, "redis", RollupLevel::day, kDay0 + kDay).known_ms() == 105'000);
    // every level holds the same total
    for (RollupLevel l : kRollupLevels) {
        CHECK(total(d, "redis", l).pass_ms == 45'000);
        CHECK(total(d, "redis", l).fail_ms == 90'000);
        CHECK(total(d, "redis", l).runs == 2);
    }
    // runs are counted where they happened
    CHECK(cell(d, "redis", RollupLevel::minute, kDay0 + kDay - kMin).runs == 1);
    CHECK(cell(d, "redis", RollupLevel::minute, kDay0 + kDay).runs == 1);
    CHECK(cell(d, "redis", RollupLevel::minute, kDay0 + kDay).fails == 1);
}

TEST_CASE("rollups: time while vitals was not running, or before a first result, is not counted", "[rollup]") {
    int64_t t0 = kDay0 + 10 * kMin;
    RollupDeltas all;
    {
        RollupAccumulator first_run;
        first_run.add(result("a", Status::pass, t0));
        first_run.advance(t0 + 20'000);  // the last write before vitals stopped
        first_run.forget();
        merge_deltas(all, first_run.take());
    }
    {
        RollupAccumulator second_run;        // vitals started again 5 minutes later
        second_run.advance(t0 + 5 * kMin);   // nothing known yet: no time counted
        second_run.add(result("a", Status::fail, t0 + 5 * kMin + 1'000));
        second_run.advance(t0 + 5 * kMin + 11'000);
        merge_deltas(all, second_run.take());
    }
    RollupCell h = total(all, "a", RollupLevel::hour);
    CHECK(h.pass_ms == 20'000);
    CHECK(h.fail_ms == 10'000);
    CHECK(h.known_ms() == 30'000);
    CHECK(uptime_of(h) == Approx(2.0 / 3.0));
    // the minutes of the gap hold no time at all
    for (int m = 1; m <= 4; ++m) CHECK(cell(all, "a", RollupLevel::minute, t0 + m * kMin).known_ms() == 0);
}

TEST_CASE("rollups: an event that arrives after an advance past its time moves that time to its status", "[rollup]") {
    RollupAccumulator acc;
    int64_t t0 = kDay0 + kHour;
    acc.add(result("a", Status::pass, t0));
    acc.advance(t0 + 1'000);
    acc.add(result("a", Status::fail, t0 + 990));  // queued while the writer advanced
    acc.advance(t0 + 2'000);
    RollupCell c = total(acc.take(), "a", RollupLevel::minute);
    CHECK(c.pass_ms == 990);
    CHECK(c.fail_ms == 1'010);
}

TEST_CASE("rollups: a check that falls silent stops counting, and its silence stays unknown", "[rollup]") {
    RollupAccumulator acc;
    int64_t t0 = kDay0 + 2 * kHour;
    acc.add(result("gone", Status::pass, t0));
    acc.add(result("gone", Status::pass, t0 + 1'000));  // every second
    acc.advance(t0 + 10 * kMin);                         // silent since t0 + 1 s: counts 1 s + 1 min
    acc.add(result("gone", Status::fail, t0 + 20 * kMin));
    acc.advance(t0 + 20 * kMin + 5'000);
    RollupCell c = total(acc.take(), "gone", RollupLevel::hour);
    CHECK(c.pass_ms == 1'000 + kMin);
    CHECK(c.fail_ms == 5'000);
}

TEST_CASE("rollups: groups count time in status from their transitions, without runs", "[rollup]") {
    RollupAccumulator acc;
    int64_t t0 = kDay0 + 3 * kHour;
    acc.add(group_transition("alb", Status::pass, t0));
    acc.add(group_transition("alb", Status::warn, t0 + 30 * kMin));
    acc.advance(t0 + 2 * kHour);  // groups have no results: they never fall silent
    RollupCell c = total(acc.take(), "alb", RollupLevel::hour);
    CHECK(c.pass_ms == 30 * kMin);
    CHECK(c.warn_ms == 90 * kMin);
    CHECK(c.runs == 0);
    CHECK(uptime_of(c) == 1.0);
}

TEST_CASE("rollups: a reload's retain stops the series it removed at its time, and only those", "[rollup]") {
    RollupAccumulator acc;
    int64_t t0 = kDay0 + 4 * kHour;
    acc.add(group_transition("old-group", Status::pass, t0));
    acc.add(group_transition("alb", Status::fail, t0));
    acc.add(result("gone", Status::warn, t0));
    acc.add(result("gone", Status::warn, t0 + 1'000));
    acc.add(result("kept", Status::pass, t0));
    acc.advance(t0 + 2'000);
    acc.retain({"alb", "kept"}, t0 + 10'000);  // the reload: 8 s after the last advance
    acc.add(result("kept", Status::pass, t0 + 20'000));
    acc.advance(t0 + 2 * kHour);  // a group left alone would count these two hours
    RollupDeltas d = acc.take();
    CHECK(total(d, "old-group", RollupLevel::hour).pass_ms == 10'000);
    CHECK(total(d, "gone", RollupLevel::hour).warn_ms == 10'000);
    CHECK(total(d, "alb", RollupLevel::hour).fail_ms == 2 * kHour);
    CHECK(total(d, "kept", RollupLevel::hour).pass_ms == 20'000 + kMin);  // then silent, as before
    // A name configured again starts anew: what lay between is unknown.
    acc.add(group_transition("old-group", Status::warn, t0 + 3 * kHour));
    acc.advance(t0 + 3 * kHour + 5'000);
    RollupDeltas again = acc.take();
    CHECK(total(again, "old-group", RollupLevel::hour).warn_ms == 5'000);
    CHECK(total(again, "old-group", RollupLevel::hour).pass_ms == 0);
}

TEST_CASE("rollups: probe rows neither start a series nor set its status", "[rollup]") {
    RollupAccumulator acc;
    int64_t t0 = kDay0 + 5 * kHour;
    HistoryEvent probe;
    probe.kind = EventKind::probe;
    probe.check = "alb";
    probe.status = Status::fail;  // an answer in it was unhealthy (a 404, a timeout)
    probe.time_ms = t0;
    acc.add(probe);
    probe.check = "removed";
    acc.add(probe);
    acc.add(group_transition("alb", Status::pass, t0 + 1'000));
    probe.check = "alb";
    probe.time_ms = t0 + 2'000;
    acc.add(probe);
    acc.advance(t0 + 10'000);
    RollupDeltas d = acc.take();
    CHECK(total(d, "alb", RollupLevel::hour).pass_ms == 9'000);
    CHECK(total(d, "alb", RollupLevel::hour).fail_ms == 0);
    CHECK(total(d, "removed", RollupLevel::hour).known_ms() == 0);
}

TEST_CASE("rollups: runs, fails and warns count raw statuses; latency percentiles from the buckets", "[rollup]") {
    RollupAccumulator acc;
    int64_t t0 = kDay0 + 4 * kHour;
    for (int i = 1; i <= 100; ++i) {
        Status raw = i % 10 == 0 ? Status::fail : i % 10 == 5 ? Status::warn : Status::pass;
        acc.add(result("api", Status::pass, t0 + i * 100, i, raw, true));  // effective pass (damped)
    }
    RollupCell c = total(acc.take(), "api", RollupLevel::day);
    CHECK(c.runs == 100);
    CHECK(c.fails == 10);
    CHECK(c.warns == 10);
    CHECK(c.max_ms == 100);
    CHECK(c.latency_count() == 100);
    double p50 = *c.latency_quantile(0.5), p95 = *c.latency_quantile(0.95);
    CHECK(p50 >= 50);
    CHECK(p50 <= 50 * 1.25);
    CHECK(p95 >= 95);
    CHECK(p95 <= 100);  // capped at the exact maximum
    CHECK(*c.latency_quantile(1.0) == 100);
    CHECK_FALSE(RollupCell{}.latency_quantile(0.5).has_value());
}

TEST_CASE("rollups: latency buckets hold their values, merge by adding, and survive their text form", "[rollup]") {
    for (int64_t v : {1, 2, 3, 7, 50, 999, 1000, 1001, 65'535, 250'000}) {
        int b = latency_bucket(v);
        CHECK(latency_bucket_bound(b) >= double(v) * (1 - 1e-12));
        if (b > 0) CHECK(latency_bucket_bound(b - 1) < double(v));
    }
    CHECK(latency_bucket(10'000'000) == kLatencyBuckets - 1);
    RollupCell a, b;
    a.latency = {{3, 2}, {10, 1}};
    a.max_ms = 9;
    b.latency = {{10, 4}, {20, 1}};
    b.max_ms = 90;
    RollupCell ab = a, ba = b;
    ab.merge(b);
    ba.merge(a);
    CHECK(ab.latency == ba.latency);
    CHECK(ab.latency == std::map<int, int64_t>{{3, 2}, {10, 5}, {20, 1}});
    CHECK(ab.max_ms == 90);
    CHECK(RollupCell::parse_latency(ab.latency_text()) == ab.latency);
    CHECK(RollupCell::parse_latency("x,3:2,99:1,4:-1,5:7") == std::map<int, int64_t>{{3, 2}, {5, 7}});
}

TEST_CASE("rollup store: deltas add up in their rows and each level is pruned on its own", "[rollup]") {
    TempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    int64_t t0 = kDay0 + 5 * kHour;
    for (int pass = 0; pass < 2; ++pass) {
        RollupAccumulator acc;
        acc.add(result("a", Status::pass, t0 + pass * 2 * kMin));
        acc.advance(t0 + pass * 2 * kMin + 30'000);
        RollupDeltas d = acc.take();
        store->insert({result("a", Status::pass, t0)}, &d);  // raw rows and rollups in one transaction
    }
    auto minutes = read_rollups(store->db(), "a", RollupLevel::minute, t0, t0 + kHour);
    REQUIRE(minutes.size() == 2);
    CHECK(minutes[0].first == t0);
    CHECK(minutes[1].first == t0 + 2 * kMin);
    auto hours = read_rollups(store->db(), "a", RollupLevel::hour, t0, t0 + kHour);
    REQUIRE(hours.size() == 1);
    CHECK(hours[0].second.runs == 2);
    CHECK(hours[0].second.pass_ms == 60'000);
    CHECK(hours[0].second.max_ms == 3);

    // Raw rows go by their own retention; the rollups stay.
    CHECK(store->prune(t0 + kDay, 1'000'000, 100) == 2);
    CHECK(read_rollups(store->db(), "a", RollupLevel::hour, t0, t0 + kHour).size() == 1);
    // Minute rollups go; hours and days stay.
    CHECK(prune_rollups(store->db(), RollupLevel::minute, t0 + kDay, 1000) == 2);
    CHECK(read_rollups(store->db(), "a", RollupLevel::minute, t0, t0 + kHour).empty());
    CHECK(read_rollups(store->db(), "a", RollupLevel::hour, t0, t0 + kHour).size() == 1);
    CHECK(read_rollups(store->db(), "a", RollupLevel::day, kDay0, kDay0 + kDay).size() == 1);
    // A cutoff before the bucket keeps it.
    CHECK(prune_rollups(store->db(), RollupLevel::hour, t0, 1000) == 0);
}

TEST_CASE("history writer: rollups are written with the batches and pruned by their retention", "[rollup]") {
    TempDir dir;
    int64_t now = wall_ms();
    HistoryWriterOptions o;
    o.path = dir.file("h.db");
    o.prune_every = std::chrono::milliseconds(0);  // prune at every batch
    o.rollup_retention = {std::chrono::milliseconds(kHour), std::chrono::milliseconds(kDay),
                          std::chrono::milliseconds(30 * kDay)};
    {
        HistoryWriter w(o);
        w.start();
        // Beyond the minutes' hour, within the hours' day, and early in its hour: its time in status
        // (up to a minute after it, see the silence rule) stays in one hour bucket, whatever the
        // time of day the test runs at (from now - 2 h it crossed into the next hour at xx:59).
        int64_t old = (now - 2 * kHour) / kHour * kHour + 1'000;
        w.record(result("old", Status::pass, old));
        w.record(result("a", Status::pass, now - 2'000));
        w.record(result("a", Status::fail, now - 1'000));
        REQUIRE(w.flush());
        w.record(result("a", Status::fail, now));  // a second batch: the prune runs after the first
        REQUIRE(w.flush());
    }  // stop(): time in status up to now is written
    auto store = SqliteHistoryStore::open_read_only(o.path);
    REQUIRE(store);
    RollupCell a;
    for (const auto& r : read_rollups(store->db(), "a", RollupLevel::hour, now - kDay, now + kDay)) a.merge(r.second);
    CHECK(a.runs == 3);
    CHECK(a.fails == 2);
    CHECK(a.pass_ms == 1'000);
    CHECK(a.fail_ms >= 1'000);  // from its first fail until the writer stopped
    CHECK(read_rollups(store->db(), "old", RollupLevel::minute, now - kDay, now + kDay).empty());
    CHECK(read_rollups(store->db(), "old", RollupLevel::hour, now - kDay, now + kDay).size() == 1);
}

TEST_CASE("history writer: with rollups off it writes raw rows only", "[rollup]") {
    TempDir dir;
    int64_t now = wall_ms();
    HistoryWriterOptions o;
    o.path = dir.file("h.db");
    o.rollups = false;
    {
        HistoryWriter w(o);
        w.start();
        w.record(result("a", Status::pass, now - 1'000));
        w.record(result("a", Status::fail, now));
        REQUIRE(w.flush());
        CHECK(w.written() == 2);
    }
    auto store = SqliteHistoryStore::open_read_only(o.path);
    REQUIRE(store);
    CHECK(store->db().execAndGet("SELECT count(*) FROM events").getInt64() == 2);
    for (RollupLevel level : kRollupLevels)
        CHECK(read_rollups(store->db(), "a", level, now - kDay, now + kDay).empty());
}

TEST_CASE("uptime query: every bad parameter is named; ranges beyond retention say what is kept", "[rollup]") {
    Config cfg;
    CheckConfig c;
    c.name = "redis";
    cfg.checks.push_back(c);
    GroupConfig g;
    g.name = "alb";
    g.checks = {"redis"};
    cfg.groups.push_back(g);
    auto error = [&](const QueryParams& p) {
        auto r = parse_uptime_query(p, kDay0 + 123, &cfg);
        auto* e = std::get_if<QueryError>(&r);
        return e ? e->parameter + ": " + e->message : std::string("(no error)");
    };
    CHECK(error({}) .rfind("check: missing", 0) == 0);
    CHECK(error({{"check", "nope"}}).rfind("check: \"nope\" is not a check or group", 0) == 0);
    CHECK(error({{"check", "<script>"}}).rfind("check: ", 0) == 0);
    CHECK(error({{"check", "redis"}, {"range", "soon"}}).rfind("range: ", 0) == 0);
    CHECK(error({{"check", "redis"}, {"range", "90s"}}).rfind("range: ", 0) == 0);
    CHECK(error({{"check", "redis"}, {"bucket", "30s"}}).rfind("bucket: ", 0) == 0);
    CHECK(error({{"check", "redis"}, {"range", "1h"}, {"bucket", "2h"}}).rfind("bucket: ", 0) == 0);
    CHECK(error({{"check", "redis"}, {"range", "1h"}, {"bucket", "7m"}}).rfind("range: ", 0) == 0);
    CHECK(error({{"check", "redis"}, {"range", "30d"}, {"bucket", "1m"}}).rfind("bucket: too small", 0) == 0);
    CHECK(error({{"check", "redis"}, {"range", "8d"}, {"bucket", "2m"}}) ==
          "range: beyond retention: bucket 2m is read from minutes rollups, kept 7d (history.rollups.minutes); "
          "ask for at most 7d, or a larger bucket");
    CHECK(error({{"check", "redis"}, {"limit", "3"}}).rfind("limit: unknown parameter", 0) == 0);
    CHECK(error({{"check", "redis"}, {"range", "1h"}, {"range", "2h"}}) == "range: given more than once");

    auto ok = parse_uptime_query({{"check", "redis,alb"}, {"range", "30d"}, {"bucket", "1d"}}, kDay0 + 5 * kHour, &cfg);
    auto& q = std::get<UptimeQuery>(ok);
    CHECK(q.series == std::vector<std::string>{"redis", "alb"});  // a group is its own series
    CHECK(q.level == RollupLevel::day);
    CHECK(q.start_ms == kDay0 - 29 * kDay);  // 30 UTC days, today's included
    auto dflt = std::get<UptimeQuery>(parse_uptime_query({{"check", "redis"}}, kDay0 + 90'000, &cfg));
    CHECK(dflt.range_ms == kDay);
    CHECK(dflt.bucket_ms == kHour);
    CHECK(std::get<UptimeQuery>(parse_uptime_query({{"check", "redis"}, {"bucket", "15m"}, {"range", "1h"}}, kDay0, &cfg))
              .level == RollupLevel::minute);
}

TEST_CASE("uptime: buckets merge their level's rows; uptime over known time, coverage over elapsed", "[rollup]") {
    TempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    int64_t now = kDay0 + 10 * kHour + 20 * kMin;  // 10:20
    RollupAccumulator acc;
    acc.add(result("a", Status::pass, kDay0 + 9 * kHour + 30 * kMin));  // 09:30 pass
    acc.add(result("a", Status::fail, kDay0 + 9 * kHour + 45 * kMin));  // 09:45 fail
    acc.add(result("a", Status::pass, kDay0 + 10 * kHour));             // 10:00 pass
    acc.advance(now);
    RollupDeltas d = acc.take();
    store->insert({}, &d);

    auto q = std::get<UptimeQuery>(parse_uptime_query({{"check", "a"}, {"range", "2h"}, {"bucket", "30m"}}, now, nullptr));
    CHECK(q.start_ms == kDay0 + 8 * kHour + 30 * kMin);  // four buckets, the last holding now
    auto answer = compute_uptime(store->db(), q);
    REQUIRE(answer.size() == 1);
    const auto& b = answer[0].buckets;
    REQUIRE(b.size() == 4);
    CHECK(b[1].second.known_ms() == 0);  // 09:00-09:30: before the first result
    CHECK(uptime_of(b[1].second) < 0);
    CHECK(coverage_of(b[1].second, bucket_elapsed(q, b[1].first)) == 0);
    CHECK(uptime_of(b[2].second) == Approx(0.5));  // 09:30-10:00: 15 min pass, 15 min fail
    CHECK(coverage_of(b[2].second, bucket_elapsed(q, b[2].first)) == 1.0);
    CHECK(b[2].second.runs == 2);
    CHECK(b[2].second.fails == 1);
    CHECK(uptime_of(b[3].second) == 1.0);  // 10:00-10:30, so far
    CHECK(bucket_elapsed(q, b[3].first) == 20 * kMin);
    CHECK(coverage_of(b[3].second, bucket_elapsed(q, b[3].first)) == 1.0);  // its 20 elapsed minutes
    CHECK(uptime_of(answer[0].total) == Approx(35.0 / 50.0));
    CHECK(coverage_of(answer[0].total, now - q.start_ms) == Approx(50.0 / 110.0));
    std::string json = uptime_json(q, answer);
    CHECK(json.find("\"uptime\":0.7,") != std::string::npos);
    CHECK(json.find("\"coverage\":0.454545,") != std::string::npos);
    CHECK(json.find("\"start\":\"2026-11-24T08:30:00.000Z\"") != std::string::npos);
    CHECK(json.find("\"buckets\":[{") != std::string::npos);

    // buckets=false: the same totals, no buckets (the dashboard's uptime columns).
    auto totals = std::get<UptimeQuery>(
        parse_uptime_query({{"check", "a"}, {"range", "2h"}, {"bucket", "30m"}, {"buckets", "false"}}, now, nullptr));
    CHECK_FALSE(totals.with_buckets);
    std::string brief = uptime_json(totals, compute_uptime(store->db(), totals));
    CHECK(brief.find("\"buckets\"") == std::string::npos);
    CHECK(brief.find("\"uptime\":0.7,") != std::string::npos);
    CHECK(brief.find("\"coverage\":0.454545,") != std::string::npos);
    CHECK(json.size() > brief.size() + 4 * 100);
    auto bad = parse_uptime_query({{"check", "a"}, {"buckets", "no"}}, now, nullptr);
    REQUIRE(std::holds_alternative<QueryError>(bad));
    CHECK(std::get<QueryError>(bad).parameter == "buckets");
}

TEST_CASE("config: history.rollups sets each level's retention; defaults 7d, 90d, 730d; bad values named", "[rollup]") {
    auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    Config d = parse_config(R"({"checks": []})", no_env);
    CHECK(d.history.rollup_minutes == Millis(7 * kDay));
    CHECK(d.history.rollup_hours == Millis(90 * kDay));
    CHECK(d.history.rollup_days == Millis(730 * kDay));
    Config c = parse_config(R"({"checks": [], "history": {"rollups": {"minutes": "1d", "days": "400d"}}})", no_env);
    CHECK(c.history.rollup_minutes == Millis(kDay));
    CHECK(c.history.rollup_hours == Millis(90 * kDay));
    CHECK(c.history.rollup_days == Millis(400 * kDay));
    std::vector<std::string> errors;
    try {
        parse_config(R"({"checks": [], "history": {"rollups": {"minutes": "30s", "hours": 5, "weeks": "1d"}}})", no_env);
    } catch (const ConfigError& e) {
        errors = e.errors();
    }
    auto has = [&](const std::string& prefix) {
        return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
    };
    CHECK(errors.size() == 3);
    CHECK(has("history.rollups.minutes: must be at least 1m"));
    CHECK(has("history.rollups.hours: "));
    CHECK(has("history.rollups"));

    // /health/uptime is an endpoint: no group may be named for it (SPEC §2).
    errors.clear();
    try {
        parse_config(R"({"checks": [], "groups": {"uptime": {"checks": []}}})", no_env);
    } catch (const ConfigError& e) {
        errors = e.errors();
    }
    CHECK(has("groups.uptime: \"uptime\" is reserved"));
}
