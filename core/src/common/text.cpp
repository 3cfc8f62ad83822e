#include "common/text.h"

#include <vitals_plugins/text.hpp>

#include <utility>

namespace vitals {

std::string utf8_sanitize(const std::string& s) { return vitals_plugins::clean_utf8(s); }

void scrub_secrets(std::string& text, const std::vector<std::string>& secrets) {
    if (secrets.empty()) return;
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        size_t longest = 0;
        for (const auto& secret : secrets)
            if (secret.size() > longest && text.compare(i, secret.size(), secret) == 0) longest = secret.size();
        if (longest > 0) {
            out += kSecretMask;
            i += longest;
        } else {
            out += text[i++];
        }
    }
    text = std::move(out);
}

}  // namespace vitals
