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

namespace {

std::string percent(double v) {
    if (v < 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f%%", v * 100);
    return buf;
}

std::string millis(std::optional<double> v) { return v ? std::to_string(int64_t(*v)) + " ms" : "-"; }

// `vitals history --uptime`: one line per check or group (--json: the /health/uptime answer).
int print_uptime(const Config& cfg, const Args& args, int64_t now_ms) {
    auto parsed = parse_uptime_query(args.history_params, now_ms, &cfg);
    if (auto* err = std::get_if<QueryError>(&parsed)) usage_error("--" + err->parameter + ": " + err->message);
    const auto& q = std::get<UptimeQuery>(parsed);
    std::vector<UptimeSeries> answer;
    try {
        answer = HistoryReader(cfg.history.path).uptime(q);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vitals: cannot read %s: %s\n", cfg.history.path.c_str(), e.what());
        return 1;
    }
    if (args.json) {
        std::printf("%s\n", uptime_json(q, answer).c_str());
        return 0;
    }
    std::printf("%-20s %-10s %-10s %-8s %-8s %-10s %s\n", "CHECK", "UPTIME", "COVERAGE", "RUNS", "FAILS", "P50", "P95");
    for (const auto& s : answer)
        std::printf("%-20s %-10s %-10s %-8lld %-8lld %-10s %s\n", s.series.c_str(), percent(uptime_of(s.total)).c_str(),
                    percent(coverage_of(s.total, now_ms - q.start_ms)).c_str(), (long long)s.total.runs,
                    (long long)s.total.fails, millis(s.total.latency_quantile(0.5)).c_str(),
                    millis(s.total.latency_quantile(0.95)).c_str());
    return 0;
}

}  // namespace

int cmd_history(const Args& args) {
    Config cfg = load_config_or_exit(args);
    int64_t now_ms = unix_now_ms();
    if (args.uptime) {
        if (::access(cfg.history.path.c_str(), F_OK) != 0) {
            std::fprintf(stderr, "vitals: no history database at %s (history.path)\n", cfg.history.path.c_str());
            return 1;
        }
        return print_uptime(cfg, args, now_ms);
    }
    auto parsed = parse_history_query(args.history_params, now_ms, &cfg);
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
