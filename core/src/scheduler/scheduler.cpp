#include "scheduler/scheduler.h"

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

// Results are published in a new snapshot as they come, except that a build waits out a window
// after the previous one: ten times what that build cost, at most kPublishCoalesce. A small
// configuration (a build of tens of microseconds) publishes each result within a millisecond, so
// the first 200 follows the first results at once; 1,000 checks (a few ms a build) are batched so
// that building stays near a tenth of one core. Snapshots are also rebuilt every kPublishEvery so
// that pending, start_period and stale age without new results.
constexpr Millis kPublishCoalesce{20};
constexpr Millis kPublishEvery{1000};
constexpr int kPublishCostFactor = 10;

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
    CheckViewPtr published;     // the copy of record.view() the snapshots share
    bool view_changed = true;   // record.view() differs from published
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
    pool_ = std::make_unique<WorkerPool>(pool_threads(entries_.size()), 64);
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
        publisher_.forget_groups_not_in(*config_);
        publish_locked(now);
    }
    cv_.notify_all();
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
        publish_locked(now);
    }
    thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (pool_) pool_->stop(Millis(2000));
}

void Scheduler::set_draining(bool draining) {
    draining_ = draining;
    std::lock_guard<std::mutex> lock(mu_);
    publish_locked(clock_.now());
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

void Scheduler::publish_locked(MonoTime now) {
    // The cost of the build is measured in real time: it decides how much CPU publishing takes.
    auto build_started = std::chrono::steady_clock::now();
    std::vector<CheckViewPtr> views;
    views.reserve(entries_.size());
    for (const auto& e : entries_) {
        if (e->view_changed || !e->published) {
            e->published = std::make_shared<const CheckView>(e->record.view());
            e->view_changed = false;
        }
        views.push_back(e->published);
    }
    publisher_.publish(*config_, views, now, clock_.wall_now(), now - started_at_ < config_->policy.start_period,
                       draining_);
    dirty_ = false;
    last_publish_ = now;
    last_build_ = std::chrono::steady_clock::now();
    publish_cost_ = last_build_ - build_started;
}

void Scheduler::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        MonoTime wake = step(clock_.now());
        clock_.wait_until(lock, cv_, wake);
    }
}

MonoTime Scheduler::step(MonoTime now) {
    MonoTime wake = now + kPublishEvery;
    for (auto& ep : entries_) {
        Entry& e = *ep;
        if (e.in_flight) {
            MonoTime declare_at = e.run_deadline + timeout_grace(e.cfg.timeout);
            if (!e.timed_out && now >= declare_at) {
                // The call overran: record the timeout now; its thread is lost until it returns.
                e.timed_out = true;
                pool_->add_replacement();
                record(e, RunResult::failed(RunEnd::timed_out, timed_out(e.cfg.timeout)), now, e.cfg.timeout);
            }
            if (e.timed_out && !e.record.view().stuck && now >= e.run_started + e.cfg.interval) {
                e.record.set_stuck(true);
                auto running = now - e.run_started;
                std::string why = "stuck: plugin call has not returned after " +
                                  std::to_string(std::chrono::duration_cast<Millis>(running).count()) +
                                  " ms; no new run starts until it does";
                spdlog::error("check {}: {}", e.cfg.name, why);
                record(e, RunResult::failed(RunEnd::stuck, why), now, running);
            }
            if (!e.timed_out) wake = std::min(wake, declare_at);
            else if (!e.record.view().stuck) wake = std::min(wake, e.run_started + e.cfg.interval);
            continue;
        }
        if (now >= e.next_due) {
            bool first = e.run_id == 0;
            dispatch(ep, now);
            if (first) {
                // Checks that started together would stay bunched (each run within a few ms of
                // the others, every interval): the second run comes uniformly between half an
                // interval and one and a half intervals after the first (one interval on
                // average), which spreads the checks over the whole interval.
                uint64_t span = uint64_t(std::max<int64_t>(1, e.cfg.interval.count()));
                e.next_due = now + e.cfg.interval / 2 + Millis(int64_t(rng_next() % span));
            } else {
                // Keep the cadence; after a long pause, restart it rather than firing a burst.
                e.next_due += e.cfg.interval;
                if (e.next_due <= now) e.next_due = now + e.cfg.interval;
                e.next_due += jitter(e.cfg.interval) - Millis(e.cfg.interval.count() / 20);
            }
            if (e.in_flight) wake = std::min(wake, e.run_deadline + timeout_grace(e.cfg.timeout));
        }
        wake = std::min(wake, e.next_due);
    }
    if (dirty_) {
        // The window bounds the CPU that building takes: it is measured in real time.
        auto since = std::chrono::steady_clock::now() - last_build_;
        if (since >= coalesce_window())
            publish_locked(now);
        else
            wake = std::min(wake, now + (coalesce_window() - since));
    }
    if (now - last_publish_ >= kPublishEvery) publish_locked(now);
    return std::min(wake, last_publish_ + kPublishEvery);
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
    std::shared_ptr<CheckRunner> instance = e.instance;  // the job keeps the instance alive
    pool_->submit([live = live_, ep, run_id, deadline, instance] {
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
        if (live->scheduler) live->scheduler->complete(ep, run_id, std::move(run), began);
    });
}

void Scheduler::complete(const std::shared_ptr<Entry>& ep, uint64_t run_id, RunResult run, MonoTime started) {
    MonoTime finished = clock_.now();
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = *ep;
    if (!e.in_flight || e.run_id != run_id) return;
    e.in_flight = false;
    if (e.removed) {
        if (e.timed_out) pool_->overdue_done();
        return;
    }
    if (e.timed_out) {
        // Its timeout was recorded at the deadline; the late answer is not used.
        pool_->overdue_done();
        auto took = std::chrono::duration_cast<Millis>(finished - started).count();
        if (e.record.view().stuck) {
            spdlog::warn("check {}: stuck call returned after {} ms; runs resume", e.cfg.name, took);
            e.record.set_stuck(false);
            e.view_changed = true;
            e.next_due = std::min(e.next_due, finished);
            dirty_ = true;
        } else {
            spdlog::debug("check {}: late result after {} ms discarded", e.cfg.name, took);
        }
        cv_.notify_all();
        return;
    }
    // Past the deadline is a timeout, whatever the plugin answered (SPEC §3).
    if (finished > e.run_deadline && run.end == RunEnd::answered)
        run = RunResult::failed(RunEnd::timed_out, timed_out(e.cfg.timeout));
    record(e, std::move(run), finished, finished - started);
    cv_.notify_all();
}

void Scheduler::record(Entry& e, RunResult run, MonoTime finished, MonoTime::duration took) {
    CheckResult r(std::move(run));
    r.mono_time = finished;
    r.time = clock_.wall_now();
    r.duration = std::chrono::duration_cast<std::chrono::microseconds>(took);
    e.record.apply(std::move(r), history_);
    e.view_changed = true;
    dirty_ = true;
}

}  // namespace vitals
