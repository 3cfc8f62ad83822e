// The daemon's configuration (SPEC §7): plain data, read from the file once and validated in two
// steps that report every error with its path, together, before anything starts: the structure here
// (every section and check field), then each check's options against its type's schema, by the
// plugins that define the types (plugins/option_schema.h). app/loading.h runs both, loading the
// plugins the structure names in between.
#pragma once

#include "common/duration.h"
#include "common/status.h"

#include <Poco/Dynamic/Var.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <set>
#include <string>
#include <vector>

namespace vitals {

enum class Impact { critical, degraded, ignore };
enum class Scope { local, shared };
enum class Details { always, loopback, token, never };
enum class Isolation { in_process, process };
// Who must show a client certificate signed by server.tls.client_ca (SPEC §7, README "HTTPS").
enum class ClientAuth {
    none,   // no certificate is asked for
    admin,  // admin endpoints need one (with the bearer token, or instead of it when none is set);
            // other paths answer without
    all     // every connection needs one: the handshake fails without it
};

const char* to_string(Impact i);
const char* to_string(Details d);
const char* to_string(ClientAuth a);

// HTTP code answered for each status.
struct HttpStatusMap {
    int pass = 200;
    int warn = 200;
    int fail = 503;
    int code_for(Status s) const { return s == Status::pass ? pass : s == Status::warn ? warn : fail; }
    bool operator==(const HttpStatusMap& o) const { return pass == o.pass && warn == o.warn && fail == o.fail; }
};

struct CheckConfig {
    std::string name;
    std::string type;
    Millis interval{10'000};
    Millis timeout{2'000};
    Impact impact = Impact::critical;
    Scope scope = Scope::local;
    Isolation isolation = Isolation::in_process;
    int rise = 1;
    int fall = 1;
    Millis stale_after{0};  // resolved: 3 × interval + timeout unless set
    // The options after validation against the type's schema, defaults filled, as JSON text
    // (validate_check_options); "" in a configuration whose options were not validated.
    std::string options_json;

    // Two checks with the same definition keep their state across a reload.
    bool same_definition(const CheckConfig& o) const;
};

struct GroupConfig {
    std::string name;
    std::vector<std::string> checks;  // member names; for "default" with no explicit group: all checks
    int quorum = 0;                   // 0: every counted member matters (no quorum rule)
    bool drain = true;                // reports fail while draining
    std::optional<HttpStatusMap> http_status;
};

struct Config {
    struct Server {
        std::string address = "0.0.0.0";
        int port = 8081;
        Details details = Details::loopback;
        std::string admin_token_env = "VITALS_ADMIN_TOKEN";
        // Threads that answer the slow requests (admin actions, history queries) off the event loops;
        // status requests never use them.
        int threads = 2;
        // server.tls: the port speaks TLS only when set. The files are read when the configuration
        // is loaded (app/loading.h) and again when they change.
        struct Tls {
            std::string cert;       // PEM: the certificate, then any intermediates
            std::string key;        // PEM, unencrypted
            std::string min_version = "1.2";  // "1.2" or "1.3"
            std::string client_ca;  // PEM CA certificates for client certificates; "" without
            ClientAuth client_auth = ClientAuth::none;
            bool operator==(const Tls& o) const {
                return cert == o.cert && key == o.key && min_version == o.min_version && client_ca == o.client_ca &&
                       client_auth == o.client_auth;
            }
        };
        std::optional<Tls> tls;
    } server;
    struct Plugins {
        std::vector<std::string> dirs;  // empty in the file → the defaults of SPEC §5
        bool dirs_explicit = false;
        bool strict_permissions = true;
        // A plugin file is first loaded in a child (PluginRegistry's LoadGuard); one that has not
        // answered by then is refused as hung.
        Millis load_timeout{5000};
    } plugins;
    struct History {
        std::string path = "var/vitals.db";
        Millis retention{7LL * 86'400'000};
        int64_t max_rows = 1'000'000;
        // history.rollups (SPEC §10): how long minute, hour and day rollups are kept.
        Millis rollup_minutes{7LL * 86'400'000};
        Millis rollup_hours{90LL * 86'400'000};
        Millis rollup_days{730LL * 86'400'000};
    } history;
    struct Policy {
        Millis start_period{0};
        Status shared_fail = Status::warn;
        HttpStatusMap http_status;
    } policy;
    std::vector<GroupConfig> groups;  // always holds "default" (explicit or implicit, all checks)
    std::vector<CheckConfig> checks;
    struct Shutdown {
        Millis drain{0};
    } shutdown;
    struct Log {
        std::string level = "info";
        std::string format = "text";
    } log;
    // The load balancer that probes this port (SPEC §9); the defaults are an ALB target group's.
    struct LoadBalancer {
        Millis interval{30'000};
        Millis timeout{5'000};
        int healthy_threshold = 5;
        int unhealthy_threshold = 2;
        std::string path;  // the status path it probes; "": any status path
        // The answer codes it counts as healthy: inclusive ranges, as `match` spells them ("200",
        // "200-299", "200,302").
        std::vector<std::pair<int, int>> match{{200, 200}};
        std::string match_text = "200";
        bool given = false;  // the file has a load_balancer section

        bool matches(int code) const;
        // Whether a status path (normalised: "/health", "/health/alb") is one this balancer probes.
        bool probes_path(const std::string& status_path) const { return path.empty() || path == status_path; }
    } load_balancer;

    std::string source;  // file path, for messages

    const CheckConfig* find_check(const std::string& name) const;
    const GroupConfig* find_group(const std::string& name) const;
};

// "200", "200-299", "200,302-304": inclusive code ranges within 200-599, or nullopt with `why` set.
std::optional<std::vector<std::pair<int, int>>> parse_code_ranges(const std::string& text, std::string& why);

// The group a status path answers ("/health" -> "default", "/health/alb" -> "alb"), or "" when the
// path is not a status path.
std::string group_of_status_path(const std::string& path);

// What `vitals validate` (and the daemon at start) warns about: settings that are valid but cannot
// do what they are meant to, e.g. a shutdown.drain the load balancer cannot see.
std::vector<std::string> config_warnings(const Config& config);

// All problems found in a configuration, each "path: message".
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> errors);
    const std::vector<std::string>& errors() const { return errors_; }

private:
    std::vector<std::string> errors_;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment.
std::optional<std::string> process_env(const std::string& name);

// Substitutes ${VAR} and ${VAR:-default} in `text`; "$${" stays a literal "${".
// Appends "<path>: ..." to `errors` for an unset variable without default or a malformed reference.
std::string substitute_env(const std::string& text, const EnvLookup& env, const std::string& path,
                           std::vector<std::string>& errors);

// Replaces // and /* */ comments outside strings with spaces (newlines kept, so positions hold).
std::string strip_json_comments(const std::string& text);

// A configuration file's structure, read without knowing any plugin: every section and every check
// field is read and checked, each check's options are kept as written for its type's schema to judge
// (plugins/option_schema.h: validate_check_options).
struct ParsedConfig {
    // The checks' options_json are "" until validate_check_options fills them.
    Config config;
    // The problems found so far, in file order, each "path: message".
    std::vector<std::string> errors;

    // The options of one check whose type could be read, in file order.
    struct CheckOptions {
        std::string path;           // of the check: "checks[2]"
        std::string type;           // its type, ${VAR} substituted
        std::optional<Poco::Dynamic::Var> options;  // its "options" value as written, if any
        // Its place in config.checks; unset when the check is refused (a bad or duplicate name): its
        // options are still judged, for their errors.
        std::optional<size_t> check;
        // Where the errors about its type and its options go among `errors` (how many come before
        // them in file order), so that the report keeps the file's order.
        size_t type_errors_at = 0;
        size_t option_errors_at = 0;
    };
    std::vector<CheckOptions> options;

    // Every check type the file uses: the plugins to load. Unset when the file, its checks array or
    // some check's type cannot be read (then every plugin is loaded: any could be the one meant).
    std::optional<std::set<std::string>> check_types;
};

// Reads the structure of configuration text; never throws: malformed JSON is the one error
// "<source>: not valid JSON: ...".
ParsedConfig parse_config_structure(const std::string& json_text, const EnvLookup& env,
                                    const std::string& source = "<config>");

// parse_config_structure, throwing ConfigError with every problem. Check types and options are not
// validated (options_json stays ""): for readers that run no check (vitals history).
Config parse_config(const std::string& json_text, const EnvLookup& env, const std::string& source = "<config>");

// The largest configuration file read: a bigger one (or /dev/zero behind a symlink) is refused
// before it can grow the daemon.
constexpr size_t kMaxConfigBytes = size_t(4) << 20;

// The text of the configuration file at `path`. Throws ConfigError naming the path when it cannot be
// opened, is not a regular file ("is a directory, not a regular file"; devices, FIFOs and sockets
// likewise, symlinks followed) or holds more than kMaxConfigBytes. Reads at most one byte past the
// cap, whatever the file's size says.
std::string read_config_file(const std::string& path);

// read_config_file, then parse_config_structure. A file that cannot be read is its one error (as
// read_config_file words it). Never throws.
// `read` stands in for read_config_file in tests.
ParsedConfig load_config_structure(const std::string& path, const EnvLookup& env,
                                   const std::function<std::string(const std::string&)>& read = read_config_file);

// read_config_file, then parse_config (check types and options not validated). Throws ConfigError.
Config load_config_file(const std::string& path, const EnvLookup& env);

// The plugin directories in effect: the configured ones, else $VITALS_PLUGIN_DIR, then
// <exe dir>/plugins, then <exe dir>/../lib/vitals/plugins.
std::vector<std::string> effective_plugin_dirs(const Config::Plugins& p, const EnvLookup& env);

}  // namespace vitals
