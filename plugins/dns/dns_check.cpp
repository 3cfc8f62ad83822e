// dns: one query (name, type) to a given server or to the system resolver's servers, bounded by the
// deadline; the rcode and the expected answers decide the result.
//
// The resolver is c-ares, not libresolv's res_nquery(). res_nquery() blocks, with its own retransmit
// timer in whole seconds (RES_TIMEOUT, at least 1 s) times its retries, so a 500 ms check timeout
// could only be honoured by abandoning a thread. c-ares is non-blocking: the poll() loop below is ours
// and ends at the deadline, whatever the server does. It also retries over TCP on its own when a UDP
// answer comes back truncated (TC bit), and reads the system's servers from /etc/resolv.conf.
//
// One channel per run: it reads resolv.conf afresh (a changed system resolver takes effect at the
// next run) and holds nothing between runs. Its sockets are made by our socket functions
// (non-blocking and close-on-exec from the start: other threads of the daemon spawn check programs).
// The answer section is read by one small walker (ares_expand_name() for names) rather than c-ares's
// seven per-type parsers, so that every type is listed and matched the same way.
#include <vitals/plugin.hpp>

#include <vitals_plugins/connect.hpp>
#include <vitals_plugins/deadline.hpp>
#include <vitals_plugins/resolve.hpp>
#include <vitals_plugins/text.hpp>

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace vp = vitals_plugins;
using Clock = std::chrono::steady_clock;

// The query types the check speaks, and their numbers (RFC 1035, 2782, 3596).
struct QueryType {
    const char* name;
    int number;
};
constexpr QueryType kTypes[] = {{"A", 1}, {"NS", 2}, {"CNAME", 5}, {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}};

std::string type_name(int number) {
    for (const auto& t : kTypes)
        if (t.number == number) return t.name;
    return "TYPE" + std::to_string(number);
}

// Response codes by name (RFC 1035 4.1.1, RFC 2136 for 6-10).
constexpr const char* kRcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                   "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
constexpr int kRcodeCount = static_cast<int>(sizeof kRcodes / sizeof kRcodes[0]);

std::string rcode_name(int rcode) {
    return rcode >= 0 && rcode < kRcodeCount ? kRcodes[rcode] : "RCODE" + std::to_string(rcode);
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// One record of the answer section: its type and its data as text ("192.0.2.1", "10 mail.example",
// "10 5 5060 sip.example", the TXT strings joined).
struct Record {
    int type;
    std::string data;
};

struct Answer {
    int rcode = 0;
    std::vector<Record> records;
};

// A name in the message at `p`, through ares_expand_name() (compression pointers, bounds). Advances p.
bool read_name(const unsigned char*& p, const unsigned char* msg, int len, std::string& name) {
    char* expanded = nullptr;
    long used = 0;
    if (ares_expand_name(p, msg, len, &expanded, &used) != ARES_SUCCESS) return false;
    name = lower(expanded);
    ares_free_string(expanded);
    p += used;
    return true;
}

unsigned read16(const unsigned char* p) { return static_cast<unsigned>(p[0]) << 8 | p[1]; }

// The text of one record's data, or false when it is malformed.
bool record_data(int type, const unsigned char* rdata, size_t rdlen, const unsigned char* msg, int len,
                 std::string& out) {
    const unsigned char* p = rdata;
    std::string name;
    char addr[INET6_ADDRSTRLEN];
    switch (type) {
        case 1:  // A
            if (rdlen != 4 || !inet_ntop(AF_INET, rdata, addr, sizeof addr)) return false;
            out = addr;
            return true;
        case 28:  // AAAA
            if (rdlen != 16 || !inet_ntop(AF_INET6, rdata, addr, sizeof addr)) return false;
            out = addr;
            return true;
        case 2:  // NS
        case 5:  // CNAME
            if (!read_name(p, msg, len, name)) return false;
            out = name;
            return true;
        case 15:  // MX: preference, exchange
            if (rdlen < 3) return false;
            p += 2;
            if (!read_name(p, msg, len, name)) return false;
            out = std::to_string(read16(rdata)) + " " + name;
            return true;
        case 33:  // SRV: priority, weight, port, target
            if (rdlen < 7) return false;
            p += 6;
            if (!read_name(p, msg, len, name)) return false;
            out = std::to_string(read16(rdata)) + " " + std::to_string(read16(rdata + 2)) + " " +
                  std::to_string(read16(rdata + 4)) + " " + name;
            return true;
        case 16:  // TXT: one or more <length, bytes> strings, read as one text
            out.clear();
            for (size_t i = 0; i < rdlen;) {
                size_t n = rdata[i];
                if (i + 1 + n > rdlen) return false;
                out.append(reinterpret_cast<const char*>(rdata + i + 1), n);
                i += 1 + n;
            }
            return true;
        default:
            out = "(" + std::to_string(rdlen) + " bytes)";
            return true;
    }
}

// Reads the rcode and the answer section of a DNS message. Returns "" or what is wrong with it.
std::string parse(const std::vector<unsigned char>& message, Answer& answer) {
    const unsigned char* msg = message.data();
    const int len = static_cast<int>(message.size());
    if (len < 12) return "answer too short (" + std::to_string(len) + " bytes)";
    answer.rcode = msg[3] & 0x0f;
    const unsigned questions = read16(msg + 4), answers = read16(msg + 6);
    const unsigned char* p = msg + 12;
    const unsigned char* end = msg + len;
    std::string name;
    for (unsigned i = 0; i < questions; ++i) {
        if (!read_name(p, msg, len, name) || end - p < 4) return "malformed question section";
        p += 4;
    }
    for (unsigned i = 0; i < answers; ++i) {
        if (!read_name(p, msg, len, name) || end - p < 10) return "malformed answer section";
        const int type = static_cast<int>(read16(p));
        const size_t rdlen = read16(p + 8);
        p += 10;
        if (static_cast<size_t>(end - p) < rdlen) return "malformed answer section";
        Record record{type, {}};
        if (!record_data(type, p, rdlen, msg, len, record.data))
            return "malformed " + type_name(type) + " record";
        answer.records.push_back(std::move(record));
        p += rdlen;
    }
    return {};
}

// An expected value in the form record_data() gives: addresses in their canonical text ("2001:db8::1"
// for "2001:DB8:0::1"), names lower case without a trailing dot.
std::string canonical_expectation(const std::string& value) {
    unsigned char buf[16];
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, value.c_str(), buf) == 1 && inet_ntop(AF_INET, buf, text, sizeof text)) return text;
    if (inet_pton(AF_INET6, value.c_str(), buf) == 1 && inet_ntop(AF_INET6, buf, text, sizeof text)) return text;
    return value;
}

bool matches(const Record& record, const std::string& expected) {
    if (record.type == 16) return record.data == expected;  // TXT: the text exactly
    std::string want = lower(expected);
    if (!want.empty() && want.back() == '.') want.pop_back();
    return record.data == want;
}

// ---- c-ares plumbing ------------------------------------------------------------------------------

void init_library_once() {
    // Never cleaned up: other checks of this plugin may run at any time until the process exits.
    static std::once_flag once;
    static int status = ARES_SUCCESS;
    std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
    if (status != ARES_SUCCESS) throw std::runtime_error(std::string("c-ares: ") + ares_strerror(status));
}

// Sockets for c-ares: non-blocking and close-on-exec from socket() on (with socket functions set,
// c-ares itself sets no option on them).
ares_socket_t open_socket(int domain, int type, int protocol, void*) {
    return ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}
int close_socket(ares_socket_t fd, void*) { return ::close(fd); }
int connect_socket(ares_socket_t fd, const sockaddr* addr, ares_socklen_t len, void*) { return ::connect(fd, addr, len); }
ares_ssize_t receive_from(ares_socket_t fd, void* buf, size_t len, int flags, sockaddr* from, ares_socklen_t* from_len,
                          void*) {
    return ::recvfrom(fd, buf, len, flags, from, from_len);
}
ares_ssize_t send_vector(ares_socket_t fd, const iovec* iov, int count, void*) {
    // sendmsg with MSG_NOSIGNAL (not writev): a TCP peer that closed gives EPIPE, not a SIGPIPE.
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(iov);
    message.msg_iovlen = static_cast<size_t>(count);
    return ::sendmsg(fd, &message, MSG_NOSIGNAL);
}
const ares_socket_functions kSocketFunctions = {open_socket, close_socket, connect_socket, receive_from, send_vector};

struct Channel {
    ares_channel channel = nullptr;
    ~Channel() {
        if (channel) ares_destroy(channel);  // a query still pending gets its callback (ARES_EDESTRUCTION) here
    }
};

// What the query's callback received.
struct Outcome {
    bool done = false;
    int status = ARES_SUCCESS;
    std::vector<unsigned char> message;
};

void on_answer(void* arg, int status, int, unsigned char* abuf, int alen) {
    auto* outcome = static_cast<Outcome*>(arg);
    if (outcome->done) return;
    outcome->done = true;
    outcome->status = status;
    if (abuf && alen > 0) outcome->message.assign(abuf, abuf + alen);
}

class DnsCheck : public vitals::Check {
public:
    explicit DnsCheck(const vitals::Options& o)
        : name_(o.string("name")),
          server_(o.string_or("server", "")),
          port_(o.integer("port")),
          expect_(o.string_list("expect")) {
        init_library_once();
        if (name_.empty()) throw std::runtime_error("name must not be empty");
        const std::string type = o.string("type");
        for (const auto& t : kTypes)
            if (vp::iequals(type, t.name)) type_ = t.number;
        if (type_ == 0)
            throw std::runtime_error("type must be one of A, AAAA, CNAME, TXT, SRV, MX, NS (got \"" + vp::printable(type) + "\")");
        // The name must make a query (labels of at most 63 bytes, 255 in all): found out now, not at every run.
        unsigned char* query = nullptr;
        int query_len = 0;
        int rc = ares_create_query(name_.c_str(), C_IN, type_, 0, 1, &query, &query_len, 0);
        if (rc != ARES_SUCCESS)
            throw std::runtime_error("name \"" + vp::printable(name_) + "\" is not a valid DNS name: " + ares_strerror(rc));
        ares_free_string(query);
        if (o.has("server")) {
            // An address, not a name: resolving the server to ask would need a resolver of its own.
            if (!vp::is_ip_literal(server_))
                throw std::runtime_error("server must be an IPv4 or IPv6 address (got \"" + vp::printable(server_) + "\")");
        }
        if (port_ < 1 || port_ > 65535)
            throw std::runtime_error("port must be between 1 and 65535 (got " + std::to_string(port_) + ")");
        const std::string rcode = o.string("expect_rcode");
        for (int i = 0; i < kRcodeCount; ++i)
            if (vp::iequals(rcode, kRcodes[i])) expect_rcode_ = i;
        if (expect_rcode_ < 0)
            throw std::runtime_error("expect_rcode must be a response code name such as NOERROR, NXDOMAIN, SERVFAIL, "
                                     "REFUSED (got \"" + vp::printable(rcode) + "\")");
        for (auto& value : expect_) {
            if (value.empty()) throw std::runtime_error("expect values must not be empty");
            value = canonical_expectation(value);
        }
        if (!expect_.empty() && expect_rcode_ != 0)
            throw std::runtime_error("expect needs expect_rcode NOERROR (an answer with " + rcode_name(expect_rcode_) +
                                     " has no records to expect)");
        where_ = server_.empty() ? "the system resolver" : vp::endpoint(server_, static_cast<int>(port_));
        what_ = name_ + " " + type_name(type_);
    }

    vitals::Result run(vitals::Deadline host_deadline) override {
        const auto start = Clock::now();
        // Giving up a little early, so that our own "query ... timed out after N ms" is recorded rather
        // than the host's generic timeout.
        const auto deadline = vp::give_up_at(host_deadline, start);
        const std::string query = "query " + what_ + " at " + where_;
        auto timed_out = [&] {
            return vitals::Result::fail(query + " " + vp::timed_out_after(vp::whole_ms(start, host_deadline)));
        };

        // Declared before the channel: destroying a channel with the query pending (at the deadline)
        // calls on_answer(), which writes into `outcome`.
        Outcome outcome;
        Channel c;
        std::string error = open_channel(c, deadline - start);
        if (!error.empty()) return vitals::Result::fail(query + ": " + error);

        ares_query(c.channel, name_.c_str(), C_IN, type_, on_answer, &outcome);
        while (!outcome.done) {
            if (Clock::now() >= deadline) return timed_out();
            if (!wait_and_process(c.channel, deadline, error)) return vitals::Result::fail(query + ": " + error);
        }
        const double elapsed = std::round(std::chrono::duration<double, std::milli>(Clock::now() - start).count() * 100.0) / 100.0;

        // ares_query() reports an rcode other than NOERROR (and NOERROR without answers) as an error
        // status, yet passes the answer: with an answer, the answer decides.
        if (outcome.message.empty()) {
            if (outcome.status == ARES_ETIMEOUT) return timed_out();  // c-ares's own tries ran out first
            return vitals::Result::fail(query + ": " + ares_strerror(outcome.status));
        }
        Answer answer;
        error = parse(outcome.message, answer);
        if (!error.empty()) return vitals::Result::fail(query + ": " + error).observed(elapsed, "ms");

        std::string listed;
        for (const auto& r : answer.records)
            listed += (listed.empty() ? "" : ", ") + type_name(r.type) + " " + vp::printable(r.data, 120);
        const std::string answered = listed.empty() ? "no answers" : listed;
        char in[48];
        std::snprintf(in, sizeof in, " in %.2f ms", elapsed);
        const std::string rcode = rcode_name(answer.rcode);

        if (answer.rcode != expect_rcode_)
            return vitals::Result::fail(what_ + ": " + rcode + " from " + where_ + ", expected " + rcode_name(expect_rcode_) +
                                        (listed.empty() ? "" : " (" + listed + ")"))
                .observed(elapsed, "ms");
        for (const auto& value : expect_) {
            bool found = std::any_of(answer.records.begin(), answer.records.end(),
                                     [&](const Record& r) { return matches(r, value); });
            if (!found)
                return vitals::Result::fail(what_ + ": expected '" + vp::printable(value, 120) + "' not in the answer from " +
                                            where_ + " (" + answered + ")")
                    .observed(elapsed, "ms");
        }
        return vitals::Result::pass(what_ + ": " + rcode + " from " + where_ + in + ": " + answered).observed(elapsed, "ms");
    }

private:
    // A channel for one run: the configured server, or the servers of /etc/resolv.conf. c-ares
    // retransmits over UDP after a quarter of the budget, then after twice that (its timeout doubles per
    // try), and would give up after 1.75 budgets: our deadline comes first.
    std::string open_channel(Channel& c, Clock::duration budget) const {
        ares_options options{};
        options.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;  // every answer to us, the name as given
        options.tries = 3;
        options.timeout = std::max(1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(budget).count() / 4));
        const int mask = ARES_OPT_FLAGS | ARES_OPT_TRIES | ARES_OPT_TIMEOUTMS;
        int rc = ares_init_options(&c.channel, &options, mask);
        if (rc != ARES_SUCCESS) {
            c.channel = nullptr;
            return std::string("resolver setup failed: ") + ares_strerror(rc);
        }
        ares_set_socket_functions(c.channel, &kSocketFunctions, nullptr);
        if (server_.empty()) return {};
        ares_addr_port_node node{};
        node.family = server_.find(':') != std::string::npos ? AF_INET6 : AF_INET;
        if (node.family == AF_INET) inet_pton(AF_INET, server_.c_str(), &node.addr.addr4);
        else inet_pton(AF_INET6, server_.c_str(), &node.addr.addr6);
        node.udp_port = node.tcp_port = static_cast<int>(port_);
        rc = ares_set_servers_ports(c.channel, &node);
        if (rc != ARES_SUCCESS) return std::string("cannot use server: ") + ares_strerror(rc);
        return {};
    }

    // Waits (until c-ares's next timer or the deadline) for the channel's sockets and lets c-ares
    // process what happened. False with `error` set if poll() itself failed.
    static bool wait_and_process(ares_channel channel, vitals::Deadline deadline, std::string& error) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        const int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
        pollfd fds[ARES_GETSOCK_MAXNUM];
        nfds_t count = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
            short events = 0;
            if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
            if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
            if (events) fds[count++] = pollfd{socks[i], events, 0};
        }
        int wait_ms = vp::poll_timeout_ms(deadline);
        timeval max{wait_ms / 1000, (wait_ms % 1000) * 1000}, tv{};
        if (timeval* next = ares_timeout(channel, &max, &tv))
            wait_ms = static_cast<int>(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000);
        const int n = ::poll(fds, count, wait_ms);
        if (n < 0) {
            if (errno == EINTR) return true;
            error = "poll: " + vp::errno_text(errno);
            return false;
        }
        if (n == 0) {
            ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timers: retransmit, next server
            return true;
        }
        for (nfds_t i = 0; i < count; ++i) {
            const short got = fds[i].revents;
            if (!got) continue;
            const bool readable = got & (POLLIN | POLLERR | POLLHUP);
            const bool writable = got & (POLLOUT | POLLERR | POLLHUP);
            ares_process_fd(channel, readable ? fds[i].fd : ARES_SOCKET_BAD, writable ? fds[i].fd : ARES_SOCKET_BAD);
        }
        return true;
    }

    std::string name_;
    int type_ = 0;               // query type number
    std::string server_;         // empty: the system resolver
    int64_t port_;
    std::vector<std::string> expect_;  // canonical_expectation() of each
    int expect_rcode_ = -1;
    std::string where_;          // "127.0.0.1:53" or "the system resolver"
    std::string what_;           // "www.example.com A"
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec dns_options[] = {
    vitals::option("name", VITALS_OPTION_STRING, nullptr, "name to query, as given (no search domains)", VITALS_OPTION_REQUIRED),
    vitals::option("type", VITALS_OPTION_STRING, "\"A\"", "query type: A, AAAA, CNAME, TXT, SRV, MX or NS"),
    vitals::option("server", VITALS_OPTION_STRING, nullptr,
                   "IPv4 or IPv6 address of the DNS server to ask; default: the system resolver (/etc/resolv.conf)"),
    vitals::option("port", VITALS_OPTION_INT, "53", "with server: its UDP and TCP port, 1-65535"),
    vitals::option("expect", VITALS_OPTION_STRING_LIST, nullptr,
                   "values that must each appear in the answer: an address (A, AAAA), a name (CNAME, NS), "
                   "\"10 mail.example.com\" (MX), \"10 5 5060 sip.example.com\" (SRV), the text (TXT)"),
    vitals::option("expect_rcode", VITALS_OPTION_STRING, "\"NOERROR\"",
                   "response code the answer must have: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ..."),
};

}  // namespace

VITALS_PLUGIN("vitals-dns", "0.1.0",
              vitals::check_type<DnsCheck>("dns", "DNS query (c-ares): rcode and expected answers", "component",
                                           "responseTime", dns_options))
