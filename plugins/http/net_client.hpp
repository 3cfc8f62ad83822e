// Client-side plumbing shared by the http and websocket check plugins (plugins/websocket includes this
// header from here): the run's time budget, URL parsing without leaking userinfo, deadline-bounded name
// resolution and connect, a guard that cuts the connection at the deadline, a per-check TLS context
// with our own certificate verification callback, and SIGPIPE protection.
//
// The protocols themselves are Poco's (HTTPClientSession, WebSocket, NetSSL's SecureStreamSocket);
// this header only prepares the socket they run on, because Poco's own connect cannot be bounded the
// way a health check needs:
//   - Poco resolves names with plain getaddrinfo(), which can block for resolv.conf's timeout × attempts
//     whatever our deadline; we use glibc's getaddrinfo_a instead (the same approach as plugins/tcp).
//   - Poco 1.11 creates sockets without SOCK_CLOEXEC; the daemon forks check programs (exec checks) on
//     other threads at any time, and a child inheriting our socket would keep the connection open.
//   - Poco's socket timeouts (SO_RCVTIMEO) apply per recv(): a peer that trickles one byte at a time
//     keeps a read going past any deadline. DeadlineGuard shuts the socket down at the deadline, which
//     ends any blocking call inside Poco or OpenSSL.
//
// Everything here is inline: each plugin library gets its own copy (plugins are built with hidden
// visibility), so nothing is shared between libraries at run time.
#ifndef VITALS_PLUGINS_NET_CLIENT_HPP
#define VITALS_PLUGINS_NET_CLIENT_HPP

#include <vitals/plugin.hpp>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/URI.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace vitals_net {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- Time --------------------------------------------------------------------------------------

// The time budget of one run. The host records "timed out after N ms" at its deadline and discards a
// later answer, so a plugin that waits right up to the deadline loses its own, more precise message
// ("no pong within 780 ms") to that race. We therefore stop probing early — `soft`: a fifth of the
// timeout, between 5 and 200 ms, before the deadline — and use most of the rest for a clean close
// (WebSocket close frames, TLS close_notify). DeadlineGuard cuts the connection at `hard`, a quarter
// of that margin before the deadline, so that run() returns in time whatever the peer does.
struct Budget {
    Clock::time_point start;
    Clock::time_point soft;  // probing stops here
    Clock::time_point hard;  // the connection is cut here; closing handshakes end by then

    explicit Budget(vitals::Deadline deadline) : start(Clock::now()) {
        const auto total = vitals::remaining(deadline);
        auto margin = std::clamp(total / 5, milliseconds(5), milliseconds(200));
        if (margin > total) margin = total;
        soft = start + (total - margin);
        hard = start + (total - margin / 4);
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

// ---- Text --------------------------------------------------------------------------------------

// Bytes from the network or the configuration made safe for a one-line message: printable ASCII as
// is, \r \n \t escaped, anything else as \xHH; cut at `max` characters with "..." appended.
inline std::string printable(const std::string& bytes, size_t max = 64) {
    std::string out;
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        std::string piece;
        if (c == '\r') piece = "\\r";
        else if (c == '\n') piece = "\\n";
        else if (c == '\t') piece = "\\t";
        else if (c >= 0x20 && c < 0x7f) piece = std::string(1, static_cast<char>(c));
        else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            piece = hex;
        }
        if (out.size() + piece.size() > max) return out + "...";
        out += piece;
    }
    return out;
}

inline std::string errno_text(int err) { return std::strerror(err); }

inline bool iequals(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// RFC 7230 token characters (header names, methods, subprotocol names).
inline bool is_token(const std::string& s) {
    if (s.empty()) return false;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c)) continue;
        if (std::strchr("!#$%&'*+-.^_`|~", c) && c != 0) continue;
        return false;
    }
    return true;
}

// Validates the `headers` option: token names, values without control characters (no header
// injection), and none of `reserved` (headers the plugin sets itself; compared case-insensitively).
inline void check_headers(const std::map<std::string, std::string>& headers, const std::vector<std::string>& reserved) {
    for (const auto& h : headers) {
        if (!is_token(h.first))
            throw std::runtime_error("headers: invalid header name '" + printable(h.first) + "'");
        for (char ch : h.second) {
            const auto c = static_cast<unsigned char>(ch);
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                throw std::runtime_error("headers: value of '" + h.first + "' contains a control character");
        }
        for (const auto& r : reserved)
            if (iequals(h.first, r))
                throw std::runtime_error("headers: '" + h.first + "' is set by the check itself and cannot be overridden");
    }
}

// ---- URL ---------------------------------------------------------------------------------------

// A parsed http(s):// or ws(s):// URL. The userinfo is kept apart and never appears in display().
struct Url {
    std::string scheme;  // lower case: http, https, ws, wss
    std::string host;    // without brackets; a name or an IP literal
    uint16_t port = 0;
    std::string target;  // request target: path and query, at least "/"
    bool has_credentials = false;
    std::string user;      // percent-decoded
    std::string password;  // percent-decoded; secret

    bool secure() const { return scheme == "https" || scheme == "wss"; }
    uint16_t default_port() const { return secure() ? 443 : 80; }
    bool host_is_ip() const {
        in6_addr a6;
        in_addr a4;
        return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
    }
    std::string bracketed_host() const { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }
    // "host:port", for messages.
    std::string endpoint() const { return bracketed_host() + ":" + std::to_string(port); }
    // The Host header: the port only when it is not the scheme's default.
    std::string host_header() const {
        return port == default_port() ? bracketed_host() : bracketed_host() + ":" + std::to_string(port);
    }
    // For messages: scheme://host[:port]/path — no userinfo, no query (it may carry tokens).
    std::string display() const {
        std::string path = target.substr(0, target.find('?'));
        return scheme + "://" + host_header() + path;
    }
    bool same_origin(const Url& o) const { return scheme == o.scheme && iequals(host, o.host) && port == o.port; }
};

// Parses `text`, accepting only the given schemes. Error messages never quote the URL: it may hold a
// password. `option` names the option in messages.
inline Url parse_url(const std::string& text, const char* option, const std::vector<std::string>& schemes) {
    Poco::URI uri;
    try {
        uri = Poco::URI(text);
    } catch (const Poco::Exception&) {
        throw std::runtime_error(std::string(option) + " is not a valid URL");
    }
    Url u;
    u.scheme = uri.getScheme();  // Poco lower-cases it
    std::string wanted;
    for (const auto& s : schemes) wanted += (wanted.empty() ? "" : " or ") + s + "://";
    if (std::find(schemes.begin(), schemes.end(), u.scheme) == schemes.end())
        throw std::runtime_error(std::string(option) + " must start with " + wanted +
                                 (u.scheme.empty() ? "" : " (got '" + printable(u.scheme, 16) + ":')"));
    if (text.find("//") == std::string::npos || uri.getHost().empty())
        throw std::runtime_error(std::string(option) + " has no host");
    u.host = uri.getHost();
    for (char ch : u.host) {
        const auto c = static_cast<unsigned char>(ch);
        if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '%'))
            throw std::runtime_error(std::string(option) + " has an invalid host name");
    }
    if (u.host.find(':') != std::string::npos && !u.host_is_ip())
        throw std::runtime_error(std::string(option) + " has an invalid IPv6 address");
    u.port = uri.getSpecifiedPort() ? uri.getSpecifiedPort() : u.default_port();
    if (u.port == 0) throw std::runtime_error(std::string(option) + " has port 0");
    u.target = uri.getPathAndQuery();
    if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
    const std::string& userinfo = uri.getUserInfo();
    if (!userinfo.empty()) {
        u.has_credentials = true;
        size_t colon = userinfo.find(':');
        try {
            Poco::URI::decode(userinfo.substr(0, colon), u.user);
            if (colon != std::string::npos) Poco::URI::decode(userinfo.substr(colon + 1), u.password);
        } catch (const Poco::Exception&) {
            throw std::runtime_error(std::string(option) + " has invalid percent-encoding in its user info");
        }
    }
    return u;
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

// ---- Name resolution bounded by the deadline (as in plugins/tcp) ------------------------------

struct AddrInfoFree {
    void operator()(addrinfo* list) const {
        if (list) ::freeaddrinfo(list);
    }
};
using AddrList = std::unique_ptr<addrinfo, AddrInfoFree>;

// One getaddrinfo_a request. glibc's resolver thread writes into `request` (and reads the strings and
// hints it points to) until the lookup completes, so this object must outlive the lookup — even when
// run() has given up on it and returned.
struct Lookup {
    std::string host;
    std::string service;
    addrinfo hints{};
    gaicb request{};
};

// Lookups still running in glibc when their run gave up. Each later resolution frees those that have
// finished since. Created on first use and deliberately never destroyed: glibc may still write into
// a lookup after the plugin is unloaded or while the process exits.
class AbandonedLookups {
public:
    static AbandonedLookups* existing() { return instance().load(std::memory_order_acquire); }
    static AbandonedLookups& get() {
        static AbandonedLookups* created = [] {
            auto* list = new AbandonedLookups;
            instance().store(list, std::memory_order_release);
            return list;
        }();
        return *created;
    }
    void add(std::unique_ptr<Lookup> lookup) {
        std::lock_guard<std::mutex> lock(mutex_);
        lookups_.push_back(std::move(lookup));
    }
    void reap() {
        std::lock_guard<std::mutex> lock(mutex_);
        lookups_.erase(std::remove_if(lookups_.begin(), lookups_.end(),
                                      [](const std::unique_ptr<Lookup>& l) {
                                          int rc = ::gai_error(&l->request);
                                          if (rc == EAI_INPROGRESS) return false;
                                          if (rc == 0 && l->request.ar_result) ::freeaddrinfo(l->request.ar_result);
                                          return true;
                                      }),
                       lookups_.end());
    }

private:
    AbandonedLookups() = default;
    static std::atomic<AbandonedLookups*>& instance() {
        static std::atomic<AbandonedLookups*> list{nullptr};  // trivially destructible
        return list;
    }
    std::mutex mutex_;
    std::vector<std::unique_ptr<Lookup>> lookups_;
};

// Resolves host:port for TCP. On failure returns null and sets `error`.
inline AddrList resolve(const Url& url, const Budget& budget, std::string& error) {
    if (AbandonedLookups* abandoned = AbandonedLookups::existing()) abandoned->reap();
    const std::string service = std::to_string(url.port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;

    // An IP literal needs no lookup and cannot block.
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* list = nullptr;
    int rc = ::getaddrinfo(url.host.c_str(), service.c_str(), &hints, &list);
    if (rc == 0) return AddrList(list);
    if (rc != EAI_NONAME) {
        error = "resolve " + url.host + ": " + ::gai_strerror(rc);
        return nullptr;
    }

    auto lookup = std::make_unique<Lookup>();
    lookup->host = url.host;
    lookup->service = service;
    lookup->hints = hints;
    lookup->hints.ai_flags = AI_NUMERICSERV;
    lookup->request.ar_name = lookup->host.c_str();
    lookup->request.ar_service = lookup->service.c_str();
    lookup->request.ar_request = &lookup->hints;
    gaicb* requests[] = {&lookup->request};
    rc = ::getaddrinfo_a(GAI_NOWAIT, requests, 1, nullptr);
    if (rc != 0) {
        error = "resolve " + url.host + ": " + ::gai_strerror(rc);
        return nullptr;
    }
    while ((rc = ::gai_error(&lookup->request)) == EAI_INPROGRESS) {
        auto left = budget.soft - Clock::now();
        if (left <= Clock::duration::zero()) {
            int cancel = ::gai_cancel(&lookup->request);
            if (cancel == EAI_NOTCANCELED) {
                AbandonedLookups::get().add(std::move(lookup));
            } else if (cancel == EAI_ALLDONE && ::gai_error(&lookup->request) == 0) {
                ::freeaddrinfo(lookup->request.ar_result);
            }
            error = "resolve " + url.host + " timed out after " + std::to_string(budget.elapsed_ms()) + " ms";
            return nullptr;
        }
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        ::gai_suspend(requests, 1, &timeout);
    }
    if (rc != 0) {
        error = "resolve " + url.host + ": " + ::gai_strerror(rc);
        return nullptr;
    }
    return AddrList(lookup->request.ar_result);
}

inline std::string numeric_host(const addrinfo& ai) {
    char text[NI_MAXHOST];
    if (::getnameinfo(ai.ai_addr, ai.ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) return "?";
    return text;
}

// Milliseconds for poll() until `until`, rounded up, at least 0.
inline int poll_ms(Clock::time_point until) {
    auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    auto ms = std::chrono::ceil<milliseconds>(left).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

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
    AddrList addresses = resolve(url, budget, error);
    if (!addresses) return std::nullopt;
    const std::string target = url.endpoint();
    for (const addrinfo* ai = addresses.get(); ai; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            error = "connect to " + target + ": " + errno_text(errno);
            continue;
        }
        int err = 0;
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS && errno != EINTR) {
                err = errno;
            } else {
                for (;;) {
                    pollfd p{fd, POLLOUT, 0};
                    int n = ::poll(&p, 1, poll_ms(budget.soft));
                    if (n > 0) break;
                    if (n < 0 && errno != EINTR) {
                        err = errno;
                        break;
                    }
                    if (n == 0 && Clock::now() >= budget.soft) {
                        ::close(fd);
                        error = "connect to " + target + " timed out after " + std::to_string(budget.elapsed_ms()) + " ms";
                        return std::nullopt;
                    }
                }
                if (err == 0) {
                    socklen_t len = sizeof err;
                    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
                }
            }
        }
        if (err != 0) {
            std::string address = numeric_host(*ai);
            error = "connect to " + target + (address == url.host ? "" : " (" + address + ")") + ": " + errno_text(err);
            ::close(fd);
            continue;
        }
        // Poco expects a blocking socket: its timeouts come from SO_RCVTIMEO/SO_SNDTIMEO.
        int flags = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        set_io_timeouts(fd, budget.soft);
        return AdoptedSocket(fd);  // Poco owns and closes the descriptor from here on
    }
    return std::nullopt;
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

// What the certificate verification callback saw during one handshake.
struct VerifyRecord {
    bool verifying = false;  // tls_verify: report failures (else they are ignored)
    int error = 0;           // first X509_V_ERR_* seen, 0 if none
    int depth = -1;
    std::string subject;     // of the certificate with the error
    time_t not_after = 0;    // of the certificate with the error
    // The chain's earliest expiry (every certificate the verifier looked at).
    bool have_expiry = false;
    time_t earliest_not_after = 0;
    std::string earliest_subject;
    int earliest_depth = -1;
};

// The handshake runs on the calling thread; the callback finds this thread's record here.
inline VerifyRecord*& current_verify_record() {
    static thread_local VerifyRecord* record = nullptr;
    return record;
}

inline std::string subject_of(X509* cert) {
    if (!cert) return "?";
    std::string out;
    if (BIO* bio = BIO_new(BIO_s_mem())) {
        X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
        char* data = nullptr;
        long n = BIO_get_mem_data(bio, &data);
        if (n > 0 && data) out.assign(data, static_cast<size_t>(n));
        BIO_free(bio);
    }
    return out.empty() ? "(empty subject)" : printable(out, 120);
}

inline bool not_after_of(const X509* cert, time_t& out) {
    const ASN1_TIME* t = cert ? X509_get0_notAfter(cert) : nullptr;
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return false;
    out = ::timegm(&tm);
    return true;
}

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

// OpenSSL's verification callback, installed on our SSL_CTX in place of Poco's (which would consult
// Poco's global SSLManager and, without an application configuration, may prompt on the console).
inline int verify_callback(int ok, X509_STORE_CTX* store) {
    VerifyRecord* record = current_verify_record();
    if (!record) return ok;
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    int depth = X509_STORE_CTX_get_error_depth(store);
    time_t not_after = 0;
    if (cert && not_after_of(cert, not_after) && (!record->have_expiry || not_after < record->earliest_not_after)) {
        record->have_expiry = true;
        record->earliest_not_after = not_after;
        record->earliest_subject = subject_of(cert);
        record->earliest_depth = depth;
    }
    if (!ok && record->error == 0) {
        record->error = X509_STORE_CTX_get_error(store);
        record->depth = depth;
        record->subject = subject_of(cert);
        record->not_after = not_after;
    }
    // Without tls_verify OpenSSL ignores the result anyway; returning 1 lets it walk the whole chain.
    return record->verifying ? ok : 1;
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

// One Poco NetSSL Context per check instance (client use, TLS 1.2+), never Poco's SSLManager: its
// global default contexts and certificate handlers are shared by every plugin in the process and may
// prompt on the console. OpenSSL verifies the chain and the host name (X509_VERIFY_PARAM); Poco's own
// post-handshake host check is off (it skips "localhost" and may resolve names through DNS).
class TlsClient {
public:
    TlsClient(bool verify, const std::string& ca_file) : verify_(verify) {
        // Once per plugin library, and deliberately never undone: Poco's uninitializeSSL() goes through
        // its SSLManager singleton (creating it), whose lock is gone once static destructors have run —
        // and an instance can be destroyed that late (seen: `vitals check` exiting while a worker thread
        // still releases its instance: "terminate ... Poco::SystemException"). OpenSSL 1.1+ frees its
        // own state at exit.
        static std::once_flag ssl_initialized;
        std::call_once(ssl_initialized, [] { Poco::Net::initializeSSL(); });
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
            context_ = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
        } catch (const Poco::Exception& e) {
            throw std::runtime_error((ca_file.empty() ? std::string("TLS setup: ") : "ca_file '" + ca_file + "': ") +
                                     openssl_reason(e.message().empty() ? e.displayText() : e.message()));
        }
        context_->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
        context_->enableExtendedCertificateVerification(false);
        SSL_CTX_set_verify(context_->sslContext(), verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, &verify_callback);
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
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(context_->sslContext());
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (ip) {
            X509_VERIFY_PARAM_set1_host(param, nullptr, 0);
            X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
        } else {
            X509_VERIFY_PARAM_set1_ip(param, nullptr, 0);
            X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
        }

        VerifyRecord record;
        record.verifying = verify_;
        struct Scope {
            explicit Scope(VerifyRecord* r) { current_verify_record() = r; }
            ~Scope() { current_verify_record() = nullptr; }
        } scope(&record);
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

}  // namespace vitals_net

#endif  // VITALS_PLUGINS_NET_CLIENT_HPP
