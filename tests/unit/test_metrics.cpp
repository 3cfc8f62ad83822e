// /metrics for fleet questions (SPEC §8, §11; issue 17): the info series rules join on, the
// transition counters, and the reload timestamp, rendered from a real publisher's snapshot.
#include "metrics/metrics.h"
#include "published.h"

#include <catch2/catch.hpp>

#include <chrono>

using namespace vitals;

namespace {

CheckViewPtr view(const std::string& name, const std::string& type, Impact impact, Scope scope, Status s,
                  uint64_t transitions) {
    CheckView v;
    v.name = name;
    v.type = type;
    v.impact = impact;
    v.scope = scope;
    v.interval = Millis(1000);
    v.timeout = Millis(500);
    v.stale_after = Millis(3500);
    v.established = true;
    v.effective = s;
    v.transitions = transitions;
    CheckResult r;
    r.status = s;
    r.time = std::chrono::system_clock::now();
    r.mono_time = std::chrono::steady_clock::now();
    v.last = r;
    return std::make_shared<const CheckView>(std::move(v));
}

std::string render(const std::vector<CheckViewPtr>& views, const RuntimeCounters& rc = {}) {
    GroupConfig alb;
    alb.name = "alb";
    alb.checks = {views.front()->name};
    HttpCounters http;
    return render_metrics(*publish_views(views, {alb}), rc, http);
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("vitals_check_info names each check's type, impact and scope, for rules to join on", "[metrics]") {
    std::string text = render({view("ws", "websocket", Impact::critical, Scope::local, Status::pass, 0),
                               view("redis", "redis", Impact::degraded, Scope::shared, Status::fail, 0),
                               view("odd\"name", "tcp", Impact::ignore, Scope::local, Status::pass, 0)});
    CHECK(has_line(text, "# TYPE vitals_check_info gauge"));
    CHECK(has_line(text, R"(vitals_check_info{check="ws",type="websocket",impact="critical",scope="local"} 1)"));
    CHECK(has_line(text, R"(vitals_check_info{check="redis",type="redis",impact="degraded",scope="shared"} 1)"));
    CHECK(has_line(text, R"(vitals_check_info{check="odd\"name",type="tcp",impact="ignore",scope="local"} 1)"));
    CHECK(has_line(text, R"(vitals_group_info{group="default"} 1)"));
    CHECK(has_line(text, R"(vitals_group_info{group="alb"} 1)"));
}

TEST_CASE("transition counters carry the check's count and the group's", "[metrics]") {
    std::string text = render({view("ws", "websocket", Impact::critical, Scope::local, Status::pass, 7),
                               view("redis", "redis", Impact::critical, Scope::shared, Status::pass, 0)});
    CHECK(has_line(text, "# TYPE vitals_check_transitions_total counter"));
    CHECK(has_line(text, R"(vitals_check_transitions_total{check="ws"} 7)"));
    CHECK(has_line(text, R"(vitals_check_transitions_total{check="redis"} 0)"));
    CHECK(has_line(text, "# TYPE vitals_group_transitions_total counter"));
    CHECK(has_line(text, R"(vitals_group_transitions_total{group="alb"} 0)"));
}

TEST_CASE("the reload metrics: success flag and the time of the last successful load", "[metrics]") {
    RuntimeCounters rc;
    rc.last_reload_ok = false;
    rc.last_reload_success_seconds = 1764590400.25;
    std::string text = render({view("ws", "websocket", Impact::critical, Scope::local, Status::pass, 0)}, rc);
    CHECK(has_line(text, "vitals_config_last_reload_successful 0"));
    CHECK(has_line(text, "# TYPE vitals_config_last_reload_success_timestamp_seconds gauge"));
    CHECK(has_line(text, "vitals_config_last_reload_success_timestamp_seconds 1764590400.25"));
}
