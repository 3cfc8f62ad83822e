// Loading a configuration with its plugins: the one path used by serve, validate, check and reload.
#pragma once

#include "config/config.h"
#include "plugins/registry.h"

#include <memory>
#include <optional>
#include <string>

namespace vitals {

struct LoadedConfig {
    std::shared_ptr<const Config> config;
    std::shared_ptr<PluginRegistry> registry;
};

// Which plugin files a load opens: those the configuration's check types need (serve, reload,
// check; see PluginRegistry::scan), or every file in the plugin directories (validate, which
// reports every refusal and the types available).
enum class PluginLoading { used, all };

// Scans the plugin directories the file names, then parses and validates the whole file against
// them, including a trial create() of every check (values only a plugin can judge). Throws
// ConfigError with every problem; refused plugins are listed after the errors. `port` overrides
// server.port (--port).
LoadedConfig load_configuration(const std::string& path, std::optional<int> port,
                                PluginLoading plugins = PluginLoading::used);

}  // namespace vitals
