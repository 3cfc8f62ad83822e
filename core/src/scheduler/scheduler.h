// Runs every configured check on its own schedule (SPEC §3). The scheduler owns time and nothing
// else: due times with jitter, deadlines, stuck detection, and when to publish. What a result does
// to a check (counters, rise/fall, history rows) is CheckRecord's (policy/check_record.h); what
// the checks make of the groups, with their transitions, is StatusPublisher's
// (snapshot/publisher.h).
//
// One scheduler thread; plugin calls run on a WorkerPool. At most one run per check is in flight.
// Every check has one pending event at a time (its next due time, the moment its overrunning run is
// declared timed out, or the moment it counts as stuck), kept in a min-heap: a wake handles what is
// due and sleeps until the next event, whatever the number of checks (issue 14, item 19). Wakes are
// rounded up to a 5 ms grid, so checks due within the same 5 ms start together.
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
#include <queue>
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
    MonoTime step(MonoTime now);  // requires mu_; one pass: the events due. Next wake.
    void visit(const std::shared_ptr<Entry>& e, MonoTime now);  // requires mu_; handles e's due event
    void schedule(Entry& e);      // requires mu_; pushes e's next event (and wakes the loop if earlier)
    void rebuild_timers();        // requires mu_; one event per entry, after a new set of entries
    void dispatch(const std::shared_ptr<Entry>& e, MonoTime now);  // requires mu_
    void complete(const std::shared_ptr<Entry>& e, uint64_t run_id, RunResult run, MonoTime started, MonoTime due);
    void record(Entry& e, RunResult run, MonoTime finished, MonoTime::duration took);  // requires mu_
    void changed(Entry& e);  // requires mu_; e's view changed: hands a copy to the publishing thread
    uint64_t rng_next();
    Millis jitter(Millis interval);  // uniform in [0, interval / 10)

    // Publishing runs on a thread of its own ("vitals-publish"): building a snapshot never holds
    // mu_, so results are recorded and runs started while it builds. The scheduler hands it copies
    // of changed views (and new configurations) through `pub_`; it alone uses the publisher.
    void publish_loop();
    std::vector<CheckViewPtr> views_for_reset();  // requires mu_: every entry's view, published anew
    void request_publish_and_wait();  // requires neither lock: a snapshot reflecting what was handed on
    MonoTime::duration coalesce_window() const;  // publishing thread only

    const Clock& clock_;
    std::shared_ptr<const Config> config_;
    HistorySink* history_;
    StatusPublisher publisher_;  // the publishing thread's (and start()'s, before it runs)
    MonoTime started_at_;

    struct PublishQueue {
        std::vector<std::pair<uint32_t, CheckViewPtr>> updates;
        std::shared_ptr<const Config> reset_config;  // set: publisher_.reset() with reset_views first
        std::vector<CheckViewPtr> reset_views;
        bool draining = false;
        SchedulerStats stats;
        uint64_t requested = 0;  // publishes asked for (and waited on) by request_publish_and_wait
        uint64_t done = 0;       // the newest request a published snapshot reflects
        bool stopping = false;
    };
    std::mutex pub_mu_;  // after mu_ when both are held; never held while building
    std::condition_variable pub_cv_;
    std::condition_variable pub_done_;
    PublishQueue pub_;
    // The publishing thread's own:
    MonoTime last_publish_{};                              // on clock_: snapshots age at least every second
    std::chrono::steady_clock::time_point last_build_{};  // real time: coalescing bounds CPU
    MonoTime::duration publish_cost_{};                    // how long the last snapshot build took
    std::shared_ptr<const Config> publish_config_;         // the configuration publisher_ has
    uint64_t snapshots_ = 0;
    double snapshot_seconds_ = 0;
    std::thread publish_thread_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::shared_ptr<Entry>> entries_;
    struct Timer {
        MonoTime at;
        uint32_t entry;  // position in entries_
        uint64_t seq;    // valid while it equals the entry's timer_seq
        bool operator>(const Timer& o) const { return at > o.at; }
    };
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
    MonoTime planned_wake_ = MonoTime::max();  // when the loop, waiting, wakes next
    SchedulerStats stats_;                      // lag and missed runs (snapshot counts: the publisher's)
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
