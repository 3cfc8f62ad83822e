// /metrics (SPEC §8): Prometheus text exposition format 0.0.4, rendered per scrape from the
// current snapshot and a few counters. Label values are bounded: check and group names come from
// the configuration, paths are route templates, codes are HTTP codes.
#pragma once

#include "common/route.h"
#include "probers/prober_record.h"
#include "snapshot/snapshot.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace vitals {

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
    int64_t tls_cert_not_after = 0;  // unix seconds; 0: the port does not speak TLS
    uint64_t reloads_failed = 0;
    bool last_reload_ok = true;
    double last_reload_success_seconds = 0;  // unix time of the last successful load (start-up included)
    bool draining = false;
    ProberCounts probers;
};

std::string render_metrics(const Snapshot& snap, const RuntimeCounters& rc, const HttpCounters& http);

}  // namespace vitals
