#include "history/history_reader.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vitals {

HistoryPage HistoryReader::query(const HistoryQuery& q) {
    HistoryPage page;
    with_store([&](SqliteHistoryStore* store) {
        if (store) page = store->query(q);  // no store: created, and no history in it yet: an empty page is the truth
    });
    return page;
}

void HistoryReader::with_store(const std::function<void(SqliteHistoryStore*)>& fn) {
    auto id = file_id(path_);
    if (!id) throw std::runtime_error("no history database at " + path_ + ": " + std::strerror(errno));
    std::unique_ptr<SqliteHistoryStore> store;
    {
        std::lock_guard<std::mutex> lock(mu_);
        while (!idle_.empty() && !store) {
            if (idle_.back().second == id) store = std::move(idle_.back().first);
            idle_.pop_back();
        }
    }
    if (!store) store = SqliteHistoryStore::open_read_only(path_);
    if (!store) return fn(nullptr);
    fn(store.get());  // a throw drops the connection: it is reopened next time
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < 4) idle_.emplace_back(std::move(store), *id);
}

std::vector<UptimeSeries> HistoryReader::uptime(const UptimeQuery& q) {
    std::vector<UptimeSeries> answer;
    with_store([&](SqliteHistoryStore* store) {
        if (store) {
            answer = compute_uptime(store->db(), q);
        } else {
            SQLite::Database empty(":memory:", SQLite::OPEN_READWRITE);
            answer = compute_uptime(empty, q);  // no rollups table: every bucket empty, the truth
        }
    });
    return answer;
}

}  // namespace vitals
