// spdlog set-up: one logger to stderr, text or one JSON object per line (SPEC §7).
#pragma once

#include <string>

namespace vitals {

// `level`: trace|debug|info|warn|error|off. `format`: text|json. Safe to call again (reload).
void setup_logging(const std::string& level, const std::string& format);

}  // namespace vitals
