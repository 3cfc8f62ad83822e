// grpc: one grpc.health.v1.Health/Check call (https://github.com/grpc/grpc/blob/master/doc/health-checking.md),
// plaintext or TLS, bounded by the host's deadline: SERVING passes; NOT_SERVING, UNKNOWN and
// SERVICE_UNKNOWN fail naming the status; an RPC error fails with its gRPC code name and message
// ("UNAVAILABLE: failed to connect to all addresses; ...").
//
// gRPC is Debian's libgrpc++; the messages and the stub are generated from health.proto at build time.
//
// Lifetimes:
//   - gRPC is initialised once per process, on the first instance, and never shut down: its
//     background threads (timer manager, event engine, resolver) stay for the life of the process,
//     and the library is linked -z nodelete (CMakeLists.txt), so dlclose() never unmaps code those
//     threads run. grpc_shutdown() from a plugin would also race any other user of libgrpc.
//   - Each run makes its own channel (with a subchannel pool of its own) and drops it: a health
//     check must see a server that stopped or came back now, not a channel's cached connection
//     or its reconnect backoff (up to 2 minutes).
//   - The credentials are made once per instance, so that a bad ca_file is a configuration error.
#include <vitals/plugin.hpp>
#include <vitals_plugins/deadline.hpp>
#include <vitals_plugins/text.hpp>

#include "health.grpc.pb.h"

#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>

#include <openssl/x509.h>

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

using namespace vitals_plugins;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr const char* kUserAgent = "vitals-grpc/0.1.0";

// True on a thread while it is inside run(): the host (and its log) is certainly alive then.
bool& in_run() {
    static thread_local bool flag = false;  // trivially destructible: pins nothing at thread exit
    return flag;
}

// gRPC's own log lines (errors only; the RPC status repeats what matters) go to the host's log at
// debug level instead of the daemon's stderr — those logged by a run's own thread. The others come
// from gRPC's background threads at any time, also while the host is being torn down (`vitals check`
// exiting), and are dropped.
void forward_grpc_log(gpr_log_func_args* args) {
    if (!args || !args->message || !in_run()) return;
    vitals::log(vitals::LogLevel::debug, std::string("libgrpc: ") + printable(args->message, 300));
}

void initialize_grpc() {
    static std::once_flag once;
    std::call_once(once, [] {
        gpr_set_log_function(&forward_grpc_log);
        gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
        grpc_init();  // never undone: see the header comment
    });
}

std::string code_name(grpc::StatusCode code) {
    switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "code " + std::to_string(static_cast<int>(code));
    }
}

std::string status_name(int status) {
    switch (status) {
    case HealthCheckResponse::UNKNOWN: return "UNKNOWN";
    case HealthCheckResponse::SERVING: return "SERVING";
    case HealthCheckResponse::NOT_SERVING: return "NOT_SERVING";
    case HealthCheckResponse::SERVICE_UNKNOWN: return "SERVICE_UNKNOWN";
    default: return "status " + std::to_string(status);
    }
}

// "host:port", "[v6]:port", or a gRPC URI ("dns:///host:port", "ipv4:127.0.0.1:50051", "unix:/path").
void check_target(const std::string& target) {
    if (target.empty()) throw std::runtime_error("target must not be empty (host:port)");
    for (char ch : target) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f) throw std::runtime_error("target '" + printable(target) + "' contains a space or control character");
    }
    if (target.find(':') == std::string::npos)
        throw std::runtime_error("target '" + printable(target) + "' has no port (expected host:port)");
}

// gRPC metadata: lower-case keys of [0-9a-z-_.] not reserved by gRPC, printable ASCII values
// ("-bin" keys, whose values are binary, are not supported).
std::map<std::string, std::string> check_metadata(std::map<std::string, std::string> metadata) {
    std::map<std::string, std::string> out;
    for (auto& kv : metadata) {
        std::string key = kv.first;
        for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (key.empty()) throw std::runtime_error("metadata: empty key");
        for (char ch : key)
            if (!(std::isdigit(static_cast<unsigned char>(ch)) || (ch >= 'a' && ch <= 'z') || ch == '-' || ch == '_' || ch == '.'))
                throw std::runtime_error("metadata: invalid key '" + printable(kv.first) + "' (letters, digits, '-', '_', '.')");
        if (key.rfind("grpc-", 0) == 0) throw std::runtime_error("metadata: key '" + key + "' is reserved by gRPC");
        if (key.size() > 4 && key.compare(key.size() - 4, 4, "-bin") == 0)
            throw std::runtime_error("metadata: binary key '" + key + "' is not supported");
        if (key == "te" || key == "content-type" || key == "user-agent")
            throw std::runtime_error("metadata: '" + key + "' is set by the check itself");
        for (char ch : kv.second) {
            const auto c = static_cast<unsigned char>(ch);
            if (c < 0x20 || c >= 0x7f)  // never quote the value: it may be a secret
                throw std::runtime_error("metadata: value of '" + key + "' must be printable ASCII");
        }
        if (!out.emplace(key, kv.second).second) throw std::runtime_error("metadata: key '" + key + "' given twice");
    }
    return out;
}

// The whole of a PEM file, for gRPC's credentials (which take the text, not a path).
std::string read_pem(const std::string& path, const char* what) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(std::string(what) + " '" + path + "': " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(std::string(what) + " '" + path + "' is not a regular file");
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) throw std::runtime_error(std::string(what) + " '" + path + "': cannot be read");
    if (text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        throw std::runtime_error(std::string(what) + " '" + path + "' holds no PEM certificate");
    return text.str();
}

// Observed value: milliseconds from the start of the run to the answer (RPC errors included).
class GrpcCheck : public vitals::Check {
public:
    explicit GrpcCheck(const vitals::Options& o)
        : target_(o.string("target")), service_(o.string("service")), tls_(o.boolean("tls")),
          authority_(o.string_or("authority", "")), metadata_(check_metadata(o.string_map("metadata"))) {
        check_target(target_);
        if (!authority_.empty()) {
            for (char ch : authority_) {
                const auto c = static_cast<unsigned char>(ch);
                if (c <= 0x20 || c >= 0x7f || c == '/' || c == '@')
                    throw std::runtime_error("authority '" + printable(authority_) + "' is not a host[:port]");
            }
        }
        const bool verify = o.boolean("tls_verify");
        const std::string ca_file = o.string_or("ca_file", "");
        if (!tls_ && (o.has("ca_file") || !verify))
            throw std::runtime_error("ca_file and tls_verify apply to TLS only: set \"tls\": true");
        initialize_grpc();
        if (!tls_) {
            credentials_ = grpc::InsecureChannelCredentials();
        } else if (verify) {
            grpc::SslCredentialsOptions ssl;
            // The system's CAs as OpenSSL finds them (not gRPC's own bundle, when there is one).
            ssl.pem_root_certs = ca_file.empty() ? read_pem(system_ca_file(), "the system CA file") : read_pem(ca_file, "ca_file");
            credentials_ = grpc::SslCredentials(ssl);
        } else {
            grpc::experimental::TlsChannelCredentialsOptions options;
            options.set_verify_server_certs(false);
            options.set_check_call_host(false);
            options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
            credentials_ = grpc::experimental::TlsCredentials(options);
        }
        if (!credentials_) throw std::runtime_error("cannot create the gRPC channel credentials");
    }

    vitals::Result run(vitals::Deadline deadline) override {
        struct InRun {
            InRun() { in_run() = true; }
            ~InRun() { in_run() = false; }
        } scope;
        const auto start = Clock::now();
        const auto give_up = give_up_at(deadline, start);

        grpc::ChannelArguments args;
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of this run's own
        args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
        args.SetString(GRPC_ARG_PRIMARY_USER_AGENT_STRING, kUserAgent);
        if (!authority_.empty()) {
            args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority_);
            if (tls_) args.SetSslTargetNameOverride(authority_.substr(0, authority_.rfind(':') == std::string::npos
                                                                            ? std::string::npos
                                                                            : authority_.rfind(':')));
        }
        std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(target_, credentials_, args);
        std::unique_ptr<grpc::health::v1::Health::Stub> stub = grpc::health::v1::Health::NewStub(channel);

        grpc::ClientContext context;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now()).count();
        context.set_deadline(gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(left > 0 ? left : 0, GPR_TIMESPAN)));
        for (const auto& kv : metadata_) context.AddMetadata(kv.first, kv.second);
        HealthCheckRequest request;
        request.set_service(service_);
        HealthCheckResponse response;
        grpc::Status status = stub->Check(&context, request, &response);
        const double latency = std::round(std::chrono::duration<double, std::milli>(Clock::now() - start).count() * 100.0) / 100.0;
        auto observed = [latency](vitals::Result r) { return r.observed(latency, "ms"); };

        if (!status.ok()) {
            std::string text = code_name(status.error_code()) + ": " + printable(status.error_message(), 300);
            if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
                text += " (" + timed_out_after(whole_ms(start, Clock::now())) + ")";
            return observed(vitals::Result::fail(text));
        }
        const std::string which = service_.empty() ? "server" : "service '" + printable(service_) + "'";
        char ms[48];
        std::snprintf(ms, sizeof ms, "%.2f ms", latency);
        if (response.status() == HealthCheckResponse::SERVING)
            return observed(vitals::Result::pass(which + " SERVING in " + ms));
        return observed(vitals::Result::fail(which + " " + status_name(response.status())));
    }

private:
    static std::string system_ca_file() {
        const char* env = std::getenv(X509_get_default_cert_file_env());  // SSL_CERT_FILE, as OpenSSL reads it
        return env && *env ? env : X509_get_default_cert_file();
    }

    std::string target_;
    std::string service_;
    bool tls_;
    std::string authority_;
    std::map<std::string, std::string> metadata_;  // values may be secrets: never in messages
    std::shared_ptr<grpc::ChannelCredentials> credentials_;
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec grpc_options[] = {
    vitals::option("target", VITALS_OPTION_STRING, nullptr, "host:port of the gRPC server (or a gRPC target URI such as dns:///host:port)",
                   VITALS_OPTION_REQUIRED),
    vitals::option("service", VITALS_OPTION_STRING, "\"\"", "service name to ask about; empty: the whole server"),
    vitals::option("tls", VITALS_OPTION_BOOL, "false", "connect with TLS (default: plaintext)"),
    vitals::option("tls_verify", VITALS_OPTION_BOOL, "true", "verify the server certificate chain and host name (TLS only)"),
    vitals::option("ca_file", VITALS_OPTION_STRING, nullptr, "PEM file of trusted CAs, used instead of the system's (TLS only)"),
    vitals::option("authority", VITALS_OPTION_STRING, nullptr,
                   "the :authority sent, and with TLS the name the certificate must be valid for (default: from target)"),
    vitals::option("metadata", VITALS_OPTION_STRING_MAP, nullptr,
                   "metadata sent with the call, e.g. authorization (values may hold tokens: kept secret)", VITALS_OPTION_SECRET),
};

}  // namespace

VITALS_PLUGIN("vitals-grpc", "0.1.0",
              vitals::check_type<GrpcCheck>("grpc", "gRPC health (grpc.health.v1.Health/Check): SERVING passes, anything else fails",
                                            "component", "responseTime", grpc_options))
