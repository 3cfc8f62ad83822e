#include "snapshot/snapshot.h"

#include "common/json_out.h"
#include "version.h"

#include <cmath>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace vitals {

namespace {

// One entry of the health+json "checks" map.
void put_component(std::string& out, const CheckView& v, const Standing& st) {
    JsonObject o(out);
    o.str("componentId", v.name).str("componentType", v.component_type);
    if (v.last && v.last->observed_value) {
        double value = *v.last->observed_value;
        if (std::floor(value) == value && std::fabs(value) < 9e15)
            o.num("observedValue", int64_t(value));
        else
            o.dbl("observedValue", value);
        o.str("observedUnit", v.last->observed_unit);
    }
    o.str("status", to_string(st.status));
    if (v.last) o.str("time", rfc3339(v.last->time));
    if (!st.output.empty()) o.str("output", st.output);
}

std::string measurement_key(const CheckView& v) {
    const std::string& m = v.last && !v.last->measurement.empty() ? v.last->measurement : v.default_measurement;
    return v.name + ":" + m;
}

std::string brief_body(Status s) { return std::string("{\"status\":\"") + to_string(s) + "\"}"; }

void put_result(std::string& out, const CheckResult& r) {
    JsonObject o(out);
    o.str("time", rfc3339(r.time)).str("status", to_string(r.status)).num("durationMs", r.duration_ms());
    if (!r.output.empty()) o.str("output", r.output);
    if (r.observed_value) o.dbl("observedValue", *r.observed_value).str("observedUnit", r.observed_unit);
}

// The members every status body starts with: status, version, serviceId.
void put_head(JsonObject& o, Status status, const std::string& service_id) {
    o.str("status", to_string(status)).str("version", VITALS_VERSION).str("serviceId", service_id);
}

// ---- per-check rendering, reused across snapshots while its inputs are unchanged

struct CheckRender {
    // The inputs it was rendered from (holding the view keeps its address from being reused).
    CheckViewPtr view;
    Standing standing;
    std::string service_id;
    // "key":[component] for a "checks" map, and the /health/checks/{name} body.
    std::string entry;
    std::string full;
    uint64_t used = 0;  // generation of the last build that used it
};

void render_check(CheckRender& r) {
    const CheckView& v = *r.view;
    const Standing& st = r.standing;
    r.entry.clear();
    append_json_string(r.entry, measurement_key(v));
    r.entry += ":[";
    put_component(r.entry, v, st);
    r.entry += ']';

    r.full.clear();
    r.full.reserve(600 + r.entry.size() + v.recent.size() * 120);
    JsonObject o(r.full);
    put_head(o, st.status, r.service_id);
    if (!st.output.empty()) o.str("output", st.output);
    o.str("name", v.name).str("type", v.type).str("impact", to_string(v.impact));
    o.str("scope", v.scope == Scope::shared ? "shared" : "local");
    o.str("effectiveStatus", v.established ? to_string(v.effective) : "pending");
    if (v.last) o.str("rawStatus", to_string(v.last->status));
    o.boolean("stuck", v.stuck);
    std::string& checks = o.key("checks");
    checks += '{';
    checks += r.entry;
    checks += '}';
    if (v.last) put_result(o.key("lastResult"), *v.last);
    JsonObject(o.key("counters"))
        .num("runs", v.runs)
        .num("pass", v.passes)
        .num("warn", v.warns)
        .num("fail", v.fails)
        .num("timeouts", v.timeouts);
    JsonObject(o.key("settings"))
        .str("interval", format_duration(v.interval))
        .str("timeout", format_duration(v.timeout))
        .num("rise", int64_t(v.rise))
        .num("fall", int64_t(v.fall))
        .str("staleAfter", format_duration(v.stale_after));
    std::string& recent = o.key("recent");
    recent += '[';
    for (size_t i = 0; i < v.recent.size(); ++i) {
        if (i) recent += ',';
        put_result(recent, v.recent[i]);
    }
    recent += ']';
}

}  // namespace

struct RenderCache::Entries {
    std::unordered_map<std::string, CheckRender> by_name;
    uint64_t generation = 0;
};

RenderCache::RenderCache() : entries_(std::make_unique<Entries>()) {}
RenderCache::~RenderCache() = default;
size_t RenderCache::size() const { return entries_->by_name.size(); }

namespace {

const CheckRender& rendered(RenderCache::Entries& cache, const CheckViewPtr& v, const Standing& st,
                            const std::string& service_id) {
    CheckRender& r = cache.by_name[v->name];
    if (r.view != v || r.standing.status != st.status || r.standing.output != st.output ||
        r.service_id != service_id) {
        r.view = v;
        r.standing = st;
        r.service_id = service_id;
        render_check(r);
    }
    r.used = cache.generation;
    return r;
}

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(const SnapshotInputs& in, RenderCache& render_cache) {
    auto snap = std::make_shared<Snapshot>();
    snap->built = in.wall_now;
    snap->views = *in.views;
    snap->draining = in.draining;
    const Config& cfg = *in.config;
    snap->details = cfg.server.details;
    snap->admin_token_env = cfg.server.admin_token_env;

    RenderCache::Entries& cache = *render_cache.entries_;
    ++cache.generation;

    const std::vector<CheckViewPtr>& views = snap->views;
    std::vector<Standing> standing;
    std::vector<const CheckRender*> renders;
    standing.reserve(views.size());
    renders.reserve(views.size());
    std::unordered_map<std::string_view, size_t> by_name;
    by_name.reserve(views.size());
    for (size_t i = 0; i < views.size(); ++i) {
        by_name.emplace(views[i]->name, i);
        standing.push_back(check_standing(*views[i], in.now, in.in_start_period));
        renders.push_back(&rendered(cache, views[i], standing.back(), in.service_id));
    }

    for (const auto& g : cfg.groups) {
        std::vector<Member> members;
        members.reserve(g.checks.size());
        std::string checks;
        for (const auto& name : g.checks) {
            auto it = by_name.find(name);
            if (it == by_name.end()) continue;
            const CheckView& v = *views[it->second];
            members.push_back({v.name, v.impact, v.scope, standing[it->second]});
            checks += checks.empty() ? '{' : ',';
            checks += renders[it->second]->entry;
        }
        checks += checks.empty() ? "{}" : "}";
        GroupVerdict verdict = evaluate_group(g, members, cfg.policy.shared_fail, in.draining);

        RenderedStatus r;
        r.status = verdict.status;
        r.code = (g.http_status ? *g.http_status : cfg.policy.http_status).code_for(verdict.status);
        r.full.reserve(checks.size() + verdict.cause.size() + 200);
        {
            JsonObject o(r.full);
            put_head(o, verdict.status, in.service_id);
            o.str("description", "vitals health group \"" + g.name + "\"");
            if (verdict.status != Status::pass) o.str("output", verdict.cause);
            o.raw("checks", checks);
        }
        r.brief = brief_body(verdict.status);
        snap->groups[g.name] = std::move(r);
        snap->verdicts[g.name] = verdict;
    }

    for (size_t i = 0; i < views.size(); ++i) {
        RenderedStatus r;
        r.status = standing[i].status;
        r.code = cfg.policy.http_status.code_for(standing[i].status);
        r.full = renders[i]->full;
        r.brief = brief_body(standing[i].status);
        snap->checks[views[i]->name] = std::move(r);
    }

    for (auto it = cache.by_name.begin(); it != cache.by_name.end();)
        it = it->second.used == cache.generation ? std::next(it) : cache.by_name.erase(it);
    return snap;
}

}  // namespace vitals
