// Request-head parsing benchmark (issue 13): the health port's parser (RequestParser, Boost.Beast
// with RFC 9112's rules on top) against Poco::Net::HTTPRequest::read, which framed requests before,
// on the same requests in one run. Prints ns per request and the ratio; asserts nothing.
//
//   http_parse_bench [ROUNDS]    (default 1,000,000 parses of each request by each parser)
#include "http/request_head.h"

#include <Poco/Net/HTTPRequest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <istream>
#include <streambuf>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

struct ViewBuf : std::streambuf {
    ViewBuf(const char* data, size_t size) {
        char* p = const_cast<char*>(data);
        setg(p, p, p + size);
    }
};

double ns_per(Clock::duration d, long n) { return double(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) / double(n); }

}  // namespace

int main(int argc, char** argv) {
    long rounds = argc > 1 ? std::atol(argv[1]) : 1'000'000;
    struct Case {
        const char* name;
        std::string bytes;
    } cases[] = {
        {"ALB probe", "GET /health/alb HTTP/1.1\r\nHost: target.example:8081\r\nConnection: close\r\n"
                      "User-Agent: ELB-HealthChecker/2.0\r\nAccept-Encoding: gzip, compressed\r\n\r\n"},
        {"wrk keep-alive", "GET /health HTTP/1.1\r\nHost: 127.0.0.1:8081\r\n\r\n"},
        {"curl admin POST", "POST /admin/reload HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUser-Agent: curl/7.88.1\r\n"
                            "Accept: */*\r\nAuthorization: Bearer 0123456789abcdef0123456789abcdef\r\n"
                            "Content-Length: 0\r\n\r\n"},
    };
    std::printf("%-16s %12s %12s %8s\n", "request", "vitals ns", "Poco ns", "ratio");
    for (const Case& c : cases) {
        size_t sink = 0;
        vitals::RequestParser parser;
        auto t0 = Clock::now();
        for (long i = 0; i < rounds; ++i) {
            if (parser.parse(c.bytes) != vitals::ParseStatus::complete) return 1;
            sink += parser.request().path.size();
            parser.reset();
        }
        auto ours = Clock::now() - t0;
        t0 = Clock::now();
        for (long i = 0; i < rounds; ++i) {
            ViewBuf buf(c.bytes.data(), c.bytes.size());
            std::istream in(&buf);
            Poco::Net::HTTPRequest req;
            req.read(in);
            sink += req.getURI().size();
        }
        auto poco = Clock::now() - t0;
        std::printf("%-16s %12.0f %12.0f %7.2fx%s\n", c.name, ns_per(ours, rounds), ns_per(poco, rounds),
                    double(poco.count()) / double(ours.count()), sink == 0 ? " (?)" : "");
    }
    return 0;
}
