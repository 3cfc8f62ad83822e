#include "config/config.h"
#include "recording_sink.h"
#include "plugins/option_schema.h"
#include "plugins/registry.h"
#include "scheduler/clock.h"
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

// Polls `cond` against the current snapshot for up to `limit` of real time (a hang guard, not a
// speed claim: with a ManualClock the scheduler's time moves only when a test moves it); returns
// whether it became true.
bool eventually(SnapshotSlot& slot, const std::function<bool(const Snapshot&)>& cond,
                Millis limit = Millis(10000)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        auto s = slot.load();
        if (s && cond(*s)) return true;
        std::this_thread::sleep_for(Millis(10));
    }
    return false;
}

const CheckView* view(const Snapshot& s, const std::string& name) {
    for (const PublishedCheck& c : s.checks)
        if (c.view->name == name) return c.view.get();
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
    // The names are per process id, and ids come round again (pid_max is often 32768): files a
    // finished test process left under this name would say "started" before anything ran here,
    // so they go first, and all of them go at the end.
    StatusFile() { remove_all(); }
    ~StatusFile() { remove_all(); }
    void remove_all() const {
        for (const char* suffix : {"", ".tmp", ".started", ".destroying"}) std::remove((path + suffix).c_str());
    }
};

// Waits (real time, as a hang guard) until `path` exists.
bool file_appears(const std::string& path, Millis limit = Millis(10000)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (::access(path.c_str(), F_OK) == 0) return true;
        std::this_thread::sleep_for(Millis(1));
    }
    return false;
}

// Moves the manual clock on and waits until the scheduler has looked at the new time and the runs
// it started then have ended (so that none ends "after" the next jump), or until `busy` runs are
// left inside a plugin on purpose (a gate the test has not opened).
bool advance(ManualClock& clock, Millis d, const Scheduler& s, size_t busy = 0) {
    uint64_t before = clock.waits();
    clock.advance(d);
    auto end = std::chrono::steady_clock::now() + Millis(10000);
    while (std::chrono::steady_clock::now() < end) {
        if (clock.waits() >= before + 2 && s.runs_in_flight() <= busy) return true;
        std::this_thread::sleep_for(Millis(1));
    }
    return false;
}

std::string gate_check(const std::string& name, const StatusFile& gate, const char* interval, const char* timeout) {
    return R"({"name": ")" + name + R"(", "type": "fixture_gate", "interval": ")" + interval + R"(", "timeout": ")" +
           timeout + R"(", "options": {"path": ")" + gate.path + R"("}})";
}

}  // namespace

TEST_CASE("scheduler publishes results and the group follows them", "[scheduler]") {
    StatusFile f;
    f.write("pass all good");
    SnapshotSlot slot;
    ManualClock clock;
    Scheduler s(config(R"([{"name": "f", "type": "fixture_file", "interval": "100ms", "timeout": "50ms",
                           "options": {"path": ")" + f.path + R"("}}])"),
                *fault_registry(), slot, "test", nullptr, clock);
    s.start();
    REQUIRE(slot.load());
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return snap.group("default").rendered.status == Status::pass; }));
    CHECK(slot.load()->group("default").rendered.code == 200);
    f.write("fail broken on purpose");
    // The second run comes within one and a half intervals of the first.
    REQUIRE(advance(clock, Millis(160), s));
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return snap.group("default").rendered.status == Status::fail; }));
    auto snap = slot.load();
    CHECK(snap->group("default").rendered.code == 503);
    CHECK(snap->group("default").verdict.cause == "f: fail (critical)");
    CHECK_THAT(snap->group("default").rendered.full(), Catch::Contains("broken on purpose"));
    CHECK(snap->group("default").rendered.brief == R"({"status":"fail"})");
}

TEST_CASE("a run still going after its deadline is recorded as a timeout at once", "[scheduler]") {
    StatusFile gate;
    SnapshotSlot slot;
    ManualClock clock;
    Scheduler s(config("[" + gate_check("slow", gate, "1s", "100ms") + "]"), *fault_registry(), slot, "test", nullptr,
                clock);
    s.start();
    REQUIRE(file_appears(gate.path + ".started"));
    // The timeout is declared a little after the deadline (100 ms + 10 ms of grace), not waited for.
    REQUIRE(advance(clock, Millis(111), s));
    REQUIRE(eventually(slot, [](const Snapshot& snap) {
        const CheckView* v = view(snap, "slow");
        return v && v->last && v->timeouts == 1;
    }));
    const CheckView* v = view(*slot.load(), "slow");
    CHECK(v->last->status == Status::fail);
    CHECK(v->last->output == "timed out after 100 ms");
    CHECK(v->last->end == RunEnd::timed_out);
    CHECK(v->effective == Status::fail);
    gate.write("open");  // the late answer is discarded
}

TEST_CASE("a result that arrives after its deadline is a timeout, whatever it says", "[scheduler]") {
    StatusFile gate;
    SnapshotSlot slot;
    ManualClock clock;
    Scheduler s(config("[" + gate_check("late", gate, "1s", "100ms") + "]"), *fault_registry(), slot, "test", nullptr,
                clock);
    s.start();
    REQUIRE(file_appears(gate.path + ".started"));
    // Past the deadline (100 ms) but inside the grace before a timeout is declared (110 ms): the
    // plugin's own answer, a pass, comes back now.
    REQUIRE(advance(clock, Millis(105), s, 1));
    gate.write("open");
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "late")->runs == 1; }));
    const CheckView* v = view(*slot.load(), "late");
    CHECK(v->last->status == Status::fail);
    CHECK(v->last->output == "timed out after 100 ms");
    CHECK(v->timeouts == 1);
}

TEST_CASE("a result before its deadline is the plugin's", "[scheduler]") {
    StatusFile gate;
    SnapshotSlot slot;
    ManualClock clock;
    Scheduler s(config("[" + gate_check("quick", gate, "1s", "100ms") + "]"), *fault_registry(), slot, "test", nullptr,
                clock);
    s.start();
    REQUIRE(file_appears(gate.path + ".started"));
    REQUIRE(advance(clock, Millis(99), s, 1));
    gate.write("open");
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "quick")->runs == 1; }));
    const CheckView* v = view(*slot.load(), "quick");
    CHECK(v->last->status == Status::pass);
    CHECK(v->last->output == "opened");
    CHECK(v->last->duration >= Millis(99));  // measured on the scheduler's clock
    CHECK(v->timeouts == 0);
}

TEST_CASE("a hung plugin call marks its check stuck, others keep running, runs resume when it returns",
          "[scheduler]") {
    StatusFile gate;
    SnapshotSlot slot;
    ManualClock clock;
    Scheduler s(config("[" + gate_check("hang", gate, "200ms", "50ms") +
                       R"(, {"name": "count", "type": "fixture_counter", "interval": "100ms", "timeout": "50ms"}])"),
                *fault_registry(), slot, "test", nullptr, clock);
    s.start();
    REQUIRE(file_appears(gate.path + ".started"));
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "count")->runs >= 1; }));
    REQUIRE(advance(clock, Millis(61), s));  // the timeout
    REQUIRE(advance(clock, Millis(140), s));  // the next due time: stuck
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "hang")->stuck; }));
    auto first = slot.load();
    CHECK_THAT(view(*first, "hang")->last->output, Catch::StartsWith("stuck: plugin call has not returned"));
    CHECK(view(*first, "hang")->last->end == RunEnd::stuck);
    uint64_t count_runs = view(*first, "count")->runs;
    for (int i = 0; i < 10; ++i) REQUIRE(advance(clock, Millis(100), s));
    REQUIRE(eventually(slot, [&](const Snapshot& snap) { return view(snap, "count")->runs >= count_runs + 5; }));
    auto later = slot.load();
    // While stuck, no new run of the hung check starts: its results are the timeout and the marker.
    CHECK(view(*later, "hang")->runs == 2);
    CHECK(view(*later, "hang")->timeouts == 1);
    // The marker is no run's duration: only the timeout was observed.
    CHECK(view(*later, "hang")->durations.count == 1);
    CHECK(later->group("default").rendered.status == Status::fail);
    gate.write("open");
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return !view(snap, "hang")->stuck; }));
    REQUIRE(advance(clock, Millis(10), s));
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "hang")->runs == 3; }));
    CHECK(view(*slot.load(), "hang")->last->status == Status::pass);
}

TEST_CASE("a check whose create() fails is failed with the reason, others run", "[scheduler]") {
    SnapshotSlot slot;
    ManualClock clock;
    Scheduler s(config(R"([{"name": "bad", "type": "fixture_create_fails", "options": {"reason": "no host"}},
                           {"name": "count", "type": "fixture_counter", "interval": "100ms", "timeout": "50ms"}])"),
                *fault_registry(), slot, "test", nullptr, clock);
    s.start();
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "count")->runs >= 1; }));
    REQUIRE(advance(clock, Millis(160), s));
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "count")->runs >= 2; }));
    auto snap = slot.load();
    CHECK(view(*snap, "bad")->setup_error == "fixture_create_fails: refusing to start: no host");
    CHECK_THAT(snap->group("default").verdict.cause, Catch::Contains("bad: fail (critical)"));
}

TEST_CASE("draining fails the groups at once", "[scheduler]") {
    SnapshotSlot slot;
    ManualClock clock;
    Scheduler s(config(R"([{"name": "count", "type": "fixture_counter", "interval": "100ms", "timeout": "50ms"}])"),
                *fault_registry(), slot, "test", nullptr, clock);
    s.start();
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return snap.group("default").rendered.status == Status::pass; }));
    s.set_draining(true);
    CHECK(slot.load()->group("default").rendered.status == Status::fail);
    CHECK(slot.load()->group("default").verdict.cause == "draining");
}

TEST_CASE("checks started together run at once, then spread over their interval", "[scheduler]") {
    std::string checks = "[";
    for (int i = 0; i < 40; ++i)
        checks += std::string(i ? "," : "") + R"({"name": "c)" + std::to_string(i) +
                  R"(", "type": "fixture_counter", "interval": "1s", "timeout": "100ms"})";
    SnapshotSlot slot;
    ManualClock clock;
    Scheduler s(config(checks + "]"), *fault_registry(), slot, "test", nullptr, clock);
    MonoTime t0 = clock.now();
    s.start();
    auto all_ran = [](int n) {
        return [n](const Snapshot& snap) {
            for (const auto& c : snap.checks)
                if (c.view->runs < uint64_t(n)) return false;
            return true;
        };
    };
    REQUIRE(eventually(slot, all_ran(1)));
    for (int i = 0; i < 32; ++i) REQUIRE(advance(clock, Millis(50), s));
    REQUIRE(eventually(slot, all_ran(2)));
    auto snap = slot.load();
    MonoTime second_min = MonoTime::max(), second_max = MonoTime::min();
    for (const auto& c : snap->checks) {
        const CheckViewPtr& v = c.view;
        REQUIRE(v->recent.size() >= 2);
        MonoTime first = v->recent[v->recent.size() - 1]->mono_time;
        MonoTime second = v->recent[v->recent.size() - 2]->mono_time;
        CHECK(first == t0);  // every first run at once
        // The second run comes between half an interval and one and a half intervals after the first.
        CHECK(second - first >= Millis(500));
        CHECK(second - first <= Millis(1550));
        second_min = std::min(second_min, second);
        second_max = std::max(second_max, second);
    }
    // Spread: 40 uniform draws over a second land within 200 ms of each other with a probability
    // below 1e-25.
    CHECK(second_max - second_min >= Millis(200));
}

TEST_CASE("reconfigure keeps unchanged checks, restarts changed ones, stops removed ones", "[scheduler]") {
    SnapshotSlot slot;
    ManualClock clock;
    RecordingSink history;
    auto count = [](const char* name, const char* interval) {
        return std::string(R"({"name": ")") + name + R"(", "type": "fixture_counter", "interval": ")" + interval +
               R"(", "timeout": "50ms"})";
    };
    Scheduler s(config("[" + count("kept", "100ms") + "," + count("changed", "100ms") + "," + count("gone", "100ms") + "]"),
                *fault_registry(), slot, "test", &history, clock);
    s.start();
    // The first runs, dispatched at the start time, must have begun before time moves on (a run
    // that begins after its deadline is "not started").
    REQUIRE(eventually(slot, [](const Snapshot& snap) {
        return view(snap, "kept")->runs >= 1 && view(snap, "changed")->runs >= 1 && view(snap, "gone")->runs >= 1;
    }));
    for (int i = 0; i < 4; ++i) REQUIRE(advance(clock, Millis(100), s));
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "kept")->runs >= 2 && view(snap, "changed")->runs >= 2; }));
    uint64_t kept_before = view(*slot.load(), "kept")->runs;
    s.reconfigure(config("[" + count("kept", "100ms") + "," + count("changed", "200ms") + "," + count("new", "100ms") + "]"),
                  *fault_registry());
    auto after = slot.load();
    REQUIRE(view(*after, "gone") == nullptr);
    CHECK(view(*after, "kept")->runs >= kept_before);          // state kept
    CHECK_FALSE(view(*after, "kept")->joined_by_reload);
    CHECK(view(*after, "changed")->joined_by_reload);          // a fresh entry
    CHECK(view(*after, "new")->joined_by_reload);
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "new")->runs >= 1 && view(snap, "changed")->runs >= 1; }));
    // The counter of a kept check goes on from where it was; a changed one counts from 1 again.
    for (int i = 0; i < 3; ++i) REQUIRE(advance(clock, Millis(100), s));
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "changed")->runs >= 1; }));
    auto later = slot.load();
    CHECK(view(*later, "kept")->last->output == "run " + std::to_string(view(*later, "kept")->runs));
    CHECK(view(*later, "changed")->recent.back()->output == "run 1");
    size_t gone_results = history.count("gone", EventKind::result);
    for (int i = 0; i < 3; ++i) REQUIRE(advance(clock, Millis(100), s));
    REQUIRE(eventually(slot, [&](const Snapshot& snap) { return view(snap, "kept")->runs >= view(*later, "kept")->runs + 2; }));
    CHECK(history.count("gone", EventKind::result) == gone_results);  // a removed check records nothing more
}

TEST_CASE("a slow destroy() of a removed check does not hold up the other checks", "[scheduler]") {
    StatusFile gate;
    SnapshotSlot slot;
    ManualClock clock;
    std::string slow = R"({"name": "slow", "type": "fixture_slow_destroy", "interval": "1s", "timeout": "50ms",
                          "options": {"path": ")" + gate.path + R"("}})";
    std::string count = R"({"name": "count", "type": "fixture_counter", "interval": "100ms", "timeout": "50ms"})";
    Scheduler s(config("[" + slow + "," + count + "]"), *fault_registry(), slot, "test", nullptr, clock);
    s.start();
    REQUIRE(eventually(slot, [](const Snapshot& snap) { return view(snap, "slow")->runs == 1; }));
    std::thread reload([&] { s.reconfigure(config("[" + count + "]"), *fault_registry()); });
    // The removed check's destroy() is now waiting for the gate: the scheduler must not be.
    REQUIRE(file_appears(gate.path + ".destroying"));
    uint64_t runs = view(*slot.load(), "count")->runs;
    for (int i = 0; i < 5; ++i) REQUIRE(advance(clock, Millis(100), s));
    bool ran_meanwhile = eventually(slot, [&](const Snapshot& snap) { return view(snap, "count")->runs >= runs + 3; });
    gate.write("open");
    reload.join();
    CHECK(ran_meanwhile);
}
