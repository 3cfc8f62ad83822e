#include "app/loading.h"

#include "plugins/check_instance.h"
#include "plugins/worker_process.h"

namespace vitals {

LoadedConfig load_configuration(const std::string& path, std::optional<int> port, PluginLoading loading) {
    // The plugins section and the check types first (leniently): the full validation needs the
    // plugins' schemas, and every error, including those, is reported in one pass.
    ConfigPeek peek = peek_config(path, process_env);
    const Config::Plugins& plugins = peek.plugins;
    const std::set<std::string>* wanted =
        loading == PluginLoading::used && peek.check_types ? &*peek.check_types : nullptr;
    LoadGuard guard{self_executable(), plugins.load_timeout};
    auto registry = PluginRegistry::scan(effective_plugin_dirs(plugins, process_env), plugins.strict_permissions,
                                         plugins.dirs_explicit, wanted, &guard);
    auto with_refusals = [&](std::vector<std::string> errors) {
        // A refused plugin is often why a check type is unknown: say so next to the errors.
        for (const auto& r : registry->refusals()) errors.push_back("(plugin refused: " + r.file + ": " + r.reason + ")");
        return ConfigError(std::move(errors));
    };
    Config cfg;
    try {
        cfg = load_config_file(path, process_env, registry.get());
    } catch (const ConfigError& e) {
        throw with_refusals(e.errors());
    }
    if (port) cfg.server.port = *port;
    std::vector<std::string> errors;
    for (size_t i = 0; i < cfg.checks.size(); ++i) {
        const CheckConfig& c = cfg.checks[i];
        // A process-isolated plugin is never asked to create() in the daemon: its child does it.
        if (c.isolation == Isolation::process) continue;
        std::string error;
        if (!CheckInstance::create(*registry->find(c.type), c.options_json, error))
            errors.push_back("checks[" + std::to_string(i) + "].options: " + c.type + ": " + error);
    }
    if (!errors.empty()) throw with_refusals(errors);
    return {std::make_shared<const Config>(std::move(cfg)), registry};
}

}  // namespace vitals
