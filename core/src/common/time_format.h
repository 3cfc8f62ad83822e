// Wall-clock time formatting for responses and logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace vitals {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

// RFC 3339 in UTC with milliseconds: "2026-11-24T01:30:36.123Z".
std::string rfc3339(WallTime t);

// Milliseconds since the Unix epoch (history rows, query bounds, timestamps in answers).
inline int64_t unix_ms(WallTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline int64_t unix_now_ms() { return unix_ms(std::chrono::system_clock::now()); }

}  // namespace vitals
