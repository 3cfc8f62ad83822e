// A secret option's value taken out of a result, shared by the built-in plugins that hold one (redis,
// postgres): belt and braces, whatever a server echoes back into an error message.
#ifndef VITALS_PLUGINS_REDACT_HPP
#define VITALS_PLUGINS_REDACT_HPP

#include <vitals/plugin.hpp>

#include <string>

namespace vitals_plugins {

// `text` with every occurrence of `secret` replaced by "***" (nothing to do for an empty secret).
inline std::string redact(std::string text, const std::string& secret) {
    if (secret.empty()) return text;
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3))
        text.replace(pos, secret.size(), "***");
    return text;
}

// `r` with `secret` redacted from its output; status and observed value kept.
inline vitals::Result redact(const vitals::Result& r, const std::string& secret) {
    std::string out = redact(r.output(), secret);
    if (out == r.output()) return r;
    vitals::Result redacted = r.status() == vitals::Status::pass   ? vitals::Result::pass(out)
                              : r.status() == vitals::Status::warn ? vitals::Result::warn(out)
                                                                   : vitals::Result::fail(out);
    if (r.has_observed_value()) redacted.observed(r.observed_value(), r.observed_unit());
    if (!r.measurement_name().empty()) redacted.measurement(r.measurement_name());
    return redacted;
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_REDACT_HPP
