// The health port's transport: one epoll loop that owns every connection, so idle keep-alive
// connections and slow or half-sent requests (slowloris) cost a file descriptor and a few hundred
// bytes each, never a thread. Poco's HTTPServer gives every connection a thread for its keep-alive
// and receive timeouts, and starves once they are all taken (STYLE.md, measured: 34 of 50
// keep-alive clients never served with 16 threads); a load balancer's health port must not.
//
// Request heads are parsed by Poco (Poco::Net::HTTPRequest::read, with its field-count and length
// limits). Fast routes (status, metrics) are answered on the loop from the pre-rendered snapshot;
// slow ones (admin actions, history queries) run on a small worker pool and their answer is handed
// back to the loop.
//
// `loops` event loops (threads) share the one listening socket, each waiting on it with
// EPOLLEXCLUSIVE so a new connection wakes one idle loop; a connection stays on the loop that
// accepted it. Sharing one socket (rather than SO_REUSEPORT sockets) keeps a port clash an error.
#pragma once

#include "common/duration.h"
#include "http/router.h"

#include <Poco/Net/ServerSocket.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace vitals {

struct EventServerOptions {
    Millis header_timeout{5000};     // a request head must be complete this long after the connection
                                     // opened or the previous response was sent (slowloris)
    Millis keepalive_timeout{5000};  // an idle keep-alive connection is closed after this
    Millis write_timeout{5000};      // a client that does not read its response is dropped
    size_t max_connections = 10000;  // beyond it the oldest idle connection is evicted
    size_t max_header_bytes = 16384; // request line and headers
    size_t max_body_bytes = 65536;   // admin POST bodies are ignored but must fit
    size_t slow_workers = 2;         // threads for admin actions and history queries
    size_t loops = 1;                // event loop threads
};

class EventServer {
public:
    using Handler = std::function<HttpResponse(const Poco::Net::HTTPRequest&, bool loopback)>;
    using IsSlow = std::function<bool(const Poco::Net::HTTPRequest&)>;
    // Called for answers the server makes itself (malformed requests, limits): route "other".
    using OnError = std::function<void(int code)>;

    // `socket` is bound and listening; the server takes it over.
    EventServer(Poco::Net::ServerSocket socket, Handler handler, IsSlow is_slow, OnError on_error,
                EventServerOptions options);
    ~EventServer();

    void start();
    void stop();  // closes every connection; idempotent

    size_t connections() const { return connections_; }

private:
    struct Impl;
    struct Loop;
    std::unique_ptr<Impl> impl_;
    std::vector<std::thread> threads_;
    std::atomic<size_t> connections_{0};
};

}  // namespace vitals
