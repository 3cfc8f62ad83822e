#include "history/history_query.h"

#include "common/duration.h"
#include "common/time_format.h"
#include "probers/probers_api.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <regex>
#include <sstream>

namespace vitals {

using Poco::JSON::Array;
using Poco::JSON::Object;

const char* to_string(EventKind k) {
    switch (k) {
    case EventKind::result: return "result";
    case EventKind::transition: return "transition";
    case EventKind::probe: return "probe";
    }
    return "result";
}

std::optional<int64_t> parse_time_param(const std::string& text, int64_t now_ms) {
    if (text.empty()) return std::nullopt;
    if (text[0] == '-') {
        auto d = parse_duration(text.substr(1));
        if (!d) return std::nullopt;
        return now_ms - d->count();
    }
    if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (text.size() > 12) return std::nullopt;  // seconds, not milliseconds
        return std::stoll(text) * 1000;
    }
    static const std::regex re(
        R"(^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$)");
    std::smatch m;
    if (!std::regex_match(text, m, re)) return std::nullopt;
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    int64_t ms = int64_t(timegm(&tm)) * 1000;
    if (m[7].matched) {
        std::string frac = m[7].str().substr(1);
        frac.resize(3, '0');
        ms += std::stoi(frac.substr(0, 3));
    }
    if (m[9].matched) {
        int64_t offset = (std::stoi(m[10]) * 60 + std::stoi(m[11])) * 60'000LL;
        ms += m[9] == "+" ? -offset : offset;
    }
    return ms;
}

std::string encode_cursor(int64_t before_id) {
    // Opaque to clients; versioned so the format can change.
    std::ostringstream s;
    s << "v1." << std::hex << before_id;
    return s.str();
}

std::optional<int64_t> decode_cursor(const std::string& cursor) {
    static const std::regex re("^v1\\.([0-9a-f]{1,15})$");
    std::smatch m;
    if (!std::regex_match(cursor, m, re)) return std::nullopt;
    return std::stoll(m[1], nullptr, 16);
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(s);
    while (std::getline(in, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

std::optional<QueryError> check_names(const std::string& key, const std::string& value, const Config* config,
                                     std::vector<std::string>& names) {
    static const std::regex name_re("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    names = split_commas(value);
    if (names.empty()) return QueryError{key, "empty; give check or group names, comma separated"};
    for (const auto& n : names) {
        if (!std::regex_match(n, name_re)) return QueryError{key, "\"" + n + "\" is not a valid check or group name"};
        if (config && !config->find_group(n) && !config->find_check(n))
            return QueryError{key, "\"" + n + "\" is not a check or group of the configuration"};
    }
    return std::nullopt;
}

std::variant<HistoryQuery, QueryError> parse_history_query(const QueryParams& params, int64_t now_ms,
                                                           const Config* config) {
    HistoryQuery q;
    std::vector<std::string> seen;
    for (const auto& [key, value] : params) {
        if (key != "check") {
            if (std::find(seen.begin(), seen.end(), key) != seen.end())
                return QueryError{key, "given more than once"};
            seen.push_back(key);
        }
        if (key == "check") {
            std::vector<std::string> names;
            if (auto err = check_names(key, value, config, names)) return *err;
            for (const auto& n : names) {
                const GroupConfig* g = config ? config->find_group(n) : nullptr;
                q.checks.push_back(n);
                if (g)
                    for (const auto& member : g->checks) q.checks.push_back(member);
            }
        } else if (key == "status") {
            auto names = split_commas(value);
            if (names.empty()) return QueryError{key, "empty; use pass, warn, fail (comma separated)"};
            for (const auto& n : names) {
                auto s = parse_status(n);
                if (!s) return QueryError{key, "\"" + n + "\" is not a status; use pass, warn, fail"};
                q.statuses.push_back(*s);
            }
        } else if (key == "since" || key == "until") {
            auto t = parse_time_param(value, now_ms);
            if (!t) return QueryError{key, "\"" + value + "\" is not a time; use RFC 3339, unix seconds or -15m"};
            (key == "since" ? q.since_ms : q.until_ms) = *t;
        } else if (key == "kind") {
            auto names = split_commas(value);
            if (names.empty()) return QueryError{key, "empty; use result, transition, probe (comma separated)"};
            for (const auto& n : names) {
                std::optional<EventKind> k;
                for (EventKind e : {EventKind::result, EventKind::transition, EventKind::probe})
                    if (n == to_string(e)) k = e;
                if (!k) return QueryError{key, "\"" + n + "\" is not a kind; use result, transition, probe"};
                if (std::find(q.kinds.begin(), q.kinds.end(), *k) == q.kinds.end()) q.kinds.push_back(*k);
            }
        } else if (key == "prober") {
            if (!is_ip_address(value)) return QueryError{key, "\"" + value + "\" is not an IP address (a prober's address)"};
            q.prober = value;
        } else if (key == "transitions") {
            if (value != "true" && value != "false") return QueryError{key, "use true or false"};
            q.transitions_only = value == "true";
        } else if (key == "limit") {
            bool digits = !value.empty() && value.size() <= 6 &&
                          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
            int n = digits ? std::stoi(value) : 0;
            if (!digits || n < 1 || n > 1000) return QueryError{key, "must be an integer from 1 to 1000"};
            q.limit = n;
        } else if (key == "cursor") {
            auto id = decode_cursor(value);
            if (!id) return QueryError{key, "not a cursor from a previous page's \"next\""};
            q.before_id = *id;
        } else {
            return QueryError{key, "unknown parameter; known: check, status, since, until, kind, prober, transitions, "
                                   "limit, cursor"};
        }
    }
    if (q.transitions_only && !q.kinds.empty() && q.kinds != std::vector<EventKind>{EventKind::transition})
        return QueryError{"transitions", "true selects transitions only; it contradicts kind"};
    if (q.prober && q.kinds.empty()) q.kinds = {EventKind::probe};
    if (q.prober && q.kinds != std::vector<EventKind>{EventKind::probe})
        return QueryError{"prober", "selects probes; use it with kind=probe"};
    if (q.since_ms && q.until_ms && *q.since_ms > *q.until_ms) return QueryError{"since", "is after until"};
    std::sort(q.checks.begin(), q.checks.end());
    q.checks.erase(std::unique(q.checks.begin(), q.checks.end()), q.checks.end());
    return q;
}

std::string history_page_json(const HistoryPage& page) {
    Array::Ptr items = new Array;
    for (const auto& e : page.items) {
        Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        o->set("id", Poco::Int64(e.id));
        o->set("time", rfc3339(WallTime(std::chrono::milliseconds(e.time_ms))));
        o->set("check", e.check);
        o->set("kind", to_string(e.kind));
        o->set("status", to_string(e.status));
        if (e.kind == EventKind::result) {
            static const RunResult none;
            const RunResult& run = e.run ? *e.run : none;
            o->set("raw_status", e.run ? to_string(run.status) : to_string(e.status));
            o->set("duration_ms", e.duration_ms ? Poco::Dynamic::Var(Poco::Int64(*e.duration_ms)) : Poco::Dynamic::Var());
            o->set("output", run.output);
            if (run.observed_value && std::isfinite(*run.observed_value)) {
                o->set("observed_value", *run.observed_value);
                o->set("observed_unit", run.observed_unit);
            } else {
                o->set("observed_value", Poco::Dynamic::Var());
                o->set("observed_unit", Poco::Dynamic::Var());
            }
        } else if (e.kind == EventKind::probe) {
            static const ProbeRow no_row;
            const ProbeRow& p = e.probe ? *e.probe : no_row;
            Object::Ptr prober = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
            prober->set("address", p.address);
            prober->set("user_agent", p.user_agent);
            prober->set("path", p.path);
            o->set("prober", prober);
            o->set("code", p.samples.empty() ? 0 : p.samples[0].code);
            o->set("count", Poco::Int64(p.count));
            auto latency = [](const ProbeSample& s) {  // null: the client closed before the answer
                return s.latency_us < 0 ? Poco::Dynamic::Var() : Poco::Dynamic::Var(double(s.latency_us) / 1000.0);
            };
            o->set("latency_ms", p.samples.empty() ? Poco::Dynamic::Var() : latency(p.samples[0]));
            // Every answer of the row kept one by one (the first is the row's own).
            Array::Ptr answers = new Array;
            for (const auto& s : p.samples) {
                Object::Ptr a = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
                a->set("time", rfc3339(WallTime(std::chrono::microseconds(s.time_us))));
                a->set("code", s.code);
                a->set("latency_ms", latency(s));
                answers->add(a);
            }
            o->set("answers", answers);
        } else {
            o->set("previous", e.previous ? to_string(*e.previous) : "pending");
            o->set("cause", e.cause);
        }
        items->add(o);
    }
    Object::Ptr root = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    root->set("items", items);
    root->set("next", page.next_before_id ? Poco::Dynamic::Var(encode_cursor(*page.next_before_id)) : Poco::Dynamic::Var());
    std::ostringstream os;
    root->stringify(os);
    return os.str();
}

}  // namespace vitals
