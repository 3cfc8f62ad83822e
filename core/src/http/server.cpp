#include "http/server.h"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <algorithm>
#include <thread>

namespace vitals {

size_t event_loops() {
    // Two event loops where there are two cores: one loop tops out at about 0.8x nginx with two
    // workers on keep-alive /health, two match it (issue 7, tests/bench/run). More would only
    // take cores from the service the sidecar sits beside.
    return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 2);
}

HealthServer::HealthServer(const Config::Server& server, SnapshotSlot& slot, HistoryReader* history,
                           ServerHooks& hooks, ProberRecord* probers, const TlsSlot* tls)
    : counters_(std::make_unique<HttpCounters>()) {
    context_.slot = &slot;
    context_.history = history;
    context_.hooks = &hooks;
    context_.counters = counters_.get();
    context_.probers = probers;

    Poco::Net::SocketAddress addr(server.address, Poco::UInt16(server.port));
    Poco::Net::ServerSocket socket;
    // SO_REUSEADDR (a restart binds at once despite connections in TIME_WAIT) but never SO_REUSEPORT:
    // with it a second daemon, a stale one left by a deploy, would bind the same port and the kernel
    // would split the load balancer's probes between the two. Our own event loops share this one
    // socket instead.
    socket.bind(addr, true, false);
    socket.listen(1024);
    port_ = socket.address().port();

    EventServerOptions options;
    options.slow_workers = size_t(server.threads);  // admin actions and history queries
    options.loops = event_loops();
    HttpCounters* counters = counters_.get();
    const RouterContext* ctx = &context_;
    transport_ = std::make_unique<EventServer>(
        socket, [ctx](const HttpRequest& req, const ClientInfo& client) { return route_request(*ctx, req, client); },
        [](const HttpRequest& req) { return is_slow_route(req); },
        [counters](int code) { counters->count(Route::other, code); },
        [counters](CloseReason why) { counters->count_close(why); }, options);
    if (tls) transport_->use_tls(tls);
    if (probers)
        transport_->on_status_answer([probers](size_t loop, const PeerAddress& peer, const HttpRequest& req, int code,
                                               int64_t received_us, int64_t answered_us, bool abandoned) {
            probers->record(loop, peer, req.user_agent, req.path, code, received_us, abandoned ? -1 : answered_us);
        });
}

HealthServer::~HealthServer() { stop(); }

void HealthServer::start() { transport_->start(); }

void HealthServer::stop() {
    if (transport_) transport_->stop();
}

}  // namespace vitals
