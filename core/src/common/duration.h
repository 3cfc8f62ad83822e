// Durations as the configuration spells them: "250ms", "5s", "1m", "2h", "7d".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace vitals {

using Millis = std::chrono::milliseconds;

// Parses "<integer><unit>" with unit ms|s|m|h|d (e.g. "1500ms", "5s"), or a bare "0".
// Returns nullopt on anything else, including negative or overflowing values.
std::optional<Millis> parse_duration(std::string_view text);

// Shortest exact spelling: 1500 → "1500ms", 5000 → "5s", 60000 → "1m".
std::string format_duration(Millis d);

}  // namespace vitals
