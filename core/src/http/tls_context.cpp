#include "http/tls_context.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <sys/stat.h>

namespace vitals {

namespace {

// The reason of OpenSSL's most recent error ("no start line", "key values mismatch"), and the queue
// cleared: the next operation starts clean.
std::string ssl_error() {
    unsigned long last = 0;
    for (unsigned long e; (e = ERR_get_error()) != 0;) last = e;
    if (last == 0) return "unknown OpenSSL error";
    const char* reason = ERR_reason_error_string(last);
    return reason ? reason : "OpenSSL error " + std::to_string(last);
}

// Whether `path` can be opened for reading; `why` says why not (errno's text).
bool readable_file(const std::string& path, std::string& why) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        why = std::strerror(errno);
        return false;
    }
    std::fclose(f);
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        why = "not a regular file";
        return false;
    }
    return true;
}

// A passphrase prompt would block the daemon on its terminal: an encrypted key is an error instead.
int no_passphrase(char*, int, int, void*) { return 0; }

// Session ticket keys, shared by every context so that a certificate reload does not invalidate the
// tickets clients hold. A new key every kRotateEvery; the previous one still decrypts, so a ticket
// lives at most two periods (every resumption hands out a new one, under the current key).
class TicketKeys {
public:
    static constexpr std::chrono::seconds kRotateEvery{3600};

    struct Key {
        unsigned char name[16];
        unsigned char aes[32];
        unsigned char hmac[32];
    };

    static TicketKeys& instance() {
        static TicketKeys keys;
        return keys;
    }

    // The key to encrypt with, rotated when due.
    bool current(Key& out) {
        std::lock_guard<std::mutex> lock(mu_);
        auto now = std::chrono::steady_clock::now();
        if (!have_current_ || now - made_ >= kRotateEvery) {
            Key next;
            if (RAND_bytes(reinterpret_cast<unsigned char*>(&next), sizeof next) != 1) return false;
            previous_ = current_;
            have_previous_ = have_current_;
            current_ = next;
            have_current_ = true;
            made_ = now;
        }
        out = current_;
        return true;
    }

    // The key named `name`: 1 the current one, 2 the previous one, 0 none.
    int find(const unsigned char* name, Key& out) {
        std::lock_guard<std::mutex> lock(mu_);
        if (have_current_ && std::memcmp(name, current_.name, 16) == 0) {
            out = current_;
            return 1;
        }
        if (have_previous_ && std::memcmp(name, previous_.name, 16) == 0) {
            out = previous_;
            return 2;
        }
        return 0;
    }

private:
    std::mutex mu_;
    Key current_{}, previous_{};
    bool have_current_ = false, have_previous_ = false;
    std::chrono::steady_clock::time_point made_;
};

bool set_hmac_key(EVP_MAC_CTX* hctx, unsigned char* key) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb): 1 encrypted, 2 decrypted
// (and renew), 0 unknown key (full handshake), -1 error.
int ticket_key_cb(SSL*, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx, int enc) {
    TicketKeys::Key key;
    if (enc) {
        if (!TicketKeys::instance().current(key)) return -1;
        if (RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1) return -1;
        std::memcpy(name, key.name, 16);
        if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) return -1;
        return set_hmac_key(hctx, key.hmac) ? 1 : -1;
    }
    if (TicketKeys::instance().find(name, key) == 0) return 0;
    if (!set_hmac_key(hctx, key.hmac)) return -1;
    if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) return -1;
    // Always "renew": a resumed handshake issues a fresh ticket. TLS 1.3 clients use a ticket once
    // (RFC 8446 C.4); without a new one, every other connection of a client that reconnects in a
    // loop (a prober, wrk) would be a full handshake.
    return 2;
}

// ALPN: http/1.1 when the client offers it; a client offering only other protocols gets no ALPN
// answer (and may carry on with HTTP/1.1, as probers that send "h2,http/1.1" lists do anyway).
int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    static const unsigned char kHttp11[] = "\x08http/1.1";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

// client_auth "admin": a certificate that does not verify still completes the handshake (the
// connection is then not verified, SSL_get_verify_result says why), so /health answers it.
int accept_any_client_cert(int, X509_STORE_CTX*) { return 1; }

// TLS 1.2's ciphers, the fastest first (Mozilla's "intermediate" list); TLS 1.3's suites likewise
// (OpenSSL's default puts AES-256 first).
constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// An ASN.1 time as unix seconds (0 when it cannot be read).
int64_t unix_seconds(const ASN1_TIME* t) {
    tm parts{};
    if (!t || ASN1_TIME_to_tm(t, &parts) != 1) return 0;
    return int64_t(timegm(&parts));
}

}  // namespace

std::shared_ptr<const TlsContext> TlsContext::build(const Config::Server::Tls& tls, std::string& error) {
    ERR_clear_error();
    std::string why;
    for (auto [field, path] : {std::pair<const char*, const std::string*>{"cert", &tls.cert},
                               {"key", &tls.key},
                               {"client_ca", &tls.client_ca}}) {
        if (path->empty()) continue;
        if (!readable_file(*path, why)) {
            error = std::string("server.tls.") + field + ": " + *path + ": cannot read: " + why;
            return nullptr;
        }
    }
    std::shared_ptr<TlsContext> out(new TlsContext());
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        error = "server.tls: cannot make a TLS context: " + ssl_error();
        return nullptr;
    }
    out->ctx_ = ctx;
    out->client_auth_ = tls.client_auth;
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    SSL_CTX_set_min_proto_version(ctx, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Partial writes: a send that fills the socket buffer reports what went, like send(2). Buffers
    // released while a connection is idle: an idle keep-alive connection costs a few hundred bytes
    // of TLS state, not two 16 KiB records.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    // Read ahead: a record's header and body (and whatever follows) in one read, not two.
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
    SSL_CTX_set_ciphersuites(ctx, kTls13Suites);
    // Resumption by stateless tickets only: no per-session cache growing with the clients.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_timeout(ctx, long(TicketKeys::kRotateEvery.count()));
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
    static const unsigned char kSessionContext[] = "vitals";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, nullptr);

    if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert.c_str()) != 1) {
        error = "server.tls.cert: " + tls.cert + ": not a PEM certificate: " + ssl_error();
        return nullptr;
    }
    {
        BIO* bio = BIO_new_file(tls.key.c_str(), "r");
        EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr) : nullptr;
        if (bio) BIO_free(bio);
        if (!key) {
            error = "server.tls.key: " + tls.key + ": not an unencrypted PEM private key: " + ssl_error();
            return nullptr;
        }
        int used = SSL_CTX_use_PrivateKey(ctx, key);
        EVP_PKEY_free(key);
        if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
            ssl_error();
            error = "server.tls.key: " + tls.key + ": does not match the certificate in " + tls.cert;
            return nullptr;
        }
    }
    if (tls.client_auth != ClientAuth::none) {
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca.c_str());
        if (!names || SSL_CTX_load_verify_locations(ctx, tls.client_ca.c_str(), nullptr) != 1) {
            if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
            error = "server.tls.client_ca: " + tls.client_ca + ": not PEM CA certificates: " + ssl_error();
            return nullptr;
        }
        SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
        if (tls.client_auth == ClientAuth::all)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        else
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_client_cert);
    }
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    out->not_after_ = unix_seconds(X509_get0_notAfter(leaf));
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr)) {
        if (char* hex = BN_bn2hex(bn)) {
            out->serial_ = hex;
            OPENSSL_free(hex);
        }
        BN_free(bn);
    }
    ERR_clear_error();
    return out;
}

TlsContext::~TlsContext() {
    if (ctx_) SSL_CTX_free(ctx_);  // connections still open hold their own references
}

std::shared_ptr<const TlsContext> TlsSlot::load() const { return std::atomic_load(&ctx_); }

void TlsSlot::store(std::shared_ptr<const TlsContext> ctx) { std::atomic_store(&ctx_, std::move(ctx)); }

TlsFileStamp stamp_tls_files(const Config::Server::Tls& tls) {
    TlsFileStamp stamp;
    for (const std::string* path : {&tls.cert, &tls.key, &tls.client_ca}) {
        TlsFileStamp::One one;
        struct stat st{};
        if (!path->empty() && ::stat(path->c_str(), &st) == 0) {
            one.dev = st.st_dev;
            one.ino = st.st_ino;
            one.size = st.st_size;
            one.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
        }
        stamp.files.push_back(one);
    }
    return stamp;
}

std::string tls_expiry_warning(const Config::Server::Tls& tls, const TlsContext& ctx, int64_t now_s) {
    int64_t left = ctx.not_after() - now_s;
    if (left >= int64_t(kTlsExpiryWarnDays) * 86400) return "";
    time_t when = time_t(ctx.not_after());
    tm parts{};
    gmtime_r(&when, &parts);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &parts);
    if (left <= 0) return "server.tls.cert: " + tls.cert + ": expired on " + date;
    return "server.tls.cert: " + tls.cert + ": expires in " + std::to_string(left / 86400) + " days (" + date +
           "), within " + std::to_string(kTlsExpiryWarnDays);
}

}  // namespace vitals
