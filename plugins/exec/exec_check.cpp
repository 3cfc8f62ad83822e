// exec: runs a Nagios / monitoring-plugins compatible program and maps its exit code
// (0 pass, 1 warn, 2 fail, 3 unknown → fail) and output (first line; performance data) to a result.
//
// The daemon is multi-threaded, so the program is started with posix_spawn() — no code of ours runs
// between fork and exec, and glibc's implementation (clone(CLONE_VM|CLONE_VFORK)) never copies the
// daemon's memory. No shell: argv is the configured list. The child gets:
//   - its own process group (POSIX_SPAWN_SETPGROUP), so that at the deadline the whole tree it started
//     can be killed with one kill(-pgid, SIGKILL);
//   - stdin from /dev/null, stdout into a pipe we read, stderr to /dev/null;
//   - no other descriptor of ours (posix_spawn_file_actions_addclosefrom_np(3): other plugins' sockets
//     are not always close-on-exec);
//   - an empty signal mask and default signal dispositions (the daemon blocks SIGTERM/SIGINT/SIGHUP
//     and ignores SIGPIPE; both would otherwise be inherited across exec);
//   - only the configured environment, plus PATH=/usr/bin:/bin unless the configuration sets PATH.
//
// Waiting: poll() on the pipe and on a pidfd of the child (pidfd_open, Linux 5.3; without it, a 10 ms
// waitid(WNOWAIT) poll). When the child exits, whatever is left of its process group (a grandchild
// that kept running) is killed before the child is reaped — while the unreaped child exists, its
// process group ID cannot name anyone else — and we do not wait for EOF on the pipe, which such a
// grandchild may hold open. At the deadline the group is killed and the child reaped. Children that
// do not die at once (uninterruptible sleep) are reaped by later runs; there are never zombies of ours
// left behind.
#include <vitals/plugin.hpp>

#include "perfdata.hpp"

#include "vitals_plugins/never_freed.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Standard output kept: Nagios' own limit is 4 KiB (MAX_PLUGIN_OUTPUT_LENGTH in Nagios 3 was 8 KiB;
// only the first line is reported anyway). The rest is read and discarded, so that a chatty program
// never blocks on a full pipe.
constexpr size_t kMaxOutput = 4096;

// The run returns this long before the host's deadline (at most; a tenth of the budget for short
// ones), so that killing and reaping the process group fits in the budget and our own "timed out after
// N ms (process group killed)" is recorded rather than the host's generic timeout.
constexpr std::chrono::milliseconds kReturnMargin{50};

// Reads of sizeof buf (4 KiB) per wake-up, at most: the pipe's default capacity (64 KiB).
constexpr int kDrainChunks = 16;

// Without a pidfd, how often the child is polled for having exited.
constexpr std::chrono::milliseconds kExitPollInterval{10};

const char* const kDefaultPath = "PATH=/usr/bin:/bin";

std::string errno_text(int err) { return std::strerror(err); }

// Whole milliseconds from `from` to `to`, e.g. the check's time budget for "timed out after N ms".
std::string whole_ms(Clock::time_point from, Clock::time_point to) {
    return std::to_string(std::lround(std::chrono::duration<double, std::milli>(to - from).count()));
}

int poll_timeout_ms(Clock::time_point until) {
    auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// "SIGSEGV" for 11; "signal 64" for one without a name.
std::string signal_name(int sig) {
    if (const char* abbrev = ::sigabbrev_np(sig)) return std::string("SIG") + abbrev;
    return "signal " + std::to_string(sig);
}

// Program output made safe for a one-line message and JSON: valid UTF-8 kept, control characters and
// invalid bytes replaced by '?', tabs by spaces.
std::string sanitize(const std::string& in) {
    std::string out;
    out.reserve(in.size());
    size_t i = 0;
    while (i < in.size()) {
        const auto c = static_cast<unsigned char>(in[i]);
        if (c < 0x80) {
            out += c == '\t' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
            ++i;
            continue;
        }
        // Length of a well-formed UTF-8 sequence starting here (RFC 3629: no overlongs, no surrogates).
        size_t len = 0;
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c >= 0xe0 && c <= 0xef) len = 3;
        else if (c >= 0xf0 && c <= 0xf4) len = 4;
        bool ok = len > 0 && i + len <= in.size();
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(in[i + k]) & 0xc0) == 0x80;
        if (ok && len >= 3) {
            const auto c1 = static_cast<unsigned char>(in[i + 1]);
            if (c == 0xe0 && c1 < 0xa0) ok = false;   // overlong
            if (c == 0xed && c1 >= 0xa0) ok = false;  // surrogate
            if (c == 0xf0 && c1 < 0x90) ok = false;   // overlong
            if (c == 0xf4 && c1 >= 0x90) ok = false;  // beyond U+10FFFF
        }
        if (!ok) {
            out += '?';
            ++i;
            continue;
        }
        out.append(in, i, len);
        i += len;
    }
    return out;
}

// Owns a file descriptor.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_;
};

// Children killed at the deadline that had not died by the time the run had to return (a process in
// uninterruptible sleep ignores SIGKILL until it wakes). Every run reaps those that have exited since.
// Deliberately never destroyed (the daemon _Exit()s; a destructor here would race running checks).
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
};

// Returns 0 or an errno value.
int prepare(SpawnSetup& s, int stdout_fd) {
    if (!s.attr_ok || !s.actions_ok) return ENOMEM;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = 0;
    if ((rc = ::posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                      POSIX_SPAWN_SETSIGDEF)) != 0)
        return rc;
    if ((rc = ::posix_spawnattr_setpgroup(&s.attr, 0)) != 0) return rc;  // 0: a new group, ID = child's PID
    if ((rc = ::posix_spawnattr_setsigmask(&s.attr, &none)) != 0) return rc;
    if ((rc = ::posix_spawnattr_setsigdefault(&s.attr, &all)) != 0) return rc;
    if ((rc = ::posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0)) != 0) return rc;
    if ((rc = ::posix_spawn_file_actions_adddup2(&s.actions, stdout_fd, 1)) != 0) return rc;
    if ((rc = ::posix_spawn_file_actions_addopen(&s.actions, 2, "/dev/null", O_WRONLY, 0)) != 0) return rc;
    if ((rc = ::posix_spawn_file_actions_addclosefrom_np(&s.actions, 3)) != 0) return rc;
    return 0;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

// True once `pid` has exited (it is left unreaped: WNOWAIT).
bool has_exited(pid_t pid) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
    return info.si_pid == pid;
}

class ExecCheck : public vitals::Check {
public:
    explicit ExecCheck(const vitals::Options& o) : argv_(o.string_list("command")) {
        if (argv_.empty()) throw std::runtime_error("command must not be empty: give the program and its arguments");
        const std::string& program = argv_.front();
        if (program.empty() || program.front() != '/')
            throw std::runtime_error("command[0] must be an absolute path (got '" + program +
                                     "'): no shell and no PATH search");
        for (size_t i = 0; i < argv_.size(); ++i)
            if (argv_[i].find('\0') != std::string::npos)
                throw std::runtime_error("command[" + std::to_string(i) + "] contains a NUL character");
        struct stat st {};
        if (::stat(program.c_str(), &st) != 0)
            throw std::runtime_error("command[0] " + program + ": " + errno_text(errno));
        if (!S_ISREG(st.st_mode)) throw std::runtime_error("command[0] " + program + ": not a regular file");
        if (::access(program.c_str(), X_OK) != 0)
            throw std::runtime_error("command[0] " + program + ": not executable (" + errno_text(errno) + ")");

        bool has_path = false;
        for (const auto& [key, value] : o.string_map("env")) {
            if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos)
                throw std::runtime_error("env: invalid variable name '" + key + "'");
            if (value.find('\0') != std::string::npos)
                throw std::runtime_error("env." + key + " contains a NUL character");
            if (key == "PATH") has_path = true;
            env_.push_back(key + "=" + value);
        }
        if (!has_path) env_.emplace_back(kDefaultPath);
    }

    vitals::Result run(vitals::Deadline host_deadline) override {
        Stragglers::get().reap();
        const auto start = Clock::now();
        auto budget = host_deadline - start;
        const auto deadline =
            host_deadline - std::max<Clock::duration>(std::min<Clock::duration>(kReturnMargin, budget / 10),
                                                      Clock::duration::zero());

        // The pipe is close-on-exec at both ends: only the child's dup2'd stdout survives its exec, and
        // a program spawned by another thread at the same moment never inherits it.
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) return vitals::Result::fail("pipe: " + errno_text(errno));
        Fd read_end(fds[0]);
        Fd write_end(fds[1]);
        ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);

        SpawnSetup setup;
        if (int rc = prepare(setup, write_end.get()); rc != 0)
            return vitals::Result::fail("cannot set up " + argv_.front() + ": " + errno_text(rc));

        std::vector<char*> argv;
        for (auto& a : argv_) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<char*> envp;
        for (auto& e : env_) envp.push_back(e.data());
        envp.push_back(nullptr);

        pid_t pid = -1;
        int rc = ::posix_spawn(&pid, argv_.front().c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
        write_end.reset();  // ours; the child has its own copy. EOF can only come once it is closed here.
        if (rc != 0) return vitals::Result::fail("cannot run " + argv_.front() + ": " + errno_text(rc));

        Fd pidfd(open_pidfd(pid));
        std::string output;
        bool pipe_open = true;
        bool exited = false;
        int wait_error = 0;  // poll() failed: we cannot wait for the child
        char buf[4096];

        // Reads what is available now, at most kDrainChunks reads so that a program writing without
        // pause (`yes`) cannot keep us from the deadline. Returns false on EOF or error (the pipe is
        // then done).
        auto drain = [&]() {
            for (int chunk = 0; chunk < kDrainChunks; ++chunk) {
                ssize_t n = ::read(read_end.get(), buf, sizeof buf);
                if (n > 0) {
                    size_t keep = std::min(static_cast<size_t>(n), kMaxOutput - std::min(kMaxOutput, output.size()));
                    output.append(buf, keep);
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            }
            return true;
        };

        while (!exited) {
            if (pidfd.get() < 0 && has_exited(pid)) {
                exited = true;
                break;
            }
            if (Clock::now() >= deadline) break;
            pollfd p[2];
            nfds_t count = 0;
            int pipe_slot = -1, pid_slot = -1;
            if (pipe_open) {
                pipe_slot = static_cast<int>(count);
                p[count++] = pollfd{read_end.get(), POLLIN, 0};
            }
            if (pidfd.get() >= 0) {
                pid_slot = static_cast<int>(count);
                p[count++] = pollfd{pidfd.get(), POLLIN, 0};
            }
            auto until = deadline;
            if (pidfd.get() < 0) until = std::min(until, Clock::now() + kExitPollInterval);
            int n = ::poll(p, count, poll_timeout_ms(until));
            if (n < 0 && errno != EINTR) {
                wait_error = errno;
                break;  // handled below like a timeout: the group is killed
            }
            if (n <= 0) continue;
            if (pipe_slot >= 0 && p[pipe_slot].revents != 0) pipe_open = drain();
            if (pid_slot >= 0 && p[pid_slot].revents != 0) exited = true;
        }

        // Kill what is left of the process group: everything at the deadline; after a normal exit, any
        // grandchild still running (the group leader is still unreaped, so the group ID is still ours).
        ::kill(-pid, SIGKILL);
        if (pipe_open) drain();

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
            // Just killed: it dies at once unless in uninterruptible sleep. Wait until the host's deadline.
            for (;;) {
                pid_t r = ::waitpid(pid, &status, WNOHANG);
                if (r == pid) {
                    reaped = true;
                    break;
                }
                if (r < 0 && errno != EINTR) break;
                if (Clock::now() >= host_deadline) {
                    Stragglers::get().add(pid);
                    break;
                }
                if (pidfd.get() >= 0) {
                    pollfd p{pidfd.get(), POLLIN, 0};
                    ::poll(&p, 1, poll_timeout_ms(host_deadline));
                } else {
                    ::usleep(1000);
                }
            }
        }

        if (!exited) {
            if (wait_error != 0)
                return vitals::Result::fail("waiting for " + argv_.front() + " failed: " + errno_text(wait_error) +
                                            " (process group killed)");
            // Reported against the whole budget (the check's timeout), although the group was killed
            // a little earlier so that this result arrives in time.
            return vitals::Result::fail("timed out after " + whole_ms(start, host_deadline) +
                                        " ms (process group killed)");
        }
        // Only if someone else reaped our child (a SIGCHLD set to SIG_IGN, a waitpid(-1) elsewhere).
        if (!reaped) return vitals::Result::fail(argv_.front() + ": exit status lost (" + errno_text(reap_error) + ")");
        return interpret(status, output);
    }

private:
    vitals::Result interpret(int status, const std::string& output) {
        vitals_exec::PluginOutput parsed = vitals_exec::parse_plugin_output(output);
        const std::string text = sanitize(parsed.text);

        // The first perfdata entry gives the measurement (its label) and the observed value. A run
        // without perfdata (typically a failure: "connection refused") keeps the last label seen, so
        // that the check's health+json key ("tcp:time") does not flip between runs.
        auto with_perfdata = [&](vitals::Result r) {
            if (!parsed.perfdata.empty()) {
                const vitals_exec::PerfDatum& first = parsed.perfdata.front();
                measurement_ = sanitize(first.label);
                if (first.value) r.observed(*first.value, sanitize(first.uom));
            }
            if (!measurement_.empty()) r.measurement(measurement_);
            return r;
        };

        if (WIFSIGNALED(status)) {
            std::string msg = "killed by " + signal_name(WTERMSIG(status));
            return with_perfdata(vitals::Result::fail(text.empty() ? msg : msg + ": " + text));
        }
        if (!WIFEXITED(status)) return vitals::Result::fail("unexpected wait status " + std::to_string(status));

        const int code = WEXITSTATUS(status);
        const std::string shown = text.empty() && code != 0 ? "no output (exit code " + std::to_string(code) + ")" : text;
        switch (code) {
        case 0:
            return with_perfdata(vitals::Result::pass(shown));
        case 1:
            return with_perfdata(vitals::Result::warn(shown));
        case 2:
            return with_perfdata(vitals::Result::fail(shown));
        case 3:
            return with_perfdata(vitals::Result::fail("unknown: " + shown));
        default:
            return with_perfdata(
                vitals::Result::fail("exit code " + std::to_string(code) + (text.empty() ? "" : ": " + text)));
        }
    }

    std::vector<std::string> argv_;
    std::vector<std::string> env_;  // "KEY=value", the child's whole environment
    std::string measurement_;       // the last perfdata label seen; empty: the type's default ("exec")
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec exec_options[] = {
    vitals::option("command", VITALS_OPTION_STRING_LIST, nullptr,
                   "program and arguments, e.g. [\"/usr/lib/nagios/plugins/check_load\", \"-w\", \"4\"]; "
                   "absolute path, no shell",
                   VITALS_OPTION_REQUIRED),
    vitals::option("env", VITALS_OPTION_STRING_MAP, nullptr,
                   "the program's entire environment (plus PATH=/usr/bin:/bin unless given)"),
};

}  // namespace

VITALS_PLUGIN("vitals-exec", "0.1.0",
              vitals::check_type<ExecCheck>("exec", "runs a Nagios/monitoring-plugins compatible program",
                                            "component", "exec", exec_options))
