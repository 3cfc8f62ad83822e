#include "snapshot/snapshot.h"

#include "common/json_out.h"
#include "version.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>

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

}  // namespace

size_t RenderedStatus::full_size() const {
    size_t n = full_head.size() + full_tail.size();
    for (const auto& p : full_parts) n += p->size();
    return n;
}

std::string RenderedStatus::full() const {
    std::string out;
    out.reserve(full_size());
    out += full_head;
    for (const auto& p : full_parts) out += *p;
    out += full_tail;
    return out;
}

PublishedCheckPtr publish_check(CheckViewPtr view, const Standing& st, int code, const std::string& service_id,
                                const PublishedCheck* previous) {
    auto pc = std::make_shared<PublishedCheck>();
    const CheckView& v = *view;
    pc->view = std::move(view);
    pc->standing = st;
    std::string& entry = pc->entry;
    append_json_string(entry, measurement_key(v));
    entry += ":[";
    put_component(entry, v, st);
    entry += ']';

    RenderedStatus& r = pc->rendered;
    r.status = st.status;
    r.code = code;
    r.brief = brief_body(st.status);
    std::string& full = r.full_head;
    pc->recent_json.reserve(v.recent.size());
    size_t recent_size = 2;
    for (size_t i = 0; i < v.recent.size(); ++i) {
        std::shared_ptr<const std::string> json;
        if (previous) {
            // The same result object, usually one place further down than before.
            const auto& before = previous->view->recent;
            for (size_t j = i ? i - 1 : 0; j < before.size() && j < previous->recent_json.size(); ++j)
                if (before[j] == v.recent[i]) {
                    json = previous->recent_json[j];
                    break;
                }
        }
        if (!json) {
            auto s = std::make_shared<std::string>();
            put_result(*s, *v.recent[i]);
            json = std::move(s);
        }
        recent_size += json->size() + 1;
        pc->recent_json.push_back(std::move(json));
    }
    full.reserve(600 + 2 * entry.size() + recent_size);
    JsonObject o(full);
    put_head(o, st.status, service_id);
    if (!st.output.empty()) o.str("output", st.output);
    o.str("name", v.name).str("type", v.type).str("impact", to_string(v.impact));
    o.str("scope", v.scope == Scope::shared ? "shared" : "local");
    o.str("effectiveStatus", v.established ? to_string(v.effective) : "pending");
    if (v.last) o.str("rawStatus", to_string(v.last->status));
    o.boolean("stuck", v.stuck);
    std::string& checks = o.key("checks");
    checks += '{';
    checks += entry;
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
    for (size_t i = 0; i < pc->recent_json.size(); ++i) {
        if (i) recent += ',';
        recent += *pc->recent_json[i];
    }
    recent += ']';
    return pc;
}

void render_group_ends(RenderedStatus& r, const std::string& group, const GroupVerdict& verdict,
                       const std::string& service_id) {
    r.status = verdict.status;
    r.brief = brief_body(verdict.status);
    r.full_head.clear();
    {
        JsonObject o(r.full_head);
        put_head(o, verdict.status, service_id);
        o.str("description", "vitals health group \"" + group + "\"");
        if (verdict.status != Status::pass) o.str("output", verdict.cause);
        o.raw("checks", "{");
    }
    // The object is closed by the tail: "checks" is its last member, the parts its entries.
    r.full_head.pop_back();  // the '}' JsonObject closed it with
    r.full_tail = "}}";
}

void CheckList::assign(const std::vector<PublishedCheckPtr>& all) {
    chunks_.clear();
    size_ = all.size();
    for (size_t i = 0; i < all.size(); i += kChunk)
        chunks_.push_back(std::make_shared<const Chunk>(all.begin() + i, all.begin() + std::min(all.size(), i + kChunk)));
}

void CheckList::replace(std::vector<std::pair<size_t, PublishedCheckPtr>> changes) {
    std::sort(changes.begin(), changes.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t k = 0; k < changes.size();) {
        size_t c = changes[k].first / kChunk;
        auto copy = std::make_shared<Chunk>(*chunks_[c]);  // snapshots holding the old chunk keep it
        for (; k < changes.size() && changes[k].first / kChunk == c; ++k)
            (*copy)[changes[k].first % kChunk] = std::move(changes[k].second);
        chunks_[c] = std::move(copy);
    }
}

size_t CheckList::chunks_shared_with(const CheckList& other) const {
    size_t n = 0;
    for (size_t i = 0; i < chunks_.size() && i < other.chunks_.size(); ++i) n += chunks_[i] == other.chunks_[i];
    return n;
}

const PublishedCheck* Snapshot::find_check(const std::string& name) const {
    if (!index) return nullptr;
    auto it = index->checks.find(name);
    return it == index->checks.end() ? nullptr : &checks[it->second];
}

const PublishedGroup* Snapshot::find_group(const std::string& name) const {
    if (!index) return nullptr;
    auto it = index->groups.find(name);
    return it == index->groups.end() ? nullptr : groups[it->second].get();
}

const PublishedGroup& Snapshot::group(const std::string& name) const {
    const PublishedGroup* g = find_group(name);
    if (!g) throw std::out_of_range("no group named " + name);
    return *g;
}

}  // namespace vitals
