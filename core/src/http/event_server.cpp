#include "http/event_server.h"
#include "common/thread_name.h"

#include "http/request_head.h"
#include "common/worker_pool.h"

#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unordered_map>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace vitals {

using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kListenerId = 0;
constexpr uint64_t kWakeId = 1;
constexpr Millis kSweepEvery{200};

// From the address accept4() filled in (no getpeername() per connection).
bool is_loopback(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) return true;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) return a->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

// RFC 9110 §6.6.1: an origin server with a clock sends Date. Formatted once a second per thread.
const std::string& http_date() {
    thread_local time_t cached_second = 0;
    thread_local std::string cached;
    time_t now = ::time(nullptr);
    if (now != cached_second) {
        char buf[64];
        tm t{};
        gmtime_r(&now, &t);
        size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &t);
        cached.assign(buf, n);
        cached_second = now;
    }
    return cached;
}

const std::string& reason(int code) {
    return Poco::Net::HTTPResponse::getReasonForStatus(Poco::Net::HTTPResponse::HTTPStatus(code));
}

}  // namespace

// What the loops share.
struct EventServer::Impl {
    Poco::Net::ServerSocket socket;
    int listen_fd = -1;
    Handler handler;
    IsSlow is_slow;
    OnError on_error;
    OnClose on_close;
    OnStatusAnswer on_status_answer;
    const TlsSlot* tls = nullptr;  // null: plain HTTP
    EventServerOptions opt;
    std::atomic<size_t>* connections = nullptr;  // across all loops
    std::unique_ptr<WorkerPool> workers;
    std::atomic<bool> stopping{false};
    std::vector<std::unique_ptr<Loop>> loops;
};

// One epoll loop and the connections it accepted.
struct EventServer::Loop {
    struct Conn {
        uint64_t id = 0;
        int fd = -1;
        bool loopback = false;
        PeerAddress peer;
        // TLS (server.tls): the session, from accept to close; null on a plain connection (and after
        // a plain HTTP request to the TLS port, which is answered in plain text).
        SSL* ssl = nullptr;
        bool handshaking = false;     // SSL_do_handshake has not completed
        bool tls_want_write = false;  // OpenSSL must write before it can read on (handshake, tickets)
        bool verified_cert = false;   // the client's certificate verified (ClientInfo::verified_cert)
        int64_t received_us = 0;  // the kernel's receive time of the last bytes read
        bool registered = false;  // added to the epoll set
        uint32_t events = 0;      // registered interest
        std::string in;           // received, not yet consumed by the parser
        std::unique_ptr<RequestParser> parser;  // made at the first byte; reused request after request
        std::string out;
        size_t out_sent = 0;
        enum class State { reading, waiting, writing, lingering } state = State::reading;
        bool close_after_write = false;
        CloseReason close_reason = CloseReason::answered_close;  // with close_after_write
        bool peer_closed = false;  // the client shut down its side; answer what it sent, then close
        size_t lingered = 0;       // bytes dropped while lingering
        MonoTime deadline;
    };
    // An answer computed on a worker, for the loop to send.
    struct Done {
        uint64_t id;
        std::string bytes;
        bool close;
    };
    // Shared with worker jobs, which may outlive a stopping server by a little.
    struct Mailbox {
        std::mutex mu;
        std::deque<Done> done;
        int wake_fd = -1;
        bool open = true;
    };

    static constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;
    static constexpr size_t kMaxLingerBytes = 256 * 1024;

    Impl& srv;
    size_t index;  // of this loop, for the per-loop prober tables
    const EventServerOptions& opt;
    RequestLimits limits;
    int epoll_fd = -1;
    std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
    uint64_t next_id = 2;
    std::shared_ptr<Mailbox> mailbox = std::make_shared<Mailbox>();

    Loop(Impl& s, size_t i) : srv(s), index(i), opt(s.opt), limits{s.opt.max_header_bytes, s.opt.max_body_bytes} {
        epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
        mailbox->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (epoll_fd < 0 || mailbox->wake_fd < 0)
            throw Poco::Net::NetException(std::string("epoll/eventfd: ") + std::strerror(errno));
        epoll_event ev{};
        // EPOLLEXCLUSIVE: a new connection wakes one waiting loop, not all of them.
        ev.events = EPOLLIN | (s.opt.loops > 1 ? uint32_t(EPOLLEXCLUSIVE) : 0u);
        ev.data.u64 = kListenerId;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s.listen_fd, &ev);
        ev.events = EPOLLIN;
        ev.data.u64 = kWakeId;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, mailbox->wake_fd, &ev);
    }

    ~Loop() {
        if (epoll_fd >= 0) ::close(epoll_fd);
        std::lock_guard<std::mutex> lock(mailbox->mu);
        mailbox->open = false;
        // wake_fd stays open: a worker still finishing checks `open` under the lock and never writes.
    }

    // Changes the connection's epoll interest only when it differs: most requests need none. An
    // interest of 0 (waiting on a worker after the client half-closed) still reports errors.
    void watch(Conn& c, uint32_t events) {
        if (c.registered && c.events == events) return;
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = c.id;
        ::epoll_ctl(epoll_fd, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
        c.registered = true;
        c.events = events;
    }

    void close_conn(uint64_t id, CloseReason why) {
        auto it = conns.find(id);
        if (it == conns.end()) return;
        // close() alone leaves the epoll set: no EPOLL_CTL_DEL per connection. Were a forked child
        // (exec checks) still holding the descriptor until its exec, the set could report a few
        // more events for it; they carry this connection's id, which is never reused, and are
        // ignored.
        if (it->second->ssl) SSL_free(it->second->ssl);  // its SSL_CTX reference goes with it
        ::close(it->second->fd);
        conns.erase(it);
        srv.connections->fetch_sub(1, std::memory_order_relaxed);
        if (srv.on_close) srv.on_close(why);
    }

    void close_all() {
        std::vector<uint64_t> ids;
        for (auto& [id, c] : conns) ids.push_back(id);
        for (uint64_t id : ids) close_conn(id, CloseReason::shutdown);
    }

    // The oldest connection waiting for a request with nothing buffered: the cheapest to drop.
    bool evict_idle() {
        Conn* oldest = nullptr;
        for (auto& [id, c] : conns)
            if (c->state == Conn::State::reading && c->in.empty() && !(c->parser && c->parser->started()) &&
                (!oldest || c->deadline < oldest->deadline))
                oldest = c.get();
        if (!oldest) return false;
        close_conn(oldest->id, CloseReason::limit);
        return true;
    }

    void accept_all() {
        // A bounded batch: what is left wakes another loop (level-triggered, EPOLLEXCLUSIVE). With
        // TLS, one at a time: each new connection's first handshake step (the server's signature)
        // runs here at once, and a batch would queue handshakes on this loop while another idles.
        const int max_batch = srv.tls ? 1 : 64;
        for (int batch = 0; batch < max_batch; ++batch) {
            sockaddr_storage peer{};
            socklen_t len = sizeof peer;
            int fd = ::accept4(srv.listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR) continue;
                if (errno == EMFILE || errno == ENFILE) {
                    // Out of descriptors: make room rather than spin on a pending connection.
                    if (!evict_idle()) return;
                    continue;
                }
                return;  // EAGAIN (another loop took it, or none left), or a connection that died in the queue
            }
            if (srv.connections->load(std::memory_order_relaxed) >= opt.max_connections && !evict_idle()) {
                ::close(fd);
                if (srv.on_close) srv.on_close(CloseReason::limit);
                continue;
            }
            // TCP_NODELAY is inherited from the listening socket.
            auto c = std::make_unique<Conn>();
            c->id = next_id++;
            c->fd = fd;
            c->loopback = is_loopback(peer);
            c->peer = PeerAddress::from(peer);
            c->deadline = Clock::now() + opt.header_timeout;  // the TLS handshake included
            if (srv.tls && !start_tls(*c)) {
                ::close(fd);
                if (srv.on_close) srv.on_close(CloseReason::tls_error);
                continue;
            }
            Conn& conn = *c;
            uint64_t id = c->id;
            conns.emplace(id, std::move(c));
            srv.connections->fetch_add(1, std::memory_order_relaxed);
            // The listening socket defers accept until the request has arrived (TCP_DEFER_ACCEPT),
            // so it is read at once: a probe on a new connection costs accept, recv, send and close,
            // with no epoll registration. Only a connection that still has nothing to read (the
            // deferral ran out) or stays open (keep-alive, a slow route) is registered.
            readable(conn);
            auto it = conns.find(id);
            if (it != conns.end() && !it->second->registered) watch(*it->second, kReadEvents);
        }
    }

    // A server-side SSL on the connection's socket, with the context new connections use now.
    bool start_tls(Conn& c) {
        std::shared_ptr<const TlsContext> ctx = srv.tls->load();
        if (!ctx) return false;
        c.ssl = SSL_new(ctx->ctx());
        if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1) {
            if (c.ssl) SSL_free(c.ssl);
            c.ssl = nullptr;
            ERR_clear_error();
            return false;
        }
        SSL_set_accept_state(c.ssl);
        c.handshaking = true;
        return true;
    }

    // The handshake, as far as the socket allows. Returns false when the connection was closed or
    // answered (a failed handshake); true when it completed or waits for the socket.
    bool handshake(Conn& c) {
        int r = SSL_do_handshake(c.ssl);
        if (r == 1) {
            c.handshaking = false;
            c.verified_cert = SSL_get0_peer_certificate(c.ssl) && SSL_get_verify_result(c.ssl) == X509_V_OK;
            return true;
        }
        int err = SSL_get_error(c.ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            c.tls_want_write = err == SSL_ERROR_WANT_WRITE;
            return true;
        }
        // OpenSSL's error queue is per thread: cleared here, so the next connection's
        // SSL_get_error does not read this one's.
        bool plain_http = ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_HTTP_REQUEST;
        ERR_clear_error();
        SSL_free(c.ssl);  // after a fatal error, no SSL_shutdown: the alert (if any) is already sent
        c.ssl = nullptr;
        c.handshaking = false;
        if (plain_http) {  // say so in plain text, as the client will read it
            fail(c, 400, "this port speaks HTTPS (server.tls is set): use https://");
            return false;
        }
        // Closed after a linger, as an error answer is: the rest of the client's bytes are read and
        // dropped first, so that the close is a FIN after the alert, not a reset that may destroy it.
        c.close_reason = CloseReason::tls_error;
        finish(c);
        return false;
    }

    // receive() on a TLS connection: the handshake, then SSL_read while OpenSSL holds bytes (a
    // record the socket no longer signals is read out). Returns false when the connection was closed.
    bool receive_tls(Conn& c) {
        c.tls_want_write = false;
        if (c.handshaking) {
            if (!handshake(c)) return false;  // c may be gone
            if (c.handshaking) return true;   // waits for the socket
        }
        char buf[16384];
        for (;;) {
            int n = SSL_read(c.ssl, buf, sizeof buf);
            if (n > 0) {
                // OpenSSL reads the socket itself: no kernel receive timestamp, the time of reading.
                c.received_us = ProberRecord::now_us();
                c.in.append(buf, size_t(n));
                if (c.in.size() > opt.max_header_bytes + sizeof buf) break;  // the parser decides first
                // Nothing buffered in OpenSSL: skip the read that would only say WANT_READ (the
                // socket is level-triggered, so bytes still in it are reported again).
                if (!SSL_has_pending(c.ssl)) break;
                continue;
            }
            int err = SSL_get_error(c.ssl, n);
            if (err == SSL_ERROR_WANT_READ) break;
            if (err == SSL_ERROR_WANT_WRITE) {
                c.tls_want_write = true;
                break;
            }
            if (err == SSL_ERROR_ZERO_RETURN) {  // close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
                c.peer_closed = true;
                break;
            }
            ERR_clear_error();
            close_conn(c.id, CloseReason::io_error);
            return false;
        }
        return true;
    }

    static std::string serialize(const HttpResponse& r, bool head, bool close) {
        std::string out;
        out.reserve(160 + r.body.size());
        out += "HTTP/1.1 ";
        out += std::to_string(r.code);
        out += ' ';
        out += reason(r.code);
        out += "\r\nDate: ";
        out += http_date();
        out += "\r\n";
        bool bodyless = r.code == 204 || r.code == 304 || r.code < 200;
        if (!bodyless) {
            out += "Content-Type: ";
            out += r.content_type;
            out += "\r\nContent-Length: ";
            out += std::to_string(r.body.size());
            out += "\r\n";
        }
        out += "Cache-Control: no-store\r\n";
        for (const auto& [k, v] : r.headers) {
            out += k;
            out += ": ";
            out += v;
            out += "\r\n";
        }
        out += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
        if (!head && !bodyless) out += r.body;
        return out;
    }

    // Starts writing `bytes`; `close` with its reason when the connection ends after them. Returns
    // false when the connection was closed (the write failed, or it was the last one and done).
    bool start_write(Conn& c, std::string bytes, bool close, CloseReason why) {
        c.out = std::move(bytes);
        c.out_sent = 0;
        c.close_after_write = close;
        c.close_reason = why;
        c.state = Conn::State::writing;
        c.deadline = Clock::now() + opt.write_timeout;
        return flush(c);
    }

    // Answers the server makes itself (a malformed request, a limit); the connection ends after them.
    void fail(Conn& c, int code, const std::string& detail) {
        if (srv.on_error) srv.on_error(code);
        CloseReason why = code == 413 || code == 431 ? CloseReason::limit : CloseReason::protocol_error;
        start_write(c, serialize(problem_response(code, detail), false, true), true, why);
    }

    // The last answer is out: close, or first linger when the client may still be sending (an error
    // answer, bytes it sent that were never read): a close with unread input makes the kernel send a
    // reset, which can destroy the answer before the client reads it.
    void finish(Conn& c) {
        bool unread = !c.in.empty() || c.close_reason == CloseReason::protocol_error ||
                      c.close_reason == CloseReason::limit || c.close_reason == CloseReason::tls_error;
        if (c.ssl) {
            SSL_shutdown(c.ssl);  // close_notify, if the socket takes it; never waits for the client's
            ERR_clear_error();
        }
        ::shutdown(c.fd, SHUT_WR);
        if (!unread || c.peer_closed) {
            close_conn(c.id, c.close_reason);
            return;
        }
        c.state = Conn::State::lingering;
        c.in.clear();
        c.parser.reset();
        c.deadline = Clock::now() + opt.linger_timeout;
        watch(c, kReadEvents);
    }

    // Writes what it can; when all is sent, the connection reads again (or ends). Never calls
    // process(), so pipelined requests are answered in a loop, not by recursion. Returns false when
    // the connection was closed or ended.
    bool flush(Conn& c) {
        while (c.out_sent < c.out.size()) {
            if (c.ssl) {
                size_t left = std::min<size_t>(c.out.size() - c.out_sent, INT_MAX);
                int n = SSL_write(c.ssl, c.out.data() + c.out_sent, int(left));  // partial writes enabled
                if (n > 0) {
                    c.out_sent += size_t(n);
                    continue;
                }
                int err = SSL_get_error(c.ssl, n);
                ERR_clear_error();
                if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
                    uint32_t want = err == SSL_ERROR_WANT_READ ? uint32_t(EPOLLIN) : uint32_t(EPOLLOUT);
                    watch(c, c.peer_closed ? want : want | EPOLLRDHUP);
                    return true;
                }
                close_conn(c.id, CloseReason::io_error);
                return false;
            }
            ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
            if (n > 0) {
                c.out_sent += size_t(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                // Once the client has half-closed, EPOLLRDHUP would report that at every wait
                // (level-triggered) while the socket stays unwritable: watch for writability alone.
                watch(c, c.peer_closed ? uint32_t(EPOLLOUT) : uint32_t(EPOLLOUT | EPOLLRDHUP));
                return true;
            }
            close_conn(c.id, CloseReason::io_error);
            return false;
        }
        if (c.close_after_write) {
            finish(c);
            return false;
        }
        c.out.clear();
        c.out_sent = 0;
        c.state = Conn::State::reading;
        bool started = !c.in.empty() || (c.parser && c.parser->started());
        c.deadline = Clock::now() + (started ? opt.header_timeout : opt.keepalive_timeout);
        if (!c.peer_closed) watch(c, kReadEvents);
        return true;
    }

    // Parses and answers the complete requests in c.in, in order. Returns false when the connection
    // was closed.
    bool process(Conn& c) {
        while (c.state == Conn::State::reading && !c.in.empty()) {
            if (!c.parser) c.parser = std::make_unique<RequestParser>(limits);
            RequestParser& parser = *c.parser;
            ParseStatus st = parser.parse(c.in);
            c.in.erase(0, parser.consumed());
            if (st == ParseStatus::incomplete) {
                c.deadline = std::min(c.deadline, Clock::now() + opt.header_timeout);
                break;
            }
            if (st == ParseStatus::error) {
                fail(c, parser.error_code(), parser.error());
                return false;
            }
            if (st == ParseStatus::continue_expected) {
                // RFC 9110 §10.1.1: the client waits for this before it sends the body.
                parser.continue_sent();
                if (!start_write(c, "HTTP/1.1 100 Continue\r\n\r\n", false, CloseReason::answered_close)) return false;
                continue;
            }
            HttpRequest req = parser.request();
            parser.reset();

            bool head = req.is("HEAD");
            bool close = !req.keep_alive || c.peer_closed || srv.stopping;
            CloseReason why = c.peer_closed ? CloseReason::peer_closed : CloseReason::answered_close;
            if (srv.is_slow(req)) {
                c.state = Conn::State::waiting;
                c.close_reason = why;
                watch(c, c.peer_closed ? 0u : uint32_t(EPOLLRDHUP));
                auto box = mailbox;
                uint64_t id = c.id;
                ClientInfo client{c.loopback, c.verified_cert};
                Handler h = srv.handler;
                srv.workers->submit([box, id, client, h, req = std::move(req), head, close] {
                    std::string bytes;
                    try {
                        bytes = serialize(h(req, client), head, close);
                    } catch (const std::exception& e) {
                        bytes = serialize(problem_response(500, e.what()), head, true);
                    }
                    std::lock_guard<std::mutex> lock(box->mu);
                    if (!box->open) return;
                    box->done.push_back({id, std::move(bytes), close});
                    uint64_t one = 1;
                    (void)!::write(box->wake_fd, &one, sizeof one);
                });
                return true;
            }
            HttpResponse r;
            try {
                r = srv.handler(req, ClientInfo{c.loopback, c.verified_cert});
            } catch (const std::exception& e) {
                r = problem_response(500, e.what());
                close = true;
            }
            if (r.status_answer && srv.on_status_answer) {
                PeerAddress peer = c.peer;  // c may be gone after the write
                int64_t received = c.received_us;
                bool abandoned = c.peer_closed;
                bool open = start_write(c, serialize(r, head, close), close, why);
                srv.on_status_answer(index, peer, req, r.code, received, ProberRecord::now_us(), abandoned);
                if (!open) return false;
                continue;
            }
            if (!start_write(c, serialize(r, head, close), close, why)) return false;
        }
        if (c.peer_closed && c.state == Conn::State::reading) {
            close_conn(c.id, CloseReason::peer_closed);  // nothing more can come
            return false;
        }
        return true;
    }

    // Reads what is there. Returns false when the connection was closed.
    bool receive(Conn& c) {
        if (c.ssl && c.state != Conn::State::lingering) return receive_tls(c);
        char buf[16384];
        // The first read of a connection reads on to EAGAIN or the end: a request queued while the
        // daemon could not run (a stall) may already be followed by the client's close, and the
        // kernel then reports the close's receive time for both (it coalesces them). Knowing the
        // client gave up tells that answer apart (OnStatusAnswer's `abandoned`).
        bool first_read = c.received_us == 0;
        // The kernel's receive timestamp (SO_TIMESTAMPNS, inherited from the listening socket).
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
        for (;;) {
            iovec iov{buf, sizeof buf};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            ssize_t n = ::recvmsg(c.fd, &msg, 0);
            if (n > 0) {
                cmsghdr* cm = CMSG_FIRSTHDR(&msg);
                if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                    timespec ts;
                    std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                    c.received_us = int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
                } else {
                    c.received_us = ProberRecord::now_us();
                }
                if (c.state == Conn::State::lingering) {
                    c.lingered += size_t(n);
                    if (c.lingered > kMaxLingerBytes) break;
                    continue;
                }
                c.in.append(buf, size_t(n));
                // Enough for the parser to decide (a head never exceeds its limit; a body is consumed
                // as it comes): it runs before more is read.
                if (c.in.size() > opt.max_header_bytes + sizeof buf) break;
                // A short read drained the socket: skip the recv() that would only say EAGAIN (the
                // loop is level-triggered, so anything arriving meanwhile is reported again).
                if (size_t(n) < sizeof buf && !first_read) break;
                continue;
            }
            if (n == 0) {  // the peer shut down its side: answer what it sent, then close
                c.peer_closed = true;
                break;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            close_conn(c.id, CloseReason::io_error);
            return false;
        }
        return true;
    }

    void readable(Conn& c) {
        for (;;) {
            if (!receive(c)) return;
            if (c.state == Conn::State::lingering) {
                if (c.peer_closed || c.lingered > kMaxLingerBytes) close_conn(c.id, c.close_reason);
                return;
            }
            if (!process(c)) return;
            // What OpenSSL decrypted beyond the size cap is not signalled by the socket again.
            if (!(c.ssl && c.state == Conn::State::reading && !c.peer_closed && SSL_pending(c.ssl) > 0)) break;
        }
        // A TLS connection reading on may first have to write (handshake messages, tickets).
        if (c.ssl && c.state == Conn::State::reading && !c.peer_closed)
            watch(c, c.tls_want_write ? kReadEvents | EPOLLOUT : kReadEvents);
    }

    void deliver_done() {
        uint64_t count;
        (void)!::read(mailbox->wake_fd, &count, sizeof count);
        std::deque<Done> done;
        {
            std::lock_guard<std::mutex> lock(mailbox->mu);
            done.swap(mailbox->done);
        }
        for (auto& d : done) {
            auto it = conns.find(d.id);
            if (it == conns.end()) continue;  // the client went away meanwhile
            Conn& c = *it->second;
            CloseReason why = c.close_reason;
            if (start_write(c, std::move(d.bytes), d.close || c.peer_closed, why) && c.state == Conn::State::reading)
                process(c);
        }
    }

    void sweep() {
        MonoTime now = Clock::now();
        std::vector<std::pair<uint64_t, CloseReason>> expired;
        for (auto& [id, c] : conns)
            if (c->state != Conn::State::waiting && now >= c->deadline)
                expired.emplace_back(id, c->state == Conn::State::lingering ? c->close_reason : CloseReason::timeout);
        for (auto& [id, why] : expired) close_conn(id, why);
    }

    void run() {
        epoll_event events[256];
        MonoTime next_sweep = Clock::now() + kSweepEvery;
        while (!srv.stopping) {
            int n = ::epoll_wait(epoll_fd, events, 256, int(kSweepEvery.count()));
            for (int i = 0; i < n; ++i) {
                uint64_t id = events[i].data.u64;
                if (id == kListenerId) {
                    accept_all();
                    continue;
                }
                if (id == kWakeId) {
                    deliver_done();
                    continue;
                }
                auto it = conns.find(id);
                if (it == conns.end()) continue;
                Conn& c = *it->second;
                uint32_t ev = events[i].events;
                if (ev & EPOLLERR) {
                    close_conn(id, CloseReason::io_error);
                    continue;
                }
                if ((ev & EPOLLHUP) && !(ev & EPOLLIN)) {  // both directions gone, nothing left to read
                    close_conn(id, c.state == Conn::State::lingering ? c.close_reason : CloseReason::peer_closed);
                    continue;
                }
                switch (c.state) {
                case Conn::State::writing:
                    if ((ev & EPOLLOUT) || (c.ssl && (ev & EPOLLIN))) {  // SSL_write may want to read
                        if (flush(c) && c.state == Conn::State::reading) process(c);
                    } else if (ev & EPOLLRDHUP) {
                        c.peer_closed = true;  // keep writing; no more RDHUP reports (see flush)
                        watch(c, EPOLLOUT);
                    }
                    break;
                case Conn::State::waiting:
                    // Half-closed while its request runs on a worker: the answer is still sent.
                    if (ev & (EPOLLRDHUP | EPOLLIN)) {
                        c.peer_closed = true;
                        c.close_reason = CloseReason::peer_closed;
                        watch(c, 0);
                    }
                    break;
                case Conn::State::reading:
                case Conn::State::lingering:
                    if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) || (c.ssl && (ev & EPOLLOUT))) readable(c);
                    break;
                }
            }
            MonoTime now = Clock::now();
            if (now >= next_sweep) {
                sweep();
                next_sweep = now + kSweepEvery;
            }
        }
    }
};

EventServer::EventServer(Poco::Net::ServerSocket socket, Handler handler, IsSlow is_slow, OnError on_error,
                         OnClose on_close, EventServerOptions options)
    : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.socket = std::move(socket);
    m.listen_fd = m.socket.impl()->sockfd();
    ::fcntl(m.listen_fd, F_SETFL, ::fcntl(m.listen_fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(m.listen_fd, F_SETFD, ::fcntl(m.listen_fd, F_GETFD) | FD_CLOEXEC);  // no child inherits the port
    int one = 1;
    ::setsockopt(m.listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // accepted sockets inherit it
    // Accept a connection only once its first bytes are in (or after this many seconds, when the
    // kernel hands it over anyway and the header timeout applies as usual). A client that connects
    // and sends nothing costs the daemon nothing meanwhile.
    int defer_seconds = int(std::max<int64_t>(1, options.header_timeout.count() / 1000));
    ::setsockopt(m.listen_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof defer_seconds);
    // Receive timestamps, inherited by accepted sockets: a probe's latency is measured from when its
    // bytes reached this host, so an answer delayed in the accept queue or by a stalled process
    // counts as late, as the load balancer saw it (SPEC §9, Target.Timeout).
    ::setsockopt(m.listen_fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    m.handler = std::move(handler);
    m.is_slow = std::move(is_slow);
    m.on_error = std::move(on_error);
    m.on_close = std::move(on_close);
    m.opt = options;
    m.opt.loops = std::max<size_t>(1, m.opt.loops);
    m.connections = &connections_;
    for (size_t i = 0; i < m.opt.loops; ++i) m.loops.push_back(std::make_unique<Loop>(m, i));
    m.workers = std::make_unique<WorkerPool>(options.slow_workers, 0, "vitals-slow");
}

EventServer::~EventServer() { stop(); }

void EventServer::on_status_answer(OnStatusAnswer f) { impl_->on_status_answer = std::move(f); }

void EventServer::use_tls(const TlsSlot* slot) { impl_->tls = slot; }

size_t EventServer::loops() const { return impl_->loops.size(); }

void EventServer::start() {
    for (auto& loop : impl_->loops) threads_.emplace_back([l = loop.get()] {
        name_this_thread("vitals-http");
        l->run();
    });
}

void EventServer::stop() {
    if (impl_->stopping.exchange(true)) return;
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    impl_->workers->stop(Millis(2000));
    for (auto& loop : impl_->loops) loop->close_all();
    impl_->socket.close();
}

}  // namespace vitals
