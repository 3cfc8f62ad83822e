#include "app/cli.h"

#include "app/logging.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace vitals {

int kExitUsage = kExitUsageDefault;

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "vitals: %s\nRun 'vitals --help' for usage.\n", message.c_str());
    std::exit(kExitUsage);
}

Loaded load_or_exit(const Args& args, bool quiet_refusals, PluginLoading plugins) {
    try {
        LoadedConfig l = load_configuration(args.config, args.port, plugins);
        setup_logging(l.config->log.level, l.config->log.format);
        if (!quiet_refusals)
            for (const auto& r : l.registry->refusals()) spdlog::error("plugin refused: {}: {}", r.file, r.reason);
        return {l.config, l.registry, l.tls};
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "vitals: %s: invalid configuration:\n", args.config.c_str());
        for (const auto& err : e.errors()) std::fprintf(stderr, "  %s\n", err.c_str());
        std::exit(kExitUsage);
    }
}

Config load_config_or_exit(const Args& args) {
    try {
        return load_config_file(args.config, process_env);  // plugins are not needed to read history
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "vitals: %s: invalid configuration:\n", args.config.c_str());
        for (const auto& err : e.errors()) std::fprintf(stderr, "  %s\n", err.c_str());
        std::exit(kExitUsage);
    }
}

}  // namespace vitals
