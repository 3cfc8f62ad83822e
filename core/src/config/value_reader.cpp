#include "config/value_reader.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace vitals {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

bool is_json_object(const Var& v) { return v.type() == typeid(Object::Ptr); }
bool is_json_array(const Var& v) { return v.type() == typeid(Array::Ptr); }

std::string json_kind(const Var& v) {
    if (v.isEmpty()) return "null";
    if (is_json_object(v)) return "an object";
    if (is_json_array(v)) return "an array";
    if (v.isBoolean()) return "a boolean";
    if (v.isString()) return "a string";
    if (v.isNumeric()) return "a number";
    return "a value";
}

std::string join_names(const std::vector<std::string>& items, const char* sep) {
    std::string s;
    for (size_t i = 0; i < items.size(); ++i) s += (i ? sep : "") + items[i];
    return s;
}

Object::Ptr ValueReader::object(const Var& v, const std::string& path) {
    if (!is_json_object(v)) {
        error(path, "expected an object, got " + json_kind(v));
        return nullptr;
    }
    return v.extract<Object::Ptr>();
}

void ValueReader::known_keys(const Object::Ptr& o, const std::string& path, const std::vector<std::string>& known) {
    for (const auto& key : o->getNames()) {
        bool found = false;
        for (const auto& k : known) found = found || k == key;
        if (!found) error(join_path(path, key), "unknown key; known: " + join_names(known));
    }
}

std::optional<std::string> ValueReader::string_value(const Var& v, const std::string& path) {
    if (!v.isString()) {
        error(path, "expected a string, got " + json_kind(v));
        return std::nullopt;
    }
    size_t before = errors_.size();
    std::string s = substitute_env(v.extract<std::string>(), env_, path, errors_);
    if (errors_.size() != before) return std::nullopt;
    return s;
}

std::optional<std::string> ValueReader::str(const Object::Ptr& o, const std::string& key, const std::string& path) {
    if (!o->has(key)) return std::nullopt;
    return string_value(o->get(key), join_path(path, key));
}

// Integers, numbers and booleans are written as JSON values. A string stands for one only when it
// uses ${VAR} substitution ("port": "${PORT:-8081}"), the one way to take a value from the
// environment: "rise": "1" is an error, not a 1.
std::optional<std::string> ValueReader::substituted(const Var& v, const std::string& path,
                                                    const std::string& expected, const char* hint) {
    const std::string& raw = v.extract<std::string>();
    if (raw.find("${") == std::string::npos) {
        error(path, "expected " + expected + ", got a string (\"" + raw + "\"); " + hint);
        return std::nullopt;
    }
    return string_value(v, path);
}

std::optional<int64_t> ValueReader::integer_value(const Var& v, const std::string& path, int64_t min, int64_t max) {
    int64_t value = 0;
    if (v.isString()) {
        auto s = substituted(v, path, "an integer", "numbers are written without quotes");
        if (!s) return std::nullopt;
        char* end = nullptr;
        errno = 0;
        long long parsed = std::strtoll(s->c_str(), &end, 10);
        if (s->empty() || *end != '\0' || errno != 0) {
            error(path, "expected an integer, got \"" + *s + "\"");
            return std::nullopt;
        }
        value = parsed;
    } else if (v.isInteger() && !v.isBoolean()) {
        // JSON integers above INT64_MAX are held as UInt64: converting throws RangeException,
        // which must become this path's error, not escape the parse (found by fuzz_config).
        if (!v.isSigned() && v.convert<uint64_t>() > uint64_t(INT64_MAX)) {
            error(path, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                            v.convert<std::string>());
            return std::nullopt;
        }
        value = v.convert<int64_t>();
    } else if (v.isNumeric() && !v.isBoolean()) {
        error(path, "expected an integer (digits only: no fraction or exponent), got " + v.convert<std::string>());
        return std::nullopt;
    } else {
        error(path, "expected an integer, got " + json_kind(v));
        return std::nullopt;
    }
    if (value < min || value > max) {
        error(path, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                        std::to_string(value));
        return std::nullopt;
    }
    return value;
}

std::optional<int64_t> ValueReader::integer(const Object::Ptr& o, const std::string& key, const std::string& path,
                                            int64_t min, int64_t max) {
    if (!o->has(key)) return std::nullopt;
    return integer_value(o->get(key), join_path(path, key), min, max);
}

std::optional<double> ValueReader::number_value(const Var& v, const std::string& path) {
    if (v.isString()) {
        auto s = substituted(v, path, "a number", "numbers are written without quotes");
        if (!s) return std::nullopt;
        char* end = nullptr;
        double d = std::strtod(s->c_str(), &end);
        // strtod also reads "nan", "inf" and "1e999" (infinite), which JSON cannot carry to the
        // plugin: the options would reach it as invalid JSON (found by fuzz_config).
        if (s->empty() || *end != '\0' || !std::isfinite(d)) {
            error(path, "expected a finite number, got \"" + *s + "\"");
            return std::nullopt;
        }
        return d;
    }
    if (v.isNumeric() && !v.isBoolean()) return v.convert<double>();
    error(path, "expected a number, got " + json_kind(v));
    return std::nullopt;
}

std::optional<bool> ValueReader::boolean_value(const Var& v, const std::string& path) {
    if (v.isBoolean()) return v.extract<bool>();
    if (v.isString()) {
        auto s = substituted(v, path, "a boolean", "true and false are written without quotes");
        if (!s) return std::nullopt;
        if (*s == "true") return true;
        if (*s == "false") return false;
        error(path, "expected true or false, got \"" + *s + "\"");
        return std::nullopt;
    }
    error(path, "expected a boolean, got " + json_kind(v));
    return std::nullopt;
}

std::optional<bool> ValueReader::boolean(const Object::Ptr& o, const std::string& key, const std::string& path) {
    if (!o->has(key)) return std::nullopt;
    return boolean_value(o->get(key), join_path(path, key));
}

// A bare number is refused: whether 15 meant seconds or milliseconds is the operator's to say, not
// ours to guess.
std::optional<Millis> ValueReader::duration_value(const Var& v, const std::string& path) {
    if (v.isString()) {
        auto s = string_value(v, path);
        if (!s) return std::nullopt;
        auto d = parse_duration(*s);
        if (!d) error(path, "invalid duration \"" + *s + "\"; use e.g. 250ms, 5s, 1m, 2h, 7d");
        return d;
    }
    if (v.isNumeric() && !v.isBoolean()) {
        error(path, "expected a duration with a unit, such as \"250ms\" or \"5s\", got the number " +
                        v.convert<std::string>());
        return std::nullopt;
    }
    error(path, "expected a duration such as \"5s\", got " + json_kind(v));
    return std::nullopt;
}

std::optional<Millis> ValueReader::duration(const Object::Ptr& o, const std::string& key, const std::string& path) {
    if (!o->has(key)) return std::nullopt;
    return duration_value(o->get(key), join_path(path, key));
}

}  // namespace vitals
