#include "common/json_out.h"

#include <Poco/NumberFormatter.h>

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

JsonObject& JsonObject::dbl(const char* key, double value) {
    this->key(key) += Poco::NumberFormatter::format(value);
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
