// GET /dashboard (SPEC §10): the status page, its state and its assets. The page is rendered on
// the server with the current status (readable without JavaScript); its script (app.js, compiled
// into the binary from core/src/http/dashboard/) refreshes it from /dashboard/state and the history
// endpoints. Nothing here reads anything but the snapshot it is given.
#pragma once

#include "snapshot/snapshot.h"

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

// The page. `details`: this client may see checks and groups (server.details); without them, the
// page shows the overall status alone (and, under `token`, asks for the token).
std::string dashboard_page(const Snapshot& snap, bool details);

// {"status", "cause", "time", "draining", "details": true, "probers", "groups": [...], "checks": [...]}
// with details, {"status", "details": false, "mode", "time"} without. `probers`: this vitals serves
// GET /health/probers (SPEC §9), so the page shows that panel; until then it shows none.
std::string dashboard_state_json(const Snapshot& snap, bool details, bool probers);

// The Content-Security-Policy of every dashboard response: nothing but vitals itself.
constexpr const char* kDashboardCsp = "default-src 'self'";

}  // namespace vitals
