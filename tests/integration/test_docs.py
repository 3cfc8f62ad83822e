"""Documentation that must stay true:

- docs/plugins.md: its code blocks are docs/examples/heartbeat/* byte for byte, its build commands
  (the block marked `<!-- test: run -->`) are run exactly as written, the listing it shows is what
  `vitals plugins` prints, and its example check passes and fails as it says;
- docs/config-reference.md is what `vitals plugins --markdown` prints for the plugins of this
  build (regenerate with `make docs`);
- README.md still opens with its two commands, and relative links in README.md and docs/ resolve.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import difflib
import json
import unittest

from vitals_harness import BUILD_DIR, SOURCE_DIR, VITALS, daemon_env

DOCS = os.path.join(SOURCE_DIR, "docs")
GUIDE = os.path.join(DOCS, "plugins.md")
REFERENCE = os.path.join(DOCS, "config-reference.md")


def marked_blocks(path):
    """[(marker, language, code)] for every fenced block preceded by an `<!-- marker -->` line."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    pattern = re.compile(r"^<!-- (.+?) -->\n```(\w*)\n(.*?)^```$", re.M | re.S)
    return [(m.group(1), m.group(2), m.group(3)) for m in pattern.finditer(text)]


def block(path, marker):
    found = [code for mark, _, code in marked_blocks(path) if mark == marker]
    if len(found) != 1:
        raise AssertionError("%s: expected one block marked <!-- %s -->, found %d" % (path, marker, len(found)))
    return found[0]


class PluginGuideTest(unittest.TestCase):
    """Runs docs/plugins.md step 3 once, as a reader would, in a fresh directory."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(VITALS):
            raise AssertionError("build output missing: %s" % VITALS)
        cls._tmp = tempfile.TemporaryDirectory(prefix="vitals-guide-")
        cls.home = cls._tmp.name
        # "From a directory holding heartbeat/ (the two files above) and build/ (your vitals build)".
        shutil.copytree(os.path.join(DOCS, "examples", "heartbeat"), os.path.join(cls.home, "heartbeat"))
        os.symlink(BUILD_DIR, os.path.join(cls.home, "build"))
        env = daemon_env(extra={"HOME": cls.home})
        for var in ("CMAKE_PREFIX_PATH", "CMAKE_GENERATOR", "CMAKE_BUILD_TYPE"):
            env.pop(var, None)
        cls.run_result = subprocess.run(["bash", "-euo", "pipefail", "-c", block(GUIDE, "test: run")],
                                        cwd=cls.home, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, timeout=300)
        cls.plugin_dir = os.path.join(cls.home, "vitals-plugins")

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_code_blocks_are_the_example_files(self):
        files = [(mark[len("file: "):], code) for mark, _, code in marked_blocks(GUIDE) if mark.startswith("file: ")]
        self.assertEqual(sorted(p for p, _ in files),
                         ["docs/examples/heartbeat/CMakeLists.txt", "docs/examples/heartbeat/heartbeat.cpp"])
        for rel, code in files:
            with open(os.path.join(SOURCE_DIR, rel), encoding="utf-8") as f:
                self.assertEqual(code, f.read(), "%s differs from its block in docs/plugins.md" % rel)
        # Every file of the example is shown: the guide is the whole plugin.
        shown = {os.path.basename(p) for p, _ in files}
        self.assertEqual(set(os.listdir(os.path.join(DOCS, "examples", "heartbeat"))), shown)
        with open(os.path.join(DOCS, "examples", "heartbeat", "heartbeat.cpp")) as f:
            self.assertLessEqual(len(f.read().splitlines()), 40, "the guide promises about 30 lines")

    def test_guide_commands_build_and_list_the_plugin(self):
        r = self.run_result
        self.assertEqual(r.returncode, 0, "the commands of docs/plugins.md step 3 failed:\n%s\n%s" % (r.stdout, r.stderr))
        so = os.path.join(self.plugin_dir, "heartbeat.so")
        self.assertTrue(os.path.isfile(so))
        # The listing shown in the guide, with the reader's path in place of /home/you.
        expected = block(GUIDE, "test: expected output").replace("/home/you/vitals-plugins", self.plugin_dir)
        self.assertIn(expected, r.stdout)
        self.assertRegex(r.stdout, r"(?m)^disk ", "the built-in plugins are still listed")

    def test_guide_check_passes_and_fails_as_described(self):
        self.assertEqual(self.run_result.returncode, 0, self.run_result.stderr)
        check = json.loads(block(GUIDE, "test: check"))
        self.assertEqual(check["type"], "heartbeat")
        beat = os.path.join(self.home, "heartbeat-file")
        check["options"]["path"] = beat
        conf = os.path.join(self.home, "vitals.json")
        with open(conf, "w") as f:
            json.dump({"history": {"path": os.path.join(self.home, "h.db")}, "checks": [check]}, f)
        env = daemon_env(plugin_dir=self.plugin_dir)

        def vitals_check():
            return subprocess.run([VITALS, "check", "-c", conf], env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)

        r = subprocess.run([VITALS, "validate", "-c", conf], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = vitals_check()
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn(beat + ": missing", r.stdout)
        with open(beat, "w"):
            pass
        r = vitals_check()
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stdout, r"app-heartbeat\s+heartbeat\s+pass")
        old = time.time() - 3600
        os.utime(beat, (old, old))
        r = vitals_check()
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn(beat + ": stale", r.stdout)


class ConfigReferenceTest(unittest.TestCase):
    maxDiff = None

    def markdown(self):
        env = daemon_env()  # without VITALS_PLUGIN_DIR: the plugins of this build only
        r = subprocess.run([VITALS, "plugins", "--markdown"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_reference_is_current(self):
        current = self.markdown()
        with open(REFERENCE, encoding="utf-8") as f:
            committed = f.read()
        if committed != current:
            diff = "".join(difflib.unified_diff(committed.splitlines(True), current.splitlines(True),
                                                "docs/config-reference.md (committed)", "vitals plugins --markdown"))
            self.fail("docs/config-reference.md is stale: the plugins' option schemas changed. Regenerate it "
                      "with `make docs` (or `cmake --build <build> --target docs`) and commit it.\n" + diff[:6000])

    def test_reference_covers_every_type_and_option(self):
        md = self.markdown()
        plain = subprocess.run([VITALS, "plugins"], env=daemon_env(), stdout=subprocess.PIPE, text=True,
                               timeout=30).stdout
        # `vitals plugins`: "<type>  (<plugin> <version>, <file>)", then the description on the next
        # line, then one line per option, each indented by four spaces.
        listing = {}
        lines = plain.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\S+)  \(", line)
            if m:
                opts = listing.setdefault(m.group(1), [])
                for opt in lines[i + 2:]:
                    if not opt.startswith("    "):
                        break
                    opts.append(opt.split()[0])
        sections = re.split(r"(?m)^## ", md)[1:]
        documented = {}
        for s in sections:
            name = s.split("\n", 1)[0].strip()
            documented[name] = re.findall(r"(?m)^\| `([^`]+)` \|", s)
            for row in re.findall(r"(?m)^\| `[^`]+` \|.*$", s):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
                self.assertEqual(len(cells), 5, row)
                self.assertIn(cells[3], ("", "required", "secret", "required, secret"), row)
        # Each type's options, in schema order.
        self.assertEqual(documented, listing)

    def test_options_marked_secret_in_reference(self):
        # The flag column carries the schema's SECRET bit: whatever `vitals plugins` calls secret.
        md = self.markdown()
        self.assertRegex(md, r"\| (required, )?secret \|", "no secret option documented at all")
        plain = subprocess.run([VITALS, "plugins"], env=daemon_env(), stdout=subprocess.PIPE, text=True,
                               timeout=30).stdout
        secret_row = r"(?m)^    (\S+) +(?:string list|string map|\S+) +(?:required|optional|default \S+), secret"
        for m in re.finditer(secret_row, plain):
            self.assertRegex(md, r"(?m)^\| `%s` \|[^\n]*\| (required, )?secret \|" % re.escape(m.group(1)))


class ReadmeAndLinksTest(unittest.TestCase):
    def test_readme_opens_with_the_two_commands(self):
        with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
            text = f.read()
        first = re.search(r"```sh\n(.*?)```", text, re.S).group(1).splitlines()
        self.assertEqual([l.split()[:2] for l in first], [["make", "run"], ["make", "test"]])
        self.assertTrue(text.startswith("# vitals\n\n```sh\nmake run"), "README.md must open with the two commands")

    def test_relative_links_resolve(self):
        files = [os.path.join(SOURCE_DIR, "README.md")] + [
            os.path.join(DOCS, f) for f in os.listdir(DOCS) if f.endswith(".md")] + [
            os.path.join(SOURCE_DIR, "packaging", "aws", "README.md")]
        for path in files:
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as f:
                text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if re.match(r"^[a-z]+:", target):
                    continue
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
                if resolved.startswith(os.path.normpath(os.path.join(SOURCE_DIR, "..", "shared"))):
                    continue  # ../shared/SPEC.md lives beside the repository, not in it
                with self.subTest(file=os.path.relpath(path, SOURCE_DIR), link=target):
                    self.assertTrue(os.path.exists(resolved), resolved)


if __name__ == "__main__":
    unittest.main()
