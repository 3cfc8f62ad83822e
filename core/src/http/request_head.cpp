#include "http/request_head.h"

#include <vitals_plugins/text.hpp>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/optional.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <new>
#include <optional>

namespace vitals {

namespace http = boost::beast::http;
using vitals_plugins::iequals;
using boost::beast::string_view;

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 §5.2.4 on a decoded absolute path ("/a/./b/../c" → "/a/c").
std::string remove_dot_segments(const std::string& in) {
    std::string out;
    out.reserve(in.size());
    size_t i = 0;
    while (i < in.size()) {
        size_t next = in.find('/', i + 1);
        std::string_view seg(in.data() + i + 1, (next == std::string::npos ? in.size() : next) - i - 1);
        if (seg == ".") {
            if (next == std::string::npos) out += '/';
        } else if (seg == "..") {
            size_t cut = out.rfind('/');
            out.resize(cut == std::string::npos ? 0 : cut);
            if (next == std::string::npos) out += '/';
        } else {
            out += '/';
            out.append(seg.data(), seg.size());
        }
        if (next == std::string::npos) break;
        i = next;
    }
    return out.empty() ? "/" : out;
}

// RFC 9112 §3.2 / RFC 3986 §3.2.2: uri-host [ ":" port ]; empty is valid (a target without
// authority). What the Host field may hold, so that a value a proxy would read another way is refused.
bool valid_host(std::string_view h) {
    if (h.empty()) return true;
    size_t colon;
    if (h[0] == '[') {
        size_t close = h.find(']');
        if (close == std::string_view::npos) return false;
        for (char c : h.substr(1, close - 1))
            if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
        colon = close + 1;
        if (colon < h.size() && h[colon] != ':') return false;
    } else {
        colon = h.find(':');
        for (char c : h.substr(0, colon)) {
            if (std::isalnum(static_cast<unsigned char>(c))) continue;
            if (!std::strchr("-._~%!$&'()*+,;=", c) || c == '\0') return false;
        }
    }
    if (colon < h.size())
        for (char c : h.substr(colon + 1))
            if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

}  // namespace

bool accepts_gzip(std::string_view value) {
    std::optional<bool> gzip, star;
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view element = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        size_t semi = element.find(';');
        std::string_view coding = trim(element.substr(0, semi));
        bool acceptable = true;  // q defaults to 1
        while (semi != std::string_view::npos) {
            std::string_view rest = element.substr(semi + 1);
            semi = rest.find(';');
            std::string_view param = trim(rest.substr(0, semi));
            if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
                // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ): above 0 unless all zeros
                std::string_view q = param.substr(2);
                acceptable = q.find_first_not_of("0.") != std::string_view::npos;
            }
            element = rest;
        }
        if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
            gzip = gzip.value_or(false) || acceptable;
        else if (coding == "*")
            star = acceptable;
    }
    return gzip ? *gzip : star.value_or(false);
}

bool normalize_target(std::string_view target, std::string& path, std::string& query, std::string& why) {
    std::string_view raw = target;
    if (raw.size() >= 7 && (iequals(raw.substr(0, 7), "http://") || (raw.size() >= 8 && iequals(raw.substr(0, 8), "https://")))) {
        // absolute-form (RFC 9112 §3.2.2): the path starts after the authority ("http://x" is "/").
        raw.remove_prefix(raw[4] == ':' ? 7 : 8);
        size_t end_of_authority = raw.find_first_of("/?#");
        if (end_of_authority == std::string_view::npos) {
            raw = "/";
        } else {
            raw.remove_prefix(end_of_authority);
            if (raw[0] != '/') {  // "http://x?q": path "/" with the query
                if (raw[0] == '#') {
                    why = "a request target has no fragment ('#')";
                    return false;
                }
                path = "/";
                query.assign(raw.substr(1));
                return true;
            }
        }
    } else if (raw == "*") {
        path = "*";  // asterisk-form: OPTIONS on the server as a whole; nothing is routed there
        query.clear();
        return true;
    } else if (raw.empty() || raw[0] != '/') {
        why = "the request target must be a path (origin-form) or an absolute http URI";
        return false;
    }
    size_t q = raw.find('?');
    std::string_view p = raw.substr(0, q);
    query.assign(q == std::string_view::npos ? std::string_view() : raw.substr(q + 1));
    if (p.find('#') != std::string_view::npos || query.find('#') != std::string::npos) {
        why = "a request target has no fragment ('#')";
        return false;
    }
    std::string decoded;
    decoded.reserve(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] != '%') {
            decoded += p[i];
            continue;
        }
        int hi = i + 2 < p.size() ? hex_value(p[i + 1]) : -1;
        int lo = i + 2 < p.size() ? hex_value(p[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            why = "the request target has a malformed percent-encoding";
            return false;
        }
        char c = char(hi * 16 + lo);
        if (c == '\0') {
            why = "the request target encodes a NUL byte";
            return false;
        }
        decoded += c;
        i += 2;
    }
    path = decoded.find("/.") == std::string::npos ? std::move(decoded) : remove_dot_segments(decoded);
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    return true;
}

// Beast's parser with the fields the router reads kept, and the rules Beast leaves to its user.
struct RequestParser::Impl : http::basic_parser<true> {
    HttpRequest req;
    int hosts = 0;
    int authorizations = 0;
    bool has_transfer_encoding = false;
    std::string transfer_encoding;  // every Transfer-Encoding field, joined with ","
    std::string accept_encoding;    // every Accept-Encoding field, joined with ","
    std::optional<std::string> expect;
    bool expect_continue = false;
    bool continue_answered = false;
    bool skipped_empty_lines = false;
    bool read_as_http11 = false;  // the request line said HTTP/1.x with x > 1

    // A check of the head's bytes as they arrive, before Beast sees them: a bare LF or a bare CR is
    // refused at once (RFC 9112 §2.2 lets a server refuse a bare LF and requires refusing a bare
    // CR; Beast would notice only once a CRLF CRLF arrives, which such a client may never send), and
    // so is obs-fold (§5.2: refuse it with 400, or replace it; Beast replaces it, and a proxy in
    // front may have read the folded line as a field of its own).
    struct HeadScan {
        size_t ahead = 0;        // bytes at the front of the next input already scanned
        bool cr = false;         // the last byte was CR
        bool line_start = true;  // at the first byte of a line
        bool done = false;       // the blank line ending the head was seen
    } scan;

    // Returns the reason to refuse `in`, or nullptr.
    const char* scan_head(std::string_view in, size_t limit) {
        HeadScan& h = scan;
        for (size_t i = h.ahead; i < in.size() && i < limit && !h.done; ++i) {
            char c = in[i];
            h.ahead = i + 1;
            if (h.cr) {
                h.cr = false;
                if (c != '\n') return "line endings must be CRLF (a bare CR)";
                h.done = h.line_start;  // an empty line: the head is complete
                h.line_start = true;
                continue;
            }
            if (c == '\r') {
                h.cr = true;
                continue;
            }
            if (c == '\n') return "line endings must be CRLF (a bare LF)";
            if (h.line_start && (c == ' ' || c == '\t'))
                return "obsolete line folding (a line starting with whitespace) is not accepted";
            h.line_start = false;
        }
        return nullptr;
    }
    // Our own verdict, when a rule of ours (not Beast's) refuses the request.
    int fail_code = 0;
    std::string fail_reason;

    void refuse(int code, std::string why, boost::system::error_code& ec) {
        fail_code = code;
        fail_reason = std::move(why);
        ec = http::error::bad_value;  // stops the parser; fail_code says what to answer
    }

    void on_request_impl(http::verb, string_view method, string_view target, int version,
                         boost::system::error_code& ec) override {
        req.method.assign(method.data(), method.size());
        req.target.assign(target.data(), target.size());
        req.version = version;
        std::string why;
        if (!normalize_target(std::string_view(target.data(), target.size()), req.path, req.query, why))
            return refuse(400, why, ec);
        // RFC 9112 §3.2.4: the asterisk-form is only for OPTIONS.
        if (req.path == "*" && method != "OPTIONS") refuse(400, "the request target * is only for OPTIONS", ec);
    }

    void on_response_impl(int, string_view, int, boost::system::error_code&) override {}

    void on_field_impl(http::field f, string_view, string_view value, boost::system::error_code& ec) override {
        std::string_view v(value.data(), value.size());
        switch (f) {
        case http::field::host:
            if (++hosts == 1 && !valid_host(v)) return refuse(400, "the Host field is not a host[:port]", ec);
            break;
        case http::field::authorization:
            if (++authorizations > 1) return refuse(400, "more than one Authorization field", ec);
            req.authorization.assign(v);
            break;
        case http::field::user_agent:
            req.user_agent.assign(v);
            break;
        case http::field::accept_encoding:
            if (!accept_encoding.empty()) accept_encoding += ',';
            accept_encoding.append(v);
            break;
        case http::field::transfer_encoding:
            has_transfer_encoding = true;
            if (!transfer_encoding.empty()) transfer_encoding += ',';
            transfer_encoding.append(v);
            break;
        case http::field::expect:
            if (expect) return refuse(417, "more than one Expect field", ec);
            expect.emplace(v);
            break;
        default:
            break;
        }
    }

    void on_header_impl(boost::system::error_code& ec) override {
        req.accepts_gzip = vitals::accepts_gzip(accept_encoding);
        if (req.version == 11 && hosts != 1)
            return refuse(400, hosts == 0 ? "an HTTP/1.1 request needs a Host field"
                                          : "more than one Host field", ec);
        if (hosts > 1) return refuse(400, "more than one Host field", ec);
        if (has_transfer_encoding) {
            if (req.version == 10) return refuse(400, "Transfer-Encoding in an HTTP/1.0 request", ec);
            // RFC 9112 §6.3: unless chunked is the final coding the length cannot be known (400);
            // §6.1: a coding we do not implement before it (501). Beast frames chunked itself.
            std::vector<std::string_view> codings;
            std::string_view rest = transfer_encoding;
            while (true) {
                size_t comma = rest.find(',');
                std::string_view c = trim(rest.substr(0, comma));
                if (!c.empty()) codings.push_back(c);
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
            if (codings.empty() || !iequals(codings.back(), "chunked"))
                return refuse(400, "Transfer-Encoding must end with chunked", ec);
            if (codings.size() > 1) return refuse(501, "only the chunked transfer coding is implemented", ec);
        }
        if (expect && req.version == 11 && !trim(*expect).empty()) {  // an empty list expects nothing
            if (!iequals(trim(*expect), "100-continue"))
                return refuse(417, "only \"Expect: 100-continue\" is understood", ec);
            expect_continue = true;
        }
        req.keep_alive = keep_alive();
    }

    void on_body_init_impl(boost::optional<std::uint64_t> const&, boost::system::error_code&) override {}
    std::size_t on_body_impl(string_view body, boost::system::error_code&) override { return body.size(); }
    void on_chunk_header_impl(std::uint64_t, string_view, boost::system::error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, boost::system::error_code&) override {
        return body.size();
    }
    void on_finish_impl(boost::system::error_code&) override {}
};

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) { reset(); }

RequestParser::~RequestParser() = default;

void RequestParser::reset() {
    // Made anew in place for each request (Beast's parser cannot be reset): no allocation per
    // request on a kept-alive connection beyond the strings the request needs.
    if (impl_) {
        impl_->~Impl();
        new (impl_.get()) Impl();
    } else {
        impl_ = std::make_unique<Impl>();
    }
    impl_->header_limit(std::uint32_t(std::min<size_t>(limits_.max_header_bytes, UINT32_MAX)));
    impl_->body_limit(std::uint64_t(limits_.max_body_bytes));
    impl_->eager(false);  // stop after the head: Expect: 100-continue is answered before the body
    consumed_ = 0;
    error_code_ = 0;
    error_.clear();
}

bool RequestParser::started() const { return impl_->got_some() || impl_->skipped_empty_lines; }

const HttpRequest& RequestParser::request() const { return impl_->req; }

void RequestParser::continue_sent() { impl_->continue_answered = true; }

ParseStatus RequestParser::parse(std::string_view in) {
    Impl& p = *impl_;
    consumed_ = 0;
    // RFC 9112 §2.2: empty lines before the request line are ignored.
    if (!p.got_some()) {
        while (in.size() >= 2 && in[0] == '\r' && in[1] == '\n') {
            in.remove_prefix(2);
            consumed_ += 2;
            p.skipped_empty_lines = true;
        }
        if (in.empty() || (in.size() == 1 && in[0] == '\r')) return ParseStatus::incomplete;
    }
    auto fail = [&](int code, std::string why) {
        error_code_ = code;
        error_ = std::move(why);
        return ParseStatus::error;
    };
    if (const char* why = p.scan_head(in, limits_.max_header_bytes + 1)) return fail(400, why);
    while (!p.is_done()) {
        boost::system::error_code ec;
        size_t n = p.put(boost::asio::const_buffer(in.data(), in.size()), ec);
        in.remove_prefix(n);
        consumed_ += n;
        p.scan.ahead -= std::min(p.scan.ahead, n);  // consumed bytes leave the caller's buffer
        if (ec == http::error::need_more) {
            if (p.is_header_done() && p.expect_continue && !p.continue_answered) return ParseStatus::continue_expected;
            return ParseStatus::incomplete;
        }
        if (ec) {
            if (p.fail_code) return fail(p.fail_code, p.fail_reason);
            if (ec == http::error::header_limit)
                return fail(431, "request head larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
            if (ec == http::error::body_limit)
                return fail(413, "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
            if (ec == http::error::bad_version) {
                // The request line's last word. "HTTP/" DIGIT "." DIGIT that is not 1.0 or 1.1: a higher
                // 1.x is read as 1.1 (RFC 9110 §2.5: the highest minor version we implement), another
                // major version is understood and not supported (505); anything else is malformed.
                std::string_view line = in.substr(0, in.find("\r\n"));
                std::string_view v = line.size() > 9 ? line.substr(line.size() - 8) : std::string_view();
                // One SP before it, as in the rest of the line (RFC 9112 §3).
                bool well_formed = v.size() == 8 && v.substr(0, 5) == "HTTP/" && line[line.size() - 9] == ' ' &&
                                   line[line.size() - 10] != ' ' && std::isdigit(static_cast<unsigned char>(v[5])) &&
                                   v[6] == '.' && std::isdigit(static_cast<unsigned char>(v[7]));
                bool supported = well_formed && v[5] == '1' && (v[7] == '0' || v[7] == '1');
                if (well_formed && v[5] == '1' && !supported && !p.read_as_http11) {
                    std::string as_http11(in);
                    as_http11[line.size() - 1] = '1';
                    size_t before = consumed_;
                    bool skipped = p.skipped_empty_lines;
                    reset();
                    impl_->read_as_http11 = true;
                    impl_->skipped_empty_lines = skipped;
                    ParseStatus again = parse(as_http11);
                    consumed_ += before;
                    return again;
                }
                if (well_formed && !supported) return fail(505, "HTTP/1.0 and HTTP/1.1 only");
                return fail(400, "malformed request line (method SP target SP HTTP/DIGIT.DIGIT CRLF)");
            }
            if (ec == http::error::bad_line_ending) return fail(400, "line endings must be CRLF");
            if (ec == http::error::bad_content_length) return fail(400, "invalid or conflicting Content-Length");
            if (ec == http::error::bad_transfer_encoding)
                return fail(400, "Transfer-Encoding repeated or together with Content-Length");
            if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension)
                return fail(400, "malformed chunked body");
            if (ec == http::error::bad_method) return fail(400, "malformed method in the request line");
            if (ec == http::error::bad_target) return fail(400, "malformed request target");
            if (ec == http::error::bad_field) return fail(400, "malformed header field name");
            if (ec == http::error::bad_value) return fail(400, "malformed header field value");
            return fail(400, "malformed request: " + ec.message());
        }
        if (!p.is_done() && p.is_header_done()) {
            p.eager(true);  // the head is in: parse the body as it comes
            if (p.expect_continue && !p.continue_answered && in.empty()) return ParseStatus::continue_expected;
        }
        if (n == 0 && !p.is_done()) return ParseStatus::incomplete;
    }
    return ParseStatus::complete;
}

}  // namespace vitals
