// libFuzzer target: secret scrubbing (scrub_secrets, core/src/common/text.cpp).
//
// An input is up to three secrets and a text, separated by '\n': "secret\nsecret\ntext". Besides
// sanitizer reports and the run's timeout (scrubbing once looped forever on a secret equal to or
// containing the mask "***"), the documented promises are checked: the result is what one
// left-to-right pass masking the longest secret at each position gives, it is never longer than
// the text when every secret is at least as long as the mask, and no secret free of '*' is left
// in it (one containing '*' can legitimately reappear next to a mask: "a" + "***" is "a***").
#include "common/text.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

void fail(const char* what) {
    std::fprintf(stderr, "fuzz_scrub: %s\n", what);
    std::abort();
}

std::string reference(const std::string& text, const std::vector<std::string>& secrets) {
    std::string out;
    for (size_t i = 0; i < text.size();) {
        size_t best = 0;
        for (const auto& s : secrets)
            if (!s.empty() && text.compare(i, s.size(), s) == 0) best = std::max(best, s.size());
        out += best ? std::string("***") : std::string(1, text[i]);
        i += best ? best : 1;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> secrets;
    size_t at = 0;
    for (int k = 0; k < 3; ++k) {
        size_t nl = input.find('\n', at);
        if (nl == std::string::npos) break;
        secrets.push_back(input.substr(at, nl - at));
        at = nl + 1;
    }
    const std::string original = input.substr(at);
    std::string text = original;
    vitals::scrub_secrets(text, secrets);
    if (text != reference(original, secrets)) fail("differs from one left-to-right pass");
    bool all_long = std::all_of(secrets.begin(), secrets.end(), [](const std::string& s) { return s.empty() || s.size() >= 3; });
    if (all_long && text.size() > original.size()) fail("scrubbing made the text longer");
    for (const auto& s : secrets)
        if (!s.empty() && s.find('*') == std::string::npos && text.find(s) != std::string::npos)
            fail("a secret is left in the text");
    return 0;
}
