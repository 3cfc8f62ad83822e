// Text for check messages and JSON, shared by the built-in plugins (plugins/common) and the daemon
// (which cleans every plugin's output and every request path with clean_utf8()).
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
#include <string_view>

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

// Length of the well-formed UTF-8 sequence starting at `s[i]` (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF), or 0 if the bytes there are not one.
inline size_t utf8_sequence_length(const std::string& s, size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xf0 && c1 < 0x90)) return 0;  // overlong
    if (c == 0xed && c1 >= 0xa0) return 0;                                // surrogate
    if (c == 0xf4 && c1 >= 0x90) return 0;                                // beyond U+10FFFF
    return len;
}

enum class Lines { keep, join };

// Bytes of any origin made safe for JSON and logs: valid UTF-8 kept, every byte that does not start
// a well-formed sequence replaced by U+FFFD. With Lines::join (a one-line message), tab, CR and LF
// become spaces and the other control characters (and DEL) '?'.
inline std::string clean_utf8(const std::string& in, Lines lines = Lines::keep) {
    static const char kReplacement[] = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(in.size());
    for (size_t i = 0; i < in.size();) {
        const size_t len = utf8_sequence_length(in, i);
        if (len == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        const auto c = static_cast<unsigned char>(in[i]);
        if (len == 1 && lines == Lines::join && (c < 0x20 || c == 0x7f))
            out += c == '\t' || c == '\n' || c == '\r' ? ' ' : '?';
        else
            out.append(in, i, len);
        i += len;
    }
    return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_TEXT_HPP
