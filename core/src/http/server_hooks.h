// What the health port needs from the daemon: its own header, so that the router (which calls
// these) and the server (which is given them) both include it and neither includes the other.
#pragma once

#include "config/config.h"
#include "metrics/metrics.h"

#include <memory>
#include <string>

namespace vitals {

// What the server needs from the daemon. Implemented by the daemon; called from request threads.
class ServerHooks {
public:
    virtual ~ServerHooks() = default;
    // The configuration in effect (details, admin token variable, groups). Never null.
    virtual std::shared_ptr<const Config> config() const = 0;
    virtual void drain() = 0;
    // Drains as SIGTERM does (with shutdown.drain, probe-aware), then exits.
    virtual void drain_and_exit() = 0;
    // Ends a manual drain. Returns "" on success, else why not (a SIGTERM drain cannot be resumed).
    virtual std::string resume() = 0;
    // Reloads the configuration file. Returns "" on success, else every error (the running
    // configuration then stays).
    virtual std::string reload() = 0;
    virtual RuntimeCounters counters() const = 0;
};

}  // namespace vitals
