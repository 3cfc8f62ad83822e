#include "app/loading.h"

#include "plugins/check_instance.h"
#include "plugins/option_schema.h"
#include "plugins/worker_process.h"

namespace vitals {

LoadedConfig load_configuration(const std::string& path, std::optional<int> port, PluginLoading loading,
                                const ConfigFileReader& read) {
    // The file is read and parsed once: its structure names the plugins to load, whose schemas
    // then judge the checks' options. Structure and option errors are reported together.
    ParsedConfig parsed = load_config_structure(path, process_env, read);
    const Config::Plugins& plugins = parsed.config.plugins;
    const std::set<std::string>* wanted =
        loading == PluginLoading::used && parsed.check_types ? &*parsed.check_types : nullptr;
    LoadGuard guard{self_executable(), plugins.load_timeout};
    auto registry = PluginRegistry::scan(effective_plugin_dirs(plugins, process_env), plugins.strict_permissions,
                                         plugins.dirs_explicit, wanted, &guard);
    auto with_refusals = [&](std::vector<std::string> errors) {
        // A refused plugin is often why a check type is unknown: say so next to the errors.
        for (const auto& r : registry->refusals()) errors.push_back("(plugin refused: " + r.file + ": " + r.reason + ")");
        return ConfigError(std::move(errors));
    };
    std::vector<std::string> errors = validate_check_options(parsed, *registry, process_env);
    if (!errors.empty()) throw with_refusals(std::move(errors));
    Config cfg = std::move(parsed.config);
    if (port) cfg.server.port = *port;
    for (size_t i = 0; i < cfg.checks.size(); ++i) {
        const CheckConfig& c = cfg.checks[i];
        // A process-isolated plugin is never asked to create() in the daemon: its child does it.
        if (c.isolation == Isolation::process) continue;
        std::string error;
        if (!CheckInstance::create(*registry->find(c.type), c.options_json, error))
            errors.push_back("checks[" + std::to_string(i) + "].options: " + c.type + ": " + error);
    }
    std::shared_ptr<const TlsContext> tls;
    if (cfg.server.tls) {
        std::string error;
        tls = TlsContext::build(*cfg.server.tls, error);
        if (!tls) errors.push_back(error);
    }
    if (!errors.empty()) throw with_refusals(errors);
    return {std::make_shared<const Config>(std::move(cfg)), registry, tls};
}

}  // namespace vitals
