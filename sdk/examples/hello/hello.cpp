// The smallest vitals plugin: one check type, "hello", that always passes and reports its greeting.
#include <vitals/plugin.hpp>

#include <string>

namespace {

// One instance per configured check. Options arrive validated, with defaults filled in by the host.
class Hello : public vitals::Check {
public:
    explicit Hello(const vitals::Options& options) : greeting_(options.string("greeting")) {}

    vitals::Result run(vitals::Deadline) override { return vitals::Result::pass(greeting_); }

private:
    std::string greeting_;
};

// The option schema: name, type, default as JSON text, help.
const vitals_option_spec hello_options[] = {
    vitals::option("greeting", VITALS_OPTION_STRING, "\"hello\"", "text the check reports"),
};

}  // namespace

// Exports vitals_plugin_entry, describing plugin "hello" and its one check type.
VITALS_PLUGIN("hello", "1.0.0",
              vitals::check_type<Hello>("hello", "always passes, reporting a greeting", "component", "status",
                                        hello_options))
