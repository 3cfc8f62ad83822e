#include "history/rollup_store.h"

#include <SQLiteCpp/Statement.h>

namespace vitals {

namespace {

// level: the bucket's length in seconds (60, 3600, 86400). WITHOUT ROWID: the primary key is the
// only way rows are reached, and ranges of one series and level are contiguous in it.
const char* kCreateRollups = R"(CREATE TABLE IF NOT EXISTS rollups (
    series TEXT NOT NULL,
    level INTEGER NOT NULL,
    start INTEGER NOT NULL,
    runs INTEGER NOT NULL DEFAULT 0,
    fails INTEGER NOT NULL DEFAULT 0,
    warns INTEGER NOT NULL DEFAULT 0,
    pass_ms INTEGER NOT NULL DEFAULT 0,
    warn_ms INTEGER NOT NULL DEFAULT 0,
    fail_ms INTEGER NOT NULL DEFAULT 0,
    max_ms INTEGER,
    latency TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (series, level, start)) WITHOUT ROWID)";

int64_t level_seconds(RollupLevel l) { return level_ms(l) / 1000; }

bool has_rollups_table(SQLite::Database& db) {
    SQLite::Statement st(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollups'");
    return st.executeStep();
}

RollupCell cell_from(SQLite::Statement& st, int first) {
    RollupCell c;
    c.runs = st.getColumn(first).getInt64();
    c.fails = st.getColumn(first + 1).getInt64();
    c.warns = st.getColumn(first + 2).getInt64();
    c.pass_ms = st.getColumn(first + 3).getInt64();
    c.warn_ms = st.getColumn(first + 4).getInt64();
    c.fail_ms = st.getColumn(first + 5).getInt64();
    c.max_ms = st.getColumn(first + 6).isNull() ? -1 : st.getColumn(first + 6).getInt64();
    c.latency = RollupCell::parse_latency(st.getColumn(first + 7).getString());
    return c;
}

}  // namespace

void create_rollup_schema(SQLite::Database& db) { db.exec(kCreateRollups); }

void write_rollups(SQLite::Database& db, const RollupDeltas& deltas) {
    if (deltas.empty()) return;
    SQLite::Statement get(db, R"(SELECT runs, fails, warns, pass_ms, warn_ms, fail_ms, max_ms, latency FROM rollups
        WHERE series = ? AND level = ? AND start = ?)");
    SQLite::Statement put(db, R"(INSERT OR REPLACE INTO rollups (series, level, start, runs, fails, warns, pass_ms,
        warn_ms, fail_ms, max_ms, latency) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))");
    for (const auto& [key, delta] : deltas) {
        RollupCell cell;
        get.bind(1, key.series);
        get.bind(2, level_seconds(key.level));
        get.bind(3, int64_t(key.start));
        if (get.executeStep()) cell = cell_from(get, 0);
        get.reset();
        cell.merge(delta);
        put.bind(1, key.series);
        put.bind(2, level_seconds(key.level));
        put.bind(3, int64_t(key.start));
        put.bind(4, int64_t(cell.runs));
        put.bind(5, int64_t(cell.fails));
        put.bind(6, int64_t(cell.warns));
        put.bind(7, int64_t(cell.pass_ms));
        put.bind(8, int64_t(cell.warn_ms));
        put.bind(9, int64_t(cell.fail_ms));
        if (cell.max_ms >= 0)
            put.bind(10, int64_t(cell.max_ms));
        else
            put.bind(10);
        put.bind(11, cell.latency_text());
        put.exec();
        put.reset();
    }
}

int prune_rollups(SQLite::Database& db, RollupLevel level, int64_t older_than_ms, int max_batch) {
    // A bounded slice, so the writer's transaction stays short (WITHOUT ROWID: by key).
    SQLite::Statement st(db, R"(DELETE FROM rollups WHERE (series, level, start) IN (
        SELECT series, level, start FROM rollups WHERE level = ? AND start < ? LIMIT ?))");
    st.bind(1, level_seconds(level));
    st.bind(2, int64_t(older_than_ms));
    st.bind(3, max_batch);
    return st.exec();
}

std::vector<std::pair<int64_t, RollupCell>> read_rollups(SQLite::Database& db, const std::string& series,
                                                         RollupLevel level, int64_t from_ms, int64_t to_ms) {
    std::vector<std::pair<int64_t, RollupCell>> out;
    if (!has_rollups_table(db)) return out;
    SQLite::Statement st(db, R"(SELECT start, runs, fails, warns, pass_ms, warn_ms, fail_ms, max_ms, latency
        FROM rollups WHERE series = ? AND level = ? AND start >= ? AND start < ? ORDER BY start)");
    st.bind(1, series);
    st.bind(2, level_seconds(level));
    st.bind(3, int64_t(from_ms));
    st.bind(4, int64_t(to_ms));
    while (st.executeStep()) out.emplace_back(st.getColumn(0).getInt64(), cell_from(st, 1));
    return out;
}

int64_t oldest_rollup(SQLite::Database& db, RollupLevel level) {
    if (!has_rollups_table(db)) return -1;
    SQLite::Statement st(db, "SELECT min(start) FROM rollups WHERE level = ?");
    st.bind(1, level_seconds(level));
    if (!st.executeStep() || st.getColumn(0).isNull()) return -1;
    return st.getColumn(0).getInt64();
}

}  // namespace vitals
