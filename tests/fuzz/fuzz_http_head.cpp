// libFuzzer target: the health port's request framing (core/src/http/request_head.h).
//
// Each input is the bytes a client sent on one connection; its first byte chooses how they arrive
// (all at once, or in pieces of 1 to 255 bytes), the rest is the stream. They are fed the way the
// event loop does: consumed bytes dropped, request after request (pipelining), until the bytes run
// out or one is an error. Besides sanitizer reports, these are findings: an exception (the loop
// catches none from the parser), consuming more than was given, an error without a 4xx/5xx code
// or a reason, a complete request with another HTTP version or a routing path that is not
// absolute, a head that stays incomplete beyond its limit, and the same stream framed differently
// when it arrives in pieces than when it arrives whole.
#include "http/request_head.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

// Boost's assertions (BOOST_ENABLE_ASSERT_HANDLER, set for this target): a failed one is a finding,
// but for one. Boost 1.74's Beast asserts n >= 5 in parse_chunk_header once the last chunk's line
// ("0\r\n") has been read and its end is still to come; n == 4 is reached by a client sending
// "0\r\n" and then one byte, and the code after the assert handles it (it asks for more). Beast
// fixed the assert upstream (boostorg/beast#2861, 2024); the daemon's builds define NDEBUG, where
// it is not checked. The fuzzer found it (1 byte at a time: POST with a chunked body).
namespace boost {
void assertion_failed(char const* expr, char const* function, char const* file, long line) {
    if (std::strstr(file, "beast/http/impl/basic_parser.ipp") && std::strcmp(expr, "n >= 5") == 0 &&
        std::strstr(function, "parse_chunk_header"))
        return;
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
    std::abort();
}
void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
    std::abort();
}
}  // namespace boost

namespace {

void fail(const char* what) {
    std::fprintf(stderr, "fuzz_http_head: %s\n", what);
    std::abort();
}

// What became of a stream: the requests' paths, and the error code (0: none) at the end.
struct Framing {
    std::vector<std::string> paths;
    int error = 0;
    bool operator==(const Framing& o) const { return paths == o.paths && error == o.error; }
};

Framing run(std::string_view stream, size_t step, const vitals::RequestLimits& limits) {
    Framing f;
    vitals::RequestParser parser(limits);
    std::string buf;
    size_t given = 0;
    for (int rounds = 0; rounds < 100000; ++rounds) {
        size_t take = step == 0 ? stream.size() - given : std::min(step, stream.size() - given);
        buf.append(stream.data() + given, take);
        given += take;
        for (int requests = 0; requests < 64; ++requests) {
            size_t before = buf.size();
            vitals::ParseStatus st = parser.parse(buf);
            if (parser.consumed() > before) fail("consumed more bytes than were given");
            buf.erase(0, parser.consumed());
            if (st == vitals::ParseStatus::continue_expected) {
                parser.continue_sent();
                continue;
            }
            if (st == vitals::ParseStatus::error) {
                if (parser.error_code() < 400 || parser.error_code() > 599) fail("error code outside 4xx/5xx");
                if (parser.error().empty()) fail("error without a reason");
                f.error = parser.error_code();
                return f;
            }
            if (st == vitals::ParseStatus::incomplete) {
                if (!parser.started() && !buf.empty() && buf != "\r") fail("bytes left but nothing started");
                if (buf.size() > limits.max_header_bytes + 1 && !parser.started()) fail("incomplete beyond the limit");
                break;
            }
            const vitals::HttpRequest& r = parser.request();
            if (r.version != 10 && r.version != 11) fail("complete request with another HTTP version");
            if (r.path.empty() || (r.path[0] != '/' && r.path != "*")) fail("routing path is not absolute");
            f.paths.push_back(r.path);
            parser.reset();
        }
        if (given == stream.size()) break;
    }
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
    size_t step = data[0];
    // Small limits so that the fuzzer reaches them.
    const vitals::RequestLimits limits{512, 64};
    Framing whole = run(stream, 0, limits);
    if (step != 0) {
        Framing pieces = run(stream, step, limits);
        // The same bytes frame the same requests however they arrive. (An error may come earlier
        // in pieces, never a different set of requests before it.)
        if (pieces.error == 0 && whole.error == 0 && !(pieces == whole)) fail("framing depends on how bytes arrive");
        if (pieces.paths.size() > whole.paths.size() && whole.error == 0) fail("pieces framed more requests");
    }
    return 0;
}
