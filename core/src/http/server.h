// The health port (SPEC §2): an event-loop transport (event_server.h) on our own bound socket,
// routing (router.h) to answers from the current Snapshot. No request runs a check or waits on
// the scheduler; the admin endpoints call into the daemon through ServerHooks.
#pragma once

#include "config/config.h"
#include "history/history_reader.h"
#include "http/event_server.h"
#include "http/router.h"
#include "http/server_hooks.h"
#include "metrics/metrics.h"
#include "snapshot/snapshot.h"

#include <memory>
#include <string>

namespace vitals {

// How many event loops the health port runs on this host.
size_t event_loops();

class HealthServer {
public:
    // Binds server.address:server.port at once (so a port clash is reported before anything runs).
    // `history` may be null (/health/history then answers 503). Throws Poco::Exception when the
    // socket cannot be bound.
    // `probers` may be null (nothing is recorded; /health/probers answers 503); it has at least
    // event_loops() loop tables.
    // `tls` non-null: the port speaks TLS with the context it holds (server.tls); it outlives the server.
    HealthServer(const Config::Server& server, SnapshotSlot& slot, HistoryReader* history, ServerHooks& hooks,
                 ProberRecord* probers = nullptr, const TlsSlot* tls = nullptr);
    ~HealthServer();

    void start();
    void stop();
    uint16_t port() const { return port_; }
    const HttpCounters& counters() const { return *counters_; }

    size_t connections() const { return transport_ ? transport_->connections() : 0; }

private:
    std::unique_ptr<HttpCounters> counters_;
    RouterContext context_;                   // declared before transport_: outlives it
    std::unique_ptr<EventServer> transport_;
    uint16_t port_ = 0;
};

}  // namespace vitals
