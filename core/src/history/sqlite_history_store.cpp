#include "history/sqlite_history_store.h"
#include "history/rollup_store.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>

namespace vitals {

namespace {

// "check" is an SQL keyword: always quoted.
const char* kCreateV1[] = {
    R"(CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        "check" TEXT NOT NULL,
        kind INTEGER NOT NULL,
        status TEXT NOT NULL,
        raw_status TEXT,
        duration_ms INTEGER,
        output TEXT NOT NULL DEFAULT '',
        observed_value REAL,
        observed_unit TEXT,
        previous TEXT,
        cause TEXT))",
    // ("check", rowid): newest N of one check without a sort.
    R"(CREATE INDEX IF NOT EXISTS events_check ON events("check"))",
    // Transitions are few: partial indexes keep transitions=true fast at almost no insert cost.
    R"(CREATE INDEX IF NOT EXISTS events_transitions_check ON events("check") WHERE kind = 1)",
    R"(CREATE INDEX IF NOT EXISTS events_transitions ON events(kind) WHERE kind = 1)",
    // ts grows with id, so this index is appended to at its right edge: cheap to keep.
    R"(CREATE INDEX IF NOT EXISTS events_ts ON events(ts))",
};

// Version 2: probes (SPEC §9). A probe row's check is the group its path answers; its first answer
// is in code and latency_us, the others of its second in samples ("offset_us:code:latency_us;...",
// offsets from ts in microseconds), and probes counts them all.
const char* kCreateV2[] = {
    "ALTER TABLE events ADD COLUMN prober_address TEXT",
    "ALTER TABLE events ADD COLUMN user_agent TEXT",
    "ALTER TABLE events ADD COLUMN probe_path TEXT",
    "ALTER TABLE events ADD COLUMN code INTEGER",
    "ALTER TABLE events ADD COLUMN latency_us INTEGER",
    "ALTER TABLE events ADD COLUMN probes INTEGER",
    "ALTER TABLE events ADD COLUMN samples TEXT",
    // Replay reads probes by time; `prober=` by address.
    "CREATE INDEX IF NOT EXISTS events_probes ON events(ts) WHERE kind = 2",
    "CREATE INDEX IF NOT EXISTS events_probes_address ON events(prober_address) WHERE kind = 2",
};

std::string encode_samples(const ProbeRow& row, int64_t ts_ms) {
    std::string out;
    for (size_t i = 1; i < row.samples.size(); ++i) {
        const ProbeSample& s = row.samples[i];
        out += std::to_string(s.time_us - ts_ms * 1000);
        out += ':';
        out += std::to_string(s.code);
        out += ':';
        out += std::to_string(s.latency_us);
        out += ';';
    }
    return out;
}

void bind_optional_status(SQLite::Statement& st, int index, const std::optional<Status>& s) {
    if (s)
        st.bind(index, to_string(*s));
    else
        st.bind(index);
}

Status status_or_fail(const std::string& s) { return parse_status(s).value_or(Status::fail); }

// Every column a query reads: preparing this fails on an `events` table that is not ours.
const char* kSchemaProbe = R"(SELECT id, ts, "check", kind, status, raw_status, duration_ms, output, observed_value,
    observed_unit, previous, cause FROM events LIMIT 0)";

constexpr int kBusyTimeoutMs = 2000;

struct ResetAfterUse {  // leaves a cached statement ready for reuse, even on a throw
    SQLite::Statement& st;
    ~ResetAfterUse() {
        try {
            st.reset();
        } catch (...) {
        }
    }
};

}  // namespace

std::optional<FileId> file_id(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return FileId{st.st_dev, st.st_ino};
}

bool has_sqlite_header(const std::string& path) {
    static const char kHeader[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f', 'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};
    char head[sizeof kHeader] = {};
    std::ifstream f(path, std::ios::binary);
    return f.read(head, sizeof head) && std::memcmp(head, kHeader, sizeof head) == 0;
}

std::string one_line(const std::vector<std::string>& rows) {
    // Rows and the lines within a row ("*** in database main ***\nPage 5: ...") alike become "; ".
    std::string out;
    for (const auto& row : rows) {
        if (!out.empty()) out += "; ";
        for (char c : row) {
            if (c == '\r') continue;
            if (c == '\n')
                out += "; ";
            else
                out += c;
        }
    }
    return out;
}

std::unique_ptr<SqliteHistoryStore> SqliteHistoryStore::open_for_writing(const std::string& path) {
    struct stat st {};
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) throw NotHistoryDatabase(path + " is not a vitals history database: not a regular file");
    // An empty file is what SQLite makes a new database from; anything else must be SQLite's.
    if (exists && st.st_size > 0 && !has_sqlite_header(path))
        throw NotHistoryDatabase(path + " is not a vitals history database: it is not an SQLite file");
    // NOMUTEX: each connection is used by one thread at a time (the writer; a pooled reader).
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
                                                 kBusyTimeoutMs);
    std::unique_ptr<SqliteHistoryStore> store(new SqliteHistoryStore(std::move(db)));
    store->require_ours(path, true);  // before anything below writes to the file
    // journal_mode returns a row: execAndGet, not exec.
    std::string mode = store->db_->execAndGet("PRAGMA journal_mode=WAL").getString();
    if (mode != "wal") throw std::runtime_error("cannot switch " + path + " to WAL mode (got " + mode + ")");
    store->db_->exec("PRAGMA synchronous=NORMAL");
    // Inserts touch the right edge of each b-tree, pruning the left: a small page cache holds
    // both. SQLite's default (2 MiB) would fill as the file grows and add that much to a daemon
    // that is meant to stay near 16 MB (issue 7).
    store->db_->exec("PRAGMA cache_size=-512");
    // A checkpoint leaves the WAL at most this large (it would otherwise keep its largest size, say
    // after a burst or a full disk); the writer also truncates it after pruning and after errors.
    store->db_->execAndGet("PRAGMA journal_size_limit=4194304");
    store->migrate();
    create_rollup_schema(*store->db_);
    return store;
}

std::unique_ptr<SqliteHistoryStore> SqliteHistoryStore::open_read_only(const std::string& path) {
    if (!has_sqlite_header(path)) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
            return nullptr;  // the writer has created the file and not yet its schema: no history yet
        throw NotHistoryDatabase(path + " is not a vitals history database: it is not an SQLite file");
    }
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, kBusyTimeoutMs);
    std::unique_ptr<SqliteHistoryStore> store(new SqliteHistoryStore(std::move(db)));
    // Queries touch the newest pages again and again: map the file instead of copying pages in.
    store->db_->exec("PRAGMA mmap_size=268435456");
    store->require_ours(path, true);
    // Ours, but without its schema yet (the writer is creating it): no history yet.
    int version = store->db_->execAndGet("PRAGMA user_version").getInt();
    if (version == 0) return nullptr;
    store->has_probes_ = version >= 2;  // a version 1 file (not yet opened by this vitals) has no probes
    return store;
}

void SqliteHistoryStore::require_ours(const std::string& path, bool empty_ok) {
    int version = db_->execAndGet("PRAGMA user_version").getInt();
    if (version > kSchemaVersion)
        throw NotHistoryDatabase(path + " has history schema version " + std::to_string(version) +
                                 ", newer than this vitals (" + std::to_string(kSchemaVersion) + ")");
    if (version == 0) {
        int tables = db_->execAndGet("SELECT count(*) FROM sqlite_master").getInt();
        if (tables > 0)
            throw NotHistoryDatabase(path + " is not a vitals history database: an SQLite database with " +
                                     std::to_string(tables) + " other schema objects and no vitals schema");
        if (!empty_ok) throw NotHistoryDatabase(path + " is not a vitals history database yet: it holds no tables");
        return;
    }
    try {
        SQLite::Statement probe(*db_, kSchemaProbe);
    } catch (const SQLite::Exception& e) {
        int code = e.getErrorCode() & 0xff;
        if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) throw;
        throw NotHistoryDatabase(path + " is not a vitals history database: schema version " + std::to_string(version) +
                                 " but " + e.what());
    }
}

void SqliteHistoryStore::migrate() {
    int version = db_->execAndGet("PRAGMA user_version").getInt();  // require_ours() refused a newer one
    if (version < 1) {
        SQLite::Transaction tx(*db_);
        for (const char* sql : kCreateV1) db_->exec(sql);
        db_->exec("PRAGMA user_version = 1");
        tx.commit();
    }
    if (version < 2) {
        SQLite::Transaction tx(*db_);
        for (const char* sql : kCreateV2) db_->exec(sql);
        db_->exec("PRAGMA user_version = 2");
        tx.commit();
    }
    has_probes_ = true;
    // Later versions: `if (version < 3) { ... PRAGMA user_version = 3 }`, each in its own transaction.
}

SQLite::Statement& SqliteHistoryStore::statement(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
        if (statements_.size() > 64) statements_.clear();  // bounded: queries vary in their IN lists
        it = statements_.emplace(sql, std::make_unique<SQLite::Statement>(*db_, sql)).first;
    }
    it->second->clearBindings();
    return *it->second;
}

void SqliteHistoryStore::insert(const std::vector<HistoryEvent>& events, const RollupDeltas* rollups) {
    if (events.empty() && (!rollups || rollups->empty())) return;
    SQLite::Transaction tx(*db_);
    if (rollups) write_rollups(*db_, *rollups);
    SQLite::Statement& st = statement(R"(INSERT INTO events (ts, "check", kind, status, raw_status, duration_ms,
        output, observed_value, observed_unit, previous, cause, prober_address, user_agent, probe_path, code,
        latency_us, probes, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))");
    for (const auto& e : events) {
        st.bind(1, int64_t(e.time_ms));
        st.bind(2, e.check);
        st.bind(3, int(e.kind));
        st.bind(4, to_string(e.status));
        const RunResult* run = e.run ? &*e.run : nullptr;
        bind_optional_status(st, 5, run ? std::optional<Status>(run->status) : std::nullopt);
        if (e.duration_ms)
            st.bind(6, int64_t(*e.duration_ms));
        else
            st.bind(6);
        st.bind(7, run ? run->output : std::string());
        if (run && run->observed_value)
            st.bind(8, *run->observed_value);
        else
            st.bind(8);
        if (run && run->observed_value)
            st.bind(9, run->observed_unit);
        else
            st.bind(9);
        if (e.kind == EventKind::transition) {
            if (e.previous)
                st.bind(10, to_string(*e.previous));
            else
                st.bind(10, "pending");
            st.bind(11, e.cause);
        } else {
            st.bind(10);
            st.bind(11);
        }
        if (e.kind == EventKind::probe && e.probe && !e.probe->samples.empty()) {
            const ProbeRow& p = *e.probe;
            st.bind(12, p.address);
            st.bind(13, p.user_agent);
            st.bind(14, p.path);
            st.bind(15, p.samples[0].code);
            st.bind(16, int64_t(p.samples[0].latency_us));
            st.bind(17, int64_t(p.count));
            if (p.samples.size() > 1)
                st.bind(18, encode_samples(p, e.time_ms));
            else
                st.bind(18);
        } else {
            for (int c = 12; c <= 18; ++c) st.bind(c);
        }
        st.exec();
        st.reset();
    }
    tx.commit();
}

bool decode_samples(const char* text, int64_t ts_ms, std::vector<ProbeSample>& out) {
    const char* p = text;
    while (*p) {
        char* end = nullptr;
        ProbeSample s;
        s.time_us = ts_ms * 1000 + std::strtoll(p, &end, 10);
        if (*end != ':') return false;
        s.code = int(std::strtol(end + 1, &end, 10));
        if (*end != ':') return false;
        s.latency_us = std::strtoll(end + 1, &end, 10);
        if (*end != ';') return false;
        out.push_back(s);
        p = end + 1;
    }
    return true;
}

HistoryPage SqliteHistoryStore::query(const HistoryQuery& q) {
    std::string sql = std::string(R"(SELECT id, ts, "check", kind, status, raw_status, duration_ms, output, observed_value,
        observed_unit, previous, cause)") +
                      (has_probes_ ? ", prober_address, user_agent, probe_path, code, latency_us, probes, samples" : "") +
                      " FROM events WHERE 1=1";
    std::vector<EventKind> kinds = q.kinds;
    if (kinds.empty()) kinds = {EventKind::result, EventKind::transition};
    if (q.transitions_only) kinds = {EventKind::transition};
    if (!has_probes_) {
        kinds.erase(std::remove(kinds.begin(), kinds.end(), EventKind::probe), kinds.end());
        if (kinds.empty() || q.prober) return {};  // a version 1 file holds no probes
    }
    auto placeholders = [](size_t n) {
        std::string s = "(";
        for (size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
        return s + ")";
    };
    if (!q.checks.empty()) sql += R"( AND "check" IN )" + placeholders(q.checks.size());
    if (!q.statuses.empty()) sql += " AND status IN " + placeholders(q.statuses.size());
    if (kinds.size() < 3) {
        sql += " AND kind IN (";
        for (size_t k = 0; k < kinds.size(); ++k) sql += (k ? "," : "") + std::to_string(int(kinds[k]));
        sql += ")";
    }
    if (q.prober) sql += " AND prober_address = ? AND kind = 2";
    if (q.since_ms) sql += " AND ts >= ?";
    if (q.until_ms) sql += " AND ts <= ?";
    if (q.before_id) sql += " AND id < ?";
    sql += " ORDER BY id DESC LIMIT ?";

    SQLite::Statement& st = statement(sql);
    int i = 1;
    for (const auto& c : q.checks) st.bind(i++, c);
    for (const auto& s : q.statuses) st.bind(i++, to_string(s));
    if (q.prober) st.bind(i++, *q.prober);
    if (q.since_ms) st.bind(i++, int64_t(*q.since_ms));
    if (q.until_ms) st.bind(i++, int64_t(*q.until_ms));
    if (q.before_id) st.bind(i++, int64_t(*q.before_id));
    st.bind(i++, q.limit + 1);  // one more than asked: tells whether there is a next page

    HistoryPage page;
    ResetAfterUse reset{st};
    while (st.executeStep()) {
        if (int(page.items.size()) == q.limit) {
            page.next_before_id = page.items.back().id;
            break;
        }
        HistoryEvent e;
        e.id = st.getColumn(0).getInt64();
        e.time_ms = st.getColumn(1).getInt64();
        e.check = st.getColumn(2).getString();
        int kind = st.getColumn(3).getInt();
        e.kind = kind == 1 ? EventKind::transition : kind == 2 ? EventKind::probe : EventKind::result;
        e.status = status_or_fail(st.getColumn(4).getString());
        if (e.kind == EventKind::result) {
            RunResult& run = e.run.emplace();
            run.status = st.getColumn(5).isNull() ? e.status : status_or_fail(st.getColumn(5).getString());
            run.output = st.getColumn(7).getString();
            if (!st.getColumn(8).isNull()) run.observed_value = st.getColumn(8).getDouble();
            if (!st.getColumn(9).isNull()) run.observed_unit = st.getColumn(9).getString();
        }
        if (!st.getColumn(6).isNull()) e.duration_ms = st.getColumn(6).getInt64();
        if (!st.getColumn(10).isNull()) e.previous = parse_status(st.getColumn(10).getString());
        if (!st.getColumn(11).isNull()) e.cause = st.getColumn(11).getString();
        if (e.kind == EventKind::probe && has_probes_) {
            ProbeRow& p = e.probe.emplace();
            p.address = st.getColumn(12).getString();
            p.user_agent = st.getColumn(13).getString();
            p.path = st.getColumn(14).getString();
            p.samples.push_back({e.time_ms * 1000, st.getColumn(16).getInt64(), st.getColumn(15).getInt()});
            p.count = st.getColumn(17).getInt64();
            if (!st.getColumn(18).isNull()) decode_samples(st.getColumn(18).getText(), e.time_ms, p.samples);
        }
        page.items.push_back(std::move(e));
    }
    return page;
}

SqliteHistoryStore::RawStatement::~RawStatement() { sqlite3_finalize(st); }

void SqliteHistoryStore::scan_probes(int64_t since_ms, int64_t until_ms, const std::optional<std::string>& address,
                                     const std::function<void(const ProbeRowView&)>& fn) {
    if (!has_probes_) return;
    sqlite3_stmt*& st = probe_scan_[address ? 1 : 0].st;
    if (!st) {
        std::string sql = "SELECT ts, prober_address, user_agent, probe_path, code, latency_us, probes, samples FROM "
                          "events WHERE kind = 2 AND ts >= ? AND ts <= ?";
        if (address) sql += " AND prober_address = ?";
        sql += " ORDER BY ts, id";
        int rc = sqlite3_prepare_v2(db_->getHandle(), sql.c_str(), -1, &st, nullptr);
        if (rc != SQLITE_OK) throw SQLite::Exception(db_->getHandle(), rc);
    }
    struct Reset {
        sqlite3_stmt* st;
        ~Reset() {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
        }
    } reset{st};
    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int64(st, 2, until_ms);
    if (address) sqlite3_bind_text(st, 3, address->c_str(), int(address->size()), SQLITE_TRANSIENT);
    auto text = [st](int col) {
        const char* t = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
        return std::string_view(t ? t : "", size_t(sqlite3_column_bytes(st, col)));
    };
    ProbeRowView v;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) throw SQLite::Exception(db_->getHandle(), rc);
        v.ts_ms = sqlite3_column_int64(st, 0);
        v.address = text(1);
        v.user_agent = text(2);
        v.path = text(3);
        v.code = sqlite3_column_int(st, 4);
        v.latency_us = sqlite3_column_int64(st, 5);
        v.count = sqlite3_column_int64(st, 6);
        v.samples = sqlite3_column_type(st, 7) == SQLITE_NULL ? nullptr
                                                               : reinterpret_cast<const char*>(sqlite3_column_text(st, 7));
        fn(v);
    }
}

bool SqliteHistoryStore::has_probes(int64_t since_ms, int64_t until_ms) {
    if (!has_probes_) return false;
    SQLite::Statement& st = statement("SELECT 1 FROM events WHERE kind = 2 AND ts >= ? AND ts <= ? LIMIT 1");
    st.bind(1, int64_t(since_ms));
    st.bind(2, int64_t(until_ms));
    ResetAfterUse reset{st};
    return st.executeStep();
}

std::vector<TransitionRow> SqliteHistoryStore::transitions_of(const std::string& name, int64_t until_ms) {
    SQLite::Statement& st =
        statement(R"(SELECT ts, status, cause FROM events WHERE kind = 1 AND "check" = ? AND ts <= ? ORDER BY ts, id)");
    st.bind(1, name);
    st.bind(2, int64_t(until_ms));
    ResetAfterUse reset{st};
    std::vector<TransitionRow> out;
    while (st.executeStep()) {
        TransitionRow t;
        t.ts_ms = st.getColumn(0).getInt64();
        t.status = status_or_fail(st.getColumn(1).getString());
        if (!st.getColumn(2).isNull()) t.cause = st.getColumn(2).getString();
        out.push_back(std::move(t));
    }
    return out;
}

std::optional<std::pair<int64_t, int64_t>> SqliteHistoryStore::id_range() {
    // Each subquery reads one end of the rowid b-tree (SQLite's min/max shortcut holds for one
    // aggregate per SELECT; "SELECT min(id), max(id)" would scan the table).
    SQLite::Statement& st = statement("SELECT (SELECT min(id) FROM events), (SELECT max(id) FROM events)");
    ResetAfterUse reset{st};
    if (!st.executeStep() || st.getColumn(0).isNull()) return std::nullopt;
    return std::make_pair(st.getColumn(0).getInt64(), st.getColumn(1).getInt64());
}

int SqliteHistoryStore::prune(int64_t older_than_ms, int64_t max_rows, int max_batch) {
    // The oldest rows have the lowest ids: delete a bounded slice from the bottom so the writer's
    // transaction stays short.
    auto range = id_range();
    if (!range) return 0;
    int64_t cut = range->first + max_batch;  // never more than max_batch ids in one step
    int64_t keep_from = range->second - max_rows + 1;
    SQLite::Statement& del = statement("DELETE FROM events WHERE id < ? AND (id < ? OR ts < ?)");
    del.bind(1, int64_t(cut));
    del.bind(2, int64_t(keep_from));
    del.bind(3, int64_t(older_than_ms));
    ResetAfterUse reset{del};
    return del.exec();
}

int SqliteHistoryStore::trim(int64_t max_rows, int max_batch) {
    auto range = id_range();
    if (!range) return 0;
    // Ids only grow and only the oldest go, so the newest max_rows rows have ids above max - max_rows.
    int64_t below = std::min(range->first + max_batch, range->second - max_rows + 1);
    if (below <= range->first) return 0;  // the usual case: nothing to delete, two lookups spent
    SQLite::Statement& del = statement("DELETE FROM events WHERE id < ?");
    del.bind(1, int64_t(below));
    ResetAfterUse reset{del};
    return del.exec();
}

int64_t SqliteHistoryStore::row_count_estimate() {
    auto range = id_range();
    return range ? range->second - range->first + 1 : 0;
}

std::string SqliteHistoryStore::integrity_check() { return db_->execAndGet("PRAGMA integrity_check").getString(); }

std::vector<std::string> SqliteHistoryStore::quick_check() {
    std::vector<std::string> rows;
    SQLite::Statement st(*db_, "PRAGMA quick_check(20)");  // the first 20 problems say enough
    while (st.executeStep()) rows.push_back(st.getColumn(0).getString());
    return rows;
}

bool SqliteHistoryStore::checkpoint() {
    // TRUNCATE waits for readers to finish; they are short, so wait a little, not the 2 s an insert may.
    db_->setBusyTimeout(100);
    struct Restore {
        SQLite::Database& db;
        ~Restore() {
            try {
                db.setBusyTimeout(kBusyTimeoutMs);
            } catch (...) {
            }
        }
    } restore{*db_};
    SQLite::Statement st(*db_, "PRAGMA wal_checkpoint(TRUNCATE)");  // one row: busy, log pages, checkpointed
    return st.executeStep() && st.getColumn(0).getInt() == 0;
}

}  // namespace vitals
