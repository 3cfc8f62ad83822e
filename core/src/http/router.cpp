#include "http/router.h"

#include "http/compress.h"
#include "http/dashboard.h"
#include "http/server_hooks.h"

#include "common/json_out.h"
#include "common/text.h"
#include "history/history_query.h"
#include "probers/probers_api.h"
#include "probers/replay.h"
#include "history/uptime.h"

#include <Poco/Net/HTTPResponse.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <variant>

namespace vitals {

using Poco::Net::HTTPResponse;

bool constant_time_equals(const std::string& a, const std::string& b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::string& x = a.size() == b.size() ? b : a;  // same length loop either way
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ x[i]);
    return diff == 0;
}

namespace {

const char* reason_for(int code) { return HTTPResponse::getReasonForStatus(HTTPResponse::HTTPStatus(code)).c_str(); }

class RequestRouter {
public:
    RequestRouter(const RouterContext& ctx, const HttpRequest& req, const ClientInfo& client)
        : ctx_(ctx), req_(&req), loopback_(client.loopback), verified_cert_(client.verified_cert) {}

    HttpResponse run() {
        route(*req_);
        // The dashboard and the history-backed JSON (run off the event loops, but for the page and
        // its state, which are small, and its assets, gzipped once) go out gzipped when asked.
        switch (route_) {
        case Route::dashboard:
        case Route::dashboard_recent:
        case Route::health_history:
        case Route::health_uptime:
        case Route::health_replay:
        case Route::health_probers: compress_response(*req_, response_); break;
        default: break;
        }
        return std::move(response_);
    }

private:
    void route(const HttpRequest& req) {
        const std::string& path = req.path;  // decoded and normalised by the parser: the only path used
        bool read = req.is("GET") || req.is("HEAD");

        route_ = classify_route(path);
        if (path == "*") {  // OPTIONS * (RFC 9110 §9.3.7): what the server as a whole allows
            response_.headers.emplace_back("Allow", "GET, HEAD, POST");
            return reply(204, "", "");
        }
        if (route_ == Route::health_uptime) {
            if (!read) return method_not_allowed("GET, HEAD", path);
            return uptime();
        }
        if (route_ == Route::dashboard || route_ == Route::dashboard_recent) {
            if (!read) return method_not_allowed("GET, HEAD", path);
            return route_ == Route::dashboard ? dashboard(path) : dashboard_recent();
        }
        if (route_ == Route::health || route_ == Route::health_group || route_ == Route::health_check ||
            route_ == Route::health_history || route_ == Route::health_probers || route_ == Route::health_replay) {
            std::string rest = path == "/health" ? "default" : path.substr(8);
            if (!read) return method_not_allowed("GET, HEAD", path);
            if (route_ == Route::health_history) return history();
            if (route_ == Route::health_probers) return probers();
            if (route_ == Route::health_replay) return replay();
            // What follows answers a status path or a check: status paths are recorded per prober.
            response_.status_answer = route_ != Route::health_check;
            auto snap = ctx_.slot->load();
            if (!snap) return problem(503, "starting up");
            const RenderedStatus* status = nullptr;
            if (route_ == Route::health_check) {
                const PublishedCheck* check = snap->find_check(rest.substr(7));
                if (!check) return problem(404, "no check named \"" + rest.substr(7) + "\"");
                status = &check->rendered;
            } else {
                const PublishedGroup* group = snap->find_group(rest);
                if (!group) return problem(404, "no group named \"" + rest + "\"");
                status = &group->rendered;
            }
            // The snapshot carries the server settings it was built under: a status request reads
            // nothing else.
            return reply(status->code, "application/health+json",
                         show_details(snap->details, snap->admin_token_env) ? status->full() : status->brief);
        }
        if (route_ == Route::metrics) {
            if (!read) return method_not_allowed("GET, HEAD", path);
            auto snap = ctx_.slot->load();
            if (!snap) return problem(503, "starting up");
            return reply(200, "text/plain; version=0.0.4; charset=utf-8",
                         render_metrics(*snap, ctx_.hooks->counters(), *ctx_.counters));
        }
        if (path == "/admin/drain" || path == "/admin/resume" || path == "/admin/reload") {
            if (!req.is("POST")) return method_not_allowed("POST", path);
            if (!authorize_admin()) return;
            if (path == "/admin/drain") {
                if (req.query == "exit=true") {
                    ctx_.hooks->drain_and_exit();
                    return reply(200, "application/json", R"({"status":"draining","exit":true})");
                }
                if (!req.query.empty() && req.query != "exit=false")
                    return problem(400, "parameter exit: the only parameter of /admin/drain; use exit=true or exit=false");
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
        route_ = Route::other;
        problem(404, "no such endpoint: " + path);
    }

    // The query's parameters, or nullopt after answering 400.
    std::optional<QueryParams> query_params() {
        QueryParams params;
        try {
            Poco::URI uri;
            uri.setRawQuery(req_->query);
            for (const auto& kv : uri.getQueryParameters()) params.push_back(kv);
        } catch (const Poco::Exception&) {
            problem(400, "the query string is not validly percent-encoded");
            return std::nullopt;
        }
        return params;
    }

    // Routes that show details answer 403 with `why` unless details are visible to this client.
    bool details_or_403(const std::string& why) {
        if (show_details()) return true;
        problem(403, why);
        return false;
    }

    // The 403 texts: what the route holds, and to whom server.details serves it.
    static std::string served_to_whom(const std::string& what) {
        return what + "; it is served to loopback clients or with the admin token (or a verified client certificate), "
                      "depending on server.details";
    }

    // The checks for history-backed routes (/health/history, /health/uptime, /health/replay):
    // details visible (else 403 `why`), history enabled, a decodable query string. Answers and
    // returns nullopt when one fails.
    std::optional<QueryParams> history_params(const std::string& why) {
        if (!details_or_403(why)) return std::nullopt;
        if (!ctx_.history) {
            problem(503, "history is not enabled");
            return std::nullopt;
        }
        return query_params();
    }

    void probers() {
        if (!details_or_403("probers' addresses are details; they are served to loopback clients or with the "
                            "admin token, depending on server.details"))
            return;
        if (!ctx_.probers) return problem(503, "the prober record is not running");
        auto params = query_params();
        if (!params) return;
        auto parsed = parse_probers_query(*params);
        if (auto* err = std::get_if<QueryError>(&parsed))
            return problem(400, "parameter " + err->parameter + ": " + err->message);
        auto views = ctx_.probers->probers(ProberRecord::now_us());
        reply(200, "application/json", probers_json(views, std::get<ProbersQuery>(parsed), config().load_balancer));
    }

    void replay() {
        auto params = history_params(served_to_whom("replay shows probers' addresses and check causes"));
        if (!params) return;
        auto parsed = parse_replay_query(*params, unix_now_ms(), config());
        if (auto* err = std::get_if<QueryError>(&parsed))
            return problem(400, "parameter " + err->parameter + ": " + err->message);
        try {
            std::string body;
            ctx_.history->with_store([&](SqliteHistoryStore* store) {
                body = replay_json(run_replay(store, std::get<ReplayQuery>(parsed), config()));
            });
            reply(200, "application/json", std::move(body));
        } catch (const std::exception& e) {
            problem(503, std::string("history database unavailable: ") + e.what());
        }
    }

    void dashboard_headers() {
        response_.headers.emplace_back("Content-Security-Policy", kDashboardCsp);
        response_.headers.emplace_back("X-Content-Type-Options", "nosniff");
        response_.headers.emplace_back("Referrer-Policy", "no-referrer");
    }

    // /dashboard, /dashboard/state and the page's assets: from the snapshot (and the binary) alone.
    void dashboard(const std::string& path) {
        dashboard_headers();
        if (path != "/dashboard" && path != "/dashboard/state") {
            const EmbeddedAsset* asset = find_dashboard_asset(path.substr(std::string("/dashboard/").size()));
            if (!asset) return problem(404, "no such endpoint: " + path);
            if (req_->accepts_gzip && asset->size >= kCompressMinBytes) {
                response_.headers.emplace_back("Content-Encoding", "gzip");
                return reply(200, asset->content_type, dashboard_asset_gzip(*asset));
            }
            return reply(200, asset->content_type, std::string(reinterpret_cast<const char*>(asset->data), asset->size));
        }
        auto snap = ctx_.slot->load();
        if (!snap) return problem(503, "starting up");
        bool details = show_details(snap->details, snap->admin_token_env);
        if (path == "/dashboard") return reply(200, "text/html; charset=utf-8", dashboard_page(*snap, details));
        // The probers panel appears when the prober record runs (/health/probers answers).
        bool probers = ctx_.probers != nullptr;
        reply(200, "application/json", dashboard_state_json(*snap, details, probers));
    }

    // /dashboard/recent: the heartbeat bars' results, from the history database.
    void dashboard_recent() {
        dashboard_headers();
        auto params = history_params(served_to_whom("recent results hold check details"));
        if (!params) return;
        auto parsed = parse_recent_query(*params, config());
        if (auto* err = std::get_if<QueryError>(&parsed))
            return problem(400, "parameter " + err->parameter + ": " + err->message);
        const auto& rq = std::get<RecentQuery>(parsed);
        try {
            std::vector<std::pair<std::string, HistoryPage>> pages;
            for (const auto& name : rq.checks) {
                HistoryQuery q;
                q.checks = {name};
                q.kinds = {EventKind::result};
                q.limit = rq.limit;
                pages.emplace_back(name, ctx_.history->query(q));
            }
            reply(200, "application/json", recent_json(pages));
        } catch (const std::exception& e) {
            problem(503, std::string("history database unavailable: ") + e.what());
        }
    }

    void uptime() {
        auto params = history_params(served_to_whom("uptime holds check details"));
        if (!params) return;
        auto parsed = parse_uptime_query(*params, unix_now_ms(), &config());
        if (auto* err = std::get_if<QueryError>(&parsed))
            return problem(400, "parameter " + err->parameter + ": " + err->message);
        const auto& q = std::get<UptimeQuery>(parsed);
        try {
            reply(200, "application/json", uptime_json(q, ctx_.history->uptime(q)));
        } catch (const std::exception& e) {
            problem(503, std::string("history database unavailable: ") + e.what());
        }
    }

    void history() {
        auto params = history_params(served_to_whom("history holds check details"));
        if (!params) return;
        auto parsed = parse_history_query(*params, unix_now_ms(), &config());
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
        const std::string& auth = req_->authorization;
        if (auth.size() < 7 || Poco::icompare(auth.substr(0, 6), "bearer") != 0 || auth[6] != ' ') return std::nullopt;
        size_t start = auth.find_first_not_of(' ', 6);
        if (start == std::string::npos) return std::nullopt;
        return auth.substr(start);
    }

    // The configuration in effect, fetched from the daemon only by routes that need it.
    const Config& config() {
        if (!config_) config_ = ctx_.hooks->config();
        return *config_;
    }

    // The admin token, or "" when the variable named by server.admin_token_env is unset or empty.
    static std::string admin_token(const std::string& token_env) {
        const char* t = std::getenv(token_env.c_str());
        return t ? t : "";
    }

    bool token_matches(const std::string& token_env) const {
        std::string token = admin_token(token_env);
        if (token.empty()) return false;
        auto given = bearer();
        return given && constant_time_equals(*given, token);
    }

    // Answers 401/403 and returns false unless the caller may use admin endpoints. With
    // server.tls.client_auth "admin" or "all", a verified client certificate is needed as well as
    // the token, or instead of it when no token is set.
    bool authorize_admin() {
        const Config& cfg = config();
        const std::string& var = cfg.server.admin_token_env;
        bool cert_needed = cfg.server.tls && cfg.server.tls->client_auth != ClientAuth::none;
        if (cert_needed && !verified_cert_) {
            problem(403, std::string("admin endpoints need a client certificate signed by server.tls.client_ca "
                                     "(server.tls.client_auth is \"") +
                             to_string(cfg.server.tls->client_auth) + "\")");
            return false;
        }
        if (!admin_token(var).empty()) {
            if (token_matches(var)) return true;
            response_.headers.emplace_back("WWW-Authenticate", bearer() ? "Bearer realm=\"vitals\", error=\"invalid_token\""
                                                                    : "Bearer realm=\"vitals\"");
            problem(401, bearer() ? "invalid bearer token" : "admin endpoints need Authorization: Bearer <token> ($" + var + ")");
            return false;
        }
        if (cert_needed || loopback_) return true;
        problem(403, "no admin token is configured ($" + var + " is unset): admin endpoints answer loopback clients only");
        return false;
    }

    bool show_details(Details details, const std::string& token_env) const {
        switch (details) {
        case Details::always: return true;
        case Details::never: return false;
        case Details::loopback: return loopback_;
        case Details::token: return verified_cert_ || token_matches(token_env);
        }
        return false;
    }

    bool show_details() {
        const Config& cfg = config();
        return show_details(cfg.server.details, cfg.server.admin_token_env);
    }

    void method_not_allowed(const std::string& allow, const std::string& path) {
        response_.headers.emplace_back("Allow", allow);
        problem(405, "use " + allow + " on " + path);
    }

    void reply(int code, const std::string& type, std::string body) {
        ctx_.counters->count(route_, code);
        response_.code = code;
        response_.content_type = type;
        response_.body = std::move(body);
    }

    // RFC 9457 problem details.
    void problem(int code, const std::string& detail) {
        HttpResponse p = problem_response(code, detail);
        reply(code, p.content_type, std::move(p.body));
    }

    const RouterContext& ctx_;
    const HttpRequest* req_;
    bool loopback_;
    bool verified_cert_;  // a client certificate verified against server.tls.client_ca
    std::shared_ptr<const Config> config_;
    Route route_ = Route::other;
    HttpResponse response_;
};

}  // namespace

Route classify_route(const std::string& path) {
    if (path == "/health") return Route::health;
    if (path.rfind("/health/", 0) == 0) {
        if (path == "/health/history") return Route::health_history;
        if (path == "/health/probers") return Route::health_probers;
        if (path == "/health/replay") return Route::health_replay;
        if (path == "/health/uptime") return Route::health_uptime;
        if (path.rfind("/health/checks/", 0) == 0) return Route::health_check;
        return Route::health_group;
    }
    if (path == "/metrics") return Route::metrics;
    if (path == "/dashboard/recent") return Route::dashboard_recent;
    if (path == "/dashboard" || path.rfind("/dashboard/", 0) == 0) return Route::dashboard;
    if (path.rfind("/admin/", 0) == 0) return Route::admin;
    return Route::other;
}

bool is_slow_route(const HttpRequest& req) {
    Route r = classify_route(req.path);
    return r == Route::admin || r == Route::health_history || r == Route::health_probers || r == Route::health_replay ||
           r == Route::health_uptime || r == Route::dashboard_recent;
}

HttpResponse route_request(const RouterContext& ctx, const HttpRequest& req, const ClientInfo& client) {
    return RequestRouter(ctx, req, client).run();
}

HttpResponse problem_response(int code, const std::string& detail) {
    HttpResponse r;
    r.code = code;
    r.content_type = "application/problem+json";
    JsonObject(r.body)
        .str("type", "about:blank")
        .str("title", reason_for(code))
        .num("status", int64_t(code))
        .str("detail", utf8_sanitize(detail));
    return r;
}

}  // namespace vitals
