#include "plugins/check_instance.h"

#include "common/text.h"

#include <vitals_plugins/text.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cmath>
#include <cstring>

namespace vitals {

std::unique_ptr<CheckInstance> CheckInstance::create(const CheckTypeInfo& type, const std::string& options_json,
                                                     std::string& error) {
    std::unique_ptr<CheckInstance> inst(new CheckInstance);
    inst->library_ = type.library;
    inst->abi_ = type.abi;
    inst->component_type_ = type.component_type;
    inst->default_measurement_ = type.default_measurement;
    char err[VITALS_OUTPUT_MAX] = {0};
    void* handle = nullptr;
    int32_t rc = inst->abi_->create(options_json.c_str(), &handle, err, sizeof err);
    err[sizeof err - 1] = '\0';
    if (rc != 0) {
        // The plugin may quote a secret option in its refusal (the log and the reload's 422 show it).
        error = err[0] ? err : "the plugin refused the options without saying why";
        scrub_secrets(error, secret_values(type, options_json));
        return nullptr;
    }
    if (!handle) {
        error = "the plugin's create() returned no instance";
        return nullptr;
    }
    inst->handle_ = handle;
    inst->secrets_ = secret_values(type, options_json);
    return inst;
}

std::vector<std::string> secret_values(const CheckTypeInfo& type, const std::string& options_json) {
    std::vector<std::string> secrets;
    auto keep = [&](const std::string& value) {
        if (value.size() >= 3) secrets.push_back(value);  // shorter ones would scrub noise
    };
    try {
        Poco::JSON::Parser parser;
        auto options = parser.parse(options_json).extract<Poco::JSON::Object::Ptr>();
        for (const auto& spec : type.options) {
            if (!spec.secret || !options->has(spec.name)) continue;
            Poco::Dynamic::Var v = options->get(spec.name);
            if (v.isString()) {
                keep(v.extract<std::string>());
            } else if (v.type() == typeid(Poco::JSON::Object::Ptr)) {  // string map: every value
                auto map = v.extract<Poco::JSON::Object::Ptr>();
                for (const auto& key : map->getNames()) keep(map->getValue<std::string>(key));
            } else if (v.type() == typeid(Poco::JSON::Array::Ptr)) {  // string list: every item
                auto list = v.extract<Poco::JSON::Array::Ptr>();
                for (size_t i = 0; i < list->size(); ++i) keep(list->getElement<std::string>(unsigned(i)));
            }
        }
    } catch (const std::exception&) {
        // Options come from our own validation: always an object.
    }
    return secrets;
}

CheckInstance::~CheckInstance() {
    if (handle_) abi_->destroy(handle_);
}

// Keeps printable text: a plugin that writes binary garbage must not corrupt logs or JSON.
static std::string clean_text(const char* buf, size_t max) {
    return vitals_plugins::clean_utf8(std::string(buf, strnlen(buf, max)), vitals_plugins::Lines::join);
}

RunResult CheckInstance::run(MonoTime deadline) {
    vitals_result r;
    std::memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.status = VITALS_STATUS_FAIL;
    int64_t deadline_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    abi_->run(handle_, deadline_ns, &r);

    RunResult out;
    out.output = clean_text(r.output, sizeof r.output);
    switch (r.status) {
    case VITALS_STATUS_PASS: out.status = Status::pass; break;
    case VITALS_STATUS_WARN: out.status = Status::warn; break;
    case VITALS_STATUS_FAIL: out.status = Status::fail; break;
    default:
        out.status = Status::fail;
        out.output = "invalid status " + std::to_string(r.status) + " from plugin" +
                     (out.output.empty() ? "" : ": " + out.output);
    }
    if (r.has_observed_value && std::isfinite(r.observed_value)) {
        out.observed_value = r.observed_value;
        out.observed_unit = clean_text(r.observed_unit, sizeof r.observed_unit);
    }
    scrub_secrets(out.output, secrets_);
    out.measurement = clean_text(r.measurement, sizeof r.measurement);
    if (out.measurement.empty()) out.measurement = default_measurement_;
    return out;
}

}  // namespace vitals
