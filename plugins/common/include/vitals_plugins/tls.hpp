// TLS set-up shared by the built-in plugins that speak TLS through Poco NetSSL over OpenSSL (http,
// websocket, redis): one Poco NetSSL Context per check instance, and certificate verification by
// OpenSSL itself with our own verify callback.
//
// Never Poco's SSLManager: its global default contexts and certificate handlers are shared by every
// plugin in the process and may prompt on the console; Poco's own verification callback reaches for
// it, and so needs a Poco::Util::Application configuration.
#ifndef VITALS_PLUGINS_TLS_HPP
#define VITALS_PLUGINS_TLS_HPP

#include "vitals_plugins/never_freed.hpp"
#include "vitals_plugins/resolve.hpp"
#include "vitals_plugins/text.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/Utility.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

namespace vitals_plugins {

// Once per plugin library, and deliberately never undone: Poco's uninitializeSSL() goes through
// its SSLManager singleton (creating it), whose lock is gone once static destructors have run —
// and an instance can be destroyed that late (seen: `vitals check` exiting while a worker thread
// still releases its instance: "terminate ... Poco::SystemException"). OpenSSL 1.1+ frees its
// own state at exit.
inline void initialize_ssl() {
    static std::once_flag ssl_initialized;
    std::call_once(ssl_initialized, [] { with_allocations_never_freed([] { Poco::Net::initializeSSL(); }); });
}

// The trusted certificates of one source (the system's, or a ca_file / directory), loaded once and
// shared by every context made from it: loading the system bundle costs ~0.9 MB and ~100 ms, and
// each check instance used to load its own (issue 7). The file behind a source is watched by inode,
// size and mtime: once it changed (a ca_file replaced, update-ca-certificates), the next context
// gets a freshly loaded store, and the old one lives on only in the contexts already holding it.
// Returns a new reference, for SSL_CTX_set_cert_store() to take over. Throws what Poco's Context
// threw for the same failure (SSLContextException, OpenSSL's reason).
inline X509_STORE* shared_cert_store(const std::string& ca_location, bool load_defaults) {
    struct stat st{};
    if (!ca_location.empty()) {
        ::stat(ca_location.c_str(), &st);
    } else if (load_defaults) {
        const char* env = std::getenv(X509_get_default_cert_file_env());  // SSL_CERT_FILE, as OpenSSL reads it
        ::stat(env && *env ? env : X509_get_default_cert_file(), &st);
    }
    using Identity = std::tuple<ino_t, off_t, time_t, long>;
    const Identity identity{st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
    struct Loaded {
        Identity identity;
        X509_STORE* store = nullptr;
    };
    static std::mutex mu;
    // Never destroyed: contexts may outlive statics.
    static auto* stores = never_freed(new std::map<std::pair<std::string, bool>, Loaded>);
    std::lock_guard<std::mutex> lock(mu);
    Loaded& loaded = (*stores)[{ca_location, load_defaults}];
    if (loaded.store && loaded.identity == identity) {
        X509_STORE_up_ref(loaded.store);
        return loaded.store;
    }

    X509_STORE* store = X509_STORE_new();
    if (!store) throw Poco::Net::SSLContextException("cannot create a certificate store", Poco::Net::Utility::getLastError());
    if (!ca_location.empty()) {
        bool dir = S_ISDIR(st.st_mode);
        if (X509_STORE_load_locations(store, dir ? nullptr : ca_location.c_str(), dir ? ca_location.c_str() : nullptr) != 1) {
            X509_STORE_free(store);
            throw Poco::Net::SSLContextException("Cannot load CA file/directory at " + ca_location,
                                                 Poco::Net::Utility::getLastError());
        }
    }
    if (load_defaults && X509_STORE_set_default_paths(store) != 1) {
        X509_STORE_free(store);
        throw Poco::Net::SSLContextException("Cannot load default CA certificates", Poco::Net::Utility::getLastError());
    }
    if (loaded.store) X509_STORE_free(loaded.store);  // our reference only: contexts hold their own
    loaded = {identity, store};
    X509_STORE_up_ref(store);
    return store;
}

// A client Context for one check instance: TLS 1.2 or later, and Poco's own post-handshake host
// check off (it skips "localhost" and may resolve names through DNS): OpenSSL verifies the host name
// instead (expect_peer_name, on the context's own verify parameters, not the shared store's). The
// trusted certificates (params.caLocation, params.loadDefaultCAs) come from shared_cert_store().
// Throws what Poco's Context throws (e.g. for an unreadable CA file).
inline Poco::Net::Context::Ptr client_context(Poco::Net::Context::Params params) {
    initialize_ssl();
    const std::string ca_location = params.caLocation;
    const bool load_defaults = params.loadDefaultCAs;
    params.caLocation.clear();
    params.loadDefaultCAs = false;
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    SSL_CTX_set_cert_store(context->sslContext(), shared_cert_store(ca_location, load_defaults));
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    context->enableExtendedCertificateVerification(false);
    return context;
}

// Has OpenSSL verify that the peer certificate is valid for `host`: an IP literal against the
// certificate's IP addresses, a name against its DNS names (X509_VERIFY_PARAM of the context, so set
// it before each handshake if the host changes). Returns false if OpenSSL refuses the host.
inline bool expect_peer_name(SSL_CTX* context, const std::string& host) {
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(context);
    if (is_ip_literal(host)) {
        X509_VERIFY_PARAM_set1_host(param, nullptr, 0);
        return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
    }
    X509_VERIFY_PARAM_set1_ip(param, nullptr, 0);
    return X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
}

// ---- Certificate verification ------------------------------------------------------------------

// What the certificate verification callback saw during one handshake.
struct VerifyRecord {
    bool verifying = false;  // tls_verify: report failures (else they are ignored)
    int error = 0;           // first X509_V_ERR_* seen, 0 if none
    int depth = -1;
    std::string subject;     // of the certificate with the error
    time_t not_after = 0;    // of the certificate with the error
    // The chain's earliest expiry (every certificate the verifier looked at).
    bool have_expiry = false;
    time_t earliest_not_after = 0;
    std::string earliest_subject;
    int earliest_depth = -1;
};

// The handshake runs on the calling thread; the callback finds this thread's record here. A plain
// pointer (trivially destructible), so that no thread-exit destructor pins the plugin in memory.
inline VerifyRecord*& current_verify_record() {
    static thread_local VerifyRecord* record = nullptr;
    return record;
}

// Points the verify callback at `record` for the life of this object (one handshake, or one run).
class VerifyScope {
public:
    explicit VerifyScope(VerifyRecord* record) { current_verify_record() = record; }
    ~VerifyScope() { current_verify_record() = nullptr; }
    VerifyScope(const VerifyScope&) = delete;
    VerifyScope& operator=(const VerifyScope&) = delete;
};

// A certificate's subject or issuer name as RFC 2253 text ("CN=localhost,O=Example"), for messages.
inline std::string name_text(const X509_NAME* name) {
    if (!name) return "?";
    std::string out;
    if (BIO* bio = BIO_new(BIO_s_mem())) {
        X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
        char* data = nullptr;
        long n = BIO_get_mem_data(bio, &data);
        if (n > 0 && data) out.assign(data, static_cast<size_t>(n));
        BIO_free(bio);
    }
    return out.empty() ? "(empty name)" : printable(out, 120);
}

inline std::string subject_of(X509* cert) { return cert ? name_text(X509_get_subject_name(cert)) : "?"; }
inline std::string issuer_of(X509* cert) { return cert ? name_text(X509_get_issuer_name(cert)) : "?"; }

inline bool not_after_of(const X509* cert, time_t& out) {
    const ASN1_TIME* t = cert ? X509_get0_notAfter(cert) : nullptr;
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return false;
    out = ::timegm(&tm);
    return true;
}

// OpenSSL's verification callback, installed on our SSL_CTX in place of Poco's (which would consult
// Poco's global SSLManager and, without an application configuration, may prompt on the console). A
// plain C callback: nothing may throw through OpenSSL.
inline int verify_callback(int ok, X509_STORE_CTX* store) {
    VerifyRecord* record = current_verify_record();
    if (!record) return ok;
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    int depth = X509_STORE_CTX_get_error_depth(store);
    time_t not_after = 0;
    if (cert && not_after_of(cert, not_after) && (!record->have_expiry || not_after < record->earliest_not_after)) {
        record->have_expiry = true;
        record->earliest_not_after = not_after;
        record->earliest_subject = subject_of(cert);
        record->earliest_depth = depth;
    }
    if (!ok && record->error == 0) {
        record->error = X509_STORE_CTX_get_error(store);
        record->depth = depth;
        record->subject = subject_of(cert);
        record->not_after = not_after;
    }
    // Without tls_verify OpenSSL ignores the result anyway; returning 1 lets it walk the whole chain.
    return record->verifying ? ok : 1;
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_TLS_HPP
