// exec: runs a Nagios / monitoring-plugins compatible program and maps its exit code
// (0 pass, 1 warn, 2 fail, 3 unknown → fail) and output (first line; performance data) to a result.
//
// The program runs under the one subprocess runner (plugins/common, vitals_plugins/subprocess.hpp,
// which the daemon uses for its own worker children): posix_spawn, no shell (argv is the configured
// list), its own process group, stdin and stderr /dev/null, stdout into a pipe, no descriptor of
// ours, default signals, only the configured environment (plus PATH=/usr/bin:/bin unless the
// configuration sets PATH). The run ends when the program exits or at the deadline, whichever comes
// first; its group is killed before it is reaped, and it is always reaped.
#include <vitals/plugin.hpp>

#include "perfdata.hpp"

#include <vitals_plugins/deadline.hpp>
#include <vitals_plugins/subprocess.hpp>
#include <vitals_plugins/text.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace vp = vitals_plugins;
using vp::errno_text;
using Clock = std::chrono::steady_clock;

// Standard output kept: Nagios' own limit is 4 KiB (MAX_PLUGIN_OUTPUT_LENGTH in Nagios 3 was 8 KiB;
// only the first line is reported anyway). The rest is read and discarded, so that a chatty program
// never blocks on a full pipe.
constexpr size_t kMaxOutput = 4096;

const char* const kDefaultPath = "PATH=/usr/bin:/bin";

// Program output made safe for a one-line message and JSON.
std::string sanitize(const std::string& in) { return vp::clean_utf8(in, vp::Lines::join); }

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
        const auto start = Clock::now();
        // The group is killed at give_up_at() (the rule every plugin follows), so that killing and
        // reaping fit in the budget and our own "timed out after N ms (process group killed)" is
        // recorded rather than the host's generic timeout.
        const auto deadline = vp::give_up_at(host_deadline, start);
        vp::Subprocess program;
        program.program = argv_.front();
        program.argv = argv_;
        program.env = env_;
        program.max_output = kMaxOutput;
        vp::SubprocessOutcome ran = vp::run_subprocess(program, deadline, host_deadline);
        using End = vp::SubprocessOutcome::End;
        switch (ran.end) {
        case End::spawn_failed:
            if (ran.step == "run") return vitals::Result::fail("cannot run " + argv_.front() + ": " + errno_text(ran.error));
            if (ran.step == "pipe") return vitals::Result::fail("pipe: " + errno_text(ran.error));
            return vitals::Result::fail("cannot set up " + argv_.front() + ": " + errno_text(ran.error));
        case End::wait_failed:
            return vitals::Result::fail("waiting for " + argv_.front() + " failed: " + errno_text(ran.error) +
                                        " (process group killed)");
        case End::timed_out:
            // Reported against the whole budget (the check's timeout), although the group was killed
            // a little earlier so that this result arrives in time.
            return vitals::Result::fail(vp::timed_out_after_budget(start, host_deadline, "process group killed"));
        case End::status_lost:
            // Only if someone else reaped our child (a SIGCHLD set to SIG_IGN, a waitpid(-1) elsewhere).
            return vitals::Result::fail(argv_.front() + ": exit status lost (" + errno_text(ran.error) + ")");
        case End::exited:
            break;
        }
        return interpret(ran.wait_status, ran.output);
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
            std::string msg = "killed by " + vp::signal_name(WTERMSIG(status));
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
