#include "policy/check_record.h"
#include "recording_sink.h"

#include <catch2/catch.hpp>

#include <vector>

using namespace vitals;

namespace {

CheckResult result(RunResult run, std::chrono::microseconds took) {
    CheckResult r(std::move(run));
    r.duration = took;
    r.time = std::chrono::system_clock::now();
    return r;
}

RunResult passed(std::string output) {
    RunResult r;
    r.status = Status::pass;
    r.output = std::move(output);
    return r;
}

CheckView fresh(int rise = 1, int fall = 1) {
    CheckView v;
    v.name = "c";
    v.rise = rise;
    v.fall = fall;
    return v;
}

}  // namespace

TEST_CASE("durations are kept in microseconds: sub-millisecond runs add up", "[record]") {
    CheckRecord rec(fresh());
    for (int i = 0; i < 4; ++i) rec.apply(result(passed("ok"), std::chrono::microseconds(250)), nullptr);
    CHECK(rec.view().durations.count == 4);
    CHECK(rec.view().durations.sum == Approx(0.001));
    CHECK(rec.view().durations.counts[0] == 4);  // all in the 5 ms bucket
}

TEST_CASE("timeouts are counted by how the run ended, whoever recorded it", "[record]") {
    CheckRecord rec(fresh());
    // As a process-isolated run reports it: its own words, ended by a timeout.
    rec.apply(result(RunResult::failed(RunEnd::timed_out, "timed out after 500 ms (worker killed)"),
                     std::chrono::milliseconds(500)),
              nullptr);
    // A plugin that merely says "timed out" answered: not a timeout of the run.
    RunResult said;
    said.output = "timed out waiting for the primary";
    rec.apply(result(said, std::chrono::milliseconds(3)), nullptr);
    CHECK(rec.view().timeouts == 1);
    CHECK(rec.view().runs == 2);
}

TEST_CASE("a stuck marker is recorded but is no run's duration", "[record]") {
    CheckRecord rec(fresh());
    rec.apply(result(RunResult::failed(RunEnd::stuck, "stuck: ..."), std::chrono::seconds(5)), nullptr);
    CHECK(rec.view().runs == 1);
    CHECK(rec.view().durations.count == 0);
}

TEST_CASE("damping and history: each result a row, each change of the effective status a transition", "[record]") {
    RecordingSink sink;
    CheckRecord rec(fresh(2, 1));
    rec.apply(result(passed("a"), std::chrono::microseconds(10)), &sink);  // rise 2: still pending
    CHECK_FALSE(rec.view().established);
    rec.apply(result(passed("b"), std::chrono::microseconds(10)), &sink);  // established pass
    CHECK(rec.view().effective == Status::pass);
    rec.apply(result(RunResult::failed(RunEnd::answered, "down"), std::chrono::microseconds(10)), &sink);
    REQUIRE(sink.events.size() == 5);
    CHECK(sink.events[0].kind == EventKind::result);
    CHECK(sink.events[0].status == Status::fail);  // pending counts as fail in history
    REQUIRE(sink.events[0].run);
    CHECK(sink.events[0].run->output == "a");
    CHECK(sink.events[2].kind == EventKind::transition);
    CHECK_FALSE(sink.events[2].previous);
    CHECK(sink.events[2].cause == "pass: b");
    CHECK(sink.events[4].kind == EventKind::transition);
    CHECK(sink.events[4].previous == Status::pass);
    CHECK(sink.events[4].cause == "fail: down");
    CHECK(rec.view().recent.front()->output == "down");
}

TEST_CASE("transitions count changes of the effective status; pending counts as fail", "[record]") {
    CheckRecord rec(fresh(1, 2));
    auto pass = [&] { rec.apply(result(passed("ok"), std::chrono::microseconds(10)), nullptr); };
    auto fail = [&] { rec.apply(result(RunResult::failed(RunEnd::answered, "down"), std::chrono::microseconds(10)), nullptr); };
    fail();  // pending -> fail: established, but the status it counts as did not change
    CHECK(rec.view().established);
    CHECK(rec.view().transitions == 0);
    pass();  // fail -> pass
    CHECK(rec.view().transitions == 1);
    fail();  // fall 2: one fail is not a change
    pass();
    CHECK(rec.view().transitions == 1);
    fail();
    fail();  // pass -> fail
    CHECK(rec.view().transitions == 2);
    pass();  // fail -> pass
    pass();
    CHECK(rec.view().transitions == 3);
}

TEST_CASE("a first result that passes is a transition from pending", "[record]") {
    CheckRecord rec(fresh());
    rec.apply(result(passed("ok"), std::chrono::microseconds(10)), nullptr);
    CHECK(rec.view().transitions == 1);
}
