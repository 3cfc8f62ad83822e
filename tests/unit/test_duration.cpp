#include "common/duration.h"
#include "common/json_out.h"
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
    CHECK(rfc3339(WallTime{std::chrono::milliseconds(0)}) == "1970-01-01T00:00:00.000Z");
    CHECK(rfc3339(WallTime{std::chrono::milliseconds(-1)}) == "1969-12-31T23:59:59.999Z");
    CHECK(rfc3339(WallTime{std::chrono::milliseconds(951'782'400'007)}) == "2000-02-29T00:00:00.007Z");
    CHECK(rfc3339(WallTime{std::chrono::milliseconds(7'258'118'399'999)}) == "2199-12-31T23:59:59.999Z");
}

TEST_CASE("JSON numbers: whole doubles as integers, millionths as their shortest decimal", "[json]") {
    std::string out;
    {
        JsonObject o(out);
        o.dbl("a", 3.0).dbl("b", 0.7).dbl("c", -2.0).dbl("d", 1.953125).dbl("e", 1e300);
        o.micros("f", 454'545).micros("g", 1'000'000).micros("h", 500'000).micros("i", 1).micros("j", 0);
        o.micros("k", 12'000'010);
    }
    CHECK(out == R"({"a":3,"b":0.7,"c":-2,"d":1.953125,"e":1e+300,"f":0.454545,"g":1,"h":0.5,"i":0.000001,"j":0,)"
                 R"("k":12.00001})");
    // micros prints what dbl prints for the same decimal.
    for (int64_t m : {int64_t(1), int64_t(999'999), int64_t(123'456), int64_t(100'000), int64_t(7'000'001)}) {
        std::string a, b;
        JsonObject(a).micros("v", m);
        JsonObject(b).dbl("v", double(m) / 1e6);
        CHECK(a == b);
    }
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
