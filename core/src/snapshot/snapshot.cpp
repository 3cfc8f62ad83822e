#include "snapshot/snapshot.h"

#include "version.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cmath>
#include <sstream>

namespace vitals {

using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

std::string to_json(const Object::Ptr& o) {
    std::ostringstream os;
    o->stringify(os);
    return os.str();
}

Object::Ptr ordered() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

// One entry of the health+json "checks" map.
Object::Ptr component(const CheckView& v, const Standing& st) {
    Object::Ptr c = ordered();
    c->set("componentId", v.name);
    c->set("componentType", v.component_type);
    if (v.last && v.last->observed_value) {
        double value = *v.last->observed_value;
        if (std::floor(value) == value && std::fabs(value) < 9e15)
            c->set("observedValue", Poco::Int64(value));
        else
            c->set("observedValue", value);
        c->set("observedUnit", v.last->observed_unit);
    }
    c->set("status", to_string(st.status));
    if (v.last) c->set("time", rfc3339(v.last->time));
    if (!st.output.empty()) c->set("output", st.output);
    return c;
}

std::string measurement_key(const CheckView& v) {
    std::string m = v.last && !v.last->measurement.empty() ? v.last->measurement : v.default_measurement;
    return v.name + ":" + m;
}

std::string brief_body(Status s) { return std::string("{\"status\":\"") + to_string(s) + "\"}"; }

Object::Ptr result_json(const CheckResult& r) {
    Object::Ptr o = ordered();
    o->set("time", rfc3339(r.time));
    o->set("status", to_string(r.status));
    o->set("durationMs", Poco::Int64(r.duration.count()));
    if (!r.output.empty()) o->set("output", r.output);
    if (r.observed_value) {
        o->set("observedValue", *r.observed_value);
        o->set("observedUnit", r.observed_unit);
    }
    return o;
}

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(const SnapshotInputs& in) {
    auto snap = std::make_shared<Snapshot>();
    snap->built = in.wall_now;
    snap->views = *in.views;
    snap->draining = in.draining;
    const Config& cfg = *in.config;

    std::map<std::string, const CheckView*> by_name;
    std::map<std::string, Standing> standing;
    std::map<std::string, Impact> impact;
    for (const auto& v : snap->views) {
        by_name[v.name] = &v;
        standing[v.name] = check_standing(v, in.now, in.in_start_period);
    }
    for (const auto& c : cfg.checks) impact[c.name] = c.impact;

    for (const auto& g : cfg.groups) {
        std::vector<Member> members;
        Object::Ptr checks = ordered();
        for (const auto& name : g.checks) {
            auto it = by_name.find(name);
            if (it == by_name.end()) continue;
            const CheckView& v = *it->second;
            members.push_back({v.name, v.impact, v.scope, standing[name]});
            Array::Ptr arr = new Array;
            arr->add(component(v, standing[name]));
            checks->set(measurement_key(v), arr);
        }
        GroupVerdict verdict = evaluate_group(g, members, cfg.policy.shared_fail, in.draining);
        Object::Ptr body = ordered();
        body->set("status", to_string(verdict.status));
        body->set("version", VITALS_VERSION);
        body->set("serviceId", in.service_id);
        body->set("description", "vitals health group \"" + g.name + "\"");
        if (verdict.status != Status::pass) body->set("output", verdict.cause);
        body->set("checks", checks);

        RenderedStatus r;
        r.status = verdict.status;
        r.code = (g.http_status ? *g.http_status : cfg.policy.http_status).code_for(verdict.status);
        r.full = to_json(body);
        r.brief = brief_body(verdict.status);
        snap->groups[g.name] = std::move(r);
        snap->verdicts[g.name] = verdict;
    }

    for (const auto& v : snap->views) {
        const Standing& st = standing[v.name];
        Object::Ptr body = ordered();
        body->set("status", to_string(st.status));
        body->set("version", VITALS_VERSION);
        body->set("serviceId", in.service_id);
        if (!st.output.empty()) body->set("output", st.output);
        body->set("name", v.name);
        body->set("type", v.type);
        body->set("impact", to_string(v.impact));
        body->set("scope", v.scope == Scope::shared ? "shared" : "local");
        body->set("effectiveStatus", v.established ? to_string(v.effective) : "pending");
        if (v.last) body->set("rawStatus", to_string(v.last->status));
        body->set("stuck", v.stuck);
        Object::Ptr checks = ordered();
        Array::Ptr arr = new Array;
        arr->add(component(v, st));
        checks->set(measurement_key(v), arr);
        body->set("checks", checks);
        if (v.last) body->set("lastResult", result_json(*v.last));
        Object::Ptr counters = ordered();
        counters->set("runs", Poco::UInt64(v.runs));
        counters->set("pass", Poco::UInt64(v.passes));
        counters->set("warn", Poco::UInt64(v.warns));
        counters->set("fail", Poco::UInt64(v.fails));
        counters->set("timeouts", Poco::UInt64(v.timeouts));
        body->set("counters", counters);
        Object::Ptr settings = ordered();
        settings->set("interval", format_duration(v.interval));
        settings->set("timeout", format_duration(v.timeout));
        settings->set("rise", v.rise);
        settings->set("fall", v.fall);
        settings->set("staleAfter", format_duration(v.stale_after));
        body->set("settings", settings);
        Array::Ptr recent = new Array;
        for (const auto& r : v.recent) recent->add(result_json(r));
        body->set("recent", recent);

        RenderedStatus r;
        r.status = st.status;
        r.code = cfg.policy.http_status.code_for(st.status);
        r.full = to_json(body);
        r.brief = brief_body(st.status);
        snap->checks[v.name] = std::move(r);
    }
    return snap;
}

}  // namespace vitals
