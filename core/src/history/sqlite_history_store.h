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

struct sqlite3_stmt;

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
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

// The samples column of a probe row ("offset_us:code:latency_us;..."), appended to `out`. False
// when it is malformed (what was read before the fault stays appended).
bool decode_samples(const char* text, int64_t ts_ms, std::vector<ProbeSample>& out);

// SQLite's multi-row, multi-line check output (quick_check, integrity_check) as one line.
std::string one_line(const std::vector<std::string>& rows);

// One probe row as a scan hands it over: views into SQLite's row, valid during the callback only.
struct ProbeRowView {
    int64_t ts_ms = 0;
    std::string_view address, user_agent, path;
    int code = 0;
    int64_t latency_us = 0;
    int64_t count = 0;
    const char* samples = nullptr;  // the samples column, or null (one answer)
};

// A status transition of a check or group: time, status, cause.
struct TransitionRow {
    int64_t ts_ms = 0;
    Status status = Status::fail;
    std::string cause;
};

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

    // Probe rows with since_ms <= ts <= until_ms (of one address, if given), in time order.
    void scan_probes(int64_t since_ms, int64_t until_ms, const std::optional<std::string>& address,
                     const std::function<void(const ProbeRowView&)>& fn);
    // Whether any probe row lies in the range.
    bool has_probes(int64_t since_ms, int64_t until_ms);
    // Every transition of `name` (a check or group) up to until_ms, in time order.
    std::vector<TransitionRow> transitions_of(const std::string& name, int64_t until_ms);

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

    static constexpr int kSchemaVersion = 2;

private:
    explicit SqliteHistoryStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
    // The replay's scan, prepared through SQLite's C API (no Column object per value of ~52,000
    // rows); [0] all probers, [1] one address. Finalised before db_ closes.
    struct RawStatement {
        sqlite3_stmt* st = nullptr;
        ~RawStatement();
    };
    // Throws NotHistoryDatabase unless the schema is vitals' (or, when `empty_ok`, there is none yet).
    void require_ours(const std::string& path, bool empty_ok);
    void migrate();
    std::optional<std::pair<int64_t, int64_t>> id_range();  // lowest and highest id; nullopt: no rows
    // Prepared statements kept per connection (preparing costs as much as a small query).
    SQLite::Statement& statement(const std::string& sql);
    std::unique_ptr<SQLite::Database> db_;
    bool has_probes_ = false;  // schema version 2 or later
    // Declared after db_ so statements are finalised before the connection closes.
    std::map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
    RawStatement probe_scan_[2];
};

}  // namespace vitals
