#include "history/history_writer.h"

#include <SQLiteCpp/Exception.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <vector>

namespace vitals {

using Clock = std::chrono::steady_clock;

HistoryWriter::HistoryWriter(HistoryWriterOptions options) : options_(std::move(options)) {}

HistoryWriter::~HistoryWriter() { stop(); }

void HistoryWriter::start() { thread_ = std::thread([this] { loop(); }); }

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
        queue_.push_back(std::move(event));
        ++enqueued_;
    }
    cv_.notify_one();
}

void HistoryWriter::flush() {
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t target = enqueued_;
    cv_.notify_one();
    flushed_.wait_for(lock, std::chrono::seconds(10), [&] { return processed_ >= target || stopping_; });
}

void HistoryWriter::note_error(const std::string& kind, const std::string& message) {
    ++write_errors_;
    healthy_ = false;
    if (logged_kinds_.insert(kind).second)
        spdlog::error("history: {} ({}); health serving is unaffected, writing resumes when possible", message,
                      options_.path);
}

static bool is_corruption(const SQLite::Exception& e) {
    int code = e.getErrorCode() & 0xff;
    return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

std::string set_aside_corrupt(const std::string& path) {
    std::string aside = path + ".corrupt-" + std::to_string(std::time(nullptr));
    if (std::rename(path.c_str(), aside.c_str()) != 0) return "";
    for (const char* suffix : {"-wal", "-shm"}) std::rename((path + suffix).c_str(), (aside + suffix).c_str());
    return aside;
}

bool HistoryWriter::ensure_open() {
    if (store_) return true;
    try {
        std::filesystem::path dir = std::filesystem::path(options_.path).parent_path();
        std::error_code ec;
        if (!dir.empty()) std::filesystem::create_directories(dir, ec);
        store_ = SqliteHistoryStore::open_for_writing(options_.path);
        std::string check = store_->db().execAndGet("PRAGMA quick_check").getString();
        if (check != "ok") throw SQLite::Exception("quick_check: " + check, SQLITE_CORRUPT);
        if (!logged_kinds_.empty()) spdlog::info("history: writing to {} again", options_.path);
        logged_kinds_.clear();
        healthy_ = true;
        return true;
    } catch (const SQLite::Exception& e) {
        store_.reset();
        if (is_corruption(e)) {
            std::string aside = set_aside_corrupt(options_.path);
            if (!aside.empty()) {
                spdlog::error("history: {} is corrupt ({}); kept it as {} and starting a new database",
                              options_.path, e.what(), aside);
                return ensure_open();
            }
        }
        note_error("open", std::string("cannot open database: ") + e.what());
    } catch (const std::exception& e) {
        store_.reset();
        note_error("open", std::string("cannot open database: ") + e.what());
    }
    return false;
}

void HistoryWriter::prune_step() {
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    int64_t cutoff = now_ms - options_.retention.count();
    try {
        // Small slices, each its own transaction; new events wait at most one slice.
        for (int i = 0; i < 20; ++i) {
            int deleted = store_->prune(cutoff, options_.max_rows, 2000);
            if (deleted < 2000) break;
        }
    } catch (const SQLite::Exception& e) {
        note_error("prune", std::string("prune failed: ") + e.what());
    }
}

void HistoryWriter::loop() {
    std::vector<HistoryEvent> batch;
    auto next_retry = Clock::now();
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            auto wake = store_ ? Clock::now() + options_.prune_every : next_retry;
            cv_.wait_until(lock, wake, [&] { return stopping_ || (!queue_.empty() && (store_ || Clock::now() >= next_retry)); });
            if (stopping_ && (queue_.empty() || !store_)) break;
            if (batch.empty()) {
                while (!queue_.empty() && batch.size() < options_.batch_size) {
                    if (queue_.front().kind == EventKind::result) --queued_results_;
                    batch.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
            }
        }
        if (!ensure_open()) {
            next_retry = Clock::now() + options_.retry_every;
            // Keep the batch for the next attempt; the queue bound still applies to new events.
            continue;
        }
        if (!batch.empty()) {
            try {
                store_->insert(batch);
                written_ += batch.size();
                std::lock_guard<std::mutex> lock(mu_);
                processed_ += batch.size();
                batch.clear();
                healthy_ = true;
            } catch (const SQLite::Exception& e) {
                bool corrupt = is_corruption(e);
                note_error(corrupt ? "corrupt" : "write", std::string("write failed: ") + e.what());
                store_.reset();  // reopen (and set aside if corrupt) on the next attempt
                if (corrupt) set_aside_corrupt(options_.path);
                next_retry = Clock::now() + options_.retry_every;
            }
            flushed_.notify_all();
        }
        if (store_ && Clock::now() - last_prune_ >= options_.prune_every) {
            prune_step();
            last_prune_ = Clock::now();
        }
    }
    // Whatever could not be written is given up (counted as processed for flush()).
    std::lock_guard<std::mutex> lock(mu_);
    processed_ = enqueued_;
    flushed_.notify_all();
}

}  // namespace vitals
