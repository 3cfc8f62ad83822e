#include "history/history_query.h"
#include "history/history_reader.h"
#include "history/history_writer.h"
#include "history/sqlite_history_store.h"

#include <SQLiteCpp/Database.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <unistd.h>

using namespace vitals;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/vitals-history-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path, fs::perms::all, ec);
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// Writer tests use times near now: the writer prunes by retention (7 days) as it goes.
int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

HistoryEvent result(const std::string& check, Status s, int64_t t, const std::string& output = "") {
    HistoryEvent e;
    e.check = check;
    e.kind = EventKind::result;
    e.status = s;
    RunResult& run = e.run.emplace();
    run.status = s;
    run.output = output;
    e.time_ms = t;
    e.duration_ms = 3;
    return e;
}

HistoryEvent transition(const std::string& check, Status s, std::optional<Status> prev, int64_t t,
                        const std::string& cause) {
    HistoryEvent e;
    e.check = check;
    e.kind = EventKind::transition;
    e.status = s;
    e.previous = prev;
    e.time_ms = t;
    e.cause = cause;
    return e;
}

std::variant<HistoryQuery, QueryError> parse(const QueryParams& p, const Config* cfg = nullptr) {
    return parse_history_query(p, 1'000'000'000'000, cfg);
}

std::string error_param(const QueryParams& p) {
    auto r = parse(p);
    auto* e = std::get_if<QueryError>(&r);
    return e ? e->parameter : std::string("(no error)");
}

}  // namespace

TEST_CASE("history store: filters by check, status, kind and time, newest first", "[history]") {
    TempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    store->insert({result("redis", Status::pass, 1000), result("disk", Status::pass, 2000),
                   result("redis", Status::fail, 3000, "connection refused"),
                   transition("redis", Status::fail, Status::pass, 3000, "fail: connection refused"),
                   result("redis", Status::fail, 4000)});
    HistoryQuery q;
    q.checks = {"redis"};
    auto page = store->query(q);
    REQUIRE(page.items.size() == 4);
    CHECK(page.items[0].time_ms == 4000);
    CHECK(page.items[3].time_ms == 1000);
    CHECK_FALSE(page.next_before_id);

    q.transitions_only = true;
    page = store->query(q);
    REQUIRE(page.items.size() == 1);
    CHECK(page.items[0].cause == "fail: connection refused");
    CHECK(page.items[0].previous == Status::pass);

    HistoryQuery by_status;
    by_status.statuses = {Status::pass};
    CHECK(store->query(by_status).items.size() == 2);

    HistoryQuery by_time;
    by_time.since_ms = 2000;
    by_time.until_ms = 3000;
    CHECK(store->query(by_time).items.size() == 3);
}

TEST_CASE("history store: cursor paging stays stable while new rows arrive", "[history]") {
    TempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    std::vector<HistoryEvent> batch;
    for (int i = 0; i < 25; ++i) batch.push_back(result("c", Status::pass, 1000 + i, std::to_string(i)));
    store->insert(batch);

    HistoryQuery q;
    q.limit = 10;
    auto first = store->query(q);
    REQUIRE(first.items.size() == 10);
    REQUIRE(first.next_before_id);
    CHECK(first.items.front().run->output == "24");

    store->insert({result("c", Status::fail, 5000, "new")});  // arrives between pages

    q.before_id = first.next_before_id;
    auto second = store->query(q);
    REQUIRE(second.items.size() == 10);
    CHECK(second.items.front().run->output == "14");
    q.before_id = second.next_before_id;
    auto third = store->query(q);
    REQUIRE(third.items.size() == 5);
    CHECK(third.items.back().run->output == "0");
    CHECK_FALSE(third.next_before_id);
}

TEST_CASE("history store: pruning by max_rows and by age removes the oldest", "[history]") {
    TempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    std::vector<HistoryEvent> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(result("c", Status::pass, 1000 + i));
    store->insert(batch);
    CHECK(store->prune(0, 60, 1000) == 40);
    CHECK(store->row_count_estimate() == 60);
    CHECK(store->prune(1070, 1000, 1000) == 30);  // the survivors from t=1040 up, older than t=1070
    HistoryQuery q;
    q.limit = 1000;
    auto page = store->query(q);
    CHECK(page.items.size() == 30);
    CHECK(page.items.back().time_ms == 1070);
    CHECK(store->prune(0, 1000, 1000) == 0);
}

TEST_CASE("history store: trimming keeps the newest max_rows, in bounded slices", "[history]") {
    TempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    std::vector<HistoryEvent> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(result("c", Status::pass, 1000 + i, std::to_string(i)));
    store->insert(batch);
    CHECK(store->trim(100, 1000) == 0);
    CHECK(store->trim(50, 30) == 30);  // a lowered max_rows is caught up with a slice at a time
    CHECK(store->trim(50, 30) == 20);
    CHECK(store->trim(50, 30) == 0);
    HistoryQuery q;
    q.limit = 1000;
    auto page = store->query(q);
    REQUIRE(page.items.size() == 50);
    CHECK(page.items.back().run->output == "50");
}

TEST_CASE("history store: pruning goes in bounded slices", "[history]") {
    TempDir dir;
    auto store = SqliteHistoryStore::open_for_writing(dir.file("h.db"));
    std::vector<HistoryEvent> batch;
    for (int i = 0; i < 50; ++i) batch.push_back(result("c", Status::pass, 1000 + i));
    store->insert(batch);
    CHECK(store->prune(1'000'000, 1000, 20) == 20);
    CHECK(store->prune(1'000'000, 1000, 20) == 20);
    CHECK(store->prune(1'000'000, 1000, 20) == 10);
}

TEST_CASE("history query: parameters parse, groups expand to their members", "[history]") {
    Config cfg;
    for (const char* name : {"ws", "redis", "disk", "x"}) {
        CheckConfig c;
        c.name = name;
        cfg.checks.push_back(c);
    }
    GroupConfig g;
    g.name = "alb";
    g.checks = {"ws", "redis"};
    cfg.groups.push_back(g);
    auto r = parse({{"check", "alb,disk"}, {"check", "x"}, {"status", "fail,warn"}, {"since", "-15m"},
                    {"transitions", "true"}, {"limit", "5"}, {"cursor", encode_cursor(42)}},
                   &cfg);
    auto* q = std::get_if<HistoryQuery>(&r);
    REQUIRE(q);
    CHECK(q->checks == std::vector<std::string>{"alb", "disk", "redis", "ws", "x"});
    CHECK(q->statuses == std::vector<Status>{Status::fail, Status::warn});
    CHECK(q->since_ms == 1'000'000'000'000 - 15 * 60'000);
    CHECK(q->transitions_only);
    CHECK(q->limit == 5);
    CHECK(q->before_id == 42);
}

TEST_CASE("history query: a name that is neither a check nor a group of the config is refused", "[history]") {
    Config cfg;
    CheckConfig c;
    c.name = "redis";
    cfg.checks.push_back(c);
    GroupConfig g;
    g.name = "alb";
    g.checks = {"redis"};
    cfg.groups.push_back(g);
    auto r = parse({{"check", "redis,alb"}, {"check", "nosuch"}}, &cfg);
    auto* e = std::get_if<QueryError>(&r);
    REQUIRE(e);
    CHECK(e->parameter == "check");
    CHECK_THAT(e->message, Catch::Contains("\"nosuch\""));
    CHECK(std::holds_alternative<HistoryQuery>(parse({{"check", "redis,alb"}}, &cfg)));
    CHECK(std::holds_alternative<HistoryQuery>(parse({{"check", "nosuch"}})));  // no config: any valid name
}

TEST_CASE("history query: every bad parameter is named", "[history]") {
    CHECK(error_param({{"limit", "0"}}) == "limit");
    CHECK(error_param({{"limit", "1001"}}) == "limit");
    CHECK(error_param({{"limit", "ten"}}) == "limit");
    CHECK(error_param({{"status", "ok"}}) == "status");
    CHECK(error_param({{"since", "yesterday"}}) == "since");
    CHECK(error_param({{"until", "2026-13-01T00:00:00Z"}}) == "until");
    CHECK(error_param({{"transitions", "yes"}}) == "transitions");
    CHECK(error_param({{"cursor", "abc"}}) == "cursor");
    CHECK(error_param({{"check", "bad name!"}}) == "check");
    CHECK(error_param({{"check", ""}}) == "check");
    CHECK(error_param({{"bogus", "1"}}) == "bogus");
    CHECK(error_param({{"limit", "1"}, {"limit", "2"}}) == "limit");
    CHECK(error_param({{"since", "2000"}, {"until", "1000"}}) == "since");
}

TEST_CASE("history query: times in RFC 3339, unix seconds and relative", "[history]") {
    int64_t now = 1'764'000'000'000;
    CHECK(parse_time_param("2025-11-24T16:00:00Z", now) == int64_t(1'764'000'000) * 1000);
    CHECK(parse_time_param("2025-11-24T16:00:00.250Z", now) == int64_t(1'764'000'000) * 1000 + 250);
    CHECK(parse_time_param("2025-11-24T17:00:00+01:00", now) == int64_t(1'764'000'000) * 1000);
    CHECK(parse_time_param("1764000000", now) == int64_t(1'764'000'000) * 1000);
    CHECK(parse_time_param("-15m", now) == now - 900'000);
    CHECK_FALSE(parse_time_param("-15", now));
    CHECK_FALSE(parse_time_param("2025-11-24", now));
    CHECK_FALSE(parse_time_param("", now));
}

TEST_CASE("history JSON: items carry the fields of SPEC §6 and next is null on the last page", "[history]") {
    HistoryPage page;
    page.items.push_back(result("redis", Status::fail, 1000, "refused"));
    page.items[0].id = 7;
    page.items.push_back(transition("alb", Status::fail, std::nullopt, 1000, "quorum 1 of 2"));
    page.items[1].id = 6;
    std::string json = history_page_json(page);
    CHECK_THAT(json, Catch::Contains(R"("id":7,"time":"1970-01-01T00:00:01.000Z","check":"redis","kind":"result")"));
    CHECK_THAT(json, Catch::Contains(R"("raw_status":"fail","duration_ms":3,"output":"refused","observed_value":null)"));
    CHECK_THAT(json, Catch::Contains(R"("kind":"transition","status":"fail","previous":"pending","cause":"quorum 1 of 2")"));
    CHECK_THAT(json, Catch::EndsWith(R"("next":null})"));
}

TEST_CASE("history writer: writes batches that a reader sees", "[history]") {
    TempDir dir;
    HistoryWriterOptions o;
    o.path = dir.file("sub/h.db");  // the directory is created
    HistoryWriter w(o);
    w.start();
    int64_t t0 = now_ms();
    for (int i = 0; i < 2500; ++i) w.record(result("c", Status::pass, t0 + i));
    w.flush();
    CHECK(w.written() == 2500);
    CHECK(w.write_errors() == 0);
    HistoryReader reader(o.path);
    HistoryQuery q;
    q.limit = 1;
    auto page = reader.query(q);
    REQUIRE(page.items.size() == 1);
    CHECK(page.items[0].time_ms == t0 + 2499);
}

TEST_CASE("history writer: a full queue drops the oldest results, never transitions", "[history]") {
    TempDir dir;
    HistoryWriterOptions o;
    o.path = dir.file("h.db");
    o.queue_capacity = 10;
    HistoryWriter w(o);  // not started: everything stays queued
    int64_t t0 = now_ms();
    w.record(transition("c", Status::fail, Status::pass, t0, "first"));
    for (int i = 0; i < 20; ++i) w.record(result("c", Status::pass, t0 + 100 + i));
    w.record(transition("c", Status::pass, Status::fail, t0 + 200, "second"));
    CHECK(w.dropped_results() == 12);
    w.start();
    w.flush();
    CHECK(w.written() == 10);
    HistoryReader reader(o.path);
    HistoryQuery q;
    q.limit = 100;
    auto page = reader.query(q);
    REQUIRE(page.items.size() == 10);
    q.transitions_only = true;
    CHECK(reader.query(q).items.size() == 2);
    // The newest results survived.
    CHECK(page.items[1].time_ms == t0 + 119);
}

TEST_CASE("history writer: an unusable path is counted, never thrown, and writing resumes", "[history]") {
    TempDir dir;
    fs::create_directories(dir.path / "ro");
    HistoryWriterOptions o;
    o.path = dir.file("ro/h.db");
    o.retry_every = Millis(50);
    fs::permissions(dir.path / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    bool root = ::geteuid() == 0;  // root ignores directory permissions: use a path under a file instead
    if (root) {
        std::ofstream(dir.file("blocker")) << "not a directory";
        o.path = dir.file("blocker/h.db");
    }
    HistoryWriter w(o);
    w.start();
    w.record(result("c", Status::pass, now_ms()));
    for (int i = 0; i < 100 && w.write_errors() == 0; ++i) std::this_thread::sleep_for(Millis(20));
    CHECK(w.write_errors() > 0);
    CHECK_FALSE(w.healthy());
    // Make the path usable: the queued event is written.
    if (root)
        fs::remove(dir.file("blocker"));
    else
        fs::permissions(dir.path / "ro", fs::perms::owner_all);
    for (int i = 0; i < 200 && w.written() == 0; ++i) std::this_thread::sleep_for(Millis(20));
    CHECK(w.written() == 1);
    CHECK(w.healthy());
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Waits (bounded: a hang guard) until `done()` holds.
template <typename F>
bool eventually(F done) {
    for (int i = 0; i < 500; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(Millis(10));
    }
    return done();
}

size_t corrupt_files(const TempDir& dir, const std::string& name) {
    size_t n = 0;
    for (const auto& entry : fs::directory_iterator(dir.path))
        if (entry.path().filename().string().rfind(name + ".corrupt-", 0) == 0) ++n;
    return n;
}

TEST_CASE("history writer: a file that is not SQLite's is refused and left untouched", "[history]") {
    TempDir dir;
    std::string path = dir.file("notes.json");
    std::string content;
    for (int i = 0; i < 200; ++i) content += "{\"not\": \"an SQLite database\"}\n";
    std::ofstream(path, std::ios::binary) << content;
    HistoryWriterOptions o;
    o.path = path;
    o.retry_every = Millis(20);
    HistoryWriter w(o);
    w.start();
    w.record(result("c", Status::pass, now_ms()));
    CHECK(eventually([&] { return w.write_errors() >= 3; }));  // it keeps trying
    CHECK_FALSE(w.flush(Millis(50)));
    w.stop();
    CHECK(w.written() == 0);
    CHECK(slurp(path) == content);
    CHECK(corrupt_files(dir, "notes.json") == 0);
    CHECK_THROWS_AS(SqliteHistoryStore::open_read_only(path), NotHistoryDatabase);
    CHECK_THROWS_AS(SqliteHistoryStore::open_for_writing(path), NotHistoryDatabase);
}

TEST_CASE("history store: an SQLite database without vitals' schema is refused, unchanged", "[history]") {
    TempDir dir;
    std::string path = dir.file("other.db");
    {
        SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)");
        db.exec("INSERT INTO notes (text) VALUES ('keep me')");
    }
    std::string before = slurp(path);
    CHECK_THROWS_AS(SqliteHistoryStore::open_for_writing(path), NotHistoryDatabase);
    CHECK_THROWS_AS(SqliteHistoryStore::open_read_only(path), NotHistoryDatabase);
    CHECK(slurp(path) == before);  // not switched to WAL, not migrated
    {
        // Our version number but not our table.
        SQLite::Database db(path, SQLite::OPEN_READWRITE);
        db.exec("PRAGMA user_version = 1");
    }
    before = slurp(path);
    CHECK_THROWS_AS(SqliteHistoryStore::open_for_writing(path), NotHistoryDatabase);
    CHECK(slurp(path) == before);
    CHECK(set_aside_corrupt(dir.file("missing.db")).empty());
}

TEST_CASE("history writer: a corrupt database is set aside, not deleted, and a new one started", "[history]") {
    TempDir dir;
    std::string path = dir.file("h.db");
    {
        auto store = SqliteHistoryStore::open_for_writing(path);
        std::vector<HistoryEvent> batch;
        for (int i = 0; i < 2000; ++i) batch.push_back(result("c" + std::to_string(i % 7), Status::pass, now_ms(), "x"));
        store->insert(batch);
        store->checkpoint();
    }
    {
        // Garbage over pages 3 to 6; SQLite's header (page 1) stays intact.
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(2 * 4096);
        std::string garbage(4 * 4096, '\x5a');
        f.write(garbage.data(), std::streamsize(garbage.size()));
    }
    REQUIRE(has_sqlite_header(path));
    HistoryWriterOptions o;
    o.path = path;
    HistoryWriter w(o);
    w.start();
    w.record(result("c", Status::pass, now_ms()));
    CHECK(w.flush());
    CHECK(w.written() == 1);
    CHECK(corrupt_files(dir, "h.db") == 1);
    CHECK(SqliteHistoryStore::open_read_only(path)->integrity_check() == "ok");
}

TEST_CASE("history check output: many rows of many lines become one line", "[history]") {
    CHECK(one_line({"*** in database main ***\nPage 5: never used", "Page 6: never used"}) ==
          "*** in database main ***; Page 5: never used; Page 6: never used");
    CHECK(one_line({"a\r\nb"}) == "a; b");
    CHECK(one_line({"ok"}) == "ok");
}

TEST_CASE("history writer: a database removed while open is noticed, counted and recreated", "[history]") {
    TempDir dir;
    HistoryWriterOptions o;
    o.path = dir.file("h.db");
    HistoryWriter w(o);
    w.start();
    w.record(result("c", Status::pass, now_ms(), "before"));
    REQUIRE(w.flush());
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(o.path + suffix);
    w.record(result("c", Status::pass, now_ms(), "after"));
    REQUIRE(w.flush());
    CHECK(w.write_errors() == 1);
    CHECK(w.written() == 2);
    HistoryReader reader(o.path);
    HistoryQuery q;
    auto page = reader.query(q);
    REQUIRE(page.items.size() == 1);
    CHECK(page.items[0].run->output == "after");
}

TEST_CASE("history reader: no database at the path is an error saying so, not an empty page", "[history]") {
    TempDir dir;
    HistoryReader reader(dir.file("none.db"));
    try {
        reader.query(HistoryQuery{});
        FAIL("no exception");
    } catch (const std::exception& e) {
        CHECK_THAT(e.what(), Catch::Contains("no history database at " + dir.file("none.db")));
        CHECK_THAT(e.what(), Catch::Contains("No such file or directory"));
    }
}

TEST_CASE("history writer: the file exists from the start", "[history]") {
    TempDir dir;
    HistoryWriterOptions o;
    o.path = dir.file("h.db");
    HistoryWriter w(o);
    w.start();
    CHECK(eventually([&] { return w.healthy(); }));
    CHECK(HistoryReader(o.path).query(HistoryQuery{}).items.empty());
}

TEST_CASE("history writer: the table never holds more than max_rows plus one batch", "[history]") {
    TempDir dir;
    HistoryWriterOptions o;
    o.path = dir.file("h.db");
    o.max_rows = 1000;
    o.batch_size = 200;
    HistoryWriter w(o);
    w.start();
    auto count = [&] {
        SQLite::Database db(o.path, SQLite::OPEN_READONLY);
        return db.execAndGet("SELECT count(*) FROM events").getInt64();
    };
    int64_t t0 = now_ms();
    int64_t most = 0;
    for (int round = 0; round < 40; ++round) {  // 20 times max_rows, far faster than any slow prune
        for (int i = 0; i < 500; ++i) w.record(result("c", Status::pass, t0 + round * 500 + i));
        REQUIRE(w.flush());
        most = std::max(most, count());
    }
    CHECK(w.written() == 20'000);
    CHECK(most <= o.max_rows + int64_t(o.batch_size));
    CHECK(count() == o.max_rows);
}

TEST_CASE("history writer: the WAL is truncated after pruning", "[history]") {
    TempDir dir;
    HistoryWriterOptions o;
    o.path = dir.file("h.db");
    o.prune_every = Millis(1);  // after every batch
    HistoryWriter w(o);
    w.start();
    for (int i = 0; i < 3000; ++i) w.record(result("c", Status::pass, now_ms()));
    REQUIRE(w.flush());
    CHECK(eventually([&] { return fs::exists(o.path + "-wal") && fs::file_size(o.path + "-wal") == 0; }));
}

TEST_CASE("history reader: a database the writer is still creating holds no history yet, not an error", "[history]") {
    TempDir dir;
    std::string empty = dir.file("empty.db");
    std::ofstream(empty).close();  // created, nothing written yet
    CHECK(SqliteHistoryStore::open_read_only(empty) == nullptr);
    CHECK(HistoryReader(empty).query(HistoryQuery{}).items.empty());
    std::string bare = dir.file("bare.db");
    { SQLite::Database db(bare, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE); db.exec("PRAGMA journal_mode=WAL"); }
    CHECK(SqliteHistoryStore::open_read_only(bare) == nullptr);
    CHECK(HistoryReader(bare).query(HistoryQuery{}).items.empty());
}
