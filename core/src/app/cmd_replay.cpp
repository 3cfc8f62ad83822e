// `vitals replay`: what the load balancer decided, or would have decided, read from the history
// database directly (SPEC §9), as GET /health/replay answers it.
#include "app/cli.h"
#include "history/history_reader.h"
#include "probers/replay.h"

#include <cstdio>
#include <unistd.h>
#include <variant>

namespace vitals {

int cmd_replay(const Args& args) {
    Config cfg = load_config_or_exit(args);
    auto parsed = parse_replay_query(args.history_params, unix_now_ms(), cfg);
    if (auto* err = std::get_if<QueryError>(&parsed)) {
        std::string flag = err->parameter;
        for (char& c : flag)
            if (c == '_') c = '-';
        usage_error("--" + flag + ": " + err->message);
    }
    if (::access(cfg.history.path.c_str(), F_OK) != 0) {
        std::fprintf(stderr, "vitals: no history database at %s (history.path)\n", cfg.history.path.c_str());
        return 1;
    }
    std::string out;
    try {
        HistoryReader(cfg.history.path).with_store([&](SqliteHistoryStore* store) {
            ReplayResult r = run_replay(store, std::get<ReplayQuery>(parsed), cfg);
            out = args.json ? replay_json(r) + "\n" : replay_text(r);
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vitals: cannot read %s: %s\n", cfg.history.path.c_str(), e.what());
        return 1;
    }
    std::fputs(out.c_str(), stdout);
    return 0;
}

}  // namespace vitals
