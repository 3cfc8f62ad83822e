#include "policy/policy.h"

#include <catch2/catch.hpp>

using namespace vitals;

namespace {

Member member(const std::string& name, Status s, Impact impact = Impact::critical, Scope scope = Scope::local) {
    return Member{name, impact, scope, Standing{s, ""}};
}

GroupConfig group(int quorum = 0, bool drain = true) {
    GroupConfig g;
    g.name = "g";
    g.quorum = quorum;
    g.drain = drain;
    return g;
}

CheckView established_view(Status effective, Status raw, MonoTime at) {
    CheckView v;
    v.name = "c";
    v.established = true;
    v.effective = effective;
    v.stale_after = Millis(10'000);
    CheckResult r;
    r.status = raw;
    r.output = "raw output";
    r.mono_time = at;
    v.last = r;
    return v;
}

}  // namespace

TEST_CASE("all passing members pass the group", "[policy]") {
    auto v = evaluate_group(group(), {member("a", Status::pass), member("b", Status::pass)}, Status::warn, false);
    CHECK(v.status == Status::pass);
    CHECK(v.cause.empty());
}

TEST_CASE("a critical failure fails the group and names the check", "[policy]") {
    auto v = evaluate_group(group(), {member("a", Status::pass), member("redis", Status::fail)}, Status::warn, false);
    CHECK(v.status == Status::fail);
    CHECK(v.cause == "redis: fail (critical)");
}

TEST_CASE("a degraded failure only warns", "[policy]") {
    auto v = evaluate_group(group(), {member("cache", Status::fail, Impact::degraded)}, Status::warn, false);
    CHECK(v.status == Status::warn);
    CHECK(v.cause == "cache: fail (degraded)");
}

TEST_CASE("an ignored failure does not count", "[policy]") {
    auto v = evaluate_group(group(), {member("x", Status::fail, Impact::ignore)}, Status::warn, false);
    CHECK(v.status == Status::pass);
}

TEST_CASE("any counted warn makes the group warn", "[policy]") {
    auto v = evaluate_group(group(), {member("a", Status::warn), member("b", Status::pass)}, Status::warn, false);
    CHECK(v.status == Status::warn);
    CHECK(v.cause == "a: warn (critical)");
}

TEST_CASE("a shared dependency's failure warns unless shared_fail is fail", "[policy]") {
    std::vector<Member> m{member("central", Status::fail, Impact::critical, Scope::shared)};
    CHECK(evaluate_group(group(), m, Status::warn, false).status == Status::warn);
    CHECK(evaluate_group(group(), m, Status::fail, false).status == Status::fail);
    CHECK(evaluate_group(group(), m, Status::warn, false).cause == "central: fail (shared)");
}

TEST_CASE("quorum: passes at N, warns above N with failures, fails below N", "[policy]") {
    auto g = group(2);
    CHECK(evaluate_group(g, {member("a", Status::pass), member("b", Status::pass), member("c", Status::pass)},
                         Status::warn, false)
              .status == Status::pass);
    auto warn = evaluate_group(g, {member("a", Status::pass), member("b", Status::pass), member("c", Status::fail)},
                               Status::warn, false);
    CHECK(warn.status == Status::warn);
    CHECK(warn.cause.rfind("quorum 2 of 2", 0) == 0);
    auto fail = evaluate_group(g, {member("a", Status::pass), member("b", Status::fail), member("c", Status::fail)},
                               Status::warn, false);
    CHECK(fail.status == Status::fail);
    CHECK(fail.cause.rfind("quorum 1 of 2", 0) == 0);
}

TEST_CASE("quorum counts only critical local members; degraded and shared ones warn (SPEC 4)", "[policy]") {
    auto g = group(2);
    // Two critical members pass: the quorum holds; a failing degraded member warns, it does not
    // count as a missing quorum member.
    auto degraded = evaluate_group(g, {member("a", Status::pass), member("b", Status::pass),
                                       member("d", Status::fail, Impact::degraded)},
                                   Status::warn, false);
    CHECK(degraded.status == Status::warn);
    CHECK(degraded.cause == "d: fail (degraded)");
    // A passing degraded member does not make up for a missing critical one.
    auto short_of = evaluate_group(g, {member("a", Status::pass), member("b", Status::fail),
                                       member("d", Status::pass, Impact::degraded)},
                                   Status::warn, false);
    CHECK(short_of.status == Status::fail);
    CHECK(short_of.cause == "quorum 1 of 2; b: fail (quorum member)");
    // A shared member follows policy.shared_fail.
    std::vector<Member> shared{member("a", Status::pass), member("b", Status::pass),
                               member("s", Status::fail, Impact::critical, Scope::shared)};
    CHECK(evaluate_group(g, shared, Status::warn, false).status == Status::warn);
    CHECK(evaluate_group(g, shared, Status::warn, false).cause == "s: fail (shared)");
    CHECK(evaluate_group(g, shared, Status::fail, false).status == Status::fail);
}

TEST_CASE("draining fails every group except drain: false ones", "[policy]") {
    auto v = evaluate_group(group(0, true), {member("a", Status::pass)}, Status::warn, true);
    CHECK(v.status == Status::fail);
    CHECK(v.cause == "draining");
    CHECK(evaluate_group(group(0, false), {member("a", Status::pass)}, Status::warn, true).status == Status::pass);
}

TEST_CASE("standing: pending is fail, or warn during the start period", "[policy]") {
    CheckView v;
    v.name = "c";
    auto now = std::chrono::steady_clock::now();
    CHECK(check_standing(v, now, false).status == Status::fail);
    CHECK(check_standing(v, now, false).output == "pending");
    CHECK(check_standing(v, now, true).status == Status::warn);
}

TEST_CASE("standing: a result older than stale_after fails as stale", "[policy]") {
    auto now = std::chrono::steady_clock::now();
    auto fresh = established_view(Status::pass, Status::pass, now - Millis(9'000));
    CHECK(check_standing(fresh, now, false).status == Status::pass);
    auto old = established_view(Status::pass, Status::pass, now - Millis(11'000));
    auto st = check_standing(old, now, false);
    CHECK(st.status == Status::fail);
    CHECK(st.output.rfind("stale", 0) == 0);
}

TEST_CASE("standing: damping holds the effective status and says so", "[policy]") {
    auto now = std::chrono::steady_clock::now();
    auto v = established_view(Status::pass, Status::fail, now);
    auto st = check_standing(v, now, false);
    CHECK(st.status == Status::pass);
    CHECK(st.output.find("held by rise/fall") != std::string::npos);
}

TEST_CASE("standing: stuck and setup errors fail", "[policy]") {
    auto now = std::chrono::steady_clock::now();
    auto v = established_view(Status::pass, Status::pass, now);
    v.stuck = true;
    CHECK(check_standing(v, now, false).status == Status::fail);
    CheckView broken;
    broken.setup_error = "redis: bad option";
    CHECK(check_standing(broken, now, true).status == Status::fail);
    CHECK(check_standing(broken, now, true).output == "redis: bad option");
}

TEST_CASE("a pending member is named as pending in the cause", "[policy]") {
    Member m{"redis", Impact::critical, Scope::local, Standing{Status::fail, "pending", Standing::Basis::pending}};
    CHECK(evaluate_group(group(), {m}, Status::warn, false).cause == "redis: pending (critical)");
    // The basis decides, not the text: a plugin whose output begins with "pending" just failed.
    Member said{"redis", Impact::critical, Scope::local, Standing{Status::fail, "pending replication", Standing::Basis::result}};
    CHECK(evaluate_group(group(), {said}, Status::warn, false).cause == "redis: fail (critical)");
}

TEST_CASE("a check a reload added is left out of its groups until it has an effective status", "[policy]") {
    auto now = std::chrono::steady_clock::now();
    CheckView added;
    added.name = "new";
    added.joined_by_reload = true;
    Standing s = check_standing(added, now, false);
    CHECK_FALSE(s.counted);
    CHECK(s.output.rfind("pending", 0) == 0);
    Member m{"new", Impact::critical, Scope::local, s};
    // Neither the plain rule nor a quorum counts it: the group stands on the others.
    CHECK(evaluate_group(group(), {member("a", Status::pass), m}, Status::warn, false).status == Status::pass);
    auto q = evaluate_group(group(1), {member("a", Status::pass), m}, Status::warn, false);
    CHECK(q.status == Status::pass);
    // Once established it counts like any other check, failing status included.
    auto failed = established_view(Status::fail, Status::fail, now);
    failed.joined_by_reload = true;
    CHECK(check_standing(failed, now, false).counted);
    Member f{"new", Impact::critical, Scope::local, check_standing(failed, now, false)};
    CHECK(evaluate_group(group(), {member("a", Status::pass), f}, Status::warn, false).status == Status::fail);
}

TEST_CASE("a check pending since start-up still fails its group", "[policy]") {
    auto now = std::chrono::steady_clock::now();
    CheckView fresh;
    fresh.name = "fresh";
    Standing s = check_standing(fresh, now, false);
    CHECK(s.counted);
    Member m{"fresh", Impact::critical, Scope::local, s};
    CHECK(evaluate_group(group(), {member("a", Status::pass), m}, Status::warn, false).status == Status::fail);
}
