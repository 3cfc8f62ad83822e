#include "policy/check_state.h"

#include <catch2/catch.hpp>

using namespace vitals;

TEST_CASE("a new check is pending until its first result", "[damping]") {
    Damper d;
    CHECK_FALSE(d.established());
    CHECK(d.effective() == Status::fail);
    CHECK(d.apply(Status::pass, 1, 1));
    CHECK(d.established());
    CHECK(d.effective() == Status::pass);
}

TEST_CASE("rise needs consecutive passes before the check passes", "[damping]") {
    Damper d;
    CHECK_FALSE(d.apply(Status::pass, 3, 1));
    CHECK_FALSE(d.apply(Status::pass, 3, 1));
    CHECK(d.effective() == Status::fail);
    CHECK_FALSE(d.established());
    CHECK(d.apply(Status::pass, 3, 1));
    CHECK(d.effective() == Status::pass);
}

TEST_CASE("an interrupted streak starts over", "[damping]") {
    Damper d;
    d.apply(Status::pass, 1, 1);
    CHECK_FALSE(d.apply(Status::fail, 1, 3));
    CHECK_FALSE(d.apply(Status::fail, 1, 3));
    CHECK_FALSE(d.apply(Status::pass, 1, 3));  // back to the effective status: streak reset
    CHECK_FALSE(d.apply(Status::fail, 1, 3));
    CHECK_FALSE(d.apply(Status::fail, 1, 3));
    CHECK(d.effective() == Status::pass);
    CHECK(d.apply(Status::fail, 1, 3));
    CHECK(d.effective() == Status::fail);
}

TEST_CASE("a streak of a different status restarts the count", "[damping]") {
    Damper d;
    d.apply(Status::pass, 1, 1);
    CHECK_FALSE(d.apply(Status::warn, 1, 2));
    CHECK_FALSE(d.apply(Status::fail, 1, 2));  // fail after warn: a new candidate
    CHECK(d.apply(Status::fail, 1, 2));
    CHECK(d.effective() == Status::fail);
}

TEST_CASE("rise applies going up and fall going down", "[damping]") {
    Damper d;
    d.apply(Status::fail, 2, 5);
    CHECK(d.established());
    CHECK_FALSE(d.apply(Status::pass, 2, 5));
    CHECK(d.apply(Status::pass, 2, 5));
    for (int i = 0; i < 4; ++i) CHECK_FALSE(d.apply(Status::fail, 2, 5));
    CHECK(d.apply(Status::fail, 2, 5));
}
