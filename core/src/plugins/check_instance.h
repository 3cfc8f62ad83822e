// One configured check's plugin instance: create() on construction, run() per probe, destroy() on
// destruction. Converts the C ABI's result into a RunResult and never trusts what the plugin wrote.
#pragma once

#include "common/status.h"
#include "common/time_format.h"
#include "plugins/check_runner.h"
#include "plugins/registry.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vitals {

class CheckInstance : public CheckRunner {
public:
    // Calls the type's create(). Returns null and sets `error` if the plugin refuses the options.
    static std::unique_ptr<CheckInstance> create(const CheckTypeInfo& type, const std::string& options_json,
                                                 std::string& error);
    ~CheckInstance() override;
    CheckInstance(const CheckInstance&) = delete;
    CheckInstance& operator=(const CheckInstance&) = delete;

    // Runs one probe; blocks for as long as the plugin does. Not to be called concurrently.
    RunResult run(MonoTime deadline) override;

    const std::string& component_type() const { return component_type_; }
    const std::string& default_measurement() const { return default_measurement_; }

private:
    CheckInstance() = default;
    // Declared first so it is destroyed last: the library outlives the instance it created.
    std::shared_ptr<LoadedLibrary> library_;
    const vitals_check_type* abi_ = nullptr;
    void* handle_ = nullptr;
    std::string component_type_;
    std::string default_measurement_;
    // Values of the type's secret options (passwords, tokens): scrubbed from every output, so a
    // plugin that echoes one (say, in a server's error text) cannot leak it.
    std::vector<std::string> secrets_;
};

}  // namespace vitals
