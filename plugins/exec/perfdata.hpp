// Parsing of Nagios / monitoring-plugins output: the status text and the performance data.
//
// Header-only and free of any vitals dependency so that the unit tests (and a fuzzer) can include it
// on its own. Nothing here throws except std::bad_alloc, and every function runs in time linear in
// its input.
//
// The format (Nagios Plugin Development Guidelines, "Plugin Output"; monitoring-plugins "Performance
// data"):
//
//     TEXT OUTPUT | 'label'=value[UOM];[warn];[crit];[min];[max] label2=value2 ...
//     LONG TEXT LINE 1
//     LONG TEXT LINE 2 | MORE PERFDATA
//     MORE PERFDATA
//
//   - Entries are separated by spaces. A label containing spaces or '=' is single-quoted; a quote
//     inside a quoted label is doubled ('it''s').
//   - value is a decimal number ("-1.5", "3", "1e3") or "U" (the value could not be determined).
//   - UOM is one of s, ms, us, %, B, KB, MB, GB, TB, c (others seen in the wild, such as KiB, are
//     kept as written: the unit is letters and '%', at most 8 characters).
//   - warn and crit are threshold ranges ("10", "10:", "~:10", "@5:10"), kept as written; min and max
//     are numbers. Any of the four may be empty or missing, and trailing semicolons are allowed.
//   - A malformed entry is skipped; the entries around it still count.
#ifndef VITALS_EXEC_PERFDATA_HPP
#define VITALS_EXEC_PERFDATA_HPP

#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace vitals_exec {

// One performance data entry.
struct PerfDatum {
    std::string label;            // unquoted: 'it''s' → it's; never empty
    std::optional<double> value;  // unset when the program wrote "U"
    std::string uom;              // as written ("ms", "%", "B", ...); empty when none
    std::string warn;             // threshold range as written; empty when none
    std::string crit;
    std::optional<double> min;
    std::optional<double> max;
};

// What a monitoring-plugins program printed, split.
struct PluginOutput {
    std::string text;                 // the first line before '|', surrounding whitespace removed
    std::vector<PerfDatum> perfdata;  // from the first line after '|', then from the long output's
};

namespace perfdata_detail {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// A whole string as a finite number ("1.5", "-3", "2e3"); unset for anything else ("", "1.5x", "nan").
// Locale-independent. A leading '+' is accepted, as strtod would.
inline std::optional<double> parse_number(std::string_view s) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
    if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// A threshold range: digits, '.', '-', '+', 'e'/'E' (exponents), ':', '~', '@'. Empty is allowed.
inline bool is_range(std::string_view s) {
    for (char c : s) {
        bool ok = (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == ':' || c == '~' || c == '@' ||
                  c == 'e' || c == 'E';
        if (!ok) return false;
    }
    return true;
}

inline bool is_uom(std::string_view s) {
    if (s.size() > 8) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '%';
        if (!ok) return false;
    }
    return true;
}

// Parses the part after the label's '=': value[UOM][;warn[;crit[;min[;max]]]]. False if malformed.
inline bool parse_fields(std::string_view text, PerfDatum& out) {
    std::string_view fields[5];
    size_t count = 0;
    while (true) {
        size_t semi = text.find(';');
        if (count == 5) return false;  // a sixth field: not perfdata
        fields[count++] = text.substr(0, semi);
        if (semi == std::string_view::npos) break;
        text.remove_prefix(semi + 1);
        if (text.empty()) break;  // trailing ';'
    }

    // value and UOM: the longest leading run that looks like a number, then the unit.
    std::string_view value_uom = fields[0];
    if (value_uom.empty()) return false;
    if (value_uom == "U") {
        out.value.reset();
    } else {
        size_t n = 0;
        while (n < value_uom.size()) {
            char c = value_uom[n];
            bool numeric = (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' ||
                           ((c == 'e' || c == 'E') && n > 0 && n + 1 < value_uom.size() &&
                            ((value_uom[n + 1] >= '0' && value_uom[n + 1] <= '9') || value_uom[n + 1] == '-' ||
                             value_uom[n + 1] == '+'));
            if (!numeric) break;
            ++n;
        }
        out.value = parse_number(value_uom.substr(0, n));
        if (!out.value) return false;
        std::string_view uom = value_uom.substr(n);
        if (!is_uom(uom)) return false;
        out.uom.assign(uom);
    }
    if (count > 1) {
        if (!is_range(fields[1])) return false;
        out.warn.assign(fields[1]);
    }
    if (count > 2) {
        if (!is_range(fields[2])) return false;
        out.crit.assign(fields[2]);
    }
    // min and max: a number or empty. Some programs repeat the UOM here ("0%"); ignore it.
    for (size_t i = 3; i < count; ++i) {
        std::string_view f = fields[i];
        if (f.empty()) continue;
        while (!f.empty() && ((f.back() >= 'a' && f.back() <= 'z') || (f.back() >= 'A' && f.back() <= 'Z') || f.back() == '%'))
            f.remove_suffix(1);
        std::optional<double> v = parse_number(f);  // a unit alone ("zero", "%") is not a number
        if (!v) return false;
        (i == 3 ? out.min : out.max) = v;
    }
    return true;
}

}  // namespace perfdata_detail

// Parses performance data: whitespace-separated entries `label=value[UOM];warn;crit;min;max`.
// Returns the well-formed entries in order; malformed ones are skipped.
inline std::vector<PerfDatum> parse_perfdata(std::string_view text) {
    using namespace perfdata_detail;
    std::vector<PerfDatum> out;
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
        while (i < n && is_space(text[i])) ++i;
        if (i >= n) break;

        PerfDatum d;
        bool ok = true;
        if (text[i] == '\'') {
            // Quoted label: up to the next lone quote; '' is a literal quote.
            ++i;
            bool closed = false;
            while (i < n) {
                if (text[i] == '\'') {
                    if (i + 1 < n && text[i + 1] == '\'') {
                        d.label += '\'';
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                d.label += text[i++];
            }
            if (!closed) break;  // unterminated quote: nothing after it can be delimited reliably
            if (i >= n || text[i] != '=') ok = false;
        } else {
            size_t start = i;
            while (i < n && text[i] != '=' && !is_space(text[i])) ++i;
            d.label.assign(text.substr(start, i - start));
            if (i >= n || text[i] != '=') ok = false;
        }
        // The rest of the entry: up to the next whitespace.
        size_t fields_start = (ok ? i + 1 : i);
        size_t end = fields_start;
        while (end < n && !is_space(text[end])) ++end;
        if (ok && !d.label.empty() && parse_fields(text.substr(fields_start, end - fields_start), d))
            out.push_back(std::move(d));
        i = end;
    }
    return out;
}

// Splits a program's standard output into its status text and its performance data.
inline PluginOutput parse_plugin_output(std::string_view output) {
    using namespace perfdata_detail;
    PluginOutput result;
    size_t eol = output.find('\n');
    std::string_view first = output.substr(0, eol);
    std::string_view rest = eol == std::string_view::npos ? std::string_view() : output.substr(eol + 1);

    size_t bar = first.find('|');
    result.text.assign(trim(first.substr(0, bar)));
    if (bar != std::string_view::npos) result.perfdata = parse_perfdata(first.substr(bar + 1));

    // Long output: text lines, then after the first '|' everything is more performance data.
    size_t more = rest.find('|');
    if (more != std::string_view::npos) {
        for (auto& d : parse_perfdata(rest.substr(more + 1))) result.perfdata.push_back(std::move(d));
    }
    return result;
}

}  // namespace vitals_exec

#endif  // VITALS_EXEC_PERFDATA_HPP
