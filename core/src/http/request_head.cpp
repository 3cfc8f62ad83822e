#include "http/request_head.h"

#include <cctype>
#include <cstring>
#include <istream>
#include <streambuf>

namespace vitals {

namespace {

using Poco::Net::HTTPRequest;

// RFC 9110 token: the characters a field name may hold.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char ch : s) {
        if (std::isalnum(ch)) continue;
        if (ch == 0 || !std::strchr("!#$%&'*+-.^_`|~", ch)) return false;
    }
    return true;
}

// Every line after the request line, up to `end` (the blank line), is "token:value".
bool fields_well_formed(std::string_view in, size_t end) {
    size_t pos = in.find("\r\n");
    while (pos != std::string_view::npos && pos < end) {
        size_t start = pos + 2;
        size_t next = in.find("\r\n", start);
        if (next == std::string_view::npos || next > end) next = end;
        size_t colon = in.find(':', start);
        if (colon == std::string_view::npos || colon >= next || !is_token(in.substr(start, colon - start)))
            return false;
        pos = next == end ? std::string_view::npos : next;
    }
    return true;
}

// An istream over bytes already in memory, for Poco's parser (no copy of the request head).
struct ViewBuf : std::streambuf {
    ViewBuf(const char* data, size_t size) {
        char* p = const_cast<char*>(data);  // read-only: the get area is never written
        setg(p, p, p + size);
    }
};

HeadResult fail(RequestHead& out, int code, std::string why) {
    out.error_code = code;
    out.error = std::move(why);
    return HeadResult::error;
}

}  // namespace

HeadResult parse_request_head(std::string_view in, const RequestLimits& limits, RequestHead& out) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string_view::npos || end + 4 > limits.max_header_bytes) {
        if (in.size() > limits.max_header_bytes || end != std::string_view::npos)
            return fail(out, 431, "request head larger than " + std::to_string(limits.max_header_bytes) + " bytes");
        return HeadResult::incomplete;
    }
    // Poco silently drops a header line without a colon and unfolds obsolete line folding;
    // RFC 9112 wants both rejected: a field line is "token: value".
    if (!fields_well_formed(in, end)) return fail(out, 400, "malformed header field line");
    try {
        ViewBuf buf(in.data(), end + 4);
        std::istream head(&buf);
        out.request.read(head);
    } catch (const Poco::Exception& e) {
        return fail(out, 400, "malformed request: " + e.message());
    }
    const std::string& version = out.request.getVersion();
    if (version != HTTPRequest::HTTP_1_1 && version != HTTPRequest::HTTP_1_0)
        return fail(out, 505, "HTTP/1.0 and HTTP/1.1 only");
    if (out.request.has("Transfer-Encoding"))
        return fail(out, 411, "chunked request bodies are not accepted; send Content-Length");
    std::streamsize length = 0;
    try {
        length = out.request.hasContentLength() ? out.request.getContentLength() : 0;
    } catch (const Poco::Exception&) {
        return fail(out, 400, "Content-Length is not a number");
    }
    if (length < 0) return fail(out, 400, "Content-Length is negative");
    if (size_t(length) > limits.max_body_bytes)
        return fail(out, 413, "request body larger than " + std::to_string(limits.max_body_bytes) + " bytes");
    if (in.size() < end + 4 + size_t(length)) return HeadResult::incomplete;  // the body is still coming
    out.size = end + 4 + size_t(length);
    return HeadResult::complete;
}

}  // namespace vitals
