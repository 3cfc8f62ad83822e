// Loads check plugins (shared libraries speaking the C ABI of <vitals/plugin.h>) and holds the check
// types they provide. A library, once loaded, stays loaded for the life of the process (SPEC §5:
// "plugins are loaded once"); everything created from it keeps it alive through a shared_ptr.
#pragma once

#include <vitals/plugin.h>

#include <sys/stat.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace vitals {

struct LoadedLibrary;  // the Boost.DLL handle and the plugin's descriptor

struct OptionSpec {
    std::string name;
    vitals_option_type type = VITALS_OPTION_STRING;
    bool required = false;
    bool secret = false;
    std::optional<std::string> default_json;  // JSON text
    std::string help;
};

const char* to_string(vitals_option_type t);

struct CheckTypeInfo {
    std::string name;
    std::string description;
    std::string component_type;
    std::string default_measurement;
    std::string plugin_name;
    std::string plugin_version;
    std::string file;  // the library it came from
    std::vector<OptionSpec> options;

    const OptionSpec* find_option(const std::string& n) const;

    // Owned by `library`; valid as long as it is.
    const vitals_check_type* abi = nullptr;
    std::shared_ptr<LoadedLibrary> library;
};

// A plugin file that was not loaded, and why.
struct PluginRefusal {
    std::string file;
    std::string reason;
};

// How a plugin file is first opened. With a guard, every file not loaded yet in this process is
// first loaded in a `vitals worker` child (plugins/worker_process.h): a plugin whose static
// constructors or entry point crash or hang is refused ("crashed while loading: SIGSEGV", "hung
// while loading") and the process loading it lives on; only a file that loaded cleanly there is
// loaded here. A refusal is remembered for that file (path, inode, size, mtime) until it changes,
// so a hanging file costs its timeout once, not at every reload. Without a guard (unit tests, and
// the worker itself) files are loaded in-process directly.
struct LoadGuard {
    std::string worker;                              // the vitals executable
    std::chrono::milliseconds timeout{5000};         // plugins.load_timeout
};

class PluginRegistry {
public:
    // Scans each directory for *.so (sorted by name) and loads what passes every test. A directory that
    // does not exist is skipped when `required_dirs` is false, a refusal otherwise. Refused files
    // are listed in refusals(); they never abort the scan.
    //
    // With `wanted` (the check types a configuration uses), a file named after a wanted type
    // (<type>.so or lib<type>.so) is loaded first, and the other files only when some wanted type
    // is still missing: a daemon running disk and tcp checks never maps OpenSSL for the http plugin,
    // starts sooner and runs no code of a plugin it does not use. Without it, every file is loaded.
    //
    // With `guard`, the files of each round (named after a wanted type, then the rest) are first
    // loaded in children, all at once.
    static std::shared_ptr<PluginRegistry> scan(const std::vector<std::string>& dirs, bool strict_permissions,
                                                bool required_dirs,
                                                const std::set<std::string>* wanted = nullptr,
                                                const LoadGuard* guard = nullptr);

    // Loads one file (used by scan and by tests). Returns false with `reason` set on refusal.
    bool load_file(const std::string& path, bool strict_permissions, std::string& reason);
    // What load_file does once it has opened `path` as `fd`: the descriptor is what is checked
    // (fstat: a regular file, and the permissions) and what is loaded (via /proc/self/fd/N), so a
    // file swapped in at `path` in between is never the one loaded. `path` names the file in
    // refusals and keys the per-process library cache. `fd` stays the caller's.
    bool load_opened(int fd, const std::string& path, bool strict_permissions, std::string& reason);

    const CheckTypeInfo* find(const std::string& type) const;
    std::vector<const CheckTypeInfo*> types() const;  // sorted by name
    std::vector<std::string> type_names() const;
    const std::vector<PluginRefusal>& refusals() const { return refusals_; }
    const std::vector<std::string>& dirs() const { return dirs_; }

private:
    std::map<std::string, CheckTypeInfo> types_;
    std::vector<PluginRefusal> refusals_;
    std::vector<std::string> dirs_;
};

// Why a plugin file or its directory must be refused under strict permissions, or "" if it is fine:
// writable by group or others, or owned by neither root nor the daemon's effective user.
std::string permission_problem(const std::string& path);
// The same test on a file's status (fstat of the descriptor about to be loaded).
std::string permission_problem(const struct stat& st);

}  // namespace vitals
