// http(s):// and ws(s):// URLs for the http and websocket check plugins: parsed by Poco::URI, with the
// userinfo kept apart so that no message ever shows the password; and the validation of the extra
// request headers both take.
#ifndef VITALS_PLUGINS_URL_HPP
#define VITALS_PLUGINS_URL_HPP

#include "vitals_plugins/resolve.hpp"
#include "vitals_plugins/text.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace vitals_plugins {

// A parsed http(s):// or ws(s):// URL. The userinfo is kept apart and never appears in display().
struct Url {
    std::string scheme;  // lower case: http, https, ws, wss
    std::string host;    // without brackets; a name or an IP literal
    uint16_t port = 0;
    std::string target;  // request target: path and query, at least "/"
    bool has_credentials = false;
    std::string user;      // percent-decoded
    std::string password;  // percent-decoded; secret

    bool secure() const { return scheme == "https" || scheme == "wss"; }
    uint16_t default_port() const { return secure() ? 443 : 80; }
    bool host_is_ip() const { return is_ip_literal(host); }
    std::string bracketed_host() const { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }
    // "host:port", for messages.
    std::string endpoint() const { return bracketed_host() + ":" + std::to_string(port); }
    // The Host header: the port only when it is not the scheme's default.
    std::string host_header() const {
        return port == default_port() ? bracketed_host() : bracketed_host() + ":" + std::to_string(port);
    }
    // For messages: scheme://host[:port]/path — no userinfo, no query (it may carry tokens).
    std::string display() const {
        std::string path = target.substr(0, target.find('?'));
        return scheme + "://" + host_header() + path;
    }
    bool same_origin(const Url& o) const { return scheme == o.scheme && iequals(host, o.host) && port == o.port; }
};

// Parses `text`, accepting only the given schemes. Error messages never quote the URL: it may hold a
// password. `option` names the option in messages.
inline Url parse_url(const std::string& text, const char* option, const std::vector<std::string>& schemes) {
    Poco::URI uri;
    try {
        uri = Poco::URI(text);
    } catch (const Poco::Exception&) {
        throw std::runtime_error(std::string(option) + " is not a valid URL");
    }
    Url u;
    u.scheme = uri.getScheme();  // Poco lower-cases it
    std::string wanted;
    for (const auto& s : schemes) wanted += (wanted.empty() ? "" : " or ") + s + "://";
    if (std::find(schemes.begin(), schemes.end(), u.scheme) == schemes.end())
        throw std::runtime_error(std::string(option) + " must start with " + wanted +
                                 (u.scheme.empty() ? "" : " (got '" + printable(u.scheme, 16) + ":')"));
    if (text.find("//") == std::string::npos || uri.getHost().empty())
        throw std::runtime_error(std::string(option) + " has no host");
    u.host = uri.getHost();
    for (char ch : u.host) {
        const auto c = static_cast<unsigned char>(ch);
        if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '%'))
            throw std::runtime_error(std::string(option) + " has an invalid host name");
    }
    if (u.host.find(':') != std::string::npos && !u.host_is_ip())
        throw std::runtime_error(std::string(option) + " has an invalid IPv6 address");
    u.port = uri.getSpecifiedPort() ? uri.getSpecifiedPort() : u.default_port();
    if (u.port == 0) throw std::runtime_error(std::string(option) + " has port 0");
    u.target = uri.getPathAndQuery();
    if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
    const std::string& userinfo = uri.getUserInfo();
    if (!userinfo.empty()) {
        u.has_credentials = true;
        size_t colon = userinfo.find(':');
        try {
            Poco::URI::decode(userinfo.substr(0, colon), u.user);
            if (colon != std::string::npos) Poco::URI::decode(userinfo.substr(colon + 1), u.password);
        } catch (const Poco::Exception&) {
            throw std::runtime_error(std::string(option) + " has invalid percent-encoding in its user info");
        }
    }
    return u;
}

// ---- Request headers ---------------------------------------------------------------------------

// RFC 7230 token characters (header names, methods, subprotocol names).
inline bool is_token(const std::string& s) {
    if (s.empty()) return false;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c)) continue;
        if (std::strchr("!#$%&'*+-.^_`|~", c) && c != 0) continue;
        return false;
    }
    return true;
}

// Validates the `headers` option: token names, values without control characters (no header
// injection), and none of `reserved` (headers the plugin sets itself; compared case-insensitively).
inline void check_headers(const std::map<std::string, std::string>& headers, const std::vector<std::string>& reserved) {
    for (const auto& h : headers) {
        if (!is_token(h.first))
            throw std::runtime_error("headers: invalid header name '" + printable(h.first) + "'");
        for (char ch : h.second) {
            const auto c = static_cast<unsigned char>(ch);
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                throw std::runtime_error("headers: value of '" + h.first + "' contains a control character");
        }
        for (const auto& r : reserved)
            if (iequals(h.first, r))
                throw std::runtime_error("headers: '" + h.first + "' is set by the check itself and cannot be overridden");
    }
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_URL_HPP
