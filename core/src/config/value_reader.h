// Typed values out of a parsed configuration (Poco's JSON tree), one rule for every part that reads
// one: the sections and check fields (config.cpp) and the check options a plugin's schema declares
// (plugins/option_schema.cpp). Every mistake is recorded as "path: problem"; nothing throws.
//
// The rules (README, configuration): strings go through ${VAR} substitution; integers, numbers and
// booleans are JSON values, and a string stands for one only through ${VAR} ("port": "${PORT}");
// a duration is a string with a unit ("250ms", "5s"), never a bare number.
#pragma once

#include "common/duration.h"
#include "config/config.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vitals {

bool is_json_object(const Poco::Dynamic::Var& v);
bool is_json_array(const Poco::Dynamic::Var& v);

// "an object", "a string", "null"...: what a value is, for messages.
std::string json_kind(const Poco::Dynamic::Var& v);

// "a, b, c".
std::string join_names(const std::vector<std::string>& items, const char* sep = ", ");

class ValueReader {
public:
    // Both are borrowed and must outlive the reader.
    ValueReader(const EnvLookup& env, std::vector<std::string>& errors) : env_(env), errors_(errors) {}

    void error(const std::string& path, const std::string& message) { errors_.push_back(path + ": " + message); }

    // "a.b", or "b" under the top level ("").
    static std::string join_path(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

    // The object `v` holds, or null after "expected an object".
    Poco::JSON::Object::Ptr object(const Poco::Dynamic::Var& v, const std::string& path);

    // Every key of `o` not in `known` is "unknown key; known: ...".
    void known_keys(const Poco::JSON::Object::Ptr& o, const std::string& path, const std::vector<std::string>& known);

    // Each returns nothing after recording why. The member forms read `o[key]` at `path.key` and
    // return nothing, silently, when the key is absent.
    std::optional<std::string> string_value(const Poco::Dynamic::Var& v, const std::string& path);
    std::optional<int64_t> integer_value(const Poco::Dynamic::Var& v, const std::string& path, int64_t min,
                                         int64_t max);
    std::optional<double> number_value(const Poco::Dynamic::Var& v, const std::string& path);  // finite
    std::optional<bool> boolean_value(const Poco::Dynamic::Var& v, const std::string& path);
    std::optional<Millis> duration_value(const Poco::Dynamic::Var& v, const std::string& path);

    std::optional<std::string> str(const Poco::JSON::Object::Ptr& o, const std::string& key, const std::string& path);
    std::optional<int64_t> integer(const Poco::JSON::Object::Ptr& o, const std::string& key, const std::string& path,
                                   int64_t min, int64_t max);
    std::optional<bool> boolean(const Poco::JSON::Object::Ptr& o, const std::string& key, const std::string& path);
    std::optional<Millis> duration(const Poco::JSON::Object::Ptr& o, const std::string& key, const std::string& path);

    // A string that must be one of `choices`.
    template <class E>
    std::optional<E> choice(const Poco::JSON::Object::Ptr& o, const std::string& key, const std::string& path,
                            const std::vector<std::pair<std::string, E>>& choices) {
        auto s = str(o, key, path);
        if (!s) return std::nullopt;
        std::vector<std::string> names;
        for (const auto& c : choices) {
            if (c.first == *s) return c.second;
            names.push_back(c.first);
        }
        error(join_path(path, key), "invalid value \"" + *s + "\"; expected one of: " + join_names(names));
        return std::nullopt;
    }

    // How many errors have been recorded (by this reader or others sharing `errors`).
    size_t error_count() const { return errors_.size(); }
    const EnvLookup& env() const { return env_; }

private:
    // The substituted text of a string standing for a non-string value, or nothing (with "expected
    // <expected>, got a string ...; <hint>") when it uses no ${VAR}.
    std::optional<std::string> substituted(const Poco::Dynamic::Var& v, const std::string& path,
                                           const std::string& expected, const char* hint);

    const EnvLookup& env_;
    std::vector<std::string>& errors_;
};

}  // namespace vitals
