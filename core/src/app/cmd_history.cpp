// `vitals history`: the history database, queried directly (daemon up or down).
#include "app/cli.h"
#include "config/config.h"
#include "history/history_query.h"
#include "history/history_reader.h"
#include "common/time_format.h"

#include <chrono>
#include <cstdio>
#include <unistd.h>
#include <variant>

namespace vitals {

int cmd_history(const Args& args) {
    Config cfg = load_config_or_exit(args);
    auto parsed = parse_history_query(args.history_params, unix_now_ms(), &cfg);
    if (auto* err = std::get_if<QueryError>(&parsed)) usage_error("--" + err->parameter + ": " + err->message);
    HistoryPage page;
    try {
        if (::access(cfg.history.path.c_str(), F_OK) != 0) {
            std::fprintf(stderr, "vitals: no history database at %s (history.path)\n", cfg.history.path.c_str());
            return 1;
        }
        page = HistoryReader(cfg.history.path).query(std::get<HistoryQuery>(parsed));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vitals: cannot read %s: %s\n", cfg.history.path.c_str(), e.what());
        return 1;
    }
    if (args.json) {
        std::printf("%s\n", history_page_json(page).c_str());
        return 0;
    }
    std::printf("%-24s %-20s %-10s %-6s %s\n", "TIME", "CHECK", "KIND", "STATUS", "DETAIL");
    for (const auto& e : page.items) {
        std::string detail;
        if (e.kind == EventKind::result) {
            detail = "raw " + std::string(e.run ? to_string(e.run->status) : "?");
            if (e.duration_ms) detail += ", " + std::to_string(*e.duration_ms) + " ms";
            if (e.run && !e.run->output.empty()) detail += ": " + e.run->output;
        } else if (e.kind == EventKind::probe && e.probe && !e.probe->samples.empty()) {
            const ProbeRow& p = *e.probe;
            char latency[32];
            std::snprintf(latency, sizeof latency, "%.1f ms", double(p.samples[0].latency_us) / 1000.0);
            detail = p.address + " \"" + p.user_agent + "\" " + p.path + ": " + std::to_string(p.samples[0].code) +
                     (p.samples[0].latency_us < 0 ? std::string(" after the client left") : std::string(" in ") + latency);
            if (p.count > 1) detail += " (" + std::to_string(p.count) + " answers in this second)";
        } else {
            detail = std::string("from ") + (e.previous ? to_string(*e.previous) : "pending") + ": " + e.cause;
        }
        std::printf("%-24s %-20s %-10s %-6s %s\n", rfc3339(WallTime(std::chrono::milliseconds(e.time_ms))).c_str(),
                    e.check.c_str(), to_string(e.kind), to_string(e.status),
                    detail.c_str());
    }
    if (page.next_before_id)
        std::printf("(more: --cursor %s)\n", encode_cursor(*page.next_before_id).c_str());
    return 0;
}

}  // namespace vitals
