// GET /health/probers (SPEC §9): its parameters and its answer.
#pragma once

#include "history/history_query.h"
#include "probers/prober_record.h"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace vitals {

struct ProbersQuery {
    std::optional<std::string> address;  // only this client address
    std::optional<std::string> path;     // only probes of this path
    std::optional<bool> silent;          // only silent (true) or only active (false) probers
};

// Validated like history's parameters: an unknown, repeated or malformed one is a QueryError naming it.
std::variant<ProbersQuery, QueryError> parse_probers_query(const QueryParams& params);

// Whether `text` is an IPv4 or IPv6 address (what a prober's address is).
bool is_ip_address(const std::string& text);

// {"probers": [...], "load_balancer": {...}}
std::string probers_json(const std::vector<ProberView>& probers, const ProbersQuery& q, const Config::LoadBalancer& lb);

// A unix-microsecond time as RFC 3339 with milliseconds.
std::string rfc3339_us(int64_t us);

// {"interval_ms", "timeout_ms", "healthy_threshold", "unhealthy_threshold", "path", "match"}
std::string lb_settings_json(const Config::LoadBalancer& lb);

}  // namespace vitals
