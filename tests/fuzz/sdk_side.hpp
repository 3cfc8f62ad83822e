// The SDK's side of the options hand-off, for fuzz_config: what a plugin does with the options the
// host normalised. In its own translation unit because <vitals/plugin.hpp> and the core headers both
// declare vitals::Status.
#pragma once

#include <string>

namespace fuzz_sdk {

// Parses `text` with the SDK's JSON reader (<vitals/detail/json.hpp>). False when it rejects it
// (std::runtime_error); any other exception propagates.
bool sdk_parses(const std::string& text);

// Reads every option of schema.hpp from `options_json` (a CheckConfig::options_json of type "fuzz")
// with vitals::Options' typed accessors, as a plugin's constructor would. Returns "" on success, else
// what the SDK threw.
std::string read_options(const std::string& options_json);

}  // namespace fuzz_sdk
