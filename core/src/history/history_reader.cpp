#include "history/history_reader.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vitals {

std::unique_ptr<SqliteHistoryStore> HistoryReader::borrow(FileId& id) {
    auto found = file_id(path_);
    if (!found) throw std::runtime_error("no history database at " + path_ + ": " + std::strerror(errno));
    id = *found;
    std::unique_ptr<SqliteHistoryStore> store;
    {
        std::lock_guard<std::mutex> lock(mu_);
        while (!idle_.empty() && !store) {
            if (idle_.back().second == id) store = std::move(idle_.back().first);
            idle_.pop_back();
        }
    }
    if (!store) store = SqliteHistoryStore::open_read_only(path_);
    return store;
}

void HistoryReader::give_back(std::unique_ptr<SqliteHistoryStore> store, const FileId& id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < 4) idle_.emplace_back(std::move(store), id);
}

HistoryPage HistoryReader::query(const HistoryQuery& q) {
    FileId id;
    auto store = borrow(id);
    if (!store) return {};  // created, and no history in it yet: an empty page is the truth
    HistoryPage page = store->query(q);  // a throw drops the connection: it is reopened next time
    give_back(std::move(store), id);
    return page;
}

std::vector<UptimeSeries> HistoryReader::uptime(const UptimeQuery& q) {
    FileId id;
    auto store = borrow(id);
    if (!store) {
        SQLite::Database empty(":memory:", SQLite::OPEN_READWRITE);
        return compute_uptime(empty, q);  // no rollups table: every bucket empty, the truth
    }
    auto answer = compute_uptime(store->db(), q);
    give_back(std::move(store), id);
    return answer;
}

}  // namespace vitals
