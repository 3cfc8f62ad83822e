// The one thread that writes history (SPEC §6). The scheduler hands it events through record(),
// which only appends to a bounded in-memory queue and never blocks on SQLite. The thread writes
// batches in single transactions, prunes old rows in small steps, and survives an unusable
// database: errors are logged once per kind and counted, and writing resumes when possible.
//
// Queue overflow: the oldest unwritten *results* are dropped (and counted); transitions are kept.
#pragma once

#include "history/history_types.h"
#include "history/sqlite_history_store.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace vitals {

struct HistoryWriterOptions {
    std::string path;
    std::chrono::milliseconds retention{7LL * 86'400'000};
    int64_t max_rows = 1'000'000;
    size_t queue_capacity = 100'000;
    size_t batch_size = 5000;  // at most, per transaction: a backlog is written in larger batches
    std::chrono::milliseconds prune_every{10'000};
    std::chrono::milliseconds retry_every{1'000};
};

class HistoryWriter : public HistorySink {
public:
    explicit HistoryWriter(HistoryWriterOptions options);
    ~HistoryWriter() override;  // writes what is queued (briefly), then stops

    void start();
    void stop();

    void record(HistoryEvent event) override;

    // Blocks until everything queued before the call is written or failed (tests, shutdown).
    void flush();

    uint64_t write_errors() const { return write_errors_; }
    uint64_t dropped_results() const { return dropped_; }
    uint64_t written() const { return written_; }
    bool healthy() const { return healthy_; }

private:
    void loop();
    bool ensure_open();
    void note_error(const std::string& kind, const std::string& message);
    void prune_step();

    HistoryWriterOptions options_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable flushed_;
    std::deque<HistoryEvent> queue_;
    size_t queued_results_ = 0;
    uint64_t enqueued_ = 0;   // total accepted (for flush)
    uint64_t processed_ = 0;  // total written or given up (for flush)
    bool stopping_ = false;

    std::unique_ptr<SqliteHistoryStore> store_;  // writer thread only
    std::set<std::string> logged_kinds_;         // writer thread only: log each error kind once
    std::chrono::steady_clock::time_point last_prune_{};

    std::atomic<uint64_t> write_errors_{0};
    std::atomic<uint64_t> dropped_{0};
    std::atomic<uint64_t> written_{0};
    std::atomic<bool> healthy_{false};
    std::thread thread_;
};

// Moves an unreadable (corrupt) database file aside as "<path>.corrupt-<unix time>", with its
// -wal and -shm files. Never deletes. Returns the new name, or "" if renaming failed.
std::string set_aside_corrupt(const std::string& path);

}  // namespace vitals
