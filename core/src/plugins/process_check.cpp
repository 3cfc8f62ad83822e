#include "plugins/process_check.h"

#include "plugins/check_instance.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace vitals {

using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxResultBytes = 64 * 1024;

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string("/proc/self/exe");
}

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

RawResult failed(std::string output) {
    RawResult r;
    r.status = Status::fail;
    r.output = std::move(output);
    return r;
}

// Closes both ends on scope exit.
struct Pipe {
    int fd[2] = {-1, -1};
    ~Pipe() {
        for (int f : fd)
            if (f >= 0) ::close(f);
    }
    void close_end(int i) {
        if (fd[i] >= 0) ::close(fd[i]);
        fd[i] = -1;
    }
};

}  // namespace

ProcessCheck::ProcessCheck(const CheckTypeInfo& type, std::string options_json, std::chrono::milliseconds timeout,
                           bool strict_permissions)
    : plugin_file_(type.file), type_(type.name), options_json_(std::move(options_json)),
      default_measurement_(type.default_measurement), timeout_(timeout), strict_permissions_(strict_permissions),
      secrets_(secret_values(type, options_json_)) {}

RawResult ProcessCheck::run(MonoTime deadline) {
    Poco::JSON::Object request;
    request.set("plugin", plugin_file_);
    request.set("type", type_);
    request.set("options_json", options_json_);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    request.set("timeout_ms", Poco::Int64(std::max<int64_t>(1, left.count())));
    request.set("strict_permissions", strict_permissions_);
    std::ostringstream rq;
    request.stringify(rq);
    std::string input = rq.str();

    Pipe to_child, from_child;
    if (::pipe2(to_child.fd, O_CLOEXEC) != 0 || ::pipe2(from_child.fd, O_CLOEXEC) != 0)
        return failed(std::string("cannot start worker: pipe: ") + std::strerror(errno));

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child.fd[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child.fd[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // nothing of the daemon's reaches the plugin
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group: killed as a whole at the deadline
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    std::string exe = self_exe();
    char arg0[] = "vitals";
    char arg1[] = "worker";
    char* argv[] = {arg0, arg1, nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, exe.c_str(), &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return failed(std::string("cannot start worker: ") + std::strerror(rc));
    to_child.close_end(0);
    from_child.close_end(1);

    // The request is small (well under a pipe buffer): one write, no deadlock.
    (void)!::write(to_child.fd[1], input.data(), input.size());
    to_child.close_end(1);

    std::string output;
    bool timed_out = false;
    char buf[4096];
    for (;;) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (ms <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{from_child.fd[0], POLLIN, 0};
        int n = ::poll(&p, 1, int(std::min<int64_t>(ms, 1000)));
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) continue;
        ssize_t got = ::read(from_child.fd[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // EOF: the child is done (or died)
        if (output.size() < kMaxResultBytes) output.append(buf, size_t(got));
    }
    if (timed_out) ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::kill(-pid, SIGKILL);  // anything the plugin left behind in its group
    if (timed_out) return failed("timed out after " + std::to_string(timeout_.count()) + " ms (worker killed)");
    if (WIFSIGNALED(status)) return failed("crashed: " + signal_name(WTERMSIG(status)));

    RawResult r;
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(output).extract<Poco::JSON::Object::Ptr>();
        if (o->has("error")) return failed(type_ + ": " + o->getValue<std::string>("error"));
        auto s = parse_status(o->optValue<std::string>("status", "fail"));
        r.status = s.value_or(Status::fail);
        r.output = o->optValue<std::string>("output", "");
        if (o->has("observed_value") && !o->get("observed_value").isEmpty()) {
            r.observed_value = o->getValue<double>("observed_value");
            r.observed_unit = o->optValue<std::string>("observed_unit", "");
        }
        r.measurement = o->optValue<std::string>("measurement", default_measurement_);
    } catch (const std::exception&) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return failed("worker exited with code " + std::to_string(code) + " without a result");
    }
    scrub_secrets(r.output, secrets_);
    return r;
}

std::shared_ptr<CheckRunner> make_check_runner(const CheckTypeInfo& type, const std::string& options_json,
                                               bool isolated, std::chrono::milliseconds timeout,
                                               bool strict_permissions, std::string& error) {
    if (isolated) return std::make_shared<ProcessCheck>(type, options_json, timeout, strict_permissions);
    return CheckInstance::create(type, options_json, error);
}

int run_worker(std::istream& in, std::ostream& out) {
    auto reply = [&](Poco::JSON::Object& o) {
        o.stringify(out);
        out.flush();
    };
    std::ostringstream ss;
    ss << in.rdbuf();
    Poco::JSON::Object result;
    try {
        Poco::JSON::Parser parser;
        auto req = parser.parse(ss.str()).extract<Poco::JSON::Object::Ptr>();
        std::string plugin = req->getValue<std::string>("plugin");
        std::string type = req->getValue<std::string>("type");
        auto deadline = Clock::now() + std::chrono::milliseconds(req->getValue<Poco::Int64>("timeout_ms"));
        PluginRegistry registry;
        std::string why;
        // Loaded afresh in every child: a changed plugin file takes effect at the next run.
        if (!registry.load_file(plugin, req->getValue<bool>("strict_permissions"), why)) {
            result.set("error", "plugin " + plugin + " refused: " + why);
            reply(result);
            return 0;
        }
        const CheckTypeInfo* info = registry.find(type);
        if (!info) {
            result.set("error", "plugin " + plugin + " no longer provides type " + type);
            reply(result);
            return 0;
        }
        std::string error;
        auto instance = CheckInstance::create(*info, req->getValue<std::string>("options_json"), error);
        if (!instance) {
            result.set("error", error);
            reply(result);
            return 0;
        }
        RawResult r = instance->run(deadline);
        result.set("status", to_string(r.status));
        result.set("output", r.output);
        if (r.observed_value) {
            result.set("observed_value", *r.observed_value);
            result.set("observed_unit", r.observed_unit);
        }
        result.set("measurement", r.measurement);
        reply(result);
        return 0;
    } catch (const std::exception& e) {
        result.set("error", std::string("worker: ") + e.what());
        reply(result);
        return 1;
    }
}

}  // namespace vitals
