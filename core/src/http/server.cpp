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
#include <Poco/String.h>
#include <Poco/URI.h>

#include <chrono>
#include <cstdlib>
#include <optional>
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
    ServerHooks* hooks = nullptr;
    HttpCounters* counters = nullptr;
};

const char* reason_for(int code) { return HTTPResponse::getReasonForStatus(HTTPResponse::HTTPStatus(code)).c_str(); }

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

class Router : public Poco::Net::HTTPRequestHandler {
public:
    explicit Router(const Context& ctx) : ctx_(ctx) {}

    void handleRequest(HTTPServerRequest& req, HTTPServerResponse& res) override {
        req_ = &req;
        res_ = &res;
        config_ = ctx_.hooks->config();
        route(req);
    }

private:
    void route(HTTPServerRequest& req) {
        std::string path;
        try {
            path = Poco::URI(req.getURI()).getPath();
        } catch (const Poco::Exception&) {
            problem(400, "the request target is not a valid URI");
            return;
        }
        if (path.size() > 1 && path.back() == '/') path.pop_back();
        const std::string& method = req.getMethod();
        bool read = method == HTTPRequest::HTTP_GET || method == HTTPRequest::HTTP_HEAD;

        if (path == "/health" || path.rfind("/health/", 0) == 0) {
            std::string rest = path == "/health" ? "default" : path.substr(8);
            route_ = path == "/health"                 ? Route::health
                     : rest == "history"               ? Route::health_history
                     : rest.rfind("checks/", 0) == 0   ? Route::health_check
                                                       : Route::health_group;
            if (!read) return method_not_allowed("GET, HEAD", path);
            if (route_ == Route::health_history) return history();
            auto snap = ctx_.slot->load();
            if (!snap) return problem(503, "starting up");
            const RenderedStatus* status = nullptr;
            if (route_ == Route::health_check) {
                auto it = snap->checks.find(rest.substr(7));
                if (it == snap->checks.end()) return problem(404, "no check named \"" + rest.substr(7) + "\"");
                status = &it->second;
            } else {
                auto it = snap->groups.find(rest);
                if (it == snap->groups.end()) return problem(404, "no group named \"" + rest + "\"");
                status = &it->second;
            }
            return reply(status->code, "application/health+json", show_details() ? status->full : status->brief);
        }
        if (path == "/metrics") {
            route_ = Route::metrics;
            if (!read) return method_not_allowed("GET, HEAD", path);
            auto snap = ctx_.slot->load();
            if (!snap) return problem(503, "starting up");
            return reply(200, "text/plain; version=0.0.4; charset=utf-8",
                         render_metrics(*snap, ctx_.hooks->counters(), *ctx_.counters));
        }
        if (path == "/admin/drain" || path == "/admin/resume" || path == "/admin/reload") {
            route_ = Route::admin;
            if (method != HTTPRequest::HTTP_POST) return method_not_allowed("POST", path);
            if (!authorize_admin()) return;
            if (path == "/admin/drain") {
                ctx_.hooks->drain();
                return reply(200, "application/json", R"({"status":"draining"})");
            }
            if (path == "/admin/resume") {
                std::string refused = ctx_.hooks->resume();
                if (!refused.empty()) return problem(409, refused);
                return reply(200, "application/json", R"({"status":"serving"})");
            }
            std::string errors = ctx_.hooks->reload();
            if (errors.empty()) return reply(200, "application/json", R"({"status":"reloaded"})");
            return problem(422, "configuration not reloaded; the running one stays: " + errors);
        }
        problem(404, "no such endpoint: " + path);
    }

    void history() {
        if (!show_details()) {
            return problem(403, "history holds check details; it is served to loopback clients or with the "
                                "admin token, depending on server.details");
        }
        if (!ctx_.history) return problem(503, "history is not enabled");
        QueryParams params;
        try {
            for (const auto& kv : Poco::URI(req_->getURI()).getQueryParameters()) params.push_back(kv);
        } catch (const Poco::Exception&) {
            return problem(400, "the query string is not validly percent-encoded");
        }
        int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        auto parsed = parse_history_query(params, now_ms, config_.get());
        if (auto* err = std::get_if<QueryError>(&parsed))
            return problem(400, "parameter " + err->parameter + ": " + err->message);
        try {
            HistoryPage page = ctx_.history->query(std::get<HistoryQuery>(parsed));
            reply(200, "application/json", history_page_json(page));
        } catch (const std::exception& e) {
            problem(503, std::string("history database unavailable: ") + e.what());
        }
    }

    // The bearer token from the Authorization header, if well-formed: the scheme is
    // case-insensitive (RFC 9110 §11.1) and followed by one or more spaces (RFC 6750 §2.1).
    std::optional<std::string> bearer() const {
        if (!req_->has("Authorization")) return std::nullopt;
        const std::string& auth = req_->get("Authorization");
        if (auth.size() < 7 || Poco::icompare(auth.substr(0, 6), "bearer") != 0 || auth[6] != ' ') return std::nullopt;
        size_t start = auth.find_first_not_of(' ', 6);
        if (start == std::string::npos) return std::nullopt;
        return auth.substr(start);
    }

    // The admin token, or "" when the variable named by server.admin_token_env is unset or empty.
    std::string admin_token() const {
        const char* t = std::getenv(config_->server.admin_token_env.c_str());
        return t ? t : "";
    }

    bool token_matches() const {
        std::string token = admin_token();
        auto given = bearer();
        return !token.empty() && given && constant_time_equals(*given, token);
    }

    // Answers 401/403 and returns false unless the caller may use admin endpoints.
    bool authorize_admin() {
        const std::string& var = config_->server.admin_token_env;
        if (!admin_token().empty()) {
            if (token_matches()) return true;
            res_->set("WWW-Authenticate", bearer() ? "Bearer realm=\"vitals\", error=\"invalid_token\""
                                                   : "Bearer realm=\"vitals\"");
            problem(401, bearer() ? "invalid bearer token" : "admin endpoints need Authorization: Bearer <token> ($" + var + ")");
            return false;
        }
        if (req_->clientAddress().host().isLoopback()) return true;
        problem(403, "no admin token is configured ($" + var + " is unset): admin endpoints answer loopback clients only");
        return false;
    }

    bool show_details() const {
        switch (config_->server.details) {
        case Details::always: return true;
        case Details::never: return false;
        case Details::loopback: return req_->clientAddress().host().isLoopback();
        case Details::token: return token_matches();
        }
        return false;
    }

    void method_not_allowed(const std::string& allow, const std::string& path) {
        res_->set("Allow", allow);
        problem(405, "use " + allow + " on " + path);
    }

    void reply(int code, const std::string& type, const std::string& body) {
        ctx_.counters->count(route_, code);
        res_->setStatusAndReason(HTTPResponse::HTTPStatus(code), reason_for(code));
        res_->setContentType(type);
        res_->set("Cache-Control", "no-store");
        if (code == 204 || code == 304) {  // no body allowed (a configurable http_status may be 204)
            res_->setContentLength(0);
            res_->send();
            return;
        }
        res_->setContentLength(std::streamsize(body.size()));
        if (req_->getMethod() == HTTPRequest::HTTP_HEAD) {
            res_->send();
            return;
        }
        res_->sendBuffer(body.data(), body.size());
    }

    // RFC 9457 problem details.
    void problem(int code, const std::string& detail) {
        std::string body = "{\"type\":\"about:blank\",\"title\":\"" + json_escape(reason_for(code)) +
                           "\",\"status\":" + std::to_string(code) + ",\"detail\":\"" + json_escape(detail) + "\"}";
        reply(code, "application/problem+json", body);
    }

    const Context& ctx_;
    HTTPServerRequest* req_ = nullptr;
    HTTPServerResponse* res_ = nullptr;
    std::shared_ptr<const Config> config_;
    Route route_ = Route::other;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(Context ctx) : ctx_(std::move(ctx)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override { return new Router(ctx_); }

private:
    Context ctx_;
};

}  // namespace

HealthServer::HealthServer(const Config::Server& server, SnapshotSlot& slot, HistoryReader* history,
                           ServerHooks& hooks)
    : counters_(std::make_unique<HttpCounters>()) {
    Context ctx;
    ctx.slot = &slot;
    ctx.history = history;
    ctx.hooks = &hooks;
    ctx.counters = counters_.get();

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
