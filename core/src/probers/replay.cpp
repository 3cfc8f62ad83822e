#include "probers/replay.h"

#include "common/duration.h"
#include "common/json_out.h"
#include "common/text.h"
#include "probers/probers_api.h"

#include <algorithm>
#include <cstdio>

namespace vitals {

namespace {

constexpr int64_t kDayMs = 86'400'000;

bool all_digits(const std::string& s) {
    return !s.empty() && s.size() <= 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The cause of a group's status in force at `t_ms`, reading `transitions` (oldest first) from
// `cursor` on; times only grow, so the cursor only moves forward.
struct CauseCursor {
    const std::vector<TransitionRow>* transitions = nullptr;
    size_t next = 0;
    const TransitionRow* at(int64_t t_ms) {
        if (!transitions) return nullptr;
        while (next < transitions->size() && (*transitions)[next].ts_ms <= t_ms) ++next;
        return next == 0 ? nullptr : &(*transitions)[next - 1];
    }
};

// Runs one prober's answers through the model and keeps what a reader wants of it.
class ProberReplay {
public:
    ProberReplay(ReplayProber& out, const Config::LoadBalancer& lb, const std::vector<TransitionRow>* transitions)
        : out_(out), lb_(lb) {
        causes_.transitions = transitions;
    }

    void feed(int64_t time_us, int code, int64_t latency_us) {
        ++out_.probes;
        if (out_.probes == 1) {
            ReplayChange c;
            c.time_us = time_us;
            c.state = ProberState::initial;
            c.reason = model_.reason();
            c.cause = cause(time_us);
            out_.changes.push_back(std::move(c));
        }
        Answer a = judge_answer(lb_, code, latency_us);
        bool changed = model_.feed(a, code, lb_);
        if (a != Answer::healthy && model_.streak() == 1) failing_since_us_ = time_us;
        if (!changed) return;
        ReplayChange c;
        c.time_us = time_us;
        c.state = model_.state();
        c.reason = model_.reason();
        if (c.reason == "Target.ResponseCodeMismatch" || c.reason == "Target.FailedHealthChecks")
            c.codes = model_.failing_codes();
        c.cause = cause(time_us);
        c.code = code;
        c.latency_us = latency_us;
        if (c.state == ProberState::unhealthy) {
            ReplayEpisode e;
            e.start_us = time_us;
            e.detection_ms = (time_us - failing_since_us_) / 1000;
            e.cause = c.cause;
            out_.summary.episodes.push_back(e);
        } else if (!out_.summary.episodes.empty() && !out_.summary.episodes.back().end_us) {
            out_.summary.episodes.back().end_us = time_us;
        }
        out_.changes.push_back(std::move(c));
    }

    const LbModel& model() const { return model_; }

private:
    std::string cause(int64_t time_us) {
        const TransitionRow* t = causes_.at(time_us / 1000);
        return t ? t->cause : "";
    }

    ReplayProber& out_;
    const Config::LoadBalancer& lb_;
    LbModel model_;
    CauseCursor causes_;
    int64_t failing_since_us_ = 0;
};

void total_unhealthy(ReplaySummary& s, int64_t until_us) {
    s.unhealthy_ms = 0;
    for (const auto& e : s.episodes) s.unhealthy_ms += (e.end_us.value_or(until_us) - e.start_us) / 1000;
}

// The target as the balancer saw it: unhealthy while any prober had it unhealthy.
ReplaySummary union_of(const std::vector<ReplayProber>& probers, int64_t until_us) {
    std::vector<ReplayEpisode> all;
    for (const auto& p : probers) all.insert(all.end(), p.summary.episodes.begin(), p.summary.episodes.end());
    std::sort(all.begin(), all.end(), [](const ReplayEpisode& a, const ReplayEpisode& b) { return a.start_us < b.start_us; });
    ReplaySummary s;
    for (const auto& e : all) {
        if (!s.episodes.empty()) {
            ReplayEpisode& last = s.episodes.back();
            if (!last.end_us || e.start_us <= *last.end_us) {
                if (last.end_us) last.end_us = e.end_us ? std::optional<int64_t>(std::max(*last.end_us, *e.end_us)) : std::nullopt;
                continue;
            }
        }
        s.episodes.push_back(e);
    }
    total_unhealthy(s, until_us);
    return s;
}

const HttpStatusMap& status_map(const Config& config, const std::string& group) {
    const GroupConfig* g = config.find_group(group);
    return g && g->http_status ? *g->http_status : config.policy.http_status;
}

void replay_probes(SqliteHistoryStore& store, const ReplayQuery& q, ReplayResult& r) {
    struct Entry {
        ReplayProber prober;
        std::unique_ptr<ProberReplay> replay;
    };
    std::vector<std::unique_ptr<Entry>> entries;
    std::map<std::string, std::vector<TransitionRow>> transitions;  // by group, read once each
    Entry* last = nullptr;
    std::vector<ProbeSample> samples;
    store.scan_probes(q.since_ms, q.until_ms, q.prober, [&](const ProbeRowView& row) {
        if (!last || last->prober.address != row.address || last->prober.user_agent != row.user_agent ||
            last->prober.path != row.path) {
            last = nullptr;
            for (auto& e : entries)
                if (e->prober.address == row.address && e->prober.user_agent == row.user_agent &&
                    e->prober.path == row.path) {
                    last = e.get();
                    break;
                }
            if (!last) {
                std::string group = group_of_status_path(std::string(row.path));
                if (q.group && group != *q.group) return;
                auto e = std::make_unique<Entry>();
                e->prober.address = std::string(row.address);
                e->prober.user_agent = std::string(row.user_agent);
                e->prober.path = std::string(row.path);
                e->prober.group = group;
                auto it = transitions.find(group);
                if (it == transitions.end())
                    it = transitions.emplace(group, group.empty() ? std::vector<TransitionRow>{}
                                                                  : store.transitions_of(group, q.until_ms))
                             .first;
                e->replay = std::make_unique<ProberReplay>(e->prober, r.settings, &it->second);
                entries.push_back(std::move(e));
                last = entries.back().get();
            }
        }
        last->replay->feed(row.ts_ms * 1000, row.code, row.latency_us);
        samples.clear();
        if (row.samples) decode_samples(row.samples, row.ts_ms, samples);
        for (const auto& s : samples) last->replay->feed(s.time_us, s.code, s.latency_us);
        // Answers of a flood beyond the row's samples are counted, not replayed one by one.
        last->prober.probes += uint64_t(std::max<int64_t>(0, row.count - 1 - int64_t(samples.size())));
    });
    for (auto& e : entries) {
        total_unhealthy(e->prober.summary, q.until_ms * 1000);
        r.probers.push_back(std::move(e->prober));
    }
    std::sort(r.probers.begin(), r.probers.end(), [](const ReplayProber& a, const ReplayProber& b) {
        return std::tie(a.address, a.path, a.user_agent) < std::tie(b.address, b.path, b.user_agent);
    });
    if (r.probers.empty())
        r.note = "no probes recorded from " + rfc3339_us(q.since_ms * 1000) + " to " + rfc3339_us(q.until_ms * 1000) +
                 (q.prober ? " by " + *q.prober : "") + (q.group ? " on group " + *q.group : "");
}

void replay_status(SqliteHistoryStore& store, const ReplayQuery& q, const Config& config, ReplayResult& r) {
    const std::string& lb_path = config.load_balancer.path;
    std::string group = q.group.value_or(lb_path.empty() ? "default" : group_of_status_path(lb_path));
    std::vector<TransitionRow> transitions = store.transitions_of(group, q.until_ms);
    ReplayProber p;
    p.simulated = true;
    p.path = group == "default" ? "/health" : "/health/" + group;
    p.group = group;
    const HttpStatusMap& codes = status_map(config, group);
    const Config::LoadBalancer& lb = r.settings;
    ProberReplay replay(p, lb, &transitions);
    int64_t step = lb.interval.count();
    // The first probe at `since`, or at the group's first recorded status when that is later.
    int64_t t = q.since_ms;
    if (!transitions.empty() && transitions.front().ts_ms > t)
        t += ((transitions.front().ts_ms - t + step - 1) / step) * step;
    size_t next = 0;  // the first transition after t
    while (!transitions.empty() && t <= q.until_ms) {
        while (next < transitions.size() && transitions[next].ts_ms <= t) ++next;
        const TransitionRow& now = transitions[next - 1];
        int code = codes.code_for(now.status);
        replay.feed(t * 1000, code, 0);  // answered from memory: never late
        Answer a = judge_answer(lb, code, 0);
        if (replay.model().settled_for(a, lb)) {
            // Nothing changes until the status does: skip to the first probe after the next transition.
            if (next >= transitions.size()) {
                p.probes += uint64_t((q.until_ms - t) / step);
                break;
            }
            int64_t skip = (transitions[next].ts_ms - t) / step;
            if (skip > 1) {
                p.probes += uint64_t(skip - 1);
                t += (skip - 1) * step;
            }
        }
        t += step;
    }
    total_unhealthy(p.summary, q.until_ms * 1000);
    if (transitions.empty())
        r.note = "no recorded status of group " + group + " up to " + rfc3339_us(q.until_ms * 1000);
    else
        r.probers.push_back(std::move(p));
}

void append_string_or_null(std::string& out, const std::string& s) {
    if (s.empty())
        out += "null";
    else
        append_json_string(out, utf8_sanitize(s));
}

std::string summary_json(const ReplaySummary& s) {
    std::string episodes = "[";
    for (size_t i = 0; i < s.episodes.size(); ++i) {
        const ReplayEpisode& e = s.episodes[i];
        if (i) episodes += ',';
        JsonObject o(episodes);
        o.str("start", rfc3339_us(e.start_us));
        o.raw("end", e.end_us ? "\"" + rfc3339_us(*e.end_us) + "\"" : std::string("null"));
        o.num("detection_ms", e.detection_ms);
        append_string_or_null(o.key("cause"), e.cause);
    }
    episodes += ']';
    std::string out;
    JsonObject o(out);
    o.num("unhealthy_episodes", int64_t(s.episodes.size()));
    o.num("unhealthy_ms", s.unhealthy_ms);
    o.raw("first_unhealthy", s.episodes.empty() ? std::string("null") : "\"" + rfc3339_us(s.episodes[0].start_us) + "\"");
    // From the first failing answer to the unhealthy decision, in the first episode.
    o.raw("first_detection_ms", s.episodes.empty() ? std::string("null") : std::to_string(s.episodes[0].detection_ms));
    o.raw("episodes", episodes);
    return out;
}

std::string codes_text(const std::vector<int>& codes) {
    std::string s;
    for (int c : codes) s += (s.empty() ? "" : ",") + std::to_string(c);
    return s;
}

}  // namespace

std::variant<ReplayQuery, QueryError> parse_replay_query(const QueryParams& params, int64_t now_ms, const Config& config) {
    ReplayQuery q;
    q.settings = config.load_balancer;
    std::optional<int64_t> since, until;
    std::vector<std::string> seen;
    for (const auto& [key, value] : params) {
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) return QueryError{key, "given more than once"};
        seen.push_back(key);
        if (key == "source") {
            if (value == "probes")
                q.source = ReplayQuery::Source::probes;
            else if (value == "status")
                q.source = ReplayQuery::Source::status;
            else
                return QueryError{key, "\"" + value + "\" is not a source; use probes or status"};
        } else if (key == "group") {
            if (!config.find_group(value)) return QueryError{key, "\"" + value + "\" is not a group of the configuration"};
            q.group = value;
        } else if (key == "prober") {
            if (!is_ip_address(value)) return QueryError{key, "\"" + value + "\" is not an IP address (a prober's address)"};
            q.prober = value;
        } else if (key == "since" || key == "until") {
            auto t = parse_time_param(value, now_ms);
            if (!t) return QueryError{key, "\"" + value + "\" is not a time; use RFC 3339, unix seconds or -15m"};
            (key == "since" ? since : until) = *t;
        } else if (key == "interval" || key == "timeout") {
            auto d = parse_duration(value);
            Millis least = key == "interval" ? Millis(100) : Millis(10);
            if (!d || *d < least)
                return QueryError{key, "\"" + value + "\" is not a duration of at least " + format_duration(least) +
                                           " (\"5s\", \"250ms\")"};
            (key == "interval" ? q.settings.interval : q.settings.timeout) = *d;
        } else if (key == "healthy_threshold" || key == "unhealthy_threshold") {
            int n = all_digits(value) ? std::stoi(value) : 0;
            if (n < 2 || n > 10) return QueryError{key, "must be an integer from 2 to 10 (ALB's range)"};
            (key == "healthy_threshold" ? q.settings.healthy_threshold : q.settings.unhealthy_threshold) = n;
        } else if (key == "match") {
            std::string why;
            auto ranges = parse_code_ranges(value, why);
            if (!ranges) return QueryError{key, why};
            q.settings.match = *ranges;
            q.settings.match_text = value;
        } else {
            return QueryError{key, "unknown parameter; known: source, group, prober, since, until, interval, timeout, "
                                   "healthy_threshold, unhealthy_threshold, match"};
        }
    }
    if (q.settings.timeout >= q.settings.interval)
        return QueryError{"timeout", "must be shorter than the interval (" + format_duration(q.settings.timeout) +
                                         " >= " + format_duration(q.settings.interval) + ")"};
    q.until_ms = until.value_or(now_ms);
    q.since_ms = since.value_or(q.until_ms - kDayMs);
    if (q.since_ms > q.until_ms) return QueryError{"since", "is after until"};
    if (q.source == ReplayQuery::Source::status && q.prober)
        return QueryError{"prober", "selects recorded probers; the what-if (source=status) simulates one"};
    if (q.source == ReplayQuery::Source::status && !q.group && !config.load_balancer.path.empty())
        q.group = group_of_status_path(config.load_balancer.path);
    return q;
}

ReplayResult run_replay(SqliteHistoryStore* store, const ReplayQuery& q, const Config& config) {
    ReplayResult r;
    r.settings = q.settings;
    r.since_ms = q.since_ms;
    r.until_ms = q.until_ms;
    r.source = q.source == ReplayQuery::Source::status ? q.source : ReplayQuery::Source::probes;
    if (!store) {
        r.note = "no history recorded yet";
        return r;
    }
    if (q.source == ReplayQuery::Source::automatic)
        r.source = store->has_probes(q.since_ms, q.until_ms) ? ReplayQuery::Source::probes : ReplayQuery::Source::status;
    if (r.source == ReplayQuery::Source::probes)
        replay_probes(*store, q, r);
    else
        replay_status(*store, q, config, r);
    r.summary = union_of(r.probers, q.until_ms * 1000);
    return r;
}

std::string replay_json(const ReplayResult& r) {
    std::string probers = "[";
    for (size_t i = 0; i < r.probers.size(); ++i) {
        const ReplayProber& p = r.probers[i];
        if (i) probers += ',';
        std::string changes = "[";
        for (size_t k = 0; k < p.changes.size(); ++k) {
            const ReplayChange& c = p.changes[k];
            if (k) changes += ',';
            JsonObject o(changes);
            o.str("time", rfc3339_us(c.time_us)).str("state", to_string(c.state));
            append_string_or_null(o.key("reason"), c.reason);
            if (!c.codes.empty()) o.raw("codes", "[" + codes_text(c.codes) + "]");
            append_string_or_null(o.key("cause"), c.cause);
            if (c.code) {
                std::string answer;
                {
                    JsonObject a(answer);
                    a.num("code", int64_t(*c.code));
                    if (c.latency_us < 0)  // the client had closed: it never saw this answer
                        a.raw("latency_ms", "null").boolean("abandoned", true);
                    else
                        a.dbl("latency_ms", double(c.latency_us) / 1000.0);
                }
                o.raw("answer", answer);
            }
        }
        changes += ']';
        JsonObject o(probers);
        append_string_or_null(o.key("address"), p.address);
        append_string_or_null(o.key("user_agent"), p.user_agent);
        o.str("path", utf8_sanitize(p.path));
        o.boolean("simulated", p.simulated);
        o.num("probes", uint64_t(p.probes));
        o.raw("changes", changes);
        o.raw("summary", summary_json(p.summary));
    }
    probers += ']';
    std::string out;
    JsonObject o(out);
    o.str("source", r.source == ReplayQuery::Source::status ? "status" : "probes");
    o.raw("settings", lb_settings_json(r.settings));
    o.str("since", rfc3339_us(r.since_ms * 1000)).str("until", rfc3339_us(r.until_ms * 1000));
    o.raw("probers", probers);
    o.raw("summary", summary_json(r.summary));
    if (!r.note.empty()) o.str("note", r.note);
    return out;
}

std::string replay_text(const ReplayResult& r) {
    const Config::LoadBalancer& lb = r.settings;
    std::string out = std::string("replay of ") + (r.source == ReplayQuery::Source::status ? "recorded status" : "probes") +
                      " from " + rfc3339_us(r.since_ms * 1000) + " to " + rfc3339_us(r.until_ms * 1000) + "\n";
    out += "settings: interval " + format_duration(lb.interval) + ", timeout " + format_duration(lb.timeout) +
           ", healthy " + std::to_string(lb.healthy_threshold) + ", unhealthy " + std::to_string(lb.unhealthy_threshold) +
           ", match " + lb.match_text + "\n";
    if (!r.note.empty()) return out + r.note + "\n";
    char line[1024];
    for (const auto& p : r.probers) {
        out += "\n";
        if (p.simulated)
            out += "simulated prober of " + p.path + ": " + std::to_string(p.probes) + " probes\n";
        else
            out += "prober " + p.address + " \"" + p.user_agent + "\" " + p.path + ": " + std::to_string(p.probes) +
                   " answers\n";
        for (const auto& c : p.changes) {
            std::string reason = c.reason;
            if (!c.codes.empty()) reason += " [" + codes_text(c.codes) + "]";
            std::string answer;
            if (c.code) {
                char a[64];
                if (c.latency_us < 0)
                    std::snprintf(a, sizeof a, "answered %d after it left", *c.code);
                else
                    std::snprintf(a, sizeof a, "answered %d in %.1f ms", *c.code, double(c.latency_us) / 1000.0);
                answer = a;
            }
            std::snprintf(line, sizeof line, "  %s  %-9s  %-36s  %-24s  %s\n", rfc3339_us(c.time_us).c_str(),
                          to_string(c.state), reason.c_str(), answer.c_str(),
                          c.cause.empty() ? "" : ("cause: " + c.cause).c_str());
            out += line;
        }
    }
    const ReplaySummary& s = r.summary;
    std::snprintf(line, sizeof line, "\nsummary: %zu unhealthy episode%s, %.1f s unhealthy in all", s.episodes.size(),
                  s.episodes.size() == 1 ? "" : "s", double(s.unhealthy_ms) / 1000.0);
    out += line;
    if (!s.episodes.empty())
        out += "; first at " + rfc3339_us(s.episodes[0].start_us) + ", " + std::to_string(s.episodes[0].detection_ms) +
               " ms after its first failing answer";
    out += "\n";
    for (const auto& e : s.episodes) {
        std::snprintf(line, sizeof line, "  %s .. %s  %s\n", rfc3339_us(e.start_us).c_str(),
                      e.end_us ? rfc3339_us(*e.end_us).c_str() : "(still unhealthy)",
                      e.cause.empty() ? "" : ("cause: " + e.cause).c_str());
        out += line;
    }
    return out;
}

}  // namespace vitals
