// The /health/history and `vitals history` query language (SPEC §6): parsing parameters,
// cursors and times, and the JSON answer.
#pragma once

#include "config/config.h"
#include "history/history_types.h"

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vitals {

struct QueryError {
    std::string parameter;  // the offending parameter's name
    std::string message;
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Parses query parameters. With a `config`, a group name in `check` expands to the group and its
// members, and a name that is neither a check nor a group of it is an error. Returns the query or
// the first bad parameter.
std::variant<HistoryQuery, QueryError> parse_history_query(const QueryParams& params, int64_t now_ms,
                                                           const Config* config);

// A `check` parameter's comma list, each a valid name and (with a config) a check or group of it.
// Returns the first problem, or nullopt with `names` set.
std::optional<QueryError> check_names(const std::string& key, const std::string& value, const Config* config,
                                     std::vector<std::string>& names);
std::vector<std::string> split_commas(const std::string& s);

// RFC 3339 ("2026-11-24T01:30:00Z", fraction and offset allowed), unix seconds ("1764000000"), or
// relative to now ("-15m", "-2h"). Unix milliseconds, or nullopt when malformed.
std::optional<int64_t> parse_time_param(const std::string& text, int64_t now_ms);

// Opaque paging cursors.
std::string encode_cursor(int64_t before_id);
std::optional<int64_t> decode_cursor(const std::string& cursor);

// {"items": [...], "next": "<cursor>"|null}
std::string history_page_json(const HistoryPage& page);

}  // namespace vitals
