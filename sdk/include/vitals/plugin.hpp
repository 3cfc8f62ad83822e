// Header-only C++ layer over the vitals C ABI (<vitals/plugin.h>).
//
// A plugin author writes one class per check type and one macro:
//
//     class Hello : public vitals::Check {
//     public:
//         explicit Hello(const vitals::Options& o) : greeting_(o.string("greeting")) {}
//         vitals::Result run(vitals::Deadline) override { return vitals::Result::pass(greeting_); }
//     private:
//         std::string greeting_;
//     };
//     static const vitals_option_spec hello_options[] = {
//         vitals::option("greeting", VITALS_OPTION_STRING, "\"hello\"", "text to report"),
//     };
//     VITALS_PLUGIN("hello", "1.0.0",
//         vitals::check_type<Hello>("hello", "says hello", "component", "greeting", hello_options))
//
// The constructor may throw to reject options (the message becomes the configuration error);
// run() may throw (the check fails with the message). No exception ever crosses into the host.
#ifndef VITALS_PLUGIN_HPP
#define VITALS_PLUGIN_HPP

#include <vitals/plugin.h>
#include <vitals/detail/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vitals {

enum class Status { pass = VITALS_STATUS_PASS, warn = VITALS_STATUS_WARN, fail = VITALS_STATUS_FAIL };

// The host's deadline for one run, on std::chrono::steady_clock (CLOCK_MONOTONIC on Linux,
// the clock the host uses for deadline_ns).
using Deadline = std::chrono::steady_clock::time_point;

// Time left until `deadline`, never negative.
inline std::chrono::milliseconds remaining(Deadline deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

// What one run found. Build with pass()/warn()/fail() and chain observed()/measurement().
class Result {
public:
    static Result pass(std::string output = {}) { return Result(Status::pass, std::move(output)); }
    static Result warn(std::string output) { return Result(Status::warn, std::move(output)); }
    static Result fail(std::string output) { return Result(Status::fail, std::move(output)); }

    // The measured value, e.g. observed(12.5, "ms").
    Result& observed(double value, std::string unit) {
        has_value_ = true;
        value_ = value;
        unit_ = std::move(unit);
        return *this;
    }
    // Overrides the check type's default measurement name ("responseTime", "utilization", ...).
    Result& measurement(std::string name) {
        measurement_ = std::move(name);
        return *this;
    }

    Status status() const { return status_; }
    const std::string& output() const { return output_; }
    bool has_observed_value() const { return has_value_; }
    double observed_value() const { return value_; }
    const std::string& observed_unit() const { return unit_; }
    const std::string& measurement_name() const { return measurement_; }

private:
    Result(Status s, std::string out) : status_(s), output_(std::move(out)) {}
    Status status_;
    std::string output_;
    bool has_value_ = false;
    double value_ = 0;
    std::string unit_;
    std::string measurement_;
};

// Typed, read-only access to a check's options. The host has already validated them against the
// schema and filled in defaults, so a lookup fails only for an option absent from the schema or
// one with no default that the user left out (then has() is false).
class Options {
public:
    explicit Options(const std::string& json) : root_(json::Value::parse(json)) {
        if (!root_.is_object()) throw std::runtime_error("options must be a JSON object");
    }

    bool has(const char* name) const {
        const json::Value* v = root_.find(name);
        return v && !v->is_null();
    }
    std::string string(const char* name) const { return get(name).as_string(); }
    std::string string_or(const char* name, std::string fallback) const {
        return has(name) ? string(name) : std::move(fallback);
    }
    int64_t integer(const char* name) const { return get(name).as_int(); }
    double number(const char* name) const { return get(name).as_double(); }
    bool boolean(const char* name) const { return get(name).as_bool(); }
    std::chrono::milliseconds duration(const char* name) const {
        return std::chrono::milliseconds(get(name).as_int());
    }
    std::vector<std::string> string_list(const char* name) const {
        std::vector<std::string> out;
        if (!has(name)) return out;
        for (const auto& v : get(name).as_array()) out.push_back(v.as_string());
        return out;
    }
    std::map<std::string, std::string> string_map(const char* name) const {
        std::map<std::string, std::string> out;
        if (!has(name)) return out;
        for (const auto& kv : get(name).as_object()) out[kv.first] = kv.second.as_string();
        return out;
    }
    const json::Value& raw() const { return root_; }

private:
    const json::Value& get(const char* name) const {
        const json::Value* v = root_.find(name);
        if (!v || v->is_null()) throw std::runtime_error(std::string("option '") + name + "' is not set");
        return *v;
    }
    json::Value root_;
};

// Base class of a check instance. One instance per configured check; the host calls run() from one
// thread at a time, and destroys the instance when the check is removed or the daemon stops.
class Check {
public:
    virtual ~Check() = default;
    // Perform one probe. Should return by `deadline`; may throw (the check then fails).
    virtual Result run(Deadline deadline) = 0;
};

enum class LogLevel { debug = VITALS_LOG_DEBUG, info = VITALS_LOG_INFO, warn = VITALS_LOG_WARN, error = VITALS_LOG_ERROR };

namespace detail {

// The host API given to vitals_plugin_entry. One per plugin library (plugins are built with hidden
// visibility, so each library has its own copy of this variable).
inline const vitals_host_api*& host() {
    static const vitals_host_api* h = nullptr;
    return h;
}

inline void copy_text(char* dst, size_t size, const std::string& src) {
    if (size == 0) return;
    size_t n = src.size() < size - 1 ? src.size() : size - 1;
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

template <class T>
struct Adapter {
    static int32_t create(const char* options_json, void** instance, char* error, size_t error_size) noexcept {
        try {
            Options options(options_json ? options_json : "{}");
            *instance = static_cast<Check*>(new T(options));
            return 0;
        } catch (const std::exception& e) {
            copy_text(error, error_size, e.what());
        } catch (...) {
            copy_text(error, error_size, "unknown error");
        }
        return 1;
    }

    static void run(void* instance, int64_t deadline_ns, vitals_result* out) noexcept {
        try {
            Deadline deadline{std::chrono::duration_cast<Deadline::duration>(std::chrono::nanoseconds(deadline_ns))};
            Result r = static_cast<Check*>(instance)->run(deadline);
            // Fields are written only where the host's struct has them (an older host's is smaller).
            out->status = static_cast<int32_t>(r.status());
            copy_text(out->output, sizeof out->output, r.output());
            if (out->struct_size >= offsetof(vitals_result, measurement) + sizeof out->measurement) {
                out->has_observed_value = r.has_observed_value() ? 1 : 0;
                out->observed_value = r.observed_value();
                copy_text(out->observed_unit, sizeof out->observed_unit, r.observed_unit());
                copy_text(out->measurement, sizeof out->measurement, r.measurement_name());
            }
        } catch (const std::exception& e) {
            out->status = VITALS_STATUS_FAIL;
            copy_text(out->output, sizeof out->output, std::string("exception: ") + e.what());
        } catch (...) {
            out->status = VITALS_STATUS_FAIL;
            copy_text(out->output, sizeof out->output, "exception: unknown");
        }
    }

    static void destroy(void* instance) noexcept {
        try {
            delete static_cast<Check*>(instance);
        } catch (...) {
        }
    }
};

}  // namespace detail

// Log one line through the host (under the plugin's name). Never pass secrets.
inline void log(LogLevel level, const std::string& message) noexcept {
    const vitals_host_api* h = detail::host();
    if (h && h->log) h->log(h->context, static_cast<int32_t>(level), message.c_str());
}

// One row of an option schema.
constexpr vitals_option_spec option(const char* name, vitals_option_type type, const char* default_json,
                                    const char* help, uint32_t flags = 0) {
    return vitals_option_spec{sizeof(vitals_option_spec), name, static_cast<uint32_t>(type), flags, default_json, help};
}

// Describe check type T (a vitals::Check with a constructor taking const vitals::Options&).
template <class T, size_t N>
constexpr vitals_check_type check_type(const char* name, const char* description, const char* component_type,
                                       const char* default_measurement, const vitals_option_spec (&options)[N]) {
    return vitals_check_type{sizeof(vitals_check_type), name, description, component_type, default_measurement,
                             options, N, &detail::Adapter<T>::create, &detail::Adapter<T>::run,
                             &detail::Adapter<T>::destroy};
}

// A check type without options.
template <class T>
constexpr vitals_check_type check_type(const char* name, const char* description, const char* component_type,
                                       const char* default_measurement) {
    return vitals_check_type{sizeof(vitals_check_type), name, description, component_type, default_measurement,
                             nullptr, 0, &detail::Adapter<T>::create, &detail::Adapter<T>::run,
                             &detail::Adapter<T>::destroy};
}

}  // namespace vitals

// Defines the plugin's descriptor and its exported C entry point. Use once per library, at namespace
// scope, with one or more vitals::check_type<...>(...) after the name and version.
#define VITALS_PLUGIN(PLUGIN_NAME, PLUGIN_VERSION, ...)                                                  \
    static const vitals_check_type vitals_plugin_types_[] = {__VA_ARGS__};                              \
    static const vitals_plugin_descriptor vitals_plugin_descriptor_ = {                                  \
        sizeof(vitals_plugin_descriptor), VITALS_ABI_MAJOR, VITALS_ABI_MINOR, PLUGIN_NAME, PLUGIN_VERSION, \
        vitals_plugin_types_, sizeof(vitals_plugin_types_) / sizeof(vitals_plugin_types_[0])};          \
    extern "C" VITALS_PLUGIN_EXPORT const vitals_plugin_descriptor* vitals_plugin_entry(                  \
        const vitals_host_api* host) {                                                                   \
        ::vitals::detail::host() = host;                                                                 \
        return &vitals_plugin_descriptor_;                                                               \
    }

#endif  // VITALS_PLUGIN_HPP
