#include "plugins/check_instance.h"
#include "plugins/registry.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace vitals;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) { return std::string(VITALS_FIXTURE_DIR) + "/" + name + ".so"; }

// Loads one fixture into a fresh registry; returns the refusal reason ("" when it loaded).
std::string refusal(const std::string& name) {
    PluginRegistry reg;
    std::string why;
    bool ok = reg.load_file(fixture(name), true, why);
    return ok ? std::string() : why;
}

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/vitals-test-XXXXXX";
        path = ::mkdtemp(tmpl);
        fs::permissions(path, fs::perms(0755));
    }
    ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("the built-in plugins load and describe their types", "[loader]") {
    auto reg = PluginRegistry::scan({VITALS_BUILTIN_PLUGIN_DIR}, true, true);
    CHECK(reg->refusals().empty());
    const CheckTypeInfo* disk = reg->find("disk");
    REQUIRE(disk);
    CHECK(disk->find_option("path"));
    CHECK(disk->component_type == "system");
    const CheckTypeInfo* tcp = reg->find("tcp");
    REQUIRE(tcp);
    REQUIRE(tcp->find_option("host"));
    CHECK(tcp->find_option("host")->required);
}

TEST_CASE("loader refuses a plugin built for another ABI major", "[loader]") {
    std::string why = refusal("bad_abi_major");
    CHECK_THAT(why, Catch::Contains("ABI 2.0") && Catch::Contains("rebuild"));
}

TEST_CASE("loader refuses a library without the entry symbol", "[loader]") {
    CHECK_THAT(refusal("no_entry_symbol"), Catch::Contains("vitals_plugin_entry"));
}

TEST_CASE("loader refuses an entry that returns NULL", "[loader]") {
    CHECK_THAT(refusal("entry_returns_null"), Catch::Contains("returned NULL"));
}

TEST_CASE("loader refuses a descriptor with a null type name", "[loader]") {
    CHECK_THAT(refusal("null_type_name"), Catch::Contains("malformed descriptor") && Catch::Contains("null or empty name"));
}

TEST_CASE("loader refuses a descriptor with a bad struct size", "[loader]") {
    CHECK_THAT(refusal("bad_struct_size"), Catch::Contains("malformed descriptor") && Catch::Contains("struct_size 4"));
}

TEST_CASE("loader refuses a check type without run()", "[loader]") {
    CHECK_THAT(refusal("null_run"), Catch::Contains("lacks create, run or destroy"));
}

TEST_CASE("loader refuses at load time a plugin with an unresolved symbol", "[loader]") {
    // rtld_now: the missing symbol is found here, not at the first run (which would kill the daemon).
    CHECK_THAT(refusal("undefined_symbol"), Catch::Contains("cannot load") && Catch::Contains("vitals_fixture_missing_function"));
}

TEST_CASE("loader refuses a file that is not a shared library", "[loader]") {
    CHECK_THAT(refusal("not_a_library"), Catch::Contains("cannot load"));
}

TEST_CASE("loader refuses a second plugin claiming a type already provided", "[loader]") {
    PluginRegistry reg;
    std::string why;
    REQUIRE(reg.load_file(fixture("dup_type_a"), true, why));
    CHECK_FALSE(reg.load_file(fixture("dup_type_b"), true, why));
    CHECK_THAT(why, Catch::Contains("\"dup\" is already provided by") && Catch::Contains("dup_type_a.so"));
    REQUIRE(reg.find("dup"));
    CHECK(reg.find("dup")->plugin_name == "fixture-dup-a");
}

TEST_CASE("loader refuses a plugin that declares one check type twice", "[loader]") {
    PluginRegistry reg;
    std::string why;
    CHECK_FALSE(reg.load_file(fixture("dup_type_in_one"), true, why));
    CHECK_THAT(why, Catch::Contains("check type \"twice\" is declared twice"));
    // All or nothing: not even the plugin's other type is kept.
    CHECK_FALSE(reg.find("twice"));
    CHECK_FALSE(reg.find("dup_in_one_unique"));
}

TEST_CASE("the loader checks and loads the file it opened, not what the path names later", "[loader]") {
    // The race load_file closes: between its permission check and dlopen, the file at the path is
    // replaced (here by a group-writable plugin of other types). Checking and loading the opened
    // descriptor, the checked file is the one loaded; by path, the swapped-in one would be.
    TempDir dir;
    fs::path path = dir.path / "plugin.so";
    fs::copy_file(fixture("faults"), path);
    fs::permissions(path, fs::perms(0755));
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    fs::path other = dir.path / "other.so";
    fs::copy_file(fixture("dup_type_a"), other);
    fs::permissions(other, fs::perms(0777));
    fs::rename(other, path);
    REQUIRE_THAT(permission_problem(path), Catch::Contains("writable by group or others"));

    PluginRegistry reg;
    std::string why;
    bool loaded = reg.load_opened(fd, path, true, why);
    ::close(fd);
    REQUIRE(loaded);
    CHECK(reg.find("fixture_file"));
    CHECK_FALSE(reg.find("dup"));
    REQUIRE(reg.find("fixture_file"));
    CHECK(reg.find("fixture_file")->file == path.string());  // named by its path, not /proc/self/fd/N
}

TEST_CASE("a refusal by the dynamic loader names the file, not the descriptor it was loaded through", "[loader]") {
    std::string why = refusal("undefined_symbol");
    CHECK_THAT(why, Catch::Contains(fixture("undefined_symbol")));
    CHECK_THAT(why, !Catch::Contains("/proc/self/fd/"));
}

TEST_CASE("loader refuses a plugin path that is not a regular file", "[loader]") {
    TempDir dir;
    fs::create_directory(dir.path / "dir.so");
    PluginRegistry reg;
    std::string why;
    CHECK_FALSE(reg.load_file(dir.path / "dir.so", true, why));
    CHECK(why == "not a regular file");
}

TEST_CASE("scan lists every refusal and keeps the good plugins", "[loader]") {
    auto reg = PluginRegistry::scan({VITALS_FIXTURE_DIR}, true, true);
    CHECK(reg->find("fixture_file"));
    CHECK(reg->find("dup"));
    std::vector<std::string> refused;
    for (const auto& r : reg->refusals()) refused.push_back(fs::path(r.file).filename());
    for (const char* bad : {"bad_abi_major.so", "no_entry_symbol.so", "entry_returns_null.so", "null_type_name.so",
                            "bad_struct_size.so", "null_run.so", "undefined_symbol.so", "not_a_library.so",
                            "dup_type_in_one.so"}) {
        INFO(bad);
        CHECK(std::find(refused.begin(), refused.end(), bad) != refused.end());
    }
}

TEST_CASE("strict permissions refuse group/other-writable plugin files and directories", "[loader]") {
    TempDir dir;
    fs::path copy = dir.path / "faults.so";
    fs::copy_file(fixture("faults"), copy);
    fs::permissions(copy, fs::perms(0755));
    CHECK(permission_problem(copy).empty());

    fs::permissions(copy, fs::perms(0775));
    CHECK_THAT(permission_problem(copy), Catch::Contains("writable by group or others"));
    auto reg = PluginRegistry::scan({dir.path}, true, true);
    CHECK_FALSE(reg->find("fixture_file"));
    REQUIRE(reg->refusals().size() == 1);
    CHECK_THAT(reg->refusals()[0].reason, Catch::Contains("chmod go-w"));

    // The same file loads when strict permissions are off.
    CHECK(PluginRegistry::scan({dir.path}, false, true)->find("fixture_file"));

    fs::permissions(copy, fs::perms(0755));
    fs::permissions(dir.path, fs::perms(0777));
    auto reg2 = PluginRegistry::scan({dir.path}, true, true);
    CHECK_FALSE(reg2->find("fixture_file"));
    REQUIRE(reg2->refusals().size() == 1);
    CHECK_THAT(reg2->refusals()[0].reason, Catch::Contains("directory"));
}

TEST_CASE("with the types a configuration uses, scan opens the files named after them first", "[loader]") {
    TempDir dir;
    // faults.so provides fixture_file, fixture_counter, ...; here it is also found as
    // libfixture_file.so. The broken neighbour must not be opened unless a type is missing.
    for (const char* name : {"libfixture_file.so", "faults.so"}) {
        fs::copy_file(fixture("faults"), dir.path / name);
        fs::permissions(dir.path / name, fs::perms(0755));
    }
    fs::copy_file(fixture("bad_abi_major"), dir.path / "aaa_broken.so");
    fs::permissions(dir.path / "aaa_broken.so", fs::perms(0755));

    std::set<std::string> by_name{"fixture_file", "fixture_counter"};
    auto lean = PluginRegistry::scan({dir.path}, true, true, &by_name);
    CHECK(lean->find("fixture_file"));
    CHECK(lean->find("fixture_counter"));  // same library, found with it
    CHECK(lean->refusals().empty());       // aaa_broken.so and faults.so were never opened
    CHECK(lean->find("fixture_file")->file == (dir.path / "libfixture_file.so").string());

    // A type no file is named after: every file is opened, as without a list.
    std::set<std::string> unknown{"fixture_file", "nope"};
    auto full = PluginRegistry::scan({dir.path}, true, true, &unknown);
    CHECK_FALSE(full->find("nope"));
    CHECK(full->refusals().size() == 2);  // the broken one, and faults.so duplicating the types
    auto all = PluginRegistry::scan({dir.path}, true, true);
    CHECK(all->refusals().size() == 2);

    // No checks at all: nothing to open.
    std::set<std::string> none;
    auto empty = PluginRegistry::scan({dir.path}, true, true, &none);
    CHECK(empty->types().empty());
    CHECK(empty->refusals().empty());
}

TEST_CASE("a missing plugin directory is a refusal only when configured explicitly", "[loader]") {
    CHECK(PluginRegistry::scan({"/nonexistent/vitals"}, true, false)->refusals().empty());
    CHECK(PluginRegistry::scan({"/nonexistent/vitals"}, true, true)->refusals().size() == 1);
}

TEST_CASE("check instances: run results are validated and cleaned", "[instance]") {
    PluginRegistry reg;
    std::string why;
    REQUIRE(reg.load_file(fixture("faults"), true, why));
    REQUIRE(reg.load_file(fixture("faults_raw"), true, why));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);

    SECTION("an exception becomes a failure with its message") {
        auto inst = CheckInstance::create(*reg.find("fixture_throws"), "{}", why);
        REQUIRE(inst);
        RunResult r = inst->run(deadline);
        CHECK(r.status == Status::fail);
        CHECK(r.output == "exception: boom");
    }
    SECTION("an invalid status becomes a failure that says so") {
        auto inst = CheckInstance::create(*reg.find("fixture_invalid_status"), "{}", why);
        REQUIRE(inst);
        RunResult r = inst->run(deadline);
        CHECK(r.status == Status::fail);
        CHECK_THAT(r.output, Catch::StartsWith("invalid status 42"));
    }
    SECTION("unterminated buffers are cut at their size") {
        auto inst = CheckInstance::create(*reg.find("fixture_unterminated"), "{}", why);
        REQUIRE(inst);
        RunResult r = inst->run(deadline);
        CHECK(r.output.size() == VITALS_OUTPUT_MAX);
        CHECK(r.observed_unit.size() == VITALS_UNIT_MAX);
    }
    SECTION("create() failures carry the plugin's reason") {
        auto inst = CheckInstance::create(*reg.find("fixture_create_fails"), R"({"reason":"bad host"})", why);
        CHECK_FALSE(inst);
        CHECK(why == "refusing to start: bad host");
    }
    SECTION("observed values and measurement come through") {
        auto inst = CheckInstance::create(*reg.find("fixture_counter"), "{}", why);
        REQUIRE(inst);
        inst->run(deadline);
        RunResult r = inst->run(deadline);
        CHECK(r.status == Status::pass);
        REQUIRE(r.observed_value);
        CHECK(*r.observed_value == 2);
        CHECK(r.observed_unit == "runs");
        CHECK(r.measurement == "runs");
    }
}

TEST_CASE("secret option values are scrubbed from a plugin's output", "[instance]") {
    PluginRegistry reg;
    std::string why;
    REQUIRE(reg.load_file(fixture("faults"), true, why));
    const CheckTypeInfo* leaky = reg.find("fixture_leaky");
    REQUIRE(leaky);
    REQUIRE(leaky->find_option("password"));
    CHECK(leaky->find_option("password")->secret);
    auto inst = CheckInstance::create(*leaky, R"({"password":"hunter2-secret"})", why);
    REQUIRE(inst);
    RunResult r = inst->run(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    CHECK(r.output == "AUTH failed for password '***' (***)");
}
