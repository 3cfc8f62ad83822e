#include "config/config.h"
#include "plugins/option_schema.h"
#include "plugins/registry.h"
#include "scheduler/scheduler.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>
#include <unistd.h>

using namespace vitals;

namespace {

std::shared_ptr<PluginRegistry> fault_registry() {
    static std::shared_ptr<PluginRegistry> reg = [] {
        auto r = std::make_shared<PluginRegistry>();
        std::string why;
        if (!r->load_file(std::string(VITALS_FIXTURE_DIR) + "/faults.so", true, why)) FAIL(why);
        return r;
    }();
    return reg;
}

std::shared_ptr<const Config> config(const std::string& checks_json) {
    auto env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    return std::make_shared<const Config>(
        parse_config("{\"checks\": " + checks_json + "}", env, *fault_registry(), "test"));
}

// Polls `cond` against the current snapshot for up to `limit`; returns whether it became true.
bool eventually(SnapshotSlot& slot, const std::function<bool(const Snapshot&)>& cond,
                Millis limit = Millis(5000)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        auto s = slot.load();
        if (s && cond(*s)) return true;
        std::this_thread::sleep_for(Millis(10));
    }
    return false;
}

const CheckView* view(const Snapshot& s, const std::string& name) {
    for (const auto& v : s.views)
        if (v->name == name) return v.get();
    return nullptr;
}

struct StatusFile {
    std::string path = "/tmp/vitals-sched-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++);
    static int& counter() {
        static int n = 0;
        return n;
    }
    void write(const std::string& content) {
        std::string tmp = path + ".tmp";
        std::ofstream(tmp) << content << "\n";
        std::rename(tmp.c_str(), path.c_str());
    }
    ~StatusFile() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("scheduler publishes results and the group follows them", "[scheduler]") {
    StatusFile f;
    f.write("pass all good");
    SnapshotSlot slot;
    Scheduler s(config(R"([{"name": "f", "type": "fixture_file", "interval": "100ms", "timeout": "50ms",
                           "options": {"path": ")" + f.path + R"("}}])"),
                *fault_registry(), slot, "test");
    s.start();
    // Pending until the first result: fail.
    REQUIRE(slot.load());
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return snap.groups.at("default").status == Status::pass; }));
    CHECK(slot.load()->groups.at("default").code == 200);
    f.write("fail broken on purpose");
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return snap.groups.at("default").status == Status::fail; }));
    auto snap = slot.load();
    CHECK(snap->groups.at("default").code == 503);
    CHECK(snap->verdicts.at("default").cause == "f: fail (critical)");
    CHECK_THAT(snap->groups.at("default").full, Catch::Contains("broken on purpose"));
    CHECK(snap->groups.at("default").brief == R"({"status":"fail"})");
}

TEST_CASE("a run past its timeout is recorded as a timeout failure", "[scheduler]") {
    SnapshotSlot slot;
    Scheduler s(config(R"([{"name": "slow", "type": "fixture_sleep", "interval": "1s", "timeout": "100ms",
                           "options": {"ms": "400ms"}}])"),
                *fault_registry(), slot, "test");
    s.start();
    REQUIRE(eventually(slot, [](const Snapshot& snap) {
        const CheckView* v = view(snap, "slow");
        return v && v->last && v->timeouts == 1;
    }));
    const CheckView* v = view(*slot.load(), "slow");
    CHECK(v->last->status == Status::fail);
    CHECK(v->last->output == "timed out after 100 ms");
    CHECK(v->effective == Status::fail);
}

TEST_CASE("a hung plugin call marks its check stuck and others keep running", "[scheduler]") {
    SnapshotSlot slot;
    Scheduler s(config(R"([{"name": "hang", "type": "fixture_hang", "interval": "200ms", "timeout": "50ms"},
                           {"name": "count", "type": "fixture_counter", "interval": "100ms", "timeout": "50ms"}])"),
                *fault_registry(), slot, "test");
    s.start();
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "hang")->stuck; }));
    auto first = slot.load();
    CHECK_THAT(view(*first, "hang")->last->output, Catch::StartsWith("stuck: plugin call has not returned"));
    uint64_t count_runs = view(*first, "count")->runs;
    // While stuck, no new run of the hung check starts: its result count stays at timeout + stuck.
    REQUIRE(eventually(slot, [&](const Snapshot& snap) { return view(snap, "count")->runs >= count_runs + 5; }));
    auto later = slot.load();
    CHECK(view(*later, "hang")->runs == 2);
    CHECK(view(*later, "hang")->timeouts == 1);
    CHECK(later->groups.at("default").status == Status::fail);
    s.stop();  // must return although a worker is still inside the plugin
}

TEST_CASE("a check whose create() fails is failed with the reason, others run", "[scheduler]") {
    SnapshotSlot slot;
    Scheduler s(config(R"([{"name": "bad", "type": "fixture_create_fails", "options": {"reason": "no host"}},
                           {"name": "count", "type": "fixture_counter", "interval": "100ms", "timeout": "50ms"}])"),
                *fault_registry(), slot, "test");
    s.start();
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "count")->runs >= 2; }));
    auto snap = slot.load();
    CHECK(view(*snap, "bad")->setup_error == "fixture_create_fails: refusing to start: no host");
    CHECK_THAT(snap->verdicts.at("default").cause, Catch::Contains("bad: fail (critical)"));
}

TEST_CASE("draining fails the groups at once", "[scheduler]") {
    SnapshotSlot slot;
    Scheduler s(config(R"([{"name": "count", "type": "fixture_counter", "interval": "100ms", "timeout": "50ms"}])"),
                *fault_registry(), slot, "test");
    s.start();
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return snap.groups.at("default").status == Status::pass; }));
    s.set_draining(true);
    CHECK(slot.load()->groups.at("default").status == Status::fail);
    CHECK(slot.load()->verdicts.at("default").cause == "draining");
}

TEST_CASE("checks started together run at once, then spread over their interval", "[scheduler]") {
    std::string checks = "[";
    for (int i = 0; i < 40; ++i)
        checks += std::string(i ? "," : "") + R"({"name": "c)" + std::to_string(i) +
                  R"(", "type": "fixture_counter", "interval": "1s", "timeout": "100ms"})";
    SnapshotSlot slot;
    Scheduler s(config(checks + "]"), *fault_registry(), slot, "test");
    s.start();
    REQUIRE(eventually(slot, [](const Snapshot& snap) {
        for (const auto& v : snap.views)
            if (v->runs < 2) return false;
        return true;
    }));
    auto snap = slot.load();
    MonoTime second_min = MonoTime::max(), second_max = MonoTime::min();
    for (const auto& v : snap->views) {
        REQUIRE(v->recent.size() >= 2);
        MonoTime first = v->recent[v->recent.size() - 1].mono_time;
        MonoTime second = v->recent[v->recent.size() - 2].mono_time;
        // The second run comes at least half an interval after the first (less a margin for the
        // first run waiting for a worker), never a burst right after it.
        CHECK(second - first >= Millis(450));
        second_min = std::min(second_min, second);
        second_max = std::max(second_max, second);
    }
    // Spread: 40 draws over a second land within 200 ms of each other with a probability below
    // 1e-25; kept bunched (the cadence of the first runs, give or take the 5 % jitter), they
    // would span about 100 ms. (Only lower bounds on times are asserted: a slow machine cannot
    // fail them.)
    CHECK(second_max - second_min >= Millis(200));
}
