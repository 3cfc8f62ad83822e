// The rollups table (SPEC §10) in the history database: one row per (series, level, bucket start).
// Created beside the events table when the writer opens the file (CREATE IF NOT EXISTS: a database
// written by an older vitals gains it, and an older vitals reading a newer file never looks at it).
// The writer adds deltas inside its batch transaction; readers read ranges of one level.
#pragma once

#include "history/rollup.h"

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vitals {

void create_rollup_schema(SQLite::Database& db);

// Adds each delta to its row (creating it). Call inside the caller's transaction. Throws SQLite::Exception.
void write_rollups(SQLite::Database& db, const RollupDeltas& deltas);

// Deletes up to `max_batch` rows of `level` whose bucket started before `older_than_ms`; returns how many.
int prune_rollups(SQLite::Database& db, RollupLevel level, int64_t older_than_ms, int max_batch);

// The rows of one series and level with from_ms <= start < to_ms, oldest first. Empty when the file
// has no rollups table yet.
std::vector<std::pair<int64_t, RollupCell>> read_rollups(SQLite::Database& db, const std::string& series,
                                                         RollupLevel level, int64_t from_ms, int64_t to_ms);

// The oldest bucket start of one level, or -1 when it has no rows.
int64_t oldest_rollup(SQLite::Database& db, RollupLevel level);

}  // namespace vitals
