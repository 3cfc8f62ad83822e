// `vitals validate`: every configuration error, with its path, and every plugin refused.
#include "app/cli.h"

#include <cstdio>

namespace vitals {

int cmd_validate(const Args& args) {
    Loaded loaded = load_or_exit(args, true, PluginLoading::all);
    for (const auto& r : loaded.registry->refusals())
        std::printf("warning: plugin refused: %s: %s\n", r.file.c_str(), r.reason.c_str());
    for (const auto& w : config_warnings(*loaded.config)) std::printf("warning: %s\n", w.c_str());
    if (loaded.tls) {
        const Config::Server::Tls& tls = *loaded.config->server.tls;
        std::string soon = tls_expiry_warning(tls, *loaded.tls, unix_now_ms() / 1000);
        if (!soon.empty()) std::printf("warning: %s\n", soon.c_str());
        std::printf("%s: TLS: certificate %s (serial %s) matches key %s%s\n", args.config.c_str(), tls.cert.c_str(),
                    loaded.tls->serial().c_str(), tls.key.c_str(),
                    tls.client_ca.empty() ? "" : (", client CA " + tls.client_ca).c_str());
    }
    std::printf("%s: OK: %zu checks, %zu groups, %zu check types available\n", args.config.c_str(),
                loaded.config->checks.size(), loaded.config->groups.size(), loaded.registry->types().size());
    return 0;
}

}  // namespace vitals
