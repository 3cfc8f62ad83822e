// The command line's shared pieces (SPEC §7): parsed arguments, the exit codes, and loading the
// configuration for a command. Each command lives in its own file (cmd_*.cpp); main.cpp parses
// the arguments and dispatches.
#pragma once

#include "common/time_format.h"
#include "app/loading.h"
#include "history/history_query.h"

#include <memory>
#include <optional>
#include <string>

namespace vitals {

constexpr int kExitUsageDefault = 2;
// `vitals check` is itself a Nagios-style monitoring plugin, whose "unknown" (3) is the answer to a
// usage or configuration error; every other command exits 2 for those (SPEC §7).
constexpr int kExitCheckUnknown = 3;
// The exit code of a usage or configuration error for this run: set once from the command line,
// before anything can fail.
extern int kExitUsage;
constexpr const char* kDefaultConfig = "/etc/vitals/vitals.json";

struct Args {
    std::string command = "serve";
    QueryParams history_params;  // `history` filters and `replay` parameters, as the API spells them
    bool json = false;
    bool uptime = false;  // `history --uptime`: the rollups (SPEC §10), with --range and --bucket
    bool markdown = false;  // `plugins --markdown`
    std::string config = kDefaultConfig;
    bool config_given = false;
    std::optional<int> port;
};

// Prints `message` and how to get help to stderr; exits kExitUsage.
[[noreturn]] void usage_error(const std::string& message);

// Loads plugins and the configuration validated against them. Exits kExitUsage with every error on
// failure.
struct Loaded {
    std::shared_ptr<const Config> config;
    std::shared_ptr<PluginRegistry> registry;
    std::shared_ptr<const TlsContext> tls;  // null without server.tls
};
Loaded load_or_exit(const Args& args, bool quiet_refusals = false, PluginLoading plugins = PluginLoading::used);

// The configuration file read without plugins (for commands that only read history). Exits
// kExitUsage with every error on failure.
Config load_config_or_exit(const Args& args);

int cmd_serve(const Args& args);
int cmd_validate(const Args& args);
int cmd_check(const Args& args);
int cmd_plugins(const Args& args);
int cmd_history(const Args& args);
int cmd_replay(const Args& args);
[[noreturn]] void cmd_worker();

}  // namespace vitals
