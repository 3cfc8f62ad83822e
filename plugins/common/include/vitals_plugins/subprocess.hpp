// Runs one child process within a deadline: the one subprocess runner, used by the exec plugin (a
// configured program) and by the daemon (`vitals worker` children: process-isolated runs, first loads
// of plugin files). Header-only and libc-only, like the rest of plugins/common: the exec plugin and
// the daemon each compile their own copy.
//
// The caller may be multi-threaded, so the child is started with posix_spawn() (no code of ours runs
// between fork and exec; glibc's clone(CLONE_VM|CLONE_VFORK) never copies the caller's memory). It
// gets:
//   - its own process group (POSIX_SPAWN_SETPGROUP), so that the whole tree it starts can be killed
//     with one kill(-pgid, SIGKILL);
//   - stdin from a pipe we write `input` into (then close), or /dev/null; stdout into a pipe we read;
//     stderr to /dev/null;
//   - no other descriptor of the caller's (posix_spawn_file_actions_addclosefrom_np(3): other
//     plugins' sockets are not always close-on-exec; our pipes are);
//   - an empty signal mask and default signal dispositions (the daemon blocks SIGTERM/SIGINT/SIGHUP
//     and ignores SIGPIPE; both would otherwise be inherited across exec);
//   - exactly the environment given.
//
// Waiting is a poll() on the pipes and on a pidfd of the child (pidfd_open, Linux 5.3; without it,
// the child is polled for having exited every 10 ms with waitid(WNOWAIT)), every wait bounded by the
// deadline. The run ends when the child exits, not at EOF: a child that closes stdout and then hangs
// is killed at the deadline, and a grandchild that keeps stdout open cannot hold us after the child
// is gone. Then whatever is left of the process group is killed BEFORE the child is reaped — while
// the unreaped child exists, its process group ID cannot name anyone else — and what is left in the
// pipe is read. A child killed at the deadline is waited for until `reap_by`; one that does not die
// by then (uninterruptible sleep) is reaped by a later run: no zombie of ours is left behind.
#ifndef VITALS_PLUGINS_SUBPROCESS_HPP
#define VITALS_PLUGINS_SUBPROCESS_HPP

#include "vitals_plugins/deadline.hpp"
#include "vitals_plugins/fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "vitals_plugins/never_freed.hpp"

namespace vitals_plugins {

struct Subprocess {
    std::string program;            // executed as is: no PATH search, no shell
    std::vector<std::string> argv;  // argv[0] included
    std::vector<std::string> env;   // "KEY=value": the child's whole environment
    bool has_input = false;         // false: stdin is /dev/null
    std::string input;              // written to stdin, which is then closed
    size_t max_output = 64 * 1024;  // stdout kept; the rest is read and discarded
};

struct SubprocessOutcome {
    enum class End {
        exited,        // it exited (wait_status says how)
        timed_out,     // the deadline came first: its group was killed
        spawn_failed,  // no child was started: `step` and `error` say why
        wait_failed,   // poll() failed: its group was killed (`error`)
        status_lost,   // it exited but someone else reaped it (SIGCHLD ignored, waitpid(-1)): `error`
    };
    End end = End::spawn_failed;
    std::string step;  // spawn_failed: "pipe", "set up" or "run"
    int error = 0;     // errno value
    std::string output;
    int wait_status = 0;  // End::exited: from waitpid()
};

namespace subprocess_detail {

constexpr std::chrono::milliseconds kExitPollInterval{10};  // without a pidfd
constexpr size_t kChunk = 4096;
// Reads per wake-up: the pipe's default capacity (64 KiB), so that a child writing without pause
// (`yes`) cannot keep us from the deadline.
constexpr int kDrainChunks = 16;
// After the child is gone: enough for the largest pipe an unprivileged child can ask for (1 MiB).
constexpr int kFinalDrainChunks = 256;

// Children killed at the deadline that had not died by the time the run had to return (a process in
// uninterruptible sleep ignores SIGKILL until it wakes). Every run reaps those that have exited
// since. Deliberately never destroyed (the daemon _Exit()s; a destructor here would race running
// checks).
class Stragglers {
public:
    static Stragglers& get() {
        static Stragglers* list = vitals_plugins::never_freed(new Stragglers);
        return *list;
    }
    void add(pid_t pid) {
        std::lock_guard<std::mutex> lock(mutex_);
        pids_.push_back(pid);
    }
    void reap() {
        std::lock_guard<std::mutex> lock(mutex_);
        pids_.erase(std::remove_if(pids_.begin(), pids_.end(),
                                   [](pid_t pid) {
                                       int status = 0;
                                       pid_t r = ::waitpid(pid, &status, WNOHANG);
                                       return r == pid || (r < 0 && errno == ECHILD);
                                   }),
                    pids_.end());
    }

private:
    std::mutex mutex_;
    std::vector<pid_t> pids_;
};

// posix_spawn attributes and file actions, destroyed on every path.
struct SpawnSetup {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    bool attr_ok = false;
    bool actions_ok = false;
    SpawnSetup() {
        attr_ok = ::posix_spawnattr_init(&attr) == 0;
        actions_ok = ::posix_spawn_file_actions_init(&actions) == 0;
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
    ~SpawnSetup() {
        if (attr_ok) ::posix_spawnattr_destroy(&attr);
        if (actions_ok) ::posix_spawn_file_actions_destroy(&actions);
    }
    // Returns 0 or an errno value. `stdin_fd` < 0: /dev/null.
    int prepare(int stdin_fd, int stdout_fd) {
        if (!attr_ok || !actions_ok) return ENOMEM;
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        int rc = 0;
        if ((rc = ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                        POSIX_SPAWN_SETSIGDEF)) != 0)
            return rc;
        if ((rc = ::posix_spawnattr_setpgroup(&attr, 0)) != 0) return rc;  // 0: a new group, ID = child's PID
        if ((rc = ::posix_spawnattr_setsigmask(&attr, &none)) != 0) return rc;
        if ((rc = ::posix_spawnattr_setsigdefault(&attr, &all)) != 0) return rc;
        rc = stdin_fd >= 0 ? ::posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0)
                           : ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        if (rc != 0) return rc;
        if ((rc = ::posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1)) != 0) return rc;
        if ((rc = ::posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)) != 0) return rc;
        if ((rc = ::posix_spawn_file_actions_addclosefrom_np(&actions, 3)) != 0) return rc;
        return 0;
    }
};

inline int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

// True once `pid` has exited (it is left unreaped: WNOWAIT).
inline bool has_exited(pid_t pid) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
    return info.si_pid == pid;
}

inline bool set_nonblocking(int fd) { return ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0; }

}  // namespace subprocess_detail

// Starts `p`, feeds it its input, collects its stdout and waits for it to exit, everything bounded by
// `deadline`; kills its group and reaps it (see the top of this file). A child killed at the deadline
// is waited for until `reap_by` (at least `deadline`). Never throws but std::bad_alloc.
inline SubprocessOutcome run_subprocess(const Subprocess& p, Clock::time_point deadline, Clock::time_point reap_by) {
    namespace d = subprocess_detail;
    d::Stragglers::get().reap();
    SubprocessOutcome out;
    auto failed = [&](const char* step, int err) {
        out.end = SubprocessOutcome::End::spawn_failed;
        out.step = step;
        out.error = err;
        return out;
    };

    // Pipes are close-on-exec at both ends: only the child's dup2'd ends survive its exec, and a
    // program spawned by another thread at the same moment never inherits them.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return failed("pipe", errno);
    Fd read_end(fds[0]), write_end(fds[1]);
    Fd stdin_read, stdin_write;
    if (p.has_input) {
        if (::pipe2(fds, O_CLOEXEC) != 0) return failed("pipe", errno);
        stdin_read.reset(fds[0]);
        stdin_write.reset(fds[1]);
        d::set_nonblocking(stdin_write.get());
    }
    d::set_nonblocking(read_end.get());

    d::SpawnSetup setup;
    if (int rc = setup.prepare(stdin_read.get(), write_end.get()); rc != 0) return failed("set up", rc);
    std::vector<std::string> argv_copy = p.argv, env_copy = p.env;
    std::vector<char*> argv, envp;
    for (auto& a : argv_copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_copy) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, p.program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
    write_end.reset();  // the child has its own copies; EOF can only come once ours are closed
    stdin_read.reset();
    if (rc != 0) return failed("run", rc);

    Fd pidfd(d::open_pidfd(pid));
    size_t written = 0;
    if (p.has_input && p.input.empty()) stdin_write.reset();
    bool pipe_open = true;
    bool exited = false;
    int wait_error = 0;
    char buf[d::kChunk];

    // Reads what is available now, at most `chunks` reads. Returns false on EOF or error (the pipe is
    // then done).
    auto drain = [&](int chunks) {
        for (int chunk = 0; chunk < chunks; ++chunk) {
            ssize_t n = ::read(read_end.get(), buf, sizeof buf);
            if (n > 0) {
                size_t keep = std::min(static_cast<size_t>(n), p.max_output - std::min(p.max_output, out.output.size()));
                out.output.append(buf, keep);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
        return true;
    };
    // Writes what the pipe takes now; closes it when all is written or the child stopped reading.
    auto feed = [&]() {
        while (written < p.input.size()) {
            ssize_t n = ::write(stdin_write.get(), p.input.data() + written, p.input.size() - written);
            if (n > 0) {
                written += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            break;  // EPIPE (the caller ignores SIGPIPE, as the daemon does) or another error: give up
        }
        stdin_write.reset();
    };

    while (!exited) {
        if (!pidfd.valid() && d::has_exited(pid)) {
            exited = true;
            break;
        }
        if (Clock::now() >= deadline) break;
        pollfd fdset[3];
        nfds_t count = 0;
        int pipe_slot = -1, pid_slot = -1, in_slot = -1;
        if (pipe_open) {
            pipe_slot = static_cast<int>(count);
            fdset[count++] = pollfd{read_end.get(), POLLIN, 0};
        }
        if (stdin_write.valid()) {
            in_slot = static_cast<int>(count);
            fdset[count++] = pollfd{stdin_write.get(), POLLOUT, 0};
        }
        if (pidfd.valid()) {
            pid_slot = static_cast<int>(count);
            fdset[count++] = pollfd{pidfd.get(), POLLIN, 0};
        }
        auto until = deadline;
        if (!pidfd.valid()) until = std::min(until, Clock::now() + d::kExitPollInterval);
        int n = ::poll(fdset, count, poll_timeout_ms(until));
        if (n < 0 && errno != EINTR) {
            wait_error = errno;
            break;  // handled below like a timeout: the group is killed
        }
        if (n <= 0) continue;
        if (in_slot >= 0 && fdset[in_slot].revents != 0) feed();
        if (pipe_slot >= 0 && fdset[pipe_slot].revents != 0) pipe_open = drain(d::kDrainChunks);
        if (pid_slot >= 0 && fdset[pid_slot].revents != 0) exited = true;
    }
    stdin_write.reset();

    // Kill what is left of the process group: everything at the deadline; after a normal exit, any
    // grandchild still running (the leader is still unreaped, so the group ID is still ours).
    ::kill(-pid, SIGKILL);
    if (pipe_open) drain(d::kFinalDrainChunks);

    int status = 0;
    bool reaped = false;
    int reap_error = 0;
    if (exited) {
        pid_t r;
        while ((r = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
        }
        reaped = r == pid;
        if (!reaped) reap_error = errno;
    } else {
        // Just killed: it dies at once unless in uninterruptible sleep. Wait until reap_by.
        for (;;) {
            pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r == pid) break;
            if (r < 0 && errno != EINTR) break;
            if (Clock::now() >= reap_by) {
                d::Stragglers::get().add(pid);
                break;
            }
            if (pidfd.valid()) {
                pollfd one{pidfd.get(), POLLIN, 0};
                ::poll(&one, 1, poll_timeout_ms(reap_by));
            } else {
                ::usleep(1000);
            }
        }
    }

    if (!exited) {
        out.end = wait_error != 0 ? SubprocessOutcome::End::wait_failed : SubprocessOutcome::End::timed_out;
        out.error = wait_error;
    } else if (!reaped) {
        out.end = SubprocessOutcome::End::status_lost;
        out.error = reap_error;
    } else {
        out.end = SubprocessOutcome::End::exited;
        out.wait_status = status;
    }
    return out;
}

// "SIGSEGV" for 11; "signal 64" for one without a name.
inline std::string signal_name(int sig) {
    if (const char* abbrev = ::sigabbrev_np(sig)) return std::string("SIG") + abbrev;
    return "signal " + std::to_string(sig);
}

}  // namespace vitals_plugins

#endif  // VITALS_PLUGINS_SUBPROCESS_HPP
