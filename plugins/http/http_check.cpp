// http: one request to an upstream (following up to 5 redirects if asked), then: status within
// ranges ("200-299,304"), optional body substring and regular expression, a latency warning, TLS
// verification and a certificate-expiry warning — all bounded by the host's deadline.
//
// HTTP and TLS are Poco's (HTTPClientSession over NetSSL's SecureStreamSocket for https, one NetSSL
// Context per check); vitals_plugins/net_client.hpp (plugins/common, shared with plugins/websocket)
// prepares the connection they run on (deadline-bounded resolve and connect, a guard that cuts the
// connection at the deadline, certificate verification).
//
// body_regex uses PCRE2 rather than std::regex: libstdc++'s std::regex matches recursively and
// overflows an 8 MiB thread stack — a segfault of the whole daemon — on a 64 KiB body with a pattern
// as plain as "a*ok" (measured with GCC 12). PCRE2 (10.30+) matches on the heap, and the limits set
// below turn a pathological pattern into a failed check instead of a crash or a hang.
#include <vitals_plugins/net_client.hpp>
#include <vitals_plugins/text.hpp>
#include <vitals_plugins/url.hpp>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>

#include <istream>
#include <ostream>

namespace {

using namespace vitals_plugins;

constexpr int kMaxRedirects = 5;
constexpr int64_t kMaxBodyLimit = 16 * 1024 * 1024;
constexpr const char* kUserAgent = "vitals-http/0.1.0";

// ---- expect_status -----------------------------------------------------------------------------

// "200-299,304": a comma-separated list of codes and inclusive ranges, each within 100-599.
class StatusRanges {
public:
    explicit StatusRanges(const std::string& text) {
        size_t from = 0;
        for (;;) {
            size_t comma = text.find(',', from);
            std::string part = trim(text.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
            add(part, text);
            if (comma == std::string::npos) break;
            from = comma + 1;
        }
    }
    bool contains(int status) const {
        for (const auto& r : ranges_)
            if (status >= r.first && status <= r.second) return true;
        return false;
    }
    const std::string& text() const { return text_; }

private:
    static std::string trim(const std::string& s) {
        size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
        return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    }
    static bool code(const std::string& s, int& out) {
        if (s.size() != 3 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
        out = std::stoi(s);
        return out >= 100 && out <= 599;
    }
    void add(const std::string& part, const std::string& whole) {
        auto bad = [&](const std::string& why) {
            return std::runtime_error("expect_status: " + why + " in '" + printable(whole) +
                                      "' (expected codes and ranges such as \"200-299,304\")");
        };
        if (part.empty()) throw bad("empty entry");
        size_t dash = part.find('-');
        int lo = 0, hi = 0;
        if (dash == std::string::npos) {
            if (!code(part, lo)) throw bad("'" + printable(part) + "' is not a status code (100-599)");
            hi = lo;
        } else {
            if (!code(trim(part.substr(0, dash)), lo) || !code(trim(part.substr(dash + 1)), hi))
                throw bad("'" + printable(part) + "' is not a range of status codes (100-599)");
            if (lo > hi) throw bad("range '" + printable(part) + "' is reversed");
        }
        ranges_.emplace_back(lo, hi);
        text_ += (text_.empty() ? "" : ",") + (lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi));
    }

    std::vector<std::pair<int, int>> ranges_;
    std::string text_;  // normalised, for messages: "200-299,304"
};

// ---- body_regex --------------------------------------------------------------------------------

// A compiled PCRE2 pattern (Perl syntax; UTF-8, tolerant of invalid UTF-8 in the body).
class BodyRegex {
public:
    explicit BodyRegex(const std::string& pattern) {
        int code = 0;
        PCRE2_SIZE offset = 0;
        code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &offset, nullptr);
        if (!code_)
            throw std::runtime_error("body_regex: " + message(code) + " at offset " + std::to_string(offset) + " in '" +
                                     printable(pattern) + "'");
        context_ = pcre2_match_context_create(nullptr);
        if (!context_) {
            pcre2_code_free(code_);
            throw std::runtime_error("body_regex: out of memory");
        }
        // A tenth of PCRE2's default match limit (a few tens of ms of backtracking at most), and
        // 64 MiB of backtracking memory instead of the default 20 GiB.
        pcre2_set_match_limit(context_, 1000000);
        pcre2_set_heap_limit(context_, 64 * 1024);  // KiB
    }
    ~BodyRegex() {
        pcre2_match_context_free(context_);
        pcre2_code_free(code_);
    }
    BodyRegex(const BodyRegex&) = delete;
    BodyRegex& operator=(const BodyRegex&) = delete;

    // 1: found, 0: not found, -1: the match was abandoned (`error` says why).
    int search(const std::string& subject, std::string& error) const {
        pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_, nullptr);
        if (!data) {
            error = "out of memory";
            return -1;
        }
        int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, data, context_);
        pcre2_match_data_free(data);
        if (rc >= 0) return 1;
        if (rc == PCRE2_ERROR_NOMATCH) return 0;
        error = message(rc);
        return -1;
    }

private:
    static std::string message(int code) {
        PCRE2_UCHAR buf[256];
        if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return "error " + std::to_string(code);
        return reinterpret_cast<const char*>(buf);
    }
    pcre2_code* code_ = nullptr;
    pcre2_match_context* context_ = nullptr;
};

// ---- One request/response ----------------------------------------------------------------------

bool is_redirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

// Headers not forwarded to another origin on a redirect (as curl and browsers do).
bool is_credential_header(const std::string& name) {
    return iequals(name, "Authorization") || iequals(name, "Proxy-Authorization") || iequals(name, "Cookie");
}

struct Exchange {
    int status = 0;
    std::string reason;
    std::string location;
    std::string body;         // at most max_body_bytes
    bool truncated = false;   // the body was longer than what we read
};

// ---- The check ---------------------------------------------------------------------------------

// Observed value: milliseconds from the start of the run until the response body was read (or
// max_body_bytes of it), redirects included.
class HttpCheck : public vitals::Check {
public:
    explicit HttpCheck(const vitals::Options& o)
        : url_(parse_url(o.string("url"), "url", {"http", "https"})),
          method_(o.string("method")),
          headers_(o.string_map("headers")),
          expect_status_(o.string("expect_status")),
          follow_redirects_(o.boolean("follow_redirects")),
          tls_verify_(o.boolean("tls_verify")),
          cert_expiry_warn_days_(o.integer("cert_expiry_warn_days")),
          max_body_bytes_(o.integer("max_body_bytes")) {
        if (!is_token(method_)) throw std::runtime_error("method '" + printable(method_) + "' is not a valid HTTP method");
        check_headers(headers_, {"Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "TE"});
        if (url_.has_credentials)
            for (const auto& h : headers_)
                if (iequals(h.first, "Authorization"))
                    throw std::runtime_error("headers: 'Authorization' conflicts with the user info in url");
        if (o.has("body")) {
            has_body_ = true;
            body_ = o.string("body");
        }
        if (max_body_bytes_ < 0 || max_body_bytes_ > kMaxBodyLimit)
            throw std::runtime_error("max_body_bytes must be between 0 and " + std::to_string(kMaxBodyLimit) + " (got " +
                                     std::to_string(max_body_bytes_) + ")");
        const bool reads_body = o.has("body_contains") || o.has("body_regex");
        if (reads_body && method_ == "HEAD") throw std::runtime_error("body_contains/body_regex need a body: HEAD responses have none");
        if (reads_body && max_body_bytes_ == 0) throw std::runtime_error("body_contains/body_regex need max_body_bytes > 0");
        if (o.has("body_contains")) {
            body_contains_ = o.string("body_contains");
            if (body_contains_.empty()) throw std::runtime_error("body_contains must not be empty (omit it to skip the check)");
        }
        if (o.has("body_regex")) {
            body_regex_text_ = o.string("body_regex");
            if (body_regex_text_.empty()) throw std::runtime_error("body_regex must not be empty (omit it to skip the check)");
            body_regex_ = std::make_unique<BodyRegex>(body_regex_text_);
        }
        if (o.has("warn_latency")) {
            warn_latency_ = o.duration("warn_latency");
            if (warn_latency_->count() <= 0) throw std::runtime_error("warn_latency must be positive");
        }
        if (cert_expiry_warn_days_ < 0 || cert_expiry_warn_days_ > 3650)
            throw std::runtime_error("cert_expiry_warn_days must be between 0 (no warning) and 3650 (got " +
                                     std::to_string(cert_expiry_warn_days_) + ")");
        const std::string ca_file = o.string_or("ca_file", "");
        // TLS is set up now, so that a bad ca_file is a configuration error, and whenever a redirect may lead to https.
        if (url_.secure() || follow_redirects_ || !ca_file.empty()) tls_ = std::make_unique<TlsClient>(tls_verify_, ca_file);
    }

    vitals::Result run(vitals::Deadline deadline) override {
        SigpipeBlock no_sigpipe;
        Budget budget(deadline);
        Url url = url_;
        std::string method = method_;
        bool has_body = has_body_;
        int redirects = 0;
        Exchange ex;
        std::optional<PeerCertificate> earliest_cert;  // over every TLS connection of this run
        // Once a response has arrived, failures carry the latency too.
        auto fail = [&](const std::string& text) { return vitals::Result::fail(text).observed(ms_since(budget.start), "ms"); };

        for (;;) {
            std::string error;
            PeerCertificate cert;
            if (!exchange(url, method, has_body, budget, ex, cert, error)) return vitals::Result::fail(error);
            if (cert.present && (!earliest_cert || cert.not_after < earliest_cert->not_after)) earliest_cert = cert;
            if (!follow_redirects_ || !is_redirect(ex.status) || ex.location.empty()) break;
            if (redirects == kMaxRedirects)
                return fail("too many redirects (more than " + std::to_string(kMaxRedirects) + "); the last one to " +
                            redirect_target_text(url, ex.location));
            Url next;
            try {
                next = resolve_redirect(url, ex.location);
            } catch (const std::exception& e) {
                return fail(std::string(e.what()));
            }
            // 303, and 301/302 after a POST, continue with GET (RFC 9110 15.4, what clients do).
            if ((ex.status == 303 && method != "HEAD") || ((ex.status == 301 || ex.status == 302) && method == "POST")) {
                method = "GET";
                has_body = false;
            }
            url = next;
            ++redirects;
        }

        const double latency = ms_since(budget.start);
        auto observed = [latency](vitals::Result r) { return r.observed(latency, "ms"); };
        const std::string status_text = std::to_string(ex.status) + (ex.reason.empty() ? "" : " " + printable(ex.reason, 40));

        if (!expect_status_.contains(ex.status)) {
            std::string text = "status " + std::to_string(ex.status) + " not in " + expect_status_.text();
            if (is_redirect(ex.status) && !ex.location.empty() && !follow_redirects_)
                text += " (redirect to " + redirect_target_text(url, ex.location) + "; follow_redirects is off)";
            return observed(vitals::Result::fail(text));
        }
        const std::string scope = ex.truncated ? " (in the first " + std::to_string(ex.body.size()) + " bytes)" : "";
        if (!body_contains_.empty() && ex.body.find(body_contains_) == std::string::npos)
            return observed(vitals::Result::fail("body does not contain '" + printable(body_contains_) + "'" + scope));
        if (body_regex_) {
            std::string error;
            int found = body_regex_->search(ex.body, error);
            if (found < 0) return observed(vitals::Result::fail("body_regex: matching abandoned: " + error));
            if (found == 0)
                return observed(vitals::Result::fail("body does not match body_regex '" + printable(body_regex_text_) + "'" + scope));
        }

        std::vector<std::string> warnings;
        std::string cert_note;
        if (earliest_cert) {
            const double left = std::difftime(earliest_cert->not_after, std::time(nullptr));
            const std::string which = earliest_cert->is_leaf ? "certificate" : "certificate '" + earliest_cert->subject + "'";
            const std::string detail = " (notAfter " + utc_text(earliest_cert->not_after) +
                                       (earliest_cert->is_leaf ? ", " + earliest_cert->subject : "") + ")";
            if (left <= 0)
                return observed(vitals::Result::fail(which + " expired " + span_text(left) + " ago" + detail));
            if (cert_expiry_warn_days_ > 0 && left < static_cast<double>(cert_expiry_warn_days_) * 86400)
                warnings.push_back(which + " expires in " + span_text(left) + detail);
            else
                cert_note = ", certificate valid for " + span_text(left);
        }
        if (warn_latency_ && latency > static_cast<double>(warn_latency_->count()))
            warnings.push_back("latency " + std::to_string(std::llround(latency)) + " ms above warn_latency " +
                               std::to_string(warn_latency_->count()) + " ms");
        if (!warnings.empty()) {
            std::string text;
            for (const auto& w : warnings) text += (text.empty() ? "" : "; ") + w;
            return observed(vitals::Result::warn(text));
        }
        std::string summary = status_text + " in " + format_ms(latency);
        if (redirects > 0) summary += " after " + std::to_string(redirects) + (redirects == 1 ? " redirect" : " redirects");
        return observed(vitals::Result::pass(summary + cert_note));
    }

private:
    // One request on a fresh connection. Returns false with `error` set on a transport failure.
    bool exchange(const Url& url, const std::string& method, bool has_body, const Budget& budget, Exchange& out,
                  PeerCertificate& cert, std::string& error) const {
        out = Exchange{};
        std::optional<Connection> conn = open_connection(url, tls_.get(), budget, error);
        if (!conn) return false;
        cert = conn->peer;
        // HTTPClientSession over the connected socket, plain or TLS alike. (Poco 1.11's
        // HTTPSClientSession(const SecureStreamSocket&) throws "Illegal state" on a connected socket:
        // its constructor calls setPort(). It adds nothing we need without a proxy.)
        auto session = std::make_unique<Poco::Net::HTTPClientSession>(conn->socket());

        const bool same_origin = url.same_origin(url_);
        Poco::Net::HTTPRequest request(method, url.target, Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Host", url.host_header());
        request.set("User-Agent", kUserAgent);
        request.set("Accept", "*/*");
        for (const auto& h : headers_)
            if (same_origin || !is_credential_header(h.first)) request.set(h.first, h.second);
        // Credentials from the URL go only to the URL's own origin (a redirect elsewhere drops them,
        // unless its Location carries its own).
        if (url.has_credentials) Poco::Net::HTTPBasicCredentials(url.user, url.password).authenticate(request);
        else if (same_origin && url_.has_credentials)
            Poco::Net::HTTPBasicCredentials(url_.user, url_.password).authenticate(request);
        request.setKeepAlive(false);  // one request per connection: the server closes after the body
        if (has_body) request.setContentLength(static_cast<std::streamsize>(body_.size()));

        const std::string peer = url.endpoint();
        auto sent = Clock::now();
        Poco::Net::HTTPResponse response;
        std::istream* body = nullptr;
        try {
            set_io_timeouts(conn->fd(), budget.soft);
            std::ostream& os = session->sendRequest(request);
            if (has_body) os.write(body_.data(), static_cast<std::streamsize>(body_.size()));
            sent = Clock::now();
            body = &session->receiveResponse(response);
        } catch (const Poco::Exception& e) {
            // A cut connection (the deadline guard) surfaces as whatever Poco was parsing at the time.
            if (conn->cut() || dynamic_cast<const Poco::TimeoutException*>(&e))
                error = "no response from " + peer + " within " + std::to_string(budget.ms_since(sent)) + " ms";
            else if (dynamic_cast<const Poco::Net::NoMessageException*>(&e))
                error = "connection closed by " + peer + " without a response";
            else if (dynamic_cast<const Poco::Net::MessageException*>(&e))
                error = "invalid HTTP response from " + peer + ": " + printable(e.message(), 200);
            else if (budget.over())
                error = "no response from " + peer + " within " + std::to_string(budget.ms_since(sent)) + " ms";
            else
                error = "request to " + peer + " failed: " + printable(e.displayText(), 200);
            return false;
        }
        out.status = static_cast<int>(response.getStatus());
        out.reason = response.getReason();
        out.location = response.get("Location", "");

        if (method == "HEAD" || max_body_bytes_ == 0) return true;
        const auto limit = static_cast<size_t>(max_body_bytes_);
        const auto started = Clock::now();
        char buf[16384];
        while (out.body.size() < limit) {
            if (budget.over() || conn->cut()) {
                error = "body from " + peer + " not complete within " + std::to_string(budget.ms_since(started)) +
                        " ms (" + std::to_string(out.body.size()) + " bytes read)";
                return false;
            }
            body->read(buf, static_cast<std::streamsize>(std::min(sizeof buf, limit - out.body.size())));
            out.body.append(buf, static_cast<size_t>(body->gcount()));
            if (!*body) break;
        }
        // The guard's shutdown() looks like an orderly end of the body to Poco: check for it first.
        const Poco::Exception* cause = session->networkException();
        if (conn->cut() || (body->bad() && (budget.over() || (cause && dynamic_cast<const Poco::TimeoutException*>(cause))))) {
            error = "body from " + peer + " not complete within " + std::to_string(budget.ms_since(started)) + " ms (" +
                    std::to_string(out.body.size()) + " bytes read)";
            return false;
        }
        if (body->bad()) {
            error = "reading the body from " + peer + " failed after " + std::to_string(out.body.size()) + " bytes" +
                    (cause ? ": " + printable(cause->displayText(), 200) : " (malformed chunked encoding?)");
            return false;
        }
        if (response.hasContentLength() && out.body.size() < limit &&
            static_cast<int64_t>(out.body.size()) < response.getContentLength64()) {
            error = "connection closed by " + peer + " after " + std::to_string(out.body.size()) + " of " +
                    std::to_string(response.getContentLength64()) + " body bytes";
            return false;
        }
        if (out.body.size() >= limit) {
            // Stop here: no failure for a longer body. Whether there was more is only known for Content-Length.
            out.truncated = !response.hasContentLength() || response.getContentLength64() > static_cast<int64_t>(limit);
        }
        return true;
    }

    // The absolute URL a Location header points to, relative to `base`.
    static Url resolve_redirect(const Url& base, const std::string& location) {
        Poco::URI uri;
        try {
            uri = Poco::URI(base.scheme + "://" + base.host_header() + base.target);
            uri.resolve(location);
        } catch (const Poco::Exception&) {
            throw std::runtime_error("redirect to an invalid Location");
        }
        return parse_url(uri.toString(), "redirect Location", {"http", "https"});
    }

    // A redirect target for messages, without user info or query: its path when it stays on the same
    // origin, else scheme://host:port/path.
    static std::string redirect_target_text(const Url& base, const std::string& location) {
        try {
            Url next = resolve_redirect(base, location);
            return next.same_origin(base) ? next.target.substr(0, next.target.find('?')) : next.display();
        } catch (const std::exception&) {
            return "an invalid Location";
        }
    }

    Url url_;
    std::string method_;
    std::map<std::string, std::string> headers_;
    bool has_body_ = false;
    std::string body_;
    StatusRanges expect_status_;
    bool follow_redirects_;
    bool tls_verify_;
    int64_t cert_expiry_warn_days_;
    int64_t max_body_bytes_;
    std::string body_contains_;
    std::string body_regex_text_;
    std::unique_ptr<BodyRegex> body_regex_;
    std::optional<std::chrono::milliseconds> warn_latency_;
    std::unique_ptr<TlsClient> tls_;  // null for plain http without redirects
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec http_options[] = {
    vitals::option("url", VITALS_OPTION_STRING, nullptr,
                   "http:// or https:// URL; user:password@ in it is sent as Basic auth and never shown",
                   VITALS_OPTION_REQUIRED | VITALS_OPTION_SECRET),
    vitals::option("method", VITALS_OPTION_STRING, "\"GET\"", "request method"),
    vitals::option("headers", VITALS_OPTION_STRING_MAP, nullptr,
                   "extra request headers (values may hold tokens: kept secret)", VITALS_OPTION_SECRET),
    vitals::option("body", VITALS_OPTION_STRING, nullptr, "request body (set Content-Type in headers)"),
    vitals::option("expect_status", VITALS_OPTION_STRING, "\"200-299\"", "accepted status codes and ranges, e.g. \"200-299,304\""),
    vitals::option("body_contains", VITALS_OPTION_STRING, nullptr, "substring the response body must contain"),
    vitals::option("body_regex", VITALS_OPTION_STRING, nullptr, "PCRE2 (Perl-style) regular expression the body must match"),
    vitals::option("warn_latency", VITALS_OPTION_DURATION, nullptr, "warn when the whole exchange takes longer"),
    vitals::option("follow_redirects", VITALS_OPTION_BOOL, "false", "follow up to 5 redirects"),
    vitals::option("tls_verify", VITALS_OPTION_BOOL, "true", "verify the server certificate chain and host name"),
    vitals::option("ca_file", VITALS_OPTION_STRING, nullptr, "PEM file of trusted CAs, used instead of the system's"),
    vitals::option("cert_expiry_warn_days", VITALS_OPTION_INT, "14",
                   "warn when a certificate expires within this many days (0: never); expired always fails"),
    vitals::option("max_body_bytes", VITALS_OPTION_INT, "65536", "read at most this much of the body (0-16777216)"),
};

}  // namespace

VITALS_PLUGIN("vitals-http", "0.1.0",
              vitals::check_type<HttpCheck>("http", "HTTP(S) request: status, body, latency, TLS and certificate expiry",
                                            "component", "responseTime", http_options))
