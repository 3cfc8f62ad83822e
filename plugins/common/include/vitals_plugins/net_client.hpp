// The connection under the http and websocket check plugins' protocols: the run's time budget,
// deadline-bounded resolve and connect, a guard that cuts the connection at the deadline, a per-check
// TLS context with our own certificate verification callback, and SIGPIPE protection.
//
// The protocols themselves are Poco's (HTTPClientSession, WebSocket, NetSSL's SecureStreamSocket);
// this header only prepares the socket they run on, because Poco's own connect cannot be bounded the
// way a health check needs:
//   - Poco resolves names with plain getaddrinfo(), which can block for resolv.conf's timeout × attempts
//     whatever our deadline; we use glibc's getaddrinfo_a instead (resolve.hpp).
//   - Poco 1.11 creates sockets without SOCK_CLOEXEC; the daemon forks check programs (exec checks) on
//     other threads at any time, and a child inheriting our socket would keep the connection open
//     (connect.hpp).
//   - Poco's socket timeouts (SO_RCVTIMEO) apply per recv(): a peer that trickles one byte at a time
//     keeps a read going past any deadline. DeadlineGuard shuts the socket down at the deadline, which
//     ends any blocking call inside Poco or OpenSSL.
#ifndef VITALS_PLUGINS_NET_CLIENT_HPP
#define VITALS_PLUGINS_NET_CLIENT_HPP

#include <vitals/plugin.hpp>

#include "vitals_plugins/connect.hpp"
#include "vitals_plugins/resolve.hpp"
#include "vitals_plugins/text.hpp"
#include "vitals_plugins/tls.hpp"
#include "vitals_plugins/url.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/Net/X509Certificate.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace vitals_plugins {

using std::chrono::milliseconds;

// ---- Time --------------------------------------------------------------------------------------

// The time budget of one run. The host records "timed out after N ms" at its deadline and discards a
// later answer, so a plugin that waits right up to the deadline loses its own, more precise message
// ("no pong within 780 ms") to that race. We therefore stop probing early — `soft`: give_up_at(),
// the rule of every plugin (deadline.hpp) — and use most of the rest for a clean close (WebSocket
// close frames, TLS close_notify). DeadlineGuard cuts the connection at `hard`, a quarter of that
// margin before the deadline, so that run() returns in time whatever the peer does.
struct Budget {
    Clock::time_point start;
    Clock::time_point soft;  // probing stops here
    Clock::time_point hard;  // the connection is cut here; closing handshakes end by then

    explicit Budget(vitals::Deadline deadline) : start(Clock::now()) {
        const auto total = deadline - start;
        const auto margin = return_margin(total);
        soft = give_up_at(deadline, start);
        hard = deadline - margin / 4;
    }
    bool over() const { return Clock::now() >= soft; }
    // Whole milliseconds since `from`, and since the start of the run, for messages.
    long long ms_since(Clock::time_point from) const {
        return std::chrono::duration_cast<milliseconds>(Clock::now() - from).count();
    }
    long long elapsed_ms() const { return ms_since(start); }
};

// Milliseconds since `from` with two decimals: the observed values.
inline double ms_since(Clock::time_point from) {
    return std::round(std::chrono::duration<double, std::milli>(Clock::now() - from).count() * 100.0) / 100.0;
}

inline std::string format_ms(double ms) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.2f ms", ms);
    return buf;
}

// ---- SIGPIPE -----------------------------------------------------------------------------------

// Poco and OpenSSL write to sockets without MSG_NOSIGNAL: a peer that has closed would raise SIGPIPE,
// which kills a host that does not ignore it (the daemon does; another host or `vitals check` may
// not). For the life of this object SIGPIPE is blocked in the calling thread; one raised meanwhile is
// consumed before the mask is restored (the technique libpq uses).
class SigpipeBlock {
public:
    SigpipeBlock() {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, &old_);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    }
    ~SigpipeBlock() {
        if (!was_pending_) {
            sigset_t pending;
            sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                sigset_t pipe;
                sigemptyset(&pipe);
                sigaddset(&pipe, SIGPIPE);
                timespec zero{0, 0};
                while (sigtimedwait(&pipe, nullptr, &zero) < 0 && errno == EINTR) {
                }
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeBlock(const SigpipeBlock&) = delete;
    SigpipeBlock& operator=(const SigpipeBlock&) = delete;

private:
    sigset_t old_;
    bool was_pending_ = false;
};

// ---- Connect -----------------------------------------------------------------------------------

// Sets SO_RCVTIMEO and SO_SNDTIMEO of `fd` to the time left until `until` (at least 1 ms: 0 would mean
// "no timeout"). Poco's blocking reads and writes, and OpenSSL's through its socket BIO, then fail with
// a timeout instead of waiting longer.
inline void set_io_timeouts(int fd, Clock::time_point until) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - Clock::now()).count();
    if (left < 1000) left = 1000;
    timeval tv{static_cast<time_t>(left / 1000000), static_cast<suseconds_t>(left % 1000000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Poco's StreamSocket(SocketImpl*) is protected: this adopts a connected descriptor of ours.
class AdoptedSocket : public Poco::Net::StreamSocket {
public:
    explicit AdoptedSocket(int fd) : Poco::Net::StreamSocket(new Poco::Net::StreamSocketImpl(fd)) {}
};

// Connects to url's host:port (each resolved address in turn) by the budget's soft deadline. On
// success returns a blocking, close-on-exec socket owned by Poco; on failure null and `error`, e.g.
// "connect to 127.0.0.1:9: Connection refused".
inline std::optional<Poco::Net::StreamSocket> connect(const Url& url, const Budget& budget, std::string& error) {
    Resolution resolved = resolve(url.host, url.port, budget.soft);
    if (!resolved.addresses) {
        error = resolved.timed_out ? resolved.error + " timed out after " + std::to_string(budget.elapsed_ms()) + " ms"
                                   : resolved.error;
        return std::nullopt;
    }
    const std::string target = url.endpoint();
    Connected connected = connect_any(resolved.addresses.get(), url.host, url.port, budget.soft);
    if (connected.timed_out) {
        error = "connect to " + target + " timed out after " + std::to_string(budget.elapsed_ms()) + " ms";
        return std::nullopt;
    }
    if (!connected.fd.valid()) {
        // Here a failed socket() has always been reported without the address.
        error = connected.socket_failed ? "connect to " + target + ": " + errno_text(connected.error_number)
                                        : connected.error;
        return std::nullopt;
    }
    const int fd = connected.fd.get();
    // Poco expects a blocking socket: its timeouts come from SO_RCVTIMEO/SO_SNDTIMEO.
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_io_timeouts(fd, budget.soft);
    return AdoptedSocket(connected.fd.release());  // Poco owns and closes the descriptor from here on
}

// ---- Deadline guard ----------------------------------------------------------------------------

// Shuts the connection down (shutdown(2), both directions) at a given time, which makes any blocking
// call on it — inside Poco, OpenSSL or ours — return at once. It works on its own duplicate of the
// descriptor, so it can never touch an unrelated socket that reused the number after Poco closed ours.
// One short-lived thread per run; stopped and joined by the destructor.
class DeadlineGuard {
public:
    DeadlineGuard(int fd, Clock::time_point at) : fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 0)), at_(at) {
        if (fd_ >= 0) thread_ = std::thread([this] { watch(); });
    }
    ~DeadlineGuard() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
        if (fd_ >= 0) ::close(fd_);
    }
    DeadlineGuard(const DeadlineGuard&) = delete;
    DeadlineGuard& operator=(const DeadlineGuard&) = delete;

    // True once the connection was cut.
    bool fired() const { return fired_.load(); }

private:
    void watch() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (cv_.wait_until(lock, at_, [this] { return stop_; })) return;
        fired_ = true;
        ::shutdown(fd_, SHUT_RDWR);
    }

    int fd_;
    Clock::time_point at_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::atomic<bool> fired_{false};
    std::thread thread_;
};

// ---- TLS ---------------------------------------------------------------------------------------

inline std::string utc_text(time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// "3 days", "5 hours", "1 day": a span in words, rounded to the nearest whole unit.
inline std::string span_text(double seconds) {
    seconds = std::fabs(seconds);
    auto unit = [](long long n, const char* name) { return std::to_string(n) + " " + name + (n == 1 ? "" : "s"); };
    if (seconds >= 86400 * 1.5 || seconds >= 86400 - 1) return unit(std::llround(seconds / 86400), "day");
    if (seconds >= 3600) return unit(std::llround(seconds / 3600), "hour");
    return unit(std::max<long long>(1, std::llround(seconds / 60)), "minute");
}

// "TLS: certificate verify failed: ..." for a recorded verification error.
inline std::string verify_failure_text(const VerifyRecord& r, const Url& url) {
    std::string where = (r.depth > 0 ? "depth " + std::to_string(r.depth) + ", " : "") + r.subject;
    std::string text = "TLS: certificate verify failed: ";
    switch (r.error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return text + "certificate expired " + span_text(std::difftime(std::time(nullptr), r.not_after)) +
               " ago (notAfter " + utc_text(r.not_after) + ", " + where + ")";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return text + "certificate is not valid for " + url.host + " (" + where + ")";
    default:
        return text + X509_verify_cert_error_string(r.error) + " (" + where + ")";
    }
}

// OpenSSL's error text without its "error:0A000086:SSL routines::" prefix.
inline std::string openssl_reason(const std::string& message) {
    size_t error = message.find("error:");
    size_t pos = message.rfind("::");
    if (error != std::string::npos && pos != std::string::npos && pos > error) return message.substr(pos + 2);
    return message;
}

// Certificate facts of a completed handshake.
struct PeerCertificate {
    bool present = false;
    time_t not_after = 0;  // the earliest expiry in the chain the verifier saw (or the leaf's)
    std::string subject;   // of that certificate
    bool is_leaf = true;
};

// One Poco NetSSL Context per check instance (client use, TLS 1.2+, never Poco's SSLManager: see
// tls.hpp). OpenSSL verifies the chain and the host name (X509_VERIFY_PARAM) through our verify
// callback, which records what failed for the message. `min_version` (an OpenSSL TLS1_x_VERSION,
// TLS 1.2 or later) raises the lowest protocol version offered.
class TlsClient {
public:
    TlsClient(bool verify, const std::string& ca_file, int min_version = TLS1_2_VERSION) : verify_(verify) {
        if (!ca_file.empty()) {
            struct stat st{};
            if (::stat(ca_file.c_str(), &st) != 0)
                throw std::runtime_error("ca_file '" + ca_file + "': " + errno_text(errno));
            if (!S_ISREG(st.st_mode)) throw std::runtime_error("ca_file '" + ca_file + "' is not a regular file");
        }
        Poco::Net::Context::Params params;
        params.verificationMode = verify ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE;
        params.caLocation = ca_file;
        params.loadDefaultCAs = ca_file.empty();  // ca_file replaces the system's CAs
        params.cipherList = "DEFAULT";            // OpenSSL's defaults, not Poco's "ALL:..."
        try {
            context_ = client_context(params);
        } catch (const Poco::Exception& e) {
            throw std::runtime_error((ca_file.empty() ? std::string("TLS setup: ") : "ca_file '" + ca_file + "': ") +
                                     openssl_reason(e.message().empty() ? e.displayText() : e.message()));
        }
        SSL_CTX_set_verify(context_->sslContext(), verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, &verify_callback);
        if (min_version > TLS1_2_VERSION) SSL_CTX_set_min_proto_version(context_->sslContext(), min_version);
    }
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    // TLS handshake over the connected `plain` socket for `url` (SNI and host name verification use
    // url.host). On success returns the secure socket and fills `peer`; on failure returns nothing and
    // sets `error` ("TLS: certificate verify failed: ...", "TLS handshake with ... timed out ...").
    std::optional<Poco::Net::SecureStreamSocket> handshake(const Poco::Net::StreamSocket& plain, const Url& url,
                                                           const Budget& budget, const DeadlineGuard& guard,
                                                           PeerCertificate& peer, std::string& error) {
        const bool ip = url.host_is_ip();
        X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(context_->sslContext()), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        expect_peer_name(context_->sslContext(), url.host);  // per handshake: a redirect may change the host

        VerifyRecord record;
        record.verifying = verify_;
        VerifyScope scope(&record);
        ERR_clear_error();  // Poco reports the first queued error: drop stale ones from this thread
        const auto started = Clock::now();
        set_io_timeouts(plain.impl()->sockfd(), budget.soft);
        const std::string timed_out =
            "TLS handshake with " + url.endpoint() + " timed out after ";  // + ms
        std::optional<Poco::Net::SecureStreamSocket> secure;
        try {
            // SNI only for names: RFC 6066 forbids IP literals there.
            secure = Poco::Net::SecureStreamSocket::attach(plain, ip ? std::string() : url.host, context_);
            // Poco 1.11's attach() returns without an error when SSL_connect() stops on the socket's
            // receive timeout (SSL_ERROR_WANT_READ), the handshake unfinished: finish it or time out.
            set_io_timeouts(plain.impl()->sockfd(), budget.soft);
            if (guard.fired() || secure->completeHandshake() != 1) {
                error = timed_out + std::to_string(budget.ms_since(started)) + " ms";
                ERR_clear_error();
                return std::nullopt;
            }
        } catch (const Poco::Exception& e) {
            if (verify_ && record.error != 0) error = verify_failure_text(record, url);
            else if (guard.fired() || Clock::now() >= budget.soft || dynamic_cast<const Poco::TimeoutException*>(&e))
                error = timed_out + std::to_string(budget.ms_since(started)) + " ms";
            else
                error = "TLS: handshake with " + url.endpoint() + " failed: " +
                        openssl_reason(e.message().empty() ? e.displayText() : e.message());
            ERR_clear_error();
            return std::nullopt;
        }
        ERR_clear_error();
        try {
            Poco::Net::X509Certificate leaf = secure->peerCertificate();
            time_t leaf_not_after = 0;
            if (not_after_of(leaf.certificate(), leaf_not_after)) {
                peer.present = true;
                peer.not_after = leaf_not_after;
                peer.subject = subject_of(const_cast<X509*>(leaf.certificate()));
                peer.is_leaf = true;
            }
        } catch (const Poco::Exception&) {
            // No certificate (anonymous cipher): nothing to report on.
        }
        if (record.have_expiry && (!peer.present || record.earliest_not_after < peer.not_after)) {
            peer.present = true;
            peer.not_after = record.earliest_not_after;
            peer.subject = record.earliest_subject;
            peer.is_leaf = record.earliest_depth <= 0;
        }
        return secure;
    }

private:
    bool verify_;
    Poco::Net::Context::Ptr context_;
};

// A connection for one exchange: the plain socket, the TLS layer over it if any, and the guard that
// cuts it at the budget's hard deadline. Declared last, the guard is stopped first on destruction.
struct Connection {
    Poco::Net::StreamSocket plain;
    std::optional<Poco::Net::SecureStreamSocket> secure;
    PeerCertificate peer;
    std::unique_ptr<DeadlineGuard> guard;

    int fd() const { return plain.impl()->sockfd(); }
    // The socket to speak HTTP on: the TLS layer if there is one.
    const Poco::Net::StreamSocket& socket() const {
        return secure ? static_cast<const Poco::Net::StreamSocket&>(*secure) : plain;
    }
    bool cut() const { return guard && guard->fired(); }
};

// Connects to `url` and, for https/wss, completes the TLS handshake. Returns nothing and sets `error`
// on failure.
inline std::optional<Connection> open_connection(const Url& url, TlsClient* tls, const Budget& budget, std::string& error) {
    std::optional<Poco::Net::StreamSocket> plain = connect(url, budget, error);
    if (!plain) return std::nullopt;
    Connection c;
    c.plain = *plain;
    c.guard = std::make_unique<DeadlineGuard>(c.fd(), budget.hard);
    if (url.secure()) {
        if (!tls) {
            error = "TLS is not configured";
            return std::nullopt;
        }
        c.secure = tls->handshake(c.plain, url, budget, *c.guard, c.peer, error);
        if (!c.secure) return std::nullopt;
    }
    return c;
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_NET_CLIENT_HPP
