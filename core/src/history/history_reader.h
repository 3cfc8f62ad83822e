// Answers history queries from the SQLite file with read-only connections (WAL: readers never wait
// for the writer). A few connections are kept for reuse; each query holds one for its duration.
#pragma once

#include "history/history_query.h"
#include "history/sqlite_history_store.h"

#include <memory>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace vitals {

class HistoryReader {
public:
    explicit HistoryReader(std::string path) : path_(std::move(path)) {}

    // Runs the query. A database that does not exist yet answers an empty page.
    // Throws std::exception when the file exists but cannot be read.
    HistoryPage query(const HistoryQuery& q);

    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::mutex mu_;  // guards idle_ only; never held during a query
    // Idle connections with the inode they opened: a file set aside (corrupt) and recreated is
    // noticed and the stale connections dropped.
    std::vector<std::pair<std::unique_ptr<SqliteHistoryStore>, ino_t>> idle_;
};

}  // namespace vitals
