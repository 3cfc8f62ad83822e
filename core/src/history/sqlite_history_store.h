// SQLite storage of history events (SPEC §6), through SQLiteCpp. One writer connection (owned by
// HistoryWriter's thread) and any number of read-only connections (queries, `vitals history`).
//
// Schema (version 1): one table `events`, rowid = id, newest = highest id. Queries page by id, so a
// cursor stays stable while new rows arrive. SQLite appends the rowid to every index, so an index on
// ("check") gives "newest N of one check" by walking ("check", rowid) backwards with no sort.
#pragma once

#include "history/history_types.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vitals {

class SqliteHistoryStore {
public:
    // Opens (creating if needed) for writing: WAL mode, schema migrated to the current version.
    // Throws SQLite::Exception on failure.
    static std::unique_ptr<SqliteHistoryStore> open_for_writing(const std::string& path);
    // Opens an existing database read-only. Throws SQLite::Exception when missing or unreadable.
    static std::unique_ptr<SqliteHistoryStore> open_read_only(const std::string& path);

    // Inserts events in one transaction. Throws SQLite::Exception (nothing is inserted then).
    void insert(const std::vector<HistoryEvent>& events);

    HistoryPage query(const HistoryQuery& q);

    // Deletes up to `max_batch` rows older than `older_than_ms` or beyond the newest `max_rows`.
    // Returns how many were deleted (call again while it returns max_batch).
    int prune(int64_t older_than_ms, int64_t max_rows, int max_batch);

    int64_t row_count_estimate();  // max(id) - min(id) + 1: ids are dense (only the oldest are pruned)
    std::string integrity_check();
    SQLite::Database& db() { return *db_; }

    static constexpr int kSchemaVersion = 1;

private:
    explicit SqliteHistoryStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
    void migrate();
    // Prepared statements kept per connection (preparing costs as much as a small query).
    SQLite::Statement& statement(const std::string& sql);
    std::unique_ptr<SQLite::Database> db_;
    // Declared after db_ so statements are finalised before the connection closes.
    std::map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace vitals
