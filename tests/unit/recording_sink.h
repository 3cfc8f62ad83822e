// A history sink that keeps every event, for the unit tests' assertions (the scheduler's workers
// record from their threads: the list is guarded).
#pragma once

#include "history/history_types.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

struct RecordingSink : vitals::HistorySink {
    std::mutex mu;
    std::vector<vitals::HistoryEvent> events;
    void record(vitals::HistoryEvent e) override {
        std::lock_guard<std::mutex> lock(mu);
        events.push_back(std::move(e));
    }
    size_t count(const std::string& check, vitals::EventKind kind) {
        std::lock_guard<std::mutex> lock(mu);
        return size_t(std::count_if(events.begin(), events.end(), [&](const vitals::HistoryEvent& e) {
            return e.check == check && e.kind == kind;
        }));
    }
};
