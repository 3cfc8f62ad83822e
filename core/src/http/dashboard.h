// GET /dashboard (SPEC §10): the status page, its state and its assets. The page is rendered on
// the server with the current status (readable without JavaScript); its script (app.js, compiled
// into the binary from core/src/http/dashboard/) refreshes it from /dashboard/state,
// /dashboard/recent and the history endpoints. Nothing here reads anything but what it is given.
#pragma once

#include "history/history_query.h"
#include "history/history_types.h"
#include "snapshot/snapshot.h"

#include <utility>
#include <variant>
#include <vector>

#include <cstddef>
#include <string>

namespace vitals {

// A file of core/src/http/dashboard/, embedded at build time (generated dashboard_assets.cpp).
struct EmbeddedAsset {
    const char* name;          // "app.js"
    const char* content_type;  // "text/javascript; charset=utf-8"
    const unsigned char* data;
    size_t size;
};
// The asset named `name`, or null.
const EmbeddedAsset* find_dashboard_asset(const std::string& name);
// The asset gzipped (at the smallest level), made on its first request and kept.
const std::string& dashboard_asset_gzip(const EmbeddedAsset& asset);

// The page. `details`: this client may see checks and groups (server.details); without them, the
// page shows the overall status alone (and, under `token`, asks for the token).
std::string dashboard_page(const Snapshot& snap, bool details);

// {"status", "cause", "time", "draining", "details": true, "probers", "groups": [...], "checks": [...]}
// with details, {"status", "details": false, "mode", "time"} without. `probers`: this vitals serves
// GET /health/probers (SPEC §9), so the page shows that panel; until then it shows none.
std::string dashboard_state_json(const Snapshot& snap, bool details, bool probers);

// GET /dashboard/recent?check=NAME[,NAME]&limit=N: the newest N (1..60, default 60) results of
// each check, for the heartbeat bars and sparklines, in one request and compact:
// {"items": [{"check", "results": [{"id", "time_ms", "status", "duration_ms", "output"}]}]},
// results oldest first. Names must be checks of `config` (groups have no results).
struct RecentQuery {
    std::vector<std::string> checks;
    int limit = 60;
};
std::variant<RecentQuery, QueryError> parse_recent_query(const QueryParams& params, const Config& config);
// Each check with its page of results (newest first, as the history reader returns them).
std::string recent_json(const std::vector<std::pair<std::string, HistoryPage>>& pages);

// The Content-Security-Policy of every dashboard response: nothing but vitals itself.
constexpr const char* kDashboardCsp = "default-src 'self'";

}  // namespace vitals
