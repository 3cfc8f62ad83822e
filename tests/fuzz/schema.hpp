// The option schema of the "fuzz" check type (schema_plugin.cpp): one option of every vitals_option_type,
// with and without defaults, one required and one secret, so that fuzz_config exercises the
// configuration's option validation and normalisation for every type. Shared with sdk_side.cpp,
// which reads the normalised options back through the SDK exactly as a plugin would.
#pragma once

#include <vitals/plugin.hpp>

namespace fuzz_schema {

inline constexpr vitals_option_spec options[] = {
    vitals::option("host", VITALS_OPTION_STRING, nullptr, "a required string", VITALS_OPTION_REQUIRED),
    vitals::option("password", VITALS_OPTION_STRING, nullptr, "a secret string", VITALS_OPTION_SECRET),
    vitals::option("label", VITALS_OPTION_STRING, "\"fuzz\"", "a string with a default"),
    vitals::option("port", VITALS_OPTION_INT, "6379", "an integer with a default"),
    vitals::option("limit", VITALS_OPTION_INT, nullptr, "an integer without a default"),
    vitals::option("ratio", VITALS_OPTION_NUMBER, "0.5", "a number with a default"),
    vitals::option("tls", VITALS_OPTION_BOOL, "false", "a boolean with a default"),
    vitals::option("wait", VITALS_OPTION_DURATION, "\"2s\"", "a duration with a default"),
    vitals::option("command", VITALS_OPTION_STRING_LIST, nullptr, "a list of strings"),
    vitals::option("headers", VITALS_OPTION_STRING_MAP, nullptr, "a map of strings", VITALS_OPTION_SECRET),
};

}  // namespace fuzz_schema
