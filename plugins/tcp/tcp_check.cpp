// tcp: resolve host, connect to host:port, optionally send bytes and wait for an expected substring —
// all bounded by the host's deadline.
//
// Plain POSIX sockets (non-blocking connect + poll) rather than a socket library: every wait below is
// a poll() with the time left, so no step can block past the deadline. Name resolution uses glibc's
// getaddrinfo_a for the same reason: plain getaddrinfo() can block for resolv.conf's timeout × attempts
// (10 s and more against a dead DNS server) whatever our deadline says.
#include <vitals/plugin.hpp>

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Reading stops after this many bytes without a match: memory stays bounded whatever the peer sends.
constexpr size_t kMaxRead = 64 * 1024;
// How much of the received data a failure message quotes.
constexpr size_t kMaxQuoted = 64;

// Milliseconds for poll() until `deadline`, rounded up so that we never wake just before the deadline
// and spin on a zero timeout.
int poll_timeout_ms(vitals::Deadline deadline) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string whole_ms_since(Clock::time_point start) { return std::to_string(std::lround(ms_since(start))); }

std::string errno_text(int err) { return std::strerror(err); }

// Bytes from the network or the configuration made safe for a one-line message: printable ASCII as
// is, \r \n \t escaped, anything else as \xHH; cut at `max` characters with "..." appended.
std::string printable(const std::string& bytes, size_t max = kMaxQuoted) {
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

// "host:port", with brackets around an IPv6 literal.
std::string endpoint(const std::string& host, int port) {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Numeric text of a resolved address, e.g. "127.0.0.1" or "::1".
std::string numeric_host(const addrinfo& ai) {
    char text[NI_MAXHOST];
    if (::getnameinfo(ai.ai_addr, ai.ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) return "?";
    return text;
}

// Owns a socket descriptor.
class Socket {
public:
    explicit Socket(int fd = -1) : fd_(fd) {}
    Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    Socket& operator=(Socket&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }

private:
    int fd_;
};

// Waits until `fd` is ready for `events` or the deadline passes. Returns 1 when ready (or in error:
// the caller's next call reports it), 0 on timeout, -1 with errno set if poll itself failed.
int wait_ready(int fd, short events, vitals::Deadline deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, poll_timeout_ms(deadline));
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
        if (n == 0 && Clock::now() >= deadline) return 0;
    }
}

struct AddrInfoFree {
    void operator()(addrinfo* list) const {
        if (list) ::freeaddrinfo(list);
    }
};
using AddrList = std::unique_ptr<addrinfo, AddrInfoFree>;

// ---- Name resolution bounded by the deadline ---------------------------------------------------

// One getaddrinfo_a request. glibc's resolver thread writes into `request` (and reads the strings and
// hints it points to) until the lookup completes, so this object must outlive the lookup — even when
// run() has given up on it and returned.
struct Lookup {
    std::string host;
    std::string service;
    addrinfo hints{};
    gaicb request{};
};

// Lookups that were still running in glibc when their run() hit the deadline. Each later resolution
// frees those that have finished since.
class AbandonedLookups {
public:
    // The list, or nullptr while no lookup has ever been abandoned.
    static AbandonedLookups* existing() { return instance_.load(std::memory_order_acquire); }

    // The list, created on first use and deliberately never destroyed: if the plugin is unloaded (or the
    // process exits) while a lookup is still running, destroying the list would let glibc write into
    // freed memory. Created lazily so that a process that never abandons a lookup allocates nothing.
    static AbandonedLookups& get() {
        static AbandonedLookups* created = [] {
            auto* list = new AbandonedLookups;
            instance_.store(list, std::memory_order_release);
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
    static std::atomic<AbandonedLookups*> instance_;  // trivially destructible: safe at unload and exit
    std::mutex mutex_;
    std::vector<std::unique_ptr<Lookup>> lookups_;
};
std::atomic<AbandonedLookups*> AbandonedLookups::instance_{nullptr};

struct Resolution {
    AddrList addresses;  // set on success
    std::string error;   // set on failure
};

Resolution resolve(const std::string& host, int port, vitals::Deadline deadline, Clock::time_point start) {
    if (AbandonedLookups* abandoned = AbandonedLookups::existing()) abandoned->reap();
    const std::string service = std::to_string(port);

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;  // IPv6 and IPv4, in the order the system prefers (RFC 6724)
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;

    // An IP literal needs no lookup: resolve it synchronously, it cannot block.
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* list = nullptr;
    int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
    if (rc == 0) return {AddrList(list), {}};
    if (rc != EAI_NONAME) return {nullptr, "resolve " + host + ": " + ::gai_strerror(rc)};

    auto lookup = std::make_unique<Lookup>();
    lookup->host = host;
    lookup->service = service;
    lookup->hints = hints;
    lookup->hints.ai_flags = AI_NUMERICSERV;
    lookup->request.ar_name = lookup->host.c_str();
    lookup->request.ar_service = lookup->service.c_str();
    lookup->request.ar_request = &lookup->hints;
    gaicb* requests[] = {&lookup->request};
    rc = ::getaddrinfo_a(GAI_NOWAIT, requests, 1, nullptr);
    if (rc != 0) return {nullptr, "resolve " + host + ": " + ::gai_strerror(rc)};

    while ((rc = ::gai_error(&lookup->request)) == EAI_INPROGRESS) {
        auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero()) {
            // Too late. A lookup already running cannot be cancelled: park it until glibc is done.
            int cancel = ::gai_cancel(&lookup->request);
            if (cancel == EAI_NOTCANCELED) {
                AbandonedLookups::get().add(std::move(lookup));
            } else if (cancel == EAI_ALLDONE && ::gai_error(&lookup->request) == 0) {
                ::freeaddrinfo(lookup->request.ar_result);  // finished just now; nobody wants it
            }
            return {nullptr, "resolve " + host + " timed out after " + whole_ms_since(start) + " ms"};
        }
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        // Returns when the lookup completes, on timeout or on a signal; the loop re-checks either way.
        ::gai_suspend(requests, 1, &timeout);
    }
    if (rc != 0) return {nullptr, "resolve " + host + ": " + ::gai_strerror(rc)};
    return {AddrList(lookup->request.ar_result), {}};
}

// ---- The check ---------------------------------------------------------------------------------

// Observed value: milliseconds from the start of the run (name resolution included) until connected,
// or until the last byte is sent / the expected reply has arrived when send / expect are set.
class TcpCheck : public vitals::Check {
public:
    explicit TcpCheck(const vitals::Options& o)
        : host_(o.string("host")), port_(o.integer("port")), send_(o.string_or("send", "")) {
        if (host_.empty()) throw std::runtime_error("host must not be empty");
        if (port_ < 1 || port_ > 65535)
            throw std::runtime_error("port must be between 1 and 65535 (got " + std::to_string(port_) + ")");
        if (o.has("expect")) {
            expect_ = o.string("expect");
            // An empty substring is found in anything: the option would silently check nothing.
            if (expect_.empty()) throw std::runtime_error("expect must not be empty (omit it to only connect)");
            if (expect_.size() > kMaxRead)
                throw std::runtime_error("expect must be at most " + std::to_string(kMaxRead) + " bytes");
        }
    }

    vitals::Result run(vitals::Deadline deadline) override {
        const auto start = Clock::now();
        const int port = static_cast<int>(port_);
        const std::string target = endpoint(host_, port);

        Resolution resolved = resolve(host_, port, deadline, start);
        if (!resolved.addresses) return vitals::Result::fail(resolved.error);

        // Try each address in order (e.g. ::1 then 127.0.0.1 for "localhost"); report the last error.
        Socket sock;
        std::string last_error;
        for (const addrinfo* ai = resolved.addresses.get(); ai && !sock.valid(); ai = ai->ai_next) {
            int err = 0;
            switch (connect_to(*ai, deadline, sock, err)) {
            case Connect::ok:
                break;
            case Connect::timed_out:
                return vitals::Result::fail("connect to " + target + " timed out after " + whole_ms_since(start) + " ms");
            case Connect::failed: {
                std::string address = numeric_host(*ai);
                last_error = "connect to " + target + (address == host_ ? "" : " (" + address + ")") + ": " +
                             errno_text(err);
                break;
            }
            }
        }
        if (!sock.valid()) return vitals::Result::fail(last_error);

        if (!send_.empty()) {
            if (auto failure = send_all(sock.get(), target, deadline, start); !failure.empty())
                return vitals::Result::fail(failure);
        }

        std::string summary;
        if (!expect_.empty()) {
            if (auto failure = receive_expected(sock.get(), target, deadline, start); !failure.empty())
                return vitals::Result::fail(failure);
            summary = "received '" + printable(expect_) + "' from " + target;
        } else if (!send_.empty()) {
            summary = "connected to " + target + " and sent " + std::to_string(send_.size()) + " bytes";
        } else {
            summary = "connected to " + target;
        }

        const double elapsed = std::round(ms_since(start) * 100.0) / 100.0;
        char in[48];
        std::snprintf(in, sizeof in, " in %.2f ms", elapsed);
        return vitals::Result::pass(summary + in).observed(elapsed, "ms");
    }

private:
    enum class Connect { ok, failed, timed_out };

    // Non-blocking connect to one address, waiting at most until the deadline.
    static Connect connect_to(const addrinfo& ai, vitals::Deadline deadline, Socket& out, int& err) {
        // SOCK_CLOEXEC: other threads of the daemon may fork check programs at any time.
        Socket sock(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
        if (!sock.valid()) {
            err = errno;
            return Connect::failed;
        }
        if (::connect(sock.get(), ai.ai_addr, ai.ai_addrlen) != 0) {
            // EINTR on a non-blocking connect: the connection still proceeds asynchronously.
            if (errno != EINPROGRESS && errno != EINTR) {
                err = errno;
                return Connect::failed;
            }
            int ready = wait_ready(sock.get(), POLLOUT, deadline);
            if (ready == 0) return Connect::timed_out;
            if (ready < 0) {
                err = errno;
                return Connect::failed;
            }
            socklen_t len = sizeof err;
            if (::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) return Connect::failed;
        }
        out = std::move(sock);
        return Connect::ok;
    }

    // Sends all of send_. Returns "" on success, else the failure message.
    std::string send_all(int fd, const std::string& target, vitals::Deadline deadline, Clock::time_point start) const {
        size_t sent = 0;
        while (sent < send_.size()) {
            // MSG_NOSIGNAL: a peer that already closed must give us EPIPE, not a SIGPIPE that kills the daemon.
            ssize_t n = ::send(fd, send_.data() + sent, send_.size() - sent, MSG_NOSIGNAL);
            if (n >= 0) {
                sent += static_cast<size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return "send to " + target + ": " + errno_text(errno);
            int ready = wait_ready(fd, POLLOUT, deadline);
            if (ready == 0) return "send to " + target + " timed out after " + whole_ms_since(start) + " ms";
            if (ready < 0) return "send to " + target + ": " + errno_text(errno);
        }
        return {};
    }

    // Reads until expect_ appears, the peer closes, kMaxRead bytes arrive or the deadline passes.
    // Returns "" when found, else the failure message.
    std::string receive_expected(int fd, const std::string& target, vitals::Deadline deadline,
                                 Clock::time_point start) const {
        const std::string wanted = "expected '" + printable(expect_) + "' not received";
        std::string received;
        // A read error (typically a reset) still quotes what arrived before it: often the peer's reason.
        auto read_error = [&](int err) {
            std::string text = "read from " + target + ": " + errno_text(err);
            return received.empty() ? text : text + " (got '" + printable(received) + "')";
        };
        char buf[4096];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                // Search only the new bytes plus an overlap for a match that straddles two reads.
                size_t from = received.size() >= expect_.size() ? received.size() - expect_.size() + 1 : 0;
                received.append(buf, static_cast<size_t>(n));
                if (received.find(expect_, from) != std::string::npos) return {};
                if (received.size() >= kMaxRead)
                    return wanted + " in the first " + std::to_string(received.size()) + " bytes (got '" +
                           printable(received) + "')";
                continue;
            }
            if (n == 0) return wanted + " (got '" + printable(received) + "')";  // peer closed
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return read_error(errno);
            int ready = wait_ready(fd, POLLIN, deadline);
            if (ready == 0)
                return wanted + " within " + whole_ms_since(start) + " ms (got '" + printable(received) + "')";
            if (ready < 0) return read_error(errno);
        }
    }

    std::string host_;
    int64_t port_;
    std::string send_;    // empty: send nothing
    std::string expect_;  // empty: do not read
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec tcp_options[] = {
    vitals::option("host", VITALS_OPTION_STRING, nullptr, "host name or IP address to connect to", VITALS_OPTION_REQUIRED),
    vitals::option("port", VITALS_OPTION_INT, nullptr, "TCP port, 1-65535", VITALS_OPTION_REQUIRED),
    vitals::option("send", VITALS_OPTION_STRING, nullptr, "bytes to send once connected (JSON escapes such as \\r\\n apply)"),
    vitals::option("expect", VITALS_OPTION_STRING, nullptr,
                   "substring that must appear in what the peer sends back before the deadline"),
};

}  // namespace

VITALS_PLUGIN("vitals-tcp", "0.1.0",
              vitals::check_type<TcpCheck>("tcp", "TCP connect, optional send/expect", "component", "responseTime",
                                           tcp_options))
