// What the history (SPEC §6) records and answers: events in, pages of items out.
#pragma once

#include "common/result.h"
#include "common/status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vitals {

enum class EventKind { result = 0, transition = 1, probe = 2 };

const char* to_string(EventKind k);

// One answer on a status path, as the event loop saw it (SPEC §9).
struct ProbeSample {
    int64_t time_us = 0;     // unix microseconds: when the request's bytes reached this host
    int64_t latency_us = 0;  // from then until the answer was handed to the kernel; kAbandoned: the
                             // client closed before it (it gave up: a timeout, as it saw it)
    int code = 0;
    static constexpr int64_t kAbandoned = -1;
};

// A prober's answers of one second at most (SPEC §9: at most one row per prober per second).
struct ProbeRow {
    std::string address;
    std::string user_agent;
    std::string path;
    int64_t count = 0;                 // answers in the row; more than samples.size() in a flood
    std::vector<ProbeSample> samples;  // in time order, the first at the row's time; at most kMaxSamples
    static constexpr size_t kMaxSamples = 32;
};

// One row: a raw check result, or a status transition of a check or a group.
struct HistoryEvent {
    int64_t id = 0;          // assigned by the store; ascending with insertion
    int64_t time_ms = 0;     // unix milliseconds
    std::string check;       // check or group name
    EventKind kind = EventKind::result;
    Status status = Status::fail;  // effective status (after damping / the group's verdict)
    // results: the run as it came (its status is the raw status), and how long it took
    std::optional<RunResult> run;
    std::optional<int64_t> duration_ms;
    // transitions
    std::optional<Status> previous;  // nullopt: first status (was pending / starting)
    std::string cause;
    // probes (check: the group the path answers; status: fail when any answer in it was unhealthy)
    std::optional<ProbeRow> probe;
};

// Where the scheduler sends what happens. Implementations must not block the caller.
class HistorySink {
public:
    virtual ~HistorySink() = default;
    virtual void record(HistoryEvent event) = 0;
};

struct HistoryQuery {
    std::vector<std::string> checks;    // empty: all
    std::vector<Status> statuses;       // empty: all
    std::optional<int64_t> since_ms;    // inclusive
    std::optional<int64_t> until_ms;    // inclusive
    bool transitions_only = false;
    std::vector<EventKind> kinds;       // empty: results and transitions (probes only when asked for)
    std::optional<std::string> prober;  // probes of this client address only
    int limit = 100;
    std::optional<int64_t> before_id;   // from the cursor: only ids below it
};

struct HistoryPage {
    std::vector<HistoryEvent> items;    // newest first
    std::optional<int64_t> next_before_id;
};

}  // namespace vitals
