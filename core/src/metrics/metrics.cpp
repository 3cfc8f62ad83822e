#include "metrics/metrics.h"

#include "version.h"

#include <cstdio>
#include <cstdlib>

namespace vitals {

namespace {

// Label values: escape backslash, double quote and newline (exposition format 0.0.4).
std::string label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

// Shortest round-trip spelling ("0.005", not "0.0050000000000000001").
std::string number(double v) {
    char buf[64];
    for (int precision = 6; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

}  // namespace

std::string render_metrics(const Snapshot& snap, const RuntimeCounters& rc, const HttpCounters& http) {
    std::string out;
    out.reserve(4096 + snap.views.size() * 1500);

    header(out, "vitals_build_info", "gauge", "Build information; always 1.");
    out += "vitals_build_info{version=\"" VITALS_VERSION "\"} 1\n";

    header(out, "vitals_check_status", "gauge", "1 for the check's current status (stateset), else 0.");
    for (const auto& view : snap.views) {
        const CheckView& v = *view;
        auto it = snap.checks.find(v.name);
        Status current = it == snap.checks.end() ? Status::fail : it->second.status;
        for (Status s : {Status::pass, Status::warn, Status::fail})
            out += "vitals_check_status{check=\"" + label(v.name) + "\",status=\"" + to_string(s) + "\"} " +
                   (s == current ? "1\n" : "0\n");
    }

    header(out, "vitals_check_duration_seconds", "histogram", "Duration of check runs.");
    for (const auto& view : snap.views) {
        const CheckView& v = *view;
        std::string check = label(v.name);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < CheckView::kDurationBuckets.size(); ++i) {
            cumulative += v.duration_counts[i];
            out += "vitals_check_duration_seconds_bucket{check=\"" + check + "\",le=\"" +
                   number(CheckView::kDurationBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += "vitals_check_duration_seconds_bucket{check=\"" + check + "\",le=\"+Inf\"} " +
               std::to_string(v.duration_count) + "\n";
        out += "vitals_check_duration_seconds_sum{check=\"" + check + "\"} " + number(v.duration_sum) + "\n";
        out += "vitals_check_duration_seconds_count{check=\"" + check + "\"} " + std::to_string(v.duration_count) + "\n";
    }

    header(out, "vitals_check_runs_total", "counter", "Check results recorded, by raw result.");
    for (const auto& view : snap.views) {
        const CheckView& v = *view;
        std::string check = label(v.name);
        out += "vitals_check_runs_total{check=\"" + check + "\",result=\"pass\"} " + std::to_string(v.passes) + "\n";
        out += "vitals_check_runs_total{check=\"" + check + "\",result=\"warn\"} " + std::to_string(v.warns) + "\n";
        out += "vitals_check_runs_total{check=\"" + check + "\",result=\"fail\"} " + std::to_string(v.fails) + "\n";
    }

    header(out, "vitals_check_timeouts_total", "counter", "Check runs that overran their timeout.");
    for (const auto& v : snap.views)
        out += "vitals_check_timeouts_total{check=\"" + label(v->name) + "\"} " + std::to_string(v->timeouts) + "\n";

    header(out, "vitals_group_status", "gauge", "1 for the group's current status (stateset), else 0.");
    for (const auto& [name, g] : snap.groups)
        for (Status s : {Status::pass, Status::warn, Status::fail})
            out += "vitals_group_status{group=\"" + label(name) + "\",status=\"" + to_string(s) + "\"} " +
                   (s == g.status ? "1\n" : "0\n");

    header(out, "vitals_draining", "gauge", "1 while draining (admin drain or SIGTERM with shutdown.drain).");
    out += std::string("vitals_draining ") + (rc.draining ? "1\n" : "0\n");

    header(out, "vitals_history_write_errors_total", "counter", "Failed history database operations.");
    out += "vitals_history_write_errors_total " + std::to_string(rc.history_write_errors) + "\n";
    header(out, "vitals_history_dropped_results_total", "counter",
           "Check results dropped because the history queue was full.");
    out += "vitals_history_dropped_results_total " + std::to_string(rc.history_dropped_results) + "\n";

    header(out, "vitals_config_reloads_total", "counter", "Configuration reloads, by result.");
    out += "vitals_config_reloads_total{result=\"success\"} " + std::to_string(rc.reloads_ok) + "\n";
    out += "vitals_config_reloads_total{result=\"failure\"} " + std::to_string(rc.reloads_failed) + "\n";
    header(out, "vitals_config_last_reload_successful", "gauge", "1 if the last reload succeeded (or none happened).");
    out += std::string("vitals_config_last_reload_successful ") + (rc.last_reload_ok ? "1\n" : "0\n");

    header(out, "vitals_probers", "gauge",
           "Probers of the status paths (client address, User-Agent, path): tracked, and of them silent.");
    out += "vitals_probers{state=\"tracked\"} " + std::to_string(rc.probers.tracked) + "\n";
    out += "vitals_probers{state=\"silent\"} " + std::to_string(rc.probers.silent) + "\n";
    header(out, "vitals_probes_total", "counter", "Answers on the status paths, by HTTP code.");
    for (const auto& [code, n] : rc.probers.probes_by_code)
        out += "vitals_probes_total{code=\"" + std::to_string(code) + "\"} " + std::to_string(n) + "\n";
    header(out, "vitals_prober_evictions_total", "counter",
           "Probers no longer tracked: the least recently seen beyond 256, or new ones beyond a loop's table.");
    out += "vitals_prober_evictions_total " + std::to_string(rc.probers.evictions) + "\n";

    header(out, "vitals_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
    for (size_t r = 0; r < size_t(Route::count_); ++r)
        for (int code = 100; code <= 599; ++code) {
            uint64_t n = http.get(Route(r), code);
            if (n == 0) continue;
            out += "vitals_http_requests_total{path=\"" + std::string(route_label(Route(r))) + "\",code=\"" +
                   std::to_string(code) + "\"} " + std::to_string(n) + "\n";
        }
    header(out, "vitals_http_connections_closed_total", "counter",
           "Health port connections closed, by reason (answered_close, peer_closed, limit, timeout, "
           "protocol_error, io_error, shutdown).");
    for (size_t r = 0; r < size_t(CloseReason::count_); ++r)
        out += "vitals_http_connections_closed_total{reason=\"" + std::string(close_reason_label(CloseReason(r))) +
               "\"} " + std::to_string(http.closes(CloseReason(r))) + "\n";
    return out;
}

}  // namespace vitals
