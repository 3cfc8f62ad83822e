// redis: PING → PONG against a Redis server, with AUTH (password alone or ACL user + password),
// SELECT, an optional replication-role check and optional TLS — every step bounded by the deadline.
//
// The Redis protocol is Poco::Redis's: Poco::Redis::Array encodes each command and
// Poco::Redis::RedisInputStream + RedisType::createRedisType()/read() decode each reply. No RESP
// is written by hand. What is ours is the connection underneath, because Poco::Redis::Client (1.11)
// cannot give us what a health check needs:
//   - its socket is private and always plain TCP: no way to put a SecureStreamSocket under it (TLS);
//   - its reply stream swallows socket exceptions: a receive timeout surfaces as "Lost connection to
//     Redis server", the same text as a server that closed the connection (measured here);
//   - it sets no send timeout, opens the socket without close-on-exec (other threads of the daemon
//     spawn check programs), and resolves names with blocking getaddrinfo().
// So: a non-blocking, close-on-exec socket connected within the deadline (plugins/common:
// vitals_plugins/resolve.hpp and connect.hpp, shared with the other network plugins), wrapped in a
// Poco StreamSocket whose every wait ends at the deadline (DeadlineSocketImpl), or attached to a
// Poco SecureStreamSocket for TLS (context and verification: vitals_plugins/tls.hpp);
// Client::readReply()'s few lines are repeated in Connection::read().
#include <vitals/plugin.hpp>

#include <vitals_plugins/connect.hpp>
#include <vitals_plugins/deadline.hpp>
#include <vitals_plugins/redact.hpp>
#include <vitals_plugins/resolve.hpp>
#include <vitals_plugins/text.hpp>
#include <vitals_plugins/tls.hpp>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Error.h>
#include <Poco/Redis/RedisStream.h>
#include <Poco/Redis/Type.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;
namespace vp = vitals_plugins;
using vp::endpoint;
using vp::errno_text;
using vp::printable;
namespace PN = Poco::Net;
namespace PR = Poco::Redis;

// Waits until `fd` is ready for `events` or the deadline passes: true when ready (or in error: the
// next call reports it), false at the deadline. Throws on a poll() failure.
bool wait_ready(int fd, short events, vitals::Deadline deadline) {
    const int ready = vp::wait_ready(fd, events, deadline);
    if (ready < 0) throw PN::NetException(errno_text(errno), errno);
    return ready > 0;
}

// A Poco stream socket over our own non-blocking descriptor, every wait of which ends at the check's
// deadline with Poco::TimeoutException, whatever Poco's own timeouts say:
//   - plain TCP: Poco::Redis's streams call sendBytes()/receiveBytes() below;
//   - TLS: OpenSSL reads and writes the descriptor itself and, as the descriptor is non-blocking, asks
//     to wait; Poco's SecureSocketImpl then waits through poll() below (it believes the socket is
//     blocking, so it waits rather than returning "want read").
// The StreamSocket (or SecureStreamSocket) holding it owns it (Poco reference counting) and closes
// the descriptor.
class DeadlineSocketImpl : public PN::StreamSocketImpl {
public:
    DeadlineSocketImpl(int fd, vitals::Deadline deadline) : PN::StreamSocketImpl(fd), deadline_(deadline) {}

    using PN::StreamSocketImpl::receiveBytes;
    using PN::StreamSocketImpl::sendBytes;

    int sendBytes(const void* buffer, int length, int flags) override {
        const char* data = static_cast<const char*>(buffer);
        int sent = 0;
        while (sent < length) {
            // MSG_NOSIGNAL: a peer that already closed gives EPIPE, not a SIGPIPE.
            ssize_t n = ::send(sockfd(), data + sent, static_cast<size_t>(length - sent), flags | MSG_NOSIGNAL);
            if (n >= 0) {
                sent += static_cast<int>(n);
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!wait_ready(sockfd(), POLLOUT, deadline_)) throw Poco::TimeoutException();
            } else if (errno != EINTR) {
                throw PN::NetException(errno_text(errno), errno);
            }
        }
        return sent;
    }

    int receiveBytes(void* buffer, int length, int flags) override {
        for (;;) {
            ssize_t n = ::recv(sockfd(), buffer, static_cast<size_t>(length), flags);
            if (n >= 0) return static_cast<int>(n);  // 0: the server closed the connection
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!wait_ready(sockfd(), POLLIN, deadline_)) throw Poco::TimeoutException();
            } else if (errno != EINTR) {
                throw PN::NetException(errno_text(errno), errno);
            }
        }
    }

    // Poco's timeout argument is ignored (SecureSocketImpl passes the receive timeout, 0 when unset):
    // the wait ends when the socket is ready or at the deadline.
    bool poll(const Poco::Timespan&, int mode) override {
        short events = 0;
        if (mode & SELECT_READ) events |= POLLIN;
        if (mode & SELECT_WRITE) events |= POLLOUT;
        return wait_ready(sockfd(), events, deadline_);
    }

private:
    vitals::Deadline deadline_;
};

// Why certificate verification failed, from what the verify callback recorded (vitals_plugins/tls.hpp),
// e.g. "unable to get local issuer certificate (certificate at depth 1)".
std::string verify_error_text(const vp::VerifyRecord& record) {
    std::string reason = X509_verify_cert_error_string(record.error);
    return record.depth > 0 ? reason + " (certificate at depth " + std::to_string(record.depth) + ")" : reason;
}

// Failures of one step, already worded for the operator.
struct StepFailure : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct ServerClosed {};  // the server closed the connection (EOF)

// One connection to the server, Poco::Redis on top. Not copyable; closes on destruction.
class Connection {
public:
    // Wraps a connected non-blocking descriptor (ownership moves to the Connection at once). With
    // `tls`, performs the TLS handshake against `server_name` before returning.
    Connection(int fd, vitals::Deadline deadline, const Poco::Net::Context::Ptr& tls, const std::string& server_name) {
        PN::StreamSocket plain(new DeadlineSocketImpl(fd, deadline));
        if (tls.isNull()) {
            socket_ = plain;
        } else {
            PN::SecureStreamSocket secure = PN::SecureStreamSocket::attach(plain, server_name, tls);
            // attach() leaves the handshake pending on a non-blocking socket; do it now, so that its
            // failures are reported as the handshake's.
            if (secure.completeHandshake() != 1) throw ServerClosed{};
            socket_ = secure;
        }
        in_ = std::make_unique<PR::RedisInputStream>(socket_);
        // Make the stream rethrow what the socket throws (a timeout, a reset) instead of turning it
        // into end-of-file: Poco::Redis::Client cannot tell a timeout from a closed connection.
        in_->exceptions(std::ios::badbit);
    }

    // Sends one command and reads its reply (which may be an error reply: type REDIS_ERROR).
    PR::RedisType::Ptr execute(const PR::Array& command) {
        const std::string wire = command.toString();
        size_t sent = 0;
        while (sent < wire.size()) {
            int n = socket_.sendBytes(wire.data() + sent, static_cast<int>(wire.size() - sent));
            if (n <= 0) throw ServerClosed{};
            sent += static_cast<size_t>(n);
        }
        return read();
    }

private:
    // Client::readReply() of Poco::Redis, with end-of-file reported instead of "Invalid Redis type".
    PR::RedisType::Ptr read() {
        int marker = in_->get();
        if (marker == std::char_traits<char>::eof()) throw ServerClosed{};
        PR::RedisType::Ptr reply = PR::RedisType::createRedisType(static_cast<char>(marker));
        if (reply.isNull()) {
            char text[64];
            std::snprintf(text, sizeof text, "unexpected reply starting with 0x%02x (not a Redis server?)",
                          static_cast<unsigned>(static_cast<unsigned char>(marker)));
            throw StepFailure(text);
        }
        reply->read(*in_);
        if (in_->fail()) throw ServerClosed{};  // end of file in the middle of the reply
        return reply;
    }

    PN::StreamSocket socket_;                 // before in_: the stream holds a reference to it
    std::unique_ptr<PR::RedisInputStream> in_;
};

bool is_error(const PR::RedisType::Ptr& reply) { return reply->type() == PR::RedisType::REDIS_ERROR; }

// The text of an error reply, e.g. "WRONGPASS invalid username-password pair or user is disabled.".
std::string error_text(const PR::RedisType::Ptr& reply) {
    return static_cast<const PR::Type<PR::Error>*>(reply.get())->value().getMessage();
}

// A simple-string reply's text ("PONG", "OK"), or "" for any other type.
std::string simple_string(const PR::RedisType::Ptr& reply) {
    if (reply->type() != PR::RedisType::REDIS_SIMPLE_STRING) return {};
    return static_cast<const PR::Type<std::string>*>(reply.get())->value();
}

// The value of `key` in an INFO reply ("role:master\r\n..."), or "" when absent.
std::string info_field(const std::string& info, const std::string& key) {
    const std::string prefix = key + ":";
    size_t pos = 0;
    while (pos < info.size()) {
        size_t end = info.find('\n', pos);
        if (end == std::string::npos) end = info.size();
        std::string line = info.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.compare(0, prefix.size(), prefix) == 0) return line.substr(prefix.size());
        pos = end + 1;
    }
    return {};
}

class RedisCheck : public vitals::Check {
public:
    explicit RedisCheck(const vitals::Options& o)
        : host_(o.string("host")),
          port_(o.integer("port")),
          username_(o.string_or("username", "")),
          password_(o.string_or("password", "")),
          db_(o.integer("db")),
          tls_(o.boolean("tls")),
          tls_verify_(o.boolean("tls_verify")),
          tls_ca_file_(o.string_or("tls_ca_file", "")) {
        if (host_.empty()) throw std::runtime_error("host must not be empty");
        if (port_ < 1 || port_ > 65535)
            throw std::runtime_error("port must be between 1 and 65535 (got " + std::to_string(port_) + ")");
        if (db_ < 0 || db_ > INT_MAX) throw std::runtime_error("db must be a database number >= 0 (got " + std::to_string(db_) + ")");
        if (o.has("username") && username_.empty())
            throw std::runtime_error("username must not be empty (omit it to authenticate as the default user)");
        if (!username_.empty() && !o.has("password"))
            throw std::runtime_error("username is set but password is not: an ACL user needs a password");
        // An empty password (e.g. "${REDIS_PASSWORD:-}" with the variable unset) means: no AUTH.
        if (!username_.empty() && password_.empty())
            throw std::runtime_error("username is set but password is empty: an ACL user needs a password");
        if (o.has("role")) {
            role_ = o.string("role");
            if (role_ == "replica") role_ = "slave";  // INFO reports role:slave
            if (role_ != "master" && role_ != "slave")
                throw std::runtime_error("role must be \"master\", \"slave\" or \"replica\" (got \"" + role_ + "\")");
        }
        if (!tls_ && o.has("tls_ca_file"))
            throw std::runtime_error("tls_ca_file is set but tls is false");
        if (tls_) tls_context_ = make_tls_context();
    }

    vitals::Result run(vitals::Deadline host_deadline) override {
        const auto start = Clock::now();
        // Giving up a little early, so that our own "timed out after N ms (PING)" is recorded rather
        // than the host's generic timeout.
        const auto deadline = vp::give_up_at(host_deadline, start);
        // Belt and braces: nothing we report may contain the password, whatever a server echoes.
        return vp::redact(probe(start, deadline, host_deadline), password_);
    }

private:
    // Runs the probe; every wait ends at `deadline`, a little before the host's. A timeout is reported
    // against the whole budget (the check's timeout), "timed out after 1000 ms (PING)", although we
    // give up a little earlier to be in time.
    vitals::Result probe(Clock::time_point start, vitals::Deadline deadline, vitals::Deadline host_deadline) {
        const int port = static_cast<int>(port_);
        const std::string target = endpoint(host_, port);
        auto timeout = [&](const std::string& step) {
            return vitals::Result::fail(vp::timed_out_after_budget(start, host_deadline, step));
        };
        // "PING (127.0.0.1:6379)": the step, and which server, for messages that would not say.
        auto at = [&](const std::string& step) { return step + " (" + target + ")"; };

        vp::Resolution resolved = vp::resolve(host_, port, deadline);
        if (resolved.timed_out) return timeout(resolved.error);
        if (!resolved.addresses) return vitals::Result::fail(resolved.error);

        // Try each address in order (e.g. ::1 then 127.0.0.1 for "localhost"); report the last error.
        vp::Connected connected = vp::connect_any(resolved.addresses.get(), host_, port, deadline);
        if (connected.timed_out) return timeout("connect to " + target);
        if (!connected.fd.valid()) return vitals::Result::fail(connected.error);

        // What the verify callback sees during the TLS handshake (with tls_verify only).
        vp::VerifyRecord verified;
        verified.verifying = true;
        vp::VerifyScope verify_scope(&verified);
        std::string step = tls_ ? "TLS handshake" : "connect";
        try {
            Connection conn(connected.fd.release(), deadline, tls_context_, host_);

            if (!password_.empty()) {
                step = "AUTH";
                PR::Array auth;
                auth << "AUTH";
                if (!username_.empty()) auth << username_;
                auth << password_;
                auto reply = conn.execute(auth);
                if (is_error(reply)) return vitals::Result::fail("AUTH failed: " + error_text(reply));
            }
            if (db_ != 0) {
                step = "SELECT";
                PR::Array select;
                select << "SELECT" << std::to_string(db_);
                auto reply = conn.execute(select);
                if (is_error(reply))
                    return vitals::Result::fail("SELECT " + std::to_string(db_) + " failed: " + error_text(reply));
            }

            step = "PING";
            PR::Array ping;
            ping << "PING";
            const auto ping_start = Clock::now();
            auto reply = conn.execute(ping);
            const double rtt = std::round(std::chrono::duration<double, std::milli>(Clock::now() - ping_start).count() * 100.0) / 100.0;
            // An error reply is reported as the server words it: "NOAUTH Authentication required.",
            // "LOADING Redis is loading the dataset in memory", "MASTERDOWN ...".
            if (is_error(reply)) return vitals::Result::fail(error_text(reply)).observed(rtt, "ms");
            if (simple_string(reply) != "PONG")
                return vitals::Result::fail("unexpected reply to PING from " + target + ": " +
                                            printable(reply->toString(), 200))
                    .observed(rtt, "ms");

            char summary[96];
            std::snprintf(summary, sizeof summary, "PONG in %.2f ms", rtt);
            if (role_.empty()) return vitals::Result::pass(summary).observed(rtt, "ms");

            step = "INFO replication";
            PR::Array info;
            info << "INFO" << "replication";
            reply = conn.execute(info);
            if (is_error(reply))
                return vitals::Result::fail("INFO replication failed: " + error_text(reply)).observed(rtt, "ms");
            if (reply->type() != PR::RedisType::REDIS_BULK_STRING)
                return vitals::Result::fail("unexpected reply to INFO replication from " + target).observed(rtt, "ms");
            const PR::BulkString& text = static_cast<PR::Type<PR::BulkString>*>(reply.get())->value();
            const std::string body = text.isNull() ? std::string() : text.value();
            const std::string role = info_field(body, "role");
            if (role.empty()) return vitals::Result::fail("INFO replication reports no role").observed(rtt, "ms");
            if (role != role_)
                return vitals::Result::fail("role is " + printable(role, 200) + ", expected " + role_).observed(rtt, "ms");
            if (role == "slave") {
                // A replica cut off from its master serves stale data: still a replica, but say so.
                const std::string link = info_field(body, "master_link_status");
                if (link != "up")
                    return vitals::Result::warn(std::string(summary) + ", role slave but master_link_status is " +
                                                (link.empty() ? "missing" : printable(link, 200)))
                        .observed(rtt, "ms");
            }
            return vitals::Result::pass(std::string(summary) + ", role " + role).observed(rtt, "ms");
        } catch (const ServerClosed&) {
            return vitals::Result::fail("connection closed by " + target + " during " + step);
        } catch (const Poco::TimeoutException&) {
            return timeout(step);
        } catch (const StepFailure& e) {
            return vitals::Result::fail(at(step) + ": " + e.what());
        } catch (const PN::SSLException& e) {
            // A handshake that ran out of time fails in OpenSSL with whatever error it was in.
            if (Clock::now() >= deadline) return timeout(step);
            std::string why = verified.error == 0 ? e.displayText()
                                                  : "certificate verify failed: " + verify_error_text(verified);
            return vitals::Result::fail(at(step) + ": " + why);
        } catch (const Poco::Exception& e) {
            if (Clock::now() >= deadline) return timeout(step);
            const std::string why = e.code() > 0 ? errno_text(e.code()) : e.displayText();
            return vitals::Result::fail(at(step) + ": " + why);
        }
    }

    // One TLS client context per check, made here so that a bad tls_ca_file is a configuration error.
    // Verification is OpenSSL's own (chain against the CA file or the system store, then the host name
    // or IP address against the certificate), not Poco's: Poco's verification callback reaches for
    // the process-wide SSLManager, which needs a Poco::Util::Application configuration.
    Poco::Net::Context::Ptr make_tls_context() const {
        try {
            PN::Context::Params params;
            params.verificationMode = PN::Context::VERIFY_NONE;  // verification set up below
            params.loadDefaultCAs = tls_verify_ && tls_ca_file_.empty();  // loading them takes ~100 ms
            params.caLocation = tls_ca_file_;
            Poco::Net::Context::Ptr context = vp::client_context(params);
            SSL_CTX* ssl = context->sslContext();
            if (tls_verify_) {
                SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, &vp::verify_callback);
                if (!vp::expect_peer_name(ssl, host_))
                    throw std::runtime_error("cannot verify TLS certificates against host '" + host_ + "'");
            } else {
                SSL_CTX_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
            }
            return context;
        } catch (const Poco::Exception& e) {
            throw std::runtime_error(tls_ca_file_.empty() ? "TLS setup failed: " + e.displayText()
                                                          : "tls_ca_file " + tls_ca_file_ + ": " + e.displayText());
        }
    }

    std::string host_;
    int64_t port_;
    std::string username_;  // empty: AUTH as the default user (password alone)
    std::string password_;  // empty: no AUTH
    int64_t db_;
    std::string role_;      // empty: not checked; else "master" or "slave"
    bool tls_;
    bool tls_verify_;
    std::string tls_ca_file_;
    Poco::Net::Context::Ptr tls_context_;  // null without TLS
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec redis_options[] = {
    vitals::option("host", VITALS_OPTION_STRING, "\"127.0.0.1\"", "Redis server host name or IP address"),
    vitals::option("port", VITALS_OPTION_INT, "6379", "TCP port, 1-65535"),
    vitals::option("username", VITALS_OPTION_STRING, nullptr, "ACL user for AUTH (Redis 6+); needs password"),
    vitals::option("password", VITALS_OPTION_STRING, nullptr,
                   "password for AUTH (requirepass, or the ACL user's); empty or unset: no AUTH",
                   VITALS_OPTION_SECRET),
    vitals::option("db", VITALS_OPTION_INT, "0", "database number; SELECTed when not 0"),
    vitals::option("tls", VITALS_OPTION_BOOL, "false", "connect with TLS (TLS 1.2 or later)"),
    vitals::option("tls_verify", VITALS_OPTION_BOOL, "true",
                   "with tls: verify the server certificate chain and that it names host"),
    vitals::option("tls_ca_file", VITALS_OPTION_STRING, nullptr,
                   "with tls: PEM file (or directory) of CA certificates; default: the system store"),
    vitals::option("role", VITALS_OPTION_STRING, nullptr,
                   "expected INFO replication role: master, or slave/replica (warns if its master link is down)"),
};

}  // namespace

VITALS_PLUGIN("vitals-redis", "0.1.0",
              vitals::check_type<RedisCheck>("redis", "Redis PING with AUTH, SELECT, optional role check and TLS",
                                             "datastore", "responseTime", redis_options))
