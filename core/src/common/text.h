// Text hygiene for what reaches JSON bodies and logs.
#pragma once

#include <string>

namespace vitals {

// Returns `s` with every byte sequence that is not valid UTF-8 replaced by U+FFFD, so JSON built
// from it is valid (a plugin's output or a request path can hold any bytes).
std::string utf8_sanitize(const std::string& s);

}  // namespace vitals
