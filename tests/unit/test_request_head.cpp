#include "http/request_head.h"

#include <catch2/catch.hpp>

using namespace vitals;

namespace {

struct Parse {
    RequestHead head;
    HeadResult result;
    Parse(std::string_view in, RequestLimits limits = {}) : result(parse_request_head(in, limits, head)) {}
};

}  // namespace

TEST_CASE("a complete request is framed with its body, pipelined bytes left over", "[http]") {
    std::string one = "POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    Parse p(one + "GET /health HTTP/1.1\r\n\r\n");
    REQUIRE(p.result == HeadResult::complete);
    CHECK(p.head.size == one.size());
    CHECK(p.head.request.getMethod() == "POST");
    CHECK(p.head.request.getURI() == "/admin/drain");
}

TEST_CASE("a head or body still coming is incomplete", "[http]") {
    CHECK(Parse("GET /health HTTP/1.1\r\nHost: x\r\n").result == HeadResult::incomplete);
    CHECK(Parse("").result == HeadResult::incomplete);
    CHECK(Parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").result == HeadResult::incomplete);
}

TEST_CASE("every malformed head is an HTTP error with a reason, never an exception", "[http]") {
    struct Case {
        const char* name;
        std::string in;
        int code;
    };
    RequestLimits small{64, 8};
    for (const Case& c : std::initializer_list<Case>{
             {"header without colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400},
             {"folded header", "GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400},
             {"bad field name", "GET / HTTP/1.1\r\nX A: 1\r\n\r\n", 400},
             {"no version", "GET /health\r\n\r\n", 400},
             {"HTTP/2", "GET / HTTP/2.0\r\n\r\n", 505},
             {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
             {"negative length", "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400},
             {"length not a number", "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
             {"length overflowing", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
             {"body over the limit", "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n", 413},
             {"head over the limit, complete", "GET /" + std::string(80, 'a') + " HTTP/1.1\r\n\r\n", 431},
             {"head over the limit, unfinished", "GET /" + std::string(80, 'a'), 431},
         }) {
        INFO(c.name);
        Parse p(c.in, small);
        REQUIRE(p.result == HeadResult::error);
        CHECK(p.head.error_code == c.code);
        CHECK_FALSE(p.head.error.empty());
    }
}
