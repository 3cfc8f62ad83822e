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

// The series of one histogram: cumulative buckets, +Inf, sum and count. `labels` is "" or
// `check="x"` (without braces).
template <size_t N>
void put_histogram(std::string& out, const char* name, const std::string& labels, const std::array<double, N>& bounds,
                   const FixedHistogram<N>& h) {
    std::string sep = labels.empty() ? "" : labels + ",";
    std::string own = labels.empty() ? "" : "{" + labels + "}";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < N; ++i) {
        cumulative += h.counts[i];
        out += std::string(name) + "_bucket{" + sep + "le=\"" + number(bounds[i]) + "\"} " + std::to_string(cumulative) +
               "\n";
    }
    out += std::string(name) + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += std::string(name) + "_sum" + own + " " + number(h.sum) + "\n";
    out += std::string(name) + "_count" + own + " " + std::to_string(h.count) + "\n";
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
    out.reserve(4096 + snap.checks.size() * 1500);

    header(out, "vitals_build_info", "gauge", "Build information; always 1.");
    out += "vitals_build_info{version=\"" VITALS_VERSION "\"} 1\n";

    header(out, "vitals_check_status", "gauge", "1 for the check's current status (stateset), else 0.");
    for (const PublishedCheck& c : snap.checks) {
        const CheckView& v = *c.view;
        Status current = c.standing.status;
        for (Status s : {Status::pass, Status::warn, Status::fail})
            out += "vitals_check_status{check=\"" + label(v.name) + "\",status=\"" + to_string(s) + "\"} " +
                   (s == current ? "1\n" : "0\n");
    }

    header(out, "vitals_check_duration_seconds", "histogram", "Duration of check runs.");
    for (const PublishedCheck& c : snap.checks) {
        const CheckView& v = *c.view;
        put_histogram(out, "vitals_check_duration_seconds", "check=\"" + label(v.name) + "\"",
                      CheckView::kDurationBuckets, v.durations);
    }

    header(out, "vitals_check_runs_total", "counter", "Check results recorded, by raw result.");
    for (const PublishedCheck& c : snap.checks) {
        const CheckView& v = *c.view;
        std::string check = label(v.name);
        out += "vitals_check_runs_total{check=\"" + check + "\",result=\"pass\"} " + std::to_string(v.passes) + "\n";
        out += "vitals_check_runs_total{check=\"" + check + "\",result=\"warn\"} " + std::to_string(v.warns) + "\n";
        out += "vitals_check_runs_total{check=\"" + check + "\",result=\"fail\"} " + std::to_string(v.fails) + "\n";
    }

    header(out, "vitals_check_timeouts_total", "counter", "Check runs that overran their timeout.");
    for (const PublishedCheck& c : snap.checks)
        out += "vitals_check_timeouts_total{check=\"" + label(c.view->name) + "\"} " + std::to_string(c.view->timeouts) +
               "\n";

    // Fleet questions (SPEC §11, issue 17): what each check is, so rules can join on scope and
    // impact, and how often its effective status changed, for flapping. Labels come from the
    // configuration only.
    header(out, "vitals_check_info", "gauge", "A configured check: its type, impact and scope; always 1.");
    for (const PublishedCheck& c : snap.checks) {
        const CheckView& v = *c.view;
        out += "vitals_check_info{check=\"" + label(v.name) + "\",type=\"" + label(v.type) + "\",impact=\"" +
               to_string(v.impact) + "\",scope=\"" + (v.scope == Scope::shared ? "shared" : "local") + "\"} 1\n";
    }
    header(out, "vitals_check_transitions_total", "counter",
           "Changes of the check's effective status (pending counts as fail).");
    for (const PublishedCheck& c : snap.checks)
        out += "vitals_check_transitions_total{check=\"" + label(c.view->name) + "\"} " +
               std::to_string(c.view->transitions) + "\n";

    // The scheduler's own cost and punctuality (issue 14, item 19).
    const SchedulerStats& st = snap.scheduler;
    header(out, "vitals_scheduler_start_lag_seconds", "histogram",
           "Delay from a run's due time until a worker started it.");
    put_histogram(out, "vitals_scheduler_start_lag_seconds", "", SchedulerStats::kLagBuckets, st.lag);
    header(out, "vitals_scheduler_missed_runs_total", "counter",
           "Due runs that never started: the check was stuck, or its run started an interval or more late.");
    out += "vitals_scheduler_missed_runs_total " + std::to_string(st.missed_runs) + "\n";
    header(out, "vitals_snapshot_builds_total", "counter", "Status snapshots built.");
    out += "vitals_snapshot_builds_total " + std::to_string(st.snapshots) + "\n";
    header(out, "vitals_snapshot_build_seconds_total", "counter", "Time spent building status snapshots.");
    out += "vitals_snapshot_build_seconds_total " + number(st.snapshot_seconds) + "\n";

    header(out, "vitals_group_status", "gauge", "1 for the group's current status (stateset), else 0.");
    for (const auto& g : snap.groups)
        for (Status s : {Status::pass, Status::warn, Status::fail})
            out += "vitals_group_status{group=\"" + label(g->name) + "\",status=\"" + to_string(s) + "\"} " +
                   (s == g->verdict.status ? "1\n" : "0\n");

    header(out, "vitals_group_info", "gauge", "A configured group; always 1.");
    for (const auto& g : snap.groups) out += "vitals_group_info{group=\"" + label(g->name) + "\"} 1\n";
    header(out, "vitals_group_transitions_total", "counter",
           "Changes of the group's status since it was configured (its first status is not one).");
    for (const auto& g : snap.groups)
        out += "vitals_group_transitions_total{group=\"" + label(g->name) + "\"} " + std::to_string(g->transitions) +
               "\n";

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
    header(out, "vitals_config_last_reload_success_timestamp_seconds", "gauge",
           "Unix time of the last successful configuration load (start-up included).");
    out += "vitals_config_last_reload_success_timestamp_seconds " + number(rc.last_reload_success_seconds) + "\n";

    if (rc.tls_cert_not_after > 0) {
        header(out, "vitals_tls_cert_expiry_timestamp_seconds", "gauge",
               "Unix time when the health port's TLS certificate (server.tls.cert) expires.");
        out += "vitals_tls_cert_expiry_timestamp_seconds " + std::to_string(rc.tls_cert_not_after) + "\n";
    }

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
           "protocol_error, io_error, tls_error, shutdown).");
    for (size_t r = 0; r < size_t(CloseReason::count_); ++r)
        out += "vitals_http_connections_closed_total{reason=\"" + std::string(close_reason_label(CloseReason(r))) +
               "\"} " + std::to_string(http.closes(CloseReason(r))) + "\n";
    return out;
}

}  // namespace vitals
