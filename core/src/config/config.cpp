#include "config/config.h"
#include "common/executable.h"

#include "config/value_reader.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <regex>
#include <set>
#include <tuple>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vitals {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

const char* to_string(Impact i) {
    switch (i) {
    case Impact::critical: return "critical";
    case Impact::degraded: return "degraded";
    case Impact::ignore: return "ignore";
    }
    return "critical";
}

const char* to_string(Details d) {
    switch (d) {
    case Details::always: return "always";
    case Details::loopback: return "loopback";
    case Details::token: return "token";
    case Details::never: return "never";
    }
    return "loopback";
}

const char* to_string(ClientAuth a) {
    switch (a) {
    case ClientAuth::none: return "none";
    case ClientAuth::admin: return "admin";
    case ClientAuth::all: return "all";
    }
    return "none";
}

bool CheckConfig::same_definition(const CheckConfig& o) const {
    return name == o.name && type == o.type && interval == o.interval && timeout == o.timeout &&
           impact == o.impact && scope == o.scope && isolation == o.isolation && rise == o.rise &&
           fall == o.fall && stale_after == o.stale_after && options_json == o.options_json;
}

const CheckConfig* Config::find_check(const std::string& name) const {
    for (const auto& c : checks)
        if (c.name == name) return &c;
    return nullptr;
}

const GroupConfig* Config::find_group(const std::string& name) const {
    for (const auto& g : groups)
        if (g.name == name) return &g;
    return nullptr;
}

static std::string join_errors(const std::vector<std::string>& errors) {
    std::string s = "invalid configuration:";
    for (const auto& e : errors) s += "\n  " + e;
    return s;
}

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(join_errors(errors)), errors_(std::move(errors)) {}

std::optional<std::string> process_env(const std::string& name) {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
}

std::string substitute_env(const std::string& text, const EnvLookup& env, const std::string& path,
                           std::vector<std::string>& errors) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '$' || i + 1 >= text.size()) {
            out += text[i];
            continue;
        }
        if (text[i + 1] == '$' && i + 2 < text.size() && text[i + 2] == '{') {  // "$${" → literal "${"
            out += "${";
            i += 2;
            continue;
        }
        if (text[i + 1] != '{') {
            out += text[i];
            continue;
        }
        size_t close = text.find('}', i + 2);
        if (close == std::string::npos) {
            errors.push_back(path + ": unterminated ${...} reference");
            return text;
        }
        std::string ref = text.substr(i + 2, close - i - 2);
        std::string name = ref;
        std::optional<std::string> fallback;
        size_t dash = ref.find(":-");
        if (dash != std::string::npos) {
            name = ref.substr(0, dash);
            fallback = ref.substr(dash + 2);
        }
        static const std::regex valid_name("[A-Za-z_][A-Za-z0-9_]*");
        if (!std::regex_match(name, valid_name)) {
            errors.push_back(path + ": invalid variable name in ${" + ref + "}");
            return text;
        }
        std::optional<std::string> value = env(name);
        if (value && (!value->empty() || !fallback)) {
            out += *value;
        } else if (fallback) {
            out += *fallback;
        } else {
            errors.push_back(path + ": environment variable " + name + " is not set (use ${" + name +
                             ":-default} for a default)");
        }
        i = close;
    }
    return out;
}

namespace {

// Poco's ParseHandler keeps the last of two equal keys without a word, so {"checks": [...],
// "checks": []} would validate as no checks at all. This one builds the same tree and records
// "<path>: duplicate key" for every key seen twice in one object, at any depth.
class DuplicateKeyHandler : public Poco::JSON::ParseHandler {
public:
    explicit DuplicateKeyHandler(std::vector<std::string>* errors)
        : Poco::JSON::ParseHandler(true), errors_(errors) {}

    void reset() override {
        frames_.clear();
        Poco::JSON::ParseHandler::reset();
    }
    void startObject() override {
        frames_.push_back({true, next_path(), {}, {}, 0});
        Poco::JSON::ParseHandler::startObject();
    }
    void endObject() override {
        if (!frames_.empty()) frames_.pop_back();
        Poco::JSON::ParseHandler::endObject();
    }
    void startArray() override {
        frames_.push_back({false, next_path(), {}, {}, 0});
        Poco::JSON::ParseHandler::startArray();
    }
    void endArray() override {
        if (!frames_.empty()) frames_.pop_back();
        Poco::JSON::ParseHandler::endArray();
    }
    void key(const std::string& k) override {
        if (!frames_.empty()) {
            Frame& f = frames_.back();
            f.key = k;
            if (!f.keys.insert(k).second && errors_) errors_->push_back(next_path() + ": duplicate key \"" + k +
                                                                         "\" (an object holds each key once)");
        }
        Poco::JSON::ParseHandler::key(k);
    }
    void value(int v) override { scalar(v); }
    void value(unsigned v) override { scalar(v); }
    void value(Poco::Int64 v) override { scalar(v); }
    void value(Poco::UInt64 v) override { scalar(v); }
    void value(const std::string& v) override { scalar(v); }
    void value(double v) override { scalar(v); }
    void value(bool v) override { scalar(v); }
    void null() override {
        take_array_slot();
        Poco::JSON::ParseHandler::null();
    }

private:
    struct Frame {
        bool object;
        std::string path;
        std::set<std::string> keys;  // objects: the keys seen so far
        std::string key;             // objects: the key of the value being read
        size_t index;                // arrays: the index of the next element
    };

    // The path of the value that starts now: "checks[0].options.port"; "" for the top level.
    std::string next_path() {
        if (frames_.empty()) return "";
        Frame& f = frames_.back();
        if (!f.object) return f.path + "[" + std::to_string(f.index++) + "]";
        return f.path.empty() ? f.key : f.path + "." + f.key;
    }
    // A scalar takes its array slot like an object or array would.
    void take_array_slot() {
        if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    }
    template <class T>
    void scalar(const T& v) {
        take_array_slot();
        Poco::JSON::ParseHandler::value(v);
    }

    std::vector<std::string>* errors_;  // not owned; may be null (duplicates then go unreported)
    std::vector<Frame> frames_;
};

// Parses configuration text (comments allowed) into Poco's tree; duplicate keys go to `errors`
// (when not null). Throws Poco::Exception on malformed JSON.
Var parse_json_text(const std::string& text, std::vector<std::string>* errors) {
    // Comments are stripped here: Poco 1.11's own allowComments rejects "//" comments.
    Poco::JSON::Parser parser(new DuplicateKeyHandler(errors));
    return parser.parse(strip_json_comments(text));
}

bool valid_name(const std::string& s) {
    static const std::regex re("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    return std::regex_match(s, re);
}

void read_http_status(ValueReader& r, const Object::Ptr& parent, const std::string& key, const std::string& path,
                      HttpStatusMap& out) {
    if (!parent->has(key)) return;
    std::string p = ValueReader::join_path(path, key);
    auto o = r.object(parent->get(key), p);
    if (!o) return;
    r.known_keys(o, p, {"pass", "warn", "fail"});
    if (auto v = r.integer(o, "pass", p, 200, 599)) out.pass = int(*v);
    if (auto v = r.integer(o, "warn", p, 200, 599)) out.warn = int(*v);
    if (auto v = r.integer(o, "fail", p, 200, 599)) out.fail = int(*v);
}

// server.tls: the structure only; the files are read by app/loading.cpp (http/tls_context.h).
void read_server_tls(ValueReader& r, const Object::Ptr& server, Config& cfg) {
    if (!server->has("tls")) return;
    const std::string p = "server.tls";
    auto o = r.object(server->get("tls"), p);
    if (!o) return;
    r.known_keys(o, p, {"cert", "key", "min_version", "client_ca", "client_auth"});
    Config::Server::Tls tls;
    std::optional<std::string> cert = r.str(o, "cert", p), key = r.str(o, "key", p);
    // Both given and both empty after substitution ("${VITALS_TLS_CERT:-}"): TLS off, so that one
    // file serves both ways and the environment decides (packaging/docker/sidecar.json).
    if (cert && key && cert->empty() && key->empty()) return;
    for (auto [name, value, field] : {std::tuple<const char*, std::optional<std::string>*, std::string*>{
                                          "cert", &cert, &tls.cert},
                                      {"key", &key, &tls.key}}) {
        if (!o->has(name))
            r.error(p, std::string("missing \"") + name + "\" (a PEM file)");
        else if (*value && (*value)->empty())
            r.error(p + "." + name, "empty path (both cert and key empty turns TLS off)");
        else if (*value)
            *field = **value;
    }
    if (auto v = r.choice<std::string>(o, "min_version", p, {{"1.2", "1.2"}, {"1.3", "1.3"}})) tls.min_version = *v;
    if (auto v = r.str(o, "client_ca", p)) tls.client_ca = *v;
    if (auto v = r.choice<ClientAuth>(o, "client_auth", p,
                                      {{"none", ClientAuth::none}, {"admin", ClientAuth::admin}, {"all", ClientAuth::all}}))
        tls.client_auth = *v;
    if (tls.client_auth != ClientAuth::none && tls.client_ca.empty())
        r.error(p + ".client_auth", std::string("\"") + to_string(tls.client_auth) +
                                        "\" needs server.tls.client_ca, the CA that signs client certificates");
    cfg.server.tls = tls;
}

void read_server(ValueReader& r, const Object::Ptr& root, Config& cfg) {
    if (!root->has("server")) return;
    auto o = r.object(root->get("server"), "server");
    if (!o) return;
    r.known_keys(o, "server", {"address", "port", "details", "admin_token_env", "threads", "tls"});
    if (auto v = r.str(o, "address", "server")) {
        // inet_pton, not Poco's IPAddress::tryParse, which refuses the wildcard "::".
        in6_addr buf6{};
        in_addr buf4{};
        if (::inet_pton(AF_INET, v->c_str(), &buf4) == 1 || ::inet_pton(AF_INET6, v->c_str(), &buf6) == 1)
            cfg.server.address = *v;
        else
            r.error("server.address", "not an IP address: \"" + *v + "\"");
    }
    if (auto v = r.integer(o, "port", "server", 0, 65535)) cfg.server.port = int(*v);
    if (auto v = r.choice<Details>(o, "details", "server",
                                   {{"always", Details::always},
                                    {"loopback", Details::loopback},
                                    {"token", Details::token},
                                    {"never", Details::never}}))
        cfg.server.details = *v;
    if (auto v = r.str(o, "admin_token_env", "server")) {
        static const std::regex re("[A-Za-z_][A-Za-z0-9_]*");
        if (std::regex_match(*v, re))
            cfg.server.admin_token_env = *v;
        else
            r.error("server.admin_token_env", "not an environment variable name: \"" + *v + "\"");
    }
    if (auto v = r.integer(o, "threads", "server", 1, 64)) cfg.server.threads = int(*v);
    read_server_tls(r, o, cfg);
}

void read_plugins(ValueReader& r, const Object::Ptr& root, Config& cfg) {
    if (!root->has("plugins")) return;
    auto o = r.object(root->get("plugins"), "plugins");
    if (!o) return;
    r.known_keys(o, "plugins", {"dirs", "strict_permissions", "load_timeout"});
    if (o->has("dirs")) {
        Var v = o->get("dirs");
        if (!is_json_array(v)) {
            r.error("plugins.dirs", "expected an array of directories, got " + json_kind(v));
        } else {
            auto a = v.extract<Array::Ptr>();
            for (size_t i = 0; i < a->size(); ++i)
                if (auto s = r.string_value(a->get(unsigned(i)), "plugins.dirs[" + std::to_string(i) + "]"))
                    cfg.plugins.dirs.push_back(*s);
            cfg.plugins.dirs_explicit = true;
        }
    }
    if (auto v = r.boolean(o, "strict_permissions", "plugins")) cfg.plugins.strict_permissions = *v;
    if (auto v = r.duration(o, "load_timeout", "plugins")) {
        if (*v < Millis(10))
            r.error("plugins.load_timeout", "must be at least 10ms");
        else
            cfg.plugins.load_timeout = *v;
    }
}

// history.rollups: {"minutes": "7d", "hours": "90d", "days": "730d"}; each level keeps at least
// one of its buckets.
void read_history_rollups(ValueReader& r, const Object::Ptr& history, Config& cfg) {
    if (!history->has("rollups")) return;
    auto o = r.object(history->get("rollups"), "history.rollups");
    if (!o) return;
    r.known_keys(o, "history.rollups", {"minutes", "hours", "days"});
    struct Level {
        const char* key;
        Millis least;
        const char* least_text;
        Millis* target;
    } levels[] = {{"minutes", Millis(60'000), "1m", &cfg.history.rollup_minutes},
                  {"hours", Millis(3'600'000), "1h", &cfg.history.rollup_hours},
                  {"days", Millis(86'400'000), "1d", &cfg.history.rollup_days}};
    for (const Level& l : levels)
        if (auto v = r.duration(o, l.key, "history.rollups")) {
            if (*v < l.least)
                r.error(std::string("history.rollups.") + l.key, std::string("must be at least ") + l.least_text);
            else
                *l.target = *v;
        }
}

void read_history(ValueReader& r, const Object::Ptr& root, Config& cfg) {
    if (!root->has("history")) return;
    auto o = r.object(root->get("history"), "history");
    if (!o) return;
    r.known_keys(o, "history", {"path", "retention", "max_rows", "rollups"});
    if (auto v = r.str(o, "path", "history")) {
        if (v->empty())
            r.error("history.path", "must not be empty");
        else
            cfg.history.path = *v;
    }
    if (auto v = r.duration(o, "retention", "history")) {
        if (*v < Millis(60'000))
            r.error("history.retention", "must be at least 1m");
        else
            cfg.history.retention = *v;
    }
    if (auto v = r.integer(o, "max_rows", "history", 1000, int64_t(1) << 40)) cfg.history.max_rows = *v;
    read_history_rollups(r, o, cfg);
}

void read_policy(ValueReader& r, const Object::Ptr& root, Config& cfg) {
    if (!root->has("policy")) return;
    auto o = r.object(root->get("policy"), "policy");
    if (!o) return;
    r.known_keys(o, "policy", {"start_period", "shared_fail", "http_status"});
    if (auto v = r.duration(o, "start_period", "policy")) cfg.policy.start_period = *v;
    if (auto v = r.choice<Status>(o, "shared_fail", "policy", {{"warn", Status::warn}, {"fail", Status::fail}}))
        cfg.policy.shared_fail = *v;
    read_http_status(r, o, "http_status", "policy", cfg.policy.http_status);
}

void read_shutdown_and_log(ValueReader& r, const Object::Ptr& root, Config& cfg) {
    if (root->has("shutdown")) {
        if (auto o = r.object(root->get("shutdown"), "shutdown")) {
            r.known_keys(o, "shutdown", {"drain"});
            if (auto v = r.duration(o, "drain", "shutdown")) cfg.shutdown.drain = *v;
        }
    }
    if (root->has("log")) {
        if (auto o = r.object(root->get("log"), "log")) {
            r.known_keys(o, "log", {"level", "format"});
            if (auto v = r.choice<std::string>(o, "level", "log",
                                               {{"trace", "trace"},
                                                {"debug", "debug"},
                                                {"info", "info"},
                                                {"warn", "warn"},
                                                {"error", "error"},
                                                {"off", "off"}}))
                cfg.log.level = *v;
            if (auto v = r.choice<std::string>(o, "format", "log", {{"text", "text"}, {"json", "json"}}))
                cfg.log.format = *v;
        }
    }
}

void read_load_balancer(ValueReader& r, const Object::Ptr& root, Config& cfg) {
    if (!root->has("load_balancer")) return;
    auto o = r.object(root->get("load_balancer"), "load_balancer");
    if (!o) return;
    const std::string p = "load_balancer";
    Config::LoadBalancer& lb = cfg.load_balancer;
    lb.given = true;
    r.known_keys(o, p, {"interval", "timeout", "healthy_threshold", "unhealthy_threshold", "path", "match"});
    // ALB's own ranges are 5s-300s and 2s-120s; shorter ones are allowed for tests and other balancers.
    if (auto d = r.duration(o, "interval", p)) {
        if (*d < Millis(100))
            r.error(p + ".interval", "must be at least 100ms, got " + format_duration(*d));
        else
            lb.interval = *d;
    }
    if (auto d = r.duration(o, "timeout", p)) {
        if (*d < Millis(10))
            r.error(p + ".timeout", "must be at least 10ms, got " + format_duration(*d));
        else
            lb.timeout = *d;
    }
    // ALB's range for both thresholds.
    if (auto n = r.integer(o, "healthy_threshold", p, 2, 10)) lb.healthy_threshold = int(*n);
    if (auto n = r.integer(o, "unhealthy_threshold", p, 2, 10)) lb.unhealthy_threshold = int(*n);
    if (auto s = r.str(o, "path", p)) {
        if (group_of_status_path(*s).empty())
            r.error(p + ".path", "\"" + *s + "\" is not a status path (/health or /health/{group})");
        else
            lb.path = *s;
    }
    if (auto s = r.str(o, "match", p)) {
        std::string why;
        if (auto ranges = parse_code_ranges(*s, why)) {
            lb.match = *ranges;
            lb.match_text = *s;
        } else {
            r.error(p + ".match", why);
        }
    }
}

// Reads every check's fields; its options are kept in parsed.options for its type's schema.
void read_checks(ValueReader& r, const Object::Ptr& root, ParsedConfig& parsed) {
    Config& cfg = parsed.config;
    if (!root->has("checks")) {
        r.error("checks", "required: the list of checks to run (may be empty: [])");
        parsed.check_types.emplace();  // no checks: no plugin needed
        return;
    }
    Var v = root->get("checks");
    if (!is_json_array(v)) {
        r.error("checks", "expected an array of checks, got " + json_kind(v));
        return;
    }
    auto a = v.extract<Array::Ptr>();
    std::set<std::string> names;
    std::set<std::string> types;
    bool every_type_read = true;
    for (size_t i = 0; i < a->size(); ++i) {
        std::string path = "checks[" + std::to_string(i) + "]";
        auto o = r.object(a->get(unsigned(i)), path);
        if (!o) {
            every_type_read = false;
            continue;
        }
        r.known_keys(o, path,
                     {"name", "type", "interval", "timeout", "impact", "scope", "isolation", "rise", "fall",
                      "stale_after", "options"});
        CheckConfig c;
        bool ok = true;
        if (auto s = r.str(o, "name", path)) {
            c.name = *s;
            if (!valid_name(c.name)) {
                r.error(path + ".name", "\"" + c.name + "\" is not a valid name (letters, digits, '_', '.', '-'; "
                                        "at most 64; starting with a letter or digit)");
                ok = false;
            } else if (!names.insert(c.name).second) {
                r.error(path + ".name", "duplicate check name \"" + c.name + "\"");
                ok = false;
            }
        } else {
            if (!o->has("name")) r.error(path + ".name", "required");
            ok = false;
        }
        std::optional<ParsedConfig::CheckOptions> options;
        if (auto s = r.str(o, "type", path)) {
            c.type = *s;
            types.insert(c.type);
            options.emplace();
            options->path = path;
            options->type = c.type;
            if (o->has("options")) options->options = o->get("options");
            options->type_errors_at = r.error_count();
        } else {
            if (!o->has("type")) r.error(path + ".type", "required");
            every_type_read = false;
        }
        // Only values that were read (or are defaults, named as such) are compared: after an
        // invalid interval or timeout, its own error says enough.
        bool interval_ok = !o->has("interval");
        bool timeout_ok = !o->has("timeout");
        if (auto d = r.duration(o, "interval", path)) {
            if (*d < Millis(100))
                r.error(path + ".interval", "must be at least 100ms, got " + format_duration(*d));
            else {
                c.interval = *d;
                interval_ok = true;
            }
        }
        if (auto d = r.duration(o, "timeout", path)) {
            if (*d < Millis(1))
                r.error(path + ".timeout", "must be positive");
            else {
                c.timeout = *d;
                timeout_ok = true;
            }
        }
        auto spelled = [&](const char* key, Millis value) {
            return std::string(o->has(key) ? "" : "default ") + key + " " + format_duration(value);
        };
        if (interval_ok && timeout_ok && c.timeout >= c.interval)
            r.error(path + ".timeout", "must be shorter than the interval (" + spelled("timeout", c.timeout) +
                                           " >= " + spelled("interval", c.interval) + ")");
        if (auto e = r.choice<Impact>(o, "impact", path,
                                      {{"critical", Impact::critical},
                                       {"degraded", Impact::degraded},
                                       {"ignore", Impact::ignore}}))
            c.impact = *e;
        if (auto e = r.choice<Scope>(o, "scope", path, {{"local", Scope::local}, {"shared", Scope::shared}}))
            c.scope = *e;
        if (auto e = r.choice<Isolation>(o, "isolation", path,
                                         {{"in_process", Isolation::in_process}, {"process", Isolation::process}})) {
            c.isolation = *e;
        }
        if (auto n = r.integer(o, "rise", path, 1, 100)) c.rise = int(*n);
        if (auto n = r.integer(o, "fall", path, 1, 100)) c.fall = int(*n);
        c.stale_after = 3 * c.interval + c.timeout;
        if (auto d = r.duration(o, "stale_after", path)) {
            if (interval_ok && *d <= c.interval)
                r.error(path + ".stale_after", "must be longer than the interval (stale_after " + format_duration(*d) +
                                                   " <= " + spelled("interval", c.interval) + ")");
            else
                c.stale_after = *d;
        }
        if (options) {
            options->option_errors_at = r.error_count();
            if (ok) options->check = cfg.checks.size();
            parsed.options.push_back(std::move(*options));
        }
        if (ok) cfg.checks.push_back(std::move(c));
    }
    if (every_type_read) parsed.check_types = std::move(types);
}

void read_groups(ValueReader& r, const Object::Ptr& root, Config& cfg) {
    bool has_default = false;
    if (root->has("groups")) {
        auto groups = r.object(root->get("groups"), "groups");
        if (groups) {
            for (const auto& name : groups->getNames()) {
                std::string path = "groups." + name;
                if (name == "history" || name == "checks" || name == "probers" || name == "replay" ||
                    name == "uptime") {
                    r.error(path, "\"" + name + "\" is reserved (it is an endpoint under /health/)");
                    continue;
                }
                if (!valid_name(name)) {
                    r.error(path, "\"" + name + "\" is not a valid group name");
                    continue;
                }
                auto o = r.object(groups->get(name), path);
                if (!o) continue;
                r.known_keys(o, path, {"checks", "quorum", "drain", "http_status"});
                GroupConfig g;
                g.name = name;
                std::optional<size_t> listed;  // how many members the file lists, when it does
                if (!o->has("checks")) {
                    r.error(path + ".checks", "required: the member checks");
                } else if (!is_json_array(o->get("checks"))) {
                    r.error(path + ".checks", "expected an array of check names, got " + json_kind(o->get("checks")));
                } else {
                    auto a = o->get("checks").extract<Array::Ptr>();
                    listed = a->size();
                    for (size_t i = 0; i < a->size(); ++i) {
                        std::string p = path + ".checks[" + std::to_string(i) + "]";
                        auto s = r.string_value(a->get(unsigned(i)), p);
                        if (!s) continue;
                        if (!cfg.find_check(*s))
                            r.error(p, "no check named \"" + *s + "\"");
                        else if (std::find(g.checks.begin(), g.checks.end(), *s) != g.checks.end())
                            r.error(p, "\"" + *s + "\" is listed twice");
                        else
                            g.checks.push_back(*s);
                    }
                }
                // Compared with the members as listed (what the file says), not with those that
                // passed: a misspelt member has its own error.
                if (auto q = r.integer(o, "quorum", path, 1, 10000)) {
                    if (listed && *q > int64_t(*listed))
                        r.error(path + ".quorum", "is " + std::to_string(*q) + " but the group lists only " +
                                                      std::to_string(*listed) + " checks");
                    else
                        g.quorum = int(*q);
                }
                if (auto b = r.boolean(o, "drain", path)) g.drain = *b;
                if (o->has("http_status")) {
                    HttpStatusMap m = cfg.policy.http_status;
                    read_http_status(r, o, "http_status", path, m);
                    g.http_status = m;
                }
                has_default = has_default || name == "default";
                cfg.groups.push_back(std::move(g));
            }
        }
    }
    if (!has_default) {
        GroupConfig g;
        g.name = "default";
        for (const auto& c : cfg.checks) g.checks.push_back(c.name);
        cfg.groups.insert(cfg.groups.begin(), std::move(g));
    }
}

}  // namespace

std::string strip_json_comments(const std::string& text) {
    std::string out = text;
    bool in_string = false;
    for (size_t i = 0; i < out.size(); ++i) {
        char c = out[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
            while (i < out.size() && out[i] != '\n') out[i++] = ' ';
        } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
            size_t end = out.find("*/", i + 2);
            size_t stop = end == std::string::npos ? out.size() : end + 2;
            for (; i < stop; ++i)
                if (out[i] != '\n') out[i] = ' ';
            --i;
        }
    }
    return out;
}

ParsedConfig parse_config_structure(const std::string& json_text, const EnvLookup& env, const std::string& source) {
    ParsedConfig parsed;
    parsed.config.source = source;
    Var root_var;
    try {
        root_var = parse_json_text(json_text, &parsed.errors);
    } catch (const Poco::Exception& e) {
        parsed.errors = {source + ": not valid JSON: " + e.displayText()};
        return parsed;
    } catch (const std::exception& e) {
        parsed.errors = {source + ": not valid JSON: " + e.what()};
        return parsed;
    }
    ValueReader r(env, parsed.errors);
    Config& cfg = parsed.config;
    auto root = r.object(root_var, "(top level)");
    if (!root) return parsed;
    r.known_keys(root, "",
                 {"server", "plugins", "history", "policy", "groups", "checks", "shutdown", "log", "load_balancer"});
    read_server(r, root, cfg);
    read_plugins(r, root, cfg);
    read_history(r, root, cfg);
    read_policy(r, root, cfg);
    read_shutdown_and_log(r, root, cfg);
    read_checks(r, root, parsed);
    read_groups(r, root, cfg);
    read_load_balancer(r, root, cfg);
    // The path must name a group of this configuration (groups are read by now).
    const std::string& lb_path = cfg.load_balancer.path;
    if (!lb_path.empty() && !cfg.find_group(group_of_status_path(lb_path)))
        r.error("load_balancer.path", "no group named \"" + group_of_status_path(lb_path) + "\" for " + lb_path);
    return parsed;
}

Config parse_config(const std::string& json_text, const EnvLookup& env, const std::string& source) {
    ParsedConfig parsed = parse_config_structure(json_text, env, source);
    if (!parsed.errors.empty()) throw ConfigError(std::move(parsed.errors));
    return std::move(parsed.config);
}

bool Config::LoadBalancer::matches(int code) const {
    for (const auto& [lo, hi] : match)
        if (code >= lo && code <= hi) return true;
    return false;
}

std::optional<std::vector<std::pair<int, int>>> parse_code_ranges(const std::string& text, std::string& why) {
    static const std::regex item_re(R"(^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$)");
    std::vector<std::pair<int, int>> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        std::smatch m;
        if (!std::regex_match(item, m, item_re)) {
            why = "\"" + text + "\" is not a list of codes or ranges (\"200\", \"200-299\", \"200,302\")";
            return std::nullopt;
        }
        int lo = std::stoi(m[1]);
        int hi = m[2].matched ? std::stoi(m[2]) : lo;
        if (lo < 200 || hi > 599 || lo > hi) {
            why = "\"" + item + "\": codes are from 200 to 599, a range low-high";
            return std::nullopt;
        }
        out.emplace_back(lo, hi);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

std::string group_of_status_path(const std::string& path) {
    if (path == "/health") return "default";
    if (path.rfind("/health/", 0) != 0) return "";
    std::string g = path.substr(8);
    if (g.empty() || g.find('/') != std::string::npos || g == "history" || g == "checks" || g == "probers" ||
        g == "replay" || g == "uptime" || !valid_name(g))
        return "";
    return g;
}

std::vector<std::string> config_warnings(const Config& cfg) {
    std::vector<std::string> out;
    const Config::LoadBalancer& lb = cfg.load_balancer;
    if (!lb.given && cfg.shutdown.drain.count() == 0) return out;  // nothing says a balancer is meant
    Millis seen = lb.interval * lb.unhealthy_threshold;
    if (cfg.shutdown.drain < seen)
        out.push_back("shutdown.drain (" + format_duration(cfg.shutdown.drain) +
                      ") is shorter than load_balancer.interval x unhealthy_threshold (" +
                      format_duration(lb.interval) + " x " + std::to_string(lb.unhealthy_threshold) + " = " +
                      format_duration(seen) + "): the load balancer cannot see the drain before vitals exits");
    if (lb.timeout >= lb.interval)
        out.push_back("load_balancer.timeout (" + format_duration(lb.timeout) + ") is not shorter than its interval (" +
                      format_duration(lb.interval) + "): an ALB refuses such a health check");
    return out;
}

static std::string file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

std::string read_config_file(const std::string& path) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below like any other
    // file that is not regular. The checks are made on the open descriptor, so a symlink swapped
    // meanwhile cannot slip a device past them.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw ConfigError({path + ": cannot read: " + std::string(std::strerror(errno))});
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw ConfigError({path + ": cannot read: " + std::string(std::strerror(errno))});
    if (!S_ISREG(st.st_mode)) throw ConfigError({path + ": is " + file_kind(st.st_mode) + ", not a regular file"});
    const std::string too_large = path + ": too large; a configuration file is at most " +
                                  std::to_string(kMaxConfigBytes >> 20) + " MiB";
    if (uint64_t(st.st_size) > kMaxConfigBytes)
        throw ConfigError({too_large + " (this one is " + std::to_string(st.st_size) + " bytes)"});
    // At most one byte past the cap, whatever fstat said: the file may grow while it is read.
    std::string text;
    char buf[65536];
    while (text.size() <= kMaxConfigBytes) {
        ssize_t n = ::read(fd, buf, std::min(sizeof buf, kMaxConfigBytes + 1 - text.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ConfigError({path + ": cannot read: " + std::string(std::strerror(errno))});
        if (n == 0) break;
        text.append(buf, size_t(n));
    }
    if (text.size() > kMaxConfigBytes) throw ConfigError({too_large});
    return text;
}

ParsedConfig load_config_structure(const std::string& path, const EnvLookup& env,
                                   const std::function<std::string(const std::string&)>& read) {
    std::string text;
    try {
        text = read(path);
    } catch (const ConfigError& e) {
        ParsedConfig unreadable;
        unreadable.config.source = path;
        unreadable.errors = e.errors();
        return unreadable;
    }
    return parse_config_structure(text, env, path);
}

Config load_config_file(const std::string& path, const EnvLookup& env) {
    return parse_config(read_config_file(path), env, path);
}

static std::string executable_dir() {
    std::optional<std::string> exe = executable_path();
    if (!exe) return ".";
    const std::string& p = *exe;
    size_t slash = p.rfind('/');
    return slash == std::string::npos ? "." : p.substr(0, slash);
}

std::vector<std::string> effective_plugin_dirs(const Config::Plugins& p, const EnvLookup& env) {
    if (p.dirs_explicit) return p.dirs;
    std::vector<std::string> dirs;
    if (auto d = env("VITALS_PLUGIN_DIR"); d && !d->empty()) dirs.push_back(*d);
    std::string exe = executable_dir();
    dirs.push_back(exe + "/plugins");
    dirs.push_back(exe + "/../lib/vitals/plugins");
    return dirs;
}

}  // namespace vitals
