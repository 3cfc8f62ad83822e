// libFuzzer target: the exec plugin's output and performance-data parser (plugins/exec/perfdata.hpp).
//
// Each input is what a monitoring-plugins program printed. It goes to parse_plugin_output (status
// text and perfdata of every line) and, whole, to parse_perfdata. Besides sanitizer reports, the
// header's documented promises are checked: labels are never empty, values are finite, units are
// letters or '%' and at most 8 characters, thresholds hold only range characters, and the status
// text has no surrounding whitespace and no newline.
#include "../../plugins/exec/perfdata.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

void fail(const char* what) {
    std::fprintf(stderr, "fuzz_perfdata: %s\n", what);
    std::abort();
}

void check_datum(const vitals_exec::PerfDatum& d) {
    using namespace vitals_exec::perfdata_detail;
    if (d.label.empty()) fail("empty label");
    if (d.value && !std::isfinite(*d.value)) fail("value not finite");
    if (d.min && !std::isfinite(*d.min)) fail("min not finite");
    if (d.max && !std::isfinite(*d.max)) fail("max not finite");
    if (!is_uom(d.uom)) fail("unit with other characters or longer than 8");
    if (!is_range(d.warn) || !is_range(d.crit)) fail("threshold that is not a range");
    if (!d.value && !d.uom.empty()) fail("unit on a 'U' value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    vitals_exec::PluginOutput out = vitals_exec::parse_plugin_output(text);
    if (out.text.find('\n') != std::string::npos) fail("status text spans lines");
    if (!out.text.empty() && (vitals_exec::perfdata_detail::is_space(out.text.front()) ||
                              vitals_exec::perfdata_detail::is_space(out.text.back())))
        fail("status text not trimmed");
    for (const auto& d : out.perfdata) check_datum(d);

    for (const auto& d : vitals_exec::parse_perfdata(text)) check_datum(d);
    return 0;
}
