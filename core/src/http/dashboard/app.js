// vitals dashboard (SPEC §10). The server renders the current status; this script keeps it fresh
// from vitals' own endpoints (CSP default-src 'self': nothing else is reachable), says so when vitals
// cannot be reached, and draws heartbeats, sparklines and the drill-down chart as small SVGs.
// Everything shown is text (textContent), never markup from a response.
(function () {
  'use strict';
  var REFRESH_MS = 3000, UPTIME_EVERY = 3;  // uptime every 3rd refresh (9 s)
  var ICON = { pass: '\u2714', warn: '\u25B2', fail: '\u2716' };
  var SVGNS = 'http://www.w3.org/2000/svg';
  var body = document.body;
  var token = sessionStorage.getItem('vitals-token') || '';
  var tick = 0, checks = [], drillRange = '1h', lastStatuses = '';

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function badge(status) {
    var b = el('span', 'badge s-' + status, (ICON[status] || '?') + ' ' + status);
    b.setAttribute('data-status', status);
    return b;
  }
  function when(t) { return t ? new Date(t).toLocaleString() : ''; }
  function pct(v) { return v === null || v === undefined ? '\u2013' : (v * 100).toFixed(v >= 0.9995 && v < 1 ? 3 : 2) + '%'; }

  // GET a vitals endpoint as JSON. Resolves {ok, status, body}; rejects only when vitals cannot be
  // reached at all (the network failed), which is what the offline banner is about.
  function get(path) {
    var headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(path, { headers: headers, cache: 'no-store', credentials: 'omit' }).then(function (r) {
      return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b }; },
                           function () { return { ok: false, status: r.status, body: null }; });
    });
  }

  function setOffline(off) {
    $('offline').hidden = !off;
    body.classList.toggle('unreachable', off);
  }

  function renderHeader(s) {
    var o = $('overall');
    o.className = 'overall s-' + s.status;
    o.setAttribute('data-status', s.status);
    clear(o).appendChild(badge(s.status));
    document.title = 'vitals: ' + s.status;
    $('cause').textContent = s.details ? (s.cause || 'all counted checks pass') : '';
    $('updated').textContent = 'as of ' + when(s.time) + (s.draining ? ' \u2014 draining' : '');
  }

  function ensureSections() {
    var main = document.querySelector('main');
    if ($('checks')) return;
    // The server rendered the status alone (a token was needed): build the detail sections now.
    var g = el('section'); g.id = 'groups-section'; g.appendChild(el('h2', '', 'Groups'));
    var ul = el('ul'); ul.id = 'groups'; g.appendChild(ul);
    var c = el('section'); c.id = 'checks-section'; c.appendChild(el('h2', '', 'Checks'));
    var sc = el('div', 'scroll'), t = el('table'); t.id = 'checks';
    var head = el('tr');
    ['check', 'status', 'last 60 results', 'latency', 'uptime 24h / 7d / 30d', 'last output'].forEach(function (h) {
      head.appendChild(el('th', '', h));
    });
    var th = el('thead'); th.appendChild(head); t.appendChild(th); t.appendChild(el('tbody'));
    sc.appendChild(t); c.appendChild(sc);
    var d = el('section'); d.id = 'drill'; d.hidden = true;
    var tr = el('section'); tr.id = 'transitions-section'; tr.appendChild(el('h2', '', 'Recent transitions'));
    var tl = el('ul'); tl.id = 'transitions'; tr.appendChild(tl);
    var p = el('section'); p.id = 'probers-section'; p.hidden = true;
    [g, c, d, tr, p].forEach(function (s) { main.appendChild(s); });
  }

  function renderGroups(groups) {
    var ul = clear($('groups'));
    groups.forEach(function (g) {
      var li = el('li');
      li.setAttribute('data-group', g.name);
      li.appendChild(badge(g.status));
      li.appendChild(document.createTextNode(' '));
      li.appendChild(el('b', '', g.name));
      li.appendChild(document.createTextNode(' '));
      li.appendChild(el('span', 'cause', g.cause));
      ul.appendChild(li);
    });
  }

  function rowOf(name) {
    var tbody = $('checks').tBodies[0];
    for (var i = 0; i < tbody.rows.length; i++)
      if (tbody.rows[i].getAttribute('data-check') === name) return tbody.rows[i];
    return null;
  }

  function renderChecks(list) {
    var tbody = $('checks').tBodies[0];
    var keep = {};
    list.forEach(function (c, i) {
      keep[c.name] = true;
      var tr = rowOf(c.name);
      if (!tr) {
        tr = el('tr');
        tr.setAttribute('data-check', c.name);
        var th = el('th'); th.scope = 'row';
        var a = el('a', '', c.name); a.href = '#check=' + encodeURIComponent(c.name);
        th.appendChild(a); tr.appendChild(th);
        ['status', 'hb', 'spark', 'uptime', 'output'].forEach(function (k) { tr.appendChild(el('td', k)); });
      }
      if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
      clear(tr.querySelector('td.status')).appendChild(badge(c.status));
      tr.querySelector('td.output').textContent = c.output;
    });
    for (var i = tbody.rows.length - 1; i >= 0; i--)
      if (!keep[tbody.rows[i].getAttribute('data-check')]) tbody.deleteRow(i);
  }

  function sparkline(values, w, h) {
    var s = svg('svg', { 'class': 'spark', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img' });
    var max = Math.max.apply(null, values.concat([1]));
    var pts = values.map(function (v, i) {
      return (values.length < 2 ? 0 : i * (w - 2) / (values.length - 1) + 1).toFixed(1) + ',' +
             (h - 1 - (v / max) * (h - 2)).toFixed(1);
    });
    s.appendChild(svg('polyline', { points: pts.join(' ') }));
    var title = svg('title', {});
    title.textContent = 'latency, last ' + values.length + ' results: max ' + max + ' ms';
    s.appendChild(title);
    return s;
  }

  // The last 60 results of every check, oldest first (one request): cells for the heartbeat,
  // durations for the sparkline.
  function refreshRecent(names) {
    if (!names.length) return Promise.resolve();
    return get('/dashboard/recent?check=' + names.map(encodeURIComponent).join(',')).then(function (r) {
      if (!r.ok) return;
      r.body.items.forEach(function (item) {
        var tr = rowOf(item.check);
        if (!tr) return;
        var bar = el('span', 'hb-bar');
        bar.setAttribute('role', 'img');
        bar.setAttribute('aria-label', item.results.length + ' recent results');
        item.results.forEach(function (i) {
          var cell = el('span', 'hb-cell s-' + i.status);
          cell.setAttribute('data-status', i.status);
          cell.setAttribute('data-id', i.id);
          cell.title = when(i.time_ms) + ' \u2014 ' + i.status + (i.output ? ': ' + i.output : '');
          bar.appendChild(cell);
        });
        clear(tr.querySelector('td.hb')).appendChild(bar);
        var d = item.results.map(function (i) { return i.duration_ms || 0; });
        clear(tr.querySelector('td.spark')).appendChild(sparkline(d, 120, 24));
      });
    });
  }

  function refreshUptime(names) {
    if (!names.length) return Promise.resolve();
    var list = names.map(encodeURIComponent).join(',');
    var ranges = [['24h', '1h'], ['7d', '1d'], ['30d', '1d']];
    return Promise.all(ranges.map(function (rb) {
      return get('/health/uptime?check=' + list + '&range=' + rb[0] + '&bucket=' + rb[1] + '&buckets=false');
    })).then(function (answers) {
      names.forEach(function (name) {
        var tr = rowOf(name);
        if (!tr) return;
        var td = clear(tr.querySelector('td.uptime'));
        answers.forEach(function (a, k) {
          var item = a.ok ? a.body.items.filter(function (i) { return i.check === name; })[0] : null;
          var span = el('span', '', item ? pct(item.uptime) : '\u2013');
          span.setAttribute('data-range', ranges[k][0]);
          span.title = ranges[k][0] + (item ? ': coverage ' + pct(item.coverage) : '');
          td.appendChild(span);
        });
      });
    });
  }

  function refreshTransitions() {
    return get('/health/history?transitions=true&limit=15').then(function (r) {
      if (!r.ok) return;
      var ul = clear($('transitions'));
      r.body.items.forEach(function (t) {
        var li = el('li');
        li.appendChild(el('span', 'muted', when(t.time) + ' '));
        li.appendChild(el('b', '', t.check));
        li.appendChild(document.createTextNode(' ' + t.previous + ' \u2192 '));
        li.appendChild(badge(t.status));
        li.appendChild(el('span', 'cause', ' ' + t.cause));
        ul.appendChild(li);
      });
    });
  }

  // The load balancer's probers (SPEC §9): shown only when this vitals answers /health/probers.
  function refreshProbers() {
    return get('/health/probers').then(function (r) {
      var sec = $('probers-section');
      if (!r.ok || !r.body || !Array.isArray(r.body.items)) { sec.hidden = true; return; }
      clear(sec).appendChild(el('h2', '', 'Load balancer probers'));
      var ul = el('ul');
      r.body.items.forEach(function (p) {
        var li = el('li');
        if (p.status) { li.appendChild(badge(p.status)); li.appendChild(document.createTextNode(' ')); }
        li.appendChild(el('span', '', Object.keys(p).filter(function (k) { return k !== 'status'; })
          .map(function (k) { return k + ': ' + (typeof p[k] === 'object' ? JSON.stringify(p[k]) : p[k]); }).join(', ')));
        ul.appendChild(li);
      });
      sec.appendChild(ul);
      sec.hidden = false;
    });
  }

  // Drill-down (#check=NAME): latency p50/p95 over a chosen range, and the check's history.
  var RANGES = { '1h': '1m', '24h': '15m', '7d': '1h', '30d': '6h' };
  function drillName() {
    var m = /^#check=(.+)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }
  function chart(buckets, w, h) {
    var s = svg('svg', { 'class': 'chart', width: '100%', height: h, viewBox: '0 0 ' + w + ' ' + h,
                         preserveAspectRatio: 'none', role: 'img' });
    var p95 = buckets.map(function (b) { return b.p95_ms; }), p50 = buckets.map(function (b) { return b.p50_ms; });
    var max = Math.max.apply(null, p95.filter(function (v) { return v !== null; }).concat([1]));
    s.setAttribute('data-points', buckets.length);
    s.appendChild(svg('line', { x1: 0, y1: h - 12, x2: w, y2: h - 12 }));
    [[p50, 'p50'], [p95, 'p95']].forEach(function (sv) {
      var pts = [];
      sv[0].forEach(function (v, i) {
        if (v === null) return;
        pts.push((buckets.length < 2 ? 0 : i * w / (buckets.length - 1)).toFixed(1) + ',' +
                 (h - 12 - (v / max) * (h - 20)).toFixed(1));
      });
      s.appendChild(svg('polyline', { 'class': sv[1], points: pts.join(' ') }));
    });
    var label = svg('text', { x: 2, y: 10 });
    label.textContent = 'max ' + max + ' ms (p50 solid, p95 dashed)';
    s.appendChild(label);
    return s;
  }
  function refreshDrill() {
    var sec = $('drill'), name = drillName();
    if (!sec) return Promise.resolve();
    if (!name) { sec.hidden = true; return Promise.resolve(); }
    return Promise.all([
      get('/health/uptime?check=' + encodeURIComponent(name) + '&range=' + drillRange + '&bucket=' + RANGES[drillRange]),
      get('/health/history?limit=50&check=' + encodeURIComponent(name))
    ]).then(function (rs) {
      clear(sec).appendChild(el('h2', '', name + ': latency and history'));
      var nav = el('p');
      Object.keys(RANGES).forEach(function (r) {
        var b = el('button', '', r);
        b.type = 'button';
        b.setAttribute('aria-pressed', String(r === drillRange));
        b.addEventListener('click', function () { drillRange = r; refreshDrill(); });
        nav.appendChild(b);
        nav.appendChild(document.createTextNode(' '));
      });
      var close = el('a', '', 'close'); close.href = '#'; nav.appendChild(close);
      sec.appendChild(nav);
      if (rs[0].ok) {
        var item = rs[0].body.items[0];
        sec.appendChild(el('p', '', 'uptime ' + pct(item.uptime) + ', coverage ' + pct(item.coverage) +
                           ', ' + item.runs + ' runs, ' + item.fails + ' failed'));
        sec.appendChild(chart(item.buckets, 600, 120));
      } else {
        sec.appendChild(el('p', 'muted', rs[0].body && rs[0].body.detail ? rs[0].body.detail : 'no uptime data'));
      }
      var ul = el('ul', 'drill-history');
      if (rs[1].ok) rs[1].body.items.forEach(function (i) {
        var li = el('li');
        li.appendChild(el('span', 'muted', when(i.time) + ' '));
        li.appendChild(badge(i.status));
        li.appendChild(el('span', '', i.kind === 'result'
          ? ' ' + (i.duration_ms === null ? '' : i.duration_ms + ' ms ') + i.output
          : ' transition from ' + i.previous + ': ' + i.cause));
        ul.appendChild(li);
      });
      sec.appendChild(ul);
      sec.hidden = false;
    });
  }

  function refresh() {
    return get('/dashboard/state').then(function (r) {
      setOffline(false);
      var s = r.body;
      renderHeader(s);
      var form = $('token-form');
      form.hidden = !(s.mode === 'token' && !s.details);
      $('token-error').textContent = token && !s.details ? 'that token was not accepted' : '';
      if (!s.details) return;
      ensureSections();
      renderGroups(s.groups);
      renderChecks(s.checks);
      checks = s.checks.map(function (c) { return c.name; });
      var work = [refreshRecent(checks), refreshTransitions(), refreshDrill()];
      // Uptime every few refreshes, and at once when a status changed (so 24 h never lags 1 h).
      var statuses = s.checks.map(function (c) { return c.name + ':' + c.status; }).join(',');
      if (tick % UPTIME_EVERY === 0 || statuses !== lastStatuses) work.push(refreshUptime(checks));
      lastStatuses = statuses;
      if (s.probers) work.push(refreshProbers()); else $('probers-section').hidden = true;
      tick++;
      return Promise.all(work);
    }, function () { setOffline(true); }).catch(function () { setOffline(true); });
  }

  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    token = $('token').value;
    sessionStorage.setItem('vitals-token', token);
    tick = 0;
    refresh();
  });
  window.addEventListener('hashchange', function () { refreshDrill(); });

  // data-refreshes counts finished refreshes (what tests and a curious reader can watch).
  var refreshes = 0;
  function loop() {
    refresh().then(function () {
      document.body.setAttribute('data-refreshes', String(++refreshes));
      setTimeout(loop, REFRESH_MS);
    });
  }
  loop();
})();
