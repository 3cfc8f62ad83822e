// What the scheduler runs for one check: a plugin instance in this process (CheckInstance) or in
// a child process per run (ProcessCheck, `"isolation": "process"`).
#pragma once

#include "common/result.h"
#include "common/text.h"
#include "common/time_format.h"

#include <optional>
#include <string>
#include <vector>

namespace vitals {

class CheckRunner {
public:
    virtual ~CheckRunner() = default;
    // Runs one probe; returns by about `deadline` (a CheckInstance only if its plugin does).
    // Never called concurrently for one runner.
    virtual RunResult run(MonoTime deadline) = 0;
};

// Values of a check type's secret options in `options_json` (strings, and every value of secret
// string maps and lists), for scrub_secrets().
struct CheckTypeInfo;
std::vector<std::string> secret_values(const CheckTypeInfo& type, const std::string& options_json);

// scrub_secrets() (common/text.h) replaces their occurrences with "***".

}  // namespace vitals
