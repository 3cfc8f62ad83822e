#include "common/duration.h"

#include <cstdint>
#include <limits>

namespace vitals {

std::optional<Millis> parse_duration(std::string_view text) {
    size_t i = 0;
    const uint64_t max_ms = uint64_t(kMaxDuration.count());
    uint64_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        value = value * 10 + uint64_t(text[i] - '0');
        if (value > max_ms) return std::nullopt;
        ++i;
    }
    if (i == 0) return std::nullopt;
    std::string_view unit = text.substr(i);
    uint64_t scale;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else if (unit == "d") scale = 86'400'000;
    else if (unit.empty() && value == 0) scale = 1;
    else return std::nullopt;
    if (value > max_ms / scale) return std::nullopt;  // "150000000000d" must not wrap around
    return Millis(int64_t(value * scale));
}

std::string format_duration(Millis d) {
    int64_t ms = d.count();
    if (ms != 0) {
        if (ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
        if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
        if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
        if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    }
    return std::to_string(ms) + "ms";
}

}  // namespace vitals
