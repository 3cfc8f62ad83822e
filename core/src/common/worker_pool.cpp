#include "common/worker_pool.h"
#include "common/thread_name.h"

#include <algorithm>
#include <atomic>
#include <vector>
#include <thread>

namespace vitals {

// Shared by the pool object and every thread, so a thread abandoned in a hung plugin call never
// touches freed memory when (if ever) it returns.
struct WorkerPool::State {
    std::mutex mu;
    std::condition_variable cv;
    std::condition_variable exited;
    std::deque<std::function<void()>> jobs;
    size_t target = 0;     // threads wanted for work
    size_t max_extra = 0;  // replacements allowed for overdue calls
    size_t overdue = 0;    // threads stuck in an overdue call
    size_t threads = 0;    // threads alive
    bool stopping = false;
    const char* name = "vitals-worker";
    // Every thread's handle, with a flag it sets as its very last step. stop() joins the threads
    // that are done (so their thread-local destructors, OpenSSL's per-thread state among them, have
    // run before the process exits) and leaves those still inside a plugin call.
    struct Handle {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::vector<Handle> handles;

    void spawn(const std::shared_ptr<State>& self) {  // requires mu
        // Reap the handles of threads that left (surplus ones), so the list stays short.
        for (auto it = handles.begin(); it != handles.end();) {
            if (it->done->load()) {
                it->thread.join();
                it = handles.erase(it);
            } else {
                ++it;
            }
        }
        ++threads;
        auto done = std::make_shared<std::atomic<bool>>(false);
        handles.push_back({std::thread(worker, self, done), done});
    }
};

WorkerPool::WorkerPool(size_t threads, size_t max_extra, const char* name) : state_(std::make_shared<State>()) {
    state_->max_extra = max_extra;
    state_->name = name;
    set_threads(threads);
}

void WorkerPool::set_threads(size_t threads) {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stopping) return;
    state_->target = threads;
    // Overdue threads are lost to their calls; replacements for them (up to max_extra) are extra.
    size_t want = threads + std::min(state_->overdue, state_->max_extra);
    while (state_->threads < want) state_->spawn(state_);
    state_->cv.notify_all();  // surplus threads notice and leave
}

WorkerPool::~WorkerPool() { stop(std::chrono::milliseconds(1000)); }

void WorkerPool::worker(std::shared_ptr<State> s, std::shared_ptr<std::atomic<bool>> done) {
    name_this_thread(s->name);
    std::unique_lock<std::mutex> lock(s->mu);
    for (;;) {
        // Too many threads (an overdue call came back after its replacement started): leave.
        auto surplus = [&] { return s->threads > s->target + s->overdue; };
        s->cv.wait(lock, [&] { return s->stopping || !s->jobs.empty() || surplus(); });
        if (s->stopping || surplus()) break;
        auto job = std::move(s->jobs.front());
        s->jobs.pop_front();
        lock.unlock();
        job();
        job = nullptr;
        lock.lock();
    }
    --s->threads;
    s->exited.notify_all();
    *done = true;  // under the lock: stop() sees it together with the count
}

void WorkerPool::submit(std::function<void()> job) {
    {
        std::lock_guard<std::mutex> lock(state_->mu);
        if (state_->stopping) return;
        state_->jobs.push_back(std::move(job));
    }
    state_->cv.notify_one();
}

void WorkerPool::add_replacement() {
    std::lock_guard<std::mutex> lock(state_->mu);
    ++state_->overdue;
    if (state_->stopping || state_->overdue > state_->max_extra) return;
    if (state_->threads < state_->target + state_->overdue) state_->spawn(state_);
}

void WorkerPool::overdue_done() {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->overdue > 0) --state_->overdue;
    state_->cv.notify_all();  // lets a surplus thread notice and leave
}

size_t WorkerPool::threads() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->threads;
}

void WorkerPool::stop(std::chrono::milliseconds grace) {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->stopping = true;
    state_->jobs.clear();
    state_->cv.notify_all();
    state_->exited.wait_for(lock, grace, [&] { return state_->threads <= state_->overdue; });
    // Threads that are done are joined (their exit, thread-local destructors included, completes
    // before we return); those still inside a plugin call are left to finish on their own. A
    // thread that done says has released the lock we hold, so joining it cannot wait on us.
    for (auto& h : state_->handles) {
        if (h.done->load())
            h.thread.join();
        else
            h.thread.detach();
    }
    state_->handles.clear();
}

}  // namespace vitals
