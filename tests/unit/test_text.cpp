#include "common/text.h"

#include <catch2/catch.hpp>

using vitals::utf8_sanitize;

TEST_CASE("valid UTF-8 passes through unchanged", "[text]") {
    CHECK(utf8_sanitize("plain ascii") == "plain ascii");
    CHECK(utf8_sanitize("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST_CASE("invalid UTF-8 becomes U+FFFD, one per bad byte", "[text]") {
    CHECK(utf8_sanitize("/\xff\xfe") == "/\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(utf8_sanitize("\xc3\x28") == "\xEF\xBF\xBD(");            // bad continuation
    CHECK(utf8_sanitize("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
    CHECK(utf8_sanitize("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    CHECK(utf8_sanitize("end\xE2\x82") == "end\xEF\xBF\xBD\xEF\xBF\xBD");            // truncated
}
