// A small JSON reader for the SDK's C++ layer: enough to read the normalised options the host passes
// to create(). Header-only and standard-library-only on purpose: a third-party plugin must not need
// Poco (or any JSON library) to be built against the SDK. Not a general-purpose parser: it accepts
// RFC 8259 JSON and throws std::runtime_error on anything else.
#ifndef VITALS_DETAIL_JSON_HPP
#define VITALS_DETAIL_JSON_HPP

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vitals {
namespace json {

class Value {
public:
    enum class Kind { null, boolean, number, string, array, object };

    Value() = default;

    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::null; }
    bool is_bool() const { return kind_ == Kind::boolean; }
    bool is_number() const { return kind_ == Kind::number; }
    bool is_integer() const { return kind_ == Kind::number && integral_; }
    bool is_string() const { return kind_ == Kind::string; }
    bool is_array() const { return kind_ == Kind::array; }
    bool is_object() const { return kind_ == Kind::object; }

    bool as_bool() const { expect(Kind::boolean, "a boolean"); return bool_; }
    double as_double() const { expect(Kind::number, "a number"); return number_; }
    int64_t as_int() const {
        expect(Kind::number, "an integer");
        if (!integral_) throw std::runtime_error("expected an integer");
        return integer_;
    }
    const std::string& as_string() const { expect(Kind::string, "a string"); return string_; }
    const std::vector<Value>& as_array() const { expect(Kind::array, "an array"); return array_; }
    const std::map<std::string, Value>& as_object() const { expect(Kind::object, "an object"); return object_; }

    // Member lookup on an object; nullptr when absent.
    const Value* find(const std::string& key) const {
        if (kind_ != Kind::object) return nullptr;
        auto it = object_.find(key);
        return it == object_.end() ? nullptr : &it->second;
    }

    static Value parse(const std::string& text) {
        Reader r{text, 0};
        Value v = r.value(0);
        r.space();
        if (r.pos != text.size()) r.fail("trailing characters");
        return v;
    }

private:
    void expect(Kind k, const char* what) const {
        if (kind_ != k) throw std::runtime_error(std::string("expected ") + what);
    }

    struct Reader {
        const std::string& s;
        size_t pos;

        [[noreturn]] void fail(const char* why) const {
            throw std::runtime_error("invalid JSON at offset " + std::to_string(pos) + ": " + why);
        }
        void space() {
            while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) ++pos;
        }
        bool literal(const char* word) {
            size_t n = std::char_traits<char>::length(word);
            if (s.compare(pos, n, word) != 0) return false;
            pos += n;
            return true;
        }
        Value value(int depth) {
            if (depth > 64) fail("nested too deeply");
            space();
            if (pos >= s.size()) fail("unexpected end");
            Value v;
            char c = s[pos];
            if (c == '{') {
                v.kind_ = Kind::object;
                ++pos;
                space();
                if (pos < s.size() && s[pos] == '}') { ++pos; return v; }
                for (;;) {
                    space();
                    if (pos >= s.size() || s[pos] != '"') fail("expected a key");
                    std::string key = string();
                    space();
                    if (pos >= s.size() || s[pos] != ':') fail("expected ':'");
                    ++pos;
                    v.object_[key] = value(depth + 1);
                    space();
                    if (pos < s.size() && s[pos] == ',') { ++pos; continue; }
                    if (pos < s.size() && s[pos] == '}') { ++pos; return v; }
                    fail("expected ',' or '}'");
                }
            }
            if (c == '[') {
                v.kind_ = Kind::array;
                ++pos;
                space();
                if (pos < s.size() && s[pos] == ']') { ++pos; return v; }
                for (;;) {
                    v.array_.push_back(value(depth + 1));
                    space();
                    if (pos < s.size() && s[pos] == ',') { ++pos; continue; }
                    if (pos < s.size() && s[pos] == ']') { ++pos; return v; }
                    fail("expected ',' or ']'");
                }
            }
            if (c == '"') { v.kind_ = Kind::string; v.string_ = string(); return v; }
            if (literal("true")) { v.kind_ = Kind::boolean; v.bool_ = true; return v; }
            if (literal("false")) { v.kind_ = Kind::boolean; v.bool_ = false; return v; }
            if (literal("null")) return v;
            return number();
        }
        Value number() {
            size_t start = pos;
            if (pos < s.size() && s[pos] == '-') ++pos;
            bool integral = true;
            size_t digits = pos;
            while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
            if (pos == digits) fail("expected a value");
            if (pos < s.size() && s[pos] == '.') {
                integral = false;
                ++pos;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
            }
            if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
                integral = false;
                ++pos;
                if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) ++pos;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
            }
            std::string text = s.substr(start, pos - start);
            Value v;
            v.kind_ = Kind::number;
            v.number_ = std::strtod(text.c_str(), nullptr);
            if (integral) {
                errno = 0;
                long long i = std::strtoll(text.c_str(), nullptr, 10);
                v.integral_ = errno == 0;
                v.integer_ = i;
            }
            return v;
        }
        static void utf8(std::string& out, uint32_t cp) {
            if (cp < 0x80) out += char(cp);
            else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
            else if (cp < 0x10000) {
                out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
            } else {
                out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
                out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
            }
        }
        uint32_t hex4() {
            if (pos + 4 > s.size()) fail("short \\u escape");
            uint32_t v = 0;
            for (int i = 0; i < 4; ++i) {
                char h = s[pos++];
                v <<= 4;
                if (h >= '0' && h <= '9') v |= uint32_t(h - '0');
                else if (h >= 'a' && h <= 'f') v |= uint32_t(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F') v |= uint32_t(h - 'A' + 10);
                else fail("bad \\u escape");
            }
            return v;
        }
        std::string string() {
            ++pos;  // opening quote
            std::string out;
            for (;;) {
                if (pos >= s.size()) fail("unterminated string");
                char c = s[pos++];
                if (c == '"') return out;
                if (c != '\\') { out += c; continue; }
                if (pos >= s.size()) fail("unterminated escape");
                char e = s[pos++];
                switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF && pos + 6 <= s.size() && s[pos] == '\\' && s[pos + 1] == 'u') {
                        pos += 2;
                        uint32_t lo = hex4();
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    utf8(out, cp);
                    break;
                }
                default: fail("bad escape");
                }
            }
        }
    };

    Kind kind_ = Kind::null;
    bool bool_ = false;
    bool integral_ = false;
    double number_ = 0;
    int64_t integer_ = 0;
    std::string string_;
    std::vector<Value> array_;
    std::map<std::string, Value> object_;
};

}  // namespace json
}  // namespace vitals

#endif  // VITALS_DETAIL_JSON_HPP
