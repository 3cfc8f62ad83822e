// Runs every configured check on its own schedule (SPEC §3) and publishes snapshots.
//
// One scheduler thread owns time: due times with jitter, deadlines, stuck detection and staleness.
// Plugin calls run on a WorkerPool. At most one run per check is in flight. A run past its timeout
// is recorded as `fail` "timed out after N ms" at the deadline; its late answer is discarded. A call
// still running when the next run is due marks the check stuck, and no run of it starts until the
// call returns. Nothing here is ever called from the request path: the HTTP server only reads the
// SnapshotSlot.
#pragma once

#include "config/config.h"
#include "history/history_types.h"
#include "plugins/check_instance.h"
#include "plugins/registry.h"
#include "policy/check_state.h"
#include "scheduler/worker_pool.h"
#include "snapshot/snapshot.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vitals {

class Scheduler {
public:
    // Creates one plugin instance per check (a create() failure makes that check fail with the
    // reason; it never stops the others). `slot` receives every snapshot.
    // `history` (may be null) receives every result and every check and group transition; it must
    // not block (HistoryWriter only queues).
    Scheduler(std::shared_ptr<const Config> config, const PluginRegistry& registry, SnapshotSlot& slot,
              std::string service_id, HistorySink* history = nullptr);
    ~Scheduler();

    void start();
    void stop();

    // Applies a new configuration (SIGHUP, /admin/reload). Unchanged checks (same definition) keep
    // their state, plugin instance and any run in flight; changed and new checks start fresh;
    // removed ones stop. `registry` must outlive the call only (instances keep their library).
    void reconfigure(std::shared_ptr<const Config> config, const PluginRegistry& registry);

    void set_draining(bool draining);
    bool draining() const { return draining_; }

    // Builds and publishes a snapshot now (also done by the scheduler thread on every change).
    void publish();

private:
    struct Entry;
    std::shared_ptr<Entry> make_entry(const CheckConfig& c, const PluginRegistry& registry, bool strict_permissions,
                                      bool by_reload);
    void loop();
    void dispatch(const std::shared_ptr<Entry>& e, MonoTime now);
    void complete(const std::shared_ptr<Entry>& e, uint64_t run_id, RawResult raw, MonoTime started,
                  MonoTime finished);
    void record(Entry& e, CheckResult r);  // requires mu_
    void publish_locked(MonoTime now);     // requires mu_
    uint64_t rng_next();
    Millis jitter(Millis interval);  // uniform in [0, interval / 10)
    MonoTime::duration coalesce_window() const;

    std::shared_ptr<const Config> config_;
    SnapshotSlot& slot_;
    std::string service_id_;
    HistorySink* history_;
    MonoTime started_at_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::shared_ptr<Entry>> entries_;
    bool dirty_ = true;
    MonoTime last_publish_{};
    MonoTime::duration publish_cost_{};  // how long the last snapshot build took
    std::map<std::string, Status> group_status_;  // for transition logging
    std::atomic<bool> draining_{false};
    bool stopping_ = false;
    uint64_t rng_state_;

    // Lets a worker abandoned in a hung plugin call find out, when it returns, whether the
    // scheduler still exists before touching it.
    struct Liveness {
        std::mutex mu;
        Scheduler* scheduler = nullptr;
    };
    std::shared_ptr<Liveness> live_;

    std::unique_ptr<WorkerPool> pool_;
    std::thread thread_;
};

}  // namespace vitals
