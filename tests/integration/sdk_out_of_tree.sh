#!/usr/bin/env bash
# Builds sdk/examples/hello out of tree against the installed SDK, as a third-party author would:
#   1. install only the `sdk` component of the main build into a temporary prefix;
#   2. configure and build sdk/examples/hello against that prefix (find_package(vitals-sdk));
#   3. check hello.so exports vitals_plugin_entry;
#   4. if <build>/vitals exists, check `vitals plugins` lists the type `hello`.
#
# Usage: sdk_out_of_tree.sh <main build dir> <source dir>
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <main build dir> <source dir>" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd) || { echo "FAIL: build dir '$1' not found" >&2; exit 1; }
source_dir=$(cd "$2" && pwd) || { echo "FAIL: source dir '$2' not found" >&2; exit 1; }
example_dir="$source_dir/sdk/examples/hello"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

[[ -f "$example_dir/CMakeLists.txt" ]] || fail "$example_dir/CMakeLists.txt not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vitals-sdk-oot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Run a step quietly; on failure show its output and stop.
step() {
    local what=$1
    shift
    if ! "$@" >"$tmp/step.log" 2>&1; then
        cat "$tmp/step.log" >&2
        fail "$what"
    fi
}

step "installing the sdk component of $build_dir" \
    cmake --install "$build_dir" --component sdk --prefix "$tmp/prefix"
[[ -f "$tmp/prefix/include/vitals/plugin.hpp" ]] || fail "install did not put include/vitals/plugin.hpp under the prefix"

step "configuring sdk/examples/hello against the installed SDK" \
    cmake -S "$example_dir" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release
step "building sdk/examples/hello" cmake --build "$tmp/build"

plugin="$tmp/build/hello.so"
[[ -f "$plugin" ]] || fail "build did not produce $plugin"
nm -D --defined-only "$plugin" | grep -qw vitals_plugin_entry ||
    fail "$plugin does not export vitals_plugin_entry"
echo "ok: hello.so built out of tree and exports vitals_plugin_entry"

if [[ ! -x "$build_dir/vitals" ]]; then
    echo "skip: $build_dir/vitals not built; not checking that 'vitals plugins' lists hello"
    exit 0
fi
# Only hello.so in the directory, so nothing else can make or break the listing.
mkdir -p "$tmp/plugins"
cp "$plugin" "$tmp/plugins/"
# The daemon refuses group/other-writable plugin files and directories (plugins.strict_permissions).
chmod 755 "$tmp/plugins"
chmod 644 "$tmp/plugins/hello.so"
if ! VITALS_PLUGIN_DIR="$tmp/plugins" "$build_dir/vitals" plugins >"$tmp/plugins.out" 2>&1; then
    cat "$tmp/plugins.out" >&2
    fail "'vitals plugins' exited non-zero with VITALS_PLUGIN_DIR=$tmp/plugins"
fi
grep -qw hello "$tmp/plugins.out" || {
    cat "$tmp/plugins.out" >&2
    fail "'vitals plugins' does not list the type 'hello'"
}
echo "ok: 'vitals plugins' lists hello"
