// Who probes the health port and what each was answered (SPEC §9).
//
// A prober is (client address, User-Agent, path). Every answer on a status path is counted on the
// event loop that made it, into a table owned by that loop (record(): a key built in a reused
// buffer, one hash lookup, a few stores). The only lock it takes is its own loop table's, shared
// with nothing but the merge, which holds it for a swap of two maps. A merge (a small thread, every
// kMergeEvery, or on demand for /health/probers and the drain) folds the loop tables into the
// prober table: each prober's modelled state under load_balancer (probers/lb_model.h), observed
// interval, silence, and its history rows, at most one per prober per second (ProbeRow). The
// merge is the only part that talks to the history writer, so a flood costs counters, not rows,
// and never waits on SQLite.
//
// Bounds: kMaxProbers probers (the least recently seen is evicted, counted); kMaxLoopEntries new
// probers per loop between merges (beyond: counted, not tracked); kMaxSamples answers per prober and
// merge are modelled one by one (beyond: counted into the row only).
#pragma once

#include "config/config.h"
#include "history/history_types.h"
#include "probers/lb_model.h"

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

struct sockaddr_storage;

namespace vitals {

// A client address as the loop keeps it: 4 or 16 bytes, IPv4-mapped IPv6 folded to IPv4.
struct PeerAddress {
    uint8_t family = 0;  // 4 or 6; 0: unknown
    std::array<uint8_t, 16> bytes{};
    static PeerAddress from(const sockaddr_storage& ss);
    std::string text() const;
};

// One prober as /health/probers shows it.
struct ProberView {
    std::string address, user_agent, path;
    int64_t first_seen_us = 0, last_seen_us = 0;
    uint64_t probes = 0;
    int last_code = 0;
    int64_t last_latency_us = 0;
    std::optional<int64_t> interval_ms;  // median of the recent gaps; none before a second probe
    bool consecutive_healthy = false;
    int consecutive = 0;
    ProberState state = ProberState::initial;
    std::string reason;
    bool silent = false;
};

// The counts /metrics shows.
struct ProberCounts {
    uint64_t tracked = 0;
    uint64_t silent = 0;
    uint64_t evictions = 0;
    std::vector<std::pair<int, uint64_t>> probes_by_code;  // codes with a non-zero count, ascending
};

// Where the drain stands (Daemon::run after SIGTERM).
struct DrainProgress {
    size_t watched = 0;               // probers that count: not silent, on a path whose group drains
    size_t done = 0;                  // of them, with unhealthy_threshold unhealthy answers since the drain began
    std::vector<std::string> waiting; // the others, "address path (n of N)"
};

class ProberRecord {
public:
    static constexpr size_t kMaxProbers = 256;
    static constexpr size_t kMaxLoopEntries = 1024;
    static constexpr size_t kMaxSamples = 64;  // per prober, loop and merge
    static constexpr int64_t kRowWindowUs = 1'000'000;

    // `loops`: how many event loops call record(). `history` may be null (no rows written).
    ProberRecord(size_t loops, std::shared_ptr<const Config> config, HistorySink* history);
    ~ProberRecord();

    // The settings in effect (load_balancer, groups); called at start and on every reload.
    void set_config(std::shared_ptr<const Config> config);

    // Event loop `loop` only: one answer on a status path. `user_agent` and `path` are copied only
    // when the prober is new to this loop's table. `answered_us` < 0: the client had closed before
    // the answer (recorded as ProbeSample::kAbandoned).
    void record(size_t loop, const PeerAddress& peer, std::string_view user_agent, std::string_view path, int code,
                int64_t received_us, int64_t answered_us);

    void start();  // the merge thread
    void stop();   // merges once more, writes every pending row, stops the thread; idempotent

    // Folds the loop tables in now (any thread; merges are serialised).
    void merge_now();

    std::vector<ProberView> probers(int64_t now_us);
    ProberCounts counts(int64_t now_us);  // reads only atomics and the last merge's figures

    // From now on, count unhealthy answers toward the drain (SIGTERM).
    void begin_drain(int64_t now_us);
    DrainProgress drain_progress(int64_t now_us);

    static int64_t now_us();  // CLOCK_REALTIME, the clock of the kernel's receive timestamps

private:
    struct LoopEntry {
        uint64_t count = 0;
        std::vector<ProbeSample> samples;  // at most kMaxSamples
    };
    struct LoopTable {
        std::mutex mu;  // the loop (one record) and the merge (one swap): never held for long
        std::unordered_map<std::string, LoopEntry> entries;  // key: see make_key
        uint64_t untracked = 0;
        std::string key;  // the loop thread's reused key buffer (not guarded: loop thread only)
    };
    struct Prober {
        std::string address, user_agent, path, group;
        int64_t first_seen_us = 0, last_seen_us = 0;
        uint64_t probes = 0;
        int last_code = 0;
        int64_t last_latency_us = 0;
        std::vector<int64_t> gaps_us;  // the last kGaps gaps between probes, ring
        size_t gap_next = 0;
        LbModel model;
        int drain_unhealthy = 0;  // consecutive unhealthy answers since the drain began
        std::optional<ProbeRow> row;  // the row being filled (its first sample opened it)
        int64_t row_start_us = 0;
        bool row_unhealthy = false;
    };
    static constexpr size_t kGaps = 15;

    void merge_locked(int64_t now_us);
    Prober& prober_for(const std::string& key, int64_t now_us);
    void add_sample(Prober& p, const ProbeSample& s);
    void write_row(Prober& p);
    void flush_rows_locked(int64_t now_us, bool all);
    bool silent(const Prober& p, int64_t now_us) const;
    void loop_thread();

    std::vector<std::unique_ptr<LoopTable>> loops_;
    std::array<std::atomic<uint64_t>, 500> by_code_{};  // codes 100..599, bumped by record()
    std::atomic<uint64_t> evictions_{0};
    std::atomic<uint64_t> tracked_{0};
    std::atomic<uint64_t> silent_{0};

    std::mutex mu_;  // the prober table; merges; never taken by an event loop
    std::shared_ptr<const Config> config_;     // guarded by mu_
    std::map<std::string, Prober> probers_;    // guarded by mu_; by loop key
    std::optional<int64_t> drain_since_us_;    // guarded by mu_
    HistorySink* history_;

    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    bool stopping_ = false;  // guarded by stop_mu_
    std::thread thread_;
};

}  // namespace vitals
