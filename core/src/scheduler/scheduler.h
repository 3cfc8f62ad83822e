// Runs every configured check on its own schedule (SPEC §3). The scheduler owns time and nothing
// else: due times with jitter, deadlines, stuck detection, and when to publish. What a result does
// to a check (counters, rise/fall, history rows) is CheckRecord's (policy/check_record.h); what
// the checks make of the groups, with their transitions, is StatusPublisher's
// (snapshot/publisher.h).
//
// One scheduler thread; plugin calls run on a WorkerPool. At most one run per check is in flight.
// A run that ends past its deadline is recorded as `fail` "timed out after N ms", whatever it
// answered; one still running a little after its deadline is recorded so at once and its late
// answer discarded. A call still running when the next run is due marks the check stuck, and no run
// of it starts until the call returns. Nothing here is ever called from the request path: the HTTP
// server only reads the SnapshotSlot.
#pragma once

#include "config/config.h"
#include "history/history_types.h"
#include "plugins/check_instance.h"
#include "plugins/registry.h"
#include "policy/check_record.h"
#include "scheduler/clock.h"
#include "common/worker_pool.h"
#include "snapshot/publisher.h"
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
    // reason; it never stops the others). `slot` receives every snapshot. `history` (may be null)
    // receives every result and every check and group transition; it must not block (HistoryWriter
    // only queues). `clock` must outlive the scheduler (tests pass a ManualClock).
    Scheduler(std::shared_ptr<const Config> config, const PluginRegistry& registry, SnapshotSlot& slot,
              std::string service_id, HistorySink* history = nullptr, const Clock& clock = Clock::real());
    ~Scheduler();

    void start();
    void stop();

    // Applies a new configuration (SIGHUP, /admin/reload). Unchanged checks (same definition) keep
    // their state, plugin instance and any run in flight; changed and new checks start fresh (and
    // are not counted by their groups until they have a status); removed ones stop, their plugin
    // instances destroyed outside the scheduler's lock. `registry` must outlive the call only
    // (instances keep their library). Ignored after stop().
    void reconfigure(std::shared_ptr<const Config> config, const PluginRegistry& registry);

    void set_draining(bool draining);
    bool draining() const { return draining_; }

    // Runs inside a plugin now, not counting those already recorded as timed out (with
    // `with_overdue`, counting them too: calls a thread is lost to). Tests that move a ManualClock
    // wait for 0 before moving it again, so that no run ends "after" a jump of time; `vitals check`
    // exits without destructors while any call is still inside a plugin.
    size_t runs_in_flight(bool with_overdue = false) const;

private:
    struct Entry;
    std::shared_ptr<Entry> make_entry(const CheckConfig& c, const PluginRegistry& registry, bool strict_permissions,
                                      bool by_reload);
    void loop();
    MonoTime step(MonoTime now);  // requires mu_; one pass: runs due, timeouts, stuck, publish. Next wake.
    void dispatch(const std::shared_ptr<Entry>& e, MonoTime now);  // requires mu_
    void complete(const std::shared_ptr<Entry>& e, uint64_t run_id, RunResult run, MonoTime started);
    void record(Entry& e, RunResult run, MonoTime finished, MonoTime::duration took);  // requires mu_
    void publish_locked(MonoTime now);  // requires mu_
    uint64_t rng_next();
    Millis jitter(Millis interval);  // uniform in [0, interval / 10)
    MonoTime::duration coalesce_window() const;

    const Clock& clock_;
    std::shared_ptr<const Config> config_;
    HistorySink* history_;
    StatusPublisher publisher_;  // used under mu_
    MonoTime started_at_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::shared_ptr<Entry>> entries_;
    bool dirty_ = true;
    MonoTime last_publish_{};                              // on clock_: snapshots age at least every second
    std::chrono::steady_clock::time_point last_build_{};  // real time: coalescing bounds CPU
    MonoTime::duration publish_cost_{};                    // how long the last snapshot build took
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
