// Non-blocking TCP connect bounded by a deadline, shared by the built-in network check plugins (tcp,
// redis, http, websocket).
//
// Every wait is a poll() with the time left, so no step can block past the deadline (a blocking
// connect() waits for the kernel's SYN retries, two minutes and more). Sockets are close-on-exec from
// the start: other threads of the daemon fork check programs (exec checks) at any time, and a child
// inheriting our socket would keep the connection open.
#ifndef VITALS_PLUGINS_CONNECT_HPP
#define VITALS_PLUGINS_CONNECT_HPP

#include "vitals_plugins/deadline.hpp"
#include "vitals_plugins/fd.hpp"
#include "vitals_plugins/resolve.hpp"
#include "vitals_plugins/text.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

namespace vitals_plugins {

// Waits until `fd` is ready for `events` or the deadline passes. Returns 1 when ready (or in error:
// the caller's next call reports it), 0 on timeout, -1 with errno set if poll itself failed.
inline int wait_ready(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, poll_timeout_ms(deadline));
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
        if (n == 0 && Clock::now() >= deadline) return 0;
    }
}

// "host:port", with brackets around an IPv6 literal.
inline std::string endpoint(const std::string& host, int port) {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// no_socket: socket() itself failed; failed: the connect did.
enum class ConnectStatus { ok, no_socket, failed, timed_out };

// Non-blocking, close-on-exec connect to one address, waiting at most until the deadline. On `ok`,
// `out` holds the connected socket (still non-blocking); on no_socket or failed, `err` is the errno.
inline ConnectStatus connect_to(const addrinfo& ai, Clock::time_point deadline, Fd& out, int& err) {
    // SOCK_CLOEXEC: other threads of the daemon may fork check programs at any time.
    Fd sock(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
    if (!sock.valid()) {
        err = errno;
        return ConnectStatus::no_socket;
    }
    if (::connect(sock.get(), ai.ai_addr, ai.ai_addrlen) != 0) {
        // EINTR on a non-blocking connect: the connection still proceeds asynchronously.
        if (errno != EINPROGRESS && errno != EINTR) {
            err = errno;
            return ConnectStatus::failed;
        }
        int ready = wait_ready(sock.get(), POLLOUT, deadline);
        if (ready == 0) return ConnectStatus::timed_out;
        if (ready < 0) {
            err = errno;
            return ConnectStatus::failed;
        }
        socklen_t len = sizeof err;
        if (::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) return ConnectStatus::failed;
    }
    out = std::move(sock);
    return ConnectStatus::ok;
}

struct Connected {
    Fd fd;                   // on success: connected, non-blocking, close-on-exec
    bool timed_out = false;  // the deadline passed while connecting (no further address was tried)
    // Otherwise, on failure: the last address's error, e.g. "connect to localhost:6379 (::1): Connection
    // refused" (the address is named when it is not the host as configured).
    std::string error;
    bool socket_failed = false;  // that error came from socket() itself, not from the connect
    int error_number = 0;        // its errno
};

// Connects to each of `addresses` in order (e.g. ::1 then 127.0.0.1 for "localhost") until one
// accepts, all fail, or the deadline passes. `host` and `port` are as configured, for messages.
inline Connected connect_any(const addrinfo* addresses, const std::string& host, int port, Clock::time_point deadline) {
    Connected result;
    for (const addrinfo* ai = addresses; ai && !result.fd.valid(); ai = ai->ai_next) {
        int err = 0;
        const ConnectStatus status = connect_to(*ai, deadline, result.fd, err);
        if (status == ConnectStatus::timed_out) {
            result.timed_out = true;
            return result;
        }
        if (status == ConnectStatus::ok) break;
        std::string address = numeric_host(*ai);
        result.error = "connect to " + endpoint(host, port) + (address == host ? "" : " (" + address + ")") + ": " +
                       errno_text(err);
        result.socket_failed = status == ConnectStatus::no_socket;
        result.error_number = err;
    }
    return result;
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_CONNECT_HPP
