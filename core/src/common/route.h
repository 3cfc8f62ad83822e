// The health port's routes and its reasons to close a connection: what the HTTP layer decides and
// the metrics count (as `path` and `reason` label values). Here, below both, so that neither
// includes the other for them.
#pragma once

namespace vitals {

// The routes of the health port, as `path` label values.
enum class Route {
    health,
    health_group,
    health_check,
    health_history,
    health_probers,
    health_replay,
    metrics,
    admin,
    other,
    health_uptime,
    dashboard,
    dashboard_recent,
    count_
};

// Why the health port closed a connection, as `reason` label values. Every close has one.
enum class CloseReason {
    answered_close,  // answered a request that was not keep-alive (HTTP/1.0, Connection: close)
    peer_closed,     // the client closed or half-closed, and everything it sent was answered
    limit,           // a size limit (head 431, body 413) or the connection limit (evicted)
    timeout,         // header, keep-alive or write timeout
    protocol_error,  // a malformed request, answered with a 4xx/5xx
    io_error,        // send or receive failed (reset by the client)
    tls_error,       // the TLS handshake failed (server.tls): a bad or refused ClientHello, garbage
    shutdown,        // the daemon is stopping
    count_
};

inline const char* route_label(Route r) {
    switch (r) {
    case Route::health: return "/health";
    case Route::health_group: return "/health/{group}";
    case Route::health_check: return "/health/checks/{name}";
    case Route::health_history: return "/health/history";
    case Route::health_probers: return "/health/probers";
    case Route::health_replay: return "/health/replay";
    case Route::metrics: return "/metrics";
    case Route::admin: return "/admin";
    case Route::other: return "other";
    case Route::health_uptime: return "/health/uptime";
    case Route::dashboard: return "/dashboard";
    case Route::dashboard_recent: return "/dashboard/recent";
    case Route::count_: break;
    }
    return "other";
}

inline const char* close_reason_label(CloseReason r) {
    switch (r) {
    case CloseReason::answered_close: return "answered_close";
    case CloseReason::peer_closed: return "peer_closed";
    case CloseReason::limit: return "limit";
    case CloseReason::timeout: return "timeout";
    case CloseReason::protocol_error: return "protocol_error";
    case CloseReason::io_error: return "io_error";
    case CloseReason::shutdown: return "shutdown";
    case CloseReason::tls_error: return "tls_error";
    case CloseReason::count_: break;
    }
    return "io_error";
}

}  // namespace vitals
