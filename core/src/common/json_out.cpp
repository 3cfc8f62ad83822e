#include "common/json_out.h"

#include <Poco/NumberFormatter.h>

#include <cmath>
#include <cstdio>

namespace vitals {

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char ch : s) {
        auto u = static_cast<unsigned char>(ch);
        if (u >= 0x20 && ch != '"' && ch != '\\') {
            out += ch;
            continue;
        }
        switch (ch) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default: {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04X", unsigned(u));
            out += buf;
        }
        }
    }
    out += '"';
}

std::string json_number(double value) {
    // Whole numbers as integers (what the general conversion prints for them, without its cost).
    if (value == std::floor(value) && std::fabs(value) < 1e15) return std::to_string(int64_t(value));
    return Poco::NumberFormatter::format(value);
}

JsonObject& JsonObject::dbl(const char* key, double value) {
    this->key(key) += json_number(value);
    return *this;
}

JsonObject& JsonObject::micros(const char* key, int64_t millionths) {
    std::string& out = this->key(key);
    if (millionths < 0) {
        out += '-';
        millionths = -millionths;
    }
    out += std::to_string(millionths / 1'000'000);
    int64_t frac = millionths % 1'000'000;
    if (frac == 0) return *this;
    char digits[8];
    int n = 6;
    while (frac % 10 == 0) {  // trailing zeros go: 0.5, not 0.500000
        frac /= 10;
        --n;
    }
    for (int i = n - 1; i >= 0; --i, frac /= 10) digits[i] = char('0' + frac % 10);
    out += '.';
    out.append(digits, size_t(n));
    return *this;
}

std::string& JsonObject::key(const char* key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += key;
    out_ += "\":";
    return out_;
}

}  // namespace vitals
