#include "probers/prober_record.h"
#include "common/thread_name.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

namespace vitals {

namespace {

constexpr std::chrono::milliseconds kMergeEvery{100};
constexpr size_t kMaxTextBytes = 256;  // of a User-Agent or path kept per prober

// family (1 byte), address (16), User-Agent, NUL, path: one string, so a lookup needs no allocation.
void make_key(std::string& key, const PeerAddress& peer, std::string_view ua, std::string_view path) {
    key.clear();
    key.push_back(char(peer.family));
    key.append(reinterpret_cast<const char*>(peer.bytes.data()), peer.bytes.size());
    key.append(ua.substr(0, kMaxTextBytes));
    key.push_back('\0');
    key.append(path.substr(0, kMaxTextBytes));
}

void split_key(const std::string& key, PeerAddress& peer, std::string& ua, std::string& path) {
    peer.family = uint8_t(key[0]);
    std::memcpy(peer.bytes.data(), key.data() + 1, peer.bytes.size());
    size_t nul = key.find('\0', 17);
    ua = key.substr(17, nul - 17);
    path = key.substr(nul + 1);
}

}  // namespace

PeerAddress PeerAddress::from(const sockaddr_storage& ss) {
    PeerAddress a;
    if (ss.ss_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        a.family = 4;
        std::memcpy(a.bytes.data(), &in->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            a.family = 4;
            std::memcpy(a.bytes.data(), in6->sin6_addr.s6_addr + 12, 4);
        } else {
            a.family = 6;
            std::memcpy(a.bytes.data(), in6->sin6_addr.s6_addr, 16);
        }
    }
    return a;
}

std::string PeerAddress::text() const {
    char buf[INET6_ADDRSTRLEN] = "unknown";
    if (family == 4) ::inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
    if (family == 6) ::inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

int64_t ProberRecord::now_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

ProberRecord::ProberRecord(size_t loops, std::shared_ptr<const Config> config, HistorySink* history)
    : config_(std::move(config)), history_(history) {
    for (size_t i = 0; i < std::max<size_t>(1, loops); ++i) {
        loops_.push_back(std::make_unique<LoopTable>());
        loops_.back()->key.reserve(64);
    }
}

ProberRecord::~ProberRecord() { stop(); }

void ProberRecord::set_config(std::shared_ptr<const Config> config) {
    std::lock_guard<std::mutex> lock(mu_);
    config_ = std::move(config);
}

void ProberRecord::record(size_t loop, const PeerAddress& peer, std::string_view user_agent, std::string_view path,
                          int code, int64_t received_us, int64_t answered_us) {
    by_code_[size_t(std::clamp(code, 100, 599) - 100)].fetch_add(1, std::memory_order_relaxed);
    LoopTable& t = *loops_[loop % loops_.size()];
    make_key(t.key, peer, user_agent, path);
    ProbeSample s{received_us, answered_us < 0 ? ProbeSample::kAbandoned : std::max<int64_t>(0, answered_us - received_us),
                  code};
    std::lock_guard<std::mutex> lock(t.mu);
    auto it = t.entries.find(t.key);
    if (it == t.entries.end()) {
        if (t.entries.size() >= kMaxLoopEntries) {
            ++t.untracked;
            return;
        }
        it = t.entries.emplace(t.key, LoopEntry{}).first;
    }
    LoopEntry& e = it->second;
    ++e.count;
    if (e.samples.size() < kMaxSamples) e.samples.push_back(s);
}

void ProberRecord::start() {
    thread_ = std::thread([this] {
        name_this_thread("vitals-probers");
        loop_thread();
    });
}

void ProberRecord::stop() {
    {
        std::lock_guard<std::mutex> lock(stop_mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    stop_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    int64_t now = now_us();
    merge_locked(now);
    flush_rows_locked(now, true);
}

void ProberRecord::loop_thread() {
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, kMergeEvery, [&] { return stopping_; })) {
        lock.unlock();
        merge_now();
        lock.lock();
    }
}

void ProberRecord::merge_now() {
    std::lock_guard<std::mutex> lock(mu_);
    merge_locked(now_us());
}

ProberRecord::Prober& ProberRecord::prober_for(const std::string& key, int64_t now_us) {
    auto it = probers_.find(key);
    if (it != probers_.end()) return it->second;
    if (probers_.size() >= kMaxProbers) {
        auto victim = std::min_element(probers_.begin(), probers_.end(), [](const auto& a, const auto& b) {
            return a.second.last_seen_us < b.second.last_seen_us;
        });
        write_row(victim->second);
        probers_.erase(victim);
        evictions_.fetch_add(1, std::memory_order_relaxed);
    }
    Prober p;
    PeerAddress peer;
    split_key(key, peer, p.user_agent, p.path);
    p.address = peer.text();
    p.group = group_of_status_path(p.path);
    p.first_seen_us = now_us;
    return probers_.emplace(key, std::move(p)).first->second;
}

void ProberRecord::write_row(Prober& p) {
    if (!p.row) return;
    if (history_) {
        HistoryEvent ev;
        ev.time_ms = p.row_start_us / 1000;
        ev.check = p.group.empty() ? p.path : p.group;
        ev.kind = EventKind::probe;
        ev.status = p.row_unhealthy ? Status::fail : Status::pass;
        ev.probe = std::move(*p.row);
        history_->record(std::move(ev));
    }
    p.row.reset();
    p.row_unhealthy = false;
}

void ProberRecord::add_sample(Prober& p, const ProbeSample& s) {
    const Config::LoadBalancer& lb = config_->load_balancer;
    if (p.probes > 0 && s.time_us >= p.last_seen_us) {
        if (p.gaps_us.size() < kGaps)
            p.gaps_us.push_back(s.time_us - p.last_seen_us);
        else
            p.gaps_us[p.gap_next] = s.time_us - p.last_seen_us;
        p.gap_next = (p.gap_next + 1) % kGaps;
    }
    if (p.probes == 0) p.first_seen_us = s.time_us;
    p.last_seen_us = std::max(p.last_seen_us, s.time_us);
    ++p.probes;
    p.last_code = s.code;
    p.last_latency_us = s.latency_us;
    Answer a = judge_answer(lb, s.code, s.latency_us);
    p.model.feed(a, s.code, lb);
    if (drain_since_us_ && s.time_us >= *drain_since_us_) p.drain_unhealthy = a == Answer::healthy ? 0 : p.drain_unhealthy + 1;
    // Rows: one per prober per second at most; the first sample of a second opens it.
    if (p.row && s.time_us >= p.row_start_us + kRowWindowUs) write_row(p);
    if (!p.row) {
        p.row.emplace();
        p.row->address = p.address;
        p.row->user_agent = p.user_agent;
        p.row->path = p.path;
        p.row_start_us = s.time_us;
    }
    ++p.row->count;
    if (p.row->samples.size() < ProbeRow::kMaxSamples) p.row->samples.push_back(s);
    if (a != Answer::healthy) p.row_unhealthy = true;
}

void ProberRecord::flush_rows_locked(int64_t now_us, bool all) {
    // A row is written once its second is over and one more merge period has passed (an answer of
    // that second may still sit in another loop's table).
    int64_t grace = std::chrono::duration_cast<std::chrono::microseconds>(kMergeEvery).count() * 2;
    for (auto& [key, p] : probers_)
        if (p.row && (all || now_us >= p.row_start_us + kRowWindowUs + grace)) write_row(p);
}

void ProberRecord::merge_locked(int64_t now_us) {
    struct Taken {
        std::unordered_map<std::string, LoopEntry> entries;
    };
    std::vector<Taken> taken(loops_.size());
    for (size_t i = 0; i < loops_.size(); ++i) {
        LoopTable& t = *loops_[i];
        std::lock_guard<std::mutex> lock(t.mu);
        taken[i].entries.swap(t.entries);
        if (t.untracked) {
            evictions_.fetch_add(t.untracked, std::memory_order_relaxed);
            t.untracked = 0;
        }
    }
    // Per prober, the samples of every loop in time order (one client's connections may land on
    // either loop).
    std::map<std::string, std::pair<uint64_t, std::vector<ProbeSample>>> merged;
    for (auto& t : taken)
        for (auto& [key, e] : t.entries) {
            auto& m = merged[key];
            m.first += e.count;
            m.second.insert(m.second.end(), e.samples.begin(), e.samples.end());
        }
    for (auto& [key, m] : merged) {
        Prober& p = prober_for(key, now_us);
        std::sort(m.second.begin(), m.second.end(),
                  [](const ProbeSample& a, const ProbeSample& b) { return a.time_us < b.time_us; });
        for (const auto& s : m.second) add_sample(p, s);
        uint64_t uncounted = m.first - m.second.size();  // a flood: counted, not modelled one by one
        p.probes += uncounted;
        if (p.row) p.row->count += int64_t(uncounted);
    }
    flush_rows_locked(now_us, false);
    uint64_t silent_count = 0;
    for (const auto& [key, p] : probers_) silent_count += silent(p, now_us) ? 1 : 0;
    tracked_.store(probers_.size(), std::memory_order_relaxed);
    silent_.store(silent_count, std::memory_order_relaxed);
}

static std::optional<int64_t> median_gap_us(std::vector<int64_t> gaps) {
    if (gaps.empty()) return std::nullopt;
    std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
    return gaps[gaps.size() / 2];
}

bool ProberRecord::silent(const Prober& p, int64_t now_us) const {
    auto gap = median_gap_us(p.gaps_us);
    int64_t interval = gap ? *gap : int64_t(config_->load_balancer.interval.count()) * 1000;
    return now_us - p.last_seen_us > 3 * std::max<int64_t>(interval, 1000);
}

std::vector<ProberView> ProberRecord::probers(int64_t now_us) {
    std::lock_guard<std::mutex> lock(mu_);
    merge_locked(now_us);
    std::vector<ProberView> out;
    for (const auto& [key, p] : probers_) {
        ProberView v;
        v.address = p.address;
        v.user_agent = p.user_agent;
        v.path = p.path;
        v.first_seen_us = p.first_seen_us;
        v.last_seen_us = p.last_seen_us;
        v.probes = p.probes;
        v.last_code = p.last_code;
        v.last_latency_us = p.last_latency_us;
        if (auto gap = median_gap_us(p.gaps_us)) v.interval_ms = *gap / 1000;
        v.consecutive_healthy = p.model.streak_healthy();
        v.consecutive = p.model.streak();
        v.state = p.model.state();
        v.reason = p.model.reason();
        v.silent = silent(p, now_us);
        out.push_back(std::move(v));
    }
    std::sort(out.begin(), out.end(), [](const ProberView& a, const ProberView& b) {
        return std::tie(a.address, a.path, a.user_agent) < std::tie(b.address, b.path, b.user_agent);
    });
    return out;
}

ProberCounts ProberRecord::counts(int64_t) {
    ProberCounts c;
    c.tracked = tracked_.load(std::memory_order_relaxed);
    c.silent = silent_.load(std::memory_order_relaxed);
    c.evictions = evictions_.load(std::memory_order_relaxed);
    for (size_t i = 0; i < by_code_.size(); ++i)
        if (uint64_t n = by_code_[i].load(std::memory_order_relaxed)) c.probes_by_code.emplace_back(int(i + 100), n);
    return c;
}

void ProberRecord::begin_drain(int64_t now_us) {
    std::lock_guard<std::mutex> lock(mu_);
    merge_locked(now_us);
    drain_since_us_ = now_us;
    for (auto& [key, p] : probers_) p.drain_unhealthy = 0;
}

DrainProgress ProberRecord::drain_progress(int64_t now_us) {
    std::lock_guard<std::mutex> lock(mu_);
    merge_locked(now_us);
    DrainProgress d;
    const Config& cfg = *config_;
    int need = cfg.load_balancer.unhealthy_threshold;
    for (const auto& [key, p] : probers_) {
        const GroupConfig* g = cfg.find_group(p.group);
        // Only probers the drain can turn away: their path's group drains, and it is the
        // balancer's path (when one is configured). A liveness probe of a drain: false group is not
        // waited for.
        if (!g || !g->drain || !cfg.load_balancer.probes_path(p.path) || silent(p, now_us)) continue;
        ++d.watched;
        if (p.drain_unhealthy >= need)
            ++d.done;
        else
            d.waiting.push_back(p.address + " " + p.path + " (" + std::to_string(p.drain_unhealthy) + " of " +
                                std::to_string(need) + ")");
    }
    return d;
}

}  // namespace vitals
