#include "plugins/process_check.h"

#include "plugins/check_instance.h"
#include "plugins/worker_process.h"

#include <vitals_plugins/deadline.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <sstream>
#include <sys/wait.h>

namespace vitals {

using Clock = std::chrono::steady_clock;


ProcessCheck::ProcessCheck(const CheckTypeInfo& type, std::string options_json, std::chrono::milliseconds timeout,
                           bool strict_permissions)
    : plugin_file_(type.file), type_(type.name), options_json_(std::move(options_json)),
      default_measurement_(type.default_measurement), timeout_(timeout), strict_permissions_(strict_permissions),
      secrets_(secret_values(type, options_json_)) {}

RunResult ProcessCheck::run(MonoTime deadline) {
    Poco::JSON::Object request;
    request.set("plugin", plugin_file_);
    request.set("type", type_);
    request.set("options_json", options_json_);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    request.set("timeout_ms", Poco::Int64(std::max<int64_t>(1, left.count())));
    request.set("strict_permissions", strict_permissions_);
    std::ostringstream rq;
    request.stringify(rq);
    std::string input = rq.str();

    WorkerOutcome child = run_worker_process(self_executable(), input, deadline);
    if (!child.spawn_error.empty()) return RunResult::failed(RunEnd::not_started, "cannot start worker: " + child.spawn_error);
    if (child.timed_out) return RunResult::failed(RunEnd::timed_out, vitals_plugins::timed_out_after(timeout_.count()) + " (worker killed)");
    std::string sig = termination_signal(child.wait_status);
    if (!sig.empty()) return RunResult::failed(RunEnd::crashed, "crashed: " + sig);
    const std::string& output = child.output;
    int status = child.wait_status;

    RunResult r;
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(output).extract<Poco::JSON::Object::Ptr>();
        if (o->has("error")) {
            // A create() refusal in the child: it may quote a secret, like any output.
            RunResult refused = RunResult::failed(RunEnd::answered, type_ + ": " + o->getValue<std::string>("error"));
            scrub_secrets(refused.output, secrets_);
            return refused;
        }
        auto s = parse_status(o->optValue<std::string>("status", "fail"));
        r.status = s.value_or(Status::fail);
        r.output = o->optValue<std::string>("output", "");
        if (o->has("observed_value") && !o->get("observed_value").isEmpty()) {
            r.observed_value = o->getValue<double>("observed_value");
            r.observed_unit = o->optValue<std::string>("observed_unit", "");
        }
        r.measurement = o->optValue<std::string>("measurement", default_measurement_);
    } catch (const std::exception&) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return RunResult::failed(RunEnd::crashed, "worker exited with code " + std::to_string(code) + " without a result");
    }
    scrub_secrets(r.output, secrets_);
    return r;
}

std::shared_ptr<CheckRunner> make_check_runner(const CheckTypeInfo& type, const std::string& options_json,
                                               bool isolated, std::chrono::milliseconds timeout,
                                               bool strict_permissions, std::string& error) {
    if (isolated) return std::make_shared<ProcessCheck>(type, options_json, timeout, strict_permissions);
    return CheckInstance::create(type, options_json, error);
}

std::string run_worker(const std::string& request, int& exit_code) {
    exit_code = 0;
    auto reply = [](Poco::JSON::Object& o) {
        std::ostringstream ss;
        o.stringify(ss);
        return ss.str();
    };
    Poco::JSON::Object result;
    try {
        Poco::JSON::Parser parser;
        auto req = parser.parse(request).extract<Poco::JSON::Object::Ptr>();
        bool strict = req->getValue<bool>("strict_permissions");
        PluginRegistry registry;
        std::string why;
        if (req->has("load")) {
            // The first load of a plugin file (PluginRegistry::scan with a LoadGuard): if its
            // static constructors or entry point crash or hang, only this child is lost.
            std::string plugin = req->getValue<std::string>("load");
            if (!registry.load_file(plugin, strict, why)) {
                result.set("error", why);
                return reply(result);
            }
            Poco::JSON::Array types;
            for (const auto& name : registry.type_names()) types.add(name);
            result.set("types", types);
            return reply(result);
        }
        std::string plugin = req->getValue<std::string>("plugin");
        std::string type = req->getValue<std::string>("type");
        auto deadline = Clock::now() + std::chrono::milliseconds(req->getValue<Poco::Int64>("timeout_ms"));
        // Loaded afresh in every child: a changed plugin file takes effect at the next run.
        if (!registry.load_file(plugin, strict, why)) {
            result.set("error", "plugin " + plugin + " refused: " + why);
            return reply(result);
        }
        const CheckTypeInfo* info = registry.find(type);
        if (!info) {
            result.set("error", "plugin " + plugin + " no longer provides type " + type);
            return reply(result);
        }
        std::string error;
        auto instance = CheckInstance::create(*info, req->getValue<std::string>("options_json"), error);
        if (!instance) {
            result.set("error", error);
            return reply(result);
        }
        RunResult r = instance->run(deadline);
        result.set("status", to_string(r.status));
        result.set("output", r.output);
        if (r.observed_value) {
            result.set("observed_value", *r.observed_value);
            result.set("observed_unit", r.observed_unit);
        }
        result.set("measurement", r.measurement);
        return reply(result);
    } catch (const std::exception& e) {
        result.set("error", std::string("worker: ") + e.what());
        exit_code = 1;
        return reply(result);
    }
}

}  // namespace vitals
