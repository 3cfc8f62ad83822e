#include "history/history_writer.h"
#include "common/time_format.h"
#include "common/thread_name.h"
#include "history/rollup_store.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

namespace vitals {

using Clock = std::chrono::steady_clock;

HistoryWriter::HistoryWriter(HistoryWriterOptions options) : options_(std::move(options)) {}

HistoryWriter::~HistoryWriter() { stop(); }

void HistoryWriter::start() {
    thread_ = std::thread([this] {
        name_this_thread("vitals-history");
        loop();
    });
}

void HistoryWriter::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void HistoryWriter::record(HistoryEvent event) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.size() >= options_.queue_capacity) {
            // Make room by dropping the oldest result; transitions are never dropped.
            auto victim = queue_.end();
            for (auto it = queue_.begin(); it != queue_.end(); ++it)
                if (it->kind == EventKind::result) {
                    victim = it;
                    break;
                }
            if (victim != queue_.end()) {
                queue_.erase(victim);
                --queued_results_;
                ++processed_;
                ++dropped_;
            } else if (event.kind == EventKind::result) {
                ++dropped_;
                return;
            }
        }
        if (event.kind == EventKind::result) ++queued_results_;
        bool was_empty = queue_.empty();
        if (was_empty) first_queued_at_ = std::chrono::steady_clock::now();
        queue_.push_back(std::move(event));
        ++enqueued_;
        // The writer needs waking for the first event (to start lingering) and for a full batch;
        // the others it finds when it wakes.
        if (!was_empty && queue_.size() != options_.batch_size) return;
    }
    cv_.notify_one();
}

bool HistoryWriter::flush(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t target = enqueued_;
    ++flush_waiters_;
    cv_.notify_one();
    flushed_.wait_for(lock, timeout, [&] { return processed_ >= target || stopping_; });
    --flush_waiters_;
    return processed_ >= target;
}

void HistoryWriter::note_error(const std::string& kind, const std::string& message) {
    ++write_errors_;
    healthy_ = false;
    failing_ = true;
    next_attempt_ = Clock::now() + options_.retry_every;
    if (!in_episode_) {
        in_episode_ = true;
        failed_attempts_ = 0;
        dropped_before_ = dropped_;
    }
    ++failed_attempts_;
    last_error_at_ = Clock::now();
    last_error_ = message;
    if (logged_kinds_.insert(kind).second)
        spdlog::error("history: {} ({}); health serving is unaffected, writing resumes when possible", message,
                      options_.path);
}

// One kind per SQLite result code: a full disk is logged once per episode, whichever operation met it.
void HistoryWriter::note_sqlite_error(const std::string& what, const SQLite::Exception& e) {
    note_error(sqlite3_errstr(e.getErrorCode() & 0xff), what + ": " + one_line({e.what()}));
}

void HistoryWriter::end_episode_if_settled() {
    if (!in_episode_ || failing_ || Clock::now() - last_error_at_ < 5 * options_.retry_every) return;
    spdlog::info("history: writing again after {} failed attempts / {} events dropped", failed_attempts_,
                 dropped_ - dropped_before_);
    in_episode_ = false;
    logged_kinds_.clear();
    last_error_.clear();
    checkpoint();  // checkpoints failed meanwhile: fold the WAL in and give its space back
}

static bool is_corruption(const SQLite::Exception& e) {
    int code = e.getErrorCode() & 0xff;
    return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

std::string set_aside_corrupt(const std::string& path) {
    if (!has_sqlite_header(path)) return "";  // not a database of ours gone bad: never move it
    std::string aside = path + ".corrupt-" + std::to_string(std::time(nullptr));
    if (std::rename(path.c_str(), aside.c_str()) != 0) return "";
    for (const char* suffix : {"-wal", "-shm"}) std::rename((path + suffix).c_str(), (aside + suffix).c_str());
    return aside;
}

void HistoryWriter::set_aside(const std::string& why) {
    std::string aside = set_aside_corrupt(options_.path);
    if (aside.empty())
        note_error("set aside", "database is corrupt (" + one_line({why}) + ") and could not be renamed");
    else
        spdlog::error("history: {} is corrupt ({}); kept it as {} and starting a new database", options_.path,
                      one_line({why}), aside);
}

bool HistoryWriter::ensure_open() {
    if (store_) {
        auto id = file_id(options_.path);
        if (id && *id == store_file_) return true;
        // Writing on would go to a file nobody can read any more.
        note_error("replaced", "the database file was removed or replaced while open; opening the one at the path "
                               "(a new database if there is none)");
        store_.reset();
    }
    return open_store();
}

bool HistoryWriter::open_store() {
    for (int attempt = 0; attempt < 2; ++attempt) {  // a second time after setting a corrupt file aside
        try {
            std::filesystem::path dir = std::filesystem::path(options_.path).parent_path();
            std::error_code ec;
            if (!dir.empty()) std::filesystem::create_directories(dir, ec);
            store_ = SqliteHistoryStore::open_for_writing(options_.path);
            std::vector<std::string> problems = store_->quick_check();
            if (problems != std::vector<std::string>{"ok"})
                throw SQLite::Exception("quick_check: " + one_line(problems), SQLITE_CORRUPT);
            auto id = file_id(options_.path);
            if (!id) throw std::runtime_error(std::string("cannot stat it after opening: ") + std::strerror(errno));
            store_file_ = *id;
            healthy_ = true;
            failing_ = false;
            return true;
        } catch (const NotHistoryDatabase& e) {
            store_.reset();
            note_error("not ours", std::string(e.what()) + "; left it untouched: point history.path elsewhere");
            return false;
        } catch (const SQLite::Exception& e) {
            store_.reset();
            if (attempt == 0 && is_corruption(e) && has_sqlite_header(options_.path)) {
                set_aside(e.what());
                continue;
            }
            note_sqlite_error("cannot open database", e);
            return false;
        } catch (const std::exception& e) {
            store_.reset();
            note_error("open", std::string("cannot open database: ") + e.what());
            return false;
        }
    }
    return false;
}

void HistoryWriter::retain_series(std::set<std::string> names) {
    std::lock_guard<std::mutex> lock(mu_);
    retain_.emplace(std::move(names), unix_now_ms());
}

void HistoryWriter::write_batch(std::vector<HistoryEvent>& batch) {
    if (options_.rollups) {
        rollups_.advance(unix_now_ms());
        merge_deltas(pending_rollups_, rollups_.take());
    }
    last_tick_ = Clock::now();
    try {
        store_->insert(batch, options_.rollups ? &pending_rollups_ : nullptr);
        pending_rollups_.clear();
    } catch (const SQLite::Exception& e) {
        // The batch is kept for the next attempt; the queue bound still applies to new events.
        note_sqlite_error("write failed", e);
        int code = e.getErrorCode() & 0xff;
        if (is_corruption(e)) {
            store_.reset();
            set_aside(e.what());
        } else if (code == SQLITE_FULL) {
            try {
                store_->checkpoint();  // folding the WAL in and truncating it may give space back
            } catch (const SQLite::Exception&) {
            }
        } else if (code != SQLITE_BUSY && code != SQLITE_LOCKED) {
            store_.reset();  // read-only, I/O error, ...: reopen on the next attempt
        }
        return;
    }
    size_t n = batch.size();
    written_ += n;
    {
        std::lock_guard<std::mutex> lock(mu_);
        processed_ += n;
    }
    batch.clear();
    healthy_ = true;
    failing_ = false;
    // The table stays within max_rows plus one batch at any write rate: what is beyond it goes now.
    // Twice the batch per step, so a lowered max_rows is caught up with over a few batches.
    try {
        store_->trim(options_.max_rows, int(std::max<size_t>(2 * n, 2000)));
    } catch (const SQLite::Exception& e) {
        note_sqlite_error("prune failed", e);
    }
}

void HistoryWriter::prune_step() {
    int64_t now_ms = unix_now_ms();
    int64_t cutoff = now_ms - options_.retention.count();
    try {
        // Rollups per level, apart from raw rows (which may go long before their hours and days).
        for (size_t i = 0; i < kRollupLevels.size(); ++i)
            for (int step = 0; step < 20; ++step)
                if (prune_rollups(store_->db(), kRollupLevels[i], now_ms - options_.rollup_retention[i].count(), 2000) <
                    2000)
                    break;
        // Small slices, each its own transaction; new events wait at most one slice.
        for (int i = 0; i < 20; ++i) {
            int deleted = store_->prune(cutoff, options_.max_rows, 2000);
            if (deleted < 2000) break;
        }
    } catch (const SQLite::Exception& e) {
        note_sqlite_error("prune failed", e);
    }
}

void HistoryWriter::checkpoint() {
    if (!store_) return;
    try {
        store_->checkpoint();
    } catch (const SQLite::Exception& e) {
        note_sqlite_error("checkpoint failed", e);
    }
}

void HistoryWriter::loop() {
    ensure_open();  // now, not at the first event: a missing file then means one removed or unusable
    std::vector<HistoryEvent> batch;
    size_t fed = 0;  // how many of batch's events are folded into rollups_
    for (;;) {
        std::optional<std::pair<std::set<std::string>, int64_t>> retain;
        {
            std::unique_lock<std::mutex> lock(mu_);
            // Wake for new events (at once, unless waiting to retry after an error), to retry, to
            // prune, or to stop.
            // New events wait out the linger (see HistoryWriterOptions) for company.
            auto wake = failing_ ? next_attempt_
                                 : std::min(last_prune_ + options_.prune_every, last_tick_ + options_.rollup_tick);
            auto ready = [&] {
                if (queue_.empty() && batch.empty()) return false;
                if (failing_) return Clock::now() >= next_attempt_;
                return !batch.empty() || flush_waiters_ > 0 || queue_.size() >= options_.batch_size ||
                       Clock::now() >= first_queued_at_ + options_.linger;
            };
            while (!stopping_ && !ready()) {
                auto until = wake;
                if (!queue_.empty() && !failing_) until = std::min(until, first_queued_at_ + options_.linger);
                if (cv_.wait_until(lock, until) == std::cv_status::timeout && Clock::now() >= wake) break;
            }
            // Stopping: write what is queued, unless the database is unusable (flush() gave it its time).
            if (stopping_ && (failing_ || (queue_.empty() && batch.empty()))) break;
            while (!queue_.empty() && batch.size() < options_.batch_size) {
                if (queue_.front().kind == EventKind::result) --queued_results_;
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            // Every event queued before retain_series() is in the batch or folded before it.
            if (retain_ && queue_.empty()) {
                retain = std::move(retain_);
                retain_.reset();
            }
        }
        // Each event is folded into the rollups once, when it joins the batch (a batch that fails
        // is retried with its deltas kept in pending_rollups_).
        if (options_.rollups)
            for (size_t i = fed; i < batch.size(); ++i) rollups_.add(batch[i]);
        fed = batch.size();
        if (retain) rollups_.retain(retain->first, retain->second);
        if (!ensure_open()) continue;
        bool tick_due = Clock::now() - last_tick_ >= options_.rollup_tick;
        if (!batch.empty() || (tick_due && !failing_)) {
            write_batch(batch);
            if (batch.empty()) fed = 0;
            flushed_.notify_all();
        }
        end_episode_if_settled();
        if (store_ && !failing_ && Clock::now() - last_prune_ >= options_.prune_every) {
            prune_step();
            checkpoint();
            last_prune_ = Clock::now();
        }
    }
    // Vitals stops: time in status is known up to now, unknown from here on.
    if (store_ && !failing_) {
        std::vector<HistoryEvent> none;
        write_batch(none);
    }
    rollups_.forget();
    // Whatever could not be written is given up (counted as processed for flush()).
    uint64_t lost = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        lost = enqueued_ - processed_;
        processed_ = enqueued_;
    }
    flushed_.notify_all();
    if (lost > 0)
        spdlog::warn("history: {} events not written at shutdown: {}", lost,
                     last_error_.empty() ? "the writer was stopped first" : last_error_);
}

}  // namespace vitals
