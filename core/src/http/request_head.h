// The request framing of the health port (RFC 9112): where a request ends, and what of it the
// router reads. Built on Boost.Beast's incremental, strict HTTP/1.1 parser (http::basic_parser),
// with the rules Beast leaves to its user on top: exactly one Host in HTTP/1.1, no obs-fold,
// Transfer-Encoding only as a final "chunked" (and never in HTTP/1.0), Expect: 100-continue
// answered, anything else expected refused, versions other than 1.0 and 1.1 refused with 505.
//
// Kept apart from the event loop so that it is unit-tested and fuzzed on its own
// (tests/unit/test_request_head.cpp, tests/fuzz/fuzz_http_head.cpp): every byte sequence gets a
// complete request, "need more", or an HTTP error with a reason, never an exception.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace vitals {

struct RequestLimits {
    size_t max_header_bytes = 16384;  // request line and fields, with the blank line (beyond: 431)
    size_t max_body_bytes = 65536;    // a body, by Content-Length or chunked (beyond: 413); discarded
};

// What the router reads of a request.
struct HttpRequest {
    std::string method;  // as sent (a token; case matters: "get" is not GET)
    std::string target;  // the request-target as sent
    // The path routing keys on: from origin-form or absolute-form, percent-decoded, dot segments
    // resolved, a trailing '/' dropped ("/health/%68istory/" and "http://x/health/history" are both
    // "/health/history"). Every decision about a request (which route, whether it runs off the
    // event loop) is made on this one value.
    std::string path;
    std::string query;  // raw, after '?'
    int version = 11;   // 10 or 11
    bool keep_alive = true;
    std::string authorization;  // the one Authorization field, if any
    std::string user_agent;
    bool accepts_gzip = false;  // Accept-Encoding lists gzip (or *) with a q above 0

    bool is(const char* m) const { return method == m; }
};

enum class ParseStatus {
    incomplete,         // more bytes are needed
    continue_expected,  // the head is complete, the client waits for "100 Continue" before the body
    complete,           // request() holds the request; its bytes are consumed
    error,              // error_code() (4xx/5xx) and error(): answer and close the connection
};

// One request at a time, fed incrementally. Usage: parse(bytes) returns how far it got and
// consumes bytes as it goes (consumed() of the bytes given are no longer needed and must not be
// given again); after complete or error, reset() for the next request.
class RequestParser {
public:
    explicit RequestParser(RequestLimits limits = {});
    ~RequestParser();
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    // `in` starts where the previous call's consumed bytes ended.
    ParseStatus parse(std::string_view in);
    size_t consumed() const { return consumed_; }  // by the last parse() call

    // After continue_expected: the interim answer was sent; later calls parse the body.
    void continue_sent();

    const HttpRequest& request() const;
    int error_code() const { return error_code_; }
    const std::string& error() const { return error_; }
    bool started() const;  // some byte of this request was seen (for the header timeout)

    void reset();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    RequestLimits limits_;
    size_t consumed_ = 0;
    int error_code_ = 0;
    std::string error_;
};

// Whether an Accept-Encoding value (every field of it, joined with ",") accepts gzip (RFC 9110
// §12.5.3): "gzip" or "x-gzip" with a q above 0, or "*" with a q above 0 when gzip is not named.
bool accepts_gzip(std::string_view accept_encoding);

// The routing path of a request-target, or nullopt-like "" with `why` set when the target is not
// one a server may act on (see HttpRequest::path). Exposed for tests.
bool normalize_target(std::string_view target, std::string& path, std::string& query, std::string& why);

}  // namespace vitals
