// disk: the free space and free inodes of the filesystem holding `path`, against warn/fail thresholds,
// and optionally a write probe proving the filesystem still accepts writes.
//
// "Free" always means what an unprivileged process can still use (statvfs f_bavail / f_favail): the
// blocks a filesystem reserves for root do not help a service running as its own user, and a disk is
// "full" for that service when df shows 100%, not when the last reserved block is gone.
#include <vitals/plugin.hpp>

#include <vitals_plugins/text.hpp>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using vitals_plugins::errno_text;

// printf into a std::string; every message here is one short line.
template <class... Args>
std::string format(const char* fmt, Args... args) {
    char buf[1024];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

// A byte count in binary units with one decimal, e.g. "4.1 GiB".
std::string format_bytes(double bytes) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t unit = 0;
    while (bytes >= 1024 && unit + 1 < std::size(units)) {
        bytes /= 1024;
        ++unit;
    }
    return unit == 0 ? format("%.0f B", bytes) : format("%.1f %s", bytes, units[unit]);
}

// A threshold as the user wrote it: 5 → "5", 7.5 → "7.5".
std::string format_threshold(double value) { return format("%g", value); }

// Percent rounded to 0.1, the precision we report. Thresholds are compared against this rounded
// value so that the decision always agrees with the number the operator sees.
double round_tenth(double percent) { return std::round(percent * 10.0) / 10.0; }

// Creates, writes, fsyncs and unlinks a small file in `dir`. Returns "" on success, else
// "<strerror> (<step> in <dir>)". Not bounded by the deadline: a write to a hung network filesystem
// can block, which the host reports as a timeout (use "isolation": "process" for such mounts).
std::string write_probe(const std::string& dir) {
    std::string name = dir;
    if (name.back() != '/') name += '/';
    name += ".vitals-write-probe-XXXXXX";
    std::vector<char> path(name.begin(), name.end());
    path.push_back('\0');

    auto failure = [&dir](const char* step, int err) {
        return errno_text(err) + " (" + step + " in " + dir + ")";
    };

    // O_CLOEXEC: the daemon may be forking check programs on other threads right now; they must not
    // inherit this descriptor.
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) return failure("create", errno);

    std::string error;
    static const char payload[] = "vitals write probe\n";
    size_t written = 0;
    while (error.empty() && written < sizeof payload - 1) {
        ssize_t n = ::write(fd, payload + written, sizeof payload - 1 - written);
        if (n > 0) {
            written += static_cast<size_t>(n);
        } else if (n < 0 && errno != EINTR) {
            error = failure("write", errno);
        } else if (n == 0) {
            error = failure("write", EIO);  // a zero-length write of a non-empty buffer: treat as I/O error
        }
    }
    // fsync is where a full or read-only-remounted filesystem, or a failing device, reports itself.
    if (error.empty() && ::fsync(fd) != 0) error = failure("fsync", errno);
    // close can report a deferred write error (NFS); only the first error is kept.
    if (::close(fd) != 0 && error.empty() && errno != EINTR) error = failure("close", errno);
    // Always remove the file, even after a failed write, so probes never accumulate.
    if (::unlink(path.data()) != 0 && error.empty()) error = failure("unlink", errno);
    return error;
}

// What statvfs says about the filesystem, in the terms the thresholds use.
struct Usage {
    uint64_t free_bytes = 0;   // available to unprivileged users
    uint64_t usable_bytes = 0; // used + free_bytes: the size an unprivileged user sees
    double free_percent = 0;   // free_bytes / usable_bytes, rounded to 0.1
    bool has_inodes = false;   // false when the filesystem reports 0 inodes (btrfs, some FUSE)
    double inode_free_percent = 0;
};

class DiskCheck : public vitals::Check {
public:
    explicit DiskCheck(const vitals::Options& o)
        : path_(o.string("path")),
          warn_percent_(o.number("warn_free_percent")),
          fail_percent_(o.number("fail_free_percent")),
          fail_inodes_percent_(o.number("fail_free_inodes_percent")),
          write_probe_(o.boolean("write_probe")) {
        if (o.has("warn_free_bytes")) warn_bytes_ = o.integer("warn_free_bytes");
        if (o.has("fail_free_bytes")) fail_bytes_ = o.integer("fail_free_bytes");

        // The daemon's working directory is not something an operator controls or sees.
        if (path_.empty() || path_.front() != '/')
            throw std::runtime_error("path must be an absolute path (got '" + path_ + "')");
        require_percent("warn_free_percent", warn_percent_);
        require_percent("fail_free_percent", fail_percent_);
        require_percent("fail_free_inodes_percent", fail_inodes_percent_);
        if (fail_percent_ > warn_percent_)
            throw std::runtime_error("fail_free_percent (" + format_threshold(fail_percent_) +
                                     ") must not be greater than warn_free_percent (" +
                                     format_threshold(warn_percent_) + ")");
        if (warn_bytes_ && *warn_bytes_ < 0)
            throw std::runtime_error("warn_free_bytes must not be negative (got " + std::to_string(*warn_bytes_) + ")");
        if (fail_bytes_ && *fail_bytes_ < 0)
            throw std::runtime_error("fail_free_bytes must not be negative (got " + std::to_string(*fail_bytes_) + ")");
        if (warn_bytes_ && fail_bytes_ && *fail_bytes_ > *warn_bytes_)
            throw std::runtime_error("fail_free_bytes (" + std::to_string(*fail_bytes_) +
                                     ") must not be greater than warn_free_bytes (" + std::to_string(*warn_bytes_) + ")");
    }

    vitals::Result run(vitals::Deadline) override {
        struct statvfs st {};
        if (::statvfs(path_.c_str(), &st) != 0)
            return vitals::Result::fail("statvfs(" + path_ + "): " + errno_text(errno));

        Usage u;
        // f_blocks etc. count fragments of f_frsize bytes; f_frsize is 0 only on very old kernels.
        const uint64_t unit = st.f_frsize ? st.f_frsize : st.f_bsize;
        const uint64_t used_blocks = st.f_blocks >= st.f_bfree ? st.f_blocks - st.f_bfree : 0;
        const uint64_t usable_blocks = used_blocks + st.f_bavail;
        if (usable_blocks == 0)
            return vitals::Result::fail("filesystem of " + path_ + " reports a size of 0 (not a disk-backed filesystem?)");
        u.free_bytes = static_cast<uint64_t>(st.f_bavail) * unit;
        u.usable_bytes = usable_blocks * unit;
        u.free_percent = round_tenth(100.0 * static_cast<double>(st.f_bavail) / static_cast<double>(usable_blocks));
        if (st.f_files > 0) {
            u.has_inodes = true;
            u.inode_free_percent = round_tenth(100.0 * static_cast<double>(st.f_favail) / static_cast<double>(st.f_files));
        }

        // Every threshold is evaluated so the output names all problems at once; the worst wins.
        std::vector<std::string> failures, warnings;
        if (u.free_percent < fail_percent_) {
            failures.push_back(format("free space %.1f%% below fail threshold %s%% on %s", u.free_percent,
                                      format_threshold(fail_percent_).c_str(), path_.c_str()));
        } else if (u.free_percent < warn_percent_) {
            warnings.push_back(format("free space %.1f%% below warn threshold %s%% on %s", u.free_percent,
                                      format_threshold(warn_percent_).c_str(), path_.c_str()));
        }
        const auto free_bytes = static_cast<double>(u.free_bytes);
        if (fail_bytes_ && u.free_bytes < static_cast<uint64_t>(*fail_bytes_)) {
            failures.push_back("free space " + format_bytes(free_bytes) + " below fail threshold " +
                               format_bytes(static_cast<double>(*fail_bytes_)) + " on " + path_);
        } else if (warn_bytes_ && u.free_bytes < static_cast<uint64_t>(*warn_bytes_)) {
            warnings.push_back("free space " + format_bytes(free_bytes) + " below warn threshold " +
                               format_bytes(static_cast<double>(*warn_bytes_)) + " on " + path_);
        }
        if (u.has_inodes && u.inode_free_percent < fail_inodes_percent_) {
            failures.push_back(format("free inodes %.1f%% below fail threshold %s%% on %s", u.inode_free_percent,
                                      format_threshold(fail_inodes_percent_).c_str(), path_.c_str()));
        }
        if (write_probe_) {
            std::string error = write_probe(path_);
            if (!error.empty()) failures.push_back("write probe failed: " + error);
        }

        std::string problems;
        for (const auto* list : {&failures, &warnings})
            for (const auto& p : *list) problems += (problems.empty() ? "" : "; ") + p;

        vitals::Result r = !failures.empty()   ? vitals::Result::fail(problems)
                           : !warnings.empty() ? vitals::Result::warn(problems)
                                               : vitals::Result::pass(format(
                                                     "%.1f%% free (%s of %s) on %s", u.free_percent,
                                                     format_bytes(free_bytes).c_str(),
                                                     format_bytes(static_cast<double>(u.usable_bytes)).c_str(),
                                                     path_.c_str()));
        r.observed(u.free_percent, "percent");
        return r;
    }

private:
    static void require_percent(const char* name, double value) {
        if (!(value >= 0 && value <= 100))  // also rejects NaN
            throw std::runtime_error(std::string(name) + " must be between 0 and 100 (got " + format_threshold(value) + ")");
    }

    std::string path_;
    double warn_percent_;
    double fail_percent_;
    double fail_inodes_percent_;
    bool write_probe_;
    std::optional<int64_t> warn_bytes_;  // unset: not checked
    std::optional<int64_t> fail_bytes_;  // unset: not checked
};

// The option schema: one row per option, the single source for validation, defaults and `vitals plugins`.
const vitals_option_spec disk_options[] = {
    vitals::option("path", VITALS_OPTION_STRING, "\"/\"", "absolute path on the filesystem to check"),
    vitals::option("warn_free_percent", VITALS_OPTION_NUMBER, "10", "warn when free space is below this percent"),
    vitals::option("fail_free_percent", VITALS_OPTION_NUMBER, "5", "fail when free space is below this percent"),
    vitals::option("warn_free_bytes", VITALS_OPTION_INT, nullptr, "warn when free space is below this many bytes"),
    vitals::option("fail_free_bytes", VITALS_OPTION_INT, nullptr, "fail when free space is below this many bytes"),
    vitals::option("fail_free_inodes_percent", VITALS_OPTION_NUMBER, "2",
                   "fail when free inodes are below this percent (skipped if the filesystem has no inode count)"),
    vitals::option("write_probe", VITALS_OPTION_BOOL, "false",
                   "create, write, fsync and unlink a small file in path; fail if any step fails"),
};

}  // namespace

VITALS_PLUGIN("vitals-disk", "0.1.0",
              vitals::check_type<DiskCheck>("disk", "free space and free inodes of a filesystem, optional write probe",
                                            "system", "freeSpace", disk_options))
