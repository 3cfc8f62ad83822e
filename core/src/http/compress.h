// gzip for the health port's larger answers (RFC 9110 §8.4.1, §12.5.3): the dashboard's page,
// assets and data, and the history-backed JSON endpoints, when the client's Accept-Encoding takes
// gzip. Status answers and /metrics are never compressed: they are sent as rendered.
#pragma once

#include "http/request_head.h"
#include "http/router.h"

#include <string>
#include <string_view>

namespace vitals {

// `data` as a gzip member (RFC 1952) at zlib level `level` (1 fastest .. 9 smallest).
std::string gzip(std::string_view data, int level);

// Bodies below this are sent as they are: a gzip header and the framing would save next to nothing.
constexpr size_t kCompressMinBytes = 1024;

// Compresses `r.body` in place when `req` accepts gzip, the body is at least kCompressMinBytes and
// not already encoded; adds Content-Encoding. Adds Vary: Accept-Encoding to every body it could
// have compressed, so a cache in between keeps the two apart.
void compress_response(const HttpRequest& req, HttpResponse& r, int level = 1);

}  // namespace vitals
