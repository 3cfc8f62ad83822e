"""History storage faults (issue 12, items 6-11) against the real daemon: a database that cannot be
written at shutdown, a file deleted or replaced while open, a full disk, a missing or unusable
database behind /health/history, a history.path that is not ours, and pruning at a high write rate."""

import os
import re
import sqlite3
import subprocess
import time
import unittest

from test_operations import parse_metrics, value
from vitals_harness import VitalsTestCase, file_check

SQLITE_HEADER = b"SQLite format 3\x00"


def newest_id(d):
    """The id of the newest history row /health/history answers (0 when there is none)."""
    r = d.get("/health/history?limit=1")
    if r.status != 200:
        raise AssertionError("/health/history answered %r" % r)
    items = r.json()["items"]
    return items[0]["id"] if items else 0


def write_errors(d):
    return value(parse_metrics(d.get("/metrics").body.decode()), "vitals_history_write_errors_total")


class HistoryFaultsTest(VitalsTestCase):

    def start_writing(self, history=None, checks=1, **sections):
        """A daemon with `checks` fixture checks at 100 ms (so history is written all the time) and
        these history settings (path defaults to one in the temp dir)."""
        status = self.status_file("ok.status", "pass", "fine")
        cfg = {"plugins": self.plugins_with_fixtures(),
               "checks": [file_check("c%d" % i, status, interval="100ms", timeout="50ms") for i in range(checks)]}
        if history is not None:
            cfg["history"] = history
        cfg.update(sections)
        return self.start_daemon(cfg)

    def db_path(self, d):
        return self.path(d.name + ".db")

    def assertLoggedOnce(self, d, text):
        self.assertEqual(d.log().count(text), 1, "%r in the log (once)" % text)

    # --- item 6: the final flush is bounded and says what it gave up ----------------------------

    def test_shutdown_with_an_unwritable_database_gives_up_the_queue_and_logs_it(self):
        blocker = self.path("blocker")
        with open(blocker, "w") as f:
            f.write("a file where a directory should be")
        d = self.start_writing({"path": os.path.join(blocker, "h.db")}, checks=3)
        self.wait_for(lambda: "history: cannot open database" in d.log(), message="the open error")
        self.wait_for(lambda: d.get("/health").status == 200, message="/health 200")
        started = time.monotonic()
        code = d.stop(timeout=60)  # a hang guard, not a speed claim
        took = time.monotonic() - started
        self.assertEqual(code, 0, d.log())
        m = re.search(r"history: (\d+) events not written at shutdown: (.*)", d.log())
        self.assertTrue(m, d.log())
        self.assertGreater(int(m.group(1)), 0)
        self.assertIn("cannot open database", m.group(2))
        self.assertIn("stopped", d.log())
        print("\nshutdown with an unwritable history database took %.2f s" % took)

    # --- item 7: a deleted or replaced file is noticed, counted and recreated ---------------------

    def test_a_deleted_database_is_noticed_counted_and_recreated(self):
        d = self.start_writing()
        db = self.db_path(d)
        self.wait_for(lambda: newest_id(d) >= 5, message="some history")
        self.assertEqual(write_errors(d), 0)
        os.unlink(db)
        self.wait_for(lambda: os.path.exists(db), message="a new database at the path")
        # Rows written after the deletion are in the new file, and served.
        self.wait_for(lambda: d.get("/health/history?limit=5").status == 200 and newest_id(d) >= 3,
                      message="rows in the new database")
        with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as con:
            self.assertGreater(con.execute("SELECT count(*) FROM events").fetchone()[0], 0)
        self.assertGreaterEqual(write_errors(d), 1)
        self.assertLoggedOnce(d, "was removed or replaced")
        self.assertEqual(d.get("/health").status, 200)

    def test_a_database_replaced_by_another_file_is_reopened(self):
        d = self.start_writing()
        db = self.db_path(d)
        self.wait_for(lambda: newest_id(d) >= 5, message="some history")
        # An operator restores an (empty) database over the live one, as `mv` does.
        fresh = self.path("fresh.db")
        open(fresh, "wb").close()
        os.replace(fresh, db)
        self.wait_for(lambda: os.path.getsize(db) > 0, message="the new file to be written")
        self.wait_for(lambda: newest_id(d) >= 3, message="rows in the new database")
        with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as con:
            self.assertGreater(con.execute("SELECT count(*) FROM events").fetchone()[0], 0)
        self.assertLoggedOnce(d, "was removed or replaced")
        self.assertGreaterEqual(write_errors(d), 1)

    # --- item 8: a full disk: one error line, one recovery line, writing resumes -----------------

    def mount_small_tmpfs(self):
        # 8 MiB: room for the database and a WAL below SQLite's auto-checkpoint size (4 MiB).
        mnt = self.path("small")
        os.mkdir(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest("cannot mount a small tmpfs (needs root): %s" % (p.stderr.strip() or p.returncode))
        # Registered before the daemon starts, so it runs after the daemon is stopped.
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt], capture_output=True))
        return mnt

    @staticmethod
    def fill(directory):
        """Writes a file into `directory` until the file system is full; returns its path."""
        filler = os.path.join(directory, "filler")
        chunk = b"x" * 4096
        with open(filler, "wb", buffering=0) as f:
            for _ in range(4096):  # bounded: the tmpfs holds 2048 chunks
                try:
                    f.write(chunk)
                except OSError:
                    break
        return filler

    def test_a_full_disk_is_logged_once_and_writing_resumes_when_space_returns(self):
        mnt = self.mount_small_tmpfs()
        d = self.start_writing({"path": os.path.join(mnt, "h.db")}, checks=5)
        self.wait_for(lambda: newest_id(d) >= 20, message="some history")
        filler = self.fill(mnt)
        self.wait_for(lambda: "database or disk is full" in d.log(), 30.0, "the disk-full error")
        # A few retries (one a second) while the disk stays full.
        self.wait_for(lambda: write_errors(d) >= 3, 30.0, "three failed attempts")
        self.assertEqual(d.get("/health").status, 200)
        before = newest_id(d)
        os.unlink(filler)
        self.wait_for(lambda: "writing again after" in d.log(), 30.0, "the recovery line")
        # Writing resumes fully: rows keep arriving, well past what was queued during the episode.
        resumed = newest_id(d)
        self.assertGreater(resumed, before)
        self.wait_for(lambda: newest_id(d) >= resumed + 50, 30.0, "rows to keep arriving")
        log = d.log()
        self.assertLoggedOnce(d, "database or disk is full")
        self.assertLoggedOnce(d, "writing again after")
        self.assertNotIn("writing to", log)
        m = re.search(r"history: writing again after (\d+) failed attempts / (\d+) events dropped", log)
        self.assertTrue(m, log)
        self.assertGreaterEqual(int(m.group(1)), 3)

    # --- item 9: /health/history and `vitals history` say why they cannot answer -----------------

    def test_history_answers_503_when_the_database_cannot_be_opened(self):
        blocker = self.path("blocker")
        with open(blocker, "w") as f:
            f.write("a file where a directory should be")
        path = os.path.join(blocker, "h.db")
        d = self.start_writing({"path": path})
        self.wait_for(lambda: "history: cannot open database" in d.log(), message="the open error")
        body = self.assertProblem(d.get("/health/history"), 503)
        self.assertIn(path, body["detail"])
        self.assertIn("Not a directory", body["detail"])
        self.assertEqual(d.get("/health").status, 200)

    def test_an_unknown_check_or_group_is_a_400_naming_it(self):
        d = self.start_writing(groups={"alb": {"checks": ["c0"]}})
        self.wait_for(lambda: newest_id(d) >= 1, message="some history")
        body = self.assertProblem(d.get("/health/history?check=c0,nosuch"), 400)
        self.assertIn("parameter check", body["detail"])
        self.assertIn('"nosuch"', body["detail"])
        for known in ("c0", "alb", "default", "c0,alb"):
            self.assertEqual(d.get("/health/history?check=" + known).status, 200, known)
        out = self.run_vitals(["history", "-c", d.config_path, "--check", "nosuch"])
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn('"nosuch"', out.stderr)
        self.assertIn("--check", out.stderr)
        ok = self.run_vitals(["history", "-c", d.config_path, "--check", "alb", "--json"])
        self.assertEqual(ok.returncode, 0, ok.stderr)

    # --- item 10: a file that is not ours is refused and left untouched --------------------------

    def assertRefusedUntouched(self, path, content):
        d = self.start_writing({"path": path})
        self.wait_for(lambda: "not a vitals history database" in d.log(), message="the refusal")
        self.wait_for(lambda: write_errors(d) >= 2, message="the writer to keep trying")
        self.assertEqual(d.get("/health").status, 200)
        body = self.assertProblem(d.get("/health/history"), 503)
        self.assertIn("not a vitals history database", body["detail"])
        self.assertLoggedOnce(d, "not a vitals history database")  # not once per attempt
        d.stop()
        with open(path, "rb") as f:
            self.assertEqual(f.read(), content)
        self.assertEqual([n for n in os.listdir(os.path.dirname(path)) if "corrupt" in n], [])
        self.assertNotIn("kept it as", d.log())

    def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(self):
        path = self.path("notes.json")
        content = b'{"these": "are my notes", "not": "a database"}\n' * 50
        with open(path, "wb") as f:
            f.write(content)
        self.assertRefusedUntouched(path, content)

    def test_an_sqlite_database_that_is_not_ours_is_refused_and_left_untouched(self):
        path = self.path("other.db")
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
            con.executemany("INSERT INTO notes (text) VALUES (?)", [("note %d" % i,) for i in range(100)])
        con.close()
        with open(path, "rb") as f:
            content = f.read()
        self.assertTrue(content.startswith(SQLITE_HEADER))
        self.assertRefusedUntouched(path, content)

    def test_a_corrupt_history_database_is_set_aside_with_the_check_output_on_one_line(self):
        d = self.start_writing(checks=3)
        db = self.db_path(d)
        self.wait_for(lambda: newest_id(d) >= 300, 30.0, "a few pages of history")
        d.stop()
        with sqlite3.connect(db) as con:  # fold the WAL in, so the pages are in the file
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        with open(db, "r+b") as f:  # garbage over the pages after the first two, header intact
            f.seek(2 * 4096)
            f.write(os.urandom(4 * 4096))
        d2 = self.start_daemon({"plugins": self.plugins_with_fixtures(), "history": {"path": db},
                                "checks": [file_check("c0", self.path("ok.status"), interval="100ms",
                                                      timeout="50ms")]})
        self.wait_for(lambda: "kept it as" in d2.log(), message="the corrupt file set aside")
        self.wait_for(lambda: newest_id(d2) >= 3, message="rows in a new database")
        aside = [n for n in os.listdir(self.tmp) if n.startswith(d.name + ".db.corrupt-")]
        self.assertEqual(len(aside), 1, os.listdir(self.tmp))
        line = [ln for ln in d2.log().splitlines() if "kept it as" in ln][0]
        self.assertIn("is corrupt", line)
        # Every log line is a log record: nothing of SQLite's multi-line output spilled over.
        for ln in d2.log().splitlines():
            self.assertRegex(ln, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", d2.log())

    # --- item 11: pruning keeps up with any write rate -------------------------------------------

    def test_the_table_stays_within_max_rows_plus_one_batch_at_a_high_rate(self):
        max_rows, batch = 1000, 5000  # batch: the writer's most rows per transaction
        d = self.start_writing({"max_rows": max_rows}, checks=120)
        db = self.db_path(d)
        # The file exists before the writer has created the schema in it (seen: "no such table").
        self.wait_for(lambda: d.get("/health/history").status == 200, message="the history schema")
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        self.addCleanup(con.close)
        counts = []

        def sample():
            count, newest = con.execute("SELECT count(*), coalesce(max(id), 0) FROM events").fetchone()
            counts.append(count)
            return newest >= 13 * max_rows
        self.wait_for(sample, 120.0, "%d rows written" % (13 * max_rows))
        self.assertGreater(len(counts), 10)
        self.assertLessEqual(max(counts), max_rows + batch, counts[-20:])
        print("\nmax rows seen %d (max_rows %d) in %d samples" % (max(counts), max_rows, len(counts)))


if __name__ == "__main__":
    unittest.main()
