// Answers history queries from the SQLite file with read-only connections (WAL: readers never wait
// for the writer). A few connections are kept for reuse; each query holds one for its duration.
#pragma once

#include "history/history_query.h"
#include "history/sqlite_history_store.h"
#include "history/uptime.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace vitals {

class HistoryReader {
public:
    explicit HistoryReader(std::string path) : path_(std::move(path)) {}

    // Runs the query. Throws std::exception saying why when there is no database at the path (the
    // writer creates it at start: a missing file is one removed or unusable), when the file is not
    // a vitals history database (NotHistoryDatabase), or when it cannot be read.
    HistoryPage query(const HistoryQuery& q);

    // Calls fn with a read-only connection to the file, or with null when the file holds no
    // history yet. Throws like query().
    void with_store(const std::function<void(SqliteHistoryStore*)>& fn);
    // The uptime answer (SPEC §10) from the rollups; throws like query(). No history yet: every
    // bucket empty (coverage 0).
    std::vector<UptimeSeries> uptime(const UptimeQuery& q);

    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::mutex mu_;  // guards idle_ only; never held during a query
    // Idle connections with the file they opened: a file set aside (corrupt), removed or replaced
    // and then recreated is noticed and the stale connections dropped.
    std::vector<std::pair<std::unique_ptr<SqliteHistoryStore>, FileId>> idle_;
};

}  // namespace vitals
