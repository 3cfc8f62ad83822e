// The exec plugin's output and performance-data parser (plugins/exec/perfdata.hpp), header-only.
#include "../../plugins/exec/perfdata.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using vitals_exec::parse_perfdata;
using vitals_exec::parse_plugin_output;
using vitals_exec::PerfDatum;

TEST_CASE("perfdata: a full entry keeps label, value, unit, thresholds, min and max", "[perfdata]") {
    auto p = parse_perfdata("time=0.006364s;1.000000;2.000000;0.000000;10.000000");
    REQUIRE(p.size() == 1);
    CHECK(p[0].label == "time");
    REQUIRE(p[0].value);
    CHECK(*p[0].value == Approx(0.006364));
    CHECK(p[0].uom == "s");
    CHECK(p[0].warn == "1.000000");
    CHECK(p[0].crit == "2.000000");
    REQUIRE(p[0].min);
    CHECK(*p[0].min == 0.0);
    REQUIRE(p[0].max);
    CHECK(*p[0].max == 10.0);
}

TEST_CASE("perfdata: value alone, no unit, no thresholds", "[perfdata]") {
    auto p = parse_perfdata("users=3");
    REQUIRE(p.size() == 1);
    CHECK(p[0].label == "users");
    CHECK(*p[0].value == 3.0);
    CHECK(p[0].uom.empty());
    CHECK(p[0].warn.empty());
    CHECK(p[0].crit.empty());
    CHECK_FALSE(p[0].min);
    CHECK_FALSE(p[0].max);
}

TEST_CASE("perfdata: every documented unit of measurement", "[perfdata]") {
    for (const char* uom : {"s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"}) {
        INFO(uom);
        auto p = parse_perfdata(std::string("x=12.5") + uom + ";;;");
        REQUIRE(p.size() == 1);
        CHECK(*p[0].value == 12.5);
        CHECK(p[0].uom == uom);
    }
}

TEST_CASE("perfdata: quoted labels may hold spaces, '=' and doubled quotes", "[perfdata]") {
    auto p = parse_perfdata("'free space /var'=42%;20;10;0;100 'a=b'=1 'it''s'=2c");
    REQUIRE(p.size() == 3);
    CHECK(p[0].label == "free space /var");
    CHECK(*p[0].value == 42.0);
    CHECK(p[0].uom == "%");
    CHECK(p[1].label == "a=b");
    CHECK(p[2].label == "it's");
    CHECK(p[2].uom == "c");
}

TEST_CASE("perfdata: several entries, trailing semicolons and extra spaces (check_load)", "[perfdata]") {
    auto p = parse_perfdata(" load1=7.170;100.000;200.000;0;  load5=5.510;100.000;200.000;0; load15=2.920;100.000;200.000;0; ");
    REQUIRE(p.size() == 3);
    CHECK(p[0].label == "load1");
    CHECK(*p[0].value == Approx(7.17));
    CHECK(p[1].label == "load5");
    CHECK(p[2].label == "load15");
    CHECK(*p[2].min == 0.0);
    CHECK_FALSE(p[2].max);
}

TEST_CASE("perfdata: threshold ranges are kept as written", "[perfdata]") {
    auto p = parse_perfdata("x=5;10:;@5:10;;");
    REQUIRE(p.size() == 1);
    CHECK(p[0].warn == "10:");
    CHECK(p[0].crit == "@5:10");
    p = parse_perfdata("y=1;~:10;-5:5");
    REQUIRE(p.size() == 1);
    CHECK(p[0].warn == "~:10");
    CHECK(p[0].crit == "-5:5");
}

TEST_CASE("perfdata: U means the value could not be determined", "[perfdata]") {
    auto p = parse_perfdata("rta=U;;;; pl=100%");
    REQUIRE(p.size() == 2);
    CHECK(p[0].label == "rta");
    CHECK_FALSE(p[0].value);
    CHECK(*p[1].value == 100.0);
}

TEST_CASE("perfdata: negative, signed and exponent values", "[perfdata]") {
    auto p = parse_perfdata("a=-1.5 b=+2 c=1e3ms d=2.5E-1s e=.5");
    REQUIRE(p.size() == 5);
    CHECK(*p[0].value == -1.5);
    CHECK(*p[1].value == 2.0);
    CHECK(*p[2].value == 1000.0);
    CHECK(p[2].uom == "ms");
    CHECK(*p[3].value == 0.25);
    CHECK(p[3].uom == "s");
    CHECK(*p[4].value == 0.5);
}

TEST_CASE("perfdata: min and max that repeat the unit are accepted", "[perfdata]") {
    auto p = parse_perfdata("used=50%;80;90;0%;100%");
    REQUIRE(p.size() == 1);
    CHECK(*p[0].min == 0.0);
    CHECK(*p[0].max == 100.0);
}

TEST_CASE("perfdata: malformed entries are skipped, their neighbours kept", "[perfdata]") {
    auto p = parse_perfdata("good=1 noequals bad=abc =5 worse=1,5 ok=2s;1;2;3;4;5 fine=3 'x'y=1 last=4");
    REQUIRE(p.size() == 3);
    CHECK(p[0].label == "good");
    CHECK(p[1].label == "fine");
    CHECK(p[2].label == "last");
}

TEST_CASE("perfdata: bad units, thresholds or min/max make an entry malformed", "[perfdata]") {
    CHECK(parse_perfdata("a=1s/x").empty());
    CHECK(parse_perfdata("a=1verylongunit").empty());
    CHECK(parse_perfdata("a=1;warn").empty());
    CHECK(parse_perfdata("a=1;;crit").empty());
    CHECK(parse_perfdata("a=1;;;zero").empty());
    CHECK(parse_perfdata("a=").empty());
    CHECK(parse_perfdata("a=;1;2").empty());
    CHECK(parse_perfdata("a=nan").empty());
    CHECK(parse_perfdata("a=inf").empty());
    CHECK(parse_perfdata("a=1e999").empty());
}

TEST_CASE("perfdata: an unterminated quote ends parsing", "[perfdata]") {
    auto p = parse_perfdata("a=1 'broken=2 b=3");
    REQUIRE(p.size() == 1);
    CHECK(p[0].label == "a");
}

TEST_CASE("perfdata: empty and blank input", "[perfdata]") {
    CHECK(parse_perfdata("").empty());
    CHECK(parse_perfdata("   \t ").empty());
    CHECK(parse_perfdata("''=1").empty());  // an empty label is not a label
}

TEST_CASE("perfdata: plugin output: text is the first line before '|', trimmed", "[perfdata]") {
    auto o = parse_plugin_output("TCP OK - 0.006 second response time on 127.0.0.1 port 6391|time=0.006364s;;;0.000000;10.000000\n");
    CHECK(o.text == "TCP OK - 0.006 second response time on 127.0.0.1 port 6391");
    REQUIRE(o.perfdata.size() == 1);
    CHECK(o.perfdata[0].label == "time");
    CHECK(o.perfdata[0].uom == "s");
}

TEST_CASE("perfdata: plugin output: check_disk's line", "[perfdata]") {
    auto o = parse_plugin_output(
        "DISK OK - free space: / 80585MiB (82% inode=97%);| /=18244173824B;243497277849;257024904396;0;270552530944\n");
    CHECK(o.text == "DISK OK - free space: / 80585MiB (82% inode=97%);");
    REQUIRE(o.perfdata.size() == 1);
    CHECK(o.perfdata[0].label == "/");
    CHECK(*o.perfdata[0].value == 18244173824.0);
    CHECK(o.perfdata[0].uom == "B");
    CHECK(*o.perfdata[0].max == 270552530944.0);
}

TEST_CASE("perfdata: plugin output: no perfdata, no newline, CRLF", "[perfdata]") {
    auto o = parse_plugin_output("WARNING: hello world");
    CHECK(o.text == "WARNING: hello world");
    CHECK(o.perfdata.empty());
    o = parse_plugin_output("OK - fine | a=1\r\nmore\r\n");
    CHECK(o.text == "OK - fine");
    REQUIRE(o.perfdata.size() == 1);
    CHECK(*o.perfdata[0].value == 1.0);
}

TEST_CASE("perfdata: plugin output: long output lines are not text, perfdata after their '|' is kept", "[perfdata]") {
    auto o = parse_plugin_output(
        "DISK OK | first=1\n"
        "long text line 1\n"
        "long text line 2 | second=2ms\n"
        "third=3%\n");
    CHECK(o.text == "DISK OK");
    REQUIRE(o.perfdata.size() == 3);
    CHECK(o.perfdata[0].label == "first");
    CHECK(o.perfdata[1].label == "second");
    CHECK(o.perfdata[2].label == "third");
}

TEST_CASE("perfdata: plugin output: empty output and a bare bar", "[perfdata]") {
    auto o = parse_plugin_output("");
    CHECK(o.text.empty());
    CHECK(o.perfdata.empty());
    o = parse_plugin_output("|");
    CHECK(o.text.empty());
    CHECK(o.perfdata.empty());
    o = parse_plugin_output("\n| late=1\n");
    CHECK(o.text.empty());
    REQUIRE(o.perfdata.size() == 1);
    CHECK(o.perfdata[0].label == "late");
}

TEST_CASE("perfdata: plugin output: arbitrary bytes never crash the parser", "[perfdata]") {
    // A cheap stand-in for the fuzzer: every prefix of a nasty input, and a pseudo-random byte soup.
    const std::string nasty = "OK |'a''=1;;;;; ''' b=1e;c=-;d='=''=\x01\xff|e=1;1;1;1;1;1 '\n|'=''=";
    for (size_t n = 0; n <= nasty.size(); ++n) {
        auto o = parse_plugin_output(nasty.substr(0, n));
        for (const auto& d : o.perfdata) CHECK_FALSE(d.label.empty());
    }
    uint32_t state = 12345;
    std::string soup;
    const char alphabet[] = "ab=;'| \n\t0123456789.-+eEU%:@~s";
    for (int round = 0; round < 200; ++round) {
        soup.clear();
        for (int i = 0; i < 64; ++i) {
            state = state * 1103515245u + 12345u;
            soup += alphabet[(state >> 16) % (sizeof alphabet - 1)];
        }
        auto o = parse_plugin_output(soup);
        for (const auto& d : o.perfdata) CHECK_FALSE(d.label.empty());
    }
}
