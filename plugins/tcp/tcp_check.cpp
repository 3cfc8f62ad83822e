// tcp: resolve host, connect to host:port, optionally send bytes and wait for an expected substring —
// all bounded by the host's deadline.
//
// Plain POSIX sockets (non-blocking connect + poll) rather than a socket library: every wait below is
// a poll() with the time left, so no step can block past the deadline. Name resolution uses glibc's
// getaddrinfo_a for the same reason: plain getaddrinfo() can block for resolv.conf's timeout × attempts
// (10 s and more against a dead DNS server) whatever our deadline says. Both are shared with the other
// network plugins (plugins/common: vitals_plugins/resolve.hpp and connect.hpp).
#include <vitals/plugin.hpp>

#include <vitals_plugins/connect.hpp>
#include <vitals_plugins/resolve.hpp>
#include <vitals_plugins/text.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace {

namespace vp = vitals_plugins;
using Clock = std::chrono::steady_clock;
using vp::endpoint;
using vp::errno_text;
using vp::printable;
using vp::wait_ready;

// Reading stops after this many bytes without a match: memory stays bounded whatever the peer sends.
constexpr size_t kMaxRead = 64 * 1024;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string whole_ms_since(Clock::time_point start) { return std::to_string(vp::whole_ms(start, Clock::now())); }

// "timed out after N ms", N the time spent since `start`.
std::string timed_out_since(Clock::time_point start) { return vp::timed_out_after(vp::whole_ms(start, Clock::now())); }

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

    vitals::Result run(vitals::Deadline host_deadline) override {
        const auto start = Clock::now();
        // Every step gives up a little early, so that our own "connect to ... timed out after N ms"
        // is recorded rather than the host's generic timeout.
        const auto deadline = vp::give_up_at(host_deadline, start);
        const int port = static_cast<int>(port_);
        const std::string target = endpoint(host_, port);

        vp::Resolution resolved = vp::resolve(host_, port, deadline);
        if (resolved.timed_out)
            return vitals::Result::fail(resolved.error + " " + timed_out_since(start));
        if (!resolved.addresses) return vitals::Result::fail(resolved.error);

        // Try each address in order (e.g. ::1 then 127.0.0.1 for "localhost"); report the last error.
        vp::Connected sock = vp::connect_any(resolved.addresses.get(), host_, port, deadline);
        if (sock.timed_out)
            return vitals::Result::fail("connect to " + target + " " + timed_out_since(start));
        if (!sock.fd.valid()) return vitals::Result::fail(sock.error);

        if (!send_.empty()) {
            if (auto failure = send_all(sock.fd.get(), target, deadline, start); !failure.empty())
                return vitals::Result::fail(failure);
        }

        std::string summary;
        if (!expect_.empty()) {
            if (auto failure = receive_expected(sock.fd.get(), target, deadline, start); !failure.empty())
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
            if (ready == 0) return "send to " + target + " " + timed_out_since(start);
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
