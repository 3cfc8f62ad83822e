#include "history/history_reader.h"

#include <sys/stat.h>

namespace vitals {

HistoryPage HistoryReader::query(const HistoryQuery& q) {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return {};
    std::unique_ptr<SqliteHistoryStore> store;
    {
        std::lock_guard<std::mutex> lock(mu_);
        while (!idle_.empty() && !store) {
            if (idle_.back().second == st.st_ino) store = std::move(idle_.back().first);
            idle_.pop_back();
        }
    }
    if (!store) store = SqliteHistoryStore::open_read_only(path_);
    HistoryPage page = store->query(q);  // a throw drops the connection: it is reopened next time
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < 4) idle_.emplace_back(std::move(store), st.st_ino);
    return page;
}

}  // namespace vitals
