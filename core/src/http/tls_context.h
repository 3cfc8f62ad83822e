// The health port's TLS settings as OpenSSL objects (server.tls, README "HTTPS"): one immutable
// TlsContext per load of the certificate files, published through a TlsSlot. A reload or a changed
// file builds a new context and swaps the slot; connections already open keep the SSL_CTX they were
// made with (OpenSSL counts its references), so nothing open is dropped. A context that cannot be
// built leaves the slot as it was, and its error names the file.
#pragma once

#include "config/config.h"

#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

namespace vitals {

class TlsContext {
public:
    // Reads and checks the files of `tls` (certificate chain, key matching it, client CA), and makes
    // the server context: TLS 1.2 (unless min_version is 1.3) and 1.3 only, the server's cipher
    // order, ALPN http/1.1, stateless session tickets under keys that rotate (shared by every
    // context, so a reload does not invalidate tickets), client certificates as client_auth says.
    // Returns null with `error` set ("server.tls.cert: /path: ..."); key contents never reach it.
    static std::shared_ptr<const TlsContext> build(const Config::Server::Tls& tls, std::string& error);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    SSL_CTX* ctx() const { return ctx_; }
    // Whether a connection's client certificate may have failed verification yet still completed
    // the handshake (client_auth "admin": the connection serves /health, not admin endpoints).
    ClientAuth client_auth() const { return client_auth_; }
    // The leaf certificate's notAfter, unix seconds, and its serial number in hex (for logs).
    int64_t not_after() const { return not_after_; }
    const std::string& serial() const { return serial_; }

private:
    TlsContext() = default;
    SSL_CTX* ctx_ = nullptr;
    ClientAuth client_auth_ = ClientAuth::none;
    int64_t not_after_ = 0;
    std::string serial_;
};

// The context new connections use. Read on the event loops, written by reloads.
class TlsSlot {
public:
    std::shared_ptr<const TlsContext> load() const;
    void store(std::shared_ptr<const TlsContext> ctx);

private:
    std::shared_ptr<const TlsContext> ctx_;  // std::atomic_load / atomic_store only
};

// What identifies the contents of the files a TLS context was built from (device, inode, size,
// modification time of each), to notice a replaced certificate without being told.
struct TlsFileStamp {
    struct One {
        dev_t dev = 0;
        ino_t ino = 0;
        off_t size = -1;
        int64_t mtime_ns = 0;
        bool operator==(const One& o) const {
            return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
        }
    };
    std::vector<One> files;
    bool operator==(const TlsFileStamp& o) const { return files == o.files; }
    bool operator!=(const TlsFileStamp& o) const { return !(*this == o); }
};
TlsFileStamp stamp_tls_files(const Config::Server::Tls& tls);

// How many days before expiry `vitals validate` (and the daemon at start and reload) warns.
constexpr int kTlsExpiryWarnDays = 21;

// The warning for a certificate expiring within kTlsExpiryWarnDays of `now_s` (or already expired),
// else "".
std::string tls_expiry_warning(const Config::Server::Tls& tls, const TlsContext& ctx, int64_t now_s);

}  // namespace vitals
