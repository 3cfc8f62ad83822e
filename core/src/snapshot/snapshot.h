// The immutable view the HTTP server answers from. Built by the scheduler whenever something
// changes (and at least once a second, so pending/stale age correctly), swapped in atomically;
// a request only copies a shared_ptr and writes pre-rendered bytes.
#pragma once

#include "common/time_format.h"
#include "config/config.h"
#include "policy/policy.h"
#include "policy/check_state.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vitals {

// A status ready to send: the code and both bodies (full details, and {"status"} alone).
struct RenderedStatus {
    Status status = Status::fail;
    int code = 503;
    std::string full;
    std::string brief;
};

struct Snapshot {
    WallTime built;
    std::map<std::string, RenderedStatus> groups;  // by group name; "default" always present
    std::map<std::string, RenderedStatus> checks;  // /health/checks/{name}
    std::map<std::string, GroupVerdict> verdicts;  // by group name
    std::vector<CheckViewPtr> views;               // in configuration order
    bool draining = false;
    // The server settings of the configuration it was built from, so that a status request reads
    // nothing but the snapshot (not also the daemon's configuration pointer).
    Details details = Details::loopback;
    std::string admin_token_env;
};

struct SnapshotInputs {
    const Config* config = nullptr;
    const std::vector<CheckViewPtr>* views = nullptr;
    MonoTime now;
    WallTime wall_now;
    bool in_start_period = false;
    bool draining = false;
    std::string service_id;
};

// The renderings of the checks' bodies kept between builds: one per publisher (StatusPublisher),
// used by one build at a time. An entry is reused only for the very view object it was rendered
// from, with the same standing and service id, so a stale entry can cost a re-render, never a wrong
// body; entries a build did not use are dropped.
class RenderCache {
public:
    RenderCache();
    ~RenderCache();
    RenderCache(const RenderCache&) = delete;
    RenderCache& operator=(const RenderCache&) = delete;
    size_t size() const;  // checks with a rendering kept

    struct Entries;  // defined in snapshot.cpp

private:
    friend std::shared_ptr<const Snapshot> build_snapshot(const struct SnapshotInputs& in, RenderCache& cache);
    std::unique_ptr<Entries> entries_;
};

// Bodies are rendered once per change: a check's rendering is reused from the previous build while
// its view is the same object and its standing is unchanged, so a rebuild costs about the checks
// that changed (and a pointer copy for the others).
std::shared_ptr<const Snapshot> build_snapshot(const SnapshotInputs& in, RenderCache& cache);

// A single slot holding the current snapshot. Readers never block on a writer for longer than a
// shared_ptr copy (libstdc++'s atomic shared_ptr functions use a small spinlock pool).
class SnapshotSlot {
public:
    std::shared_ptr<const Snapshot> load() const { return std::atomic_load(&current_); }
    void store(std::shared_ptr<const Snapshot> s) { std::atomic_store(&current_, std::move(s)); }

private:
    std::shared_ptr<const Snapshot> current_;
};

}  // namespace vitals
