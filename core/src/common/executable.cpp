#include "common/executable.h"

#include <unistd.h>

namespace vitals {

std::optional<std::string> executable_path() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return std::nullopt;
    return std::string(buf, size_t(n));
}

}  // namespace vitals
