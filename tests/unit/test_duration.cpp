#include "common/duration.h"
#include "common/time_format.h"

#include <catch2/catch.hpp>

using namespace vitals;

TEST_CASE("durations parse with every unit", "[duration]") {
    CHECK(parse_duration("250ms") == Millis(250));
    CHECK(parse_duration("5s") == Millis(5000));
    CHECK(parse_duration("1m") == Millis(60'000));
    CHECK(parse_duration("2h") == Millis(7'200'000));
    CHECK(parse_duration("7d") == Millis(7LL * 86'400'000));
    CHECK(parse_duration("0") == Millis(0));
}

TEST_CASE("malformed durations are rejected", "[duration]") {
    for (const char* bad : {"", "5", "s", "-5s", "5x", "1.5s", "5 s", "99999999999999999999d"}) {
        INFO(bad);
        CHECK_FALSE(parse_duration(bad));
    }
}

TEST_CASE("durations format to their shortest exact spelling", "[duration]") {
    CHECK(format_duration(Millis(1500)) == "1500ms");
    CHECK(format_duration(Millis(5000)) == "5s");
    CHECK(format_duration(Millis(60'000)) == "1m");
    CHECK(format_duration(Millis(0)) == "0ms");
}

TEST_CASE("rfc3339 prints UTC with milliseconds", "[time]") {
    WallTime t{std::chrono::milliseconds(1'700'000'000'123)};
    CHECK(rfc3339(t) == "2023-11-14T22:13:20.123Z");
}

TEST_CASE("durations stop at kMaxDuration (about 35 years) in every unit", "[duration]") {
    CHECK(parse_duration("1099511627776ms") == kMaxDuration);
    CHECK(parse_duration("12725d") == Millis(12725LL * 86'400'000));
    // Found by tests/fuzz/fuzz_config: these used to wrap around (150000000000d was negative).
    for (const char* big : {"1099511627777ms", "12726d", "150000000000d", "1099511627776d", "305420h"}) {
        INFO(big);
        CHECK_FALSE(parse_duration(big));
    }
}
