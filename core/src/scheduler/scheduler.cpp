#include "scheduler/scheduler.h"

#include "plugins/process_check.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace vitals {

using Clock = std::chrono::steady_clock;

// Results are published in a new snapshot as they come, except that a build waits out a window
// after the previous one: ten times what that build cost, at most kPublishCoalesce. A small
// configuration (a build of tens of microseconds) publishes each result within a millisecond, so
// the first 200 follows the first results at once; 1,000 checks (a few ms a build) are batched so
// that building stays near a tenth of one core. Snapshots are also rebuilt every kPublishEvery so
// that pending, start_period and stale age without new results.
static constexpr Millis kPublishCoalesce{20};
static constexpr Millis kPublishEvery{1000};
static constexpr int kPublishCostFactor = 10;

// A plugin that answers right at its deadline (many cut their work to end exactly then) still has
// its own, more precise result used: the timeout is declared a little after the deadline.
static Millis timeout_grace(Millis timeout) { return std::clamp(timeout / 10, Millis(10), Millis(100)); }

// Enough threads that checks rarely queue behind each other, bounded for a small sidecar.
static size_t pool_threads(size_t checks) { return std::clamp<size_t>(checks, 1, 8); }

static int64_t unix_ms(WallTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct Scheduler::Entry {
    CheckConfig cfg;
    std::shared_ptr<CheckRunner> instance;  // null when create() failed
    CheckView view;             // the scheduler's own, updated in place
    CheckViewPtr published;     // the copy the snapshots share
    bool view_changed = true;   // view differs from published
    Damper damper;
    MonoTime next_due;
    // The run in flight, if any.
    bool in_flight = false;
    uint64_t run_id = 0;
    MonoTime run_started;
    MonoTime run_deadline;
    bool timed_out = false;  // the deadline passed and a timeout result was recorded
    bool removed = false;    // dropped by a reload; a run still in flight is not recorded
};

std::shared_ptr<Scheduler::Entry> Scheduler::make_entry(const CheckConfig& c, const PluginRegistry& registry,
                                                     bool strict_permissions, bool by_reload) {
    auto e = std::make_shared<Entry>();
    e->cfg = c;
    CheckView& v = e->view;
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
    const CheckTypeInfo* type = registry.find(c.type);
    if (!type) {
        v.setup_error = "check type \"" + c.type + "\" is not loaded";
    } else {
        v.component_type = type->component_type;
        v.default_measurement = type->default_measurement;
        std::string error;
        e->instance = make_check_runner(*type, c.options_json, c.isolation == Isolation::process, c.timeout,
                                        strict_permissions, error);
        if (!e->instance) {
            v.setup_error = c.type + ": " + error;
            spdlog::error("check {}: cannot start: {}", c.name, v.setup_error);
        }
    }
    return e;
}

Scheduler::Scheduler(std::shared_ptr<const Config> config, const PluginRegistry& registry, SnapshotSlot& slot,
                     std::string service_id, HistorySink* history)
    : config_(std::move(config)), slot_(slot), service_id_(std::move(service_id)), history_(history),
      started_at_(Clock::now()),
      rng_state_(uint64_t(Clock::now().time_since_epoch().count()) | 1), live_(std::make_shared<Liveness>()) {
    live_->scheduler = this;
    for (const auto& c : config_->checks) entries_.push_back(make_entry(c, registry, config_->plugins.strict_permissions, false));
    pool_ = std::make_unique<WorkerPool>(pool_threads(entries_.size()), 64);
}

void Scheduler::reconfigure(std::shared_ptr<const Config> config, const PluginRegistry& registry) {
    std::map<std::string, std::shared_ptr<Entry>> current;
    {
        std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;  // shutting down: a reload that finished late changes nothing
    MonoTime now = Clock::now();
    std::set<const Entry*> keep;
    for (const auto& e : next) keep.insert(e.get());
    for (auto& e : entries_)
        if (!keep.count(e.get())) e->removed = true;  // a run in flight finishes into the void
    for (auto& e : next)
        if (e->next_due == MonoTime{}) e->next_due = now;  // a new check runs at once
    spdlog::info("configuration applied: {} checks kept with their state, {} started, {} stopped", kept,
                 next.size() - kept, entries_.size() - kept);
    entries_ = std::move(next);
    config_ = std::move(config);
    pool_->set_threads(pool_threads(entries_.size()));
    for (auto it = group_status_.begin(); it != group_status_.end();)
        it = config_->find_group(it->first) ? std::next(it) : group_status_.erase(it);
    publish_locked(now);
    cv_.notify_all();
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
    MonoTime now = Clock::now();
    {
        std::lock_guard<std::mutex> lock(mu_);
        // Every first run starts at once: the target earns traffic as soon as its checks pass.
        // The cadence is spread afterwards (see loop()).
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
    publish_locked(Clock::now());
}

void Scheduler::publish() {
    std::lock_guard<std::mutex> lock(mu_);
    publish_locked(Clock::now());
}

MonoTime::duration Scheduler::coalesce_window() const {
    return std::min<MonoTime::duration>(kPublishCoalesce, publish_cost_ * kPublishCostFactor);
}

void Scheduler::publish_locked(MonoTime now) {
    MonoTime build_started = Clock::now();  // `now` may be older: the loop scanned and dispatched since
    std::vector<CheckViewPtr> views;
    views.reserve(entries_.size());
    for (const auto& e : entries_) {
        if (e->view_changed || !e->published) {
            e->published = std::make_shared<const CheckView>(e->view);
            e->view_changed = false;
        }
        views.push_back(e->published);
    }
    SnapshotInputs in;
    in.config = config_.get();
    in.views = &views;
    in.now = now;
    in.wall_now = std::chrono::system_clock::now();
    in.in_start_period = now - started_at_ < config_->policy.start_period;
    in.draining = draining_;
    in.service_id = service_id_;
    auto snap = build_snapshot(in);
    for (const auto& [name, verdict] : snap->verdicts) {
        auto prev = group_status_.find(name);
        if (prev == group_status_.end() || prev->second != verdict.status) {
            const char* from = prev == group_status_.end() ? "starting" : to_string(prev->second);
            if (history_) {
                HistoryEvent ev;
                ev.time_ms = unix_ms(in.wall_now);
                ev.check = name;
                ev.kind = EventKind::transition;
                ev.status = verdict.status;
                if (prev != group_status_.end()) ev.previous = prev->second;
                ev.cause = verdict.cause.empty() ? "all counted checks pass" : verdict.cause;
                history_->record(std::move(ev));
            }
            if (verdict.status == Status::pass || prev == group_status_.end())
                spdlog::info("group {}: {} -> {}{}{}", name, from, to_string(verdict.status),
                             verdict.cause.empty() ? "" : ": ", verdict.cause);
            else
                spdlog::warn("group {}: {} -> {}: {}", name, from, to_string(verdict.status), verdict.cause);
            group_status_[name] = verdict.status;
        }
    }
    slot_.store(std::move(snap));
    dirty_ = false;
    last_publish_ = Clock::now();
    publish_cost_ = last_publish_ - build_started;
}

void Scheduler::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        MonoTime now = Clock::now();
        MonoTime wake = now + kPublishEvery;
        for (auto& ep : entries_) {
            Entry& e = *ep;
            if (e.in_flight) {
                MonoTime declare_at = e.run_deadline + timeout_grace(e.cfg.timeout);
                if (!e.timed_out && now >= declare_at) {
                    // The call overran: record the timeout now; its thread is lost until it returns.
                    e.timed_out = true;
                    ++e.view.timeouts;
                    pool_->add_replacement();
                    CheckResult r;
                    r.status = Status::fail;
                    r.output = "timed out after " + std::to_string(e.cfg.timeout.count()) + " ms";
                    r.duration = e.cfg.timeout;
                    record(e, std::move(r));
                }
                if (e.timed_out && !e.view.stuck && now >= e.run_started + e.cfg.interval) {
                    e.view.stuck = true;
                    CheckResult r;
                    r.status = Status::fail;
                    r.output = "stuck: plugin call has not returned after " +
                               std::to_string(std::chrono::duration_cast<Millis>(now - e.run_started).count()) +
                               " ms; no new run starts until it does";
                    r.duration = std::chrono::duration_cast<Millis>(now - e.run_started);
                    spdlog::error("check {}: {}", e.cfg.name, r.output);
                    record(e, std::move(r));
                }
                if (!e.timed_out) wake = std::min(wake, declare_at);
                else if (!e.view.stuck) wake = std::min(wake, e.run_started + e.cfg.interval);
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
            if (now - last_publish_ >= coalesce_window())
                publish_locked(now);
            else
                wake = std::min(wake, last_publish_ + coalesce_window());
        }
        if (now - last_publish_ >= kPublishEvery) publish_locked(now);
        wake = std::min(wake, last_publish_ + kPublishEvery);
        cv_.wait_until(lock, wake);
    }
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
        MonoTime started = Clock::now();
        RawResult raw;
        if (started >= deadline) {
            raw.status = Status::fail;
            raw.output = "not started before its deadline (all workers busy)";
        } else {
            raw = instance->run(deadline);
        }
        MonoTime finished = Clock::now();
        std::lock_guard<std::mutex> lock(live->mu);
        if (live->scheduler) live->scheduler->complete(ep, run_id, std::move(raw), started, finished);
    });
}

void Scheduler::complete(const std::shared_ptr<Entry>& ep, uint64_t run_id, RawResult raw, MonoTime started,
                         MonoTime finished) {
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
        if (e.view.stuck) {
            spdlog::warn("check {}: stuck call returned after {} ms; runs resume", e.cfg.name, took);
            e.view.stuck = false;
            e.view_changed = true;
            e.next_due = std::min(e.next_due, finished);
            dirty_ = true;
        } else {
            spdlog::debug("check {}: late result after {} ms discarded", e.cfg.name, took);
        }
        cv_.notify_all();
        return;
    }
    CheckResult r;
    r.status = raw.status;
    r.output = std::move(raw.output);
    r.observed_value = raw.observed_value;
    r.observed_unit = std::move(raw.observed_unit);
    r.measurement = std::move(raw.measurement);
    r.duration = std::chrono::duration_cast<Millis>(finished - started);
    record(e, std::move(r));
    cv_.notify_all();
}

void Scheduler::record(Entry& e, CheckResult r) {
    r.time = std::chrono::system_clock::now();
    r.mono_time = Clock::now();
    CheckView& v = e.view;
    ++v.runs;
    switch (r.status) {
    case Status::pass: ++v.passes; break;
    case Status::warn: ++v.warns; break;
    case Status::fail: ++v.fails; break;
    }
    if (!v.stuck || r.output.rfind("stuck:", 0) != 0) v.observe_duration(r.duration);
    Status before = v.effective;
    bool was_established = v.established;
    bool changed = e.damper.apply(r.status, e.cfg.rise, e.cfg.fall);
    if (changed) {
        v.effective = e.damper.effective();
        v.established = true;
        const char* from = was_established ? to_string(before) : "pending";
        if (v.effective == Status::pass)
            spdlog::info("check {}: {} -> pass", v.name, from);
        else
            spdlog::warn("check {}: {} -> {}: {}", v.name, from, to_string(v.effective), r.output);
    }
    if (history_) {
        HistoryEvent ev;
        ev.time_ms = unix_ms(r.time);
        ev.check = v.name;
        ev.kind = EventKind::result;
        ev.status = v.established ? v.effective : Status::fail;
        ev.raw_status = r.status;
        ev.duration_ms = r.duration.count();
        ev.output = r.output;
        ev.observed_value = r.observed_value;
        ev.observed_unit = r.observed_unit;
        history_->record(ev);
        if (changed) {
            ev.kind = EventKind::transition;
            ev.status = v.effective;
            ev.raw_status.reset();
            ev.duration_ms.reset();
            ev.observed_value.reset();
            ev.observed_unit.clear();
            if (was_established) ev.previous = before;
            int needed = r.status > before ? e.cfg.fall : e.cfg.rise;
            ev.cause = std::string(to_string(r.status)) +
                       (was_established && needed > 1 ? " x" + std::to_string(needed) : std::string()) +
                       (r.output.empty() ? std::string() : ": " + r.output);
            history_->record(std::move(ev));
        }
    }
    v.recent.push_front(r);
    if (v.recent.size() > CheckView::kRecent) v.recent.pop_back();
    v.last = std::move(r);
    e.view_changed = true;
    dirty_ = true;
}

}  // namespace vitals
