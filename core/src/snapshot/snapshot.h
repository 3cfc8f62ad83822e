// The immutable view the HTTP server answers from. Built by StatusPublisher (snapshot/publisher.h)
// whenever something changes, swapped in atomically; a request only copies a shared_ptr and writes
// pre-rendered bytes.
//
// A snapshot shares everything that did not change with the one before it (issue 14, item 19): a
// check is a PublishedCheck kept until its view or standing changes, the checks are held in chunks
// of CheckList::kChunk, and a group's body is made of parts of as many members each. A build where
// k checks changed costs about k renderings and a pointer per chunk, not the number of checks.
#pragma once

#include "common/histogram.h"
#include "common/time_format.h"
#include "config/config.h"
#include "policy/check_state.h"
#include "policy/policy.h"

#include <array>
#include <atomic>
#include <iterator>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace vitals {

// A status ready to send: the code, the brief body ({"status"} alone) and the full one, which is
// `full_head`, then `full_parts` in order, then `full_tail` (a check's is all head).
struct RenderedStatus {
    Status status = Status::fail;
    int code = 503;
    std::string brief;
    std::string full_head;
    std::vector<std::shared_ptr<const std::string>> full_parts;
    std::string full_tail;

    size_t full_size() const;
    std::string full() const;  // the whole full body, in one string
};

// A check as snapshots show it: shared by every snapshot until the check's view or standing changes.
struct PublishedCheck {
    CheckViewPtr view;
    Standing standing;       // at the time it was published; re-evaluated when it may change
    RenderedStatus rendered; // /health/checks/{name}
    std::string entry;       // "name:measurement":[component], for the group bodies' "checks" maps
    // view->recent rendered, one by one: a result is rendered once, then reused by the check's
    // next publications for as long as it is among its recent ones.
    std::vector<std::shared_ptr<const std::string>> recent_json;
};
using PublishedCheckPtr = std::shared_ptr<const PublishedCheck>;

struct PublishedGroup {
    std::string name;
    GroupVerdict verdict;
    RenderedStatus rendered;
    uint64_t transitions = 0;  // changes of the group's status since it was configured (not its first one)
};
using PublishedGroupPtr = std::shared_ptr<const PublishedGroup>;

// The checks in configuration order, in chunks shared between snapshots: replacing k checks copies
// at most k chunks and the list of chunk pointers.
class CheckList {
public:
    static constexpr size_t kChunk = 64;

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const PublishedCheck& operator[](size_t i) const { return *(*chunks_[i / kChunk])[i % kChunk]; }
    const PublishedCheckPtr& ptr(size_t i) const { return (*chunks_[i / kChunk])[i % kChunk]; }

    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = PublishedCheck;
        using difference_type = std::ptrdiff_t;
        using pointer = const PublishedCheck*;
        using reference = const PublishedCheck&;
        iterator(const CheckList* list, size_t i) : list_(list), i_(i) {}
        reference operator*() const { return (*list_)[i_]; }
        pointer operator->() const { return &(*list_)[i_]; }
        iterator& operator++() {
            ++i_;
            return *this;
        }
        bool operator==(const iterator& o) const { return i_ == o.i_; }
        bool operator!=(const iterator& o) const { return i_ != o.i_; }

    private:
        const CheckList* list_;
        size_t i_;
    };
    iterator begin() const { return iterator(this, 0); }
    iterator end() const { return iterator(this, size_); }

    // Building (the publisher's): all checks anew, or some of them replaced. Snapshots holding
    // this list before keep their chunks.
    void assign(const std::vector<PublishedCheckPtr>& all);
    void replace(std::vector<std::pair<size_t, PublishedCheckPtr>> changes);

    // How many chunks this list shares with `other` (tests: what a build copied).
    size_t chunks_shared_with(const CheckList& other) const;

private:
    using Chunk = std::vector<PublishedCheckPtr>;
    std::vector<std::shared_ptr<const Chunk>> chunks_;
    size_t size_ = 0;
};

// Names to positions, built once per configuration and shared by its snapshots.
struct SnapshotIndex {
    std::unordered_map<std::string, size_t> checks;
    std::unordered_map<std::string, size_t> groups;
};

// What the scheduler measured of itself, for /metrics (issue 14, item 19).
struct SchedulerStats {
    // Start lag: from a run's due time until a worker starts it (upper bounds in seconds).
    static constexpr std::array<double, 8> kLagBuckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1};
    FixedHistogram<kLagBuckets.size()> lag;
    uint64_t missed_runs = 0;     // due runs skipped: the check was stuck, or the run started an interval late
    uint64_t snapshots = 0;       // snapshots built
    double snapshot_seconds = 0;  // time spent building them
};

struct Snapshot {
    WallTime built;
    CheckList checks;                         // configuration order
    std::vector<PublishedGroupPtr> groups;    // configuration order; "default" always present
    std::shared_ptr<const SnapshotIndex> index;
    bool draining = false;
    // The server settings of the configuration it was built from, so that a status request reads
    // nothing but the snapshot (not also the daemon's configuration pointer).
    Details details = Details::loopback;
    std::string admin_token_env;
    SchedulerStats scheduler;

    const PublishedCheck* find_check(const std::string& name) const;
    const PublishedGroup* find_group(const std::string& name) const;
    const PublishedGroup& group(const std::string& name) const;  // throws std::out_of_range
};

// Renders a check's bodies (its /health/checks/{name} body, answered with `code`, and its group
// entry) for `standing`. `previous` (may be null): the check's last publication, whose renderings
// of the recent results still among the view's are reused.
PublishedCheckPtr publish_check(CheckViewPtr view, const Standing& standing, int code, const std::string& service_id,
                                const PublishedCheck* previous = nullptr);

// Renders a group's status, brief body and the head and tail of its full body around its parts
// (the members' entries); the caller sets the code and the parts.
void render_group_ends(RenderedStatus& r, const std::string& group, const GroupVerdict& verdict,
                       const std::string& service_id);

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
