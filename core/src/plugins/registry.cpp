#include "plugins/registry.h"

#include "common/duration.h"
#include "plugins/worker_process.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <mutex>
#include <spdlog/spdlog.h>
#include <sstream>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>

namespace vitals {

// One loaded library. Declared so that `library` is destroyed last: nothing that points into the
// library (the descriptor) may outlive it. In practice libraries are never unloaded (see cache below).
struct LoadedLibrary {
    boost::dll::shared_library library;
    const vitals_plugin_descriptor* descriptor = nullptr;
    std::string path;
    vitals_host_api host{};  // given to the plugin's entry; context points back here
};

// The host API's log(): one line under the plugin's name. Never throws into the plugin.
static void plugin_log(void* context, int32_t level, const char* message) {
    try {
        auto* lib = static_cast<LoadedLibrary*>(context);
        const char* name = lib && lib->descriptor && lib->descriptor->name ? lib->descriptor->name : "plugin";
        auto lvl = level <= VITALS_LOG_DEBUG  ? spdlog::level::debug
                   : level == VITALS_LOG_INFO ? spdlog::level::info
                   : level == VITALS_LOG_WARN ? spdlog::level::warn
                                              : spdlog::level::err;
        spdlog::log(lvl, "{}: {}", name, message ? message : "");
    } catch (...) {
    }
}

const char* to_string(vitals_option_type t) {
    switch (t) {
    case VITALS_OPTION_STRING: return "string";
    case VITALS_OPTION_INT: return "int";
    case VITALS_OPTION_NUMBER: return "number";
    case VITALS_OPTION_BOOL: return "bool";
    case VITALS_OPTION_DURATION: return "duration";
    case VITALS_OPTION_STRING_LIST: return "string list";
    case VITALS_OPTION_STRING_MAP: return "string map";
    }
    return "unknown";
}

const OptionSpec* CheckTypeInfo::find_option(const std::string& n) const {
    for (const auto& o : options)
        if (o.name == n) return &o;
    return nullptr;
}

std::string permission_problem(const struct stat& st) {
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return "writable by group or others (mode " + [&] {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%04o", unsigned(st.st_mode & 07777));
            return std::string(buf);
        }() + "); fix with chmod go-w, or set plugins.strict_permissions to false";
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
        return "owned by uid " + std::to_string(st.st_uid) + ", neither root nor the daemon's user (uid " +
               std::to_string(::geteuid()) + ")";
    return "";
}

std::string permission_problem(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::string("cannot stat: ") + std::strerror(errno);
    return permission_problem(st);
}

namespace {

// Libraries are loaded once per process and kept (SPEC §5): a reload that scans the same file again
// gets the same handle instead of a second dlopen.
std::mutex cache_mutex;
std::map<std::string, std::shared_ptr<LoadedLibrary>>& library_cache() {
    static std::map<std::string, std::shared_ptr<LoadedLibrary>> cache;
    return cache;
}

bool loaded_in_process(const std::string& path) {
    std::lock_guard<std::mutex> lock(cache_mutex);
    return library_cache().count(path) > 0;
}

// A file as it is on disk now: a refusal made in a child holds until the file changes.
struct FileIdentity {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileIdentity& o) const {
        return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
    }
};

std::optional<FileIdentity> identity_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return FileIdentity{st.st_dev, st.st_ino, st.st_size, int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::mutex refused_mutex;
std::map<std::string, std::pair<FileIdentity, std::string>>& refused_in_child() {
    static std::map<std::string, std::pair<FileIdentity, std::string>> refused;
    return refused;
}

// The refusal a child made of `path` as it is now, if one did.
std::optional<std::string> remembered_refusal(const std::string& path) {
    auto id = identity_of(path);
    if (!id) return std::nullopt;
    std::lock_guard<std::mutex> lock(refused_mutex);
    auto it = refused_in_child().find(path);
    if (it != refused_in_child().end() && it->second.first == *id) return it->second.second;
    return std::nullopt;
}

// Loads `path` in a `vitals worker` child. Returns "" when it loaded there, else the refusal.
std::string load_in_child(const std::string& path, bool strict_permissions, const LoadGuard& guard) {
    auto id = identity_of(path);
    Poco::JSON::Object request;
    request.set("load", path);
    request.set("strict_permissions", strict_permissions);
    std::ostringstream rq;
    request.stringify(rq);
    auto started = std::chrono::steady_clock::now();
    WorkerOutcome child = run_worker_process(guard.worker, rq.str(), started + guard.timeout);
    std::string reason;
    if (!child.spawn_error.empty()) {
        // Not the plugin's fault, and nothing to remember: the next load tries again.
        return "cannot start a worker to load it in (" + guard.worker + "): " + child.spawn_error;
    } else if (child.timed_out) {
        reason = "hung while loading (worker killed after " + format_duration(guard.timeout) +
                 ", plugins.load_timeout)";
    } else if (std::string sig = termination_signal(child.wait_status); !sig.empty()) {
        reason = "crashed while loading: " + sig;
    } else {
        try {
            Poco::JSON::Parser parser;
            auto reply = parser.parse(child.output).extract<Poco::JSON::Object::Ptr>();
            if (reply->has("types")) return "";
            // Refused by the same tests the process would apply (ABI, descriptor): the same words,
            // remembered like a crash, so that a reload does not start a child for it again (every
            // reload used to start one per refused file, all at once: a burst that starved the
            // check threads of a small machine).
            reason = reply->optValue<std::string>("error", "refused while loading");
        } catch (const std::exception&) {
            int code = WIFEXITED(child.wait_status) ? WEXITSTATUS(child.wait_status) : -1;
            reason = "exited with code " + std::to_string(code) + " while loading, without an answer";
        }
    }
    if (id) {
        std::lock_guard<std::mutex> lock(refused_mutex);
        refused_in_child()[path] = {*id, reason};
    }
    return reason;
}

bool offset_ok(uint32_t struct_size, size_t end_of_field) { return struct_size >= end_of_field; }

// Array elements are stepped by the plugin's struct_size (SPEC: minor versions append fields), so
// a plugin built against a later minor version with larger structs still reads correctly.
template <class T>
const T& element(const T* array, size_t i) {
    size_t stride = array[0].struct_size;
    return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(array) + i * stride);
}

// Checks a descriptor for everything the host relies on. Returns "" when usable.
std::string descriptor_problem(const vitals_plugin_descriptor* d) {
    if (!d) return "vitals_plugin_entry returned NULL (the plugin failed to initialise)";
    constexpr size_t header = offsetof(vitals_plugin_descriptor, abi_minor) + sizeof(uint16_t);
    if (d->struct_size < header) return "malformed descriptor: struct_size " + std::to_string(d->struct_size) + " is too small";
    if (d->abi_major != VITALS_ABI_MAJOR)
        return "built for plugin ABI " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
               ", this vitals speaks ABI " + std::to_string(VITALS_ABI_MAJOR) + "." +
               std::to_string(VITALS_ABI_MINOR) + "; rebuild the plugin against a matching SDK";
    if (!offset_ok(d->struct_size, offsetof(vitals_plugin_descriptor, type_count) + sizeof(size_t)))
        return "malformed descriptor: struct_size " + std::to_string(d->struct_size) + " is too small";
    if (!d->name || !*d->name) return "malformed descriptor: plugin name is null or empty";
    if (!d->version) return "malformed descriptor: plugin version is null";
    if (d->type_count == 0 || !d->types) return "malformed descriptor: provides no check types";
    if (d->type_count > 1000) return "malformed descriptor: type_count " + std::to_string(d->type_count);
    for (size_t i = 0; i < d->type_count; ++i) {
        // Every element has the first one's size; check it before stepping by it.
        if (!offset_ok(d->types[0].struct_size, offsetof(vitals_check_type, destroy) + sizeof(d->types[0].destroy)))
            return "malformed descriptor: check type #0 has struct_size " + std::to_string(d->types[0].struct_size);
        const vitals_check_type& t = element(d->types, i);
        std::string where = "check type #" + std::to_string(i);
        if (!offset_ok(t.struct_size, offsetof(vitals_check_type, destroy) + sizeof(t.destroy)))
            return "malformed descriptor: " + where + " has struct_size " + std::to_string(t.struct_size);
        if (!t.name || !*t.name) return "malformed descriptor: " + where + " has a null or empty name";
        where = "check type \"" + std::string(t.name) + "\"";
        for (size_t k = 0; k < i; ++k)
            if (std::strcmp(element(d->types, k).name, t.name) == 0) return where + " is declared twice";
        if (!t.description || !t.component_type || !t.default_measurement)
            return "malformed descriptor: " + where + " has a null description, component_type or default_measurement";
        if (!t.create || !t.run || !t.destroy)
            return "malformed descriptor: " + where + " lacks create, run or destroy";
        if (t.option_count > 0 && !t.options) return "malformed descriptor: " + where + " has options == NULL";
        if (t.option_count > 0 && !offset_ok(t.options[0].struct_size, offsetof(vitals_option_spec, help) + sizeof(t.options[0].help)))
            return "malformed descriptor: " + where + " option #0 has struct_size " + std::to_string(t.options[0].struct_size);
        if (t.option_count > 1000) return "malformed descriptor: " + where + " has " + std::to_string(t.option_count) + " options";
        for (size_t j = 0; j < t.option_count; ++j) {
            const vitals_option_spec& o = element(t.options, j);
            if (!offset_ok(o.struct_size, offsetof(vitals_option_spec, help) + sizeof(o.help)))
                return "malformed descriptor: " + where + " option #" + std::to_string(j) + " has struct_size " +
                       std::to_string(o.struct_size);
            if (!o.name || !*o.name || !o.help)
                return "malformed descriptor: " + where + " option #" + std::to_string(j) + " has a null name or help";
            if (o.type > VITALS_OPTION_STRING_MAP)
                return "malformed descriptor: " + where + " option \"" + o.name + "\" has unknown type " +
                       std::to_string(o.type);
        }
    }
    return "";
}

}  // namespace

bool PluginRegistry::load_file(const std::string& path, bool strict_permissions, std::string& reason) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        reason = std::string("cannot open: ") + std::strerror(errno);
        return false;
    }
    bool loaded = load_opened(fd, path, strict_permissions, reason);
    ::close(fd);
    return loaded;
}

bool PluginRegistry::load_opened(int fd, const std::string& path, bool strict_permissions, std::string& reason) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        reason = std::string("cannot stat: ") + std::strerror(errno);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        reason = "not a regular file";
        return false;
    }
    if (strict_permissions) {
        reason = permission_problem(st);
        if (!reason.empty()) return false;
    }
    std::shared_ptr<LoadedLibrary> lib;
    {
        std::lock_guard<std::mutex> lock(cache_mutex);
        auto& cache = library_cache();
        auto found = cache.find(path);  // keyed by the real path, never the /proc one
        if (found != cache.end()) {
            lib = found->second;
        } else {
            auto fresh = std::make_shared<LoadedLibrary>();
            fresh->path = path;
            // Loaded through a descriptor of its own that is never closed once dlopen() succeeded:
            // the dynamic loader knows the library by the name it was given and answers a later
            // dlopen() of the same name with it, so /proc/self/fd/N must never name another file
            // while the library may be loaded (libraries are never unloaded; one refused after
            // loading may not be either).
            const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (own < 0) {
                reason = std::string("cannot load: dup: ") + std::strerror(errno);
                return false;
            }
            const std::string by_fd = "/proc/self/fd/" + std::to_string(own);
            std::error_code ec;
            // rtld_now: resolve every symbol now, so a missing one is a refusal here rather than a
            // crash at the first call (Boost.DLL defaults to lazy binding).
            fresh->library.load(boost::dll::fs::path(by_fd), ec, boost::dll::load_mode::rtld_now);
            if (ec || !fresh->library.is_loaded()) {
                ::close(own);  // nothing was loaded under its name
                const char* why = ::dlerror();
                std::string text = why ? why : ec.message();
                // dlerror() names what it was given: name the file the operator knows instead.
                for (size_t at = text.find(by_fd); at != std::string::npos; at = text.find(by_fd, at + path.size()))
                    text.replace(at, by_fd.size(), path);
                reason = "cannot load: " + text;
                return false;
            }
            if (!fresh->library.has(VITALS_PLUGIN_ENTRY_SYMBOL)) {
                reason = "not a vitals plugin: it does not export the symbol " VITALS_PLUGIN_ENTRY_SYMBOL;
                return false;
            }
            fresh->host.struct_size = sizeof(vitals_host_api);
            fresh->host.abi_major = VITALS_ABI_MAJOR;
            fresh->host.abi_minor = VITALS_ABI_MINOR;
            fresh->host.context = fresh.get();
            fresh->host.log = &plugin_log;
            auto entry = fresh->library.get<const vitals_plugin_descriptor*(const vitals_host_api*)>(
                VITALS_PLUGIN_ENTRY_SYMBOL);
            fresh->descriptor = entry(&fresh->host);
            reason = descriptor_problem(fresh->descriptor);
            if (!reason.empty()) return false;
            cache[path] = fresh;
            lib = fresh;
        }
    }
    const vitals_plugin_descriptor* d = lib->descriptor;
    // All or nothing: a plugin whose type clashes with one already loaded is refused whole.
    for (size_t i = 0; i < d->type_count; ++i) {
        auto clash = types_.find(element(d->types, i).name);
        if (clash != types_.end()) {
            reason = "check type \"" + clash->first + "\" is already provided by " + clash->second.file;
            return false;
        }
    }
    for (size_t i = 0; i < d->type_count; ++i) {
        const vitals_check_type& t = element(d->types, i);
        CheckTypeInfo info;
        info.name = t.name;
        info.description = t.description;
        info.component_type = t.component_type;
        info.default_measurement = t.default_measurement;
        info.plugin_name = d->name;
        info.plugin_version = d->version;
        info.file = path;
        for (size_t j = 0; j < t.option_count; ++j) {
            const vitals_option_spec& o = element(t.options, j);
            OptionSpec spec;
            spec.name = o.name;
            spec.type = static_cast<vitals_option_type>(o.type);
            spec.required = (o.flags & VITALS_OPTION_REQUIRED) != 0;
            spec.secret = (o.flags & VITALS_OPTION_SECRET) != 0;
            if (o.default_json) spec.default_json = std::string(o.default_json);
            spec.help = o.help;
            info.options.push_back(std::move(spec));
        }
        info.abi = &t;
        info.library = lib;
        types_.emplace(info.name, std::move(info));
    }
    return true;
}

std::shared_ptr<PluginRegistry> PluginRegistry::scan(const std::vector<std::string>& dirs, bool strict_permissions,
                                                     bool required_dirs, const std::set<std::string>* wanted,
                                                     const LoadGuard* guard) {
    auto reg = std::make_shared<PluginRegistry>();
    reg->dirs_ = dirs;
    std::vector<std::string> candidates;  // in scan order: directories in turn, files by name
    for (const auto& dir : dirs) {
        DIR* d = ::opendir(dir.c_str());
        if (!d) {
            if (required_dirs) reg->refusals_.push_back({dir, std::string("cannot open directory: ") + std::strerror(errno)});
            continue;
        }
        std::vector<std::string> files;
        while (dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 3 && n.compare(n.size() - 3, 3, ".so") == 0) files.push_back(dir + "/" + n);
        }
        ::closedir(d);
        if (files.empty()) continue;
        if (strict_permissions) {
            std::string why = permission_problem(dir);
            if (!why.empty()) {
                reg->refusals_.push_back({dir, "directory " + why});
                continue;
            }
        }
        std::sort(files.begin(), files.end());
        candidates.insert(candidates.end(), files.begin(), files.end());
    }
    // One round: with a guard, every file not loaded in this process yet is first loaded in a child
    // of its own, all children at once (a round costs about one child's start-up, not one each).
    auto load_round = [&](const std::vector<std::string>& files) {
        std::vector<std::string> child_refusal(files.size());
        if (guard) {
            std::vector<std::thread> children;
            for (size_t i = 0; i < files.size(); ++i) {
                if (loaded_in_process(files[i])) continue;
                if (strict_permissions) {
                    // Checked here first: a file anyone could have written is not run even in a child.
                    child_refusal[i] = permission_problem(files[i]);
                    if (!child_refusal[i].empty()) continue;
                }
                if (auto known = remembered_refusal(files[i])) {
                    child_refusal[i] = *known;
                    continue;
                }
                // Logged here, on the scanning thread (the children's threads do no logging).
                spdlog::debug("plugin {}: loading it in a worker process first", files[i]);
                children.emplace_back([&, i] { child_refusal[i] = load_in_child(files[i], strict_permissions, *guard); });
            }
            for (auto& t : children) t.join();
        }
        for (size_t i = 0; i < files.size(); ++i) {
            std::string reason = child_refusal[i];
            if (reason.empty() && reg->load_file(files[i], strict_permissions, reason)) continue;
            reg->refusals_.push_back({files[i], reason});
        }
    };
    std::vector<bool> loaded(candidates.size(), false);
    if (wanted) {
        auto named_after_wanted = [&](const std::string& path) {
            std::string stem = path.substr(path.rfind('/') + 1);
            stem.resize(stem.size() - 3);  // ".so"
            if (wanted->count(stem)) return true;
            return stem.rfind("lib", 0) == 0 && wanted->count(stem.substr(3)) > 0;
        };
        std::vector<std::string> first;
        for (size_t i = 0; i < candidates.size(); ++i)
            if (named_after_wanted(candidates[i])) {
                first.push_back(candidates[i]);
                loaded[i] = true;
            }
        load_round(first);
        bool missing = false;
        for (const auto& t : *wanted) missing = missing || !reg->find(t);
        if (!missing) return reg;
    }
    std::vector<std::string> rest;
    for (size_t i = 0; i < candidates.size(); ++i)
        if (!loaded[i]) rest.push_back(candidates[i]);
    load_round(rest);
    return reg;
}

const CheckTypeInfo* PluginRegistry::find(const std::string& type) const {
    auto it = types_.find(type);
    return it == types_.end() ? nullptr : &it->second;
}

std::vector<const CheckTypeInfo*> PluginRegistry::types() const {
    std::vector<const CheckTypeInfo*> out;
    for (const auto& kv : types_) out.push_back(&kv.second);
    return out;
}

std::vector<std::string> PluginRegistry::type_names() const {
    std::vector<std::string> out;
    for (const auto& kv : types_) out.push_back(kv.first);
    return out;
}

}  // namespace vitals
