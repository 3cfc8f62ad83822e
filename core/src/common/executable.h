// The running executable's path (/proc/self/exe resolved), for starting workers of the same build
// and for the plugin directory beside it.
#pragma once

#include <optional>
#include <string>

namespace vitals {

std::optional<std::string> executable_path();  // nullopt when /proc/self/exe cannot be read

}  // namespace vitals
