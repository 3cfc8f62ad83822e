// `vitals check`: every check run once by the real scheduler and judged by the real policy (the
// same timeouts, isolation, standings and group rules as the daemon), printed as a table. Exits
// 0/1/2 for the default group's pass/warn/fail, so `vitals check` is itself a monitoring plugin.
#include "app/cli.h"
#include "scheduler/scheduler.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace vitals {

namespace {

// Every check has its first result (or could not be created): the table can be printed.
bool all_ran(const Snapshot& snap) {
    for (const PublishedCheck& c : snap.checks)
        if (c.view->runs == 0 && c.view->setup_error.empty()) return false;
    return true;
}

}  // namespace

int cmd_check(const Args& args) {
    std::signal(SIGPIPE, SIG_IGN);  // a plugin writing to a closed socket must get EPIPE, not die
    Loaded loaded = load_or_exit(args);
    // The table says what the transition lines would: keep the log to errors (a plugin's own
    // errors included) unless the configuration asks for debugging.
    if (spdlog::get_level() > spdlog::level::debug) spdlog::set_level(spdlog::level::err);
    // One run each: rise/fall, which need several, count that one result as it is.
    auto once = std::make_shared<Config>(*loaded.config);
    for (auto& c : once->checks) c.rise = c.fall = 1;
    const Config& cfg = *once;
    SnapshotSlot slot;
    // Every check's first run starts at once; a run past its deadline is recorded as a timeout by
    // the scheduler (and a plugin that never returns is left behind: the process exits under it).
    Scheduler scheduler(once, *loaded.registry, slot, "vitals-check");
    scheduler.start();
    Millis longest{0};
    for (const auto& c : cfg.checks) longest = std::max(longest, c.timeout);
    // A hang guard only: the scheduler records a timeout shortly after each deadline.
    auto give_up = std::chrono::steady_clock::now() + longest + Millis(5000);
    std::shared_ptr<const Snapshot> snap = slot.load();
    while (!all_ran(*snap) && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(Millis(2));
        snap = slot.load();
    }
    // A call still inside a plugin (a hung one, recorded as timed out) must not see the plugin's
    // library unloaded under it by static destructors.
    bool abandoned = scheduler.runs_in_flight(true) > 0;
    std::printf("%-20s %-10s %-6s %8s  %s\n", "CHECK", "TYPE", "STATUS", "MS", "OUTPUT");
    for (const PublishedCheck& c : snap->checks) {
        const CheckViewPtr& v = c.view;
        Status status = Status::fail;
        std::string output;
        int64_t ms = 0;
        std::string value;
        if (!v->setup_error.empty()) {
            output = v->setup_error;
        } else if (v->last) {
            status = v->last->status;
            output = v->last->output;
            ms = v->last->duration_ms();
            if (v->last->observed_value) {
                char buf[64];
                std::snprintf(buf, sizeof buf, " [%g %s]", *v->last->observed_value, v->last->observed_unit.c_str());
                value = buf;
            }
        } else {
            output = "no result";
        }
        std::printf("%-20s %-10s %-6s %8lld  %s%s\n", v->name.c_str(), v->type.c_str(), to_string(status),
                    static_cast<long long>(ms), output.c_str(), value.c_str());
    }
    const GroupVerdict& verdict = snap->group("default").verdict;
    std::printf("\ndefault: %s%s%s\n", to_string(verdict.status), verdict.cause.empty() ? "" : ": ",
                verdict.cause.c_str());
    int code = verdict.status == Status::pass ? 0 : verdict.status == Status::warn ? 1 : 2;
    std::fflush(nullptr);
    // A plugin call still running (a hung one) owns a thread: exit without waiting for it.
    if (abandoned) std::_Exit(code);
    scheduler.stop();
    return code;
}

}  // namespace vitals
