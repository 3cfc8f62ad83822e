// The health port's transport: one epoll loop that owns every connection, so idle keep-alive
// connections and slow or half-sent requests (slowloris) cost a file descriptor and a few hundred
// bytes each, never a thread. Poco's HTTPServer gives every connection a thread for its keep-alive
// and receive timeouts, and starves once they are all taken (STYLE.md, measured: 34 of 50
// keep-alive clients never served with 16 threads); a load balancer's health port must not.
//
// Requests are framed by RequestParser (http/request_head.h: Boost.Beast's strict HTTP/1.1 parser
// plus RFC 9112's rules on top), fed as bytes arrive. Fast routes (status, metrics) are answered on
// the loop from the pre-rendered snapshot; slow ones (admin actions, history queries, decided on the
// normalised path) run on a small worker pool and their answer is handed back to the loop.
//
// A connection is in one of four states: reading (a request is coming), waiting (a slow request
// runs on a worker; nothing more is read meanwhile), writing (an answer is going out), lingering
// (an error answer was sent and the write side shut down; what the client still sends is read and
// dropped for a short while, so that closing does not turn into a reset that destroys the answer
// before the client reads it). Every close has a reason (CloseReason), counted in /metrics.
// A client that half-closes (shutdown(SHUT_WR)) still gets the answers to what it sent.
//
// `loops` event loops (threads) share the one listening socket, each waiting on it with
// EPOLLEXCLUSIVE so a new connection wakes one idle loop; a connection stays on the loop that
// accepted it. Sharing one socket (rather than SO_REUSEPORT sockets) keeps a port clash an error.
//
// With TLS (use_tls), each connection holds its SSL object from accept to close, on the same loop:
// SSL_do_handshake, SSL_read and SSL_write run on the non-blocking socket, and WANT_READ/WANT_WRITE
// set the connection's epoll interest. The handshake is part of the request head and bounded by
// header_timeout, so a client that stalls it costs a descriptor, not a thread. A failed handshake is
// closed as tls_error; a plain HTTP request sent to the TLS port gets a plain 400 saying so.
#pragma once

#include "common/duration.h"
#include "http/request_head.h"
#include "http/router.h"
#include "http/tls_context.h"
#include "metrics/metrics.h"
#include "probers/prober_record.h"

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
    Millis linger_timeout{1000};     // after an error answer, how long the client's further bytes are
                                     // read and dropped before the close
    size_t slow_workers = 2;         // threads for admin actions and history queries
    size_t loops = 1;                // event loop threads
};

class EventServer {
public:
    using Handler = std::function<HttpResponse(const HttpRequest&, const ClientInfo&)>;
    using IsSlow = std::function<bool(const HttpRequest&)>;
    // Called for answers the server makes itself (malformed requests, limits): route "other".
    using OnError = std::function<void(int code)>;
    // Called once for every connection closed, with why.
    using OnClose = std::function<void(CloseReason)>;
    // Called on loop `loop`'s thread for every answer on a status path (HttpResponse::status_answer):
    // who asked, what was answered, when the request's bytes reached this host (the kernel's receive
    // timestamp, so time spent in the accept queue or a stalled process counts) and when the answer
    // was handed to the kernel, both unix microseconds. `abandoned`: the client had closed its side
    // before the answer went out (a load balancer that gave up at its timeout); the kernel's receive
    // time is then the close's, not the request's. Must be cheap: it runs on the request path.
    using OnStatusAnswer = std::function<void(size_t loop, const PeerAddress& peer, const HttpRequest& req, int code,
                                              int64_t received_us, int64_t answered_us, bool abandoned)>;

    // `socket` is bound and listening; the server takes it over.
    EventServer(Poco::Net::ServerSocket socket, Handler handler, IsSlow is_slow, OnError on_error, OnClose on_close,
                EventServerOptions options);
    ~EventServer();

    // Before start().
    void on_status_answer(OnStatusAnswer f);
    // Before start(): every connection speaks TLS, with the context `slot` holds when it is accepted
    // (never null once set; the slot outlives the server). Without it, plain HTTP.
    void use_tls(const TlsSlot* slot);
    size_t loops() const;

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
