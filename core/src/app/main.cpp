// vitals: the command line (SPEC §7). Exit codes: 0 success, 1 runtime failure, 2 usage or
// configuration error; `check` exits 0/1/2 for pass/warn/fail and 3 for a usage or configuration error.
// This file parses the arguments and dispatches; each command is in its own cmd_*.cpp.
#include "app/cli.h"
#include "version.h"

#include <vitals/plugin.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>

namespace vitals {
namespace {

const char* kUsage = R"(vitals - health-check sidecar for load balancers

Usage:
  vitals [serve] [--config FILE] [--port N]   run the daemon (default command)
  vitals validate [--config FILE]             check the configuration and plugins, then exit
  vitals check [--config FILE]                run every check once, print a table, exit 0/1/2 (pass/warn/fail),
                                              3 for a usage or configuration error (Nagios UNKNOWN)
  vitals plugins [--config FILE] [--markdown] list check types and their options (--markdown: as the
                                              configuration reference, docs/config-reference.md)
  vitals history [--config FILE] [--check NAME]... [--status S] [--since T] [--until T]
                 [--kind result,transition,probe] [--prober ADDRESS] [--transitions] [--limit N]
                 [--cursor C] [--json]
                                              query the history database directly (daemon up or down)
  vitals replay [--config FILE] [--source probes|status] [--group G] [--prober ADDRESS] [--since T]
                [--until T] [--interval D] [--timeout D] [--healthy-threshold N]
                [--unhealthy-threshold N] [--match CODES] [--json]
                                              what the load balancer decided (source probes: each
                                              recorded prober), or would have decided with these
                                              settings (source status: a what-if over a group's
                                              status), from the history database
  vitals history --uptime [--config FILE] --check NAME... [--range 30d] [--bucket 1d] [--json]
                                              uptime and latency of checks or groups from the rollups
  vitals --version | --help

Options:
  -c, --config FILE   configuration file (default /etc/vitals/vitals.json)
  -p, --port N        listen on port N instead of server.port (0: any free port)

History: --since/--until take RFC 3339, unix seconds or a relative time (-15m); --limit 1..1000
(default 100); --cursor C continues where the previous page left off (its last line names C).
--kind probe lists what each load-balancer prober was answered (one row per prober per second).
Replay: the range defaults to the last 24 hours; settings default to the load_balancer section.

Exit codes: 0 ok, 1 runtime error, 2 usage or configuration error (3 for check).
)";

Args parse_args(int argc, char** argv) {
    Args a;
    // The command decides the exit code of a usage error, also of one found before the command.
    auto takes_value = [](const std::string& opt) {
        for (const char* o : {"-c", "--config", "-p", "--port", "--check", "--status", "--since", "--until", "--limit",
                              "--cursor", "--kind", "--prober", "--source", "--group", "--interval", "--timeout",
                              "--healthy-threshold", "--unhealthy-threshold", "--match"})
            if (opt == o) return true;
        return false;
    };
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "check") == 0 && !(i > 1 && takes_value(argv[i - 1]))) kExitUsage = kExitCheckUnknown;
    bool command_seen = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&](const std::string& name) -> std::string {
            if (i + 1 >= argc) usage_error(name + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (arg == "--version" || arg == "-V") {
            std::printf("vitals %s (plugin ABI %d.%d)\n", VITALS_VERSION, VITALS_ABI_MAJOR, VITALS_ABI_MINOR);
            std::exit(0);
        } else if (arg == "-c" || arg == "--config") {
            a.config = value(arg);
            a.config_given = true;
        } else if (arg.rfind("--config=", 0) == 0) {
            a.config = arg.substr(9);
            a.config_given = true;
        } else if (arg == "-p" || arg == "--port" || arg.rfind("--port=", 0) == 0) {
            std::string v = arg.rfind("--port=", 0) == 0 ? arg.substr(7) : value(arg);
            char* end = nullptr;
            long p = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end || p < 0 || p > 65535) usage_error("--port: not a port number: " + v);
            a.port = int(p);
        } else if (a.command == "history" && (arg == "--check" || arg == "--status" || arg == "--since" ||
                                               arg == "--until" || arg == "--limit" || arg == "--cursor" ||
                                               arg == "--kind" || arg == "--prober")) {
            a.history_params.emplace_back(arg.substr(2), value(arg));
        } else if (a.command == "replay" &&
                   (arg == "--source" || arg == "--group" || arg == "--prober" || arg == "--since" || arg == "--until" ||
                    arg == "--interval" || arg == "--timeout" || arg == "--healthy-threshold" ||
                    arg == "--unhealthy-threshold" || arg == "--match")) {
            std::string key = arg.substr(2);
            for (char& c : key)
                if (c == '-') c = '_';
            a.history_params.emplace_back(key, value(arg));
        } else if (a.command == "replay" && arg == "--json") {
            a.json = true;
        } else if (a.command == "history" && arg == "--uptime") {
            a.uptime = true;
        } else if (a.command == "history" && (arg == "--range" || arg == "--bucket")) {
            a.history_params.emplace_back(arg.substr(2), value(arg));
        } else if (a.command == "history" && arg == "--transitions") {
            a.history_params.emplace_back("transitions", "true");
        } else if (a.command == "history" && arg == "--json") {
            a.json = true;
        } else if (a.command == "plugins" && arg == "--markdown") {
            a.markdown = true;
        } else if (!command_seen && (arg == "serve" || arg == "validate" || arg == "check" || arg == "plugins" ||
                                     arg == "history" || arg == "replay" || arg == "worker")) {
            a.command = arg;
            command_seen = true;
        } else {
            usage_error("unknown argument: " + arg);
        }
    }
    return a;
}

}  // namespace
}  // namespace vitals

int main(int argc, char** argv) {
    using namespace vitals;
    // glibc gives each thread that allocates an arena of its own (up to 8 per core); the daemon has
    // a dozen small threads, and two arenas keep about 0.3 MB of their memory off the resident
    // size without contention that shows (issue 7, tests/bench/run). MALLOC_ARENA_MAX still wins.
    if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
    Args args = parse_args(argc, argv);
    try {
        if (args.command == "validate") return cmd_validate(args);
        if (args.command == "check") return cmd_check(args);
        if (args.command == "plugins") return cmd_plugins(args);
        if (args.command == "history") return cmd_history(args);
        if (args.command == "replay") return cmd_replay(args);
        if (args.command == "worker") cmd_worker();
        return cmd_serve(args);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vitals: %s\n", e.what());
        return 1;
    }
}
