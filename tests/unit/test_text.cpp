#include "common/text.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using vitals::utf8_sanitize;

TEST_CASE("valid UTF-8 passes through unchanged", "[text]") {
    CHECK(utf8_sanitize("plain ascii") == "plain ascii");
    CHECK(utf8_sanitize("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST_CASE("invalid UTF-8 becomes U+FFFD, one per bad byte", "[text]") {
    CHECK(utf8_sanitize("/\xff\xfe") == "/\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(utf8_sanitize("\xc3\x28") == "\xEF\xBF\xBD(");            // bad continuation
    CHECK(utf8_sanitize("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
    CHECK(utf8_sanitize("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    CHECK(utf8_sanitize("end\xE2\x82") == "end\xEF\xBF\xBD\xEF\xBF\xBD");            // truncated
}

namespace {

// The obvious specification of scrub_secrets, written independently: at each position of the
// original text the longest secret found there is masked, else the byte is kept.
std::string scrubbed_reference(const std::string& text, const std::vector<std::string>& secrets) {
    std::string out;
    for (size_t i = 0; i < text.size();) {
        size_t best = 0;
        for (const auto& s : secrets)
            if (!s.empty() && text.substr(i, s.size()) == s) best = std::max(best, s.size());
        out += best ? std::string("***") : std::string(1, text[i]);
        i += best ? best : 1;
    }
    return out;
}

}  // namespace

TEST_CASE("scrubbing ends when a secret is or contains the mask", "[text]") {
    // Each of these looped forever: the mask that replaced a secret was found again as the secret.
    std::string text = "password '***' (***)";
    vitals::scrub_secrets(text, {"***"});
    CHECK(text == "password '***' (***)");
    text = "a***b then a***b";
    vitals::scrub_secrets(text, {"a***b"});
    CHECK(text == "*** then ***");
    text = "x****y";
    vitals::scrub_secrets(text, {"****", "***"});
    CHECK(text == "x***y");
    text = "hunter2 and ***";
    vitals::scrub_secrets(text, {"hunter2", "***"});
    CHECK(text == "*** and ***");
}

TEST_CASE("scrubbing masks the longest secret at each position, once", "[text]") {
    std::string text = "token=abcdef; abc";
    vitals::scrub_secrets(text, {"abc", "abcdef"});
    CHECK(text == "token=***; ***");
    text = "nothing secret here";
    vitals::scrub_secrets(text, {"hunter2"});
    CHECK(text == "nothing secret here");
    text = "";
    vitals::scrub_secrets(text, {"***"});
    CHECK(text.empty());
}

TEST_CASE("scrubbing: random texts and secrets over a small alphabet (property test)", "[text]") {
    // A small alphabet with '*' makes secrets overlap each other and the mask often. Properties:
    // it ends, agrees with the reference, never grows the text, and leaves no secret free of '*'
    // (one that contains '*' may reappear next to a mask: "a" + "***" is the secret "a***"). Secrets
    // are 3 bytes or more, as secret_values() keeps them.
    std::mt19937 rng(14);
    const char alphabet[] = "ab*";
    auto word = [&](size_t min, size_t max) {
        std::string w(std::uniform_int_distribution<size_t>(min, max)(rng), 'a');
        for (char& c : w) c = alphabet[std::uniform_int_distribution<int>(0, 2)(rng)];
        return w;
    };
    for (int round = 0; round < 20000; ++round) {
        std::vector<std::string> secrets;
        for (int k = std::uniform_int_distribution<int>(1, 3)(rng); k > 0; --k) secrets.push_back(word(3, 5));
        if (round % 7 == 0) secrets.push_back("");  // ignored
        const std::string original = word(0, 24);
        std::string text = original;
        vitals::scrub_secrets(text, secrets);
        INFO("text '" << original << "', secrets " << secrets.size() << ": '" << secrets[0] << "'...");
        REQUIRE(text == scrubbed_reference(original, secrets));
        REQUIRE(text.size() <= original.size());  // secrets are at least as long as the mask
        for (const auto& s : secrets)
            if (!s.empty() && s.find('*') == std::string::npos) REQUIRE(text.find(s) == std::string::npos);
    }
}
