#include "http/server.h"

#include "common/text.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <chrono>
#include <cstdlib>
#include <variant>

namespace vitals {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

bool constant_time_equals(const std::string& a, const std::string& b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::string& x = a.size() == b.size() ? b : a;  // same length loop either way
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ x[i]);
    return diff == 0;
}

namespace {

// What every handler needs, shared by the factory and its handlers.
struct Context {
    SnapshotSlot* slot = nullptr;
    HistoryReader* history = nullptr;
    std::shared_ptr<const Config> config;
    Details details = Details::loopback;
    std::string admin_token_env;
};

const char* reason_for(int code) { return HTTPResponse::getReasonForStatus(HTTPResponse::HTTPStatus(code)).c_str(); }

void send(HTTPServerRequest& req, HTTPServerResponse& res, int code, const std::string& type, const std::string& body) {
    res.setStatusAndReason(HTTPResponse::HTTPStatus(code), reason_for(code));
    res.setContentType(type);
    res.set("Cache-Control", "no-store");
    res.setContentLength(std::streamsize(body.size()));
    if (req.getMethod() == HTTPRequest::HTTP_HEAD) {
        res.send();
        return;
    }
    res.sendBuffer(body.data(), body.size());
}

std::string json_escape(const std::string& raw) {
    std::string s = utf8_sanitize(raw);
    std::string out;
    for (char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += c;
            }
        }
    }
    return out;
}

// RFC 9457 problem details.
void problem(HTTPServerRequest& req, HTTPServerResponse& res, int code, const std::string& detail) {
    std::string title = reason_for(code);
    std::string body = "{\"type\":\"about:blank\",\"title\":\"" + json_escape(title) + "\",\"status\":" +
                       std::to_string(code) + ",\"detail\":\"" + json_escape(detail) + "\"}";
    send(req, res, code, "application/problem+json", body);
}

class Router : public Poco::Net::HTTPRequestHandler {
public:
    explicit Router(const Context& ctx) : ctx_(ctx) {}

    void handleRequest(HTTPServerRequest& req, HTTPServerResponse& res) override {
        std::string path;
        try {
            path = Poco::URI(req.getURI()).getPath();
        } catch (const Poco::Exception&) {
            problem(req, res, 400, "the request target is not a valid URI");
            return;
        }
        if (path.size() > 1 && path.back() == '/') path.pop_back();
        const std::string& method = req.getMethod();
        bool read = method == HTTPRequest::HTTP_GET || method == HTTPRequest::HTTP_HEAD;

        if (path == "/health" || path.rfind("/health/", 0) == 0) {
            if (!read) {
                res.set("Allow", "GET, HEAD");
                problem(req, res, 405, "use GET or HEAD on " + path);
                return;
            }
            auto snap = ctx_.slot->load();
            if (!snap) {
                problem(req, res, 503, "starting up");
                return;
            }
            std::string rest = path.size() > 8 ? path.substr(8) : "";
            if (path == "/health") rest = "default";
            if (rest == "history") {
                history(req, res);
                return;
            }
            const RenderedStatus* status = nullptr;
            if (rest.rfind("checks/", 0) == 0) {
                auto it = snap->checks.find(rest.substr(7));
                if (it == snap->checks.end()) {
                    problem(req, res, 404, "no check named \"" + rest.substr(7) + "\"");
                    return;
                }
                status = &it->second;
            } else {
                auto it = snap->groups.find(rest);
                if (it == snap->groups.end()) {
                    problem(req, res, 404, "no group named \"" + rest + "\"");
                    return;
                }
                status = &it->second;
            }
            send(req, res, status->code, "application/health+json",
                 show_details(req) ? status->full : status->brief);
            return;
        }
        problem(req, res, 404, "no such endpoint: " + path);
    }

private:
    void history(HTTPServerRequest& req, HTTPServerResponse& res) {
        if (!show_details(req)) {
            problem(req, res, 403, "history holds check details; it is served to loopback clients or with the "
                                   "admin token, depending on server.details");
            return;
        }
        if (!ctx_.history) {
            problem(req, res, 503, "history is not enabled");
            return;
        }
        QueryParams params;
        try {
            for (const auto& kv : Poco::URI(req.getURI()).getQueryParameters()) params.push_back(kv);
        } catch (const Poco::Exception&) {
            problem(req, res, 400, "the query string is not validly percent-encoded");
            return;
        }
        int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        auto parsed = parse_history_query(params, now_ms, ctx_.config.get());
        if (auto* err = std::get_if<QueryError>(&parsed)) {
            problem(req, res, 400, "parameter " + err->parameter + ": " + err->message);
            return;
        }
        try {
            HistoryPage page = ctx_.history->query(std::get<HistoryQuery>(parsed));
            send(req, res, 200, "application/json", history_page_json(page));
        } catch (const std::exception& e) {
            problem(req, res, 503, std::string("history database unavailable: ") + e.what());
        }
    }

    bool show_details(const HTTPServerRequest& req) const {
        switch (ctx_.details) {
        case Details::always: return true;
        case Details::never: return false;
        case Details::loopback: return req.clientAddress().host().isLoopback();
        case Details::token: {
            const char* token = std::getenv(ctx_.admin_token_env.c_str());
            if (!token || !*token || !req.has("Authorization")) return false;
            const std::string& auth = req.get("Authorization");
            static const std::string prefix = "Bearer ";
            if (auth.compare(0, prefix.size(), prefix) != 0) return false;
            return constant_time_equals(auth.substr(prefix.size()), token);
        }
        }
        return false;
    }
    const Context& ctx_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(Context ctx) : ctx_(std::move(ctx)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override { return new Router(ctx_); }

private:
    Context ctx_;
};

}  // namespace

HealthServer::HealthServer(std::shared_ptr<const Config> config, SnapshotSlot& slot, HistoryReader* history) {
    const Config::Server& server = config->server;
    Context ctx;
    ctx.slot = &slot;
    ctx.history = history;
    ctx.config = config;
    ctx.details = server.details;
    ctx.admin_token_env = server.admin_token_env;

    Poco::Net::SocketAddress addr(server.address, Poco::UInt16(server.port));
    Poco::Net::ServerSocket socket;
    socket.bind(addr, true);
    socket.listen(1024);
    port_ = socket.address().port();

    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(server.threads);
    params->setMaxQueued(1024);
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(5, 0));
    params->setMaxKeepAliveRequests(10000);
    params->setTimeout(Poco::Timespan(5, 0));
    params->setServerName("vitals");
    pool_ = std::make_unique<Poco::ThreadPool>(2, server.threads, 60, 0);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(std::move(ctx)), *pool_, socket, params);
}

HealthServer::~HealthServer() { stop(); }

void HealthServer::start() { server_->start(); }

void HealthServer::stop() {
    if (server_) server_->stopAll(true);
}

}  // namespace vitals
