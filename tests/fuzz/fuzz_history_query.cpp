// libFuzzer target: the /health/history query language (core/src/history/history_query.h).
//
// Each input is a query string ("check=api,db&since=-15m&limit=10"). It reaches
// parse_history_query two ways:
//   - decoded as the router does (Poco::URI(...).getQueryParameters(), percent-decoding included);
//   - split by hand on '&' and the first '=' without any decoding, so that bytes the URI decoder
//     would refuse (controls, high bytes, bare '%') reach the parser too.
// The configuration passed along has groups, so that group names in `check` are expanded. Every
// value is also given to parse_time_param and decode_cursor directly, and the cursor round-trips
// through encode_cursor. A sanitizer report, an uncaught exception (the router catches none from
// the parser) or a broken property is a finding.
#include "config/config.h"
#include "history/history_query.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

// 2026-11-24T01:30:00Z, a fixed "now" so runs are reproducible.
constexpr int64_t kNowMs = 1'795'483'800'000;

void fail(const char* what) {
    std::fprintf(stderr, "fuzz_history_query: %s\n", what);
    std::abort();
}

const vitals::Config& config_with_groups() {
    static const vitals::Config cfg = [] {
        const char* text = R"({
          "checks": [
            {"name": "api", "type": "http"}, {"name": "db", "type": "redis"}, {"name": "disk.root", "type": "disk"}
          ],
          "groups": {"alb": {"checks": ["api", "db"]}, "live": {"checks": ["api"], "drain": false}}
        })";
        return vitals::parse_config(text, vitals::process_env, "fuzz");
    }();
    return cfg;
}

void check_query(const vitals::QueryParams& params) {
    auto parsed = vitals::parse_history_query(params, kNowMs, &config_with_groups());
    if (auto* q = std::get_if<vitals::HistoryQuery>(&parsed)) {
        if (q->limit < 1 || q->limit > 1000) fail("limit out of range");
        if (q->since_ms && q->until_ms && *q->since_ms > *q->until_ms) fail("since after until");
        if (q->before_id && *q->before_id < 0) fail("negative cursor id");
    } else {
        const auto& err = std::get<vitals::QueryError>(parsed);
        if (err.message.empty()) fail("QueryError without a message");
    }
    for (const auto& [key, value] : params) {
        vitals::parse_time_param(value, kNowMs);
        if (auto id = vitals::decode_cursor(value)) {
            if (*id < 0) fail("decode_cursor returned a negative id");
            auto again = vitals::decode_cursor(vitals::encode_cursor(*id));
            if (!again || *again != *id) fail("cursor does not round-trip");
        }
    }
}

vitals::QueryParams split_raw(const std::string& query) {
    vitals::QueryParams params;
    size_t start = 0;
    while (start <= query.size()) {
        size_t amp = query.find('&', start);
        std::string part = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
        if (!part.empty()) {
            size_t eq = part.find('=');
            if (eq == std::string::npos)
                params.emplace_back(part, "");
            else
                params.emplace_back(part.substr(0, eq), part.substr(eq + 1));
        }
        if (amp == std::string::npos) break;
        start = amp + 1;
    }
    return params;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string query(reinterpret_cast<const char*>(data), size);

    check_query(split_raw(query));

    vitals::QueryParams decoded;
    try {
        for (const auto& kv : Poco::URI("/health/history?" + query).getQueryParameters()) decoded.push_back(kv);
    } catch (const Poco::Exception&) {
        return 0;  // the router answers 400
    }
    check_query(decoded);
    return 0;
}
