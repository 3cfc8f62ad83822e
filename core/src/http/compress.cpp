#include "http/compress.h"

#include <Poco/DeflatingStream.h>

#include <algorithm>
#include <sstream>

namespace vitals {

std::string gzip(std::string_view data, int level) {
    std::ostringstream out;
    {
        Poco::DeflatingOutputStream z(out, Poco::DeflatingStreamBuf::STREAM_GZIP, level);
        z.write(data.data(), std::streamsize(data.size()));
        z.close();
    }
    return std::move(out).str();
}

void compress_response(const HttpRequest& req, HttpResponse& r, int level) {
    if (r.body.size() < kCompressMinBytes) return;
    auto has = [&](const char* name) {
        return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) { return h.first == name; });
    };
    if (!has("Vary")) r.headers.emplace_back("Vary", "Accept-Encoding");
    if (!req.accepts_gzip || has("Content-Encoding")) return;
    r.body = gzip(r.body, level);
    r.headers.emplace_back("Content-Encoding", "gzip");
}

}  // namespace vitals
