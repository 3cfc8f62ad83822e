#include "http/request_head.h"

#include <catch2/catch.hpp>

#include <vector>

using namespace vitals;

namespace {

// Feeds `in` the way the event loop does (consumed bytes dropped; `step` bytes at a time, 0: all at
// once) and collects what happened, request after request.
struct Outcome {
    std::vector<HttpRequest> requests;
    ParseStatus last = ParseStatus::incomplete;
    int code = 0;
    std::string error;
    bool continued = false;  // a 100 Continue was asked for
    std::string left;        // bytes not consumed at the end
};

Outcome feed(const std::string& in, RequestLimits limits = {}, size_t step = 0) {
    Outcome o;
    RequestParser parser(limits);
    std::string buf;
    size_t given = 0;
    while (true) {
        size_t take = step == 0 ? in.size() - given : std::min(step, in.size() - given);
        buf.append(in, given, take);
        given += take;
        for (;;) {
            o.last = parser.parse(buf);
            buf.erase(0, parser.consumed());
            if (o.last == ParseStatus::continue_expected) {
                o.continued = true;
                parser.continue_sent();
                continue;
            }
            if (o.last == ParseStatus::complete) {
                o.requests.push_back(parser.request());
                parser.reset();
                if (buf.empty()) break;
                continue;
            }
            break;
        }
        if (o.last == ParseStatus::error) {
            o.code = parser.error_code();
            o.error = parser.error();
            break;
        }
        if (given == in.size()) break;
    }
    o.left = buf;
    return o;
}

}  // namespace

TEST_CASE("a complete request is framed with its body, pipelined requests after it", "[http]") {
    std::string one = "POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    for (size_t step : {size_t(0), size_t(1), size_t(7)}) {
        INFO("step " << step);
        Outcome o = feed(one + "GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n", {}, step);
        REQUIRE(o.requests.size() == 2);
        CHECK(o.last == ParseStatus::complete);
        CHECK(o.requests[0].method == "POST");
        CHECK(o.requests[0].path == "/admin/drain");
        CHECK(o.requests[1].path == "/health");
        CHECK(o.requests[1].user_agent == "ELB-HealthChecker/2.0");
        CHECK(o.left.empty());
    }
}

TEST_CASE("a head or body still coming is incomplete", "[http]") {
    CHECK(feed("GET /health HTTP/1.1\r\nHost: x\r\n").last == ParseStatus::incomplete);
    CHECK(feed("").last == ParseStatus::incomplete);
    CHECK(feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc").last == ParseStatus::incomplete);
}

TEST_CASE("empty lines before a request line are ignored (RFC 9112 section 2.2)", "[http]") {
    Outcome o = feed("\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(o.requests.size() == 2);
    CHECK(o.requests[1].path == "/metrics");
}

TEST_CASE("keep-alive follows the version and the Connection field", "[http]") {
    CHECK(feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").requests.at(0).keep_alive);
    CHECK_FALSE(feed("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").requests.at(0).keep_alive);
    CHECK_FALSE(feed("GET / HTTP/1.0\r\n\r\n").requests.at(0).keep_alive);
    CHECK_FALSE(feed("GET / HTTP/1.0\r\nConnection: foo\r\n\r\n").requests.at(0).keep_alive);
    CHECK(feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").requests.at(0).keep_alive);
}

TEST_CASE("a chunked body is framed and dropped; the request after it is its own", "[http]") {
    Outcome o = feed("POST /admin/drain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                     {}, 3);
    REQUIRE(o.requests.size() == 2);
    CHECK(o.requests[1].path == "/health");
}

TEST_CASE("Expect: 100-continue is reported once the head is in, before the body", "[http]") {
    Outcome o = feed("POST /admin/drain HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    CHECK(o.continued);
    CHECK(o.last == ParseStatus::incomplete);
    Outcome done = feed("POST /admin/drain HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
    CHECK(done.requests.size() == 1);
    // No body to wait for: nothing to continue.
    CHECK_FALSE(feed("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n").continued);
}

TEST_CASE("the routing path is decoded, resolved and the same for every spelling", "[http]") {
    for (const char* target : {"/admin/reload", "/%61dmin/reload", "http://x/admin/reload", "HTTP://x:80/admin/reload/",
                               "/health/../admin/reload", "/./admin/./reload"}) {
        INFO(target);
        Outcome o = feed(std::string("POST ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
        REQUIRE(o.requests.size() == 1);
        CHECK(o.requests[0].path == "/admin/reload");
    }
    Outcome q = feed("GET /health/%68istory?check=a%2Cb&limit=5 HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(q.requests.size() == 1);
    CHECK(q.requests[0].path == "/health/history");
    CHECK(q.requests[0].query == "check=a%2Cb&limit=5");
    std::string path, query, why;
    CHECK(normalize_target("http://x", path, query, why));
    CHECK(path == "/");
    CHECK(normalize_target("/../../health", path, query, why));
    CHECK(path == "/health");
}

TEST_CASE("every malformed request is an HTTP error with a reason, never an exception", "[http]") {
    struct Case {
        const char* name;
        std::string in;
        int code;
    };
    RequestLimits small{96, 8};
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (const Case& c : std::initializer_list<Case>{
             {"header without colon", get + "Hostx\r\n\r\n", 400},
             {"folded header", get + "X-A: 1\r\n folded\r\n\r\n", 400},
             {"folded empty header", get + "X-A:\r\n\tfolded\r\n\r\n", 400},
             {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
             {"bad field name", get + "X A: 1\r\n\r\n", 400},
             {"NUL in a value", get + std::string("X-A: a\0b\r\n\r\n", 12), 400},
             {"no version", "GET /health\r\n\r\n", 400},
             {"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
             {"HTTP/2", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
             {"HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505},
             {"HTTP/1.01", "GET / HTTP/1.01\r\nHost: x\r\n\r\n", 400},
             {"lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
             {"garbage version", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400},
             {"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400},
             {"bare LF in fields", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400},
             {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400},
             {"two Hosts", get + "Host: y\r\n\r\n", 400},
             {"two Authorizations", get + "Authorization: a\r\nAuthorization: b\r\n\r\n", 400},
             {"conflicting lengths", get + "Content-Length: 0\r\nContent-Length: 4\r\n\r\n", 400},
             {"signed length", get + "Content-Length: +5\r\n\r\n", 400},
             {"negative length", get + "Content-Length: -5\r\n\r\n", 400},
             {"length not a number", get + "Content-Length: abc\r\n\r\n", 400},
             {"length overflowing", get + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
             {"body over the limit", get + "Content-Length: 9\r\n\r\n", 413},
             {"chunked body over the limit", get + "Transfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n0\r\n\r\n", 413},
             {"chunked not last", get + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
             {"only gzip", get + "Transfer-Encoding: gzip\r\n\r\n", 400},
             {"gzip then chunked", get + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
             {"chunked and length", get + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
             {"length and chunked", get + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
             {"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
             {"bad chunk size", get + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
             {"unknown expectation", get + "Expect: something\r\n\r\n", 417},
             {"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
             {"Host with a slash", "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", 400},
             {"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@x\r\n\r\n", 400},
             {"Host with a bad port", "GET / HTTP/1.1\r\nHost: x:8o\r\n\r\n", 400},
             {"asterisk-form GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
             {"two spaces before the version", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400},
             {"target not a path", "GET health HTTP/1.1\r\nHost: x\r\n\r\n", 400},
             {"target with a fragment", "GET /health#x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
             {"bad percent-encoding", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
             {"encoded NUL", "GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
             {"head over the limit, complete", "GET /" + std::string(120, 'a') + " HTTP/1.1\r\n\r\n", 431},
             {"head over the limit, unfinished", "GET /" + std::string(120, 'a'), 431},
             {"one field over the limit", "GET / HTTP/1.1\r\nX: " + std::string(120, 'a') + "\r\n\r\n", 431},
         }) {
        for (size_t step : {size_t(0), size_t(1)}) {
            INFO(c.name << ", step " << step);
            Outcome o = feed(c.in, small, step);
            REQUIRE(o.last == ParseStatus::error);
            CHECK(o.code == c.code);
            CHECK_FALSE(o.error.empty());
            CHECK(o.requests.empty());
        }
    }
}

TEST_CASE("the same Content-Length twice is one length", "[http]") {
    Outcome o = feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(o.requests.size() == 2);
}

TEST_CASE("a higher HTTP/1.x minor version is read as HTTP/1.1 (RFC 9110 section 2.5)", "[http]") {
    for (size_t step : {size_t(0), size_t(1)}) {
        Outcome o = feed("\r\nGET /HTTP/1.5 HTTP/1.9\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", {}, step);
        REQUIRE(o.requests.size() == 2);
        CHECK(o.requests[0].version == 11);
        CHECK(o.requests[0].path == "/HTTP/1.5");  // the target is left alone
        CHECK(o.requests[1].path == "/b");
        // ... and holds the rules of HTTP/1.1: a Host is needed.
        CHECK(feed("GET / HTTP/1.9\r\n\r\n", {}, step).code == 400);
    }
}

TEST_CASE("HTTP/1.0 needs no Host", "[http]") {
    Outcome o = feed("GET /health HTTP/1.0\r\n\r\n");
    REQUIRE(o.requests.size() == 1);
    CHECK(o.requests[0].version == 10);
}

TEST_CASE("valid Host values, an empty Expect and OPTIONS * are accepted", "[http]") {
    for (const char* host : {"", "x", "x:8081", "127.0.0.2:8081", "[::1]:8081", "[2001:db8::1]", "a-b.example"}) {
        INFO(host);
        CHECK(feed(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n").requests.size() == 1);
    }
    CHECK(feed("GET / HTTP/1.1\r\nHost: x\r\nExpect:\r\n\r\n").requests.size() == 1);
    Outcome o = feed("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(o.requests.size() == 1);
    CHECK(o.requests[0].path == "*");
}

TEST_CASE("Accept-Encoding takes gzip by name or by *, unless its q is 0 (RFC 9110 section 12.5.3)", "[http]") {
    for (const char* yes : {"gzip", "GZIP", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "x-gzip", "*",
                            "deflate, *;q=0.1", " gzip ; q=0.001", "gzip;q=1", "gzip;q=0, gzip"}) {
        INFO(yes);
        CHECK(accepts_gzip(yes));
    }
    for (const char* no : {"", "identity", "deflate, br", "gzip;q=0", "gzip; q=0.000", "gzip;Q=0.0",
                           "*;q=0", "gzip;q=0, *", "gzipx", "x", ",,,"}) {
        INFO(no);
        CHECK_FALSE(accepts_gzip(no));
    }
    // Every field counts, joined as one list.
    Outcome o = feed("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\nAccept-Encoding: gzip\r\n\r\n"
                     "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n\r\n"
                     "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(o.requests.size() == 3);
    CHECK(o.requests[0].accepts_gzip);
    CHECK_FALSE(o.requests[1].accepts_gzip);
    CHECK_FALSE(o.requests[2].accepts_gzip);
}
