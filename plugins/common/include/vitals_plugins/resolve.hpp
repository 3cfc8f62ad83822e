// Name resolution bounded by a deadline, shared by the built-in network check plugins (tcp, redis,
// http, websocket).
//
// Plain getaddrinfo() — and so Poco::Net::SocketAddress(host, port) and Poco's own connect — can
// block for resolv.conf's timeout × attempts (10 s and more against a dead DNS server) whatever the
// check's deadline says, so a lookup runs through glibc's getaddrinfo_a and is abandoned at the
// deadline. (getaddrinfo_a lives in libc since glibc 2.34 and in libanl before: the
// vitals_plugin_net target links libanl where needed.)
#ifndef VITALS_PLUGINS_RESOLVE_HPP
#define VITALS_PLUGINS_RESOLVE_HPP

#include "vitals_plugins/deadline.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vitals_plugins {

struct AddrInfoFree {
    void operator()(addrinfo* list) const {
        if (list) ::freeaddrinfo(list);
    }
};
using AddrList = std::unique_ptr<addrinfo, AddrInfoFree>;

// One getaddrinfo_a request. glibc's resolver thread writes into `request` (and reads the strings and
// hints it points to) until the lookup completes, so this object must outlive the lookup — even when
// run() has given up on it and returned.
struct Lookup {
    std::string host;
    std::string service;
    addrinfo hints{};
    gaicb request{};
};

// Lookups that were still running in glibc when their run() hit the deadline. Each later resolution
// frees those that have finished since.
class AbandonedLookups {
public:
    // The list, or nullptr while no lookup has ever been abandoned.
    static AbandonedLookups* existing() { return instance().load(std::memory_order_acquire); }

    // The list, created on first use and deliberately never destroyed: if the plugin is unloaded (or the
    // process exits) while a lookup is still running, destroying the list would let glibc write into
    // freed memory. Created lazily so that a process that never abandons a lookup allocates nothing.
    static AbandonedLookups& get() {
        static AbandonedLookups* created = [] {
            auto* list = new AbandonedLookups;
            instance().store(list, std::memory_order_release);
            return list;
        }();
        return *created;
    }

    void add(std::unique_ptr<Lookup> lookup) {
        std::lock_guard<std::mutex> lock(mutex_);
        lookups_.push_back(std::move(lookup));
    }

    void reap() {
        std::lock_guard<std::mutex> lock(mutex_);
        lookups_.erase(std::remove_if(lookups_.begin(), lookups_.end(),
                                      [](const std::unique_ptr<Lookup>& l) {
                                          int rc = ::gai_error(&l->request);
                                          if (rc == EAI_INPROGRESS) return false;
                                          if (rc == 0 && l->request.ar_result) ::freeaddrinfo(l->request.ar_result);
                                          return true;
                                      }),
                       lookups_.end());
    }

private:
    AbandonedLookups() = default;
    static std::atomic<AbandonedLookups*>& instance() {
        static std::atomic<AbandonedLookups*> list{nullptr};  // trivially destructible: safe at unload and exit
        return list;
    }
    std::mutex mutex_;
    std::vector<std::unique_ptr<Lookup>> lookups_;
};

struct Resolution {
    AddrList addresses;  // set on success
    // Set on failure, e.g. "resolve redis.internal: Name or service not known"; at the deadline only
    // "resolve <host>", which the caller words with its own timing ("... timed out after 12 ms").
    std::string error;
    bool timed_out = false;
};

// Resolves host:port to TCP addresses, IPv6 and IPv4 in the order the system prefers (RFC 6724),
// giving up at `deadline`.
inline Resolution resolve(const std::string& host, int port, Clock::time_point deadline) {
    if (AbandonedLookups* abandoned = AbandonedLookups::existing()) abandoned->reap();
    const std::string service = std::to_string(port);

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;

    // An IP literal needs no lookup: resolve it synchronously, it cannot block.
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* list = nullptr;
    int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
    if (rc == 0) return {AddrList(list), {}};
    if (rc != EAI_NONAME) return {nullptr, "resolve " + host + ": " + ::gai_strerror(rc)};

    auto lookup = std::make_unique<Lookup>();
    lookup->host = host;
    lookup->service = service;
    lookup->hints = hints;
    lookup->hints.ai_flags = AI_NUMERICSERV;
    lookup->request.ar_name = lookup->host.c_str();
    lookup->request.ar_service = lookup->service.c_str();
    lookup->request.ar_request = &lookup->hints;
    gaicb* requests[] = {&lookup->request};
    rc = ::getaddrinfo_a(GAI_NOWAIT, requests, 1, nullptr);
    if (rc != 0) return {nullptr, "resolve " + host + ": " + ::gai_strerror(rc)};

    while ((rc = ::gai_error(&lookup->request)) == EAI_INPROGRESS) {
        auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero()) {
            // Too late. A lookup already running cannot be cancelled: park it until glibc is done.
            int cancel = ::gai_cancel(&lookup->request);
            if (cancel == EAI_NOTCANCELED) {
                AbandonedLookups::get().add(std::move(lookup));
            } else if (cancel == EAI_ALLDONE && ::gai_error(&lookup->request) == 0) {
                ::freeaddrinfo(lookup->request.ar_result);  // finished just now; nobody wants it
            }
            return {nullptr, "resolve " + host, true};
        }
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        // Returns when the lookup completes, on timeout or on a signal; the loop re-checks either way.
        ::gai_suspend(requests, 1, &timeout);
    }
    if (rc != 0) return {nullptr, "resolve " + host + ": " + ::gai_strerror(rc)};
    return {AddrList(lookup->request.ar_result), {}};
}

// True for an IPv4 or IPv6 address literal (without brackets), false for a name.
inline bool is_ip_literal(const std::string& host) {
    in6_addr a6;
    in_addr a4;
    return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// Numeric text of a resolved address, e.g. "127.0.0.1" or "::1".
inline std::string numeric_host(const addrinfo& ai) {
    char text[NI_MAXHOST];
    if (::getnameinfo(ai.ai_addr, ai.ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) return "?";
    return text;
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_RESOLVE_HPP
