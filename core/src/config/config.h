// The daemon's configuration (SPEC §7): plain data, parsed and validated in one pass that collects
// every error with its path before anything starts.
#pragma once

#include "common/duration.h"
#include "common/status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <set>
#include <string>
#include <vector>

namespace vitals {

class PluginRegistry;

enum class Impact { critical, degraded, ignore };
enum class Scope { local, shared };
enum class Details { always, loopback, token, never };
enum class Isolation { in_process, process };

const char* to_string(Impact i);
const char* to_string(Details d);

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
    // The options after validation against the type's schema, defaults filled, as JSON text.
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
        int threads = 16;
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

    std::string source;  // file path, for messages

    const CheckConfig* find_check(const std::string& name) const;
    const GroupConfig* find_group(const std::string& name) const;
};

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

// Parses and validates the whole configuration. `registry` supplies the check types and their
// option schemas; when null, check types and options are not validated (used to read the
// plugins section before plugins are loaded). Throws ConfigError listing every problem.
Config parse_config(const std::string& json_text, const EnvLookup& env, const PluginRegistry* registry,
                    const std::string& source = "<config>");

// The largest configuration file read: a bigger one (or /dev/zero behind a symlink) is refused
// before it can grow the daemon.
constexpr size_t kMaxConfigBytes = size_t(4) << 20;

// The text of the configuration file at `path`. Throws ConfigError naming the path when it cannot be
// opened, is not a regular file ("is a directory, not a regular file"; devices, FIFOs and sockets
// likewise, symlinks followed) or holds more than kMaxConfigBytes. Reads at most one byte past the
// cap, whatever the file's size says.
std::string read_config_file(const std::string& path);

// Reads `path` (read_config_file) and calls parse_config. Throws ConfigError.
Config load_config_file(const std::string& path, const EnvLookup& env, const PluginRegistry* registry);

// What the loader needs before the full validation: the plugins section, and the check types the
// file uses. Read leniently (bad values fall back to defaults; parse_config reports them), so that
// every error, including those that need the plugins' schemas, is reported in one pass.
struct ConfigPeek {
    Config::Plugins plugins;
    // Every "type" of the checks array; unset when the file or its checks array cannot be read.
    std::optional<std::set<std::string>> check_types;
};
ConfigPeek peek_config(const std::string& path, const EnvLookup& env);

// The plugin directories in effect: the configured ones, else $VITALS_PLUGIN_DIR, then
// <exe dir>/plugins, then <exe dir>/../lib/vitals/plugins.
std::vector<std::string> effective_plugin_dirs(const Config::Plugins& p, const EnvLookup& env);

}  // namespace vitals
