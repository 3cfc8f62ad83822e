// What the history (SPEC §6) records and answers: events in, pages of items out.
#pragma once

#include "common/result.h"
#include "common/status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vitals {

enum class EventKind { result = 0, transition = 1 };

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
    int limit = 100;
    std::optional<int64_t> before_id;   // from the cursor: only ids below it
};

struct HistoryPage {
    std::vector<HistoryEvent> items;    // newest first
    std::optional<int64_t> next_before_id;
};

}  // namespace vitals
