// `vitals serve`: owns the running parts (scheduler, history writer, HTTP server), handles
// signals (SIGTERM drain then exit, SIGHUP reload) and the admin endpoints' actions.
#pragma once

#include "app/loading.h"
#include "history/history_reader.h"
#include "history/history_writer.h"
#include "http/server.h"
#include "probers/prober_record.h"
#include "scheduler/scheduler.h"
#include "snapshot/snapshot.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace vitals {

class Daemon : public ServerHooks {
public:
    Daemon(std::string config_path, std::optional<int> port, LoadedConfig loaded);
    ~Daemon() override;

    // Binds, starts everything, and serves until SIGTERM/SIGINT. Returns the exit code. The caller
    // exits the process without destroying the daemon: a reload or a plugin call may still be
    // running on another thread (neither can be interrupted) and holds references into it.
    int run();

    // ServerHooks
    std::shared_ptr<const Config> config() const override;
    void drain() override;
    void drain_and_exit() override;
    std::string resume() override;
    std::string reload() override;
    RuntimeCounters counters() const override;

private:
    std::string config_path_;
    std::optional<int> port_;

    // Swapped by reload; read with std::atomic_load (the request path), written with atomic_store.
    std::shared_ptr<const Config> config_;
    // Written only by reload (under reload_mu_) and by start-up.
    std::shared_ptr<PluginRegistry> registry_;
    std::mutex reload_mu_;  // one reload at a time

    // server.tls: the context new connections use, swapped by reload and when its files change.
    TlsSlot tls_;
    TlsFileStamp tls_stamp_;  // guarded by reload_mu_: the files tls_ was last built from
    // Rebuilds tls_ when the files of the running server.tls changed since; a bad file is logged
    // (once per change) and the running certificate stays.
    void reload_tls_if_changed();
    void log_tls(const char* what, const TlsContext& ctx, const Config::Server::Tls& tls);

    // SIGHUP reloads run on this thread, never on the signal thread: a reload can take seconds (a
    // plugin's create(), a plugin file loaded in a child), and SIGTERM must start the drain at once
    // whatever else runs. Signals that arrive during a reload coalesce into one more reload.
    void reload_thread();
    // After SIGTERM with shutdown.drain > 0: returns when the drain is over (see daemon.cpp).
    void drain_until_seen(Millis drain_for);
    std::thread reloader_;
    std::mutex reload_request_mu_;
    std::condition_variable reload_request_cv_;
    bool reload_requested_ = false;  // guarded by reload_request_mu_
    bool reloader_stop_ = false;     // guarded by reload_request_mu_
    bool reloading_ = false;         // guarded by reload_request_mu_: reload_thread is in reload()

    // Draining has two sources: the admin endpoints (resumable) and SIGTERM with shutdown.drain
    // (not resumable: the process is about to exit).
    std::atomic<bool> manual_drain_{false};
    std::atomic<bool> shutdown_drain_{false};
    std::atomic<uint64_t> reloads_ok_{0};
    std::atomic<uint64_t> reloads_failed_{0};
    std::atomic<bool> last_reload_ok_{true};
    std::atomic<int64_t> last_reload_success_ms_{0};  // unix ms of the last successful load (start-up included)

    SnapshotSlot slot_;
    std::unique_ptr<HistoryWriter> history_;
    std::unique_ptr<HistoryReader> history_reader_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<ProberRecord> probers_;  // before server_: outlives the loops that record into it
    std::unique_ptr<HealthServer> server_;  // after tls_: uses it
};

}  // namespace vitals
