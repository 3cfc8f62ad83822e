// Check options judged by the plugins that define the check types: the second step of reading a
// configuration (config/config.h reads its structure without knowing any plugin; app/loading.h loads
// the plugins that structure names, then calls this).
#pragma once

#include "config/config.h"
#include "plugins/registry.h"

#include <string>
#include <vector>

namespace vitals {

// Validates the options of every check of `parsed` against its type's schema in `registry`: no
// unknown option, every required one given, each of its declared type (the rules of
// config/value_reader.h: ${VAR} substitution through `env`, durations with a unit, integers as JSON
// integers), defaults filled in, durations normalised to milliseconds. Sets each valid check's
// options_json. A type the registry does not hold is "checks[i].type: unknown check type ...; known:
// ...".
//
// Returns every problem of the configuration: parsed.errors and those found here, together, in file
// order (a check's type and option errors where its fields' errors are). Empty: the configuration
// is valid. Errors of one check never hide those of another.
std::vector<std::string> validate_check_options(ParsedConfig& parsed, const PluginRegistry& registry,
                                                const EnvLookup& env);

// parse_config_structure then validate_check_options, for text whose plugins are already loaded
// (tests, fuzzing). Throws ConfigError with every problem.
Config parse_config(const std::string& json_text, const EnvLookup& env, const PluginRegistry& registry,
                    const std::string& source = "<config>");

}  // namespace vitals
