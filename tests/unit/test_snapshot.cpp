#include "snapshot/snapshot.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <chrono>

using namespace vitals;

namespace {

// Bodies are written by hand (no Poco::JSON on the build path): they are read back here with
// Poco's parser, which is what a client would do.
Poco::JSON::Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

struct Fixture {
    Config cfg;
    std::vector<CheckViewPtr> views;
    RenderCache cache;  // this fixture's own, as each publisher has its own
    MonoTime now = std::chrono::steady_clock::now();

    Fixture() {
        GroupConfig all;
        all.name = "default";
        GroupConfig db;
        db.name = "db";
        db.checks = {"cache"};
        cfg.groups = {all, db};
        views.push_back(view("root", Status::pass, "plenty free", 82.8));
        views.push_back(view("cache", Status::pass, "PONG", 3));
        cfg.groups[0].checks = {"root", "cache"};
    }

    // A new object for view i (views are immutable once published), for the test to change.
    CheckView& edit(size_t i) {
        auto copy = std::make_shared<CheckView>(*views[i]);
        views[i] = copy;
        return *copy;
    }

    CheckViewPtr view(const std::string& name, Status s, const std::string& output, double value) {
        CheckView v;
        v.name = name;
        v.type = "test";
        v.component_type = "component";
        v.default_measurement = "responseTime";
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
        r.mono_time = now;
        v.last = r;
        v.recent.push_front(r);
        v.runs = v.passes = 1;
        return std::make_shared<const CheckView>(std::move(v));
    }

    std::shared_ptr<const Snapshot> build() {
        SnapshotInputs in;
        in.config = &cfg;
        in.views = &views;
        in.now = now;
        in.wall_now = std::chrono::system_clock::now();
        in.service_id = "svc \"one\"";
        return build_snapshot(in, cache);
    }
};

}  // namespace

TEST_CASE("snapshot bodies are JSON that reads back to the check's values", "[snapshot]") {
    Fixture f;
    // Every byte that needs escaping, and UTF-8 that must pass through as is.
    std::string nasty = std::string("quote \" backslash \\ newline \n tab \t ctl ") + char(0x01) + " caf\xC3\xA9";
    f.edit(0).last->output = nasty;
    f.edit(0).recent[0].output = nasty;
    auto snap = f.build();

    auto check = parse(snap->checks.at("root").full);
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
    CHECK(snap->checks.at("root").brief == "{\"status\":\"pass\"}");

    // A whole-number value is written as an integer, as Poco wrote it before.
    CHECK(snap->checks.at("cache").full.find("\"observedValue\":3,") != std::string::npos);
}

TEST_CASE("a group body holds its own members only", "[snapshot]") {
    Fixture f;
    f.views[1] = f.view("cache", Status::fail, "connection refused", 1);
    auto snap = f.build();

    auto all = parse(snap->groups.at("default").full);
    CHECK(all->getValue<std::string>("status") == "fail");
    CHECK(all->getObject("checks")->has("root:responseTime"));
    CHECK(all->getObject("checks")->has("cache:responseTime"));
    CHECK(snap->groups.at("default").code == 503);

    auto db = parse(snap->groups.at("db").full);
    CHECK(db->getObject("checks")->size() == 1);
    CHECK(db->getValue<std::string>("description") == "vitals health group \"db\"");
    CHECK(db->getValue<std::string>("output").find("cache") != std::string::npos);
}

TEST_CASE("a check's cached rendering is replaced when anything it shows changes", "[snapshot]") {
    Fixture f;
    auto first = f.build();
    CHECK(parse(first->checks.at("root").full)->getValue<std::string>("output") == "plenty free");

    // Unchanged (the same view objects): the same bytes again.
    CHECK(f.build()->checks.at("root").full == first->checks.at("root").full);

    // A new result (same status, other output and counters): the body follows.
    CheckView& changed = f.edit(0);
    changed.last->output = "less free";
    changed.recent.push_front(*changed.last);
    changed.runs = 2;
    auto second = f.build();
    auto body = parse(second->checks.at("root").full);
    CHECK(body->getValue<std::string>("output") == "less free");
    CHECK(body->getObject("counters")->getValue<int>("runs") == 2);
    CHECK(body->getArray("recent")->size() == 2);
    CHECK(parse(second->groups.at("default").full)
              ->getObject("checks")
              ->getArray("root:responseTime")
              ->getObject(0)
              ->getValue<std::string>("output") == "less free");

    // Only the standing changes (the result goes stale with time): the body follows too.
    f.now += Millis(60'000);
    auto stale = f.build();
    CHECK(stale->checks.at("root").status != Status::pass);
    CHECK(parse(stale->checks.at("root").full)->getValue<std::string>("status") != "pass");
}

TEST_CASE("the render cache drops the entry of a check removed from the configuration", "[snapshot]") {
    // A cache entry holds the view it was rendered from, so the view's lifetime shows whether the
    // entry is still there.
    Fixture f;
    std::weak_ptr<const CheckView> root = f.views[0];
    f.build();  // the snapshot is dropped at once: what still holds root's view is the cache
    f.views.erase(f.views.begin());
    f.cfg.groups[0].checks = {"cache"};
    REQUIRE_FALSE(root.expired());  // held by the cache alone

    CHECK(f.cache.size() == 2);
    auto without = f.build();
    CHECK(without->checks.count("root") == 0);
    CHECK(root.expired());
    CHECK(f.cache.size() == 1);
    CHECK_FALSE(without->checks.at("cache").full.empty());
}
