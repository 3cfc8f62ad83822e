// JSON text written straight into a string: the status bodies are rebuilt up to 50 times a second
// and, with 1,000 checks, rendering them through Poco::JSON (a Dynamic::Var per value, an ostream
// per body) took a whole core (issue 7). The output is byte for byte what Poco::JSON's compact
// stringify wrote: keys in the order written, its escaping and its number spelling.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vitals {

// Appends `s` as a quoted JSON string, as Poco::toJSON without JSON_ESCAPE_UNICODE: '"', '\\' and
// control characters escaped, every other byte (UTF-8 included) as is. Callers pass valid UTF-8
// (utf8_sanitize() what may not be).
void append_json_string(std::string& out, std::string_view s);

// One JSON object written member by member into `out`; it places the braces and the commas. Keys
// are literals with nothing to escape.
// A double as the JSON writers spell it: whole numbers as integers, others as Poco::Dynamic::Var
// converts them (shortest round trip).
std::string json_number(double value);

class JsonObject {
public:
    explicit JsonObject(std::string& out) : out_(out) { out_ += '{'; }
    JsonObject(const JsonObject&) = delete;
    JsonObject& operator=(const JsonObject&) = delete;
    ~JsonObject() { out_ += '}'; }

    JsonObject& str(const char* key, std::string_view value) {
        append_json_string(this->key(key), value);
        return *this;
    }
    JsonObject& num(const char* key, int64_t value) {
        this->key(key) += std::to_string(value);
        return *this;
    }
    JsonObject& num(const char* key, uint64_t value) {
        this->key(key) += std::to_string(value);
        return *this;
    }
    // Spelled as Poco::Dynamic::Var converts a double.
    JsonObject& dbl(const char* key, double value);  // as json_number() spells it
    // A number given in millionths, printed as dbl() prints that decimal (0.454545, 1, 0.5).
    JsonObject& micros(const char* key, int64_t millionths);
    JsonObject& boolean(const char* key, bool value) {
        this->key(key) += value ? "true" : "false";
        return *this;
    }
    // A value rendered elsewhere (an object or an array).
    JsonObject& raw(const char* key, std::string_view json) {
        this->key(key) += json;
        return *this;
    }
    // Starts a member; the caller appends its value to the string returned.
    std::string& key(const char* key);

private:
    std::string& out_;
    bool first_ = true;
};

}  // namespace vitals
