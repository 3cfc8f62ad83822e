// The request head of the health port: framing and validation of the bytes a client sent, before
// any routing. Kept apart from the event loop so that it is unit-tested and fuzzed on its own
// (tests/fuzz/fuzz_http_head.cpp): every byte sequence gets a complete request, "need more", or an
// HTTP error with a reason, never an exception.
#pragma once

#include <Poco/Net/HTTPRequest.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace vitals {

struct RequestLimits {
    size_t max_header_bytes = 16384;  // request line and headers, with the blank line
    size_t max_body_bytes = 65536;    // Content-Length bodies (admin POSTs); chunked is refused
};

enum class HeadResult {
    incomplete,  // no blank line yet (within the limit), or the body is still coming
    complete,    // `request` is parsed; `size` bytes (head and body) belong to it
    error,       // `error_code` (4xx/5xx) and `error`; the connection is answered and closed
};

struct RequestHead {
    Poco::Net::HTTPRequest request;
    size_t size = 0;
    int error_code = 0;
    std::string error;
};

// Parses the first request in `in` (which may hold more, pipelined, after it). `out.request` must be
// fresh (default-constructed) on each call.
HeadResult parse_request_head(std::string_view in, const RequestLimits& limits, RequestHead& out);

}  // namespace vitals
