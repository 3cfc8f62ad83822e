// Loading a configuration with its plugins: the one path used by serve, validate, check and reload.
#pragma once

#include "config/config.h"
#include "http/tls_context.h"
#include "plugins/registry.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace vitals {

struct LoadedConfig {
    std::shared_ptr<const Config> config;
    std::shared_ptr<PluginRegistry> registry;
    // server.tls's files, read and checked; null without server.tls.
    std::shared_ptr<const TlsContext> tls;
};

// Which plugin files a load opens: those the configuration's check types need (serve, reload,
// check; see PluginRegistry::scan), or every file in the plugin directories (validate, which
// reports every refusal and the types available).
enum class PluginLoading { used, all };

// How the configuration file is read: read_config_file, or a stand-in (tests).
using ConfigFileReader = std::function<std::string(const std::string&)>;

// Reads the file once and its structure (config/config.h), scans the plugin directories it names
// for the check types it uses, then validates every check's options against their types' schemas
// (plugins/option_schema.h) and tries create() on every in-process check (values only a plugin can
// judge). Throws ConfigError with every problem, structure and options together; refused plugins
// are listed after the errors. `port` overrides server.port (--port). server.tls's files are read
// and checked as part of the configuration (an unreadable or mismatched file is an error naming it).
LoadedConfig load_configuration(const std::string& path, std::optional<int> port,
                                PluginLoading plugins = PluginLoading::used,
                                const ConfigFileReader& read = read_config_file);

}  // namespace vitals
