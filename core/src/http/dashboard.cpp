#include "http/dashboard.h"

#include "common/json_out.h"
#include "common/text.h"

#include "http/compress.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

namespace vitals {

namespace {

// Text for HTML content and attribute values: every character that could end either is an entity.
std::string html(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : utf8_sanitize(std::string(s))) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

// Colour is never the only signal: every status also has a symbol and its word.
const char* icon(Status s) {
    switch (s) {
    case Status::pass: return "\u2714";  // ✔
    case Status::warn: return "\u25B2";  // ▲
    case Status::fail: return "\u2716";  // ✖
    }
    return "?";
}

std::string badge(Status s) {
    return std::string("<span class=\"badge s-") + to_string(s) + "\" data-status=\"" + to_string(s) + "\">" + icon(s) +
           " " + to_string(s) + "</span>";
}

}  // namespace

const std::string& dashboard_asset_gzip(const EmbeddedAsset& asset) {
    static std::mutex mu;
    static std::map<const EmbeddedAsset*, std::string> made;
    std::lock_guard<std::mutex> lock(mu);
    auto it = made.find(&asset);
    if (it == made.end())
        it = made.emplace(&asset, gzip(std::string_view(reinterpret_cast<const char*>(asset.data), asset.size), 9)).first;
    return it->second;
}

std::variant<RecentQuery, QueryError> parse_recent_query(const QueryParams& params, const Config& config) {
    RecentQuery q;
    bool limit_seen = false;
    for (const auto& [key, value] : params) {
        if (key == "check") {
            for (const auto& n : split_commas(value)) {
                if (!config.find_check(n))
                    return QueryError{key, "no check named \"" + n + "\"" +
                                               (config.find_group(n) ? " (a group: groups have no results)" : "")};
                if (std::find(q.checks.begin(), q.checks.end(), n) == q.checks.end()) q.checks.push_back(n);
            }
        } else if (key == "limit") {
            if (limit_seen) return QueryError{key, "given more than once"};
            limit_seen = true;
            bool digits = !value.empty() && value.size() <= 2 &&
                          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
            q.limit = digits ? std::stoi(value) : 0;
            if (q.limit < 1 || q.limit > 60) return QueryError{key, "must be an integer from 1 to 60"};
        } else {
            return QueryError{key, "unknown parameter; known: check, limit"};
        }
    }
    if (q.checks.empty()) return QueryError{"check", "missing; give check names, comma separated"};
    return q;
}

std::string recent_json(const std::vector<std::pair<std::string, HistoryPage>>& pages) {
    std::string out;
    {
        JsonObject root(out);
        std::string& items = root.key("items");
        items += '[';
        for (size_t n = 0; n < pages.size(); ++n) {
            if (n) items += ',';
            JsonObject o(items);
            o.str("check", pages[n].first);
            std::string& results = o.key("results");
            results += '[';
            const auto& events = pages[n].second.items;
            for (auto e = events.rbegin(); e != events.rend(); ++e) {
                if (e != events.rbegin()) results += ',';
                JsonObject r(results);
                r.num("id", e->id).num("time_ms", e->time_ms).str("status", to_string(e->status));
                if (e->duration_ms)
                    r.num("duration_ms", *e->duration_ms);
                else
                    r.key("duration_ms") += "null";
                r.str("output", utf8_sanitize(e->run ? e->run->output : std::string()));
            }
            results += ']';
        }
        items += ']';
    }
    return out;
}

std::string dashboard_page(const Snapshot& snap, bool details) {
    const PublishedGroup& overall = snap.group("default");
    Status st = overall.verdict.status;
    std::string p;
    p.reserve(4096 + snap.checks.size() * 256);
    p += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>vitals: ";
    p += to_string(st);
    p += "</title><link rel=\"stylesheet\" href=\"/dashboard/app.css\">"
         "<link rel=\"icon\" href=\"/dashboard/favicon.svg\" type=\"image/svg+xml\"></head>\n<body data-details=\"";
    p += to_string(snap.details);
    p += "\" data-shown=\"";
    p += details ? "full" : "status";
    p += "\">\n<header><h1>vitals</h1><div id=\"overall\" class=\"overall s-";
    p += to_string(st);
    p += "\" data-status=\"";
    p += to_string(st);
    p += "\">";
    p += badge(st);
    p += "</div>";
    p += "<p id=\"cause\">";
    if (details) p += html(overall.verdict.cause.empty() ? "all counted checks pass" : overall.verdict.cause);
    p += "</p><p id=\"offline\" class=\"offline\" role=\"alert\" hidden>\u26A0 Cannot reach vitals: showing what it "
         "said last. Retrying\u2026</p><p id=\"updated\" class=\"muted\">as of ";
    p += html(rfc3339(snap.built));
    if (snap.draining) p += " \u2014 draining";
    p += "</p></header>\n<main>\n";
    p += "<form id=\"token-form\" hidden><label>Admin token <input id=\"token\" type=\"password\" "
         "autocomplete=\"current-password\"></label> <button type=\"submit\">Show details</button> "
         "<span id=\"token-error\" class=\"muted\"></span></form>\n";
    if (details) {
        p += "<section id=\"groups-section\"><h2>Groups</h2><ul id=\"groups\">";
        for (const auto& g : snap.groups) {
            p += "<li data-group=\"" + html(g->name) + "\">" + badge(g->verdict.status) + " <b>" + html(g->name) +
                 "</b> <span class=\"cause\">" + html(g->verdict.cause) + "</span></li>";
        }
        p += "</ul></section>\n<section id=\"checks-section\"><h2>Checks</h2><div class=\"scroll\"><table id=\"checks\">"
             "<thead><tr><th>check</th><th>status</th><th>last 60 results</th><th>latency</th><th>uptime 24h / 7d / "
             "30d</th><th>last output</th></tr></thead><tbody>";
        for (const auto& c : snap.checks) {
            const std::string name = html(c.view->name);
            p += "<tr data-check=\"" + name + "\"><th scope=\"row\"><a href=\"#check=" + name + "\">" + name +
                 "</a></th><td class=\"status\">" + badge(c.standing.status) +
                 "</td><td class=\"hb\"></td><td class=\"spark\"></td><td class=\"uptime\"></td><td class=\"output\">" +
                 html(c.standing.output) + "</td></tr>";
        }
        p += "</tbody></table></div></section>\n"
             "<section id=\"drill\" hidden></section>\n"
             "<section id=\"transitions-section\"><h2>Recent transitions</h2><ul id=\"transitions\"></ul></section>\n"
             "<section id=\"probers-section\" hidden></section>\n";
    }
    p += "</main><noscript><p class=\"muted\">Reload for fresh status: the page refreshes itself only with "
         "JavaScript.</p></noscript>\n<script src=\"/dashboard/app.js\"></script></body></html>\n";
    return p;
}

std::string dashboard_state_json(const Snapshot& snap, bool details, bool probers) {
    const PublishedGroup& overall = snap.group("default");
    std::string out;
    JsonObject root(out);
    root.str("status", to_string(overall.verdict.status));
    root.boolean("details", details);
    root.str("mode", to_string(snap.details));
    root.str("time", rfc3339(snap.built));
    if (!details) return out;  // (root closes the object)
    root.str("cause", utf8_sanitize(overall.verdict.cause));
    root.boolean("draining", snap.draining);
    root.boolean("probers", probers);
    std::string& groups = root.key("groups");
    groups += '[';
    for (size_t i = 0; i < snap.groups.size(); ++i) {
        if (i) groups += ',';
        JsonObject g(groups);
        g.str("name", snap.groups[i]->name);
        g.str("status", to_string(snap.groups[i]->verdict.status));
        g.str("cause", utf8_sanitize(snap.groups[i]->verdict.cause));
    }
    groups += ']';
    std::string& checks = root.key("checks");
    checks += '[';
    bool first = true;
    for (const auto& c : snap.checks) {
        if (!first) checks += ',';
        first = false;
        JsonObject o(checks);
        o.str("name", c.view->name);
        o.str("type", c.view->type);
        o.str("status", to_string(c.standing.status));
        o.str("output", utf8_sanitize(c.standing.output));
        o.str("impact", to_string(c.view->impact));
        o.num("interval_ms", int64_t(c.view->interval.count()));
        if (c.view->last) {
            o.str("time", rfc3339(c.view->last->time));
            o.num("time_ms", unix_ms(c.view->last->time));
            o.num("duration_ms", c.view->last->duration_ms());
        }
    }
    checks += ']';
    return out;
}

}  // namespace vitals
