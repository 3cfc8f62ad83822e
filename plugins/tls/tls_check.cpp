// tls: a TLS handshake to host:port with SNI, the certificate chain verified against ca_file or the
// system's CAs and the certificate's names against the expected host name, then the days until the
// leaf certificate expires against warn/fail thresholds — all bounded by the host's deadline.
//
// The connection and the handshake are the ones the http and websocket plugins make
// (vitals_plugins/net_client.hpp, plugins/common): deadline-bounded resolve and connect, a guard
// that cuts the connection at the deadline, one Poco NetSSL context per check with OpenSSL's own
// chain and host name verification. No bytes are sent after the handshake; the connection is
// closed with a close_notify.
#include <vitals_plugins/net_client.hpp>
#include <vitals_plugins/text.hpp>

#include <Poco/Net/Session.h>

#include <openssl/ssl.h>

#include <cctype>
#include <cmath>
#include <ctime>

namespace {

using namespace vitals_plugins;

// "1.2" or "1.3" as an OpenSSL version; throws for anything else.
int parse_min_version(const std::string& text) {
    if (text == "1.2") return TLS1_2_VERSION;
    if (text == "1.3") return TLS1_3_VERSION;
    if (text == "1.0" || text == "1.1")
        throw std::runtime_error("min_version \"" + text + "\" is not supported: vitals never offers less than TLS 1.2 "
                                 "(use \"1.2\" or \"1.3\")");
    throw std::runtime_error("min_version must be \"1.2\" or \"1.3\" (got \"" + printable(text, 16) + "\")");
}

// A host name or IP literal for an option, checked the way url.hpp checks a URL's host.
std::string host_option(const vitals::Options& o, const char* name, bool required) {
    std::string host = o.string_or(name, "");
    if (host.empty()) {
        if (required) throw std::runtime_error(std::string(name) + " must not be empty");
        return host;
    }
    for (char ch : host) {
        const auto c = static_cast<unsigned char>(ch);
        if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '%'))
            throw std::runtime_error(std::string(name) + " '" + printable(host) + "' is not a host name or IP address");
    }
    if (host.find(':') != std::string::npos && !is_ip_literal(host))
        throw std::runtime_error(std::string(name) + " '" + printable(host) + "' is not a valid IPv6 address");
    return host;
}

std::string version_text(int version) {
    switch (version) {
    case TLS1_3_VERSION: return "TLSv1.3";
    case TLS1_2_VERSION: return "TLSv1.2";
    default: return "TLS version " + std::to_string(version);
    }
}

// Observed value: days until the leaf certificate's notAfter (two decimals; negative once expired).
class TlsCheck : public vitals::Check {
public:
    explicit TlsCheck(const vitals::Options& o)
        : warn_days_(o.integer("warn_days")), fail_days_(o.integer("fail_days")),
          min_version_text_(o.string("min_version")) {
        connect_to_.scheme = "https";
        connect_to_.host = host_option(o, "host", true);
        const int64_t port = o.integer("port");
        if (port < 1 || port > 65535)
            throw std::runtime_error("port must be between 1 and 65535 (got " + std::to_string(port) + ")");
        connect_to_.port = static_cast<uint16_t>(port);
        connect_to_.target = "/";
        // The name sent as SNI and verified against the certificate: server_name, else host.
        expected_ = connect_to_;
        const std::string server_name = host_option(o, "server_name", false);
        if (!server_name.empty()) expected_.host = server_name;
        if (fail_days_ < 0 || fail_days_ > 3650)
            throw std::runtime_error("fail_days must be between 0 and 3650 (got " + std::to_string(fail_days_) + ")");
        if (warn_days_ < fail_days_ || warn_days_ > 3650)
            throw std::runtime_error("warn_days must be between fail_days (" + std::to_string(fail_days_) +
                                     ") and 3650 (got " + std::to_string(warn_days_) + ")");
        const int min_version = parse_min_version(min_version_text_);
        tls_ = std::make_unique<TlsClient>(true, o.string_or("ca_file", ""), min_version);
    }

    vitals::Result run(vitals::Deadline deadline) override {
        SigpipeBlock no_sigpipe;
        Budget budget(deadline);
        std::string error;
        std::optional<Poco::Net::StreamSocket> plain = connect(connect_to_, budget, error);
        if (!plain) return vitals::Result::fail(error);
        DeadlineGuard guard(plain->impl()->sockfd(), budget.hard);
        PeerCertificate ignored;  // the chain's earliest expiry: this check reports the leaf's
        std::optional<Poco::Net::SecureStreamSocket> secure =
            tls_->handshake(*plain, expected_, budget, guard, ignored, error);
        if (!secure) {
            if (min_version_text_ != "1.2" && error.find("protocol version") != std::string::npos)
                error += " (min_version \"" + min_version_text_ + "\")";
            return vitals::Result::fail(error);
        }

        std::string subject, issuer;
        time_t not_after = 0;
        bool have_leaf = false;
        try {
            Poco::Net::X509Certificate leaf = secure->peerCertificate();
            X509* cert = const_cast<X509*>(leaf.certificate());
            have_leaf = not_after_of(cert, not_after);
            subject = subject_of(cert);
            issuer = issuer_of(cert);
        } catch (const Poco::Exception&) {
        }
        int version = 0;
        if (Poco::Net::Session::Ptr session = secure->currentSession())
            version = SSL_SESSION_get_protocol_version(session->sslSession());
        close(*secure);
        if (!have_leaf) return vitals::Result::fail("TLS: " + expected_.endpoint() + " sent no certificate");

        const double left = std::difftime(not_after, std::time(nullptr));
        const double days = std::round(left / 86400.0 * 100.0) / 100.0;
        auto observed = [days](vitals::Result r) { return r.observed(days, "days"); };
        const std::string who = subject + " (issuer " + issuer + ")";
        const std::string detail = " (notAfter " + utc_text(not_after) + ", " + version_text(version) + ")";
        if (left <= 0) return observed(vitals::Result::fail(who + " expired " + span_text(left) + " ago" + detail));
        const std::string text = who + ": " + span_text(left) + " left" + detail;
        if (left < static_cast<double>(fail_days_) * 86400)
            return observed(vitals::Result::fail(text + ", below fail_days " + std::to_string(fail_days_)));
        if (left < static_cast<double>(warn_days_) * 86400)
            return observed(vitals::Result::warn(text + ", below warn_days " + std::to_string(warn_days_)));
        return observed(vitals::Result::pass(text));
    }

private:
    // A close_notify, without waiting for the peer's: the answer is already known.
    static void close(Poco::Net::SecureStreamSocket& secure) {
        try {
            secure.close();
        } catch (const Poco::Exception&) {
        }
    }

    Url connect_to_;  // host and port
    Url expected_;    // server_name (or host) and port: SNI, host name verification, messages
    int64_t warn_days_;
    int64_t fail_days_;
    std::string min_version_text_;
    std::unique_ptr<TlsClient> tls_;
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec tls_options[] = {
    vitals::option("host", VITALS_OPTION_STRING, nullptr, "host name or IP address to connect to", VITALS_OPTION_REQUIRED),
    vitals::option("port", VITALS_OPTION_INT, "443", "TCP port, 1-65535"),
    vitals::option("server_name", VITALS_OPTION_STRING, nullptr,
                   "name sent as SNI and verified against the certificate (default: host; no SNI for an IP address)"),
    vitals::option("ca_file", VITALS_OPTION_STRING, nullptr, "PEM file of trusted CAs, used instead of the system's"),
    vitals::option("warn_days", VITALS_OPTION_INT, "21", "warn when the certificate expires within this many days"),
    vitals::option("fail_days", VITALS_OPTION_INT, "7", "fail when the certificate expires within this many days (expired always fails)"),
    vitals::option("min_version", VITALS_OPTION_STRING, "\"1.2\"", "lowest TLS version accepted: \"1.2\" or \"1.3\""),
};

}  // namespace

VITALS_PLUGIN("vitals-tls", "0.1.0",
              vitals::check_type<TlsCheck>("tls", "TLS handshake: chain and host name verification, days until the certificate expires",
                                           "component", "certificateExpiry", tls_options))
