// The health port (SPEC §2): a Poco HTTPServer on our own ServerSocket, routing to small handlers
// that answer from the current Snapshot. No handler runs a check or waits on the scheduler.
#pragma once

#include "config/config.h"
#include "history/history_reader.h"
#include "snapshot/snapshot.h"

#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <memory>
#include <string>

namespace vitals {

class HealthServer {
public:
    // Binds server.address:server.port at once (so a port clash is reported before anything runs).
    // Throws Poco::Exception when the socket cannot be bound.
    // `history` (may be null: /health/history then answers 503) serves /health/history; `config` expands
    // group names in its `check` parameter.
    HealthServer(std::shared_ptr<const Config> config, SnapshotSlot& slot, HistoryReader* history);
    ~HealthServer();

    void start();
    void stop();
    uint16_t port() const { return port_; }

private:
    std::unique_ptr<Poco::ThreadPool> pool_;  // declared first: outlives the server using it
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    uint16_t port_ = 0;
};

// Constant-time comparison, for bearer tokens.
bool constant_time_equals(const std::string& a, const std::string& b);

}  // namespace vitals
