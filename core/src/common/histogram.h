// A fixed-bucket histogram, as Prometheus exposes one: counts per upper bound (non-cumulative
// here, cumulated when rendered), the number of observations and their sum.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace vitals {

template <size_t N>
struct FixedHistogram {
    std::array<uint64_t, N> counts{};  // non-cumulative; an observation above the last bound is in none
    uint64_t count = 0;
    double sum = 0;

    void observe(double value, const std::array<double, N>& bounds) {
        for (size_t i = 0; i < N; ++i)
            if (value <= bounds[i]) {
                ++counts[i];
                break;
            }
        ++count;
        sum += value;
    }
};

}  // namespace vitals
