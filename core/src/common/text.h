// Text hygiene for what reaches JSON bodies and logs.
#pragma once

#include <string>
#include <vector>

namespace vitals {

// Returns `s` with every byte sequence that is not valid UTF-8 replaced by U+FFFD, so JSON built
// from it is valid (a plugin's output or a request path can hold any bytes). The one UTF-8 rule,
// shared with the plugins: vitals_plugins::clean_utf8 (plugins/common).
std::string utf8_sanitize(const std::string& s);

// The text secrets are replaced with.
inline constexpr const char* kSecretMask = "***";

// Replaces every occurrence of each secret in `text` with kSecretMask, in one left-to-right pass
// over the original text (the longest secret starting at a position wins; what was replaced is
// never looked at again), so it ends for every input, a secret that is or contains the mask
// included. Empty secrets are ignored.
void scrub_secrets(std::string& text, const std::vector<std::string>& secrets);

}  // namespace vitals
