#include "common/time_format.h"

#include <ctime>

namespace vitals {

std::string rfc3339(WallTime t) {
    auto ms_total = unix_ms(t);
    std::time_t secs = static_cast<std::time_t>(ms_total / 1000);
    int ms = static_cast<int>(ms_total % 1000);
    if (ms < 0) {
        ms += 1000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    // "YYYY-MM-DDTHH:MM:SS.mmmZ", digit by digit (snprintf was most of an uptime answer's cost).
    // A WallTime (nanoseconds in 64 bits) spans the years 1677 to 2262: always four digits.
    int year = tm.tm_year + 1900;
    char b[] = "0000-00-00T00:00:00.000Z";
    auto put = [&b](int at, int value, int width) {
        for (int i = at + width - 1; i >= at; --i, value /= 10) b[i] = char('0' + value % 10);
    };
    put(0, year, 4);
    put(5, tm.tm_mon + 1, 2);
    put(8, tm.tm_mday, 2);
    put(11, tm.tm_hour, 2);
    put(14, tm.tm_min, 2);
    put(17, tm.tm_sec, 2);
    put(20, ms, 3);
    return std::string(b, 24);
}

}  // namespace vitals
