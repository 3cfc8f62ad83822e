#include "app/cli.h"
#include "plugins/process_check.h"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace vitals {

// Hidden: the child the daemon starts for plugin code it does not run itself (an "isolation":
// "process" check's run, the first load of a plugin file; see plugins/worker_process.h).
[[noreturn]] void cmd_worker() {
    std::ostringstream request;
    request << std::cin.rdbuf();
    // The reply goes to a private copy of stdout; what the plugin itself prints (to stdout or
    // stderr) goes to stderr, which the daemon points at /dev/null, and cannot corrupt the reply.
    int reply_fd = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
    ::dup2(2, 1);
    int code = 0;
    std::string reply = run_worker(request.str(), code);
    for (size_t off = 0; reply_fd >= 0 && off < reply.size();) {
        ssize_t n = ::write(reply_fd, reply.data() + off, reply.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += size_t(n);
    }
    std::_Exit(code);  // no static destructors under a plugin that may have left threads
}

}  // namespace vitals
