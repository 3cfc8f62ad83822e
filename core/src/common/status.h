// Check and group status values shared by every part of the daemon.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vitals {

// Ordered by severity: a "worse" status compares greater.
enum class Status { pass = 0, warn = 1, fail = 2 };

inline const char* to_string(Status s) {
    switch (s) {
    case Status::pass: return "pass";
    case Status::warn: return "warn";
    case Status::fail: return "fail";
    }
    return "fail";
}

inline std::optional<Status> parse_status(std::string_view s) {
    if (s == "pass") return Status::pass;
    if (s == "warn") return Status::warn;
    if (s == "fail") return Status::fail;
    return std::nullopt;
}

inline Status worst(Status a, Status b) { return a > b ? a : b; }

}  // namespace vitals
