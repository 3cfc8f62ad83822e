// libFuzzer target: the health port's request framing (core/src/http/request_head.h).
//
// Each input is the bytes a client sent on one connection. They are parsed the way the event loop
// does: request after request (pipelining), each with fresh limits-checked framing, until the
// bytes run out, a request is incomplete or one is an error. Besides sanitizer reports, these are
// findings: an exception (the loop catches none from the parser), a complete request claiming more
// bytes than were given or none at all, an error without a 4xx/5xx code or a reason, and a
// complete request whose method, version or Content-Length break the documented limits.
#include "http/request_head.h"

#include <Poco/Net/HTTPRequest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

void fail(const char* what) {
    std::fprintf(stderr, "fuzz_http_head: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    // Small limits so that the fuzzer reaches them.
    const vitals::RequestLimits limits{512, 64};
    for (int requests = 0; requests < 16 && !in.empty(); ++requests) {
        vitals::RequestHead head;
        vitals::HeadResult result = vitals::parse_request_head(in, limits, head);
        if (result == vitals::HeadResult::incomplete) {
            if (in.size() > limits.max_header_bytes + limits.max_body_bytes) fail("incomplete beyond both limits");
            break;
        }
        if (result == vitals::HeadResult::error) {
            if (head.error_code < 400 || head.error_code > 599) fail("error code outside 4xx/5xx");
            if (head.error.empty()) fail("error without a reason");
            break;
        }
        if (head.size == 0 || head.size > in.size()) fail("complete request of impossible size");
        const std::string& version = head.request.getVersion();
        if (version != Poco::Net::HTTPRequest::HTTP_1_0 && version != Poco::Net::HTTPRequest::HTTP_1_1)
            fail("complete request with another HTTP version");
        if (head.request.has("Transfer-Encoding")) fail("complete request with Transfer-Encoding");
        if (head.size > limits.max_header_bytes + limits.max_body_bytes) fail("request beyond both limits");
        in.remove_prefix(head.size);
    }
    return 0;
}
