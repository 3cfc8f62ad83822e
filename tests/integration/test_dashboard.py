"""The dashboard (SPEC section 10) in a real browser: Debian's chromium, headless, driven by
chromium-driver through python3-selenium, against the real daemon with real checks. Also the page
without JavaScript (urllib), its escaping, its headers and its visibility rules.

Chromium's own background traffic is cut off: every host but 127.0.0.1 resolves to nothing and any
proxied request goes to a closed loopback port, so nothing leaves this machine."""

import gzip
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

from peers import RedisServer, start_peer_script
from vitals_harness import BUILD_DIR, VitalsTestCase, file_check, write_status_file

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The README's screenshot (docs/dashboard.png) is this suite's: the real-checks scenario saves it
# here, or where VITALS_DASHBOARD_SCREENSHOT says.
SCREENSHOT = os.environ.get("VITALS_DASHBOARD_SCREENSHOT") or os.path.join(BUILD_DIR, "dashboard.png")
HISTORY_SEED = os.path.join(BUILD_DIR, "tests", "history_seed")
UPTIME_RANGES = (("24h", "1h"), ("7d", "1d"), ("30d", "1d"))  # the page's uptime columns

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError as e:  # pragma: no cover - reported as a skip below
    webdriver = None
    SELENIUM_ERROR = str(e)
    StaleElementReferenceException = type("StaleElementReferenceException", (Exception,), {})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port, path, headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


class DashboardTest(VitalsTestCase):

    def wait_for(self, predicate, timeout=10.0, message="condition"):
        """As the harness's, and an element the page redrew between finding and reading it is
        "not yet" (the page re-renders its rows and panels every refresh)."""
        def tolerant():
            try:
                return predicate()
            except StaleElementReferenceException as e:
                raise AssertionError("stale element: %s" % str(e).splitlines()[0])
        return super().wait_for(tolerant, timeout=timeout, message=message)

    def browser(self):
        if webdriver is None:
            self.skipTest("python3-selenium is not installed: %s" % SELENIUM_ERROR)
        for path in (CHROMIUM, CHROMEDRIVER):
            if not shutil.which(path):
                self.skipTest("%s is not installed (chromium, chromium-driver)" % path)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-default-apps",
                    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
                    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
                    "--metrics-recording-only", "--no-pings", "--window-size=1200,900",
                    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    "--user-data-dir=" + self.path("chromium-profile")):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        try:
            driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=self.path("chromedriver.log")),
                                      options=opts)
        except WebDriverException as e:
            self.skipTest("chromium cannot start here: %s" % str(e).splitlines()[0])
        self.addCleanup(driver.quit)
        driver.set_page_load_timeout(30)
        return driver

    def config(self, **server):
        self.a = self.status_file("a.status", "pass", "a is fine")
        self.b = self.status_file("b.status", "pass", "<script>alert(1)</script> & more")
        cfg = {
            "plugins": self.plugins_with_fixtures(),
            "checks": [file_check("a", self.a, interval="200ms", timeout="100ms", rise=1, fall=1),
                       file_check("b", self.b, interval="1s", timeout="900ms", rise=1, fall=1)],
            "groups": {"alb": {"checks": ["a", "b"]}},
        }
        if server:
            cfg["server"] = server
        return cfg

    def api(self, d, path):
        status, body = d.get_json(path)
        self.assertEqual(status, 200, body)
        return body

    def text(self, driver, css):
        """The rendered text of the element `css` selects, found and read in one script step (the
        page redraws its rows and panels every refresh); fails when there is none."""
        t = driver.execute_script("var e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)
        self.assertIsNotNone(t, "no element %s" % css)
        return t

    def wait_text(self, driver, css, want, message):
        return self.wait_for(lambda: want in self.text(driver, css), timeout=30, message=message)

    def severe(self, driver):
        return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]

    def requested_urls(self, driver):
        urls = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
        return urls

    def test_the_page_shows_status_heartbeats_updates_and_survives_a_restart(self):
        port = free_port()
        config = self.config()
        d = self.start_daemon(config, args=["--port", str(port)], name="d")
        self.assertEqual(d.port, port)
        self.wait_for(lambda: len(self.api(d, "/health/history?check=a&limit=20")["items"]) >= 10,
                      message="ten results of a")
        driver = self.browser()
        origin = "http://127.0.0.1:%d" % port
        driver.get(origin + "/dashboard")

        # The header shows the true status; one row per check.
        self.wait_for(lambda: driver.find_element(By.ID, "overall").get_attribute("data-status") == "pass",
                      timeout=30, message="overall pass")
        self.assertIn("\u2714 pass", self.text(driver, "#overall"))  # a symbol and a word, not colour alone
        self.assertEqual(self.row_names(driver), ["a", "b"])

        # The heartbeat bar: one cell per recent result (at most 60), each the status of that result.
        self.wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "tr[data-check=a] .hb-cell")) >= 10,
                      timeout=30, message="heartbeat cells of a")
        cells = self.cells(driver, "a")
        ids = [c["id"] for c in cells]
        self.assertEqual(ids, sorted(ids), "oldest first")
        by_id = {i["id"]: i for i in self.api(d, "/health/history?check=a&limit=1000")["items"]}
        results_up_to = [i for i in by_id.values() if i["kind"] == "result" and i["id"] <= ids[-1]]
        self.assertEqual(len(cells), min(60, len(results_up_to)))
        for c, i in zip(cells, ids):
            self.assertEqual(c["status"], by_id[i]["status"])
            self.assertIn(by_id[i]["output"], c["title"])
        # Escaped, not run: b's output is shown as text.
        self.assertEqual(self.text(driver, "tr[data-check=b] td.output"), "<script>alert(1)</script> & more")
        self.assertEqual(driver.find_elements(By.CSS_SELECTOR, "td.output script"), [])

        # Uptime figures are /health/uptime's (b's: it only passes, so its figure holds still).
        def same_uptime():
            shown = self.text(driver, "tr[data-check=b] td.uptime span[data-range='24h']")
            up = self.api(d, "/health/uptime?check=b&range=24h&bucket=1h")["items"][0]["uptime"]
            want = "%.3f%%" % (up * 100) if 0.9995 <= up < 1 else "%.2f%%" % (up * 100)
            return shown == want or "%r != %r" % (shown, want) == ""
        self.wait_for(same_uptime, timeout=30, message="b's 24 h uptime as /health/uptime gives it")
        self.assertEqual(self.text(driver, "tr[data-check=b] td.uptime span[data-range='24h']"), "100.00%")

        self.assertEqual(self.severe(driver), [], "console errors")

        # A check goes to fail: its row, the header and the transitions follow, without a reload.
        driver.execute_script("window.__same_page = 1")
        write_status_file(self.a, "fail", "a broke on purpose")
        self.wait_text(driver, "tr[data-check=a] td.status", "\u2716 fail", "row a fail")
        self.wait_text(driver, "#overall", "fail", "header fail")
        self.wait_text(driver, "#transitions", "a broke on purpose", "the transition with its cause")
        self.wait_text(driver, "#cause", "a: fail (critical)", "the cause in the header")
        self.assertEqual(driver.execute_script("return window.__same_page"), 1, "the page was reloaded")

        # Drill-down: the chart has as many points as the API's buckets.
        driver.find_element(By.CSS_SELECTOR, "tr[data-check=a] th a").click()
        self.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#drill svg.chart"), timeout=30,
                      message="the drill-down chart")
        points = int(self.chart_points(driver))
        self.assertEqual(points, len(self.api(d, "/health/uptime?check=a&range=1h&bucket=1m")["items"][0]["buckets"]))
        self.assertIn("a broke on purpose", self.text(driver, "#drill .drill-history"))
        self.assertEqual(self.severe(driver), [], "console errors")

        # The daemon stops: the page says so plainly; it comes back when vitals does.
        d.stop()
        self.wait_for(lambda: driver.find_element(By.ID, "offline").is_displayed(), timeout=30,
                      message="the cannot-reach banner")
        self.assertIn("Cannot reach vitals", self.text(driver, "#offline"))
        write_status_file(self.a, "pass", "a is fine again")
        d2 = self.start_daemon(config, args=["--port", str(port)], name="d")
        self.assertEqual(d2.port, port)
        self.wait_for(lambda: not driver.find_element(By.ID, "offline").is_displayed(), timeout=30,
                      message="the banner gone after the restart")
        self.wait_text(driver, "tr[data-check=a] td.status", "\u2714 pass", "row a pass again")
        self.assertEqual(driver.execute_script("return window.__same_page"), 1, "the page was reloaded")
        # While vitals was down the only errors were the refused connections.
        for e in self.severe(driver):
            self.assertIn("ERR_CONNECTION_REFUSED", e["message"])

        # Every request the page made went to vitals.
        urls = self.requested_urls(driver)
        self.assertTrue(any(u.endswith("/dashboard/app.js") for u in urls), urls)
        for u in urls:
            scheme = urllib.parse.urlsplit(u).scheme
            if scheme in ("chrome", "about", "data"):  # the browser's own start page: no network
                continue
            self.assertTrue(u.startswith(origin + "/"), u)

    def shown_uptime(self, driver, check, range_):
        return self.text(driver, "tr[data-check=%s] td.uptime span[data-range='%s']" % (check, range_))

    @staticmethod
    def pct(up):
        return "%.3f%%" % (up * 100) if 0.9995 <= up < 1 else "%.2f%%" % (up * 100)

    @staticmethod
    def cells(driver, check):
        """The heartbeat cells of a check's row, read in one script step (the bar is redrawn every
        refresh): [{"id", "status", "colour", "title"}], oldest first."""
        return driver.execute_script(
            "return Array.from(document.querySelectorAll('tr[data-check=\"' + arguments[0] + '\"] .hb-cell'))"
            ".map(function (c) { return {id: +c.getAttribute('data-id'), status: c.getAttribute('data-status'),"
            " colour: getComputedStyle(c).backgroundColor, title: c.title}; });", check)

    @staticmethod
    def row_names(driver):
        return driver.execute_script("return Array.from(document.querySelectorAll('#checks tbody tr'))"
                                     ".map(function (r) { return r.getAttribute('data-check'); });")

    @staticmethod
    def chart_points(driver):
        """The drill-down chart's data-points, read in one step (it is redrawn every refresh)."""
        return driver.execute_script("var c = document.querySelector('#drill svg.chart');"
                                     " return c ? c.getAttribute('data-points') : null;")

    def refreshes(self, driver):
        return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes") or 0)

    def test_real_checks_with_days_of_history(self):
        """redis-server, a WebSocket server, disk and tcp, on ten days of history written through
        the history writer (tests/tools/history_seed): what the page shows against the API."""
        redis = RedisServer(self.path("redis")).start()
        self.addCleanup(lambda: redis.stop())
        ws = start_peer_script(self, "ws_server.py")
        upstream = self.listener()
        db = self.path("history.db")
        # Seeded: redis fails 30 min a day, ws every third result (a known pattern for its
        # heartbeat), disk warns 5 min an hour, tcp always passes; one result a minute until 2 min ago.
        seed = subprocess.run([HISTORY_SEED, db, "--days", "10", "--interval", "60", "--until-ago", "120",
                               "redis:fail=30/1440:latency=2", "ws:fail=1/3:latency=4", "disk:warn=5/60:latency=1",
                               "tcp:latency=1"], capture_output=True, text=True, timeout=120)
        self.assertEqual(seed.returncode, 0, seed.stderr + seed.stdout)
        checks = [
            {"name": "redis", "type": "redis", "interval": "1s", "timeout": "500ms",
             "options": {"host": "127.0.0.1", "port": redis.port}},
            {"name": "ws", "type": "websocket", "interval": "1s", "timeout": "500ms",
             "options": {"url": "ws://127.0.0.1:%d/" % ws.port, "ping": True}},
            {"name": "disk", "type": "disk", "interval": "1s", "timeout": "500ms",
             "options": {"path": self.tmp, "warn_free_percent": 0, "fail_free_percent": 0}},
            {"name": "tcp", "type": "tcp", "interval": "1s", "timeout": "500ms",
             "options": {"host": "127.0.0.1", "port": upstream.port}},
        ]
        d = self.start_daemon({"checks": checks, "groups": {"alb": {"checks": ["redis", "ws", "disk", "tcp"]}},
                               "history": {"path": db, "retention": "30d"}})
        self.wait_for(lambda: self.api(d, "/health")["status"] == "pass", timeout=30, message="all four pass")
        driver = self.browser()
        origin = "http://127.0.0.1:%d" % d.port
        driver.get(origin + "/dashboard")

        self.wait_for(lambda: driver.find_element(By.ID, "overall").get_attribute("data-status") == "pass",
                      timeout=30, message="overall pass")
        self.assertEqual(self.row_names(driver), ["redis", "ws", "disk", "tcp"])
        for name in ("redis", "ws", "disk", "tcp"):
            self.wait_text(driver, "tr[data-check=%s] td.status" % name, "\u2714 pass", name + " passes")

        # Heartbeats: 60 cells each (ten days of results behind them), each cell the status of the
        # history row it names; ws's seeded cells follow its known pattern, fail then two passes.
        self.wait_for(lambda: all(len(driver.find_elements(By.CSS_SELECTOR, "tr[data-check=%s] .hb-cell" % n)) == 60
                                  for n in ("redis", "ws", "disk", "tcp")), timeout=30, message="60 cells a row")
        shown = [(c["id"], c["status"], c["colour"], c["title"]) for c in self.cells(driver, "ws")]
        items = self.api(d, "/health/history?check=ws&kind=result&limit=200")["items"]
        by_id = {i["id"]: i for i in items}
        newest_shown = [i for i in items if i["id"] <= shown[-1][0]][:60]
        self.assertEqual([s[0] for s in shown], sorted(i["id"] for i in newest_shown), "the newest 60, oldest first")
        for cid, status, _, title in shown:
            self.assertEqual(status, by_id[cid]["status"])
            self.assertIn(by_id[cid]["output"], title)
        seeded = [s for s in shown if "seeded" in by_id[s[0]]["output"] or by_id[s[0]]["output"] == "ws answered"]
        self.assertGreaterEqual(len(seeded), 6, "seeded cells still in view")
        pattern = [s[1] for s in seeded]
        first_fail = pattern.index("fail")
        self.assertLess(first_fail, 3)
        for k, status in enumerate(pattern[first_fail:]):
            self.assertEqual(status, "fail" if k % 3 == 0 else "pass", pattern)
        colours = {}
        for _, status, colour, _ in shown:
            colours.setdefault(status, set()).add(colour)
        self.assertEqual(set(colours), {"pass", "fail"})
        self.assertEqual([len(v) for v in colours.values()], [1, 1], colours)  # one colour per status ...
        self.assertNotEqual(colours["pass"], colours["fail"])                # ... and not the same one

        # Uptime: every figure is /health/uptime's (seeded days make them other than 100%).
        def uptime_matches():
            for range_, bucket in UPTIME_RANGES:
                api = self.api(d, "/health/uptime?check=redis,ws,disk,tcp&range=%s&bucket=%s" % (range_, bucket))
                for item in api["items"]:
                    if self.shown_uptime(driver, item["check"], range_) != self.pct(item["uptime"]):
                        return False
            return True
        self.wait_for(uptime_matches, timeout=30, message="every uptime figure as /health/uptime gives it")
        redis_7d = self.api(d, "/health/uptime?check=redis&range=7d&bucket=1d")["items"][0]["uptime"]
        self.assertLess(redis_7d, 0.99)  # 30 min of fail a day
        self.assertGreater(redis_7d, 0.97)
        self.assertEqual(self.shown_uptime(driver, "tcp", "7d"), "100.00%")
        self.assertEqual(self.severe(driver), [], "console errors")

        # redis stops: its row and the header turn to fail within two refreshes of the API saying so.
        redis.stop()
        self.wait_for(lambda: d.get("/health/checks/redis").json()["status"] == "fail", timeout=30,
                      message="the API says redis fails")
        at_fail = self.refreshes(driver)
        self.wait_text(driver, "tr[data-check=redis] td.status", "\u2716 fail", "row redis fail")
        self.wait_text(driver, "#overall", "fail", "header fail")
        self.assertLessEqual(self.refreshes(driver) - at_fail, 2, "refreshes before the row showed fail")
        cause = [t for t in self.api(d, "/health/history?transitions=true&check=redis&limit=5")["items"]
                 if t["status"] == "fail"][0]["cause"]
        self.wait_text(driver, "#transitions", cause, "redis's transition with its cause")
        self.assertIn("redis: fail (critical)", self.text(driver, "#cause"))
        driver.save_screenshot(SCREENSHOT)

        # The drill-down over 7 days: as many points as the API's buckets, over seeded days.
        driver.find_element(By.CSS_SELECTOR, "tr[data-check=redis] th a").click()
        self.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#drill svg.chart"), timeout=30,
                      message="the drill-down chart")
        # In the page's own script: the drill-down is drawn anew every refresh, so an element found
        # from here may be gone by the time it is clicked or read.
        self.assertTrue(driver.execute_script(
            "var b = Array.from(document.querySelectorAll('#drill button')).filter(function (b) {"
            " return b.textContent === '7d'; })[0]; if (b) b.click(); return !!b;"), "the 7d button")
        api = self.api(d, "/health/uptime?check=redis&range=7d&bucket=1h")["items"][0]["buckets"]
        self.wait_for(lambda: self.chart_points(driver) == str(len(api)), timeout=30, message="7 days of points")
        self.assertEqual(len(api), 168)
        self.assertEqual(self.severe(driver), [], "console errors")
        for u in self.requested_urls(driver):
            if urllib.parse.urlsplit(u).scheme in ("chrome", "about", "data"):
                continue
            self.assertTrue(u.startswith(origin + "/"), u)

    def test_on_a_phone_and_in_dark_mode(self):
        d = self.start_daemon(self.config())
        self.wait_for(lambda: self.api(d, "/health")["status"] == "pass", message="pass")
        driver = self.browser()
        url = "http://127.0.0.1:%d/dashboard" % d.port

        def loaded():
            driver.get(url)
            self.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-check=a] .hb-cell"), timeout=30,
                          message="heartbeat cells")
            return driver.execute_script("return getComputedStyle(document.body).backgroundColor")

        light = loaded()
        self.assertTrue(driver.find_element(By.CSS_SELECTOR, "tr[data-check=a] td.spark").is_displayed())
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        dark = loaded()
        self.assertNotEqual(light, dark)
        self.assertEqual(dark, "rgb(13, 17, 23)")
        # A phone's viewport: the page does not scroll sideways, the table does; the sparkline
        # column goes; the status keeps its symbol and word.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True})
        loaded()
        self.assertLessEqual(driver.execute_script("return document.documentElement.scrollWidth"),
                             driver.execute_script("return window.innerWidth"))
        self.assertFalse(driver.find_element(By.CSS_SELECTOR, "tr[data-check=a] td.spark").is_displayed())
        self.assertTrue(driver.find_element(By.CSS_SELECTOR, "tr[data-check=a] td.hb").is_displayed())
        self.assertIn("\u2714 pass", self.text(driver, "tr[data-check=a] td.status"))
        self.assertEqual(self.severe(driver), [], "console errors")

    def test_without_javascript_the_page_shows_the_status_escaped_with_a_strict_csp(self):
        d = self.start_daemon(self.config())
        self.wait_for(lambda: self.api(d, "/health")["status"] == "pass", message="pass")
        status, headers, page = fetch(d.port, "/dashboard")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(headers["Content-Security-Policy"], "default-src 'self'")
        self.assertIn('id="overall" class="overall s-pass" data-status="pass"', page)
        self.assertIn("\u2714 pass", page)
        self.assertIn('<tr data-check="a">', page)
        self.assertIn("a is fine", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more", page)
        self.assertNotIn("<script>alert", page)
        self.assertNotIn("http://", page.replace("http://www.w3.org", ""))
        write_status_file(self.a, "fail", "a broke")
        self.wait_for(lambda: 'data-status="fail"' in fetch(d.port, "/dashboard")[2], message="fail rendered")
        page = fetch(d.port, "/dashboard")[2]
        self.assertIn("a: fail (critical)", page)
        for asset, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
            status, headers, _ = fetch(d.port, "/dashboard/" + asset)
            self.assertEqual(status, 200)
            self.assertTrue(headers["Content-Type"].startswith(kind))
        self.assertProblem(d.get("/dashboard/nope.js"), 404)
        self.assertEqual(d.get("/dashboard", method="POST").status, 405)

    def test_token_mode_shows_the_status_alone_until_the_token_is_given(self):
        token = "s3cret-token-for-dashboard"
        d = self.start_daemon(self.config(details="token"), env=dict(os.environ, VITALS_ADMIN_TOKEN=token))
        status, _, page = fetch(d.port, "/dashboard")
        self.assertEqual(status, 200)
        self.assertIn('data-shown="status"', page)
        self.assertNotIn('data-check="a"', page)
        self.assertNotIn("a is fine", page)
        self.assertNotIn(token, page)
        state = json.loads(fetch(d.port, "/dashboard/state")[2])
        self.assertEqual(set(state), {"status", "details", "mode", "time"})
        with_token = json.loads(fetch(d.port, "/dashboard/state", {"Authorization": "Bearer " + token})[2])
        self.assertEqual([c["name"] for c in with_token["checks"]], ["a", "b"])

        driver = self.browser()
        driver.get("http://127.0.0.1:%d/dashboard" % d.port)
        self.wait_for(lambda: driver.find_element(By.ID, "token-form").is_displayed(), timeout=30,
                      message="the token form")
        self.assertEqual(driver.find_elements(By.CSS_SELECTOR, "#checks tbody tr"), [])
        driver.find_element(By.ID, "token").send_keys("wrong")
        driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
        self.wait_text(driver, "#token-error", "not accepted", "a wrong token refused")
        field = driver.find_element(By.ID, "token")
        field.clear()
        field.send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
        self.wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#checks tbody tr")) == 2, timeout=30,
                      message="the checks after the token")
        self.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-check=a] .hb-cell"), timeout=30,
                      message="heartbeats with the token")
        self.assertFalse(driver.find_element(By.ID, "token-form").is_displayed())
        self.assertNotIn(token, driver.page_source)
        self.assertEqual(self.severe(driver), [], "console errors")

    def test_a_client_without_details_gets_the_status_only_page(self):
        # server.details decides as for status bodies (a remote client under "loopback" is the same
        # case; the suite's tests send nothing but loopback traffic, so "never" stands in for it).
        d = self.start_daemon(self.config(details="never"))
        status, _, page = fetch(d.port, "/dashboard")
        self.assertEqual(status, 200)
        self.assertIn('data-shown="status"', page)
        self.assertIn('id="overall"', page)
        self.assertNotIn('data-check="a"', page)
        self.assertNotIn("a is fine", page)
        state = json.loads(fetch(d.port, "/dashboard/state")[2])
        self.assertEqual(state["details"], False)
        self.assertNotIn("checks", state)
        self.assertProblem(d.get("/health/history?check=a"), 403)

    def test_a_remote_client_under_loopback_gets_the_status_only_page(self):
        far = self.netns_peer()  # a client that is not loopback, in a namespace this test made
        # 0.0.0.0: one listener reached from 127.0.0.1 and from the namespace (at far.host_addr).
        d = self.start_daemon(dict(self.config(), server={"address": "0.0.0.0"}))
        self.wait_for(lambda: self.api(d, "/health")["status"] == "pass", message="pass")
        self.assertIn('data-check="a"', fetch(d.port, "/dashboard")[2])  # loopback: the full page

        r = far.request(d.port, "/dashboard")
        self.assertEqual(r.status, 200)
        page = r.body.decode()
        self.assertIn('data-shown="status"', page)
        self.assertIn('id="overall" class="overall s-pass" data-status="pass"', page)
        self.assertNotIn('data-check="a"', page)
        self.assertNotIn("a is fine", page)
        self.assertNotIn("alb", page)
        state = far.request(d.port, "/dashboard/state").json()
        self.assertEqual(state, {"status": "pass", "details": False, "mode": "loopback", "time": state["time"]})
        for path in ("/dashboard/recent?check=a", "/health/uptime?check=a", "/health/history?check=a"):
            with self.subTest(path=path):
                self.assertProblem(far.request(d.port, path), 403)
        js = far.request(d.port, "/dashboard/app.js", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(js.status, 200)  # the assets hold nothing of the checks
        self.assertEqual(js.headers["Content-Encoding"], "gzip")

    def test_answers_are_gzipped_when_asked_and_plain_otherwise(self):
        d = self.start_daemon(self.config())
        self.wait_for(lambda: len(self.api(d, "/dashboard/recent?check=a")["items"][0]["results"]) >= 20,
                      timeout=30, message="twenty results of a")
        for path in ("/dashboard/app.js", "/dashboard", "/dashboard/recent?check=a,b",
                     "/health/history?check=a&limit=100", "/health/uptime?check=a&range=1h&bucket=1m"):
            with self.subTest(path=path):
                plain = d.get(path)
                self.assertEqual(plain.status, 200)
                self.assertNotIn("Content-Encoding", plain.headers)
                self.assertEqual(plain.headers["Vary"], "Accept-Encoding")
                z = d.get(path, headers={"Accept-Encoding": "br, gzip;q=0.8"})
                self.assertEqual(z.status, 200)
                self.assertEqual(z.headers["Content-Encoding"], "gzip")
                self.assertEqual(z.headers["Vary"], "Accept-Encoding")
                self.assertEqual(int(z.headers["Content-Length"]), len(z.body))
                self.assertLess(len(z.body), len(plain.body))
                body = gzip.decompress(z.body)
                if path.startswith("/dashboard/app"):
                    self.assertEqual(body, plain.body)
                else:
                    self.assertEqual(body[:12], plain.body[:12])
                refused = d.get(path, headers={"Accept-Encoding": "gzip;q=0, identity"})
                self.assertNotIn("Content-Encoding", refused.headers)
        # Status answers are sent as rendered, whatever the client takes.
        st = d.get("/health", headers={"Accept-Encoding": "gzip"})
        self.assertNotIn("Content-Encoding", st.headers)
        self.assertEqual(st.json()["status"], "pass")
        recent = self.api(d, "/dashboard/recent?check=a&limit=5")["items"][0]["results"]
        ids = [r["id"] for r in recent]
        self.assertEqual(len(ids), 5)
        self.assertEqual(ids, sorted(ids))
        # Five consecutive results of a, the newest when asked: a run of a's history read after it.
        later = sorted(i["id"] for i in self.api(d, "/health/history?check=a&kind=result&limit=100")["items"])
        start = later.index(ids[0])
        self.assertEqual(later[start:start + 5], ids)
        self.assertProblem(d.get("/dashboard/recent?check=alb"), 400)
        self.assertProblem(d.get("/dashboard/recent?check=a&limit=61"), 400)
