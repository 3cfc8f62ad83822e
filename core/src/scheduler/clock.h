// The scheduler's clock (issue 14): it owns time, and takes it from here. The real clock reads
// steady_clock and system_clock and waits on the scheduler's condition variable; tests give a
// ManualClock and move time themselves (as Envoy's health-checker tests fire a mock timer), so no
// unit test sleeps to make time pass and none depends on how fast the machine is.
#pragma once

#include "common/time_format.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace vitals {

class Clock {
public:
    virtual ~Clock() = default;
    virtual MonoTime now() const = 0;
    virtual WallTime wall_now() const = 0;
    // With `lock` held on the mutex `cv` waits with: returns when notified, or once now() >= until.
    virtual void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, MonoTime until) const = 0;

    static const Clock& real();
};

// Time that moves only when advance() moves it (wall time moves along with it). A waiter notices
// an advance within a couple of milliseconds of real time.
class ManualClock : public Clock {
public:
    MonoTime now() const override { return MonoTime(std::chrono::nanoseconds(mono_ns_.load())); }
    WallTime wall_now() const override {
        return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(wall_ns_.load())));
    }
    void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, MonoTime until) const override {
        ++waits_;
        if (now() >= until) return;
        cv.wait_for(lock, std::chrono::milliseconds(2));
    }
    void advance(std::chrono::nanoseconds d) {
        mono_ns_ += d.count();
        wall_ns_ += d.count();
    }
    // How many times a waiter began to wait. Two more than before an advance() means the waiter
    // has looked at the new time at least once (the first may have read the time just before it).
    uint64_t waits() const { return waits_.load(); }

private:
    mutable std::atomic<uint64_t> waits_{0};
    std::atomic<int64_t> mono_ns_{std::chrono::steady_clock::now().time_since_epoch().count()};
    std::atomic<int64_t> wall_ns_{std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()};
};

}  // namespace vitals
