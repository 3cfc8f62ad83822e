// Text for check messages, shared by the built-in network check plugins (plugins/common).
//
// Everything in plugins/common is header-only and inline: each plugin library gets its own copy
// (plugins are built with hidden visibility and without GNU unique symbols), so nothing is shared
// between libraries at run time.
#ifndef VITALS_PLUGINS_TEXT_HPP
#define VITALS_PLUGINS_TEXT_HPP

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>

namespace vitals_plugins {

// Bytes from the network or the configuration made safe for a one-line message: printable ASCII as
// is, \r \n \t escaped, anything else as \xHH; cut at `max` characters with "..." appended.
inline std::string printable(const std::string& bytes, size_t max = 64) {
    std::string out;
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        std::string piece;
        if (c == '\r') piece = "\\r";
        else if (c == '\n') piece = "\\n";
        else if (c == '\t') piece = "\\t";
        else if (c >= 0x20 && c < 0x7f) piece = std::string(1, static_cast<char>(c));
        else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            piece = hex;
        }
        if (out.size() + piece.size() > max) return out + "...";
        out += piece;
    }
    return out;
}

inline std::string errno_text(int err) { return std::strerror(err); }

inline bool iequals(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_TEXT_HPP
