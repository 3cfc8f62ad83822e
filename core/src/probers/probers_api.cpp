#include "probers/probers_api.h"

#include "common/json_out.h"
#include "common/text.h"
#include "common/time_format.h"

#include <arpa/inet.h>

#include <algorithm>

namespace vitals {

bool is_ip_address(const std::string& text) {
    in_addr a4{};
    in6_addr a6{};
    return ::inet_pton(AF_INET, text.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, text.c_str(), &a6) == 1;
}

std::variant<ProbersQuery, QueryError> parse_probers_query(const QueryParams& params) {
    ProbersQuery q;
    std::vector<std::string> seen;
    for (const auto& [key, value] : params) {
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) return QueryError{key, "given more than once"};
        seen.push_back(key);
        if (key == "address") {
            if (!is_ip_address(value)) return QueryError{key, "\"" + value + "\" is not an IP address"};
            q.address = value;
        } else if (key == "path") {
            if (value.rfind("/health", 0) != 0) return QueryError{key, "\"" + value + "\" is not a status path (/health...)"};
            q.path = value;
        } else if (key == "silent") {
            if (value != "true" && value != "false") return QueryError{key, "use true or false"};
            q.silent = value == "true";
        } else {
            return QueryError{key, "unknown parameter; known: address, path, silent"};
        }
    }
    return q;
}

std::string rfc3339_us(int64_t us) { return rfc3339(WallTime(std::chrono::microseconds(us))); }

std::string lb_settings_json(const Config::LoadBalancer& lb) {
    std::string out;
    JsonObject(out)
        .num("interval_ms", int64_t(lb.interval.count()))
        .num("timeout_ms", int64_t(lb.timeout.count()))
        .num("healthy_threshold", int64_t(lb.healthy_threshold))
        .num("unhealthy_threshold", int64_t(lb.unhealthy_threshold))
        .raw("path", lb.path.empty() ? std::string("null") : [&] {
            std::string s;
            append_json_string(s, lb.path);
            return s;
        }())
        .str("match", lb.match_text);
    return out;
}

std::string probers_json(const std::vector<ProberView>& probers, const ProbersQuery& q, const Config::LoadBalancer& lb) {
    std::string items = "[";
    bool first = true;
    for (const auto& p : probers) {
        if (q.address && p.address != *q.address) continue;
        if (q.path && p.path != *q.path) continue;
        if (q.silent && p.silent != *q.silent) continue;
        if (!first) items += ',';
        first = false;
        std::string consecutive;
        JsonObject(consecutive).boolean("healthy", p.consecutive_healthy).num("count", int64_t(p.consecutive));
        JsonObject o(items);
        o.str("address", p.address)
            .str("user_agent", utf8_sanitize(p.user_agent))
            .str("path", utf8_sanitize(p.path))
            .str("first_seen", rfc3339_us(p.first_seen_us))
            .str("last_seen", rfc3339_us(p.last_seen_us))
            .num("probes", uint64_t(p.probes))
            .num("last_code", int64_t(p.last_code))
            .raw("last_latency_ms", p.last_latency_us < 0 ? std::string("null") : [&] {
                std::string v;
                JsonObject(v).dbl("x", double(p.last_latency_us) / 1000.0);
                return v.substr(5, v.size() - 6);  // the number alone, spelled as dbl() spells it
            }())
            .raw("interval_ms", p.interval_ms ? std::to_string(*p.interval_ms) : std::string("null"))
            .raw("consecutive", consecutive)
            .str("state", to_string(p.state));
        if (p.reason.empty())
            o.raw("reason", "null");
        else
            o.str("reason", p.reason);
        o.boolean("silent", p.silent);
    }
    items += ']';
    std::string out;
    JsonObject(out).raw("probers", items).raw("load_balancer", lb_settings_json(lb));
    return out;
}

}  // namespace vitals
