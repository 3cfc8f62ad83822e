#include "sdk_side.hpp"

#include "schema.hpp"

#include <stdexcept>

namespace fuzz_sdk {

bool sdk_parses(const std::string& text) {
    try {
        vitals::json::Value::parse(text);
        return true;
    } catch (const std::runtime_error&) {
        return false;
    }
}

std::string read_options(const std::string& options_json) {
    try {
        vitals::Options o(options_json);
        for (const auto& spec : fuzz_schema::options) {
            if (!o.has(spec.name)) {
                if (spec.flags & VITALS_OPTION_REQUIRED) return std::string("required option missing: ") + spec.name;
                if (spec.default_json) return std::string("option with a default missing: ") + spec.name;
                continue;
            }
            switch (spec.type) {
            case VITALS_OPTION_STRING: o.string(spec.name); break;
            case VITALS_OPTION_INT: o.integer(spec.name); break;
            case VITALS_OPTION_NUMBER: o.number(spec.name); break;
            case VITALS_OPTION_BOOL: o.boolean(spec.name); break;
            case VITALS_OPTION_DURATION:
                if (o.duration(spec.name).count() < 0) return std::string("negative duration: ") + spec.name;
                break;
            case VITALS_OPTION_STRING_LIST: o.string_list(spec.name); break;
            case VITALS_OPTION_STRING_MAP: o.string_map(spec.name); break;
            }
        }
        return "";
    } catch (const std::runtime_error& e) {
        return e.what();
    }
}

}  // namespace fuzz_sdk
