// websocket: the RFC 6455 opening handshake against a ws:// or wss:// URL (101, Upgrade, Connection,
// Sec-WebSocket-Accept; optionally the subprotocol the server selected), then optionally ping → pong
// and send → expect, and always a clean close (close frame 1000, wait for the server's close frame)
// so that the service does not log aborted connections — all bounded by the host's deadline.
//
// The WebSocket protocol is Poco's (Poco::Net::WebSocket over an HTTPClientSession, on NetSSL's
// SecureStreamSocket for wss); its constructor performs and validates the handshake and reports what
// went wrong as a WebSocketException code, which run() maps to a precise message using the response.
// vitals_plugins/net_client.hpp (plugins/common, shared with plugins/http) prepares the connection
// (deadline-bounded resolve/connect, TLS context and verification, a guard that cuts the connection at
// the deadline).
#include <vitals_plugins/net_client.hpp>
#include <vitals_plugins/text.hpp>
#include <vitals_plugins/url.hpp>

#include <Poco/Buffer.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/WebSocket.h>

namespace {

using namespace vitals_plugins;
using Poco::Net::WebSocket;

constexpr const char* kUserAgent = "vitals-websocket/0.1.0";
// Largest message accepted while waiting for a pong or the expected reply.
constexpr int kMaxMessage = 1024 * 1024;
constexpr int kNormalClosure = 1000;

int opcode_of(int flags) { return flags & WebSocket::FRAME_OP_BITMASK; }

// "1001 going away" from a close frame's payload (status code, then an optional UTF-8 reason).
std::string close_reason(const char* data, int n) {
    if (n < 2) return "no status code";
    int code = (static_cast<unsigned char>(data[0]) << 8) | static_cast<unsigned char>(data[1]);
    std::string reason(data + 2, static_cast<size_t>(n - 2));
    return std::to_string(code) + (reason.empty() ? "" : " " + printable(reason, 80));
}

// Splits a comma-separated header value or option into trimmed, non-empty items.
std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    size_t from = 0;
    for (;;) {
        size_t comma = text.find(',', from);
        std::string item = text.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
        if (comma == std::string::npos) return out;
        from = comma + 1;
    }
}

// What reading one data message produced.
enum class Read { message, closed_by_server, connection_closed };

// Observed value: handshake latency — milliseconds from the start of the run (name resolution, TCP
// connect and TLS included) until a valid 101 response.
class WebSocketCheck : public vitals::Check {
public:
    explicit WebSocketCheck(const vitals::Options& o)
        : url_(parse_url(o.string("url"), "url", {"ws", "wss"})),
          headers_(o.string_map("headers")),
          subprotocol_(o.string_or("subprotocol", "")),
          origin_(o.string_or("origin", "")),
          ping_(o.boolean("ping")),
          send_(o.string_or("send", "")),
          has_send_(o.has("send")),
          expect_(o.string_or("expect", "")) {
        // The handshake headers are Poco's (Upgrade, Connection, Sec-WebSocket-Key/-Version) or ours
        // (Origin, Sec-WebSocket-Protocol: use the options). Extensions would change the framing,
        // which Poco does not implement.
        check_headers(headers_, {"Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                                 "Sec-WebSocket-Accept", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
                                 "Origin", "Content-Length", "Transfer-Encoding"});
        if (url_.has_credentials)
            for (const auto& h : headers_)
                if (iequals(h.first, "Authorization"))
                    throw std::runtime_error("headers: 'Authorization' conflicts with the user info in url");
        if (o.has("subprotocol")) {
            offered_ = split_list(subprotocol_);
            if (offered_.empty()) throw std::runtime_error("subprotocol must not be empty (omit it to offer none)");
            for (const auto& p : offered_)
                if (!is_token(p)) throw std::runtime_error("subprotocol '" + printable(p) + "' is not a valid token");
        }
        if (o.has("origin") && origin_.empty()) throw std::runtime_error("origin must not be empty (omit it to send none)");
        check_headers({{"Origin", origin_}}, {});
        if (o.has("expect") && expect_.empty()) throw std::runtime_error("expect must not be empty (omit it to skip the check)");
        if (expect_.size() > static_cast<size_t>(kMaxMessage))
            throw std::runtime_error("expect must be at most " + std::to_string(kMaxMessage) + " bytes");
        if (send_.size() > static_cast<size_t>(kMaxMessage))
            throw std::runtime_error("send must be at most " + std::to_string(kMaxMessage) + " bytes");
        const std::string ca_file = o.string_or("ca_file", "");
        // Set up now so that a bad ca_file is a configuration error.
        if (url_.secure() || !ca_file.empty()) tls_ = std::make_unique<TlsClient>(o.boolean("tls_verify"), ca_file);
    }

    vitals::Result run(vitals::Deadline deadline) override {
        SigpipeBlock no_sigpipe;
        Budget budget(deadline);
        const std::string peer = url_.endpoint();
        std::string error;
        std::optional<Connection> conn = open_connection(url_, tls_.get(), budget, error);
        if (!conn) return vitals::Result::fail(error);

        // HTTPClientSession over the connected socket, plain or TLS alike. (Poco 1.11's
        // HTTPSClientSession(const SecureStreamSocket&) throws "Illegal state" on a connected socket:
        // its constructor calls setPort(). It adds nothing we need without a proxy.)
        auto session = std::make_unique<Poco::Net::HTTPClientSession>(conn->socket());

        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, url_.target, Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Host", url_.host_header());
        request.set("User-Agent", kUserAgent);
        for (const auto& h : headers_) request.set(h.first, h.second);
        if (!origin_.empty()) request.set("Origin", origin_);
        if (!offered_.empty()) request.set("Sec-WebSocket-Protocol", subprotocol_);
        if (url_.has_credentials) Poco::Net::HTTPBasicCredentials(url_.user, url_.password).authenticate(request);

        // The handshake: Poco sends the upgrade request and validates the 101 response. (Without
        // credentials passed to it Poco does not retry after a 401, so the 401 itself is reported;
        // with them it would answer the challenge on a connection the server has often closed.)
        Poco::Net::HTTPResponse response;
        std::unique_ptr<WebSocket> ws;
        const auto sent = Clock::now();
        try {
            set_io_timeouts(conn->fd(), budget.soft);
            ws = std::make_unique<WebSocket>(*session, request, response);
        } catch (const Poco::Net::WebSocketException& e) {
            return vitals::Result::fail(handshake_failure(e, response));
        } catch (const Poco::Exception& e) {
            // A cut connection (the deadline guard) surfaces as whatever Poco was parsing at the time.
            const std::string no_response =
                "no handshake response from " + peer + " within " + std::to_string(budget.ms_since(sent)) + " ms";
            if (conn->cut() || dynamic_cast<const Poco::TimeoutException*>(&e)) return vitals::Result::fail(no_response);
            if (dynamic_cast<const Poco::Net::NoMessageException*>(&e))
                return vitals::Result::fail("connection closed by " + peer + " without a handshake response");
            if (dynamic_cast<const Poco::Net::MessageException*>(&e))
                return vitals::Result::fail("invalid handshake response from " + peer + ": " + printable(e.message(), 200));
            if (budget.over()) return vitals::Result::fail(no_response);
            return vitals::Result::fail("handshake with " + peer + " failed: " + printable(e.displayText(), 200));
        }
        const double handshake_ms = ms_since(budget.start);
        ws->setMaxPayloadSize(kMaxMessage);

        // From here on the connection is a WebSocket: whatever the outcome, close it cleanly.
        bool server_closed = false;
        std::string outcome = after_handshake(*ws, response, *conn, budget, server_closed);
        close_cleanly(*ws, *conn, budget, server_closed);

        if (!outcome.empty()) return vitals::Result::fail(outcome).observed(handshake_ms, "ms");
        std::string summary = "101 from " + peer + " in " + format_ms(handshake_ms);
        if (!offered_.empty()) summary += ", subprotocol '" + printable(response.get("Sec-WebSocket-Protocol", "")) + "'";
        if (pong_ms_) summary += ", pong in " + format_ms(*pong_ms_);
        if (!expect_.empty()) summary += ", received '" + printable(expect_) + "'";
        else if (has_send_) summary += ", sent " + std::to_string(send_.size()) + " bytes";
        return vitals::Result::pass(summary).observed(handshake_ms, "ms");
    }

private:
    // Poco validated the handshake and threw: say precisely what was wrong, from the response.
    static std::string handshake_failure(const Poco::Net::WebSocketException& e, const Poco::Net::HTTPResponse& response) {
        const int status = static_cast<int>(response.getStatus());
        const std::string got = std::to_string(status) +
                                (response.getReason().empty() ? "" : " " + printable(response.getReason(), 60));
        switch (e.code()) {
        case WebSocket::WS_ERR_NO_HANDSHAKE:
            if (status != Poco::Net::HTTPResponse::HTTP_SWITCHING_PROTOCOLS) return "expected 101, got " + got;
            if (!iequals(response.get("Upgrade", ""), "websocket"))
                return "101 response without 'Upgrade: websocket' (got '" + printable(response.get("Upgrade", "")) + "')";
            // Poco accepts exactly "Upgrade" here; RFC 6455 allows a list containing it.
            return "101 response without 'Connection: Upgrade' (got '" + printable(response.get("Connection", "")) + "')";
        case WebSocket::WS_ERR_HANDSHAKE_ACCEPT:
            return response.has("Sec-WebSocket-Accept") ? "Sec-WebSocket-Accept mismatch" : "Sec-WebSocket-Accept missing";
        case WebSocket::WS_ERR_UNAUTHORIZED:
            return "expected 101, got " + got;
        default:
            return "handshake failed: " + printable(e.displayText(), 200);
        }
    }

    // Subprotocol, ping and send/expect. Returns "" when all passed, else the failure.
    std::string after_handshake(WebSocket& ws, const Poco::Net::HTTPResponse& response, Connection& conn,
                                const Budget& budget, bool& server_closed) {
        pong_ms_.reset();
        const std::string selected = response.get("Sec-WebSocket-Protocol", "");
        if (!offered_.empty() && std::find(offered_.begin(), offered_.end(), selected) == offered_.end())
            return "subprotocol '" + subprotocol_ + "' not selected by server" +
                   (selected.empty() ? "" : " (it chose '" + printable(selected) + "')");
        if (offered_.empty() && !selected.empty())
            return "server selected subprotocol '" + printable(selected) + "' that was not offered";
        const std::string extensions = response.get("Sec-WebSocket-Extensions", "");
        if (!extensions.empty()) return "server selected extension '" + printable(extensions) + "' that was not offered";

        // A data message that arrived while we waited for the pong: with no `send`, it is the reply `expect` looks at.
        std::optional<std::string> early;
        auto phase_start = Clock::now();  // of the wait being reported when an exception ends it
        try {
            if (ping_) {
                const std::string payload = "vitals " + std::to_string(++pings_);
                const auto sent = phase_start = Clock::now();
                set_io_timeouts(conn.fd(), budget.soft);
                ws.sendFrame(payload.data(), static_cast<int>(payload.size()), WebSocket::FRAME_FLAG_FIN | WebSocket::FRAME_OP_PING);
                std::string message;
                Read r = read_until(ws, conn, budget, &payload, message);
                if (r == Read::closed_by_server) {
                    server_closed = true;
                    return "server closed the connection before the pong (" + message + ")";
                }
                if (r == Read::connection_closed) {
                    if (conn.cut() || budget.over()) return "no pong within " + std::to_string(budget.ms_since(sent)) + " ms";
                    return "connection closed by " + url_.endpoint() + " before the pong";
                }
                pong_ms_ = ms_since(sent);
                if (!pong_early_message_.empty()) early = pong_early_message_;
            }
            if (has_send_) {
                early.reset();
                set_io_timeouts(conn.fd(), budget.soft);
                ws.sendFrame(send_.data(), static_cast<int>(send_.size()), WebSocket::FRAME_FLAG_FIN | WebSocket::FRAME_TEXT);
            }
            if (!expect_.empty()) {
                const auto waiting = phase_start = Clock::now();
                std::string message;
                if (early) {
                    message = *early;
                } else {
                    Read r = read_until(ws, conn, budget, nullptr, message);
                    if (r == Read::closed_by_server) {
                        server_closed = true;
                        return "expected '" + printable(expect_) + "': server closed the connection (" + message + ")";
                    }
                    if (r == Read::connection_closed) {
                        if (conn.cut() || budget.over())
                            return "expected '" + printable(expect_) + "': no message within " +
                                   std::to_string(budget.ms_since(waiting)) + " ms";
                        return "expected '" + printable(expect_) + "': connection closed by " + url_.endpoint();
                    }
                }
                if (message.find(expect_) == std::string::npos)
                    return "expected '" + printable(expect_) + "' not in the first message (got '" + printable(message) + "')";
            }
        } catch (const Poco::TimeoutException&) {
            if (ping_ && !pong_ms_) return "no pong within " + std::to_string(budget.ms_since(phase_start)) + " ms";
            return "expected '" + printable(expect_) + "': no message within " + std::to_string(budget.ms_since(phase_start)) +
                   " ms";
        } catch (const Poco::Net::WebSocketException& e) {
            if (e.code() == WebSocket::WS_ERR_PAYLOAD_TOO_BIG)
                return "message larger than " + std::to_string(kMaxMessage) + " bytes";
            return "WebSocket error: " + printable(e.displayText(), 200);
        } catch (const Poco::Exception& e) {
            if (conn.cut() || budget.over()) {
                if (ping_ && !pong_ms_) return "no pong within " + std::to_string(budget.ms_since(phase_start)) + " ms";
                return "expected '" + printable(expect_) + "': no message within " +
                       std::to_string(budget.ms_since(phase_start)) + " ms";
            }
            return "connection to " + url_.endpoint() + " failed: " + printable(e.displayText(), 200);
        }
        return {};
    }

    // Reads frames until (pong != null) a pong carrying *pong, or (pong == null) one complete data
    // message, answering the server's pings meanwhile. The message, or the close reason, goes to `out`.
    // While waiting for a pong, the first data message is kept in pong_early_message_.
    Read read_until(WebSocket& ws, Connection& conn, const Budget& budget, const std::string* pong, std::string& out) {
        pong_early_message_.clear();
        std::string message;
        bool have_early = false;
        for (;;) {
            if (budget.over() || conn.cut()) return Read::connection_closed;
            set_io_timeouts(conn.fd(), budget.soft);
            Poco::Buffer<char> frame(0);
            int flags = 0;
            int n = ws.receiveFrame(frame, flags);
            if (n == 0 && flags == 0) return Read::connection_closed;  // EOF
            const std::string payload(frame.begin(), frame.size());
            switch (opcode_of(flags)) {
            case WebSocket::FRAME_OP_PING:
                ws.sendFrame(payload.data(), static_cast<int>(payload.size()), WebSocket::FRAME_FLAG_FIN | WebSocket::FRAME_OP_PONG);
                continue;
            case WebSocket::FRAME_OP_PONG:
                if (pong && payload == *pong) return Read::message;
                continue;  // unsolicited, or for an earlier ping
            case WebSocket::FRAME_OP_CLOSE:
                out = close_reason(payload.data(), static_cast<int>(payload.size()));
                return Read::closed_by_server;
            default:  // text, binary or continuation
                message += payload;
                if (message.size() > static_cast<size_t>(kMaxMessage))
                    throw Poco::Net::WebSocketException("message too big", WebSocket::WS_ERR_PAYLOAD_TOO_BIG);
                if (!(flags & WebSocket::FRAME_FLAG_FIN)) continue;
                if (!pong) {
                    out = message;
                    return Read::message;
                }
                if (!have_early) {
                    pong_early_message_ = message;
                    have_early = true;
                }
                message.clear();
                continue;
            }
        }
    }

    // Sends a close frame (1000) — or echoes the server's — and waits briefly for the server's close
    // frame, so that neither side sees an aborted connection. Never fails the check.
    static void close_cleanly(WebSocket& ws, Connection& conn, const Budget& budget, bool server_closed) {
        try {
            set_io_timeouts(conn.fd(), budget.hard);
            ws.shutdown(kNormalClosure);
            if (!server_closed) {
                for (int frames = 0; frames < 64 && !conn.cut() && Clock::now() < budget.hard; ++frames) {
                    Poco::Buffer<char> frame(0);
                    int flags = 0;
                    int n = ws.receiveFrame(frame, flags);
                    if ((n == 0 && flags == 0) || opcode_of(flags) == WebSocket::FRAME_OP_CLOSE) break;
                }
            }
        } catch (const Poco::Exception&) {
            // The peer went away or the time is up: the check's outcome is already decided.
        }
        try {
            ws.close();
        } catch (const Poco::Exception&) {
        }
    }

    Url url_;
    std::map<std::string, std::string> headers_;
    std::string subprotocol_;          // as configured, for messages
    std::vector<std::string> offered_;  // subprotocol split at commas
    std::string origin_;
    bool ping_;
    std::string send_;
    bool has_send_;
    std::string expect_;
    std::unique_ptr<TlsClient> tls_;  // null for ws:// without ca_file
    uint64_t pings_ = 0;              // makes each ping payload unique
    std::optional<double> pong_ms_;   // this run's ping round trip
    std::string pong_early_message_;
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec websocket_options[] = {
    vitals::option("url", VITALS_OPTION_STRING, nullptr,
                   "ws:// or wss:// URL; user:password@ in it is sent as Basic auth and never shown",
                   VITALS_OPTION_REQUIRED | VITALS_OPTION_SECRET),
    vitals::option("headers", VITALS_OPTION_STRING_MAP, nullptr,
                   "extra handshake request headers (values may hold tokens: kept secret)", VITALS_OPTION_SECRET),
    vitals::option("subprotocol", VITALS_OPTION_STRING, nullptr,
                   "Sec-WebSocket-Protocol to offer (or a comma-separated list); the server must select it"),
    vitals::option("origin", VITALS_OPTION_STRING, nullptr, "Origin header of the handshake"),
    vitals::option("ping", VITALS_OPTION_BOOL, "false", "send a ping; a pong must come back before the deadline"),
    vitals::option("send", VITALS_OPTION_STRING, nullptr, "text message to send after the handshake (and ping)"),
    vitals::option("expect", VITALS_OPTION_STRING, nullptr,
                   "substring expected in the first message received after send (after the handshake without send)"),
    vitals::option("tls_verify", VITALS_OPTION_BOOL, "true", "wss: verify the server certificate chain and host name"),
    vitals::option("ca_file", VITALS_OPTION_STRING, nullptr, "wss: PEM file of trusted CAs, used instead of the system's"),
};

}  // namespace

VITALS_PLUGIN("vitals-websocket", "0.1.0",
              vitals::check_type<WebSocketCheck>("websocket",
                                                 "WebSocket (RFC 6455) handshake, optional ping/pong and send/expect, clean close",
                                                 "component", "responseTime", websocket_options))
