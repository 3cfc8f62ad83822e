// libFuzzer target: the configuration file path (core/src/config), from raw file text to a Config.
//
// Each input is a configuration file's text. It goes through strip_json_comments, substitute_env,
// the structure parse (parse_config_structure, which knows no plugin, as the loader's one read of
// the file), then the option validation (validate_check_options) against a registry holding the
// "fuzz" check type of schema_plugin.cpp, whose options cover every option type, as the loader does
// once the plugins are loaded. The options the host accepts are then read back through the SDK as a
// plugin would (sdk_side.cpp), and the raw text is also given to the SDK's own JSON reader. Any
// exception escaping either step is a bug (the loader catches none there), and so is a sanitizer
// report. A few properties that must hold for every input are checked too (see the comments below).
#include "common/duration.h"
#include "common/text.h"
#include "config/config.h"
#include "plugins/option_schema.h"
#include "plugins/registry.h"
#include "sdk_side.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#ifndef FUZZ_SCHEMA_PLUGIN
#error "build with -DFUZZ_SCHEMA_PLUGIN=\"<path of schema_plugin.so>\""
#endif

namespace {

// A fixed environment: a few variables set, one set but empty, everything else unset.
std::optional<std::string> fuzz_env(const std::string& name) {
    if (name == "VITALS_PORT") return std::string("8081");
    if (name == "HOST") return std::string("127.0.0.1");
    if (name == "EMPTY") return std::string();
    if (name == "TOKEN") return std::string("s3cret");
    return std::nullopt;
}

void fail(const char* what) {
    std::fprintf(stderr, "fuzz_config: %s\n", what);
    std::abort();
}

const vitals::PluginRegistry* schema_registry() {
    static std::shared_ptr<vitals::PluginRegistry> registry = [] {
        auto r = std::make_shared<vitals::PluginRegistry>();
        std::string reason;
        if (!r->load_file(FUZZ_SCHEMA_PLUGIN, false, reason)) {
            std::fprintf(stderr, "fuzz_config: cannot load %s: %s\n", FUZZ_SCHEMA_PLUGIN, reason.c_str());
            std::abort();
        }
        return r;
    }();
    return registry.get();
}

// FUZZ_VERBOSE=1: say whether each input parsed and why not (to check seed inputs).
bool verbose() {
    static const bool v = std::getenv("FUZZ_VERBOSE") != nullptr;
    return v;
}

// A configuration that passed: the properties every valid one has.
void check_valid(const vitals::Config& cfg, bool options_validated) {
    // A valid configuration always has the "default" group, and every group member is a check.
    if (!cfg.find_group("default")) fail("parsed configuration without a default group");
    for (const auto& g : cfg.groups)
        for (const auto& m : g.checks)
            if (!cfg.find_check(m)) fail("group member that is not a check");
    for (const auto& c : cfg.checks) {
        if (c.timeout >= c.interval) fail("accepted a timeout not shorter than the interval");
        if (c.stale_after <= c.interval) fail("stale_after not longer than the interval");
        if (!options_validated) {
            if (!c.options_json.empty()) fail("options_json set before the options were validated");
            continue;
        }
        if (c.type != "fuzz") fail("a check of a type the registry does not hold passed");
        // What the host hands the plugin must be readable by the SDK as the schema says.
        std::string sdk_error = fuzz_sdk::read_options(c.options_json);
        if (!sdk_error.empty()) {
            std::fprintf(stderr, "options_json: %s\nSDK: %s\n", c.options_json.c_str(), sdk_error.c_str());
            fail("the SDK cannot read the options the host validated");
        }
    }
}

void parse(const std::string& text, const vitals::EnvLookup& env) {
    vitals::ParsedConfig parsed = vitals::parse_config_structure(text, env, "fuzz");
    const std::vector<std::string> structure_errors = parsed.errors;
    // The plugins the loader would load: every type of a check that was read.
    if (parsed.check_types)
        for (const auto& o : parsed.options)
            if (!parsed.check_types->count(o.type)) fail("a check's type is missing from check_types");
    if (structure_errors.empty()) check_valid(parsed.config, false);

    std::vector<std::string> errors = vitals::validate_check_options(parsed, *schema_registry(), env);
    // Option validation adds errors and never drops one of the structure's, in the same order.
    size_t next = 0;
    for (const auto& e : errors)
        if (next < structure_errors.size() && e == structure_errors[next]) ++next;
    if (next != structure_errors.size()) fail("validate_check_options lost a structure error");
    if (errors.empty()) {
        check_valid(parsed.config, true);
        if (verbose()) std::fprintf(stderr, "fuzz_config: valid\n");
    } else if (verbose()) {
        std::fprintf(stderr, "fuzz_config: %s\n", vitals::ConfigError(errors).what());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const vitals::EnvLookup env = fuzz_env;

    // Comments become spaces, newlines stay: positions in error messages still hold.
    std::string stripped = vitals::strip_json_comments(text);
    if (stripped.size() != text.size()) fail("strip_json_comments changed the length");
    for (size_t i = 0; i < text.size(); ++i)
        if ((text[i] == '\n') != (stripped[i] == '\n')) fail("strip_json_comments moved a newline");

    std::vector<std::string> errors;
    vitals::substitute_env(text, env, "fuzz", errors);

    // The SDK's own JSON reader, on arbitrary text.
    fuzz_sdk::sdk_parses(text);

    parse(text, env);

    // Durations: whatever parses is non-negative and survives format_duration → parse_duration.
    if (size <= 32) {
        if (auto d = vitals::parse_duration(text)) {
            if (d->count() < 0) fail("parse_duration returned a negative duration");
            auto again = vitals::parse_duration(vitals::format_duration(*d));
            if (!again || *again != *d) fail("format_duration does not round-trip");
        }
    }

    // utf8_sanitize: its output is stable under a second pass (i.e. valid UTF-8 by its own rules).
    std::string clean = vitals::utf8_sanitize(text);
    if (vitals::utf8_sanitize(clean) != clean) fail("utf8_sanitize is not idempotent");
    return 0;
}
