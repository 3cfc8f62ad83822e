// Snapshots and their publisher (issue 14, item 19): the bodies clients read, and the incremental
// build that shares with the previous snapshot whatever did not change. Every incremental result
// is compared with what a publisher building everything anew makes of the same views.
#include "snapshot/publisher.h"
#include "recording_sink.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <random>

using namespace vitals;

namespace {

// Bodies are written by hand (no Poco::JSON on the build path): they are read back here with
// Poco's parser, which is what a client would do.
Poco::JSON::Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

CheckViewPtr make_view(const std::string& name, Status s, const std::string& output, double value, MonoTime at,
                       Impact impact = Impact::critical) {
    CheckView v;
    v.name = name;
    v.type = "test";
    v.component_type = "component";
    v.default_measurement = "responseTime";
    v.impact = impact;
    v.interval = Millis(1000);
    v.timeout = Millis(500);
    v.stale_after = Millis(3500);
    v.established = true;
    v.effective = s;
    CheckResult r;
    r.status = s;
    r.output = output;
    r.observed_value = value;
    r.observed_unit = "ms";
    r.time = std::chrono::system_clock::now();
    r.mono_time = at;
    v.last = r;
    v.recent.push_front(std::make_shared<const CheckResult>(r));
    v.runs = v.passes = 1;
    return std::make_shared<const CheckView>(std::move(v));
}

struct Fixture {
    std::shared_ptr<Config> cfg = std::make_shared<Config>();
    std::vector<CheckViewPtr> views;
    SnapshotSlot slot;
    RecordingSink history;
    StatusPublisher publisher{slot, &history, "svc \"one\""};
    MonoTime now = std::chrono::steady_clock::now();

    Fixture() {
        GroupConfig all;
        all.name = "default";
        all.checks = {"root", "cache"};
        GroupConfig db;
        db.name = "db";
        db.checks = {"cache"};
        cfg->groups = {all, db};
        views.push_back(make_view("root", Status::pass, "plenty free", 82.8, now));
        views.push_back(make_view("cache", Status::pass, "PONG", 3, now));
        publisher.reset(cfg, views);
    }

    // A new object for view i (views are immutable once published), for the test to change.
    CheckView& edit(size_t i) {
        auto copy = std::make_shared<CheckView>(*views[i]);
        views[i] = copy;
        publisher.update(i, copy);
        return *copy;
    }
    void set(size_t i, CheckViewPtr v) {
        views[i] = v;
        publisher.update(i, std::move(v));
    }

    std::shared_ptr<const Snapshot> build(bool draining = false) {
        publisher.publish(now, std::chrono::system_clock::now(), false, draining, SchedulerStats{});
        return slot.load();
    }
};

// What a publisher that has seen nothing before makes of `views` under `cfg`.
std::shared_ptr<const Snapshot> built_anew(const std::shared_ptr<const Config>& cfg, const std::vector<CheckViewPtr>& views,
                                           MonoTime now, bool draining, const std::string& service_id) {
    SnapshotSlot slot;
    StatusPublisher fresh(slot, nullptr, service_id);
    fresh.reset(cfg, views);
    fresh.publish(now, std::chrono::system_clock::now(), false, draining, SchedulerStats{});
    return slot.load();
}

}  // namespace

TEST_CASE("snapshot bodies are JSON that reads back to the check's values", "[snapshot]") {
    Fixture f;
    // Every byte that needs escaping, and UTF-8 that must pass through as is.
    std::string nasty = std::string("quote \" backslash \\ newline \n tab \t ctl ") + char(0x01) + " caf\xC3\xA9";
    CheckView& root = f.edit(0);
    root.last->output = nasty;
    root.recent[0] = std::make_shared<const CheckResult>(*root.last);
    auto snap = f.build();

    auto check = parse(snap->find_check("root")->rendered.full());
    CHECK(check->getValue<std::string>("status") == "pass");
    CHECK(check->getValue<std::string>("serviceId") == "svc \"one\"");
    CHECK(check->getValue<std::string>("output") == nasty);
    CHECK(check->getValue<std::string>("name") == "root");
    CHECK(check->getValue<bool>("stuck") == false);
    CHECK(check->getObject("counters")->getValue<int>("runs") == 1);
    CHECK(check->getObject("settings")->getValue<std::string>("staleAfter") == "3500ms");
    auto component = check->getObject("checks")->getArray("root:responseTime")->getObject(0);
    CHECK(component->getValue<double>("observedValue") == Approx(82.8));
    CHECK(component->getValue<std::string>("output") == nasty);
    CHECK(check->getArray("recent")->getObject(0)->getValue<std::string>("output") == nasty);
    CHECK(snap->find_check("root")->rendered.brief == "{\"status\":\"pass\"}");
    CHECK(snap->find_check("root")->rendered.code == 200);

    // A whole-number value is written as an integer, as Poco wrote it before.
    CHECK(snap->find_check("cache")->rendered.full().find("\"observedValue\":3,") != std::string::npos);
    CHECK(snap->find_check("nope") == nullptr);
    CHECK(snap->find_group("nope") == nullptr);
}

TEST_CASE("a group body holds its own members only", "[snapshot]") {
    Fixture f;
    f.set(1, make_view("cache", Status::fail, "connection refused", 1, f.now));
    auto snap = f.build();

    auto all = parse(snap->group("default").rendered.full());
    CHECK(all->getValue<std::string>("status") == "fail");
    CHECK(all->getObject("checks")->has("root:responseTime"));
    CHECK(all->getObject("checks")->has("cache:responseTime"));
    CHECK(snap->group("default").rendered.code == 503);
    CHECK(snap->group("default").verdict.cause == "cache: fail (critical)");

    auto db = parse(snap->group("db").rendered.full());
    CHECK(db->getObject("checks")->size() == 1);
    CHECK(db->getValue<std::string>("description") == "vitals health group \"db\"");
    CHECK(db->getValue<std::string>("output") == "cache: fail (critical)");
}

TEST_CASE("a group without members has an empty checks map", "[snapshot]") {
    Fixture f;
    GroupConfig empty;
    empty.name = "empty";
    empty.checks = {"not-a-check"};
    f.cfg->groups.push_back(empty);
    f.publisher.reset(f.cfg, f.views);
    auto body = parse(f.build()->group("empty").rendered.full());
    CHECK(body->getObject("checks")->size() == 0);
    CHECK(body->getValue<std::string>("status") == "pass");
}

TEST_CASE("a check's published form is kept while nothing it shows changes, and replaced when it does", "[snapshot]") {
    Fixture f;
    auto first = f.build();
    CHECK(parse(first->find_check("root")->rendered.full())->getValue<std::string>("output") == "plenty free");
    uint64_t renders = f.publisher.renders();
    CHECK(renders == 2);

    // Nothing new: the same objects again, nothing rendered.
    auto again = f.build();
    CHECK(again->checks.ptr(0) == first->checks.ptr(0));
    CHECK(again->find_group("default") == first->find_group("default"));
    CHECK(f.publisher.renders() == renders);

    // A new result (same status, other output and counters): the body follows.
    CheckView& changed = f.edit(0);
    changed.last->output = "less free";
    changed.recent.push_front(std::make_shared<const CheckResult>(*changed.last));
    changed.runs = 2;
    auto second = f.build();
    CHECK(f.publisher.renders() == renders + 1);
    CHECK(second->checks.ptr(1) == first->checks.ptr(1));  // cache did not change
    auto body = parse(second->find_check("root")->rendered.full());
    CHECK(body->getValue<std::string>("output") == "less free");
    CHECK(body->getObject("counters")->getValue<int>("runs") == 2);
    CHECK(body->getArray("recent")->size() == 2);
    CHECK(parse(second->group("default").rendered.full())
              ->getObject("checks")
              ->getArray("root:responseTime")
              ->getObject(0)
              ->getValue<std::string>("output") == "less free");
    // The earlier snapshot still says what it said.
    CHECK(parse(first->find_check("root")->rendered.full())->getValue<std::string>("output") == "plenty free");
}

TEST_CASE("a standing that changes with time is re-evaluated when it does, without a new view", "[snapshot]") {
    Fixture f;
    auto fresh = f.build();
    CHECK(fresh->find_check("root")->standing.status == Status::pass);
    // Both results are at f.now, stale after 3.5 s: the publisher says when.
    MonoTime stale_at = f.now + Millis(3500) + std::chrono::nanoseconds(1);
    CHECK(f.publisher.next_change() == stale_at);

    f.now = stale_at - std::chrono::nanoseconds(1);
    CHECK(f.build()->find_check("root")->standing.status == Status::pass);
    f.now = stale_at;
    auto stale = f.build();
    CHECK(stale->find_check("root")->standing.basis == Standing::Basis::stale);
    CHECK(stale->find_check("root")->standing.output == "stale: last result 3s ago");
    CHECK(stale->group("default").verdict.status == Status::fail);
    // Stale, its age in whole seconds ticks: the next change is at 4 s.
    CHECK(f.publisher.next_change() == f.now - Millis(3500) - std::chrono::nanoseconds(1) + Millis(4000));
    f.now += Millis(600);
    CHECK(f.build()->find_check("root")->standing.output == "stale: last result 4s ago");
}

TEST_CASE("a reset drops what the publisher held of checks the configuration no longer has", "[snapshot]") {
    Fixture f;
    std::weak_ptr<const CheckView> root = f.views[0];
    f.build();  // the snapshot stays in the slot until the next build
    f.views.erase(f.views.begin());
    f.cfg->groups[0].checks = {"cache"};
    f.publisher.reset(f.cfg, f.views);
    REQUIRE_FALSE(root.expired());  // still held by the snapshot in the slot

    auto without = f.build();
    CHECK(without->find_check("root") == nullptr);
    CHECK(root.expired());
    CHECK(without->checks.size() == 1);
    CHECK_FALSE(without->find_check("cache")->rendered.full().empty());
}

TEST_CASE("group transitions are recorded once each, with their cause; a reset does not repeat them", "[snapshot]") {
    Fixture f;
    f.build();
    REQUIRE(f.history.events.size() == 2);  // default and db: starting -> pass
    CHECK(f.history.events[0].cause == "all counted checks pass");
    f.set(1, make_view("cache", Status::fail, "connection refused", 1, f.now));
    f.build();
    f.build();
    REQUIRE(f.history.events.size() == 4);
    CHECK(f.history.events[2].check == "default");
    CHECK(f.history.events[2].cause == "cache: fail (critical)");
    CHECK(f.history.events[2].previous == Status::pass);
    f.publisher.reset(f.cfg, f.views);
    f.build();
    CHECK(f.history.events.size() == 4);
    f.set(1, make_view("cache", Status::pass, "PONG", 1, f.now));
    f.build();
    REQUIRE(f.history.events.size() == 6);
    f.build(true);  // draining: both groups fail, said once each
    f.build(true);
    REQUIRE(f.history.events.size() == 8);
    CHECK(f.history.events[6].cause == "draining");
    CHECK(f.history.events[7].cause == "draining");
}

TEST_CASE("group transitions are counted in the snapshot: changes only, kept across a reset", "[snapshot]") {
    Fixture f;
    auto transitions = [](const std::shared_ptr<const Snapshot>& s, const char* group) {
        return s->group(group).transitions;
    };
    auto s = f.build();
    CHECK(transitions(s, "default") == 0);  // its first status is not a change
    CHECK(transitions(s, "db") == 0);
    f.set(0, make_view("root", Status::fail, "disk full", 1, f.now));  // root is in default only
    s = f.build();
    CHECK(transitions(s, "default") == 1);
    CHECK(transitions(s, "db") == 0);
    s = f.build();  // nothing changed: nothing counted
    CHECK(transitions(s, "default") == 1);
    f.publisher.reset(f.cfg, f.views);  // a reload keeps the count of groups it keeps
    s = f.build();
    CHECK(transitions(s, "default") == 1);
    f.set(0, make_view("root", Status::pass, "plenty free", 80, f.now));
    s = f.build();
    CHECK(transitions(s, "default") == 2);
    s = f.build(true);  // draining fails both
    CHECK(transitions(s, "default") == 3);
    CHECK(transitions(s, "db") == 1);
}

TEST_CASE("a build where one check of 1,000 changed renders it alone and shares the rest", "[snapshot]") {
    auto cfg = std::make_shared<Config>();
    GroupConfig all;
    all.name = "default";
    std::vector<CheckViewPtr> views;
    MonoTime now = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) {
        std::string name = "c" + std::to_string(i);
        all.checks.push_back(name);
        views.push_back(make_view(name, Status::pass, "ok", i, now));
    }
    cfg->groups = {all};
    SnapshotSlot slot;
    StatusPublisher p(slot, nullptr, "svc");
    p.reset(cfg, views);
    p.publish(now, std::chrono::system_clock::now(), false, false, SchedulerStats{});
    auto before = slot.load();
    CHECK(p.renders() == 1000);

    views[700] = make_view("c700", Status::fail, "down", 1, now);
    p.update(700, views[700]);
    p.publish(now, std::chrono::system_clock::now(), false, false, SchedulerStats{});
    auto after = slot.load();
    CHECK(p.renders() == 1001);
    size_t chunks = (1000 + CheckList::kChunk - 1) / CheckList::kChunk;
    CHECK(after->checks.chunks_shared_with(before->checks) == chunks - 1);
    const auto& b = before->group("default").rendered.full_parts;
    const auto& a = after->group("default").rendered.full_parts;
    REQUIRE(a.size() == chunks);
    size_t same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    CHECK(same == chunks - 1);
    CHECK(a[700 / CheckList::kChunk] != b[700 / CheckList::kChunk]);
    CHECK(after->group("default").verdict.cause == "c700: fail (critical)");
    CHECK(after->group("default").rendered.full() == built_anew(cfg, views, now, false, "svc")->group("default").rendered.full());
}

TEST_CASE("incremental builds say exactly what a build from scratch says", "[snapshot]") {
    // 300 checks in three groups (one a quorum), each step changing a few checks' status, impact
    // and output at random, with draining flipping now and then.
    auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::off);  // the fresh publishers log every group as it starts
    std::mt19937 rng(20261201);
    auto cfg = std::make_shared<Config>();
    GroupConfig all, odd, quorum;
    all.name = "default";
    odd.name = "odd";
    quorum.name = "q";
    quorum.quorum = 50;
    quorum.drain = false;
    std::vector<CheckViewPtr> views;
    MonoTime now = std::chrono::steady_clock::now();
    const Status statuses[] = {Status::pass, Status::pass, Status::warn, Status::fail};
    const Impact impacts[] = {Impact::critical, Impact::critical, Impact::degraded, Impact::ignore};
    for (int i = 0; i < 300; ++i) {
        std::string name = "c" + std::to_string(i);
        all.checks.push_back(name);
        if (i % 2) odd.checks.push_back(name);
        if (i % 3 == 0) quorum.checks.push_back(name);
        views.push_back(make_view(name, Status::pass, "ok", i, now));
    }
    cfg->groups = {all, odd, quorum};
    SnapshotSlot slot;
    StatusPublisher p(slot, nullptr, "svc \"one\"");
    p.reset(cfg, views);
    bool draining = false;
    for (int step = 0; step < 200; ++step) {
        int changes = 1 + int(rng() % 8);
        for (int k = 0; k < changes; ++k) {
            size_t i = rng() % views.size();
            views[i] = make_view(views[i]->name, statuses[rng() % 4], "out " + std::to_string(rng() % 3), double(step),
                                 now, impacts[rng() % 4]);
            p.update(i, views[i]);
        }
        if (rng() % 20 == 0) draining = !draining;
        p.publish(now, std::chrono::system_clock::now(), false, draining, SchedulerStats{});
        auto inc = slot.load();
        auto anew = built_anew(cfg, views, now, draining, "svc \"one\"");
        for (const char* g : {"default", "odd", "q"}) {
            INFO("step " << step << " group " << g);
            REQUIRE(inc->group(g).verdict.status == anew->group(g).verdict.status);
            REQUIRE(inc->group(g).verdict.cause == anew->group(g).verdict.cause);
            REQUIRE(inc->group(g).rendered.code == anew->group(g).rendered.code);
            REQUIRE(inc->group(g).rendered.full() == anew->group(g).rendered.full());
        }
        for (size_t i = 0; i < views.size(); i += 37)
            REQUIRE(inc->checks[i].rendered.full() == anew->checks[i].rendered.full());
    }
    spdlog::set_level(level);
}
