// Wall-clock time formatting for responses and logs.
#pragma once

#include <chrono>
#include <string>

namespace vitals {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

// RFC 3339 in UTC with milliseconds: "2026-11-24T01:30:36.123Z".
std::string rfc3339(WallTime t);

}  // namespace vitals
