// postgres: connect to a PostgreSQL server with libpq, run a query that must return at least one row
// (SELECT 1), optionally check the server's role (primary or replica, pg_is_in_recovery()) — every
// step bounded by the deadline.
//
// libpq's blocking calls (PQconnectdb, PQexec) wait as long as the network and connect_timeout (whole
// seconds) say, so the plugin drives libpq's non-blocking interface from its own poll() loop:
// PQconnectStartParams + PQconnectPoll for the connection (TCP, TLS, authentication), then
// PQsendQuery + PQflush / PQconsumeInput / PQisBusy for each query, each wait on PQsocket() ending at
// the deadline. Two things libpq would still do blocking are taken off its hands:
//   - name resolution (getaddrinfo() inside PQconnectPoll): the host is resolved first, bounded by the
//     deadline (plugins/common: vitals_plugins/resolve.hpp), and libpq gets the addresses as hostaddr
//     (host stays the name: for TLS host name verification and libpq's messages);
//   - GSSAPI (gssencmode=prefer by default, Debian's libpq is built with it): Kerberos credential lookups
//     are blocking library calls, so gssencmode=disable.
// The password is a secret option: never in our output (redacted, whatever a server echoes).
#include <vitals/plugin.hpp>

#include <vitals_plugins/connect.hpp>
#include <vitals_plugins/deadline.hpp>
#include <vitals_plugins/redact.hpp>
#include <vitals_plugins/resolve.hpp>
#include <vitals_plugins/text.hpp>

#include <libpq-fe.h>
#include <poll.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace vp = vitals_plugins;
using Clock = std::chrono::steady_clock;

struct ConnFinish {
    void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnFinish>;
struct ResultClear {
    void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultClear>;

// libpq's messages on one line: every run of whitespace (its "FATAL:  ", its trailing newline, the
// lines of several hosts' attempts) becomes one space.
std::string one_line(const char* message) {
    std::string out;
    for (const char* p = message ? message : ""; *p; ++p) {
        if (std::isspace(static_cast<unsigned char>(*p))) {
            if (!out.empty() && out.back() != ' ') out += ' ';
        } else {
            out += *p;
        }
    }
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return vp::clean_utf8(out, vp::Lines::join);
}

// A failed query's error as the server words it: "ERROR: relation "t" does not exist".
std::string result_error(const PGresult* r) {
    const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (primary) return one_line((std::string(severity ? severity : "ERROR") + ": " + primary).c_str());
    return one_line(PQresultErrorMessage(r));
}

constexpr const char* kSslModes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};

enum class Wait { ready, timed_out, failed };

// Waits for `fd` to be ready for `events` until the deadline.
Wait wait_for(int fd, short events, vitals::Deadline deadline) {
    const int ready = vp::wait_ready(fd, events, deadline);
    return ready > 0 ? Wait::ready : ready == 0 ? Wait::timed_out : Wait::failed;
}

class PostgresCheck : public vitals::Check {
public:
    explicit PostgresCheck(const vitals::Options& o)
        : host_(o.string("host")),
          port_(o.integer("port")),
          dbname_(o.string("dbname")),
          user_(o.string("user")),
          password_(o.string_or("password", "")),
          sslmode_(o.string("sslmode")),
          query_(o.string("query")) {
        if (host_.empty()) throw std::runtime_error("host must not be empty");
        if (host_.find(',') != std::string::npos)
            throw std::runtime_error("host must be one host name, address or socket directory (got a list)");
        if (port_ < 1 || port_ > 65535)
            throw std::runtime_error("port must be between 1 and 65535 (got " + std::to_string(port_) + ")");
        if (dbname_.empty()) throw std::runtime_error("dbname must not be empty");
        if (user_.empty()) throw std::runtime_error("user must not be empty");
        bool known = false;
        for (const char* mode : kSslModes) known = known || sslmode_ == mode;
        if (!known)
            throw std::runtime_error("sslmode must be disable, allow, prefer, require, verify-ca or verify-full (got \"" +
                                     vp::printable(sslmode_) + "\")");
        if (query_.find_first_not_of(" \t\r\n;") == std::string::npos)
            throw std::runtime_error("query must not be empty (the default is SELECT 1)");
        if (o.has("role")) {
            role_ = o.string("role");
            if (role_ != "primary" && role_ != "replica")
                throw std::runtime_error("role must be \"primary\" or \"replica\" (got \"" + vp::printable(role_) + "\")");
        }
        target_ = host_[0] == '/' ? host_ : vp::endpoint(host_, static_cast<int>(port_));
    }

    vitals::Result run(vitals::Deadline host_deadline) override {
        const auto start = Clock::now();
        // Giving up a little early, so that our own "timed out after N ms (connect to ...)" is
        // recorded rather than the host's generic timeout.
        const auto deadline = vp::give_up_at(host_deadline, start);
        // Belt and braces: nothing we report may contain the password, whatever a server echoes.
        return vp::redact(probe(start, deadline, host_deadline), password_);
    }

private:
    vitals::Result probe(Clock::time_point start, vitals::Deadline deadline, vitals::Deadline host_deadline) {
        auto timeout = [&](const std::string& step) {
            return vitals::Result::fail(vp::timed_out_after_budget(start, host_deadline, step));
        };
        const std::string connect_step = "connect to " + target_;

        // The addresses, found within the deadline; a socket directory needs none.
        std::string hosts, hostaddrs;
        if (host_[0] != '/') {
            vp::Resolution resolved = vp::resolve(host_, static_cast<int>(port_), deadline);
            if (resolved.timed_out) return timeout(resolved.error);
            if (!resolved.addresses) return vitals::Result::fail(resolved.error);
            for (const addrinfo* ai = resolved.addresses.get(); ai; ai = ai->ai_next) {
                hosts += (hosts.empty() ? "" : ",") + host_;
                hostaddrs += (hostaddrs.empty() ? "" : ",") + vp::numeric_host(*ai);
            }
        } else {
            hosts = host_;
        }

        const std::string port = std::to_string(port_);
        std::vector<const char*> keys = {"host", "port", "dbname", "user", "sslmode", "gssencmode", "application_name"};
        std::vector<const char*> values = {hosts.c_str(), port.c_str(), dbname_.c_str(), user_.c_str(),
                                           sslmode_.c_str(), "disable", "vitals"};
        if (!hostaddrs.empty()) {
            keys.push_back("hostaddr");
            values.push_back(hostaddrs.c_str());
        }
        if (!password_.empty()) {
            keys.push_back("password");
            values.push_back(password_.c_str());
        }
        keys.push_back(nullptr);
        values.push_back(nullptr);

        Conn conn(PQconnectStartParams(keys.data(), values.data(), 0));
        if (!conn) return vitals::Result::fail(connect_step + ": out of memory");
        if (PQstatus(conn.get()) == CONNECTION_BAD) return vitals::Result::fail(one_line(PQerrorMessage(conn.get())));
        // "as if it last returned PGRES_POLLING_WRITING" (libpq's documentation of PQconnectStart).
        for (PostgresPollingStatusType polled = PGRES_POLLING_WRITING; polled != PGRES_POLLING_OK;) {
            if (polled == PGRES_POLLING_FAILED) return vitals::Result::fail(one_line(PQerrorMessage(conn.get())));
            // The socket may change between calls (the next address after a failed one).
            const Wait w = wait_for(PQsocket(conn.get()), polled == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
            if (w == Wait::timed_out) return timeout(connect_step);
            if (w == Wait::failed) return vitals::Result::fail(connect_step + ": poll: " + vp::errno_text(errno));
            polled = PQconnectPoll(conn.get());
        }
        if (PQsetnonblocking(conn.get(), 1) != 0) return vitals::Result::fail(one_line(PQerrorMessage(conn.get())));

        std::string error;
        int rows = 0;
        PgResult result = execute(conn.get(), query_, deadline, error);
        if (!result) return error.empty() ? timeout("query") : vitals::Result::fail("query failed: " + error);
        if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || (rows = PQntuples(result.get())) == 0)
            return vitals::Result::fail("query returned no rows: " + vp::printable(query_, 200));
        const double elapsed = std::round(std::chrono::duration<double, std::milli>(Clock::now() - start).count() * 100.0) / 100.0;
        char summary[64];
        std::snprintf(summary, sizeof summary, "%d row%s in %.2f ms", rows, rows == 1 ? "" : "s", elapsed);
        const std::string answered = vp::printable(query_, 60) + ": " + summary;
        if (role_.empty()) return vitals::Result::pass(answered).observed(elapsed, "ms");

        result = execute(conn.get(), "SELECT pg_is_in_recovery()", deadline, error);
        if (!result) return error.empty() ? timeout("role query") : vitals::Result::fail("role query failed: " + error);
        if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1)
            return vitals::Result::fail("role query: pg_is_in_recovery() gave no row").observed(elapsed, "ms");
        const std::string role = std::string(PQgetvalue(result.get(), 0, 0)) == "t" ? "replica" : "primary";
        if (role != role_)
            return vitals::Result::fail("role is " + role + " (pg_is_in_recovery), expected " + role_).observed(elapsed, "ms");
        return vitals::Result::pass(answered + ", role " + role).observed(elapsed, "ms");
    }

    // Sends `sql` and reads its results until the deadline. Returns the last result, or the first that
    // failed; null with `error` set when the connection failed, null with `error` empty at the deadline.
    static PgResult execute(PGconn* conn, const std::string& sql, vitals::Deadline deadline, std::string& error) {
        error.clear();
        auto failed = [&]() {
            error = one_line(PQerrorMessage(conn));
            if (error.empty()) error = "connection lost";
            return nullptr;
        };
        if (!PQsendQuery(conn, sql.c_str())) return failed();
        for (int flushed; (flushed = PQflush(conn)) != 0;) {
            if (flushed < 0) return failed();
            // Waiting for the server to take our query, and reading what it sends meanwhile.
            const Wait w = wait_for(PQsocket(conn), POLLIN | POLLOUT, deadline);
            if (w == Wait::timed_out) return nullptr;
            if (w == Wait::failed || !PQconsumeInput(conn)) return failed();
        }
        PgResult last;
        for (;;) {
            while (PQisBusy(conn)) {
                const Wait w = wait_for(PQsocket(conn), POLLIN, deadline);
                if (w == Wait::timed_out) return nullptr;
                if (w == Wait::failed || !PQconsumeInput(conn)) return failed();
            }
            PgResult next(PQgetResult(conn));
            if (!next) break;  // the query is done
            const ExecStatusType status = PQresultStatus(next.get());
            if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR) {
                if (error.empty()) error = result_error(next.get());
            } else if (error.empty()) {
                last = std::move(next);
            }
        }
        if (!error.empty()) return nullptr;
        if (!last) error = "no result";
        return last;
    }

    std::string host_;
    int64_t port_;
    std::string dbname_;
    std::string user_;
    std::string password_;  // empty: none given (libpq may still use ~/.pgpass)
    std::string sslmode_;
    std::string query_;
    std::string role_;      // empty: not checked; else "primary" or "replica"
    std::string target_;    // "127.0.0.1:5432", or the socket directory
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec postgres_options[] = {
    vitals::option("host", VITALS_OPTION_STRING, "\"127.0.0.1\"",
                   "server host name or IP address, or a Unix socket directory (starting with /)"),
    vitals::option("port", VITALS_OPTION_INT, "5432", "TCP port (or the socket file's number), 1-65535"),
    vitals::option("dbname", VITALS_OPTION_STRING, "\"postgres\"", "database to connect to"),
    vitals::option("user", VITALS_OPTION_STRING, "\"postgres\"", "user to connect as"),
    vitals::option("password", VITALS_OPTION_STRING, nullptr,
                   "password (scram-sha-256, md5 or password authentication); empty or unset: none", VITALS_OPTION_SECRET),
    vitals::option("sslmode", VITALS_OPTION_STRING, "\"prefer\"",
                   "libpq sslmode: disable, allow, prefer, require, verify-ca or verify-full"),
    vitals::option("query", VITALS_OPTION_STRING, "\"SELECT 1\"", "query that must return at least one row"),
    vitals::option("role", VITALS_OPTION_STRING, nullptr,
                   "expected role: primary, or replica (pg_is_in_recovery() is true)"),
};

}  // namespace

VITALS_PLUGIN("vitals-postgres", "0.1.0",
              vitals::check_type<PostgresCheck>("postgres", "PostgreSQL connect and query (libpq), optional role check",
                                                "datastore", "responseTime", postgres_options))
