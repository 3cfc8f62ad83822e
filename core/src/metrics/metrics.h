// /metrics (SPEC §8): Prometheus text exposition format 0.0.4, rendered per scrape from the
// current snapshot and a few counters. Label values are bounded: check and group names come from
// the configuration, paths are route templates, codes are HTTP codes.
#pragma once

#include "snapshot/snapshot.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace vitals {

// The routes of the health port, as `path` label values.
enum class Route { health, health_group, health_check, health_history, metrics, admin, other, count_ };
const char* route_label(Route r);

// Why the health port closed a connection, as `reason` label values. Every close has one.
enum class CloseReason {
    answered_close,  // answered a request that was not keep-alive (HTTP/1.0, Connection: close)
    peer_closed,     // the client closed or half-closed, and everything it sent was answered
    limit,           // a size limit (head 431, body 413) or the connection limit (evicted)
    timeout,         // header, keep-alive or write timeout
    protocol_error,  // a malformed request, answered with a 4xx/5xx
    io_error,        // send or receive failed (reset by the client)
    shutdown,        // the daemon is stopping
    count_
};
const char* close_reason_label(CloseReason r);

// Requests by route and status code, and connection closes by reason: lock-free, bumped on every
// request.
class HttpCounters {
public:
    void count_close(CloseReason r) { closes_[size_t(r)].fetch_add(1, std::memory_order_relaxed); }
    uint64_t closes(CloseReason r) const { return closes_[size_t(r)].load(std::memory_order_relaxed); }

    void count(Route r, int code) {
        if (code < 100 || code > 599) code = 599;
        counts_[size_t(r)][size_t(code - 100)].fetch_add(1, std::memory_order_relaxed);
    }
    uint64_t get(Route r, int code) const { return counts_[size_t(r)][size_t(code - 100)].load(std::memory_order_relaxed); }

private:
    std::array<std::array<std::atomic<uint64_t>, 500>, size_t(Route::count_)> counts_{};
    std::array<std::atomic<uint64_t>, size_t(CloseReason::count_)> closes_{};
};

struct RuntimeCounters {
    uint64_t history_write_errors = 0;
    uint64_t history_dropped_results = 0;
    uint64_t reloads_ok = 0;
    uint64_t reloads_failed = 0;
    bool last_reload_ok = true;
    bool draining = false;
};

std::string render_metrics(const Snapshot& snap, const RuntimeCounters& rc, const HttpCounters& http);

}  // namespace vitals
