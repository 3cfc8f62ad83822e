#include "app/loading.h"
#include "config/config.h"
#include "plugins/option_schema.h"
#include "plugins/registry.h"

#include <catch2/catch.hpp>

#include <iterator>
#include <map>
#include <set>

#include <unistd.h>

using namespace vitals;

namespace {

// The built-in plugins plus the fault fixtures: real schemas to validate against.
const PluginRegistry& registry() {
    static std::shared_ptr<PluginRegistry> reg = [] {
        auto r = PluginRegistry::scan({VITALS_BUILTIN_PLUGIN_DIR}, true, true);
        std::string why;
        if (!r->load_file(std::string(VITALS_FIXTURE_DIR) + "/faults.so", true, why)) FAIL(why);
        return r;
    }();
    return *reg;
}

EnvLookup env(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

Config parse(const std::string& text, std::map<std::string, std::string> vars = {}) {
    return parse_config(text, env(vars), registry(), "test.json");
}

std::vector<std::string> errors_of(const std::string& text, std::map<std::string, std::string> vars = {}) {
    try {
        parse(text, vars);
    } catch (const ConfigError& e) {
        return e.errors();
    }
    return {};
}

bool has_error(const std::vector<std::string>& errors, const std::string& prefix, const std::string& words = "") {
    for (const auto& e : errors)
        if (e.rfind(prefix, 0) == 0 && e.find(words) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("a minimal configuration gets every default", "[config]") {
    Config c = parse(R"({"checks": []})");
    CHECK(c.server.address == "0.0.0.0");
    CHECK(c.server.port == 8081);
    CHECK(c.server.details == Details::loopback);
    CHECK(c.server.admin_token_env == "VITALS_ADMIN_TOKEN");
    CHECK(c.history.path == "var/vitals.db");
    CHECK(c.history.retention == Millis(7LL * 86'400'000));
    CHECK(c.history.max_rows == 1'000'000);
    CHECK(c.policy.start_period == Millis(0));
    CHECK(c.policy.shared_fail == Status::warn);
    CHECK(c.shutdown.drain == Millis(0));
    REQUIRE(c.groups.size() == 1);
    CHECK(c.groups[0].name == "default");
}

TEST_CASE("checks get interval, timeout, rise/fall and stale_after defaults", "[config]") {
    Config c = parse(R"({"checks": [{"name": "root", "type": "disk"}]})");
    REQUIRE(c.checks.size() == 1);
    const CheckConfig& k = c.checks[0];
    CHECK(k.interval == Millis(10'000));
    CHECK(k.timeout == Millis(2'000));
    CHECK(k.rise == 1);
    CHECK(k.fall == 1);
    CHECK(k.impact == Impact::critical);
    CHECK(k.stale_after == Millis(32'000));  // 3 × interval + timeout
    CHECK(c.groups[0].checks == std::vector<std::string>{"root"});
}

TEST_CASE("options are validated, defaults filled in and durations normalised to ms", "[config]") {
    Config c = parse(R"({"checks": [
        {"name": "s", "type": "fixture_sleep", "options": {"ms": "1s"}},
        {"name": "t", "type": "tcp", "options": {"host": "127.0.0.1", "port": "${PORT:-6379}"}}]})");
    CHECK(c.checks[0].options_json.find("\"ms\":1000") != std::string::npos);
    CHECK(c.checks[0].options_json.find("\"status\":\"pass\"") != std::string::npos);
    CHECK(c.checks[1].options_json.find("\"port\":6379") != std::string::npos);
}

TEST_CASE("comments are allowed, also inside lines, but not inside strings", "[config]") {
    Config c = parse("// top\n{ /* block */ \"checks\": [ // trailing\n"
                     "{\"name\": \"t\", \"type\": \"tcp\", \"options\": {\"host\": \"http://x//y\", \"port\": 1}}]}");
    CHECK(c.checks[0].options_json.find("http://x//y") != std::string::npos);
}

TEST_CASE("environment variables are substituted in strings", "[config]") {
    std::vector<std::string> errors;
    auto e = env({{"HOST", "redis.internal"}, {"EMPTY", ""}});
    CHECK(substitute_env("${HOST}:6379", e, "p", errors) == "redis.internal:6379");
    CHECK(substitute_env("${MISSING:-fallback}", e, "p", errors) == "fallback");
    CHECK(substitute_env("${EMPTY:-fallback}", e, "p", errors) == "fallback");
    CHECK(substitute_env("${EMPTY}", e, "p", errors).empty());
    CHECK(substitute_env("cost $5 and $${LITERAL}", e, "p", errors) == "cost $5 and ${LITERAL}");
    CHECK(errors.empty());
    substitute_env("${MISSING}", e, "checks[0].options.host", errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].rfind("checks[0].options.host: environment variable MISSING is not set", 0) == 0);
}

TEST_CASE("every error is reported at once, each with its path", "[config]") {
    auto errors = errors_of(R"({
        "serverr": {},
        "server": {"port": 70000, "details": "sometimes"},
        "log": {"level": "loud"},
        "checks": [
            {"name": "a", "type": "disk", "interval": "5x"},
            {"name": "b", "type": "tcp", "options": {"host": "h", "port": 1, "prot": 2}},
            {"name": "c", "type": "nosuch"},
            {"name": "d", "type": "disk", "interval": "1s", "timeout": "1s"},
            {"name": "e", "type": "tcp", "options": {"host": "${NOPE}", "port": 1}},
            {"name": "a", "type": "disk"},
            {"type": "disk"}
        ],
        "groups": {"history": {"checks": ["a"]}, "g": {"checks": ["zz"], "quorum": 3}}
    })");
    CHECK(has_error(errors, "serverr: unknown key"));
    CHECK(has_error(errors, "server.port: must be between 0 and 65535"));
    CHECK(has_error(errors, "server.details: invalid value"));
    CHECK(has_error(errors, "log.level: invalid value"));
    CHECK(has_error(errors, "checks[0].interval: invalid duration"));
    CHECK(has_error(errors, "checks[1].options.prot: unknown option", "known: host, port"));
    CHECK(has_error(errors, "checks[2].type: unknown check type \"nosuch\"", "disk"));
    CHECK(has_error(errors, "checks[3].timeout: must be shorter than the interval"));
    CHECK(has_error(errors, "checks[4].options.host: environment variable NOPE is not set"));
    CHECK(has_error(errors, "checks[5].name: duplicate check name"));
    CHECK(has_error(errors, "checks[6].name: required"));
    CHECK(has_error(errors, "groups.history: \"history\" is reserved"));
    CHECK(has_error(errors, "groups.g.checks[0]: no check named \"zz\""));
    CHECK(has_error(errors, "groups.g.quorum:"));
    CHECK(errors.size() >= 14);
}

TEST_CASE("required options and wrong option types are errors", "[config]") {
    auto errors = errors_of(R"({"checks": [
        {"name": "t", "type": "tcp", "options": {"port": "not a number"}},
        {"name": "d", "type": "disk", "options": {"write_probe": "maybe", "path": 5}}]})");
    CHECK(has_error(errors, "checks[0].options.host: required option is missing"));
    CHECK(has_error(errors, "checks[0].options.port: expected an integer"));
    CHECK(has_error(errors, "checks[1].options.write_probe: expected a boolean, got a string (\"maybe\")"));
    CHECK(has_error(errors, "checks[1].options.path: expected a string"));
}

TEST_CASE("malformed JSON is one clear error", "[config]") {
    auto errors = errors_of(R"({"checks": [}")");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].rfind("test.json: not valid JSON", 0) == 0);
}

TEST_CASE("checks is required; wrong section types are errors", "[config]") {
    CHECK(has_error(errors_of("{}"), "checks: required"));
    CHECK(has_error(errors_of(R"({"checks": {}})"), "checks: expected an array"));
    CHECK(has_error(errors_of(R"({"checks": [], "server": []})"), "server: expected an object"));
    CHECK(has_error(errors_of("[1]"), "(top level): expected an object"));
}

TEST_CASE("groups: members, quorum, drain flag and http_status", "[config]") {
    Config c = parse(R"({
        "policy": {"http_status": {"warn": 429}},
        "checks": [{"name": "a", "type": "disk"}, {"name": "b", "type": "disk"}],
        "groups": {"live": {"checks": ["a"], "drain": false, "http_status": {"fail": 500}},
                   "q": {"checks": ["a", "b"], "quorum": 1}}})");
    const GroupConfig* live = c.find_group("live");
    REQUIRE(live);
    CHECK_FALSE(live->drain);
    REQUIRE(live->http_status);
    CHECK(live->http_status->fail == 500);
    CHECK(live->http_status->warn == 429);  // inherits the global map
    CHECK(c.find_group("q")->quorum == 1);
    const GroupConfig* def = c.find_group("default");
    REQUIRE(def);
    CHECK(def->checks.size() == 2);
}

TEST_CASE("an explicit default group replaces the implicit one", "[config]") {
    Config c = parse(R"({"checks": [{"name": "a", "type": "disk"}, {"name": "b", "type": "disk"}],
                         "groups": {"default": {"checks": ["b"]}}})");
    CHECK(c.find_group("default")->checks == std::vector<std::string>{"b"});
    CHECK(c.groups.size() == 1);
}

TEST_CASE("same_definition tells unchanged checks from changed ones", "[config]") {
    Config a = parse(R"({"checks": [{"name": "t", "type": "tcp", "options": {"host": "h", "port": 1}}]})");
    Config b = parse(R"({"checks": [{"name": "t", "type": "tcp", "options": {"host": "h", "port": 1}}]})");
    Config c = parse(R"({"checks": [{"name": "t", "type": "tcp", "options": {"host": "h", "port": 2}}]})");
    CHECK(a.checks[0].same_definition(b.checks[0]));
    CHECK_FALSE(a.checks[0].same_definition(c.checks[0]));
}

// Found by tests/fuzz/fuzz_config: each of these once escaped parse_config as a Poco exception,
// overflowed (3 × interval, UBSan), or reached the plugin as options it could not parse.
TEST_CASE("integers beyond int64 are range errors, not exceptions", "[config]") {
    auto errors = errors_of(R"({"server": {"port": 18446744073709551615},
        "checks": [{"name": "t", "type": "tcp", "options": {"host": "h", "port": 9223372036854775808}}]})");
    CHECK(has_error(errors, "server.port: must be between 0 and 65535", "18446744073709551615"));
    CHECK(has_error(errors, "checks[0].options.port: must be between", "9223372036854775808"));
}

TEST_CASE("durations longer than kMaxDuration are errors", "[config]") {
    auto errors = errors_of(R"({"checks": [
        {"name": "c", "type": "tcp", "interval": "150000000000d", "options": {"host": "h", "port": 1}},
        {"name": "d", "type": "tcp", "interval": "1099511627777ms", "options": {"host": "h", "port": 1}}]})");
    CHECK(has_error(errors, "checks[0].interval: invalid duration"));
    CHECK(has_error(errors, "checks[1].interval: invalid duration"));
    Config ok = parse(R"({"checks": [{"name": "a", "type": "tcp", "interval": "1099511627776ms",
                                      "options": {"host": "h", "port": 1}}]})");
    CHECK(ok.checks[0].interval == kMaxDuration);
}

TEST_CASE("number options must be finite", "[config]") {
    for (const char* bad : {"nan", "inf", "-infinity", "1e999"}) {
        INFO(bad);
        auto errors = errors_of(R"({"checks": [{"name": "d", "type": "disk", "options": {"warn_free_percent": "${N}"}}]})",
                                {{"N", bad}});
        CHECK(has_error(errors, "checks[0].options.warn_free_percent: expected a finite number"));
    }
}

// One rule for numbers as durations (README, configuration): a duration is a string with a unit;
// a bare number is refused everywhere, check fields and plugin options alike, whatever its size.
TEST_CASE("durations are strings with a unit; a number is refused everywhere", "[config]") {
    auto errors = errors_of(R"({
        "history": {"retention": 86400000},
        "policy": {"start_period": 0},
        "shutdown": {"drain": 15},
        "checks": [
            {"name": "a", "type": "tcp", "interval": 10000, "options": {"host": "h", "port": 1}},
            {"name": "b", "type": "tcp", "interval": 1e300, "options": {"host": "h", "port": 1}},
            {"name": "c", "type": "tcp", "timeout": 9223372036854775807, "options": {"host": "h", "port": 1}},
            {"name": "d", "type": "tcp", "stale_after": 18446744073709551615, "options": {"host": "h", "port": 1}},
            {"name": "e", "type": "tcp", "interval": -5, "options": {"host": "h", "port": 1}},
            {"name": "s", "type": "fixture_sleep", "options": {"ms": 400}}]})");
    const char* refused[] = {"history.retention", "policy.start_period", "shutdown.drain", "checks[0].interval",
                             "checks[1].interval", "checks[2].timeout", "checks[3].stale_after",
                             "checks[4].interval", "checks[5].options.ms"};
    for (const char* path : refused) {
        INFO(path);
        CHECK(has_error(errors, std::string(path) + ": expected a duration with a unit, such as \"250ms\" or \"5s\", "
                                                    "got the number"));
    }
    CHECK(has_error(errors, "checks[0].interval", "got the number 10000"));
    CHECK(errors.size() == std::size(refused));  // and no follow-up error about them
    // The same values with units are what they say, plugin options normalised to ms.
    Config c = parse(R"({"shutdown": {"drain": "15s"}, "checks": [
        {"name": "a", "type": "tcp", "interval": "10000ms", "timeout": "500ms", "options": {"host": "h", "port": 1}},
        {"name": "s", "type": "fixture_sleep", "options": {"ms": "400ms"}}]})");
    CHECK(c.shutdown.drain == Millis(15'000));
    CHECK(c.checks[0].interval == Millis(10'000));
    CHECK(c.checks[1].options_json.find("\"ms\":400") != std::string::npos);
}

TEST_CASE("integers are JSON integers; a string is one only through ${VAR} substitution", "[config]") {
    auto errors = errors_of(R"({
        "server": {"port": "8081", "threads": 4.5},
        "history": {"max_rows": "5000"},
        "policy": {"http_status": {"warn": "429"}},
        "checks": [
            {"name": "a", "type": "tcp", "rise": "1", "fall": 1e300, "options": {"host": "h", "port": "6379"}},
            {"name": "b", "type": "disk", "options": {"warn_free_bytes": "100", "warn_free_percent": "10",
                                                       "write_probe": "true"}}],
        "groups": {"g": {"checks": ["a"], "quorum": "1", "drain": "false", "http_status": {"fail": 5.0e2}}}})");
    for (const char* path : {"server.port", "history.max_rows", "policy.http_status.warn", "checks[0].rise",
                             "checks[0].options.port", "checks[1].options.warn_free_bytes", "groups.g.quorum"}) {
        INFO(path);
        CHECK(has_error(errors, std::string(path) + ": expected an integer, got a string"));
    }
    CHECK(has_error(errors, "checks[0].rise: expected an integer, got a string (\"1\"); numbers are written without quotes"));
    CHECK(has_error(errors, "checks[1].options.warn_free_percent: expected a number, got a string"));
    CHECK(has_error(errors, "checks[1].options.write_probe: expected a boolean, got a string"));
    CHECK(has_error(errors, "groups.g.drain: expected a boolean, got a string"));
    for (const char* path : {"server.threads", "checks[0].fall", "groups.g.http_status.fail"}) {
        INFO(path);
        CHECK(has_error(errors, std::string(path) + ": expected an integer (digits only: no fraction or exponent)"));
    }
    CHECK(errors.size() == 13);
    // Substitution is how a number comes from the environment, with or without a default.
    Config c = parse(R"({"server": {"port": "${PORT}"}, "checks": [
        {"name": "a", "type": "tcp", "rise": "${RISE:-3}", "options": {"host": "h", "port": "${PORT}"}}]})",
                     {{"PORT", "9090"}});
    CHECK(c.server.port == 9090);
    CHECK(c.checks[0].rise == 3);
    CHECK(c.checks[0].options_json.find("\"port\":9090") != std::string::npos);
    CHECK(has_error(errors_of(R"({"checks": [{"name": "a", "type": "disk", "rise": "${RISE}"}]})", {{"RISE", "x"}}),
                    "checks[0].rise: expected an integer, got \"x\""));
}

TEST_CASE("an invalid or defaulted value is never reported as if the user had written it", "[config]") {
    auto errors = errors_of(R"({"checks": [
        {"name": "a", "type": "disk", "interval": "1s", "timeout": "2x"},
        {"name": "b", "type": "disk", "interval": "5x", "timeout": "20s"},
        {"name": "c", "type": "disk", "interval": "50ms", "timeout": "1s", "stale_after": "10ms"},
        {"name": "d", "type": "disk", "interval": "1s"},
        {"name": "e", "type": "disk", "timeout": "20s"},
        {"name": "f", "type": "disk", "stale_after": "5s"}],
        "groups": {"g": {"checks": ["a", "zz"], "quorum": 2}, "h": {"checks": ["a"], "quorum": 2}}})");
    // Exactly these, in file order: no follow-up error compares an invalid value (checks a, b, c),
    // a default is named as one (d, e, f), and a quorum is compared with the members the group
    // lists, since the misspelt one has its own error (g).
    CHECK(errors == std::vector<std::string>{
                        "checks[0].timeout: invalid duration \"2x\"; use e.g. 250ms, 5s, 1m, 2h, 7d",
                        "checks[1].interval: invalid duration \"5x\"; use e.g. 250ms, 5s, 1m, 2h, 7d",
                        "checks[2].interval: must be at least 100ms, got 50ms",
                        "checks[3].timeout: must be shorter than the interval (default timeout 2s >= interval 1s)",
                        "checks[4].timeout: must be shorter than the interval (timeout 20s >= default interval 10s)",
                        "checks[5].stale_after: must be longer than the interval (stale_after 5s <= default interval 10s)",
                        "groups.g.checks[1]: no check named \"zz\"",
                        "groups.h.quorum: is 2 but the group lists only 1 checks",
                    });
}

TEST_CASE("a duplicate key is an error with its path, at any depth, with every other error", "[config]") {
    auto errors = errors_of(R"({
        "checks": [{"name": "a", "type": "disk"}],
        "server": {"port": 1, "port": 2},
        "checks": [
            {"name": "a", "type": "tcp", "options": {"host": "h", "port": 1, "port": 2}},
            {"name": "b", "name": "c", "type": "disk", "interval": "5x"}],
        "policy": {"http_status": {"fail": 503, "fail": 500}},
        "groups": {"g": {"checks": ["a"]}, "g": {"checks": ["a"], "drain": true, "drain": false}}})");
    const std::pair<const char*, const char*> duplicates[] = {
        {"checks", "checks"}, {"server.port", "port"}, {"checks[0].options.port", "port"}, {"checks[1].name", "name"},
        {"policy.http_status.fail", "fail"}, {"groups.g", "g"}, {"groups.g.drain", "drain"}};
    for (const auto& [path, key] : duplicates) {
        INFO(path);
        CHECK(has_error(errors, std::string(path) + ": duplicate key \"" + key + "\""));
    }
    CHECK(has_error(errors, "checks[1].interval: invalid duration"));  // collected in the same pass
    CHECK(errors.size() == 8);
    // Equal keys in different objects are not duplicates.
    CHECK_NOTHROW(parse(R"({"checks": [{"name": "a", "type": "disk", "options": {"path": "/"}},
                                       {"name": "b", "type": "disk", "options": {"path": "/"}}]})"));
}

TEST_CASE("the configuration file must be a regular file of at most 4 MiB", "[config]") {
    auto refusal = [](const std::string& path) -> std::string {
        try {
            read_config_file(path);
        } catch (const ConfigError& e) {
            return e.errors().at(0);
        }
        return "(read)";
    };
    CHECK(refusal("/") == "/: is a directory, not a regular file");
    CHECK(refusal("/dev/zero") == "/dev/zero: is a character device, not a regular file");
    CHECK(refusal("/nonexistent/vitals.json") == "/nonexistent/vitals.json: cannot read: No such file or directory");
    char path[] = "/tmp/vitals-config-XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, off_t(kMaxConfigBytes)) == 0);
    CHECK(read_config_file(path).size() == kMaxConfigBytes);
    REQUIRE(::ftruncate(fd, off_t(kMaxConfigBytes) + 1) == 0);
    CHECK(refusal(path) == std::string(path) + ": too large; a configuration file is at most 4 MiB (this one is " +
                               std::to_string(kMaxConfigBytes + 1) + " bytes)");
    ::close(fd);
    ::unlink(path);
    // The loader's read goes through the same reader: /dev/zero gives nothing to look at.
    ParsedConfig zero = load_config_structure("/dev/zero", env({}));
    CHECK(zero.errors == std::vector<std::string>{"/dev/zero: is a character device, not a regular file"});
    CHECK_FALSE(zero.check_types);
    CHECK_THROWS_AS(load_config_file("/dev/zero", env({})), ConfigError);
}

TEST_CASE("plugins.load_timeout: a duration of at least 10ms, 5s by default", "[config]") {
    CHECK(parse(R"({"checks": []})").plugins.load_timeout == Millis(5000));
    CHECK(parse(R"({"plugins": {"load_timeout": "750ms"}, "checks": []})").plugins.load_timeout == Millis(750));
    CHECK(has_error(errors_of(R"({"plugins": {"load_timeout": "5ms"}, "checks": []})"), "plugins.load_timeout",
                    "at least 10ms"));
    CHECK(has_error(errors_of(R"({"plugins": {"load_timeout": 500}, "checks": []})"), "plugins.load_timeout"));
}

TEST_CASE("structure errors and option errors are reported together, in file order", "[config]") {
    // A bad field of one check hides no option error of another, nor the other way round; a
    // refused check (bad name) still has its options judged; groups come last, as in the file.
    auto errors = errors_of(R"({"checks": [
        {"name": "a", "type": "tcp", "options": {"host": "h", "port": "x", "prot": 1}},
        {"name": "b", "type": "disk", "interval": "5x", "options": {"path": 5}},
        {"name": "bad name!", "type": "tcp", "options": {"port": 1}},
        {"name": "c", "type": "nosuch", "timeout": "0s"}],
        "groups": {"g": {"checks": ["zz"]}}})");
    REQUIRE(errors.size() == 9);
    CHECK(errors[0].rfind("checks[0].options.prot: unknown option for type \"tcp\"; known: host, port", 0) == 0);
    CHECK(errors[1] == "checks[0].options.port: expected an integer, got a string (\"x\"); "
                       "numbers are written without quotes");
    CHECK(errors[2] == "checks[1].interval: invalid duration \"5x\"; use e.g. 250ms, 5s, 1m, 2h, 7d");
    CHECK(errors[3] == "checks[1].options.path: expected a string, got a number");
    CHECK(errors[4].rfind("checks[2].name: \"bad name!\" is not a valid name", 0) == 0);
    CHECK(errors[5].rfind("checks[2].options.host: required option is missing", 0) == 0);
    CHECK(errors[6].rfind("checks[3].type: unknown check type \"nosuch\"; known: ", 0) == 0);
    CHECK(errors[7] == "checks[3].timeout: must be positive");
    CHECK(errors[8] == "groups.g.checks[0]: no check named \"zz\"");
}

TEST_CASE("the structure names the check types to load, without any plugin", "[config]") {
    ParsedConfig p = parse_config_structure(R"({"checks": [
        {"name": "a", "type": "tcp", "options": {"nonsense": true}},
        {"name": "b", "type": "${T:-disk}", "interval": "5x"}]})", env({}));
    REQUIRE(p.check_types);
    CHECK(*p.check_types == std::set<std::string>{"disk", "tcp"});
    CHECK(p.errors == std::vector<std::string>{"checks[1].interval: invalid duration \"5x\"; use e.g. 250ms, 5s, "
                                               "1m, 2h, 7d"});  // options are not judged here
    REQUIRE(p.options.size() == 2);
    CHECK(p.options[0].path == "checks[0]");
    CHECK(p.config.checks[0].options_json.empty());
    CHECK(parse_config_structure(R"({"checks": []})", env({})).check_types == std::set<std::string>{});
    // A check whose type cannot be read could be of any type: every plugin is loaded.
    CHECK_FALSE(parse_config_structure(R"({"checks": [{"name": "a"}]})", env({})).check_types);
    CHECK_FALSE(parse_config_structure(R"({"checks": [}")", env({})).check_types);
}

TEST_CASE("a load reads and parses the configuration file once", "[config][loader]") {
    int reads = 0;
    std::string text;
    auto reader = [&](const std::string& path) {
        ++reads;
        CHECK(path == "counted.json");
        return text;
    };
    // No plugin directory: nothing to load, and a disk check's type is unknown.
    text = R"({"plugins": {"dirs": []}, "checks": []})";
    LoadedConfig ok = load_configuration("counted.json", std::nullopt, PluginLoading::used, reader);
    CHECK(reads == 1);
    CHECK(ok.config->source == "counted.json");
    reads = 0;
    text = R"({"plugins": {"dirs": []}, "checks": [{"name": "a", "type": "disk", "interval": "5x"}]})";
    std::vector<std::string> errors;
    try {
        load_configuration("counted.json", std::nullopt, PluginLoading::used, reader);
    } catch (const ConfigError& e) {
        errors = e.errors();
    }
    CHECK(reads == 1);
    CHECK(errors == std::vector<std::string>{
                        "checks[0].type: unknown check type \"disk\"; known: (no plugins loaded)",
                        "checks[0].interval: invalid duration \"5x\"; use e.g. 250ms, 5s, 1m, 2h, 7d"});
}

TEST_CASE("load_balancer: ALB's defaults, every key read and checked", "[config][load_balancer]") {
    Config d = parse(R"({"checks": []})");
    CHECK(d.load_balancer.interval == Millis(30'000));
    CHECK(d.load_balancer.timeout == Millis(5'000));
    CHECK(d.load_balancer.healthy_threshold == 5);
    CHECK(d.load_balancer.unhealthy_threshold == 2);
    CHECK(d.load_balancer.path.empty());
    CHECK(d.load_balancer.matches(200));
    CHECK_FALSE(d.load_balancer.matches(204));
    CHECK_FALSE(d.load_balancer.given);
    CHECK(config_warnings(d).empty());

    Config c = parse(R"({"checks": [{"name": "a", "type": "disk"}], "groups": {"alb": {"checks": ["a"]}},
        "load_balancer": {"interval": "5s", "timeout": "3s", "healthy_threshold": 3, "unhealthy_threshold": 4,
                          "path": "/health/alb", "match": "200-299,304"}})");
    CHECK(c.load_balancer.interval == Millis(5000));
    CHECK(c.load_balancer.timeout == Millis(3000));
    CHECK(c.load_balancer.healthy_threshold == 3);
    CHECK(c.load_balancer.unhealthy_threshold == 4);
    CHECK(c.load_balancer.path == "/health/alb");
    CHECK(c.load_balancer.matches(204));
    CHECK(c.load_balancer.matches(304));
    CHECK_FALSE(c.load_balancer.matches(302));
    CHECK(c.load_balancer.probes_path("/health/alb"));
    CHECK_FALSE(c.load_balancer.probes_path("/health"));

    auto errors = errors_of(R"({"checks": [], "load_balancer": {"interval": "50ms", "timeout": 5,
        "healthy_threshold": 1, "unhealthy_threshold": 11, "path": "/health/nosuch", "match": "2xx", "prot": 1}})");
    CHECK(has_error(errors, "load_balancer.interval: must be at least 100ms"));
    CHECK(has_error(errors, "load_balancer.timeout: expected a duration"));
    CHECK(has_error(errors, "load_balancer.healthy_threshold: must be between 2 and 10"));
    CHECK(has_error(errors, "load_balancer.unhealthy_threshold: must be between 2 and 10"));
    CHECK(has_error(errors, "load_balancer.path: no group named \"nosuch\""));
    CHECK(has_error(errors, "load_balancer.match:", "not a list of codes"));
    CHECK(has_error(errors, "load_balancer.prot: unknown key"));
    CHECK(has_error(errors_of(R"({"checks": [], "load_balancer": {"path": "/metrics"}})"),
                    "load_balancer.path: \"/metrics\" is not a status path"));
    CHECK(has_error(errors_of(R"({"checks": [], "load_balancer": {"match": "199-300"}})"),
                    "load_balancer.match:", "from 200 to 599"));
    CHECK(has_error(errors_of(R"({"checks": [{"name": "a", "type": "disk"}], "groups": {"probers": {"checks": ["a"]}}})"),
                    "groups.probers: \"probers\" is reserved"));
}

TEST_CASE("load_balancer: validate warns about a drain the balancer cannot see and a timeout >= interval",
          "[config][load_balancer]") {
    Config short_drain = parse(R"({"checks": [], "shutdown": {"drain": "8s"},
        "load_balancer": {"interval": "5s", "timeout": "2s", "unhealthy_threshold": 2}})");
    auto w = config_warnings(short_drain);
    REQUIRE(w.size() == 1);
    CHECK(w[0].find("shutdown.drain (8s) is shorter than load_balancer.interval x unhealthy_threshold (5s x 2 = 10s)") !=
          std::string::npos);
    Config slow = parse(R"({"checks": [], "shutdown": {"drain": "1m"}, "load_balancer": {"interval": "5s", "timeout": "5s"}})");
    w = config_warnings(slow);
    REQUIRE(w.size() == 1);
    CHECK(w[0].find("load_balancer.timeout (5s) is not shorter than its interval (5s)") != std::string::npos);
    Config fine = parse(R"({"checks": [], "shutdown": {"drain": "10s"}, "load_balancer": {"interval": "5s", "timeout": "3s"}})");
    CHECK(config_warnings(fine).empty());
    // A drain with the default balancer (ALB: 30 s x 2) is judged too.
    CHECK(config_warnings(parse(R"({"checks": [], "shutdown": {"drain": "15s"}})")).size() == 1);
}

TEST_CASE("server.tls: files, versions, client certificates; both paths empty is TLS off", "[config]") {
    const std::string disk = R"(, "checks": [{"name": "d", "type": "disk"}]})";
    Config plain = parse(R"({"server": {"port": 1})" + disk);
    CHECK_FALSE(plain.server.tls);

    Config c = parse(R"({"server": {"tls": {"cert": "/c.pem", "key": "${K}", "client_ca": "/ca.pem",
                         "client_auth": "admin", "min_version": "1.3"}})" + disk, {{"K", "/k.pem"}});
    REQUIRE(c.server.tls);
    CHECK(c.server.tls->cert == "/c.pem");
    CHECK(c.server.tls->key == "/k.pem");
    CHECK(c.server.tls->min_version == "1.3");
    CHECK(c.server.tls->client_ca == "/ca.pem");
    CHECK(c.server.tls->client_auth == ClientAuth::admin);
    Config d = parse(R"({"server": {"tls": {"cert": "/c.pem", "key": "/k.pem"}})" + disk);
    REQUIRE(d.server.tls);
    CHECK(d.server.tls->min_version == "1.2");
    CHECK(d.server.tls->client_auth == ClientAuth::none);

    // The environment turns it off: both empty after substitution.
    Config off = parse(R"({"server": {"tls": {"cert": "${C:-}", "key": "${K:-}"}})" + disk);
    CHECK_FALSE(off.server.tls);

    auto errors = errors_of(R"({"server": {"tls": {"cert": "", "min_version": "1.1", "client_auth": "all",
                               "ciphers": "x"}})" + disk);
    CHECK(has_error(errors, "server.tls: missing \"key\""));
    CHECK(has_error(errors, "server.tls.cert: empty path"));
    CHECK(has_error(errors, "server.tls.min_version: invalid value \"1.1\"", "1.2, 1.3"));
    CHECK(has_error(errors, "server.tls.client_auth: \"all\" needs server.tls.client_ca"));
    CHECK(has_error(errors, "server.tls.ciphers: unknown key", "cert, key, min_version"));
    CHECK(has_error(errors_of(R"({"server": {"tls": {"cert": "/c", "key": "/k", "client_auth": "some"}})" + disk),
                    "server.tls.client_auth: invalid value \"some\"", "none, admin, all"));
}
