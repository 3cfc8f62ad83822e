#include "plugins/worker_process.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace vitals {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxOutputBytes = 64 * 1024;

// Closes what it holds on scope exit.
struct Fd {
    int fd = -1;
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

int ms_until(MonoTime deadline) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return int(std::clamp<int64_t>(ms, 0, 1000));  // wake at least once a second (EINTR-safe loops)
}

}  // namespace

std::string self_executable() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string("/proc/self/exe");
}

std::string termination_signal(int wait_status) {
    if (!WIFSIGNALED(wait_status)) return "";
    int sig = WTERMSIG(wait_status);
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

WorkerOutcome run_worker_process(const std::string& exe, const std::string& request, MonoTime deadline) {
    WorkerOutcome out;
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) {
        out.spawn_error = std::string("pipe: ") + std::strerror(errno);
        return out;
    }
    Fd to_r{to_child[0]}, to_w{to_child[1]};
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
        out.spawn_error = std::string("pipe: ") + std::strerror(errno);
        return out;
    }
    Fd from_r{from_child[0]}, from_w{from_child[1]};

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_r.fd, 0);
    posix_spawn_file_actions_adddup2(&actions, from_w.fd, 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // nothing of the daemon's reaches the plugin
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group: killed as a whole
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    char arg0[] = "vitals";
    char arg1[] = "worker";
    char* argv[] = {arg0, arg1, nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, exe.c_str(), &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        out.spawn_error = std::strerror(rc);
        return out;
    }
    to_r.reset();
    from_w.reset();
    // Before anything can return: a pidfd tells when the child exits, with a deadline (a child
    // that closes stdout and then hangs must not hold the caller forever).
    Fd pidfd{int(::syscall(SYS_pidfd_open, pid, 0))};

    // The request is small (well under a pipe buffer): one write, no deadlock. A child that died
    // already makes it fail with EPIPE (SIGPIPE is ignored by the daemon and `vitals check`).
    (void)!::write(to_w.fd, request.data(), request.size());
    to_w.reset();

    char buf[4096];
    for (;;) {
        if (Clock::now() >= deadline) {
            out.timed_out = true;
            break;
        }
        pollfd p{from_r.fd, POLLIN, 0};
        int n = ::poll(&p, 1, ms_until(deadline));
        if (n <= 0) continue;  // timeout slice or EINTR: the deadline check above decides
        ssize_t got = ::read(from_r.fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // EOF: the child is done (or died)
        if (out.output.size() < kMaxOutputBytes) out.output.append(buf, size_t(got));
    }
    // EOF does not mean exited: wait for the exit, still within the deadline.
    while (!out.timed_out && pidfd.fd >= 0) {
        pollfd p{pidfd.fd, POLLIN, 0};
        if (::poll(&p, 1, ms_until(deadline)) > 0) break;
        if (Clock::now() >= deadline) out.timed_out = true;
    }
    // The leader is not reaped yet (a zombie at worst), so its group id cannot have been reused:
    // killing the group reaches only what the child left behind, or the child itself on timeout.
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!out.timed_out) out.wait_status = status;
    return out;
}

}  // namespace vitals
