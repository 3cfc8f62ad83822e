// vitals: the command line (SPEC §7). Exit codes: 0 success, 1 runtime failure, 2 usage or
// configuration error; `check` exits 0/1/2 for pass/warn/fail and 3 for a usage or configuration error.
#include "app/daemon.h"
#include "app/loading.h"
#include "app/logging.h"
#include "config/config.h"
#include "history/history_query.h"
#include "history/history_reader.h"
#include "history/history_writer.h"
#include "http/server.h"
#include "plugins/check_instance.h"
#include "plugins/process_check.h"
#include "plugins/registry.h"
#include "plugins/worker_process.h"
#include "policy/policy.h"
#include "scheduler/scheduler.h"
#include "snapshot/snapshot.h"
#include "version.h"

#include <Poco/Exception.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <malloc.h>
#include <future>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <variant>
#include <unistd.h>

namespace vitals {
namespace {

constexpr int kExitUsageDefault = 2;
// `vitals check` is itself a Nagios-style monitoring plugin, whose "unknown" (3) is the answer to a
// usage or configuration error; every other command exits 2 for those (SPEC §7).
constexpr int kExitCheckUnknown = 3;
int kExitUsage = kExitUsageDefault;  // set once from the command line, before anything can fail
constexpr const char* kDefaultConfig = "/etc/vitals/vitals.json";

const char* kUsage = R"(vitals - health-check sidecar for load balancers

Usage:
  vitals [serve] [--config FILE] [--port N]   run the daemon (default command)
  vitals validate [--config FILE]             check the configuration and plugins, then exit
  vitals check [--config FILE]                run every check once, print a table, exit 0/1/2 (pass/warn/fail),
                                              3 for a usage or configuration error (Nagios UNKNOWN)
  vitals plugins [--config FILE] [--markdown] list check types and their options (--markdown: as the
                                              configuration reference, docs/config-reference.md)
  vitals history [--config FILE] [--check NAME]... [--status S] [--since T] [--until T]
                 [--transitions] [--limit N] [--cursor C] [--json]
                                              query the history database directly (daemon up or down)
  vitals --version | --help

Options:
  -c, --config FILE   configuration file (default /etc/vitals/vitals.json)
  -p, --port N        listen on port N instead of server.port (0: any free port)

History: --since/--until take RFC 3339, unix seconds or a relative time (-15m); --limit 1..1000
(default 100); --cursor C continues where the previous page left off (its last line names C).

Exit codes: 0 ok, 1 runtime error, 2 usage or configuration error (3 for check).
)";

struct Args {
    std::string command = "serve";
    QueryParams history_params;  // `history` filters, as /health/history parameters
    bool json = false;
    bool markdown = false;  // `plugins --markdown`
    std::string config = kDefaultConfig;
    bool config_given = false;
    std::optional<int> port;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "vitals: %s\nRun 'vitals --help' for usage.\n", message.c_str());
    std::exit(kExitUsage);
}

Args parse_args(int argc, char** argv) {
    Args a;
    // The command decides the exit code of a usage error, also of one found before the command.
    auto takes_value = [](const std::string& opt) {
        for (const char* o : {"-c", "--config", "-p", "--port", "--check", "--status", "--since", "--until", "--limit",
                              "--cursor"})
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
                                               arg == "--until" || arg == "--limit" || arg == "--cursor")) {
            a.history_params.emplace_back(arg.substr(2), value(arg));
        } else if (a.command == "history" && arg == "--transitions") {
            a.history_params.emplace_back("transitions", "true");
        } else if (a.command == "history" && arg == "--json") {
            a.json = true;
        } else if (a.command == "plugins" && arg == "--markdown") {
            a.markdown = true;
        } else if (!command_seen && (arg == "serve" || arg == "validate" || arg == "check" || arg == "plugins" ||
                                     arg == "history" || arg == "worker")) {
            a.command = arg;
            command_seen = true;
        } else {
            usage_error("unknown argument: " + arg);
        }
    }
    return a;
}

// Loads plugins and the configuration validated against them. Exits 2 with every error on failure.
struct Loaded {
    std::shared_ptr<const Config> config;
    std::shared_ptr<PluginRegistry> registry;
};

Loaded load_or_exit(const Args& args, bool quiet_refusals = false, PluginLoading plugins = PluginLoading::used) {
    try {
        LoadedConfig l = load_configuration(args.config, args.port, plugins);
        setup_logging(l.config->log.level, l.config->log.format);
        if (!quiet_refusals)
            for (const auto& r : l.registry->refusals()) spdlog::error("plugin refused: {}: {}", r.file, r.reason);
        return {l.config, l.registry};
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "vitals: %s: invalid configuration:\n", args.config.c_str());
        for (const auto& err : e.errors()) std::fprintf(stderr, "  %s\n", err.c_str());
        std::exit(kExitUsage);
    }
}

int cmd_serve(const Args& args) {
    Loaded loaded = load_or_exit(args);
    Daemon daemon(args.config, args.port, {loaded.config, loaded.registry});
    int code = daemon.run();
    std::fflush(nullptr);
    spdlog::default_logger()->flush();
    // A plugin call that never returned, or a reload still running, owns a thread that uses the
    // daemon: exit without destroying it or running static destructors under those threads.
    std::_Exit(code);
}

int cmd_validate(const Args& args) {
    Loaded loaded = load_or_exit(args, true, PluginLoading::all);
    for (const auto& r : loaded.registry->refusals())
        std::printf("warning: plugin refused: %s: %s\n", r.file.c_str(), r.reason.c_str());
    std::printf("%s: OK: %zu checks, %zu groups, %zu check types available\n", args.config.c_str(),
                loaded.config->checks.size(), loaded.config->groups.size(), loaded.registry->types().size());
    return 0;
}

int cmd_check(const Args& args) {
    std::signal(SIGPIPE, SIG_IGN);  // a plugin writing to a closed socket must get EPIPE, not die
    Loaded loaded = load_or_exit(args);
    const Config& cfg = *loaded.config;
    struct Outcome {
        RawResult result;
        Millis took{0};
    };
    std::vector<std::future<Outcome>> futures;
    std::vector<std::thread> runs(cfg.checks.size());
    std::vector<std::string> setup_errors(cfg.checks.size());
    // Create every instance first: a slow create() (a CA store to load) must not eat into the
    // timeouts of the checks after it.
    std::vector<std::shared_ptr<CheckRunner>> instances(cfg.checks.size());
    for (size_t i = 0; i < cfg.checks.size(); ++i) {
        const CheckConfig& c = cfg.checks[i];
        std::string error;
        instances[i] = make_check_runner(*loaded.registry->find(c.type), c.options_json,
                                         c.isolation == Isolation::process, c.timeout,
                                         cfg.plugins.strict_permissions, error);
        if (!instances[i]) setup_errors[i] = c.type + ": " + error;
    }
    auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < cfg.checks.size(); ++i) {
        std::promise<Outcome> promise;
        futures.push_back(promise.get_future());
        if (!instances[i]) {
            promise.set_value({});
            continue;
        }
        // Waited for through its future, never longer: a hung plugin must not keep `vitals check`
        // from answering (abandoned runs end with std::_Exit below).
        runs[i] = std::thread([inst = std::move(instances[i]), deadline = start + cfg.checks[i].timeout,
                     p = std::move(promise)]() mutable {
            auto t0 = std::chrono::steady_clock::now();
            RawResult r = inst->run(deadline);
            auto took = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0);
            inst.reset();  // destroy the instance here, before main() can return and tear the process down
            p.set_value({std::move(r), took});
        });
    }
    bool abandoned = false;
    std::vector<Member> members;
    std::printf("%-20s %-10s %-6s %8s  %s\n", "CHECK", "TYPE", "STATUS", "MS", "OUTPUT");
    for (size_t i = 0; i < cfg.checks.size(); ++i) {
        const CheckConfig& c = cfg.checks[i];
        Outcome o;
        if (!setup_errors[i].empty()) {
            o.result.status = Status::fail;
            o.result.output = setup_errors[i];
        } else if (futures[i].wait_until(start + c.timeout + std::clamp(c.timeout / 10, Millis(10), Millis(100))) ==
                   std::future_status::ready) {
            o = futures[i].get();
        } else {
            abandoned = true;
            o.result.status = Status::fail;
            o.result.output = "timed out after " + std::to_string(c.timeout.count()) + " ms";
            o.took = c.timeout;
        }
        std::string value;
        if (o.result.observed_value) {
            char buf[64];
            std::snprintf(buf, sizeof buf, " [%g %s]", *o.result.observed_value, o.result.observed_unit.c_str());
            value = buf;
        }
        std::printf("%-20s %-10s %-6s %8lld  %s%s\n", c.name.c_str(), c.type.c_str(), to_string(o.result.status),
                    static_cast<long long>(o.took.count()), o.result.output.c_str(), value.c_str());
        members.push_back({c.name, c.impact, c.scope, {o.result.status, o.result.output}});
    }
    const GroupConfig* def = cfg.find_group("default");
    std::vector<Member> in_group;
    for (const auto& m : members)
        if (std::find(def->checks.begin(), def->checks.end(), m.name) != def->checks.end()) in_group.push_back(m);
    GroupVerdict v = evaluate_group(*def, in_group, cfg.policy.shared_fail, false);
    std::printf("\ndefault: %s%s%s\n", to_string(v.status), v.cause.empty() ? "" : ": ", v.cause.c_str());
    int code = v.status == Status::pass ? 0 : v.status == Status::warn ? 1 : 2;
    std::fflush(nullptr);
    if (abandoned) std::_Exit(code);
    // Every run has delivered its result: let each thread end (its thread-local destructors free
    // OpenSSL's per-thread state, which LeakSanitizer otherwise sees as leaked when exit wins the race).
    for (auto& t : runs)
        if (t.joinable()) t.join();
    return code;
}

// Hidden: the child the daemon starts for plugin code it does not run itself (an "isolation":
// "process" check's run, the first load of a plugin file; see plugins/worker_process.h).
[[noreturn]] void cmd_worker() {
    std::ostringstream request;
    request << std::cin.rdbuf();
    // The reply goes to a private copy of stdout; what the plugin itself prints (to stdout or
    // stderr) goes to stderr, which the daemon points at /dev/null, and cannot corrupt the reply.
    int reply_fd = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
    ::dup2(2, 1);
    int code = 0;
    std::string reply = run_worker(request.str(), code);
    for (size_t off = 0; reply_fd >= 0 && off < reply.size();) {
        ssize_t n = ::write(reply_fd, reply.data() + off, reply.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += size_t(n);
    }
    std::_Exit(code);  // no static destructors under a plugin that may have left threads
}

std::string shorten(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 1) + "~"; }

// Text for one Markdown table cell: one line, pipes escaped.
std::string md_cell(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '|') out += "\\|";
        else if (c == '\n' || c == '\r') out += ' ';
        else out += c;
    }
    return out;
}

// `vitals plugins --markdown`: the configuration reference of every check type found, from the
// option schemas (docs/config-reference.md is this output; `make docs` regenerates it). Nothing
// machine-specific (no file paths), types sorted by name, so the output depends only on the plugins.
// A refused plugin would leave a hole in the reference: it is reported on stderr and the exit is 1.
int plugins_markdown(const PluginRegistry& registry) {
    std::printf("# Check types and their options\n\n"
                "<!-- Generated by `vitals plugins --markdown` from the plugins' option schemas. Do not edit:\n"
                "     regenerate with `make docs` (the test suite fails while this file is stale). -->\n\n"
                "Each check's `options` object (`\"checks\": [{\"name\": ..., \"type\": ..., \"options\": {...}}]`) is\n"
                "validated against its type's schema below; unknown options are errors. Durations are strings\n"
                "such as `250ms`, `5s`, `1m`; `${VAR}` and `${VAR:-default}` are substituted from the\n"
                "environment. A *secret* option never appears in a response or a log line.\n\n");
    std::printf("| type | description | plugin |\n|---|---|---|\n");
    for (const auto* t : registry.types())
        std::printf("| [`%s`](#%s) | %s | %s %s |\n", t->name.c_str(), t->name.c_str(), md_cell(t->description).c_str(),
                    md_cell(t->plugin_name).c_str(), md_cell(t->plugin_version).c_str());
    for (const auto* t : registry.types()) {
        std::printf("\n## %s\n\n%s\n\n", t->name.c_str(), t->description.c_str());
        if (t->options.empty()) {
            std::printf("No options.\n");
            continue;
        }
        std::printf("| option | type | default | required / secret | description |\n|---|---|---|---|---|\n");
        for (const auto& o : t->options) {
            std::string def = o.default_json ? "`" + md_cell(*o.default_json) + "`" : "";
            std::string flags = o.required ? "required" : "";
            if (o.secret) flags += flags.empty() ? "secret" : ", secret";
            std::printf("| `%s` | %s | %s | %s | %s |\n", o.name.c_str(), to_string(o.type), def.c_str(), flags.c_str(),
                        md_cell(o.help).c_str());
        }
    }
    for (const auto& r : registry.refusals())
        std::fprintf(stderr, "vitals: plugin refused: %s: %s\n", r.file.c_str(), r.reason.c_str());
    if (registry.types().empty()) std::fprintf(stderr, "vitals: no check types found\n");
    return registry.refusals().empty() && !registry.types().empty() ? 0 : 1;
}

int cmd_plugins(const Args& args) {
    std::shared_ptr<PluginRegistry> registry;
    if (args.config_given) {
        registry = load_or_exit(args, true, PluginLoading::all).registry;
    } else {
        setup_logging("warn", "text");
        Config::Plugins defaults;
        LoadGuard guard{self_executable(), defaults.load_timeout};
        registry = PluginRegistry::scan(effective_plugin_dirs(defaults, process_env), defaults.strict_permissions,
                                        false, nullptr, &guard);
    }
    if (args.markdown) return plugins_markdown(*registry);
    for (const auto* t : registry->types()) {
        std::printf("%s  (%s %s, %s)\n    %s\n", t->name.c_str(), t->plugin_name.c_str(), t->plugin_version.c_str(),
                    t->file.c_str(), t->description.c_str());
        for (const auto& o : t->options) {
            std::string def = o.required ? "required" : o.default_json ? "default " + *o.default_json : "optional";
            if (o.secret) def += ", secret";
            std::printf("    %-26s %-12s %-24s %s\n", o.name.c_str(), to_string(o.type), shorten(def, 24).c_str(),
                        o.help.c_str());
        }
        std::printf("\n");
    }
    for (const auto& r : registry->refusals()) std::printf("refused: %s: %s\n", r.file.c_str(), r.reason.c_str());
    if (registry->types().empty()) {
        std::printf("no check types found in:");
        for (const auto& d : registry->dirs()) std::printf(" %s", d.c_str());
        std::printf("\n");
    }
    return 0;
}

int cmd_history(const Args& args) {
    Config cfg;
    try {
        cfg = load_config_file(args.config, process_env, nullptr);  // plugins are not needed to read history
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "vitals: %s: invalid configuration:\n", args.config.c_str());
        for (const auto& err : e.errors()) std::fprintf(stderr, "  %s\n", err.c_str());
        return kExitUsage;
    }
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto parsed = parse_history_query(args.history_params, now_ms, &cfg);
    if (auto* err = std::get_if<QueryError>(&parsed)) usage_error("--" + err->parameter + ": " + err->message);
    HistoryPage page;
    try {
        if (::access(cfg.history.path.c_str(), F_OK) != 0) {
            std::fprintf(stderr, "vitals: no history database at %s (history.path)\n", cfg.history.path.c_str());
            return 1;
        }
        page = HistoryReader(cfg.history.path).query(std::get<HistoryQuery>(parsed));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vitals: cannot read %s: %s\n", cfg.history.path.c_str(), e.what());
        return 1;
    }
    if (args.json) {
        std::printf("%s\n", history_page_json(page).c_str());
        return 0;
    }
    std::printf("%-24s %-20s %-10s %-6s %s\n", "TIME", "CHECK", "KIND", "STATUS", "DETAIL");
    for (const auto& e : page.items) {
        std::string detail;
        if (e.kind == EventKind::result) {
            detail = "raw " + std::string(e.raw_status ? to_string(*e.raw_status) : "?");
            if (e.duration_ms) detail += ", " + std::to_string(*e.duration_ms) + " ms";
            if (!e.output.empty()) detail += ": " + e.output;
        } else {
            detail = std::string("from ") + (e.previous ? to_string(*e.previous) : "pending") + ": " + e.cause;
        }
        std::printf("%-24s %-20s %-10s %-6s %s\n", rfc3339(WallTime(std::chrono::milliseconds(e.time_ms))).c_str(),
                    e.check.c_str(), e.kind == EventKind::result ? "result" : "transition", to_string(e.status),
                    detail.c_str());
    }
    if (page.next_before_id)
        std::printf("(more: --cursor %s)\n", encode_cursor(*page.next_before_id).c_str());
    return 0;
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
        if (args.command == "worker") cmd_worker();
        return cmd_serve(args);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vitals: %s\n", e.what());
        return 1;
    }
}
