// `"isolation": "process"` (SPEC §3): each run happens in a fresh child (`vitals worker`), which
// loads the plugin file, creates the instance, runs it once and prints the result. The daemon kills
// the child's whole process group at the deadline and reaps it, so a plugin that hangs, crashes,
// leaks or scribbles costs only its own result ("crashed: SIGSEGV", "timed out after 500 ms"), and a
// changed plugin file takes effect at the next run.
//
// Cost: a fork+exec of vitals and a dlopen per run (measured in tests/bench: a few ms of CPU per
// run); choose it for plugins you do not trust, not for checks every 100 ms.
#pragma once

#include "plugins/check_runner.h"
#include "plugins/registry.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace vitals {

class ProcessCheck : public CheckRunner {
public:
    ProcessCheck(const CheckTypeInfo& type, std::string options_json, std::chrono::milliseconds timeout,
                 bool strict_permissions);
    RunResult run(MonoTime deadline) override;

private:
    std::string plugin_file_;
    std::string type_;
    std::string options_json_;
    std::string default_measurement_;
    std::chrono::milliseconds timeout_;
    bool strict_permissions_;
    std::vector<std::string> secrets_;
};

// The runner for a check: a ProcessCheck when `isolated`, else a CheckInstance (whose create() may
// fail: null and `error` set).
std::shared_ptr<CheckRunner> make_check_runner(const CheckTypeInfo& type, const std::string& options_json,
                                               bool isolated, std::chrono::milliseconds timeout,
                                               bool strict_permissions, std::string& error);

// The child side, `vitals worker`: answers one JSON request with one JSON reply. Two requests:
//   {"plugin", "type", "options_json", "timeout_ms", "strict_permissions"}: create and run once;
//     the reply is the result ({"status", "output", ...}) or {"error"};
//   {"load", "strict_permissions"}: load that plugin file; the reply is {"types": [...]} or {"error"}.
// Sets `exit_code` (0, or 1 when the request itself was malformed).
std::string run_worker(const std::string& request, int& exit_code);

}  // namespace vitals
