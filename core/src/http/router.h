// Routing of the health port's requests (SPEC §2), independent of the transport: a parsed request
// in, a complete response out. Status requests only read the current snapshot.
#pragma once

#include "history/history_reader.h"
#include "http/request_head.h"
#include "metrics/metrics.h"
#include "probers/prober_record.h"
#include "snapshot/snapshot.h"

#include <string>
#include <utility>
#include <vector>

namespace vitals {

class ServerHooks;

struct HttpResponse {
    int code = 500;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // beyond type, length, cache-control
    // An answer on a status path (/health, /health/{group}): recorded per prober (SPEC §9).
    bool status_answer = false;
};

// What the transport knows of the client that sent a request.
struct ClientInfo {
    bool loopback = false;       // connected from 127.0.0.0/8 or ::1
    bool verified_cert = false;  // showed a client certificate that verified against server.tls.client_ca
};

// What the router reads; all pointers outlive the server.
struct RouterContext {
    SnapshotSlot* slot = nullptr;
    HistoryReader* history = nullptr;  // may be null: /health/history answers 503
    ServerHooks* hooks = nullptr;
    HttpCounters* counters = nullptr;
    ProberRecord* probers = nullptr;   // may be null: /health/probers answers 503
};

// Answers one request from `client`.
HttpResponse route_request(const RouterContext& ctx, const HttpRequest& req, const ClientInfo& client);

// The route of a request's normalised path (HttpRequest::path), as routing decides it.
Route classify_route(const std::string& path);

// Requests that may take long (admin actions, history, probers and replay queries): run them off
// the I/O thread.
// Decided by classify_route on the same path the router uses, so no spelling of a slow route
// ("/%61dmin/reload", "http://x/admin/reload") runs on an event loop.
bool is_slow_route(const HttpRequest& req);

// An RFC 9457 problem+json response.
HttpResponse problem_response(int code, const std::string& detail);

// Constant-time comparison, for bearer tokens.
bool constant_time_equals(const std::string& a, const std::string& b);

}  // namespace vitals
