// A schema-only plugin for fuzz_config: provides check type "fuzz" with the options of schema.hpp.
// fuzz_config loads it into a PluginRegistry (load_file) so that parse_config validates check options
// against a real schema read through the C ABI. Its checks are never run. Built without sanitizer or
// fuzzer instrumentation: only its descriptor is read.
#include "schema.hpp"

namespace {

class Noop : public vitals::Check {
public:
    explicit Noop(const vitals::Options&) {}
    vitals::Result run(vitals::Deadline) override { return vitals::Result::pass(); }
};

}  // namespace

VITALS_PLUGIN("fuzz-schema", "1.0.0",
              vitals::check_type<Noop>("fuzz", "fuzzing: options of every type", "component", "status",
                                       fuzz_schema::options))
