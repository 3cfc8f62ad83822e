#include "config/config.h"
#include "recording_sink.h"
#include "history/history_query.h"
#include "history/sqlite_history_store.h"
#include "probers/replay.h"
#include "probers/lb_model.h"
#include "probers/prober_record.h"

#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <mutex>
#include <unistd.h>

using namespace vitals;

namespace {

Config::LoadBalancer alb(int healthy = 2, int unhealthy = 2, int timeout_ms = 100) {
    Config::LoadBalancer lb;
    lb.interval = Millis(200);
    lb.timeout = Millis(timeout_ms);
    lb.healthy_threshold = healthy;
    lb.unhealthy_threshold = unhealthy;
    return lb;
}


std::shared_ptr<const Config> config_with(Config::LoadBalancer lb) {
    auto c = std::make_shared<Config>(parse_config(R"({"checks": [], "groups": {"alb": {"checks": []},
        "live": {"checks": [], "drain": false}}})", process_env));
    c->load_balancer = lb;
    return c;
}

PeerAddress v4(uint8_t last) {
    PeerAddress a;
    a.family = 4;
    a.bytes = {127, 0, 0, last};
    return a;
}

}  // namespace

TEST_CASE("lb model: initial until the first healthy answer, then ALB's thresholds", "[probers]") {
    auto lb = alb(3, 2);
    LbModel m;
    CHECK(m.state() == ProberState::initial);
    CHECK(m.reason() == "Elb.InitialHealthChecking");
    CHECK(m.feed(Answer::healthy, 200, lb));  // one healthy answer is enough for a new target
    CHECK(m.state() == ProberState::healthy);
    CHECK_FALSE(m.feed(Answer::mismatch, 503, lb));
    CHECK(m.state() == ProberState::healthy);
    CHECK(m.feed(Answer::mismatch, 503, lb));
    CHECK(m.state() == ProberState::unhealthy);
    CHECK(m.reason() == "Target.ResponseCodeMismatch");
    CHECK(m.failing_codes() == std::vector<int>{503});
    CHECK_FALSE(m.feed(Answer::healthy, 200, lb));
    CHECK_FALSE(m.feed(Answer::healthy, 200, lb));
    CHECK(m.feed(Answer::healthy, 200, lb));  // the third of healthy_threshold 3
    CHECK(m.state() == ProberState::healthy);
    CHECK(m.reason().empty());
}

TEST_CASE("lb model: a late answer is Target.Timeout, a run of both kinds Target.FailedHealthChecks", "[probers]") {
    auto lb = alb(2, 2, 100);
    CHECK(judge_answer(lb, 200, 100'000) == Answer::healthy);
    CHECK(judge_answer(lb, 200, 100'001) == Answer::timeout);
    CHECK(judge_answer(lb, 503, 10) == Answer::mismatch);
    LbModel t;
    t.feed(Answer::timeout, 200, lb);
    CHECK(t.state() == ProberState::initial);
    CHECK(t.feed(Answer::timeout, 200, lb));
    CHECK(t.state() == ProberState::unhealthy);  // an initial target that never passes is pulled too
    CHECK(t.reason() == "Target.Timeout");
    LbModel both;
    both.feed(Answer::healthy, 200, lb);
    both.feed(Answer::mismatch, 503, lb);
    both.feed(Answer::timeout, 200, lb);
    CHECK(both.reason() == "Target.FailedHealthChecks");
    CHECK(both.settled_for(Answer::timeout, lb));
    CHECK_FALSE(both.settled_for(Answer::healthy, lb));
}

TEST_CASE("prober record: per prober counts, model, interval and silence", "[probers]") {
    RecordingSink sink;
    ProberRecord rec(2, config_with(alb()), &sink);
    int64_t t0 = ProberRecord::now_us() - 5'000'000;
    // Probers 127.0.0.2 and .3, every 200 ms, their connections landing on either loop.
    for (int i = 0; i < 6; ++i) {
        int code = i < 3 ? 200 : 503;
        rec.record(size_t(i % 2), v4(2), "ELB-HealthChecker/2.0", "/health/alb", code, t0 + i * 200'000,
                   t0 + i * 200'000 + 50);
        rec.record(size_t((i + 1) % 2), v4(3), "ELB-HealthChecker/2.0", "/health/alb", 200, t0 + i * 200'000,
                   t0 + i * 200'000 + 150'000);  // slower than the 100 ms timeout
    }
    auto views = rec.probers(t0 + 1'100'000);
    REQUIRE(views.size() == 2);
    CHECK(views[0].address == "127.0.0.2");
    CHECK(views[0].probes == 6);
    CHECK(views[0].last_code == 503);
    CHECK(views[0].state == ProberState::unhealthy);
    CHECK(views[0].reason == "Target.ResponseCodeMismatch");
    CHECK(views[0].consecutive == 3);
    CHECK_FALSE(views[0].consecutive_healthy);
    REQUIRE(views[0].interval_ms);
    CHECK(*views[0].interval_ms == 200);
    CHECK_FALSE(views[0].silent);
    CHECK(views[1].address == "127.0.0.3");
    CHECK(views[1].reason == "Target.Timeout");
    // Silent after 3 observed intervals without a probe.
    views = rec.probers(t0 + 1'000'000 + 700'000);
    CHECK(views[0].silent);
    auto counts = rec.counts(0);
    CHECK(counts.tracked == 2);
    CHECK(counts.silent == 2);
    REQUIRE(counts.probes_by_code.size() == 2);
    CHECK(counts.probes_by_code[0] == std::make_pair(200, uint64_t(9)));
    CHECK(counts.probes_by_code[1] == std::make_pair(503, uint64_t(3)));
}

TEST_CASE("prober record: at most one history row per prober per second, the rest counted into it", "[probers]") {
    RecordingSink sink;
    ProberRecord rec(1, config_with(alb()), &sink);
    int64_t t0 = ProberRecord::now_us() - 10'000'000;
    // A flood: 5,000 answers within 2.5 s.
    for (int i = 0; i < 5000; ++i) rec.record(0, v4(1), "wrk", "/health", 200, t0 + i * 500, t0 + i * 500 + 20);
    rec.merge_now();
    rec.stop();
    std::lock_guard<std::mutex> lock(sink.mu);
    REQUIRE(!sink.events.empty());
    int64_t total = 0;
    for (size_t i = 0; i < sink.events.size(); ++i) {
        const auto& e = sink.events[i];
        CHECK(e.kind == EventKind::probe);
        CHECK(e.check == "default");
        REQUIRE(e.probe);
        CHECK(e.probe->samples.size() <= ProbeRow::kMaxSamples);
        total += e.probe->count;
        if (i > 0) CHECK(e.time_ms - sink.events[i - 1].time_ms >= 1000);
    }
    CHECK(total == 5000);
    CHECK(sink.events.size() <= 3);
}

TEST_CASE("prober record: 256 probers at most, the least recently seen evicted and counted", "[probers]") {
    ProberRecord rec(1, config_with(alb()), nullptr);
    int64_t t0 = ProberRecord::now_us();
    for (int i = 0; i < 300; ++i) {
        PeerAddress a = v4(1);
        a.bytes[2] = uint8_t(i / 250);
        a.bytes[3] = uint8_t(i % 250);
        rec.record(0, a, "curl", "/health", 200, t0 + i, t0 + i + 1);
        if (i % 50 == 49) rec.merge_now();
    }
    auto views = rec.probers(t0 + 400);
    CHECK(views.size() == ProberRecord::kMaxProbers);
    CHECK(rec.counts(0).evictions == 300 - ProberRecord::kMaxProbers);
    bool oldest_gone = true;
    for (const auto& v : views) oldest_gone = oldest_gone && v.address != "127.0.0.0";
    CHECK(oldest_gone);
}

TEST_CASE("prober record: the drain counts unhealthy answers since it began, of draining paths only", "[probers]") {
    ProberRecord rec(1, config_with(alb()), nullptr);
    int64_t t0 = ProberRecord::now_us() - 1'000'000;
    rec.record(0, v4(2), "ELB", "/health/alb", 200, t0, t0 + 10);
    rec.record(0, v4(3), "kube-probe", "/health/live", 200, t0, t0 + 10);
    rec.begin_drain(t0 + 100'000);
    auto d = rec.drain_progress(t0 + 150'000);
    CHECK(d.watched == 1);  // /health/live's group does not drain
    CHECK(d.done == 0);
    rec.record(0, v4(2), "ELB", "/health/alb", 503, t0 + 200'000, t0 + 200'010);
    CHECK(rec.drain_progress(t0 + 250'000).done == 0);
    rec.record(0, v4(2), "ELB", "/health/alb", 503, t0 + 400'000, t0 + 400'010);
    d = rec.drain_progress(t0 + 450'000);
    CHECK(d.watched == 1);
    CHECK(d.done == 1);
    CHECK(d.waiting.empty());
}

namespace {
struct ProbeTempDir {
    std::filesystem::path path;
    ProbeTempDir() {
        char tmpl[] = "/tmp/vitals-probes-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~ProbeTempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

HistoryEvent probe_event(const std::string& address, int64_t ts_ms, std::vector<ProbeSample> samples, int64_t count) {
    HistoryEvent e;
    e.time_ms = ts_ms;
    e.check = "alb";
    e.kind = EventKind::probe;
    e.status = Status::pass;
    ProbeRow& r = e.probe.emplace();
    r.address = address;
    r.user_agent = "ELB-HealthChecker/2.0";
    r.path = "/health/alb";
    r.samples = std::move(samples);
    r.count = count;
    return e;
}
}  // namespace

TEST_CASE("history: probe rows keep every answer of their second; kind and prober select them", "[probers][history]") {
    ProbeTempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    int64_t ts = 1'764'000'000'000;
    HistoryEvent result;
    result.time_ms = ts;
    result.check = "a";
    result.run.emplace();
    store->insert({probe_event("127.0.0.2", ts, {{ts * 1000 + 0, 1500, 200}, {ts * 1000 + 250'000, 210'000, 503}}, 7),
                   probe_event("127.0.0.3", ts + 10, {{(ts + 10) * 1000, 90, 200}}, 1), result});
    HistoryQuery q;
    CHECK(store->query(q).items.size() == 1);  // results and transitions unless probes are asked for
    q.kinds = {EventKind::probe};
    auto page = store->query(q);
    REQUIRE(page.items.size() == 2);
    const auto& row = page.items[1];
    REQUIRE(row.probe);
    CHECK(row.probe->address == "127.0.0.2");
    CHECK(row.probe->count == 7);
    REQUIRE(row.probe->samples.size() == 2);
    CHECK(row.probe->samples[1].time_us == ts * 1000 + 250'000);
    CHECK(row.probe->samples[1].code == 503);
    CHECK(row.probe->samples[1].latency_us == 210'000);
    q.prober = "127.0.0.3";
    page = store->query(q);
    REQUIRE(page.items.size() == 1);
    CHECK(page.items[0].probe->address == "127.0.0.3");

    auto parsed = parse_history_query({{"prober", "127.0.0.2"}}, 0, nullptr);
    REQUIRE(std::holds_alternative<HistoryQuery>(parsed));
    CHECK(std::get<HistoryQuery>(parsed).kinds == std::vector<EventKind>{EventKind::probe});
    auto bad = parse_history_query({{"kind", "probe,sample"}}, 0, nullptr);
    REQUIRE(std::holds_alternative<QueryError>(bad));
    CHECK(std::get<QueryError>(bad).parameter == "kind");
    bad = parse_history_query({{"prober", "not-an-ip"}}, 0, nullptr);
    CHECK(std::get<QueryError>(bad).parameter == "prober");
    bad = parse_history_query({{"prober", "127.0.0.2"}, {"kind", "result"}}, 0, nullptr);
    CHECK(std::get<QueryError>(bad).parameter == "prober");
    bad = parse_history_query({{"transitions", "true"}, {"kind", "probe"}}, 0, nullptr);
    CHECK(std::get<QueryError>(bad).parameter == "transitions");
}

TEST_CASE("history: a version 1 database is migrated, its rows kept; read-only it answers without probes",
          "[probers][history]") {
    ProbeTempDir dir;
    std::string path = dir.file("v1.db");
    {
        SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        db.exec(R"(CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, "check" TEXT NOT NULL,
            kind INTEGER NOT NULL, status TEXT NOT NULL, raw_status TEXT, duration_ms INTEGER,
            output TEXT NOT NULL DEFAULT '', observed_value REAL, observed_unit TEXT, previous TEXT, cause TEXT))");
        db.exec(R"(INSERT INTO events (ts, "check", kind, status, previous, cause) VALUES (1, 'alb', 1, 'fail', 'pass', 'x'))");
        db.exec("PRAGMA user_version = 1");
    }
    {
        auto ro = SqliteHistoryStore::open_read_only(path);
        REQUIRE(ro);
        HistoryQuery q;
        q.kinds = {EventKind::transition, EventKind::probe};
        CHECK(ro->query(q).items.size() == 1);
    }
    auto store = SqliteHistoryStore::open_for_writing(path);
    CHECK(store->db().execAndGet("PRAGMA user_version").getInt() == SqliteHistoryStore::kSchemaVersion);
    store->insert({probe_event("127.0.0.2", 2, {{2000, 5, 200}}, 1)});
    HistoryQuery q;
    q.kinds = {EventKind::transition, EventKind::probe};
    CHECK(store->query(q).items.size() == 2);
}

namespace {
HistoryEvent transition(const std::string& group, int64_t ts_ms, Status status, const std::string& cause) {
    HistoryEvent e;
    e.time_ms = ts_ms;
    e.check = group;
    e.kind = EventKind::transition;
    e.status = status;
    e.cause = cause;
    return e;
}

ReplayQuery replay_query(const Config& config, QueryParams params, int64_t now_ms) {
    auto parsed = parse_replay_query(params, now_ms, config);
    if (auto* err = std::get_if<QueryError>(&parsed)) FAIL(err->parameter + ": " + err->message);
    return std::get<ReplayQuery>(parsed);
}
}  // namespace

TEST_CASE("replay of probes: each prober's changes with ALB's reasons and the cause in force", "[probers][replay]") {
    ProbeTempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    auto config = config_with(alb(2, 2, 100));
    int64_t t0 = 1'764'000'000'000;  // ms
    std::vector<HistoryEvent> events = {transition("alb", t0 - 10, Status::pass, "all counted checks pass"),
                                        transition("alb", t0 + 2950, Status::fail, "redis: fail (critical)"),
                                        transition("alb", t0 + 4950, Status::pass, "all counted checks pass")};
    // One answer a second: 200 x3 (one of them late), 503 x2, 200 x3.
    int codes[] = {200, 200, 200, 503, 503, 200, 200, 200};
    for (int i = 0; i < 8; ++i) {
        int64_t ts = t0 + i * 1000;
        int64_t latency = i == 1 ? 150'000 : 80;
        events.push_back(probe_event("127.0.0.2", ts, {{ts * 1000, latency, codes[i]}}, 1));
    }
    store->insert(events);
    ReplayResult r = run_replay(store.get(), replay_query(*config, {{"since", "1764000000"}}, t0 + 60'000), *config);
    CHECK(r.source == ReplayQuery::Source::probes);
    REQUIRE(r.probers.size() == 1);
    const auto& changes = r.probers[0].changes;
    REQUIRE(changes.size() == 4);
    CHECK(changes[0].state == ProberState::initial);
    CHECK(changes[0].reason == "Elb.InitialHealthChecking");
    CHECK(changes[1].state == ProberState::healthy);
    CHECK(changes[1].time_us == t0 * 1000);
    CHECK(changes[2].state == ProberState::unhealthy);
    CHECK(changes[2].time_us == (t0 + 4000) * 1000);  // the second 503
    CHECK(changes[2].reason == "Target.ResponseCodeMismatch");
    CHECK(changes[2].codes == std::vector<int>{503});
    CHECK(changes[2].cause == "redis: fail (critical)");
    CHECK(changes[3].state == ProberState::healthy);
    CHECK(changes[3].time_us == (t0 + 6000) * 1000);
    CHECK(changes[3].cause == "all counted checks pass");
    REQUIRE(r.summary.episodes.size() == 1);
    CHECK(r.summary.unhealthy_ms == 2000);
    CHECK(r.summary.episodes[0].detection_ms == 1000);
    // A 50 ms timeout fails the late answer too, but 3 in a row are needed now: never pulled.
    auto strict = replay_query(*config, {{"since", "1764000000"}, {"timeout", "50ms"}, {"unhealthy_threshold", "3"}},
                               t0 + 60'000);
    CHECK(run_replay(store.get(), strict, *config).summary.episodes.empty());
    // Nothing in the range says so.
    auto empty = run_replay(store.get(), replay_query(*config, {{"source", "probes"}, {"until", "1700000000"}}, t0), *config);
    CHECK(empty.probers.empty());
    CHECK(empty.note.find("no probes recorded") == 0);
}

TEST_CASE("replay what-if: a simulated prober over a group's recorded status with other settings", "[probers][replay]") {
    ProbeTempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    auto config = config_with(alb(2, 2, 100));
    int64_t t0 = 1'764'000'000'000;
    // 30 days of status: the group fails for 12 s every hour.
    std::vector<HistoryEvent> events;
    for (int h = 0; h < 30 * 24; ++h) {
        events.push_back(transition("alb", t0 + h * 3'600'000LL, Status::pass, "all counted checks pass"));
        events.push_back(transition("alb", t0 + h * 3'600'000LL + 1'800'000, Status::fail, "redis: fail (critical)"));
        events.push_back(transition("alb", t0 + h * 3'600'000LL + 1'812'000, Status::pass, "all counted checks pass"));
    }
    store->insert(events);
    int64_t until = t0 + 30LL * 86'400'000;
    auto fast = replay_query(*config, {{"source", "status"}, {"group", "alb"}, {"since", "1764000000"},
                                       {"interval", "5s"}, {"timeout", "2s"}}, until);
    fast.until_ms = until;
    ReplayResult a = run_replay(store.get(), fast, *config);
    REQUIRE(a.probers.size() == 1);
    CHECK(a.probers[0].simulated);
    CHECK(a.probers[0].probes == uint64_t(30LL * 86'400 / 5 + 1));
    CHECK(a.summary.episodes.size() == 720);  // 5 s x 2: every 12 s failure is seen
    CHECK(a.summary.episodes[0].cause == "redis: fail (critical)");
    // Failing from :30:00 to :30:12; probes at :00 and :05 fail (pulled at :05), :15 and :20 pass (back at :20).
    CHECK(a.summary.unhealthy_ms == 720 * 15'000);
    auto slow = fast;
    slow.settings.interval = Millis(10'000);
    slow.settings.unhealthy_threshold = 3;
    ReplayResult b = run_replay(store.get(), slow, *config);
    CHECK(b.summary.episodes.empty());  // 10 s x 3: a 12 s failure never pulls the target
    CHECK(b.probers[0].changes.size() == 2);  // initial, healthy
}

TEST_CASE("replay parameters are validated, naming the parameter", "[probers][replay]") {
    auto config = config_with(alb());
    auto error_of = [&](QueryParams p) {
        auto parsed = parse_replay_query(p, 1'764'000'000'000, *config);
        return std::holds_alternative<QueryError>(parsed) ? std::get<QueryError>(parsed).parameter : std::string();
    };
    CHECK(error_of({{"group", "nosuch"}}) == "group");
    CHECK(error_of({{"source", "logs"}}) == "source");
    CHECK(error_of({{"interval", "5"}}) == "interval");
    CHECK(error_of({{"interval", "1s"}, {"timeout", "1s"}}) == "timeout");
    CHECK(error_of({{"healthy_threshold", "1"}}) == "healthy_threshold");
    CHECK(error_of({{"unhealthy_threshold", "x"}}) == "unhealthy_threshold");
    CHECK(error_of({{"match", "abc"}}) == "match");
    CHECK(error_of({{"since", "yesterday"}}) == "since");
    CHECK(error_of({{"since", "-1h"}, {"until", "-2h"}}) == "since");
    CHECK(error_of({{"prober", "x"}}) == "prober");
    CHECK(error_of({{"colour", "red"}}) == "colour");
    CHECK(error_of({{"group", "alb"}, {"group", "alb"}}) == "group");
    CHECK(error_of({{"group", "alb"}, {"interval", "10s"}, {"healthy_threshold", "3"}}).empty());
}
