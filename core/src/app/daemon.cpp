#include "app/daemon.h"
#include "common/thread_name.h"

#include "app/logging.h"
#include "version.h"

#include <Poco/Exception.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <sys/resource.h>
#include <unistd.h>

namespace vitals {

namespace {

std::string host_name() {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "vitals";
    return buf;
}

std::string join(const std::vector<std::string>& items) {
    std::string s;
    for (size_t i = 0; i < items.size(); ++i) s += (i ? "; " : "") + items[i];
    return s;
}

}  // namespace

Daemon::Daemon(std::string config_path, std::optional<int> port, LoadedConfig loaded)
    : config_path_(std::move(config_path)), port_(port), config_(loaded.config), registry_(loaded.registry) {
    last_reload_success_ms_ = unix_now_ms();  // the start-up load is the first successful one
    if (config_->server.tls) {
        tls_stamp_ = stamp_tls_files(*config_->server.tls);
        tls_.store(loaded.tls);
    }
}

void Daemon::log_tls(const char* what, const TlsContext& ctx, const Config::Server::Tls& tls) {
    spdlog::info("{} {} (serial {}, key {}), TLS {} and up, client certificates: {}", what, tls.cert, ctx.serial(),
                 tls.key, tls.min_version, to_string(tls.client_auth));
    std::string soon = tls_expiry_warning(tls, ctx, unix_now_ms() / 1000);
    if (!soon.empty()) spdlog::warn("{}", soon);
}

void Daemon::reload_tls_if_changed() {
    std::lock_guard<std::mutex> one_at_a_time(reload_mu_);
    std::shared_ptr<const Config> cfg = config();
    if (!cfg->server.tls) return;
    const Config::Server::Tls& tls = *cfg->server.tls;
    TlsFileStamp now = stamp_tls_files(tls);  // before reading: a change while building is seen next time
    if (now == tls_stamp_) return;
    tls_stamp_ = now;
    std::string error;
    auto next = TlsContext::build(tls, error);
    if (!next) {
        spdlog::error("server.tls files changed but cannot be used; the running certificate stays: {}", error);
        return;
    }
    tls_.store(next);
    log_tls("TLS files changed: new connections use", *next, tls);
}

Daemon::~Daemon() = default;

std::shared_ptr<const Config> Daemon::config() const {
    // Every request that needs it reads it; libstdc++'s atomic shared_ptr functions take one of a
    // small pool of spinlocks for the copy: never a lock a check or the history writer holds.
    return std::atomic_load(&config_);
}

void Daemon::drain_and_exit() {
    spdlog::info("admin drain with exit=true: draining as on SIGTERM");
    ::kill(::getpid(), SIGTERM);  // the signal thread runs the drain, as for a SIGTERM from outside
}

void Daemon::drain() {
    if (!manual_drain_.exchange(true) && !shutdown_drain_)
        spdlog::warn("draining: every group with drain enabled now reports fail");
    scheduler_->set_draining(true);
}

std::string Daemon::resume() {
    if (shutdown_drain_) return "shutting down: a SIGTERM drain cannot be resumed";
    if (manual_drain_.exchange(false)) spdlog::info("drain ended: groups report their checks again");
    scheduler_->set_draining(false);
    return "";
}

std::string Daemon::reload() {
    std::lock_guard<std::mutex> one_at_a_time(reload_mu_);
    auto started = std::chrono::steady_clock::now();
    LoadedConfig next;
    try {
        next = load_configuration(config_path_, port_);
    } catch (const ConfigError& e) {
        ++reloads_failed_;
        last_reload_ok_ = false;
        std::string errors = join(e.errors());
        spdlog::error("reload of {} failed; the running configuration stays: {}", config_path_, errors);
        return errors;
    }
    std::shared_ptr<const Config> old = config();
    const Config& cfg = *next.config;
    if (bool(cfg.server.tls) != bool(old->server.tls)) {
        ++reloads_failed_;
        last_reload_ok_ = false;
        std::string error = std::string("server.tls: a reload cannot turn TLS ") + (cfg.server.tls ? "on" : "off") +
                            " (the port's clients would all fail at once); restart vitals for that";
        spdlog::error("reload of {} failed; the running configuration stays: {}", config_path_, error);
        return error;
    }
    // Parts bound at start-up: say so instead of pretending they changed.
    if (cfg.server.address != old->server.address || cfg.server.port != old->server.port ||
        cfg.server.threads != old->server.threads)
        spdlog::warn("reload: server.address, server.port and server.threads take effect on restart");
    if (cfg.history.path != old->history.path || cfg.history.retention != old->history.retention ||
        cfg.history.max_rows != old->history.max_rows || cfg.history.rollup_minutes != old->history.rollup_minutes ||
        cfg.history.rollup_hours != old->history.rollup_hours || cfg.history.rollup_days != old->history.rollup_days)
        spdlog::warn("reload: history settings take effect on restart");
    setup_logging(cfg.log.level, cfg.log.format);
    for (const auto& r : next.registry->refusals()) spdlog::error("plugin refused: {}: {}", r.file, r.reason);
    scheduler_->reconfigure(next.config, *next.registry);
    if (history_) {
        // Removed checks and groups stop counting time in status in the rollups from now on.
        std::set<std::string> series;
        for (const auto& c : next.config->checks) series.insert(c.name);
        for (const auto& g : next.config->groups) series.insert(g.name);
        history_->retain_series(std::move(series));
    }
    probers_->set_config(next.config);
    if (next.tls) {
        tls_stamp_ = stamp_tls_files(*cfg.server.tls);
        tls_.store(next.tls);  // open connections keep the context they were accepted with
        log_tls("reload: new connections use", *next.tls, *cfg.server.tls);
    }
    std::atomic_store(&config_, next.config);
    registry_ = next.registry;  // keeps the new registry's refusal list; libraries stay loaded anyway
    ++reloads_ok_;
    last_reload_ok_ = true;
    last_reload_success_ms_ = unix_now_ms();
    spdlog::info("reloaded {} in {} ms", config_path_,
                 std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started).count());
    return "";
}

void Daemon::reload_thread() {
    std::unique_lock<std::mutex> lock(reload_request_mu_);
    // Between reloads, every kTlsWatchEvery: whether server.tls's files changed (a renewed
    // certificate written by certbot or a secrets agent is picked up without a reload).
    constexpr Millis kTlsWatchEvery{1000};
    for (;;) {
        if (!reload_request_cv_.wait_for(lock, kTlsWatchEvery, [&] { return reload_requested_ || reloader_stop_; })) {
            lock.unlock();
            reload_tls_if_changed();
            lock.lock();
            continue;
        }
        if (reloader_stop_) return;
        reload_requested_ = false;
        reloading_ = true;
        lock.unlock();
        reload();
        lock.lock();
        reloading_ = false;
    }
}

RuntimeCounters Daemon::counters() const {
    RuntimeCounters c;
    c.history_write_errors = history_ ? history_->write_errors() : 0;
    c.history_dropped_results = history_ ? history_->dropped_results() : 0;
    c.reloads_ok = reloads_ok_;
    c.reloads_failed = reloads_failed_;
    c.last_reload_ok = last_reload_ok_;
    c.last_reload_success_seconds = double(last_reload_success_ms_.load()) / 1000.0;
    c.draining = scheduler_ && scheduler_->draining();
    if (probers_) c.probers = probers_->counts(ProberRecord::now_us());
    if (auto tls = tls_.load()) c.tls_cert_not_after = tls->not_after();
    return c;
}

void Daemon::drain_until_seen(Millis drain_for) {
    // Probe-aware drain (SPEC §9): exit as soon as every prober that is not silent has had
    // unhealthy_threshold consecutive unhealthy answers since the drain began, or when drain_for
    // has passed. Checked every kDrainCheck; a second SIGTERM or SIGINT ends it at once.
    constexpr Millis kDrainCheck{50};
    auto started = std::chrono::steady_clock::now();
    auto until = started + drain_for;
    probers_->begin_drain(ProberRecord::now_us());
    sigset_t stop_now;
    sigemptyset(&stop_now);
    sigaddset(&stop_now, SIGTERM);
    sigaddset(&stop_now, SIGINT);
    auto elapsed_ms = [&] {
        return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started).count();
    };
    int need = config()->load_balancer.unhealthy_threshold;
    for (;;) {
        auto left = std::chrono::duration_cast<Millis>(until - std::chrono::steady_clock::now());
        Millis slice = std::max(Millis(1), std::min(left, kDrainCheck));
        timespec ts{time_t(slice.count() / 1000), long(slice.count() % 1000) * 1'000'000L};
        int got = sigtimedwait(&stop_now, nullptr, &ts);
        if (got == SIGTERM || got == SIGINT) {
            spdlog::info("drain ended after {} ms by a second signal: exiting now", elapsed_ms());
            return;
        }
        DrainProgress d = probers_->drain_progress(ProberRecord::now_us());
        if (d.watched > 0 && d.done == d.watched) {
            spdlog::info("drain ended after {} ms: every prober ({}) has had {} consecutive unhealthy answers", elapsed_ms(),
                         d.watched, need);
            return;
        }
        if (std::chrono::steady_clock::now() >= until) {
            if (d.watched == 0)
                spdlog::info("drain ended after {} ms: shutdown.drain ({}) elapsed; no prober was seen probing",
                             elapsed_ms(), format_duration(drain_for));
            else
                spdlog::warn("drain ended after {} ms: shutdown.drain ({}) elapsed before every prober saw it; "
                             "still short of {} unhealthy answers: {}",
                             elapsed_ms(), format_duration(drain_for), need, join(d.waiting));
            return;
        }
    }
}

int Daemon::run() {
    // Block the signals we wait for before any thread starts, so only sigwait() sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    // Every connection is a descriptor (the event loop holds thousands, idle ones included): use
    // the hard limit, not the usual soft 1024.
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &nofile);
    }

    const Config& cfg = *config_;
    for (const auto& w : config_warnings(cfg)) spdlog::warn("{}", w);
    HistoryWriterOptions hopts;
    hopts.path = cfg.history.path;
    hopts.retention = cfg.history.retention;
    hopts.max_rows = cfg.history.max_rows;
    hopts.rollup_retention = {cfg.history.rollup_minutes, cfg.history.rollup_hours, cfg.history.rollup_days};
    history_ = std::make_unique<HistoryWriter>(hopts);
    history_reader_ = std::make_unique<HistoryReader>(cfg.history.path);
    probers_ = std::make_unique<ProberRecord>(event_loops(), config_, history_.get());
    try {
        server_ = std::make_unique<HealthServer>(cfg.server, slot_, history_reader_.get(), *this, probers_.get(),
                                                 cfg.server.tls ? &tls_ : nullptr);
    } catch (const Poco::Exception& e) {
        spdlog::error("cannot listen on {}:{}: {}", cfg.server.address, cfg.server.port, e.displayText());
        return 1;
    }
    history_->start();
    scheduler_ = std::make_unique<Scheduler>(config_, *registry_, slot_, host_name(), history_.get());
    scheduler_->start();
    probers_->start();
    server_->start();
    reloader_ = std::thread([this] {
        name_this_thread("vitals-reload");
        reload_thread();
    });
    spdlog::info("vitals {} listening on {}:{} with {} checks ({} plugin types loaded){}", VITALS_VERSION,
                 cfg.server.address, server_->port(), cfg.checks.size(), registry_->types().size(),
                 cfg.server.tls ? ", HTTPS" : "");
    if (auto tls = tls_.load()) log_tls("HTTPS with", *tls, *cfg.server.tls);

    for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0) continue;
        if (sig == SIGHUP) {
            std::lock_guard<std::mutex> lock(reload_request_mu_);
            if (reload_requested_) {
                spdlog::info("SIGHUP: a reload of {} is already queued", config_path_);
            } else {
                spdlog::info("SIGHUP: reloading {}", config_path_);
                reload_requested_ = true;
                reload_request_cv_.notify_one();
            }
            continue;
        }
        Millis drain_for = config()->shutdown.drain;
        if (sig == SIGTERM && drain_for.count() > 0) {
            // Keep answering, with every drainable group failing, so the load balancer moves traffic
            // away before we go; a second SIGTERM (or SIGINT) exits at once.
            shutdown_drain_ = true;
            scheduler_->set_draining(true);
            spdlog::info("SIGTERM: draining for {} at most, until every load balancer prober has seen it (signal "
                         "again to exit now)",
                         format_duration(drain_for));
            drain_until_seen(drain_for);
        } else {
            spdlog::info("{}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        }
        break;
    }
    bool reload_running;
    {
        std::lock_guard<std::mutex> lock(reload_request_mu_);
        reloader_stop_ = true;  // no reload starts from now on
        reload_running = reloading_;
        reload_request_cv_.notify_one();
    }
    // A reload still running is not waited for: the scheduler, stopped below, no longer applies
    // it, and the process exits under it (see run() in daemon.h).
    if (reload_running) {
        spdlog::warn("a reload is still running; exiting without waiting for it");
        reloader_.detach();
    } else {
        reloader_.join();
    }
    server_->stop();
    scheduler_->stop();
    probers_->stop();  // writes the rows still being filled
    history_->flush(Millis(1000));  // bounded: an unusable database must not hold up the exit
    history_->stop();
    spdlog::info("stopped");
    spdlog::default_logger()->flush();
    return 0;
}

}  // namespace vitals
