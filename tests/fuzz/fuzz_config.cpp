// libFuzzer target: the configuration file path (core/src/config), from raw file text to a Config.
//
// Each input is a configuration file's text. It goes through strip_json_comments, substitute_env
// and parse_config twice: once without a plugin registry (check types and options are not
// validated, as when the daemon peeks at the plugins section) and once with a registry holding the
// "fuzz" check type of schema_plugin.cpp, whose options cover every option type. The options the
// host accepts are then read back through the SDK as a plugin would (sdk_side.cpp), and the raw
// text is also given to the SDK's own JSON reader. Any exception other than ConfigError escaping
// parse_config is a bug (the daemon only catches ConfigError there), and so is a sanitizer report.
// A few properties that must hold for every input are checked too (see the comments below).
#include "common/duration.h"
#include "common/text.h"
#include "config/config.h"
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

void parse(const std::string& text, const vitals::EnvLookup& env, const vitals::PluginRegistry* registry) {
    try {
        vitals::Config cfg = vitals::parse_config(text, env, registry, "fuzz");
        // A valid configuration always has the "default" group, and every group member is a check.
        if (!cfg.find_group("default")) fail("parsed configuration without a default group");
        for (const auto& g : cfg.groups)
            for (const auto& m : g.checks)
                if (!cfg.find_check(m)) fail("group member that is not a check");
        for (const auto& c : cfg.checks) {
            if (c.timeout >= c.interval) fail("accepted a timeout not shorter than the interval");
            if (c.stale_after <= c.interval) fail("stale_after not longer than the interval");
            if (c.type != "fuzz" || !registry) continue;
            // What the host hands the plugin must be readable by the SDK as the schema says.
            std::string sdk_error = fuzz_sdk::read_options(c.options_json);
            if (!sdk_error.empty()) {
                std::fprintf(stderr, "options_json: %s\nSDK: %s\n", c.options_json.c_str(), sdk_error.c_str());
                fail("the SDK cannot read the options the host validated");
            }
        }
        if (verbose()) std::fprintf(stderr, "fuzz_config: valid (%s registry)\n", registry ? "schema" : "no");
    } catch (const vitals::ConfigError& e) {
        if (e.errors().empty()) fail("ConfigError without errors");
        if (verbose()) std::fprintf(stderr, "fuzz_config: %s\n", e.what());
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

    parse(text, env, nullptr);
    parse(text, env, schema_registry());

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
