#include "scheduler/scheduler.h"
#include "common/thread_name.h"

#include "plugins/process_check.h"

#include <vitals_plugins/deadline.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace vitals {

namespace {

class RealClock : public Clock {
public:
    MonoTime now() const override { return std::chrono::steady_clock::now(); }
    WallTime wall_now() const override { return std::chrono::system_clock::now(); }
    void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, MonoTime until) const override {
        cv.wait_until(lock, until);
    }
};

// Results are published in a new snapshot as they come (on the publishing thread), except that a
// build waits out a window after the previous one: ten times what that build cost, at most
// kPublishCoalesce. A build costs about the checks that changed since the last one
// (StatusPublisher), so a small configuration publishes each result within a millisecond (the
// first 200 follows the first results at once), and 10,000 checks at 1 s are batched so that
// building stays a bounded share of one core. Snapshots are also built when a standing changes
// with time (stale, the end of start_period), and at least every kPublishEvery.
constexpr Millis kPublishCoalesce{20};
constexpr Millis kPublishEvery{1000};
constexpr int kPublishCostFactor = 10;

// Wakes are rounded up to this grid: checks due within the same 5 ms start in one wake (a run
// starts at most that much late; a wake per due time cost more than the runs with 1,000 checks).
constexpr std::chrono::microseconds kWakeGrid{5000};
MonoTime on_grid(MonoTime t) {
    if (t == MonoTime::max()) return t;
    auto since = t.time_since_epoch();
    auto rem = since % kWakeGrid;
    return rem == rem.zero() ? t : t + (kWakeGrid - rem);
}

// A run still going this long after its deadline is declared timed out without waiting for it
// (and its thread written off until it returns). The slack lets a plugin that cuts its own work at
// the deadline hand its answer back first; that answer, past the deadline, is a timeout all the same.
Millis timeout_grace(Millis timeout) { return std::clamp(timeout / 10, Millis(10), Millis(100)); }

// Enough threads that checks rarely queue behind each other, bounded for a small sidecar.
size_t pool_threads(size_t checks) { return std::clamp<size_t>(checks, 1, 8); }

// The one wording of a timeout, the plugins' too (vitals_plugins/deadline.hpp).
std::string timed_out(Millis timeout) { return vitals_plugins::timed_out_after(timeout.count()); }

}  // namespace

const Clock& Clock::real() {
    static const RealClock clock;
    return clock;
}

struct Scheduler::Entry {
    CheckConfig cfg;
    std::shared_ptr<CheckRunner> instance;  // null when create() failed
    CheckRecord record;         // the check's results and view, updated in place
    uint32_t index = 0;         // position in entries_
    uint64_t timer_seq = 0;     // the pending event in timers_ is the one with this seq
    MonoTime next_due;
    // The run in flight, if any.
    bool in_flight = false;
    uint64_t run_id = 0;
    MonoTime run_started;
    MonoTime run_deadline;
    bool timed_out = false;  // the deadline passed and a timeout result was recorded
    bool removed = false;    // dropped by a reload; a run still in flight is not recorded

    explicit Entry(CheckView v) : record(std::move(v)) {}
};

std::shared_ptr<Scheduler::Entry> Scheduler::make_entry(const CheckConfig& c, const PluginRegistry& registry,
                                                     bool strict_permissions, bool by_reload) {
    CheckView v;
    v.joined_by_reload = by_reload;
    v.name = c.name;
    v.type = c.type;
    v.impact = c.impact;
    v.scope = c.scope;
    v.interval = c.interval;
    v.timeout = c.timeout;
    v.stale_after = c.stale_after;
    v.rise = c.rise;
    v.fall = c.fall;
    std::shared_ptr<CheckRunner> instance;
    const CheckTypeInfo* type = registry.find(c.type);
    if (!type) {
        v.setup_error = "check type \"" + c.type + "\" is not loaded";
    } else {
        v.component_type = type->component_type;
        v.default_measurement = type->default_measurement;
        std::string error;
        instance = make_check_runner(*type, c.options_json, c.isolation == Isolation::process, c.timeout,
                                     strict_permissions, error);
        if (!instance) {
            v.setup_error = c.type + ": " + error;
            spdlog::error("check {}: cannot start: {}", c.name, v.setup_error);
        }
    }
    auto e = std::make_shared<Entry>(std::move(v));
    e->cfg = c;
    e->instance = std::move(instance);
    return e;
}

Scheduler::Scheduler(std::shared_ptr<const Config> config, const PluginRegistry& registry, SnapshotSlot& slot,
                     std::string service_id, HistorySink* history, const Clock& clock)
    : clock_(clock), config_(std::move(config)), history_(history), publisher_(slot, history, std::move(service_id)),
      started_at_(clock.now()), rng_state_(uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) | 1),
      live_(std::make_shared<Liveness>()) {
    live_->scheduler = this;
    for (const auto& c : config_->checks)
        entries_.push_back(make_entry(c, registry, config_->plugins.strict_permissions, false));
    pool_ = std::make_unique<WorkerPool>(pool_threads(entries_.size()), 64, "vitals-check");
    publisher_.reset(config_, views_for_reset());
}

std::vector<CheckViewPtr> Scheduler::views_for_reset() {
    std::vector<CheckViewPtr> views;
    views.reserve(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) {
        entries_[i]->index = uint32_t(i);
        views.push_back(std::make_shared<const CheckView>(entries_[i]->record.view()));
    }
    return views;
}

void Scheduler::reconfigure(std::shared_ptr<const Config> config, const PluginRegistry& registry) {
    std::map<std::string, std::shared_ptr<Entry>> current;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        for (const auto& e : entries_) current[e->cfg.name] = e;
    }
    // Plugin create() calls happen outside the lock: the scheduler keeps running meanwhile.
    // An entry's cfg never changes after creation, so reading it here is safe.
    std::vector<std::shared_ptr<Entry>> next;
    size_t kept = 0;
    for (const auto& c : config->checks) {
        auto it = current.find(c.name);
        if (it != current.end() && it->second->cfg.same_definition(c)) {
            next.push_back(it->second);
            ++kept;
        } else {
            next.push_back(make_entry(c, registry, config->plugins.strict_permissions, true));
        }
    }
    current.clear();
    // What the reload drops is destroyed here, after the lock is released: a plugin's destroy()
    // may be slow, and every check waits while the lock is held.
    std::vector<std::shared_ptr<Entry>> dropped;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;  // shutting down: a reload that finished late changes nothing
        MonoTime now = clock_.now();
        std::set<const Entry*> keep;
        for (const auto& e : next) keep.insert(e.get());
        for (auto& e : entries_)
            if (!keep.count(e.get())) {
                e->removed = true;  // a run in flight finishes into the void
                dropped.push_back(e);
            }
        for (auto& e : next)
            if (e->next_due == MonoTime{}) e->next_due = now;  // a new check runs at once
        spdlog::info("configuration applied: {} checks kept with their state, {} started, {} stopped", kept,
                     next.size() - kept, entries_.size() - kept);
        entries_ = std::move(next);
        config_ = std::move(config);
        pool_->set_threads(pool_threads(entries_.size()));
        auto views = views_for_reset();
        rebuild_timers();
        std::lock_guard<std::mutex> pub(pub_mu_);
        pub_.updates.clear();  // of the old entries: the reset publishes every view anew
        pub_.reset_config = config_;
        pub_.reset_views = std::move(views);
    }
    cv_.notify_all();
    request_publish_and_wait();  // a reload answers once the snapshot shows its configuration
    dropped.clear();  // instances not held by a run in flight are destroyed now, unlocked
}

Scheduler::~Scheduler() {
    stop();
    std::lock_guard<std::mutex> lock(live_->mu);
    live_->scheduler = nullptr;
}

uint64_t Scheduler::rng_next() {
    // xorshift64: jitter needs spread, not quality.
    rng_state_ ^= rng_state_ << 13;
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    return rng_state_;
}

Millis Scheduler::jitter(Millis interval) {
    int64_t span = std::max<int64_t>(1, interval.count() / 10);
    return Millis(int64_t(rng_next() % uint64_t(span)));
}

void Scheduler::start() {
    MonoTime now = clock_.now();
    {
        std::lock_guard<std::mutex> lock(mu_);
        // Every first run starts at once: the target earns traffic as soon as its checks pass.
        // The cadence is spread afterwards (see step()).
        for (auto& e : entries_) e->next_due = now;
        rebuild_timers();
        // The first snapshot (every check pending) is in the slot before start() returns.
        publisher_.publish(now, clock_.wall_now(), config_->policy.start_period > Millis(0), draining_, stats_);
        last_publish_ = now;
        pub_.draining = draining_;
        publish_config_ = config_;
    }
    publish_thread_ = std::thread([this] {
        name_this_thread("vitals-publish");
        publish_loop();
    });
    thread_ = std::thread([this] {
        name_this_thread("vitals-sched");
        loop();
    });
}

void Scheduler::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    {
        std::lock_guard<std::mutex> lock(pub_mu_);
        pub_.stopping = true;
    }
    pub_cv_.notify_all();
    pub_done_.notify_all();
    if (publish_thread_.joinable()) publish_thread_.join();
    if (pool_) pool_->stop(Millis(2000));
}

void Scheduler::set_draining(bool draining) {
    draining_ = draining;
    {
        std::lock_guard<std::mutex> lock(pub_mu_);
        pub_.draining = draining;
    }
    request_publish_and_wait();  // the health port says "draining" when this returns
}

void Scheduler::request_publish_and_wait() {
    std::unique_lock<std::mutex> lock(pub_mu_);
    if (pub_.stopping || !publish_thread_.joinable()) return;  // not started: start() publishes
    uint64_t mine = ++pub_.requested;
    pub_cv_.notify_all();
    // A hang guard: a build takes milliseconds.
    pub_done_.wait_for(lock, std::chrono::seconds(5), [&] { return pub_.done >= mine || pub_.stopping; });
}

size_t Scheduler::runs_in_flight(bool with_overdue) const {
    std::lock_guard<std::mutex> lock(mu_);
    return size_t(std::count_if(entries_.begin(), entries_.end(), [&](const std::shared_ptr<Entry>& e) {
        return e->in_flight && (with_overdue || !e->timed_out);
    }));
}

MonoTime::duration Scheduler::coalesce_window() const {
    return std::min<MonoTime::duration>(kPublishCoalesce, publish_cost_ * kPublishCostFactor);
}

void Scheduler::publish_loop() {
    std::unique_lock<std::mutex> lock(pub_mu_);
    bool draining_published = pub_.draining;
    bool manual_clock = &clock_ != &Clock::real();
    while (!pub_.stopping) {
        MonoTime now = clock_.now();
        bool asked = pub_.requested > pub_.done || pub_.reset_config;
        bool pending = asked || !pub_.updates.empty() || pub_.draining != draining_published;
        // What time alone changes: standings going stale, the end of start_period, the 1 s floor.
        MonoTime due = std::min(last_publish_ + kPublishEvery, publisher_.next_change());
        MonoTime start_period_end = started_at_ + publish_config_->policy.start_period;
        if (last_publish_ < start_period_end) due = std::min(due, start_period_end);
        auto since = std::chrono::steady_clock::now() - last_build_;
        if (!asked && now < due && (!pending || since < coalesce_window())) {
            // Coalescing waits in real time (it bounds CPU); the rest on the scheduler's clock,
            // which a ManualClock moves in jumps: poll it.
            MonoTime::duration wait = due - now;
            if (manual_clock) wait = std::min<MonoTime::duration>(wait, Millis(2));
            if (pending) wait = std::min<MonoTime::duration>(wait, coalesce_window() - since);
            pub_cv_.wait_for(lock, wait);
            continue;
        }
        std::vector<std::pair<uint32_t, CheckViewPtr>> updates;
        updates.swap(pub_.updates);
        std::shared_ptr<const Config> reset_config = std::move(pub_.reset_config);
        pub_.reset_config = nullptr;
        std::vector<CheckViewPtr> reset_views = std::move(pub_.reset_views);
        pub_.reset_views.clear();
        bool draining = pub_.draining;
        SchedulerStats stats = pub_.stats;
        uint64_t requested = pub_.requested;
        lock.unlock();

        auto build_started = std::chrono::steady_clock::now();
        if (reset_config) {
            publish_config_ = reset_config;
            publisher_.reset(std::move(reset_config), std::move(reset_views));
        }
        for (auto& [i, view] : updates) publisher_.update(i, std::move(view));
        updates.clear();
        stats.snapshots = snapshots_ + 1;
        stats.snapshot_seconds = snapshot_seconds_;
        publisher_.publish(now, clock_.wall_now(), now - started_at_ < publish_config_->policy.start_period, draining,
                           stats);
        last_publish_ = now;
        draining_published = draining;
        // The cost of the build is measured in real time: it decides how much CPU publishing takes.
        last_build_ = std::chrono::steady_clock::now();
        publish_cost_ = last_build_ - build_started;
        ++snapshots_;
        snapshot_seconds_ += std::chrono::duration<double>(publish_cost_).count();

        lock.lock();
        pub_.done = std::max(pub_.done, requested);
        pub_done_.notify_all();
    }
}

void Scheduler::rebuild_timers() {
    timers_ = {};
    for (auto& e : entries_) schedule(*e);
}

void Scheduler::schedule(Entry& e) {
    MonoTime at = MonoTime::max();
    if (!e.in_flight) at = e.next_due;
    else if (!e.timed_out) at = e.run_deadline + timeout_grace(e.cfg.timeout);
    else if (!e.record.view().stuck) at = e.run_started + e.cfg.interval;
    ++e.timer_seq;
    if (at == MonoTime::max()) return;  // stuck: complete() schedules it again when the call returns
    timers_.push({at, e.index, e.timer_seq});
    if (at < planned_wake_) cv_.notify_all();
}

void Scheduler::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        MonoTime wake = on_grid(step(clock_.now()));
        planned_wake_ = wake;
        clock_.wait_until(lock, cv_, wake);
        planned_wake_ = MonoTime::min();  // awake: nobody needs to notify
    }
}

MonoTime Scheduler::step(MonoTime now) {
    while (!timers_.empty() && timers_.top().at <= now) {
        Timer t = timers_.top();
        timers_.pop();
        if (t.entry >= entries_.size()) continue;
        const std::shared_ptr<Entry>& ep = entries_[t.entry];
        if (ep->timer_seq != t.seq) continue;  // superseded
        visit(ep, now);
    }
    while (!timers_.empty() && entries_[timers_.top().entry]->timer_seq != timers_.top().seq) timers_.pop();
    // Nothing due (no checks, or all stuck): look again in a while anyway.
    return timers_.empty() ? now + kPublishEvery : timers_.top().at;
}

void Scheduler::visit(const std::shared_ptr<Entry>& ep, MonoTime now) {
    Entry& e = *ep;
    if (e.in_flight) {
        if (!e.timed_out) {
            // The call overran: record the timeout now; its thread is lost until it returns.
            e.timed_out = true;
            pool_->add_replacement();
            record(e, RunResult::failed(RunEnd::timed_out, timed_out(e.cfg.timeout)), now, e.cfg.timeout);
        } else if (!e.record.view().stuck) {
            e.record.set_stuck(true);
            auto running = now - e.run_started;
            std::string why = "stuck: plugin call has not returned after " +
                              std::to_string(std::chrono::duration_cast<Millis>(running).count()) +
                              " ms; no new run starts until it does";
            spdlog::error("check {}: {}", e.cfg.name, why);
            record(e, RunResult::failed(RunEnd::stuck, why), now, running);
        }
        schedule(e);
        return;
    }
    MonoTime due = e.next_due;
    bool first = e.run_id == 0;
    if (!first && now - due >= e.cfg.interval) stats_.missed_runs += uint64_t((now - due) / e.cfg.interval);
    dispatch(ep, now);
    if (first) {
        // Checks that started together would stay bunched (each run within a few ms of the
        // others, every interval): the second run comes uniformly between half an interval and
        // one and a half intervals after the first (one interval on average), which spreads the
        // checks over the whole interval.
        uint64_t span = uint64_t(std::max<int64_t>(1, e.cfg.interval.count()));
        e.next_due = now + e.cfg.interval / 2 + Millis(int64_t(rng_next() % span));
    } else {
        // Keep the cadence; after a long pause, restart it rather than firing a burst.
        e.next_due += e.cfg.interval;
        if (e.next_due <= now) e.next_due = now + e.cfg.interval;
        e.next_due += jitter(e.cfg.interval) - Millis(e.cfg.interval.count() / 20);
    }
    schedule(e);
}

void Scheduler::dispatch(const std::shared_ptr<Entry>& ep, MonoTime now) {
    Entry& e = *ep;
    if (!e.instance) {
        // create() failed: nothing to run; the check stays failed with its setup error.
        return;
    }
    e.in_flight = true;
    e.timed_out = false;
    e.run_id++;
    e.run_started = now;
    e.run_deadline = now + e.cfg.timeout;
    uint64_t run_id = e.run_id;
    MonoTime deadline = e.run_deadline;
    MonoTime due = std::min(e.next_due, now);
    std::shared_ptr<CheckRunner> instance = e.instance;  // the job keeps the instance alive
    pool_->submit([live = live_, ep, run_id, deadline, due, instance] {
        // The clock belongs to the scheduler, which a job abandoned in a hung call may outlive: it
        // is read only while the scheduler is known to exist.
        MonoTime began;
        {
            std::lock_guard<std::mutex> lock(live->mu);
            if (!live->scheduler) return;
            began = live->scheduler->clock_.now();
        }
        RunResult run = began >= deadline
                            ? RunResult::failed(RunEnd::not_started, "not started before its deadline (all workers busy)")
                            : instance->run(deadline);
        std::lock_guard<std::mutex> lock(live->mu);
        if (live->scheduler) live->scheduler->complete(ep, run_id, std::move(run), began, due);
    });
}

void Scheduler::complete(const std::shared_ptr<Entry>& ep, uint64_t run_id, RunResult run, MonoTime started,
                         MonoTime due) {
    MonoTime finished = clock_.now();
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = *ep;
    if (!e.in_flight || e.run_id != run_id) return;
    e.in_flight = false;
    if (e.removed) {
        if (e.timed_out) pool_->overdue_done();
        return;
    }
    stats_.lag.observe(std::chrono::duration<double>(started - due).count(), SchedulerStats::kLagBuckets);
    if (e.timed_out) {
        // Its timeout was recorded at the deadline; the late answer is not used.
        pool_->overdue_done();
        auto took = std::chrono::duration_cast<Millis>(finished - started).count();
        if (e.record.view().stuck) {
            spdlog::warn("check {}: stuck call returned after {} ms; runs resume", e.cfg.name, took);
            e.record.set_stuck(false);
            e.next_due = std::min(e.next_due, finished);
            changed(e);
        } else {
            spdlog::debug("check {}: late result after {} ms discarded", e.cfg.name, took);
        }
        schedule(e);
        return;
    }
    // Past the deadline is a timeout, whatever the plugin answered (SPEC §3).
    if (finished > e.run_deadline && run.end == RunEnd::answered)
        run = RunResult::failed(RunEnd::timed_out, timed_out(e.cfg.timeout));
    record(e, std::move(run), finished, finished - started);
    schedule(e);
}

void Scheduler::changed(Entry& e) {
    auto view = std::make_shared<const CheckView>(e.record.view());  // snapshots share it, immutable
    std::lock_guard<std::mutex> lock(pub_mu_);
    bool idle = pub_.updates.empty();
    pub_.updates.emplace_back(e.index, std::move(view));
    pub_.stats = stats_;
    if (idle) pub_cv_.notify_one();  // the publishing thread starts its coalescing window
}

void Scheduler::record(Entry& e, RunResult run, MonoTime finished, MonoTime::duration took) {
    CheckResult r(std::move(run));
    r.mono_time = finished;
    r.time = clock_.wall_now();
    r.duration = std::chrono::duration_cast<std::chrono::microseconds>(took);
    e.record.apply(std::move(r), history_);
    changed(e);
}

}  // namespace vitals
