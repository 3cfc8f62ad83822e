// `vitals validate`: every configuration error, with its path, and every plugin refused.
#include "app/cli.h"

#include <cstdio>

namespace vitals {

int cmd_validate(const Args& args) {
    Loaded loaded = load_or_exit(args, true, PluginLoading::all);
    for (const auto& r : loaded.registry->refusals())
        std::printf("warning: plugin refused: %s: %s\n", r.file.c_str(), r.reason.c_str());
    for (const auto& w : config_warnings(*loaded.config)) std::printf("warning: %s\n", w.c_str());
    std::printf("%s: OK: %zu checks, %zu groups, %zu check types available\n", args.config.c_str(),
                loaded.config->checks.size(), loaded.config->groups.size(), loaded.registry->types().size());
    return 0;
}

}  // namespace vitals
