// SQLite storage of history events (SPEC §6), through SQLiteCpp. One writer connection (owned by
// HistoryWriter's thread) and any number of read-only connections (queries, `vitals history`).
//
// Schema (version 1): one table `events`, rowid = id, newest = highest id. Queries page by id, so a
// cursor stays stable while new rows arrive. SQLite appends the rowid to every index, so an index on
// ("check") gives "newest N of one check" by walking ("check", rowid) backwards with no sort.
#pragma once

#include "history/history_types.h"
#include "history/rollup.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace vitals {

// The file at `path` is not ours: not an SQLite file, or an SQLite database without vitals' schema.
// It must be left untouched (never migrated, switched to WAL, or set aside).
class NotHistoryDatabase : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Which file a path names (device and inode): tells a file removed or replaced while open.
struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
    bool operator!=(const FileId& o) const { return !(*this == o); }
};
// The identity of the file at `path`, or nullopt (errno set) when it cannot be stat'ed.
std::optional<FileId> file_id(const std::string& path);

// Whether the file at `path` starts with SQLite's 16-byte header ("SQLite format 3\0").
bool has_sqlite_header(const std::string& path);

// SQLite's multi-row, multi-line check output (quick_check, integrity_check) as one line.
std::string one_line(const std::vector<std::string>& rows);

class SqliteHistoryStore {
public:
    // Opens (creating if needed) for writing: WAL mode, schema migrated to the current version.
    // Throws NotHistoryDatabase, before changing anything, for a file that is not ours (an empty
    // file or an SQLite database without tables may become ours); SQLite::Exception on failure.
    static std::unique_ptr<SqliteHistoryStore> open_for_writing(const std::string& path);
    // Opens an existing database read-only. Returns null for one that holds no history yet (an
    // empty file, or SQLite with no schema: the writer is creating it). Throws NotHistoryDatabase
    // for a file that is not ours, SQLite::Exception when missing or unreadable.
    static std::unique_ptr<SqliteHistoryStore> open_read_only(const std::string& path);

    // Inserts events, and adds rollup deltas (SPEC §10) when given, in one transaction. Throws
    // SQLite::Exception (nothing is written then).
    void insert(const std::vector<HistoryEvent>& events, const RollupDeltas* rollups = nullptr);

    HistoryPage query(const HistoryQuery& q);

    // Deletes up to `max_batch` rows older than `older_than_ms` or beyond the newest `max_rows`.
    // Returns how many were deleted (call again while it returns max_batch).
    int prune(int64_t older_than_ms, int64_t max_rows, int max_batch);
    // Deletes up to `max_batch` of the oldest rows beyond the newest `max_rows`; cheap (two index
    // lookups) when there are none. Returns how many were deleted.
    int trim(int64_t max_rows, int max_batch);

    int64_t row_count_estimate();  // max(id) - min(id) + 1: ids are dense (only the oldest are pruned)
    std::string integrity_check();
    // PRAGMA quick_check's rows ({"ok"} for a sound database).
    std::vector<std::string> quick_check();
    // Copies the WAL into the database and truncates it to zero bytes, waiting at most briefly for
    // readers. Returns false when a reader kept it from completing. Throws SQLite::Exception.
    bool checkpoint();
    SQLite::Database& db() { return *db_; }

    static constexpr int kSchemaVersion = 1;

private:
    explicit SqliteHistoryStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
    // Throws NotHistoryDatabase unless the schema is vitals' (or, when `empty_ok`, there is none yet).
    void require_ours(const std::string& path, bool empty_ok);
    void migrate();
    std::optional<std::pair<int64_t, int64_t>> id_range();  // lowest and highest id; nullopt: no rows
    // Prepared statements kept per connection (preparing costs as much as a small query).
    SQLite::Statement& statement(const std::string& sql);
    std::unique_ptr<SQLite::Database> db_;
    // Declared after db_ so statements are finalised before the connection closes.
    std::map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace vitals
