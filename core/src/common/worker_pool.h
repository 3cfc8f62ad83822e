// A bounded pool of threads that run plugin calls. A plugin call cannot be interrupted, so a call
// that overruns its deadline keeps its thread: the scheduler marks it overdue and the pool starts a
// replacement (up to `max_extra` of them), so other checks keep running. The overdue thread exits
// when its call finally returns, if the pool is then above strength.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace vitals {

class WorkerPool {
public:
    // `name` names its threads (at most 15 characters).
    WorkerPool(size_t threads, size_t max_extra, const char* name);
    ~WorkerPool();  // stops; threads still inside a plugin call are abandoned (they hold their state)

    // Queues a job. `overdue` may be set later by the caller to say the job's thread is lost to a
    // hung call; the pool then adds a replacement thread.
    void submit(std::function<void()> job);
    void add_replacement();  // one running job is overdue
    void overdue_done();     // an overdue job returned

    size_t threads() const;

    // Sets how many threads work (a reload changed the number of checks): threads are started at
    // once; surplus ones leave when they are next idle.
    void set_threads(size_t threads);

    // Stops accepting jobs and waits up to `grace` for idle threads to exit.
    void stop(std::chrono::milliseconds grace);

private:
    struct State;
    static void worker(std::shared_ptr<State> state, std::shared_ptr<std::atomic<bool>> done);
    std::shared_ptr<State> state_;
};

}  // namespace vitals
