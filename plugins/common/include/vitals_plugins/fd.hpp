// A file descriptor that closes itself, shared by the built-in plugins (plugins/common) and the
// daemon's worker runner.
#ifndef VITALS_PLUGINS_FD_HPP
#define VITALS_PLUGINS_FD_HPP

#include <unistd.h>

#include <utility>

namespace vitals_plugins {

// Owns a descriptor: closes it on destruction (or reset()) unless released.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    // Closes what it holds and takes `fd` instead.
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    // Gives the descriptor up (e.g. to Poco, which closes it from then on).
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
};

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_FD_HPP
