// The one thread that writes history (SPEC §6). The scheduler hands it events through record(),
// which only appends to a bounded in-memory queue and never blocks on SQLite. The thread writes
// batches in single transactions, keeps the table within max_rows after every batch, prunes old rows
// in small steps, and survives an unusable database: errors are counted, logged once per kind per
// episode (and once when the episode ends), and writing resumes when possible. A database file
// removed or replaced while open is noticed before the next batch and opened anew at the path; a
// file that is not ours is refused and never touched.
//
// Queue overflow: the oldest unwritten *results* are dropped (and counted); transitions are kept.
#pragma once

#include "history/history_types.h"
#include "history/rollup.h"
#include "history/sqlite_history_store.h"

#include <SQLiteCpp/Exception.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
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
    // How long the first queued event waits for others to share its transaction (unless a batch
    // is full, a flush asks, or the writer stops): 10,000 results a second then cost 100
    // transactions and wakes, not 10,000 (issue 14, item 19).
    std::chrono::milliseconds linger{10};
    // Rollups (SPEC §10): kept per level (minute, hour, day) this long, pruned apart from raw rows.
    std::array<std::chrono::milliseconds, 3> rollup_retention{std::chrono::milliseconds(7LL * 86'400'000),
                                                             std::chrono::milliseconds(90LL * 86'400'000),
                                                             std::chrono::milliseconds(730LL * 86'400'000)};
    // With no events to write, time in status is still written this often (what a crash loses).
    std::chrono::milliseconds rollup_tick{5'000};
    // Off: no rollups are gathered or written, raw rows only (the history path before SPEC §10;
    // the insert benchmark compares the two).
    bool rollups = true;
};

class HistoryWriter : public HistorySink {
public:
    explicit HistoryWriter(HistoryWriterOptions options);
    ~HistoryWriter() override;  // writes what is queued (briefly), then stops

    void start();
    void stop();

    void record(HistoryEvent event) override;

    // A reload configured these checks and groups: the others' time in status stops counting now
    // (a removed group would count its last status until a restart, a removed check its silence).
    // Applied once the events queued before the call are folded in.
    void retain_series(std::set<std::string> names);

    // Blocks until everything queued before the call is written or given up, or `timeout` passes.
    // Returns whether it all was. At shutdown: flush(about 1 s), then stop(), which gives up what
    // an unusable database still holds and logs how many events that was and why.
    bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    uint64_t write_errors() const { return write_errors_; }
    uint64_t dropped_results() const { return dropped_; }
    uint64_t written() const { return written_; }
    bool healthy() const { return healthy_; }

private:
    void loop();
    // Opens the database at the path unless the open one still is that file. Writer thread only.
    bool ensure_open();
    bool open_store();
    // Writes the batch (possibly empty) and the rollup deltas gathered so far in one transaction.
    void write_batch(std::vector<HistoryEvent>& batch);
    void note_error(const std::string& kind, const std::string& message);
    void note_sqlite_error(const std::string& what, const SQLite::Exception& e);
    void end_episode_if_settled();
    void set_aside(const std::string& why);
    void prune_step();
    void checkpoint();

    HistoryWriterOptions options_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable flushed_;
    std::deque<HistoryEvent> queue_;
    // retain_series() waiting for the queue to drain: the names, and when (unix ms) it was called.
    std::optional<std::pair<std::set<std::string>, int64_t>> retain_;
    size_t queued_results_ = 0;
    uint64_t enqueued_ = 0;   // total accepted (for flush)
    uint64_t processed_ = 0;  // total written or given up (for flush)
    int flush_waiters_ = 0;   // flush() calls waiting: write without lingering
    std::chrono::steady_clock::time_point first_queued_at_{};  // when queue_ last became non-empty
    bool stopping_ = false;

    // Writer thread only:
    std::unique_ptr<SqliteHistoryStore> store_;
    FileId store_file_;                   // the file store_ has open
    bool failing_ = false;  // the last attempt failed: retry at next_attempt_; stop() gives up the queue
    std::chrono::steady_clock::time_point next_attempt_{};
    // An error episode runs from a first error until writing has gone on without one for a while
    // (5 retry periods), so a disk that is nearly full logs one error, not one per squeezed-in write.
    bool in_episode_ = false;
    std::chrono::steady_clock::time_point last_error_at_{};
    std::set<std::string> logged_kinds_;  // kinds logged in this episode
    uint64_t failed_attempts_ = 0;        // in this episode
    uint64_t dropped_before_ = 0;         // dropped_ when the episode began
    std::string last_error_;
    std::chrono::steady_clock::time_point last_prune_{};
    RollupAccumulator rollups_;      // every event is folded in once, when it joins a batch
    RollupDeltas pending_rollups_;   // gathered and not yet written (kept across failed attempts)
    std::chrono::steady_clock::time_point last_tick_{};  // the last write of rollups

    std::atomic<uint64_t> write_errors_{0};
    std::atomic<uint64_t> dropped_{0};
    std::atomic<uint64_t> written_{0};
    std::atomic<bool> healthy_{false};
    std::thread thread_;
};

// Moves an unreadable (corrupt) database file aside as "<path>.corrupt-<unix time>", with its
// -wal and -shm files. Never deletes, and never moves a file without SQLite's header (that file is
// not a corrupt database of ours). Returns the new name, or "" if it did not rename.
std::string set_aside_corrupt(const std::string& path);

}  // namespace vitals
