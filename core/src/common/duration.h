// Durations as the configuration spells them: "250ms", "5s", "1m", "2h", "7d".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vitals {

using Millis = std::chrono::milliseconds;

// The longest duration the configuration accepts: 2^40 ms, about 35 years. Sums and small multiples
// of durations (stale_after = 3 × interval + timeout, now − duration) then cannot overflow.
constexpr Millis kMaxDuration{int64_t(1) << 40};

// Parses "<integer><unit>" with unit ms|s|m|h|d (e.g. "1500ms", "5s"), or a bare "0".
// Returns nullopt on anything else, including negative values and values above kMaxDuration.
std::optional<Millis> parse_duration(std::string_view text);

// Shortest exact spelling: 1500 → "1500ms", 5000 → "5s", 60000 → "1m".
std::string format_duration(Millis d);

}  // namespace vitals
