// `vitals serve`: the daemon (app/daemon.h).
#include "app/cli.h"
#include "app/daemon.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

namespace vitals {

int cmd_serve(const Args& args) {
    Loaded loaded = load_or_exit(args);
    Daemon daemon(args.config, args.port, {loaded.config, loaded.registry, loaded.tls});
    int code = daemon.run();
    std::fflush(nullptr);
    spdlog::default_logger()->flush();
    // A plugin call that never returned, or a reload still running, owns a thread that uses the
    // daemon: exit without destroying it or running static destructors under those threads.
    std::_Exit(code);
}

}  // namespace vitals
