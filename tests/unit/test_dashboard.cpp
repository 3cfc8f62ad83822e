// The dashboard's data endpoint and the health port's gzip (issue 16: the first view's bytes).
#include "http/compress.h"
#include "http/dashboard.h"
#include "published.h"

#include <Poco/InflatingStream.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <sstream>

using namespace vitals;

namespace {

std::string gunzip(const std::string& z) {
    std::istringstream in(z);
    Poco::InflatingInputStream inflate(in, Poco::InflatingStreamBuf::STREAM_GZIP);
    std::ostringstream out;
    out << inflate.rdbuf();
    return out.str();
}

Config two_checks_and_a_group() {
    Config cfg;
    CheckConfig a, b;
    a.name = "a";
    b.name = "b";
    cfg.checks = {a, b};
    GroupConfig g;
    g.name = "alb";
    g.checks = {"a", "b"};
    cfg.groups = {g};
    return cfg;
}

HistoryEvent result(int64_t id, const std::string& check, Status s, const std::string& output, std::optional<int64_t> ms) {
    HistoryEvent e;
    e.id = id;
    e.time_ms = 1'764'000'000'000 + id;
    e.check = check;
    e.status = s;
    e.run.emplace().output = output;
    e.duration_ms = ms;
    return e;
}

}  // namespace

TEST_CASE("gzip output inflates back to its input; small bodies and unasked clients are left alone", "[dashboard]") {
    std::string body;
    for (int i = 0; i < 500; ++i) body += "{\"check\":\"redis\",\"status\":\"pass\",\"n\":" + std::to_string(i) + "}";
    std::string z = gzip(body, 1);
    CHECK(z.size() < body.size() / 4);
    CHECK(z.substr(0, 2) == "\x1f\x8b");  // a gzip member
    CHECK(gunzip(z) == body);

    HttpRequest asks;
    asks.accepts_gzip = true;
    HttpResponse r;
    r.body = body;
    compress_response(asks, r);
    CHECK(gunzip(r.body) == body);
    using H = std::pair<std::string, std::string>;
    CHECK(r.headers == std::vector<H>{{"Vary", "Accept-Encoding"}, {"Content-Encoding", "gzip"}});

    HttpRequest plain;  // no Accept-Encoding: the body as it is, Vary still said
    HttpResponse p;
    p.body = body;
    compress_response(plain, p);
    CHECK(p.body == body);
    CHECK(p.headers == std::vector<H>{{"Vary", "Accept-Encoding"}});

    HttpResponse small;
    small.body = std::string(kCompressMinBytes - 1, 'x');
    compress_response(asks, small);
    CHECK(small.body == std::string(kCompressMinBytes - 1, 'x'));
    CHECK(small.headers.empty());

    HttpResponse encoded;  // already gzipped (a dashboard asset): not again
    encoded.body = z;
    encoded.headers = {{"Content-Encoding", "gzip"}};
    compress_response(asks, encoded);
    CHECK(encoded.body == z);
}

TEST_CASE("every dashboard asset is served gzipped as its own bytes", "[dashboard]") {
    for (const char* name : {"app.js", "app.css", "favicon.svg"}) {
        INFO(name);
        const EmbeddedAsset* a = find_dashboard_asset(name);
        REQUIRE(a);
        const std::string& z = dashboard_asset_gzip(*a);
        CHECK(gunzip(z) == std::string(reinterpret_cast<const char*>(a->data), a->size));
        CHECK(&dashboard_asset_gzip(*a) == &z);  // made once
    }
}

TEST_CASE("/dashboard/recent parameters: checks of the configuration, a limit up to 60", "[dashboard]") {
    Config cfg = two_checks_and_a_group();
    auto ok = parse_recent_query({{"check", "b,a"}, {"check", "a"}}, cfg);
    REQUIRE(std::holds_alternative<RecentQuery>(ok));
    CHECK(std::get<RecentQuery>(ok).checks == std::vector<std::string>{"b", "a"});
    CHECK(std::get<RecentQuery>(ok).limit == 60);
    auto twenty = parse_recent_query({{"check", "a"}, {"limit", "20"}}, cfg);
    REQUIRE(std::holds_alternative<RecentQuery>(twenty));
    CHECK(std::get<RecentQuery>(twenty).limit == 20);

    struct Bad {
        QueryParams params;
        std::string parameter, says;
    };
    for (const Bad& bad : std::vector<Bad>{
             {{}, "check", "missing"},
             {{{"check", ""}}, "check", "missing"},
             {{{"check", "nope"}}, "check", "no check named \"nope\""},
             {{{"check", "alb"}}, "check", "groups have no results"},
             {{{"check", "a"}, {"limit", "61"}}, "limit", "from 1 to 60"},
             {{{"check", "a"}, {"limit", "0"}}, "limit", "from 1 to 60"},
             {{{"check", "a"}, {"limit", "x"}}, "limit", "from 1 to 60"},
             {{{"check", "a"}, {"limit", "5"}, {"limit", "6"}}, "limit", "more than once"},
             {{{"check", "a"}, {"since", "-1h"}}, "since", "unknown parameter"},
         }) {
        auto r = parse_recent_query(bad.params, cfg);
        REQUIRE(std::holds_alternative<QueryError>(r));
        CHECK(std::get<QueryError>(r).parameter == bad.parameter);
        CHECK_THAT(std::get<QueryError>(r).message, Catch::Contains(bad.says));
    }
}

TEST_CASE("/dashboard/recent lists each check's results oldest first, outputs escaped", "[dashboard]") {
    HistoryPage a, b;
    a.items = {result(9, "a", Status::fail, "refused <script>\"x\"</script>", 12), result(4, "a", Status::pass, "ok", std::nullopt)};
    std::string json = recent_json({{"a", a}, {"b", b}});
    Poco::JSON::Parser parser;
    auto root = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    auto items = root->getArray("items");
    REQUIRE(items->size() == 2);
    auto first = items->getObject(0);
    CHECK(first->getValue<std::string>("check") == "a");
    auto results = first->getArray("results");
    REQUIRE(results->size() == 2);
    CHECK(results->getObject(0)->getValue<int64_t>("id") == 4);
    CHECK(results->getObject(0)->isNull("duration_ms"));
    CHECK(results->getObject(1)->getValue<int64_t>("id") == 9);
    CHECK(results->getObject(1)->getValue<int64_t>("time_ms") == 1'764'000'000'009);
    CHECK(results->getObject(1)->getValue<std::string>("status") == "fail");
    CHECK(results->getObject(1)->getValue<int64_t>("duration_ms") == 12);
    CHECK(results->getObject(1)->getValue<std::string>("output") == "refused <script>\"x\"</script>");
    CHECK(items->getObject(1)->getArray("results")->size() == 0);
}

TEST_CASE("the server-rendered page escapes every name, cause and output it shows", "[dashboard]") {
    // Names from a configuration cannot hold markup (config validation), but the page does not
    // count on it: a view and a group named with markup, and an output with some.
    const std::string evil_name = "<img src=x onerror=alert(1)>", evil_group = "\"><script>alert(2)</script>";
    CheckView v;
    v.name = evil_name;
    v.type = "test";
    v.interval = Millis(1000);
    v.timeout = Millis(500);
    v.stale_after = Millis(3500);
    v.established = true;
    v.effective = Status::fail;
    CheckResult r;
    r.status = Status::fail;
    r.output = "</td><script>alert(3)</script> & 'quotes'";
    r.time = std::chrono::system_clock::now();
    r.mono_time = std::chrono::steady_clock::now();
    v.last = r;
    GroupConfig g;
    g.name = evil_group;
    g.checks = {evil_name};
    auto snap = publish_views({std::make_shared<const CheckView>(std::move(v))}, {g});
    std::string page = dashboard_page(*snap, true);
    CHECK(page.find("<script>alert") == std::string::npos);
    CHECK(page.find("<img") == std::string::npos);
    CHECK(page.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);  // the name, as text
    CHECK(page.find("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;") != std::string::npos);
    CHECK(page.find("&lt;/td&gt;&lt;script&gt;alert(3)&lt;/script&gt; &amp; &#39;quotes&#39;") != std::string::npos);
    // The one script element is the page's own.
    size_t scripts = 0;
    for (size_t at = page.find("<script"); at != std::string::npos; at = page.find("<script", at + 1)) ++scripts;
    CHECK(scripts == 1);
    CHECK(page.find("<script src=\"/dashboard/app.js\"></script>") != std::string::npos);
}
