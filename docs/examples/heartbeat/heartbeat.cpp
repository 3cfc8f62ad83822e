// heartbeat: passes while a file the service touches is fresh (a stuck event loop stops touching it).
#include <vitals/plugin.hpp>

#include <sys/stat.h>

#include <chrono>
#include <string>

class Heartbeat : public vitals::Check {
public:
    explicit Heartbeat(const vitals::Options& o) : path_(o.string("path")), max_age_(o.duration("max_age")) {}

    vitals::Result run(vitals::Deadline) override {
        struct stat st {};
        if (::stat(path_.c_str(), &st) != 0) return vitals::Result::fail(path_ + ": missing");
        auto age = std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st.st_mtime);
        double seconds = std::chrono::duration<double>(age).count();
        auto result = age > max_age_ ? vitals::Result::fail(path_ + ": stale") : vitals::Result::pass();
        return result.observed(seconds, "s");
    }

private:
    std::string path_;
    std::chrono::milliseconds max_age_;
};

static const vitals_option_spec heartbeat_options[] = {
    vitals::option("path", VITALS_OPTION_STRING, nullptr, "the file the service touches", VITALS_OPTION_REQUIRED),
    vitals::option("max_age", VITALS_OPTION_DURATION, "\"30s\"", "fail when the file is older than this"),
};

VITALS_PLUGIN("heartbeat", "1.0.0",
              vitals::check_type<Heartbeat>("heartbeat", "a file the service touches is fresh", "component", "age",
                                            heartbeat_options))
